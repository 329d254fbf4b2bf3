#!/bin/sh
# SPDX-License-Identifier: MIT
# test_plot.sh - minibatchctl plot draws the cost curve a user asked for:
#   plot/csv          a `watch --csv` file becomes well-formed SVG with the cost,
#                     its moving average and the test cost, one point per
#                     snapshot (repeated versions once, a NaN cost left out)
#   plot/average      the bold line is the trailing mean of the last N costs
#   plot/log          --log draws a log axis with powers of ten labelled
#   plot/stdio        '-' reads standard input, -o - writes standard output
#   plot/errors       bad input is refused with the line named, and no file left
#   plot/live         from a running daemon: --count N snapshots, N points

set -u

builddir=${top_builddir:-.}
ctl=$builddir/tools/minibatchctl
daemon=$builddir/daemon/minibatchd
[ -x "$ctl" ] || { echo "SKIP: $ctl is not built"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is not installed (it checks the SVG)"; exit 77; }

. "${top_srcdir:-.}/tests/daemon_harness.sh"
harness_init plot

fail() { failed=$((failed + 1)); echo "FAIL: $1"; [ -s "$dir/err" ] && sed 's/^/  stderr: /' "$dir/err"; }

# svg_check SVG CHECK...: parse SVG as XML and run python CHECKs against it;
# `line(id)` is a polyline's list of (x, y) points, `texts` every text.
svg_check() {
	python3 - "$@" <<'EOF'
import sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
lines = {p.getAttribute('id'): [tuple(map(float, xy.split(','))) for xy in p.getAttribute('points').split()]
         for p in doc.getElementsByTagName('polyline')}
texts = [''.join(n.data for n in t.childNodes if n.nodeType == n.TEXT_NODE)
         for t in doc.getElementsByTagName('text')]
line = lines.get
for check in sys.argv[2:]:
    if not eval(check):
        print('  failed check: ' + check)
        print('  lines: %r' % {k: len(v) for k, v in lines.items()})
        print('  texts: %r' % texts)
        sys.exit(1)
EOF
}

# A run as `watch --eval --csv` writes it: version 1 twice, a NaN cost at 300.
cat >"$dir/run.csv" <<'EOF'
version,samples,batches,cost,age_ms,test_cost,test_accuracy
1,64,1,2.3,1.5,2.2,0.12
1,64,1,2.3,9.0,2.2,0.12
100,6400,100,0.9,1.2,0.85,0.70
200,12800,200,0.7,1.1,0.66,0.75
300,19200,300,nan,1.3,0.61,0.78
400,25600,400,0.5,1.0,0.55,0.80
500,32000,500,0.45,1.0,0.52,0.81
EOF

if "$ctl" plot -o "$dir/run.svg" "$dir/run.csv" 2>"$dir/err" &&
	svg_check "$dir/run.svg" \
		"len(line('cost')) == 5" "len(line('average')) == 6" "len(line('test-cost')) == 6" \
		"'samples seen' in texts and 'cost' in texts" \
		"'Cost against samples seen' in texts" \
		"'recent cost at each snapshot' in texts and 'moving average of 10' in texts" \
		"'cost on the test set' in texts" \
		"[p[0] for p in line('average')] == sorted(p[0] for p in line('average'))"; then
	pass "plot/csv"
else
	fail "plot/csv"
fi
ls "$dir" | grep -q '\.tmp$' && fail "plot/csv: a .tmp file was left behind"

# On a linear axis y is affine in the cost: find it from two points of the
# thin line, then each point of the bold line must sit at the mean of the
# last 3 costs (the NaN one not counted). Window 1 makes the lines equal.
if "$ctl" plot --linear --window 3 -o "$dir/avg.svg" "$dir/run.csv" 2>"$dir/err" &&
	svg_check "$dir/avg.svg" "
(lambda c, a: (lambda k: all(abs(a[i][1] - (c[0][1] + k * (m - 2.3))) < 0.15
                             for i, m in enumerate([2.3, 1.6, 1.3, 0.8, 0.6, 0.475]))
              )((c[1][1] - c[0][1]) / (0.9 - 2.3)))(line('cost'), line('average'))" &&
	"$ctl" plot --window 1 -o "$dir/w1.svg" "$dir/run.csv" 2>"$dir/err" &&
	svg_check "$dir/w1.svg" "[p for p in line('average') if p in line('cost')] == line('cost')"; then
	pass "plot/average"
else
	fail "plot/average"
fi

if "$ctl" plot --log --title 'a <run> & more' -o "$dir/log.svg" "$dir/run.csv" 2>"$dir/err" &&
	svg_check "$dir/log.svg" "'cost (log scale)' in texts" "'1' in texts" "'a <run> & more' in texts" \
		"len(line('cost')) == 5"; then
	pass "plot/log"
else
	fail "plot/log"
fi

if grep -v '^300,' "$dir/run.csv" | cut -d, -f1-5 | "$ctl" plot -o - - >"$dir/stdout.svg" 2>"$dir/err" &&
	svg_check "$dir/stdout.svg" "len(line('cost')) == 5" "line('test-cost') is None"; then
	pass "plot/stdio"
else
	fail "plot/stdio"
fi

# expect_error NAME STATUS MESSAGE ARGS...: plot fails with STATUS, says MESSAGE, writes no SVG.
expect_error() {
	name=$1 want=$2 message=$3
	shift 3
	rm -f "$dir/bad.svg"
	"$ctl" plot -o "$dir/bad.svg" "$@" >/dev/null 2>"$dir/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		fail "plot/errors: $name: exit status $got, expected $want"
	elif ! grep -q -- "$message" "$dir/err"; then
		fail "plot/errors: $name: no '$message' on stderr"
	elif [ -e "$dir/bad.svg" ] || ls "$dir" | grep -q '\.tmp$'; then
		fail "plot/errors: $name: a file was left behind"
	else
		return 0
	fi
	return 1
}
printf 'version,samples,batches,cost,age_ms\n1,64,1,2.3,1.0\n2,128,2,oops,1.0\n' >"$dir/badrow.csv"
printf 'version,batches,age_ms\n1,1,1.0\n' >"$dir/nocost.csv"
printf 'version,samples,batches,cost,age_ms\n' >"$dir/norows.csv"
printf 'version,samples,batches,cost,age_ms\n1,64,1,nan,1.0\n' >"$dir/nan.csv"
ok=1
expect_error "bad row" 1 "badrow.csv:3:" "$dir/badrow.csv" || ok=0
expect_error "no cost column" 1 "no samples and cost columns" "$dir/nocost.csv" || ok=0
expect_error "no rows" 1 "nothing to draw" "$dir/norows.csv" || ok=0
expect_error "only NaN" 1 "none with a finite cost" "$dir/nan.csv" || ok=0
expect_error "missing file" 1 "No such file" "$dir/none.csv" || ok=0
expect_error "two files" 2 "one CSV file at most" "$dir/run.csv" "$dir/run.csv" || ok=0
expect_error "bad window" 2 "--window" --window 0 "$dir/run.csv" || ok=0
[ "$ok" -eq 1 ] && pass "plot/errors"

# Live: a daemon on ipc sockets only, publishing every 2 batches; plot
# subscribes, then 3000 samples arrive at a steady rate.
if [ ! -x "$daemon" ]; then
	echo "SKIP: plot/live: $daemon is not built"
else
	mkdir "$dir/run"
	awk 'BEGIN { for (i = 0; i < 3000; i++) { c = i % 3; printf "%d,%d,%.2f,%.2f\n", c, c, (i % 7) / 7, c * 0.5 } }' \
		>"$dir/live.csv"
	"$daemon" --no-config -o checkpoint.dir=none -o daemon.runtime_dir="$dir/run" -o source.default.type=zmq \
		-o source.default.endpoint=ipc://ingest -o publish.endpoint=ipc://snapshots \
		-o publish.every_batches=2 -o publish.every_ms=0 -o model.outputs=3 \
		-o metrics.listen= 2>"$dir/daemon.log" &
	pid=$!
	harness_wait_up "$ctl" --runtime-dir "$dir/run" status --timeout 0.2
	if [ "$up" -ne 1 ]; then
		fail "plot/live: minibatchd did not start"
		sed 's/^/  daemon: /' "$dir/daemon.log"
	else
		"$ctl" --runtime-dir "$dir/run" plot --count 3 --timeout 20 -o "$dir/live.svg" 2>"$dir/err" &
		plot_pid=$!
		sleep 0.3
		"$ctl" --runtime-dir "$dir/run" feed --quiet --rate 5000 "$dir/live.csv" >/dev/null 2>>"$dir/err"
		wait "$plot_pid"
		status=$?
		if [ "$status" -eq 0 ] && svg_check "$dir/live.svg" "len(line('cost')) == 3" \
			"'Cost of model softmax against samples seen' in texts" \
			"[p[0] for p in line('cost')] == sorted(set(p[0] for p in line('cost')))"; then
			pass "plot/live"
		else
			fail "plot/live: exit status $status"
		fi
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
