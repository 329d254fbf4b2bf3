#!/bin/sh
# SPDX-License-Identifier: MIT
# test_minibatchctl.sh - every minibatchctl subcommand against a running
# minibatchd: exit statuses and what a person reads.
#
# The daemon runs on ipc sockets in a temporary directory only (no tcp
# port, so parallel tests cannot collide), and everything goes on exit.

set -u

builddir=${top_builddir:-.}
daemon=$builddir/daemon/minibatchd
ctl=$builddir/tools/minibatchctl
[ -x "$daemon" ] || { echo "SKIP: $daemon is not built"; exit 77; }
[ -x "$ctl" ] || { echo "SKIP: $ctl is not built"; exit 77; }

. "${top_srcdir:-.}/tests/daemon_harness.sh"
harness_init ctl

fail() { failed=$((failed + 1)); echo "FAIL: $1"; [ -f "$dir/err" ] && sed 's/^/  stderr: /' "$dir/err"; }

# run NAME EXPECTED_STATUS CMD...: run minibatchctl against the daemon, output in $dir/out and $dir/err.
run() {
	name=$1 want=$2
	shift 2
	"$ctl" --runtime-dir "$dir/run" "$@" >"$dir/out" 2>"$dir/err"
	got=$?
	if [ "$got" -eq "$want" ]; then
		return 0
	fi
	fail "$name: exit status $got, expected $want"
	return 1
}

# The figure KEY of `status`/`stats` output (lines "key   value").
figure() { awk -v k="$1" '$1 == k { print $2; exit }' "$dir/out"; }

mkdir "$dir/run"
# A configuration file that reload re-reads once it is edited below.
printf '[optimizer]\nlr = 0.05\n' >"$dir/minibatchd.conf"
"$daemon" -c "$dir/minibatchd.conf" -o checkpoint.dir="$dir/ckpt" -o daemon.runtime_dir="$dir/run" -o source.default.type=zmq -o source.default.endpoint=ipc://ingest \
	-o publish.endpoint=ipc://snapshots -o publish.every_ms=100 2>"$dir/daemon.log" &
pid=$!

# Wait for the control socket to answer (the daemon binds its sockets at start).
harness_wait_up "$ctl" --runtime-dir "$dir/run" status --timeout 0.2
if [ "$up" -ne 1 ]; then
	echo "FAIL: minibatchd did not answer on $dir/run/control"
	cat "$dir/daemon.log"
	exit 1
fi

# usage: an unknown command exits 2 and says how to use the tool.
if run "usage/unknown command" 2 frobnicate; then
	if grep -q "unknown command 'frobnicate'" "$dir/err" && grep -q '^usage: minibatchctl' "$dir/err"; then
		pass "usage/unknown command"
	else
		fail "usage/unknown command: no usage on stderr"
	fi
fi
if run "usage/feed without files" 2 feed; then
	grep -q '^usage: minibatchctl feed' "$dir/err" && pass "usage/feed without files" ||
		fail "usage/feed without files: no usage"
fi

# control/refused: a snapshot before any sample is refused: exit 1, the reason on stderr.
if run "control/refused" 1 snapshot; then
	grep -q 'snapshot: no model yet' "$dir/err" && pass "control/refused" ||
		fail "control/refused: the daemon's reason is not on stderr"
fi

# control/unreachable: nobody at the endpoint: exit 2 after the timeout.
if run "control/unreachable" 2 status --control "ipc://$dir/nobody" --timeout 0.3; then
	grep -q 'no answer' "$dir/err" && pass "control/unreachable" || fail "control/unreachable: no message"
fi

# A small labelled CSV: label, then 4 features; class c has feature c large.
awk 'BEGIN { srand(7); for (i = 0; i < 600; i++) { c = i % 3; line = c;
	for (f = 0; f < 4; f++) line = line "," (f == c ? 2 : 0) + rand() * 0.5;
	print line } }' >"$dir/data.csv"

# feed: the whole file goes, and says so.
if run "feed/csv" 0 feed --quiet --batch 50 --epochs 5 "$dir/data.csv"; then
	grep -q '^fed 3000 samples (4 features, f32)' "$dir/out" && pass "feed/csv" ||
		fail "feed/csv: unexpected output: $(cat "$dir/out")"
fi

# status: the daemon has trained every sample (it trains as they arrive).
trained=
for _ in $(seq 1 50); do
	run "status/samples" 0 status || break
	trained=$(figure samples)
	[ "$trained" = 3000 ] && break
	sleep 0.1
done
if [ "$trained" = 3000 ]; then
	if [ "$(figure state)" = running ] && [ -n "$(figure accuracy)" ]; then
		pass "status/samples"
	else
		fail "status/samples: no state or accuracy line: $(cat "$dir/out")"
	fi
else
	fail "status/samples: samples is '$trained', expected 3000"
fi

# status --json: the daemon's reply as it came.
if run "status/json" 0 status --json; then
	grep -q '^{"ok":true,.*"samples":3000' "$dir/out" && pass "status/json" ||
		fail "status/json: $(cat "$dir/out")"
fi

# stats: the source counted every sample.
if run "stats/counts" 0 stats; then
	if [ "$(figure 'sources[0].received')" = 3000 ] && [ "$(figure 'sources[0].rejected')" = 0 ]; then
		pass "stats/counts"
	else
		fail "stats/counts: $(cat "$dir/out")"
	fi
fi

# feed from standard input: lines pass through as text.
if printf '0,2,0,0,0\n1,0,2,0,0\n2,0,0,2,0\n' | run "feed/stdin" 0 feed --quiet -; then
	grep -q '^fed 3 lines' "$dir/out" && pass "feed/stdin" || fail "feed/stdin: $(cat "$dir/out")"
fi

# snapshot: now there is a model to publish.
if run "control/snapshot" 0 snapshot; then
	grep -q '^version  *[0-9]' "$dir/out" && pass "control/snapshot" || fail "control/snapshot: $(cat "$dir/out")"
fi

# eval: the current model on the training file; the classes are easy to tell apart.
if run "eval/accuracy" 0 eval "$dir/data.csv"; then
	acc=$(awk '$1 == "accuracy" { print $2 }' "$dir/out")
	if [ -n "$acc" ] && awk -v a="$acc" 'BEGIN { exit !(a >= 0.9 && a <= 1) }' &&
		grep -q '^confusion' "$dir/out"; then
		pass "eval/accuracy"
	else
		fail "eval/accuracy: $(cat "$dir/out")"
	fi
fi

# watch --count 1: one line about the current snapshot, at once.
if run "watch/count" 0 watch --count 1 --timeout 5; then
	if [ "$(wc -l <"$dir/out")" -eq 1 ] && grep -q '^version [0-9]* *samples [0-9]' "$dir/out"; then
		pass "watch/count"
	else
		fail "watch/count: $(cat "$dir/out")"
	fi
fi

# watch --csv --eval: a header, then a row with the test accuracy.
if run "watch/csv eval" 0 watch --csv --count 1 --timeout 5 --eval "$dir/data.csv"; then
	if [ "$(sed -n 1p "$dir/out")" = "version,samples,batches,cost,age_ms,test_cost,test_accuracy" ] &&
		[ "$(wc -l <"$dir/out")" -eq 2 ]; then
		pass "watch/csv eval"
	else
		fail "watch/csv eval: $(cat "$dir/out")"
	fi
fi

# pause and resume: the state follows.
if run "control/pause" 0 pause && grep -q '^state *paused' "$dir/out" &&
	run "control/pause status" 0 status && [ "$(figure state)" = paused ] &&
	run "control/resume" 0 resume && grep -q '^state *running' "$dir/out"; then
	pass "control/pause resume"
else
	fail "control/pause resume: $(cat "$dir/out")"
fi

# eval of a file the model does not fit: refused, exit 1.
awk 'BEGIN { print "1,0.5,0.5" }' >"$dir/narrow.csv"
if run "eval/shape" 1 eval "$dir/narrow.csv"; then
	grep -q 'has 2 features, the model takes 4' "$dir/err" && pass "eval/shape" || fail "eval/shape: wrong message"
fi

# predict: one line per sample, a class of the model (softmax, 10 outputs) and its probability.
if run "predict/lines" 0 predict "$dir/data.csv"; then
	if [ "$(wc -l <"$dir/out")" -eq 600 ] &&
		awk 'NF != 2 || $1 !~ /^[0-9]+$/ || $1 > 9 || $2 < 0 || $2 > 1 { bad = 1 } END { exit bad }' "$dir/out"; then
		pass "predict/lines"
	else
		fail "predict/lines: $(head -3 "$dir/out")"
	fi
fi

# predict agrees with eval: the accuracy of its classes against the file's labels is eval's figure.
if run "predict/agrees with eval" 0 eval "$dir/data.csv"; then
	eval_acc=$(awk '$1 == "accuracy" { print $2 }' "$dir/out")
	if run "predict/agrees with eval" 0 predict "$dir/data.csv"; then
		pred_acc=$(cut -d, -f1 "$dir/data.csv" | paste -d' ' - "$dir/out" |
			awk '{ n++; if ($1 == $2) right++ } END { printf "%.4f", right / n }')
		[ -n "$eval_acc" ] && [ "$pred_acc" = "$eval_acc" ] && pass "predict/agrees with eval" ||
			fail "predict/agrees with eval: predict $pred_acc, eval $eval_acc"
	fi
fi

# predict --no-labels from standard input: every column a feature, same classes as with labels.
cut -d' ' -f1 "$dir/out" >"$dir/classes"
if cut -d, -f2- "$dir/data.csv" | run "predict/stdin no labels" 0 predict --no-labels -; then
	cut -d' ' -f1 "$dir/out" | cmp -s - "$dir/classes" && pass "predict/stdin no labels" ||
		fail "predict/stdin no labels: classes differ from the labelled file's"
fi

# predict --proba: ten probabilities a line that sum to 1.
if head -5 "$dir/data.csv" | run "predict/proba" 0 predict --proba -; then
	if [ "$(wc -l <"$dir/out")" -eq 5 ] &&
		awk 'NF != 10 { bad = 1 } { s = 0; for (i = 1; i <= NF; i++) s += $i;
			if (s < 0.99 || s > 1.01) bad = 1 } END { exit bad }' "$dir/out"; then
		pass "predict/proba"
	else
		fail "predict/proba: $(cat "$dir/out")"
	fi
fi

# predict of a file the model does not fit: refused, exit 1, the shapes named.
if run "predict/shape" 1 predict "$dir/narrow.csv"; then
	grep -q 'has 2 features after 1 label column, the model takes 4' "$dir/err" && pass "predict/shape" ||
		fail "predict/shape: wrong message"
fi

# save: a checkpoint file in the configured directory, its path in the reply.
if run "control/save" 0 save; then
	path=$(figure path)
	case $path in
	"$dir/ckpt/"*) [ -s "$path" ] && pass "control/save" || fail "control/save: $path is not there" ;;
	*) fail "control/save: path '$path' is not in $dir/ckpt" ;;
	esac
fi

# reload with the configuration as it was: ok, nothing changed.
if run "control/reload unchanged" 0 reload --json; then
	grep -q '^{"ok":true,"changed":\[\]}' "$dir/out" && pass "control/reload unchanged" ||
		fail "control/reload unchanged: $(cat "$dir/out")"
fi

# reload after the file's learning rate changed: the key is reported, and status shows the rate.
printf '[optimizer]\nlr = 0.02\n' >"$dir/minibatchd.conf"
if run "control/reload changed" 0 reload; then
	if grep -q '^changed  *optimizer.lr$' "$dir/out" && run "control/reload changed" 0 status &&
		[ "$(figure lr)" = 0.02 ]; then
		pass "control/reload changed"
	else
		fail "control/reload changed: $(cat "$dir/out")"
	fi
fi

# reset: a fresh model is a new version; the sample counter carries on.
run "control/reset" 0 status
before=$(figure version)
samples=$(figure samples)
if run "control/reset" 0 reset; then
	after=$(figure version)
	if [ -n "$after" ] && [ "$after" -gt "$before" ] && run "control/reset" 0 status &&
		[ "$(figure version)" -ge "$after" ] && [ "$(figure samples)" = "$samples" ]; then
		pass "control/reset"
	else
		fail "control/reset: version $before then $after, $(cat "$dir/out")"
	fi
fi

# SIGTERM: the daemon stops cleanly.
kill -TERM "$pid"
wait "$pid"
status=$?
pid=
[ "$status" -eq 0 ] && pass "daemon/sigterm" || fail "daemon/sigterm: exit status $status"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
