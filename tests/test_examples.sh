#!/bin/sh
# SPDX-License-Identifier: MIT
# test_examples.sh - the client API examples do what their comments promise,
# against a running minibatchd on ipc sockets in a temporary directory:
#   examples/control    status comes back ok; an unknown request exits 1
#   examples/produce    Fashion-MNIST images reach the daemon
#   examples/subscribe  the snapshot of what was produced is printed
#   examples/predict    the model predicts the test set far above chance
#   examples/no-daemon  with no daemon, subscribe and control exit 2 in time

set -u

builddir=${top_builddir:-.}
daemon=$builddir/daemon/minibatchd
ex=$builddir/examples
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
for p in "$daemon" "$ex/produce" "$ex/subscribe" "$ex/predict" "$ex/control"; do
	[ -x "$p" ] || { echo "SKIP: $p is not built"; exit 77; }
done
[ -r "$data/train-images-idx3-ubyte.gz" ] ||
	{ echo "SKIP: Fashion-MNIST not found in $data (apt-get install dataset-fashion-mnist)"; exit 77; }

. "${top_srcdir:-.}/tests/daemon_harness.sh"
harness_init examples

fail() {
	failed=$((failed + 1))
	echo "FAIL: $1"
	[ -s "$dir/out" ] && sed 's/^/  stdout: /' "$dir/out"
	[ -s "$dir/err" ] && sed 's/^/  stderr: /' "$dir/err"
}

run=$dir/run
mkdir "$run"
"$daemon" --no-config -o checkpoint.dir=none -o daemon.runtime_dir="$run" -o source.default.type=zmq \
	-o source.default.endpoint=ipc://ingest \
	-o publish.endpoint=ipc://snapshots -o metrics.listen= 2>"$dir/daemon.log" &
pid=$!
harness_wait_up "$ex/control" -e "ipc://$run/control"
if [ "$up" -ne 1 ]; then
	echo "FAIL: minibatchd did not answer on $run/control"
	cat "$dir/daemon.log"
	exit 1
fi

"$ex/control" -e "ipc://$run/control" status >"$dir/out" 2>"$dir/err"
status=$?
"$ex/control" -e "ipc://$run/control" frobnicate >>"$dir/out" 2>>"$dir/err"
refused=$?
if [ "$status" -eq 0 ] && grep -q '^{"ok":true,"state":"running"' "$dir/out" &&
	[ "$refused" -eq 1 ] && grep -q '"ok":false' "$dir/out"; then
	pass "examples/control"
else
	fail "examples/control: status exit $status, unknown request exit $refused"
fi

# 6400 images: 100 batches of 64, so the daemon publishes after the last one.
if "$ex/produce" -n 6400 "ipc://$run/ingest" "$data" >"$dir/out" 2>"$dir/err" &&
	grep -q "^sent 6400 samples to ipc://$run/ingest in 25 messages$" "$dir/out"; then
	pass "examples/produce"
else
	fail "examples/produce"
fi

# The daemon learns what arrived (allow a minute on a loaded machine), then
# publishes on its own schedule: a new subscriber is handed the snapshot
# published last, so ask for one, and try again until it is the newest.
for _ in $(seq 1 600); do
	"$ex/control" -e "ipc://$run/control" status 2>/dev/null | grep -q '"samples":6400' && break
	sleep 0.1
done
"$ex/control" -e "ipc://$run/control" snapshot >/dev/null 2>&1
for _ in $(seq 1 20); do
	"$ex/subscribe" -n 1 -t 5 "ipc://$run/snapshots" >"$dir/out" 2>"$dir/err" &&
		grep -q ': 6400 samples' "$dir/out" && break
	sleep 0.2
done
if grep -q '^softmax version [0-9]*: 6400 samples, cost [0-9.]*$' "$dir/out"; then
	pass "examples/subscribe"
else
	fail "examples/subscribe"
fi

if "$ex/predict" "ipc://$run/snapshots" "$data" >"$dir/out" 2>"$dir/err" &&
	grep -q '^model softmax, version [0-9]*, 6400 samples seen$' "$dir/out" &&
	grep -q '^predicted:\( [0-9]\)\{10\}$' "$dir/out" &&
	awk '$1 == "accuracy" && $2 > 0.5 && $4 == 10000 { ok = 1 } END { exit !ok }' "$dir/out"; then
	pass "examples/predict"
else
	fail "examples/predict"
fi

kill "$pid"
wait "$pid" 2>/dev/null
pid=
started=$(date +%s)
"$ex/subscribe" -n 1 -t 0.3 "ipc://$run/snapshots" >"$dir/out" 2>"$dir/err"
sub=$?
"$ex/control" -e "ipc://$run/control" >>"$dir/out" 2>>"$dir/err"
ctl=$?
if [ "$sub" -eq 2 ] && [ "$ctl" -eq 2 ] && grep -q "no snapshot" "$dir/err" &&
	grep -q "no answer" "$dir/err" && [ $(($(date +%s) - started)) -lt 15 ]; then
	pass "examples/no-daemon"
else
	fail "examples/no-daemon: subscribe exit $sub, control exit $ctl"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
