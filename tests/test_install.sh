#!/bin/sh
# SPDX-License-Identifier: MIT
# test_install.sh - `make install` gives a user everything, and the installed
# API is usable on its own:
#   install/files     the daemon, the tool, the library, the public headers (and
#                     no private one), pkg-config file, man pages, systemd unit,
#                     example configuration and programs, protocol document
#   install/man-links `man mb_producer_flush` and the like reach their page
#   install/headers   each installed header compiles alone, as <minibatchd/X.h>
#   install/pkgconfig examples/subscribe.c, as installed, builds with
#                     `pkg-config --cflags --libs libminibatch` and runs
#   install/exports   the library exports mb_* names only, and every function
#                     of the installed headers under LIBMINIBATCH_0
#
# It installs the build tree into a temporary DESTDIR with the configured
# prefix. tests/install.mk passes the directories and the compiler. Inside
# `make distcheck` (which installs and uninstalls by itself) or with DESTDIR
# already set, it skips rather than install into someone else's tree.

set -u

builddir=${top_builddir:-.}
if [ -n "${DESTDIR:-}" ]; then
	echo "SKIP: DESTDIR is set ($DESTDIR): not installing over it"
	exit 77
fi
case $(cd "$builddir" && pwd) in
*/_build/sub) echo "SKIP: inside make distcheck, which tests the installation itself"; exit 77 ;;
esac
for v in MB_INSTALL_PREFIX MB_INSTALL_BINDIR MB_INSTALL_SBINDIR MB_INSTALL_LIBDIR MB_INSTALL_INCLUDEDIR \
	MB_INSTALL_MANDIR MB_INSTALL_DOCDIR MB_CC; do
	eval "val=\${$v:-}"
	[ -n "$val" ] || { echo "SKIP: $v is not set: run this through make check"; exit 77; }
done
for tool in pkg-config nm readelf; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 77; }
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/mb-test-install.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM HUP
dest=$dir/root

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }

# The parent's MAKEFLAGS (jobserver, TESTS=...) are not for this make.
if ! MAKEFLAGS= MFLAGS= ${MB_MAKE:-make} -C "$builddir" install DESTDIR="$dest" >"$dir/install.log" 2>&1; then
	echo "FAIL: make install DESTDIR=$dest"
	tail -n 30 "$dir/install.log"
	exit 1
fi

bindir=$dest$MB_INSTALL_BINDIR
sbindir=$dest$MB_INSTALL_SBINDIR
libdir=$dest$MB_INSTALL_LIBDIR
incdir=$dest$MB_INSTALL_INCLUDEDIR
mandir=$dest$MB_INSTALL_MANDIR
docdir=$dest$MB_INSTALL_DOCDIR
public_headers="client.h dataset.h diag.h mb_proto.h model.h sample.h snapshot.h"

missing=
for f in "$sbindir/minibatchd" "$bindir/minibatchctl"; do
	[ -x "$f" ] || missing="$missing $f"
done
for f in "$libdir/libminibatch.so" "$libdir/libminibatch.so.0" "$libdir/pkgconfig/libminibatch.pc" \
	"$docdir/minibatch-proto.md" "$docdir/examples/minibatchd.conf" \
	"$docdir/examples/produce.c" "$docdir/examples/subscribe.c" "$docdir/examples/predict.c" \
	"$docdir/examples/control.c"; do
	[ -f "$f" ] || missing="$missing $f"
done
for h in $public_headers; do
	[ -f "$incdir/minibatchd/$h" ] || missing="$missing $incdir/minibatchd/$h"
done
for page in ${top_srcdir:-.}/man/*.[1-8]; do
	name=$(basename "$page")
	[ -f "$mandir/man${name##*.}/$name" ] || missing="$missing $mandir/man${name##*.}/$name"
done
[ -n "$(find "$dest" -name minibatchd.service -path '*/systemd/system/*')" ] ||
	missing="$missing .../systemd/system/minibatchd.service"
extra=$(cd "$incdir/minibatchd" && ls | grep -v -x -F "$(echo "$public_headers" | tr ' ' '\n')")
if [ -z "$missing" ] && [ -z "$extra" ]; then
	pass "install/files"
else
	fail "install/files: missing:${missing:- none}; headers that are not public: ${extra:-none}"
fi

# A link page is one .so line: read from the man tree, it must be a page
# whose NAME section lists the link's name.
if command -v mandoc >/dev/null 2>&1 && command -v col >/dev/null 2>&1; then
	bad=
	for f in "$mandir"/man3/mb_*.3; do
		name=$(basename "$f" .3)
		names=$(cd "$mandir" && mandoc -T ascii "man3/$name.3" 2>/dev/null | col -bx |
			sed -n '/^NAME/,/^[A-Z]/p' | tr -s ' \n,' '   ')
		case " $names " in
		*" $name "*) ;;
		*) bad="$bad $name" ;;
		esac
	done
	if [ -z "$bad" ]; then
		pass "install/man-links"
	else
		fail "install/man-links: no page names:$bad"
	fi
else
	echo "SKIP: install/man-links: mandoc or col is not installed"
fi

# shellcheck disable=SC2086 # MB_SAN_CFLAGS is a list of flags
cflags="-std=c11 -Wall -Wextra -Werror ${MB_SAN_CFLAGS:-}"
bad=
for h in $public_headers; do
	printf '#include <minibatchd/%s>\n' "$h" >"$dir/h.c"
	$MB_CC $cflags -I"$incdir" -c "$dir/h.c" -o "$dir/h.o" 2>"$dir/h.err" || {
		bad="$bad $h"
		sed 's/^/  /' "$dir/h.err"
	}
done
if [ -z "$bad" ]; then
	pass "install/headers"
else
	fail "install/headers: do not compile alone:$bad"
fi

export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_SYSROOT_DIR="$dest"
if flags=$(pkg-config --cflags --libs libminibatch) &&
	$MB_CC $cflags "$docdir/examples/subscribe.c" $flags -o "$dir/subscribe" 2>"$dir/cc.err" &&
	LD_LIBRARY_PATH="$libdir" "$dir/subscribe" --help >"$dir/out" 2>&1 &&
	grep -q '^usage: subscribe' "$dir/out"; then
	# And it works: with no daemon at the endpoint, it says so after the wait.
	LD_LIBRARY_PATH="$libdir" "$dir/subscribe" -n 1 -t 0.2 "ipc://$dir/nobody" >"$dir/out" 2>&1
	status=$?
	if [ "$status" -eq 2 ] && grep -q 'no snapshot from' "$dir/out"; then
		pass "install/pkgconfig"
	else
		fail "install/pkgconfig: subscribe with no daemon exited $status"
		sed 's/^/  /' "$dir/out"
	fi
else
	fail "install/pkgconfig: building examples/subscribe.c against $dest with: ${flags:-pkg-config failed}"
	sed 's/^/  /' "$dir/cc.err" "$dir/out" 2>/dev/null
fi

# The library's dynamic symbols (versions stripped), and the functions the
# installed headers declare (struct and enum tags are not functions).
lib=$libdir/libminibatch.so
nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$dir/exported"
foreign=$(grep -v '^mb_' "$dir/exported" | tr '\n' ' ')
for h in $public_headers; do printf '#include <minibatchd/%s>\n' "$h"; done >"$dir/all.c"
$MB_CC -E -P -I"$incdir" "$dir/all.c" | sed -e 's/\(struct\|enum\) mb_[a-z0-9_]*//g' |
	grep -o 'mb_[a-z0-9_]* *(' | tr -d ' (' | sort -u >"$dir/declared"
readelf --dyn-syms -W "$lib" | sed -n 's/.* \(mb_[a-z0-9_]*\)@@\{0,1\}LIBMINIBATCH_0$/\1/p' | sort -u >"$dir/public"
unversioned=$(comm -23 "$dir/declared" "$dir/public" | tr '\n' ' ')
if [ -s "$dir/exported" ] && [ -s "$dir/declared" ] && [ -z "$foreign" ] && [ -z "$unversioned" ]; then
	pass "install/exports"
else
	fail "install/exports: not mb_*: ${foreign:-none}; declared in an installed header but not exported" \
		"as LIBMINIBATCH_0 (add them to lib/libminibatch.sym): ${unversioned:-none}"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
