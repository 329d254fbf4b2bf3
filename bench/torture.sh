#!/usr/bin/env bash
# bench/torture.sh - the long crash torture: minibatchd killed with SIGKILL
# 1000 times at random moments (waits of 0..300 ms after each start) in
# runs five times as long as make check's, restarted after every kill; each start must carry on from the newest
# complete checkpoint and each run must end with the model of a run left
# alone, bit for bit. Not part of make check (it takes several minutes);
# make check runs the same test with 200 kills and shorter waits.
#
#   bench/torture.sh [KILLS [DELAY_MS]]
#
# BUILD_DIR     the configured build tree to take the test from (default build/release)
# TORTURE_EPOCHS passes over the data in a run (default 100)
# MB_TEST_SEED  repeat the kill moments of an earlier run (each run prints its seed)
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
top=$(dirname "$here")
build=${BUILD_DIR:-$top/build/release}
case $build in /*) ;; *) build=$top/$build ;; esac
die() { printf 'torture: %s\n' "$*" >&2; exit 1; }

[ -f "$build/Makefile" ] || die "no configured build in $build (set BUILD_DIR)"
make -C "$build" -s daemon/minibatchd tests/test_daemon_torture >/dev/null ||
	die "cannot build the daemon and tests/test_daemon_torture in $build"

export TORTURE_KILLS=${1:-1000}
export TORTURE_DELAY_MS=${2:-300}
export TORTURE_EPOCHS=${TORTURE_EPOCHS:-100} # runs of 0.5 to 7 s: kills spread over the whole run
export OPENBLAS_NUM_THREADS=1 # bit-identical results need one BLAS thread
start=$(date +%s)
"$build/tests/test_daemon_torture"
printf 'torture: %s kills in %s s\n' "$TORTURE_KILLS" "$(($(date +%s) - start))" >&2
