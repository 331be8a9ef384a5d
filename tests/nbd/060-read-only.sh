#!/bin/bash
# A read-only export (nbdkit -r) makes a read-only device: reads work, writes
# are refused, no discard/write-zeroes advertised. --read-only does the same for
# a writable export.
# kernels: first
. "$(dirname "$0")/lib.bash"

sock=$(nbd_sock ro)
nbd_start ro -r -U "$sock" pattern 64M
nbd_add --uri "nbd+unix:///?socket=$sock"
[ "$(cat /sys/block/ublkb$ID/ro)" = 1 ] || fail "device from nbdkit -r is not read-only"
[ "$(jq -r '.[0].read_only' <<<"$(ublk list -n "$ID" --json)")" = true ] ||
	fail "ublk list does not say read-only"
[ "$(qattr discard_max_bytes)" = 0 ] || fail "discard advertised on a read-only export"
# The pattern plugin: every 8 bytes hold their own offset, big endian.
got=$(dd if="$DEV" bs=4k skip=1 count=1 iflag=direct status=none | od -An -tx1 -j8 -N8 | tr -d ' \n')
[ "$got" = 0000000000001008 ] || fail "read from the pattern export is wrong: $got at 4104"
if dd if=/dev/zero of="$DEV" bs=4k count=1 oflag=direct status=none 2>"$TMPDIR/err"; then
	fail "write to a read-only export succeeded"
fi
echo "nbdkit -r: read-only device, write refused ($(cat "$TMPDIR/err")): ok"
nbd_del

sock=$(nbd_sock rw)
nbd_start rw -U "$sock" memory 64M
nbd_add --uri "nbd+unix:///?socket=$sock" --read-only
[ "$(cat /sys/block/ublkb$ID/ro)" = 1 ] || fail "--read-only device is writable"
if dd if=/dev/zero of="$DEV" bs=4k count=1 oflag=direct status=none 2>/dev/null; then
	fail "write to a --read-only device succeeded"
fi
echo "--read-only: ok"
