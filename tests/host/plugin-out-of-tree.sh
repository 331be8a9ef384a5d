#!/usr/bin/env bash
# A target built out of tree, as ublkd-target(3) tells, against the installed
# tree: the page's EXAMPLE is tests/host/example-target.c (checked here);
# `make install DESTDIR=...` of the build tree leaves the source tree alone;
# the example builds with the installed ublkd.pc (with both of the page's
# command lines) and the installed ublkd loads it by path and, installed in
# the plugin directory, by name (`ublkd -t T --help` needs no ublk kernel);
# the installed ublk finds the installed ublkd; and ublkd.pc's plugindir is
# where ublkd looks for plugins.
# timeout: 600
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_cmd cc make pkg-config perl

src=$UBLKD_SRCDIR
build=$UBLKD_BUILDDIR
page=$src/man/ublkd-target.3
example=$src/tests/host/example-target.c
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ublkd-oot.XXXXXX")
cleanup rm -rf "$tmp"

# ---- The page's example is example-target.c.  In the page it sits between
# '.\" BEGIN example-target.c' and '.\" END example-target.c', in .EX/.EE,
# escaped for roff: \- for -, \e for \, \(aq for ', \& before a leading dot.
sed -n '/^\.\\" BEGIN example-target\.c/,/^\.\\" END example-target\.c/p' "$page" |
	grep -v '^\.' |
	perl -pe 's/\\(\(aq|\(ga|\(ti|\(ha|-|&|e)/{"(aq"=>"\x27","(ga"=>"`","(ti"=>"~","(ha"=>"^","-"=>"-","&"=>"","e"=>"\\"}->{$1}/ge' \
		>"$tmp/mytarget.c"
[ -s "$tmp/mytarget.c" ] || fail "no example between the BEGIN/END example-target.c marks of $page"
diff -u "$example" "$tmp/mytarget.c" ||
	fail "the EXAMPLE of man/ublkd-target.3 differs from tests/host/example-target.c (diff above)"
echo "ok: the page's example is tests/host/example-target.c"

# ---- Install the build tree into a DESTDIR.
marker=$tmp/marker
touch "$marker"
sleep 1	# so that anything written after the marker is newer than it
dest=$tmp/root
# Not the jobserver of a `make check` that runs us.
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$build" install DESTDIR="$dest" \
	>"$tmp/install.log" 2>&1; then
	tail -n 30 "$tmp/install.log"
	fail "make install DESTDIR=$dest failed (log above)"
fi
echo "ok: make install DESTDIR=..."

# ... without touching the source tree: no regenerated autotools files, and
# (for a build tree of its own) no build products in the source tree.
src_abs=$(cd "$src" && pwd -P)
build_abs=$(cd "$build" && pwd -P)
if [ "$src_abs" = "$build_abs" ]; then
	products=()
else
	products=(-o -name '*.o' -o -name '*.lo' -o -name '*.la' -o -name '*.so' -o -name '.libs')
fi
touched=$(find "$src_abs" \( -path "$build_abs" -o -path "$src_abs/.git" -o -path "$src_abs/tests/out" \) -prune -o \
	-newer "$marker" \( -name Makefile.in -o -name configure -o -name aclocal.m4 \
	-o -name config.h.in "${products[@]}" \) -print)
[ -z "$touched" ] || fail "make install wrote into the source tree: $touched"
echo "ok: the source tree was left alone"

pc=$(find "$dest" -name ublkd.pc | head -n1)
[ -n "$pc" ] || fail "make install installed no ublkd.pc"
ublkd=$(find "$dest" -type f -name ublkd -perm -u+x | head -n1)
ublk=$(find "$dest" -type f -name ublk -perm -u+x | head -n1)
if [ -z "$ublkd" ] || [ -z "$ublk" ]; then
	fail "make install installed no ublkd or ublk"
fi
export PKG_CONFIG_PATH=${pc%/*}${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}

# ---- pkg-config from the DESTDIR: the .pc says prefix=/usr/local (or the
# configured prefix), so let pkg-config put the DESTDIR in front: either by
# guessing the prefix from the .pc's place, or with a sysroot.
cflags=$(pkg-config --define-prefix --cflags ublkd 2>/dev/null) || cflags=
if [[ $cflags == *"$dest"* ]]; then
	how=--define-prefix
	pkgconf() { pkg-config --define-prefix "$@"; }
	plugindir=$(pkgconf --variable=plugindir ublkd)
else
	how=PKG_CONFIG_SYSROOT_DIR
	pkgconf() { PKG_CONFIG_SYSROOT_DIR=$dest pkg-config "$@"; }
	plugindir=$dest$(pkg-config --variable=plugindir ublkd)
fi
cflags=$(pkgconf --cflags ublkd) || fail "pkg-config --cflags ublkd failed"
libs=$(pkgconf --libs ublkd) || fail "pkg-config --libs ublkd failed"
echo "pkg-config ($how): --cflags $cflags; --libs $libs; plugindir $plugindir"
[[ $cflags == *"-I$dest"* ]] || fail "pkg-config --cflags ublkd does not point into $dest: $cflags"
[ -d "$plugindir" ] || fail "plugindir $plugindir was not installed"

# ---- Build the example as the page says, both ways.
cd "$tmp"
# shellcheck disable=SC2086 # flags
cc -shared -fPIC -Wall -Wextra -Wno-unused-parameter -Werror $cflags \
	-o mytarget.so mytarget.c || fail "cc -shared -fPIC \$(pkg-config --cflags ublkd) failed"
# shellcheck disable=SC2086 # flags
cc -Wall $cflags $libs -o mytarget2.so mytarget.c ||
	fail "cc \$(pkg-config --cflags --libs ublkd) failed"
echo "ok: the example builds against the installed header"
# shellcheck disable=SC2086 # flags
grep -q "$dest" <<<"$(cc -M $cflags mytarget.c)" ||
	fail "the example was not built with the installed <ublkd/target.h>"

# ---- The installed ublkd loads it, by path ...
check_loads() { # WHAT COMMAND...
	local what=$1 out
	shift
	out=$("$@" 2>&1) || fail "$what: '$*' failed: $out"
	if ! grep -q '^Target mytarget: a disk over a regular file' <<<"$out" ||
		! grep -Eq '^ +-f, --file PATH +the backing file \(required\)$' <<<"$out" ||
		! grep -q '^Zero copy (--zero-copy): supported$' <<<"$out"; then
		fail "$what: '$*' did not show the target's options: $out"
	fi
	echo "ok: $what"
}
env -u UBLKD_PLUGIN_DIR "$ublkd" --version | grep -q "(target API 1)" ||
	fail "the installed ublkd does not speak target API 1: $("$ublkd" --version)"
check_loads "ublkd -t ./mytarget.so" env -u UBLKD_PLUGIN_DIR "$ublkd" -t ./mytarget.so --help
check_loads "ublkd -t PATH (--libs build)" env -u UBLKD_PLUGIN_DIR "$ublkd" -t "$tmp/mytarget2.so" --help
# ... through the installed ublk, which finds the ublkd next to it ...
check_loads "ublk help -t PATH" env -u UBLKD_PATH -u UBLKD_PLUGIN_DIR "$ublk" help -t "$tmp/mytarget.so"
# ... and by name from the plugin directory, next to the shipped targets.
install -m 644 mytarget.so "$plugindir/"
check_loads "ublkd -t mytarget (plugindir)" env UBLKD_PLUGIN_DIR="$plugindir" "$ublkd" -t mytarget --help
for t in null loop nbd; do
	UBLKD_PLUGIN_DIR=$plugindir "$ublkd" -t $t --help | grep "^Target $t:" >/dev/null ||
		fail "the installed $t target does not load from $plugindir"
done
echo "ok: the installed null, loop and nbd load from the plugin directory"

# ---- ublkd.pc's plugindir is where ublkd looks (the DESTDIR aside): asked
# for a target that is not there, ublkd names the directory it looked in.
want=$(pkg-config --variable=plugindir ublkd)
out=$(env -u UBLKD_PLUGIN_DIR "$ublkd" -t no-such-target --help 2>&1 >/dev/null) || true
[[ $out == *"no no-such-target.so in $want "* ]] ||
	fail "ublkd looks for plugins elsewhere than ublkd.pc's plugindir ($want): $out"
echo "ok: ublkd looks for plugins in ublkd.pc's plugindir ($want)"
