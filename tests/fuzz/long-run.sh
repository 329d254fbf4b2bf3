#!/bin/sh
# SPDX-License-Identifier: MIT
#
# long-run.sh NAME SRCDIR RUNS [MAX_LEN]: the long fuzz run of one target.
#
# Run from a build directory configured with --enable-fuzzers
# --enable-sanitizers. It fuzzes tests/fuzz/fuzz_NAME for RUNS executions
# (10000000 for a release) from a scratch copy of tests/fuzz/corpus/NAME (the
# seeds up to FUZZ_SEED_MAX bytes, as smoke.sh takes them), with the
# dictionary, value profiling and inputs up to MAX_LEN bytes (default 8192),
# at nice 10 so it shares the machine politely. It writes the whole libFuzzer
# log to tests/fuzz/long-NAME.log and prints one line for the table in
# tests/fuzz/README.md:
#     NAME RUNS SECONDS EXEC/S COV FT CRASHES
# A failure leaves its reproducer as tests/fuzz/NAME-crash-* (or -leak-,
# -timeout-, -oom-) and the line says 1 crash; the exit status is then 1.
set -eu

name=$1
srcdir=$2
runs=$3
max_len=${4:-8192}
seed_max=${FUZZ_SEED_MAX:-32768}
target=tests/fuzz/fuzz_$name
seeds=$srcdir/tests/fuzz/corpus/$name
dict=$srcdir/tests/fuzz/$name.dict
log=tests/fuzz/long-$name.log

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mb-fuzz-long-$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

for f in "$seeds"/*; do
	if [ "$(wc -c <"$f")" -le "$seed_max" ]; then
		cp "$f" "$tmp/"
	fi
done
chmod -R u+w "$tmp"

: "${UBSAN_OPTIONS:=print_stacktrace=1}"
export UBSAN_OPTIONS

start=$(date +%s)
status=0
nice -n 10 "$target" -runs="$runs" -use_value_profile=1 -dict="$dict" -max_len="$max_len" \
	-timeout=25 -print_final_stats=1 -artifact_prefix="$PWD/tests/fuzz/$name-" \
	"$tmp" >"$log" 2>&1 || status=1
end=$(date +%s)

done_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
secs=$((end - start))
rate=$(( ${done_runs:-0} / (secs > 0 ? secs : 1) ))
echo "$name ${done_runs:-?} $secs $rate ${cov:-?} ${ft:-?} $status"
exit $status
