#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh BUILD_DIR - minibatchd learns Fashion-MNIST with its embedded defaults.
#
# Starts the daemon (only its runtime directory set, to a fresh temporary
# one), follows its snapshots with `minibatchctl watch --eval` on the test
# set, feeds it the training set with `minibatchctl feed`, stops it with
# SIGTERM, draws the cost curve with `minibatchctl plot`, and ends with one
# line: the final model's test accuracy.
#
# Environment: FASHION_MNIST_DIR (default /usr/share/datasets/fashion-mnist),
# DEMO_EPOCHS (passes over the training set, default 10), DEMO_DAEMON_ARGS
# (extra minibatchd options, e.g. "-o optimizer.kind=adam -o optimizer.lr=0.001"),
# DEMO_PLOT (where the SVG of the cost curve goes, default ./demo-cost.svg).
set -euo pipefail
export LC_ALL=C

build=${1:?usage: examples/demo.sh BUILD_DIR}
build=$(cd "$build" && pwd)
daemon=$build/daemon/minibatchd
ctl=$build/tools/minibatchctl
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
epochs=${DEMO_EPOCHS:-10}
plot=${DEMO_PLOT:-$PWD/demo-cost.svg}
read -r -a extra_args <<<"${DEMO_DAEMON_ARGS:-}"
# The model is small: one BLAS thread per process beats several fighting over two cores.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

say() { printf '==> %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

[ -x "$daemon" ] || die "$daemon is not built (./run build)"
[ -x "$ctl" ] || die "$ctl is not built (./run build)"
train=$data/train-images-idx3-ubyte.gz
test=$data/t10k-images-idx3-ubyte.gz
[ -r "$train" ] && [ -r "$test" ] || die "Fashion-MNIST not found in $data (apt-get install dataset-fashion-mnist)"

started=$EPOCHREALTIME
tmp=$(mktemp -d "${TMPDIR:-/tmp}/minibatchd-demo.XXXXXX")
run=$tmp/run
mkdir "$run"
daemon_pid=
watch_pid=
csv_pid=

cleanup() {
	local pid
	for pid in $watch_pid $csv_pid $daemon_pid; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $watch_pid $csv_pid $daemon_pid; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ctl() { "$ctl" --runtime-dir "$run" "$@"; }

# The figure KEY of `minibatchctl status` ("key   value" lines).
figure() { ctl status 2>/dev/null | awk -v k="$1" '$1 == k { print $2; exit }'; }

# start_daemon [OPTIONS]: start minibatchd; 0 once its control socket answers.
start_daemon() {
	: >"$tmp/daemon.log"
	"$daemon" -o daemon.runtime_dir="$run" ${extra_args[@]+"${extra_args[@]}"} "$@" 2>>"$tmp/daemon.log" &
	daemon_pid=$!
	local _
	for _ in $(seq 1 100); do
		ctl status --timeout 0.2 >/dev/null 2>&1 && return 0
		kill -0 "$daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$daemon_pid" 2>/dev/null || true
	daemon_pid=
	return 1
}

if start_daemon; then
	say "minibatchd is up: ipc sockets in $run, tcp 127.0.0.1:7710 (ingest) and :7711 (snapshots)"
elif grep -q 'in use' "$tmp/daemon.log" &&
	start_daemon -o source.default.type=zmq -o source.default.endpoint=ipc://ingest \
		-o publish.endpoint=ipc://snapshots; then
	say "minibatchd is up: ipc sockets in $run (tcp ports 7710/7711 are taken, so ipc only)"
else
	cat "$tmp/daemon.log" >&2
	die "minibatchd did not start"
fi

say "watching its snapshots: accuracy on the 10000 test images, every 2 s"
# Started directly, not through ctl(), so $! is the watcher itself and SIGTERM reaches it.
"$ctl" --runtime-dir "$run" watch --eval "$test" --interval 2 &
watch_pid=$!
# A second watcher records every snapshot's cost for the plot at the end.
"$ctl" --runtime-dir "$run" watch --csv >"$tmp/cost.csv" 2>/dev/null &
csv_pid=$!

say "feeding the 60000 training images, $epochs epochs, as bytes (784 per image)"
# Plain progress lines (stderr not a terminal), so they interleave cleanly with the watcher's.
ctl feed --epochs "$epochs" --progress 2 "$train" 2>&1 | cat
fed=$((60000 * epochs))

# The daemon trains as samples arrive; wait until it has taken every one.
for _ in $(seq 1 300); do
	[ "$(figure samples)" = "$fed" ] && break
	sleep 0.1
done

# The current model, as the publisher hands it to a new subscriber, on the test set.
version=$(figure version) || true
ctl snapshot >/dev/null 2>&1 || true
result=
for _ in $(seq 1 50); do
	result=$(ctl eval "$test" 2>/dev/null) || true
	[ "$(sed -n 's/^model .*, version \([0-9]*\),.*/\1/p' <<<"$result")" = "$version" ] && break
	sleep 0.1
done
[ -n "$result" ] || die "could not fetch the final model"

# The watcher prints the newest snapshot it holds and ends on SIGTERM.
kill -TERM "$watch_pid" 2>/dev/null || true
wait "$watch_pid" 2>/dev/null || true
watch_pid=

say "stopping minibatchd (SIGTERM: it trains what is queued and publishes a final snapshot)"
kill -TERM "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?
daemon_pid=
[ "$status" -eq 0 ] || { cat "$tmp/daemon.log" >&2; die "minibatchd exited with status $status"; }

# The recorder has the final snapshot too; on SIGTERM it writes what it holds.
kill -TERM "$csv_pid" 2>/dev/null || true
wait "$csv_pid" 2>/dev/null || true
csv_pid=
if "$ctl" plot -o "$plot" "$tmp/cost.csv"; then
	say "cost curve: $plot"
else
	say "no cost curve: minibatchctl plot failed"
fi

kind=$(awk '$1 == "model" { print $2; exit }' <<<"$result")
samples=$(sed -n 's/^model .*, \([0-9]*\) samples seen$/\1/p' <<<"$result")
accuracy=$(awk '$1 == "accuracy" { print $2; exit }' <<<"$result")
elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
printf 'test accuracy: %s (%s, %s samples, %s s)\n' "$accuracy" "$kind" "$samples" "$elapsed"
