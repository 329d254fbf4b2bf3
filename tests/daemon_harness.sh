# SPDX-License-Identifier: MIT
# daemon_harness.sh - sourced by the shell tests that run minibatchd.
#
# harness_init NAME makes $dir, a fresh temporary directory, and sets up
# an exit handler that stops the daemon whose process id the test puts in
# $pid and removes $dir, so nothing is left behind whatever happens. It
# also zeroes the passed/failed counters that pass() counts into.

# Stop the daemon, if one was started, and remove the directory.
harness_cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}

# harness_init NAME: $dir is mb-test-NAME.XXXXXX under $TMPDIR or /tmp.
harness_init() {
	dir=$(mktemp -d "${TMPDIR:-/tmp}/mb-test-$1.XXXXXX") || exit 1
	pid=
	trap harness_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	passed=0
	failed=0
}

pass() { passed=$((passed + 1)); echo "PASS: $1"; }

# harness_wait_up CMD...: run CMD every 0.1 s, for up to 5 s, until it
# succeeds (the daemon answers); stop early when the daemon $pid died.
# Sets up to 1 when it answered, 0 when not.
harness_wait_up() {
	up=0
	for _ in $(seq 1 50); do
		if "$@" >/dev/null 2>&1; then
			up=1
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
}
