#!/bin/bash
# ublk resize on an nbd device: libnbd reads the export's size only at
# connect, so without -s it is refused (one line naming the limit), and so
# is -s past the export; a shrink needs --force and then the device can grow
# back to the export's size, with the data in place and the tail readable.
# (The refusal on kernels without UPDATE_SIZE is loop/130's.)
# kernels: first
# timeout: 120
. "$(dirname "$0")/lib.bash"
require_cmd blockdev cmp
ublk features | grep -Eq '^ +UPDATE_SIZE +yes' || skip "kernel $(uname -r) has no UPDATE_SIZE"

sock=$(nbd_sock mem)
nbd_start mem -U "$sock" memory 64M
nbd_add --uri "nbd+unix:///?socket=$sock"
data=$(rand_file 1)
dd if="$data" of="$DEV" bs=1M oflag=direct status=none || fail "write"

expect_fail 1 "^ublk: nbd: the export's size is read once, at connect .*: give -s SIZE, at most 67108864 bytes; for an export the server grew, delete the device and add it again$" \
	ublk resize -n "$ID"
expect_fail 1 "^ublk: nbd: -s 134217728 is larger than the export .*\\(67108864 bytes at connect\\)" \
	ublk resize -n "$ID" -s 128M
expect_fail 1 "^ublk: shrinking $DEV from 64 MiB to 32 MiB cuts off its last 32 MiB" \
	ublk resize -n "$ID" -s 32M
[ "$(blockdev --getsize64 "$DEV")" = $((64 << 20)) ] || fail "refusals changed the size"

out=$(ublk resize -n "$ID" -s 32M --force) || fail "resize -s 32M --force"
[ "$out" = "$DEV: 64 MiB -> 32 MiB" ] || fail "printed '$out'"
[ "$(blockdev --getsize64 "$DEV")" = $((32 << 20)) ] || fail "size after the shrink: $(blockdev --getsize64 "$DEV")"
ublk resize -n "$ID" -s 64M >/dev/null || fail "resize back to 64M"
[ "$(blockdev --getsize64 "$DEV")" = $((64 << 20)) ] || fail "size after growing back"
dd if="$DEV" of=/dev/null bs=1M skip=63 count=1 iflag=direct status=none || fail "the last MiB is not readable"
cmp -n $((1 << 20)) "$DEV" "$data" || fail "data at the start changed"
echo "ok: nbd shrank with --force and grew back to the export's size; -s needed, bounded by the export"
