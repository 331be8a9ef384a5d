#!/usr/bin/env bash
# ublkd runs as root: it refuses a target plugin or a config file that another
# user could have written (group/other-writable file, or directory without the
# sticky bit; an explicit plugin path or a config file owned by someone else)
# and a device name that is a path, each with one line; a plugin in a sticky
# directory like /tmp is fine. No kernel needed: all before /dev/ublk-control.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

so=$UBLKD_BUILDDIR/plugins/null.so
[ -e "$so" ] || skip "no built null plugin ($so)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ublkd-trust.XXXXXX")
cleanup rm -rf "$tmp"
ublkd=$UBLKD_BUILDDIR/ublkd/ublkd
export UBLKD_PLUGIN_DIR=${UBLKD_PLUGIN_DIR:-$UBLKD_BUILDDIR/plugins}
mkdir "$tmp/d"
cp "$so" "$tmp/d/x.so"

chmod 755 "$tmp/d"
chmod 666 "$tmp/d/x.so"
expect_fail 1 "refusing target plugin $tmp/d/x.so: it is writable by others \(mode 0666\), and ublkd uses it as root: chmod go-w" \
	"$ublkd" -t "$tmp/d/x.so" --help
chmod 644 "$tmp/d/x.so"
chmod 777 "$tmp/d"
expect_fail 1 "refusing target plugin in $tmp/d: the directory is writable by others \(mode 0777\)" \
	"$ublkd" -t "$tmp/d/x.so" --help
ln -s "$tmp/d/x.so" "$tmp/link.so"
expect_fail 1 "refusing target plugin in $tmp/d: the directory is writable by others" \
	"$ublkd" -t "$tmp/link.so" --help
chmod 1777 "$tmp/d"
"$ublkd" -t "$tmp/d/x.so" --help >/dev/null || fail "a plugin in a sticky directory was refused"
echo "ok: a plugin in a sticky directory (like /tmp) loads"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chown nobody "$tmp/d/x.so"
	expect_fail 1 "refusing target plugin $tmp/d/x.so: it belongs to uid $(id -u nobody), not root" \
		"$ublkd" -t "$tmp/d/x.so" --help
fi

chmod 755 "$tmp/d"
printf 'target = "null";\n' >"$tmp/d/dev.conf"
chmod 646 "$tmp/d/dev.conf"
expect_fail 78 "refusing config file $tmp/d/dev.conf: it is writable by others \(mode 0646\)" \
	"$ublkd" --config "$tmp/d/dev.conf" --check
chmod 620 "$tmp/d/dev.conf"
expect_fail 78 "refusing config file $tmp/d/dev.conf: it is writable by its group" \
	"$ublkd" --config "$tmp/d/dev.conf" --check
chmod 644 "$tmp/d/dev.conf"
"$ublkd" --config "$tmp/d/dev.conf" --check >/dev/null || fail "a safe config file was refused"
expect_fail 1 "invalid device name '../x': a name has no '/'" "$ublkd" ../x
expect_fail 1 "invalid device name '.x'" "$ublkd" .x
echo "ok: unsafe plugins, config files and device names are refused"
