#!/bin/sh
# SPDX-License-Identifier: MIT
#
# test_systemd_unit.sh - the systemd unit of minibatchd is valid, hardened,
# and the daemon runs inside the sandbox it describes.
#
#   systemd/directives       the unit keeps the settings the daemon relies on
#   systemd/verify           systemd-analyze verify has nothing to say about it
#   systemd/exposure         systemd-analyze security rates it 1.5 or better
#   systemd/sandbox-refuses  the sandbox below really refuses what the unit denies
#   systemd/sandbox-run      under the unit's seccomp filters and without
#                            privileges, the daemon starts (READY=1 from its
#                            main pid), trains from an io_uring file source,
#                            pings the watchdog, survives SIGHUP (ExecReload=)
#                            and stops cleanly on SIGTERM (STOPPING=1, exit 0)
#
# The sandbox checks use systemd/unit-sandbox.py, which builds the unit's
# seccomp filters with libseccomp as systemd does: this machine need not run
# systemd as PID 1, but the namespace settings (ProtectSystem=, PrivateTmp=,
# ...) are not tried. They are skipped, with the reason, when python3 or
# libseccomp is missing, or in a sanitizer build (LeakSanitizer needs ptrace,
# which the filter refuses).
# Exits 77 when systemd-analyze is missing.

: "${top_srcdir:=.}" "${top_builddir:=.}"

if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "SKIP: systemd-analyze not found (install the Debian package systemd)"
	exit 77
fi

failed=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; failed=1; }
skip() { echo "SKIP: $1: $2"; }

unit="$top_builddir/systemd/minibatchd.service"
if [ ! -f "$unit" ]; then
	echo "FAIL: $unit is missing (make builds it from systemd/minibatchd.service.in)"
	exit 1
fi
builddir=$(cd "$top_builddir" && pwd)
srcdir=$(cd "$top_srcdir" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test_systemd_unit.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# systemd/directives: each line must appear as written.
missing=
for want in '^Type=notify$' '^NotifyAccess=main$' '^ExecStart=/[^ ]*/minibatchd( |$)' \
	'^ExecReload=/bin/kill -HUP \$MAINPID$' '^Restart=on-failure$' '^WatchdogSec=[1-9]' \
	'^(DynamicUser=yes|User=.)' '^StateDirectory=minibatchd$' '^RuntimeDirectory=minibatchd$' \
	'^ConfigurationDirectory=minibatchd$' '^UMask=0007$'; do
	grep -Eq "$want" "$unit" || missing="$missing '$want'"
done
if grep -q '@[a-z_]*@' "$unit"; then
	missing="$missing (an unsubstituted @variable@)"
fi
if [ -z "$missing" ]; then
	pass "systemd/directives"
else
	fail "systemd/directives" "$unit lacks$missing"
fi

# The checks below run on a copy whose ExecStart names the daemon just built
# (verify insists that the program exists).
daemon="$builddir/daemon/minibatchd"
if [ ! -x "$daemon" ]; then
	echo "note: $daemon is not built; ExecStart runs /bin/true for systemd-analyze"
	daemon=/bin/true
fi
mkdir "$tmp/unit"
test_unit="$tmp/unit/minibatchd.service"
sed "s|^ExecStart=[^ ]*|ExecStart=$daemon|" "$unit" >"$test_unit"

# systemd/verify: no warning that names our unit, and a zero status. Man
# pages are not looked up: an uninstalled page cannot be found.
if systemd-analyze verify --man=no "$test_unit" >"$tmp/verify.log" 2>&1 &&
	! grep -q 'minibatchd\.service' "$tmp/verify.log"; then
	pass "systemd/verify"
else
	fail "systemd/verify" "systemd-analyze verify --man=no $unit said:"
	cat "$tmp/verify.log"
fi

# systemd/exposure: the overall level, "→ Overall exposure level for
# minibatchd.service: 1.1 OK", must be at most 1.5.
systemd-analyze security --offline=true "$test_unit" >"$tmp/security.log" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for minibatchd\.service: *\([0-9.]*\).*/\1/p' "$tmp/security.log")
if [ -z "$exposure" ]; then
	fail "systemd/exposure" "no overall exposure in the output of systemd-analyze security --offline=true:"
	cat "$tmp/security.log"
elif awk -v e="$exposure" 'BEGIN { exit !(e <= 1.5) }'; then
	pass "systemd/exposure ($exposure)"
else
	fail "systemd/exposure" "exposure $exposure is above 1.5:"
	grep '✗' "$tmp/security.log"
fi

# walled_in PATH: the first directory above PATH that other users cannot
# search (a checkout in a private temporary directory, say), or nothing.
walled_in() {
	d=$(dirname "$(readlink -f "$1")")
	while [ "$d" != / ]; do
		case $(stat -c %A "$d") in
		?????????x | ?????????t) ;;
		*) echo "$d"; return 0 ;;
		esac
		d=$(dirname "$d")
	done
}

# The sandbox checks.
sandbox="$srcdir/systemd/unit-sandbox.py"
real="$builddir/daemon/.libs/minibatchd"
[ -x "$real" ] || real="$builddir/daemon/minibatchd"
why=
if ! command -v python3 >/dev/null 2>&1; then
	why="python3 not found"
elif [ "$daemon" = /bin/true ]; then
	why="the daemon is not built"
elif grep -aqE '__(asan|tsan)_init' "$real"; then
	why="a sanitizer build (LeakSanitizer and ThreadSanitizer need calls the filter refuses)"
elif ! unreachable=$(walled_in "$real") || [ -n "$unreachable" ]; then
	why="the unit's dynamic user cannot reach the daemon: $unreachable is closed to other users"
elif ! python3 "$sandbox" "$test_unit" /bin/true >"$tmp/probe.log" 2>&1 ||
	! grep -qx 'exit 0' "$tmp/probe.log"; then
	why="the sandbox cannot be built here: $(cat "$tmp/probe.log")"
fi
if [ -n "$why" ]; then
	skip "systemd/sandbox-refuses" "$why"
	skip "systemd/sandbox-run" "$why"
	exit $failed
fi

# Directories as systemd would make them; a dynamic uid must reach them.
chmod 0755 "$tmp"
mkdir "$tmp/run" "$tmp/state"

# systemd/sandbox-refuses: chown of one's own file to oneself always works,
# except under the unit's filter (@privileged holds the chown calls).
RUNTIME_DIRECTORY="$tmp/run" python3 "$sandbox" "$test_unit" \
	/bin/sh -c 'touch "$RUNTIME_DIRECTORY/mine" && chown "$(id -u)" "$RUNTIME_DIRECTORY/mine"' \
	>"$tmp/refuses.log" 2>&1
if grep -q '^exit [1-9]' "$tmp/refuses.log" && grep -q 'Operation not permitted' "$tmp/refuses.log"; then
	pass "systemd/sandbox-refuses"
else
	fail "systemd/sandbox-refuses" "chown was not refused under the unit's filter:"
	cat "$tmp/refuses.log"
fi
rm -f "$tmp/run/mine"

# systemd/sandbox-run: the default endpoints, but tcp on free ports, and a
# file source over the Fashion-MNIST test set, read again and again.
fashion="${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}"
if [ ! -r "$fashion/t10k-images-idx3-ubyte.gz" ] || [ ! -r "$fashion/t10k-labels-idx1-ubyte.gz" ]; then
	skip "systemd/sandbox-run" "no Fashion-MNIST test set in $fashion"
	exit $failed
fi
RUNTIME_DIRECTORY="$tmp/run" STATE_DIRECTORY="$tmp/state" \
	"$top_builddir/libtool" --mode=execute python3 "$sandbox" \
	--watchdog-sec 1 --hup-after 0.3 --term-after 1.5 --timeout 15 "$test_unit" \
	"$top_builddir/daemon/minibatchd" \
	-o source.in.type=zmq -o 'source.in.endpoint=ipc://ingest,tcp://127.0.0.1:*' \
	-o source.fm.type=file -o source.fm.format=idx -o source.fm.epochs=0 \
	-o "source.fm.path=$fashion/t10k-images-idx3-ubyte.gz" \
	-o "source.fm.labels=$fashion/t10k-labels-idx1-ubyte.gz" \
	-o 'publish.endpoint=ipc://snapshots,tcp://127.0.0.1:*' \
	>"$tmp/run.log" 2>"$tmp/daemon.log"
main_pid=$(sed -n 's/^started \([0-9]*\)$/\1/p' "$tmp/run.log")
problems=
grep -qx 'exit 0' "$tmp/run.log" || problems="$problems; it did not exit with status 0"
grep -qx "notify $main_pid READY=1" "$tmp/run.log" || problems="$problems; no READY=1 from the main pid $main_pid"
grep -qx "notify $main_pid STOPPING=1" "$tmp/run.log" || problems="$problems; no STOPPING=1"
grep -qx "notify $main_pid WATCHDOG=1" "$tmp/run.log" || problems="$problems; no WATCHDOG=1"
grep -q "^notify $main_pid STATUS=[1-9][0-9]* samples" "$tmp/run.log" ||
	problems="$problems; no STATUS= line with samples trained"
if grep '^notify ' "$tmp/run.log" | grep -qv "^notify $main_pid "; then
	problems="$problems; a process other than the main one notified (NotifyAccess=main drops that)"
fi
grep -qx 'signal SIGHUP' "$tmp/run.log" || problems="$problems; SIGHUP was never sent"
if [ -z "$problems" ]; then
	pass "systemd/sandbox-run"
else
	fail "systemd/sandbox-run" "${problems#; }"
	echo "--- supervisor:"
	cat "$tmp/run.log"
	echo "--- daemon:"
	tail -n 20 "$tmp/daemon.log"
fi
exit $failed
