#!/bin/sh
# SPDX-License-Identifier: MIT
# test_ctl_curve.sh - minibatchctl speaks CURVE to a daemon whose tcp
# endpoints require it.
#
#   curve/keygen          keygen writes a server pair, a clients/ directory
#                         and a client pair, the secret keys private (0600)
#   curve/status          with the daemon's public key and an allowed client
#                         key, status answers over tcp
#   curve/feed            feed over tcp with the keys: every sample trained
#   curve/no-keys         without keys, status gets no answer (exit 2)
#   curve/unknown-key     with a key pair the daemon does not list, no answer;
#                         the daemon counts the refused peer and logs its
#                         address and "unknown key"
#   curve/env             the keys given in MINIBATCH_CURVE_* work as well
#
# The ports are picked free on 127.0.0.1 a moment before the daemon binds
# them; everything lives in a temporary directory removed on exit.

set -u

builddir=${top_builddir:-.}
daemon=$builddir/daemon/minibatchd
ctl=$builddir/tools/minibatchctl
[ -x "$daemon" ] || { echo "SKIP: $daemon is not built"; exit 77; }
[ -x "$ctl" ] || { echo "SKIP: $ctl is not built"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 picks the free ports"; exit 77; }

. "${top_srcdir:-.}/tests/daemon_harness.sh"
harness_init ctlcurve

fail() { failed=$((failed + 1)); echo "FAIL: $1"; [ -f "$dir/err" ] && sed 's/^/  stderr: /' "$dir/err"; }

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# curve/keygen
"$ctl" keygen "$dir/keys" server >"$dir/out" 2>"$dir/err" &&
	"$ctl" keygen "$dir/me" >>"$dir/out" 2>>"$dir/err" &&
	"$ctl" keygen "$dir/stranger" >>"$dir/out" 2>>"$dir/err"
if [ $? -eq 0 ] && [ -f "$dir/keys/server.key" ] && [ -f "$dir/keys/server.pub" ] && [ -d "$dir/keys/clients" ] &&
	[ -f "$dir/me/client.key" ] && [ -f "$dir/me/client.pub" ] &&
	[ "$(stat -c %a "$dir/keys/server.key")" = 600 ] && [ "$(stat -c %a "$dir/me/client.key")" = 600 ]; then
	pass "curve/keygen"
else
	fail "curve/keygen: $(ls -lR "$dir")"
	exit 1
fi
cp "$dir/me/client.pub" "$dir/keys/clients/me.pub"

ingest=tcp://127.0.0.1:$(free_port)
control=tcp://127.0.0.1:$(free_port)
mkdir "$dir/run"
"$daemon" -o daemon.runtime_dir="$dir/run" -o security.curve=on -o security.curve_dir="$dir/keys" \
	-o source.in.type=zmq -o source.in.endpoint="$ingest" -o control.endpoint="$control" \
	-o publish.endpoint=ipc://snapshots -o checkpoint.dir=none -o metrics.listen= 2>"$dir/daemon.log" &
pid=$!

keys="--curve-server-key $dir/keys/server.pub --curve-key $dir/me/client.key"
# shellcheck disable=SC2086 # $keys is two options and their files, split on purpose
harness_wait_up "$ctl" --control "$control" $keys status --timeout 0.3
if [ "$up" -ne 1 ]; then
	echo "FAIL: minibatchd did not answer on $control"
	cat "$dir/daemon.log"
	exit 1
fi

# figure KEY: the value on the line "KEY value" of the last output.
figure() { awk -v k="$1" '$1 == k { print $2; exit }' "$dir/out"; }

# shellcheck disable=SC2086
"$ctl" --control "$control" $keys status >"$dir/out" 2>"$dir/err" && grep -q '^state' "$dir/out" &&
	pass "curve/status" || fail "curve/status: $(cat "$dir/out")"

# curve/feed: 300 labelled CSV rows over tcp, all trained.
awk 'BEGIN { srand(3); for (i = 0; i < 300; i++) { c = i % 3; line = c;
	for (f = 0; f < 4; f++) line = line "," (f == c ? 2 : 0) + rand() * 0.5; print line } }' >"$dir/data.csv"
# shellcheck disable=SC2086
if "$ctl" --ingest "$ingest" --control "$control" $keys feed "$dir/data.csv" >"$dir/out" 2>"$dir/err"; then
	trained=
	for _ in $(seq 1 50); do
		# shellcheck disable=SC2086
		"$ctl" --control "$control" $keys status >"$dir/out" 2>"$dir/err"
		trained=$(figure samples)
		[ "$trained" = 300 ] && break
		sleep 0.1
	done
	[ "$trained" = 300 ] && pass "curve/feed" || fail "curve/feed: $trained samples trained, expected 300"
else
	fail "curve/feed: exit status $?"
fi

refused() {
	# shellcheck disable=SC2086
	"$ctl" --control "$control" $keys stats >"$dir/out" 2>/dev/null && figure peers_refused
}
before=$(refused)

# curve/no-keys: plain ZeroMQ to a CURVE endpoint gets nothing back.
"$ctl" --control "$control" status --timeout 0.5 >"$dir/out" 2>"$dir/err"
st=$?
[ "$st" -eq 2 ] && grep -q 'no answer' "$dir/err" && pass "curve/no-keys" ||
	fail "curve/no-keys: exit status $st"

# curve/unknown-key: a well-formed key pair the daemon does not list.
"$ctl" --control "$control" --curve-server-key "$dir/keys/server.pub" --curve-key "$dir/stranger/client.key" \
	status --timeout 0.5 >"$dir/out" 2>"$dir/err"
st=$?
after=
for _ in $(seq 1 20); do
	after=$(refused)
	[ -n "$after" ] && [ -n "$before" ] && [ "$after" -ge $((before + 2)) ] && break
	sleep 0.1
done
# The daemon's log says why, and names the peer's address.
if [ "$st" -eq 2 ] && [ -n "$after" ] && [ "$after" -ge $((before + 2)) ] &&
	grep -q 'at 127\.0\.0\.1: unknown key' "$dir/daemon.log"; then
	pass "curve/unknown-key"
else
	fail "curve/unknown-key: exit status $st, peers_refused $before then $after"
fi

# curve/env: the same keys from the environment.
MINIBATCH_CURVE_SERVER_KEY=$dir/keys/server.pub MINIBATCH_CURVE_KEY=$dir/me/client.key \
	"$ctl" --control "$control" status >"$dir/out" 2>"$dir/err" && grep -q '^state' "$dir/out" &&
	pass "curve/env" || fail "curve/env"

kill -TERM "$pid"
wait "$pid"
status=$?
pid=
[ "$status" -eq 0 ] || fail "daemon/sigterm: exit status $status"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
