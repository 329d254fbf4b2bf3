#!/bin/sh
# SPDX-License-Identifier: MIT
#
# memory_bench.sh - the daemon's resident memory along a long stream.
#
#	bench/memory_bench.sh [--samples N] [--build DIR] [--daemon PATH] [--ctl PATH]
#
# Starts minibatchd in a temporary runtime directory (zmq PULL source on
# ipc, softmax 784-10, batch.size 256, default optimizer and publication,
# no checkpoints, no metrics) and streams the Fashion-MNIST training images
# to it with `minibatchctl feed --loop --elem u8` (256 rows a message,
# the 60,000 rows cycled) until the daemon has trained N samples (default
# 10,000,000). Every 0.1 s it reads VmRSS from /proc/PID/status; at each
# 10% of the stream it prints the RSS of that moment, and at the end
# VmHWM (the kernel's peak) and the largest VmRSS seen.
#
# stdout: CSV "section,name,value,unit"; stderr: the same in words.
# DIR defaults to $BUILD_DIR, else build/release under the source tree.
set -eu

samples=10000000
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build/release}
daemon=
ctl=
while [ $# -gt 0 ]; do
	case $1 in
	--samples) samples=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	--daemon) daemon=$2; shift 2 ;;
	--ctl) ctl=$2; shift 2 ;;
	-h|--help) sed -n '4,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "memory_bench.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
daemon=${daemon:-$build/daemon/minibatchd}
ctl=${ctl:-$build/tools/minibatchctl}
fashion=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
for f in "$daemon" "$ctl"; do
	[ -x "$f" ] || { echo "memory_bench.sh: $f is not an executable (build it, or --build DIR)" >&2; exit 2; }
done
[ -r "$fashion/train-images-idx3-ubyte.gz" ] || { echo "memory_bench.sh: no Fashion-MNIST in $fashion" >&2; exit 2; }

dir=$(mktemp -d /tmp/mbd-mem.XXXXXX)
dpid=
fpid=
cleanup() {
	[ -n "$fpid" ] && kill "$fpid" 2>/dev/null && wait "$fpid" 2>/dev/null
	if [ -n "$dpid" ]; then
		kill "$dpid" 2>/dev/null || true
		wait "$dpid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$daemon" -o daemon.runtime_dir="$dir" -o control.endpoint=ipc://control \
	-o publish.endpoint=ipc://snapshots -o metrics.listen= -o checkpoint.dir=none \
	-o checkpoint.on_exit=false -o source.in.type=zmq -o source.in.endpoint=ipc://ingest \
	-o model.kind=softmax -o model.inputs=784 -o batch.size=256 -o log.level=warning \
	>"$dir/daemon.log" 2>&1 &
dpid=$!

# The trainer's "samples" from the status reply, or nothing.
trained() {
	"$ctl" --runtime-dir "$dir" --timeout 5 status --json 2>/dev/null |
		sed -n 's/^[^"]*\("[^"]*"[^"]*\)*"samples":\([0-9]*\).*/\2/p' | head -n 1
}
rss_kb() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$dpid/status"; }

i=0
until [ -n "$(trained)" ]; do
	i=$((i + 1))
	if [ $i -gt 150 ] || ! kill -0 "$dpid" 2>/dev/null; then
		echo "memory_bench.sh: the daemon did not start:" >&2
		cat "$dir/daemon.log" >&2
		exit 1
	fi
	sleep 0.1
done
start_rss=$(rss_kb VmRSS)
echo "memory,rss_idle,$start_rss,kB"
echo "daemon $dpid idle: VmRSS $start_rss kB; streaming $samples samples" >&2

"$ctl" --runtime-dir "$dir" feed --loop --quiet --elem u8 "$fashion/train-images-idx3-ubyte.gz" \
	>"$dir/feed.log" 2>&1 &
fpid=$!

t0=$(date +%s.%N)
next=1
max=0
while :; do
	n=$(trained)
	rss=$(rss_kb VmRSS)
	[ -n "$rss" ] || { echo "memory_bench.sh: the daemon exited" >&2; cat "$dir/daemon.log" >&2; exit 1; }
	[ "$rss" -gt "$max" ] && max=$rss
	while [ -n "$n" ] && [ $next -le 10 ] && [ "$n" -ge $((samples / 10 * next)) ]; do
		now=$(date +%s.%N)
		echo "memory,rss_at_${next}0pct,$rss,kB"
		printf '%3d%%: %10d samples trained, VmRSS %7d kB, %6.1f s\n' $((next * 10)) "$n" "$rss" \
			"$(echo "$now - $t0" | bc)" >&2
		next=$((next + 1))
	done
	[ $next -gt 10 ] && break
	kill -0 "$fpid" 2>/dev/null || { echo "memory_bench.sh: the feed stopped:" >&2; cat "$dir/feed.log" >&2; exit 1; }
	sleep 0.1
done
t1=$(date +%s.%N)
hwm=$(rss_kb VmHWM)
kill "$fpid" 2>/dev/null || true
wait "$fpid" 2>/dev/null || true
fpid=
secs=$(echo "$t1 - $t0" | bc)
echo "memory,rss_max_sampled,$max,kB"
echo "memory,vmhwm,$hwm,kB"
echo "memory,stream_samples_per_s,$(echo "$samples / $secs" | bc),samples/s"
echo "peak: VmHWM $hwm kB, largest VmRSS sampled $max kB; $samples samples in $secs s" >&2
