#!/bin/sh
# SPDX-License-Identifier: MIT
#
# smoke.sh NAME SRCDIR SECONDS: the fuzz smoke test of one target.
#
# Run from the build directory. First tests/fuzz/fuzz_NAME decodes every
# seed of tests/fuzz/corpus/NAME once, whatever its length, and every
# reproducer tests/fuzz/crashes/NAME-* of a crash found before; then it fuzzes
# for SECONDS from a scratch copy of the seeds up to FUZZ_SEED_MAX bytes
# (default 32 KiB), with the dictionary and value profiling. Long seeds (a
# line at its length limit, 65536 rows) stay out of that copy: libFuzzer
# would breed thousands of long inputs from them and crawl. The source
# tree is never written (its corpus is read-only in distcheck); a failure
# leaves its reproducer as tests/fuzz/NAME-crash-* (or -leak-, -timeout-,
# -oom-) in the build directory.
set -eu

name=$1
srcdir=$2
seconds=$3
seed_max=${FUZZ_SEED_MAX:-32768}
target=tests/fuzz/fuzz_$name
seeds=$srcdir/tests/fuzz/corpus/$name
dict=$srcdir/tests/fuzz/$name.dict

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mb-fuzz-$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
mkdir "$tmp/corpus"

: "${UBSAN_OPTIONS:=print_stacktrace=1}"
export UBSAN_OPTIONS

fail() {
	tail -n 80 "$tmp/log"
	echo "fuzz_$name: FAILED $1 (a new reproducer goes to tests/fuzz/ of the build directory)" >&2
	exit 1
}

# Every seed, and every reproducer of a crash found before, once.
set -- "$seeds"/*
for f in "$srcdir/tests/fuzz/crashes/$name"-*; do
	if [ -e "$f" ]; then
		set -- "$@" "$f"
	fi
done
"$target" "$@" >"$tmp/log" 2>&1 || fail "on a seed or a known reproducer"

for f in "$seeds"/*; do
	if [ "$(wc -c <"$f")" -le "$seed_max" ]; then
		cp "$f" "$tmp/corpus/"
	fi
done
chmod -R u+w "$tmp/corpus"

"$target" -max_total_time="$seconds" -use_value_profile=1 -dict="$dict" -timeout=25 \
	-print_final_stats=1 -artifact_prefix="$PWD/tests/fuzz/$name-" \
	"$tmp/corpus" >"$tmp/log" 2>&1 || fail "while fuzzing"
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/log")
cov=$(grep -o 'cov: [0-9]*' "$tmp/log" | tail -n 1)
echo "fuzz_$name: $(ls "$seeds" | wc -l) seeds, then ${runs:-?} inputs in $seconds s ($cov), no crash"
