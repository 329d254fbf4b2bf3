#!/bin/sh
# SPDX-License-Identifier: MIT
# test_man.sh - the manual pages are clean mdoc and say what the programs and
# headers they describe do:
#   lint/PAGE          `mandoc -T lint -W warning` is silent (levels warning,
#                      error and unsupported fail; style messages are allowed)
#   links/PAGE         each .so page points to a page that documents its name
#   api/FUNCTION       every function of lib/client.h has a page of its name
#   conf/keys          minibatchd.conf(5) and examples/minibatchd.conf are what
#                      `minibatchd --help-config` makes of them (no key missing,
#                      none extra, same defaults, ranges and help)
#   conf/example-parses  minibatchd takes examples/minibatchd.conf as it is
#   minibatchd/OPTION  every option of `minibatchd --help` is in minibatchd(8)
#   minibatchctl/CMD   every command of `minibatchctl --help` has its part of
#                      minibatchctl(1), which names each option of `CMD --help`
#   proto/limits       minibatch-proto(7) gives the limits mb_proto.h defines

set -u

srcdir=${top_srcdir:-.}
builddir=${top_builddir:-.}
man=$srcdir/man
command -v mandoc >/dev/null 2>&1 || { echo "SKIP: mandoc is not installed (apt-get install mandoc)"; exit 77; }
command -v col >/dev/null 2>&1 || { echo "SKIP: col is not installed (apt-get install bsdextrautils)"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/mb-test-man.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM HUP

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }

# A page as plain text, for looking up what a reader sees.
render() { mandoc -T ascii "$1" | col -bx; }

# The pages: the .so ones are links, the others real pages.
pages=
links=
for f in "$man"/*.[1-8]; do
	if head -n 1 "$f" | grep -q '^\.so '; then
		links="$links $f"
	else
		pages="$pages $f"
	fi
done

for f in $pages; do
	name=$(basename "$f")
	if mandoc -T lint -W warning "$f" >"$dir/lint" 2>&1 && [ ! -s "$dir/lint" ]; then
		pass "lint/$name"
	else
		fail "lint/$name"
		sed 's/^/  /' "$dir/lint"
	fi
done

for f in $links; do
	name=$(basename "$f" .3)
	target=$(sed -n '1s|^\.so man3/||p' "$f")
	if [ -f "$man/$target" ] && grep -q "^\.Nm $name\( ,\)\{0,1\}$" "$man/$target" &&
		[ "$(wc -l <"$f")" -eq 1 ]; then
		pass "links/$name"
	else
		fail "links/$name: $(cat "$f") is not a page whose NAME lists $name"
	fi
done

# Function names declared in client.h (not struct or enum tags, not comments).
functions=$(sed -e 's|/\*.*\*/||' -e '/\/\*/,/\*\//d' "$srcdir/lib/client.h" |
	sed -e 's/\(struct\|enum\) mb_[a-z0-9_]*//g' | grep -o 'mb_[a-z0-9_]*(' | tr -d '(' | sort -u)
[ -n "$functions" ] || fail "api: no function found in lib/client.h"
for fn in $functions; do
	if [ -f "$man/$fn.3" ]; then
		pass "api/$fn"
	else
		fail "api/$fn: no page man/$fn.3"
	fi
done

daemon=$builddir/daemon/minibatchd
ctl=$builddir/tools/minibatchctl

if [ ! -x "$daemon" ]; then
	echo "SKIP: conf/keys and minibatchd/*: $daemon is not built"
elif ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP: conf/keys: python3 is not installed"
else
	if "$daemon" --help-config >"$dir/keys" &&
		python3 "$man/config-doc.py" --check --man "$man/minibatchd.conf.5" \
			--conf "$srcdir/examples/minibatchd.conf" <"$dir/keys" >"$dir/drift"; then
		pass "conf/keys"
	else
		fail "conf/keys: the key table changed: run 'make update-config-docs' and read the diff"
		sed 's/^/  /' "$dir/drift"
	fi
	if "$daemon" --check-config -c "$srcdir/examples/minibatchd.conf" >/dev/null 2>"$dir/err"; then
		pass "conf/example-parses"
	else
		fail "conf/example-parses: minibatchd refuses examples/minibatchd.conf"
		sed 's/^/  /' "$dir/err"
	fi
fi

if [ -x "$daemon" ]; then
	render "$man/minibatchd.8" >"$dir/minibatchd.txt"
	"$daemon" --help >"$dir/help"
	for opt in $(grep -o -- '\(^\|[ ,]\)--\{0,1\}-[a-zA-Z][a-z-]*' "$dir/help" | tr -d ' ,' | sort -u); do
		if grep -q -- "$opt\([^a-z-]\|$\)" "$dir/minibatchd.txt"; then
			pass "minibatchd/$opt"
		else
			fail "minibatchd/$opt: in --help, not in minibatchd(8)"
		fi
	done
fi

# The text of one command's part of minibatchctl(1): from its subsection
# title (three spaces in, naming the command) to the next title.
command_part() {
	awk -v cmd="$1" '
		/^[A-Z]/ { inside = 0 }
		/^   [^ ]/ {
			inside = 0
			n = split($0, w, /[ ,]+/)
			for (i = 1; i <= n; i++) if (w[i] == cmd) inside = 1
		}
		inside' "$dir/minibatchctl.txt"
}

if [ ! -x "$ctl" ]; then
	echo "SKIP: minibatchctl/*: $ctl is not built"
else
	render "$man/minibatchctl.1" >"$dir/minibatchctl.txt"
	sed -n '/^GLOBAL OPTIONS/,/^COMMANDS/p' "$dir/minibatchctl.txt" >"$dir/global.txt"
	"$ctl" --help >"$dir/help"
	# The first word of each line under "Commands:", and the second of
	# "pause, resume", which share a line.
	commands=$(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z]*\).*/\1/p' "$dir/help" | tr '\n' ' ')
	commands="$commands $(sed -n '/^Commands:/,/^$/s/^  [a-z]*, \([a-z][a-z]*\) .*/\1/p' "$dir/help")"
	[ -n "$commands" ] || fail "minibatchctl: no command found in --help"
	for cmd in $commands; do
		command_part "$cmd" >"$dir/part"
		if [ ! -s "$dir/part" ]; then
			fail "minibatchctl/$cmd: no part of minibatchctl(1) describes it"
			continue
		fi
		missing=
		"$ctl" "$cmd" --help >"$dir/cmdhelp" 2>&1
		for opt in $(grep -o -- '--[a-z][a-z-]*' "$dir/cmdhelp" | sort -u); do
			grep -q -- "$opt\([^a-z-]\|$\)" "$dir/part" ||
				grep -q -- "$opt\([^a-z-]\|$\)" "$dir/global.txt" || missing="$missing $opt"
		done
		if [ -z "$missing" ]; then
			pass "minibatchctl/$cmd"
		else
			fail "minibatchctl/$cmd: options not in minibatchctl(1):$missing"
		fi
	done
	for opt in $(sed -n '/^Global options/,/^$/p' "$dir/help" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "$opt\([^a-z-]\|$\)" "$dir/global.txt" || fail "minibatchctl/global: $opt is not in GLOBAL OPTIONS"
	done
fi

# Every MB_MAX_* of mb_proto.h, with its value, in minibatch-proto(7).
render "$man/minibatch-proto.7" >"$dir/proto.txt"
missing=
while read -r name value; do
	grep -q "^ *$name  *$value " "$dir/proto.txt" || missing="$missing $name=$value"
done <<EOF
$(sed -n 's/^#define \(MB_MAX_[A-Z_]*\) *(\{0,1\}\([0-9]*\)u\{0,1\}\( << \([0-9]*\)\)\{0,1\})\{0,1\}.*/\1 \2 \4/p' \
	"$srcdir/proto/mb_proto.h" | awk '{ v = $2; for (i = 0; i < ($3 == "" ? 0 : $3); i++) v *= 2; printf "%s %d\n", $1, v }')
EOF
if [ -z "$missing" ]; then
	pass "proto/limits"
else
	fail "proto/limits: minibatch-proto(7) lacks or misstates:$missing"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
