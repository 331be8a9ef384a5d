#!/bin/bash
# nbdkit's file plugin over a sparse image file: fio verify at 4K and 1M, ext4,
# and the bytes written through the device are the bytes in the image file.
# kernels: first
. "$(dirname "$0")/lib.bash"
require_cmd fio mkfs.ext4 fsck.ext4

img=$(tmpfile 128M)
nbd_start file -p 10921 -i 127.0.0.1 file "$img"
nbd_add --uri nbd://127.0.0.1:10921/
[ "$(cat /sys/block/ublkb$ID/size)" = $((128 << 11)) ] || fail "size is not 128 MiB"

fio_verify "$DEV" --bs=4k --size=16M --verify_state_save=0 --output=/dev/null
fio_verify "$DEV" --bs=1m --size=64M --offset=64M --verify_state_save=0 --output=/dev/null
echo "fio verify 4k, 1m: ok"

data=$(rand_file 4)
dd if="$data" of="$DEV" bs=64k seek=$((32 << 4)) oflag=direct status=none ||
	fail "write to $DEV failed"
sync "$DEV"
cmp -n $((4 << 20)) -i 0:$((32 << 20)) "$data" "$img" || fail "the image holds other bytes"
echo "image file holds what was written: ok"

mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4 failed"
fsck.ext4 -fn "$DEV" >/dev/null 2>&1 || fail "fsck failed"
nbd_del
# The file system is in the image itself.
fsck.ext4 -fn "$img" >/dev/null 2>&1 || fail "fsck of the image file failed"
echo "ext4 in the image: ok"
