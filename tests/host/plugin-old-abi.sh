#!/usr/bin/env bash
# The plugin ABI grows at its end: a target built against API 1's first
# <ublkd/target.h> (smaller struct ublkd_target_ops, five-member options;
# tests/host/old-abi-target.c) still loads: its options are read with its
# own stride (help lists all three, each parses, a bad value is refused by
# its config()), and what it lacks reads as absent (no check(), options
# untyped).  A struct_size larger than ublkd's, or smaller than API 1's, is
# refused.  Needs no ublk kernel.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_cmd cc

ublkd=$UBLKD_BUILDDIR/ublkd/ublkd
src=$UBLKD_SRCDIR/tests/host/old-abi-target.c
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ublkd-oldabi.XXXXXX")
cleanup rm -rf "$tmp"
for v in old:0 big:4096 tiny:16; do
	name=${v%%:*} pad=${v#*:}
	flags=()
	[ "$pad" = 0 ] || flags=(-DOPS_SIZE="$pad")
	cc -shared -fPIC -Wall -Wextra -Werror -I"$UBLKD_SRCDIR/include" "${flags[@]}" \
		-o "$tmp/$name.so" "$src" || fail "cc $src failed"
done

out=$("$ublkd" -t "$tmp/old.so" --help) || fail "ublkd --help with the old plugin failed: $out"
grep -Eq '^ +-a, --alpha A +the first option$' <<<"$out" || fail "no --alpha in: $out"
grep -Eq '^ +--beta +the second option, a switch$' <<<"$out" || fail "no --beta in: $out"
grep -Eq '^ +--gamma-ray G +the third option$' <<<"$out" || fail "no --gamma-ray in: $out"
out=$("$ublkd" -t "$tmp/old.so" -a 1 --beta --gamma_ray 'x y' --check) || fail "--check failed: $out"
[ "$out" = "ublkd -t $tmp/old.so -q $(n=$(nproc); echo $((n > 4 ? 4 : n))) -d 128 --recovery reissue --alpha 1 --beta --gamma-ray 'x y'" ] ||
	fail "--check of the old plugin printed: $out"
expect_fail 78 "old: --alpha bad is refused" "$ublkd" -t "$tmp/old.so" --alpha bad --check
echo "ok: a plugin with API 1's first, smaller structures loads; its options work"

expect_fail 1 "has a struct ublkd_target_ops of 4096 bytes, this ublkd knows [0-9]+ to [0-9]+: rebuild the plugin" \
	"$ublkd" -t "$tmp/big.so" --help
expect_fail 1 "has a struct ublkd_target_ops of 16 bytes" "$ublkd" -t "$tmp/tiny.so" --help
echo "ok: a struct_size above ublkd's or below API 1's is refused"
