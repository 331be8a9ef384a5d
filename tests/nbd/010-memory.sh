#!/bin/bash
# nbdkit's memory plugin, over a Unix socket (URI) and TCP (--host/--port, and
# ublksrv's --export_name spelling): the device has the export's size and
# features; fio verify at 4K, 64K and 1M with two queues (multi-conn); user copy;
# mkfs.ext4/fsck/mount; what was written reads back through nbdcopy.
. "$(dirname "$0")/lib.bash"
require_cmd fio mkfs.ext4 fsck.ext4 nbdcopy

sock=$(nbd_sock mem)
nbd_start mem -U "$sock" memory 256M

nbd_add --uri "nbd+unix:///?socket=$sock" -q 2
[ "$(cat /sys/block/ublkb$ID/size)" = $((256 << 11)) ] || fail "size is not 256 MiB"
[ "$(qattr write_cache)" = "write back" ] || fail "no volatile cache advertised (server can flush)"
[ "$(qattr fua)" = 1 ] || fail "FUA not advertised (server can fua)"
[ "$(qattr discard_max_bytes)" -gt 0 ] || fail "discard not advertised (server can trim)"
[ "$(qattr write_zeroes_max_bytes)" -gt 0 ] || fail "write-zeroes not advertised"
json=$(ublk list -n "$ID" --json)
[ "$(jq -r '.[0].queues' <<<"$json")" = 2 ] || fail "want 2 queues (memory is multi-conn): $json"
[ "$(jq -r '.[0].description' <<<"$json")" = "nbd+unix:///?socket=$sock" ] ||
	fail "description: $json"
[[ $(ublk list) == *nbd* ]] || fail "ublk list does not show the target"	# no grep -q pipe: SIGPIPE

# One fio (a program start is slow in the test VM), the three block sizes at
# once, two jobs each on disjoint regions: 0, 32, 64, ... 160 MiB.
fio_verify "$DEV" --bs=4k --size=8M --numjobs=2 --offset_increment=32M \
	--name=verify-64k --bs=64k --size=16M --numjobs=2 --offset=64M --offset_increment=32M \
	--name=verify-1m --bs=1m --size=16M --numjobs=2 --offset=128M --offset_increment=32M \
	--output=/dev/null
echo "fio verify bs=4k, 64k and 1m: ok"
# Trim and write-zeroes reach the server: zeroed range reads back as zeroes.
blkdiscard "$DEV" || fail "blkdiscard failed"
dd if=/dev/urandom of="$DEV" bs=1M count=2 oflag=direct status=none
blkdiscard -z -o 0 -l 1M "$DEV" || fail "blkdiscard -z failed"
cmp -n $((1 << 20)) "$DEV" /dev/zero || fail "write-zeroes range does not read as zeroes"

# A file system, checked, mounted, written, checked again.
mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4 failed"
fsck.ext4 -fn "$DEV" >/dev/null || fail "fsck after mkfs failed"
mnt=$(mktemp -d)
data=$(rand_file 8)
mount "$DEV" "$mnt" || fail "mount failed"
cleanup umount -l "$mnt"
cp "$data" "$mnt/data"
umount "$mnt"
fsck.ext4 -fn "$DEV" >/dev/null || fail "fsck after writing files failed"
mount -o ro "$DEV" "$mnt" || fail "mount again failed"
cmp "$data" "$mnt/data" || fail "file read back differs"
umount "$mnt"
echo "ext4: ok"

# What the device wrote is what the server holds (read through libnbd's nbdcopy).
dd if="$data" of="$DEV" bs=1M seek=100 oflag=direct status=none
nbd_del
out=$TMPDIR/out
nbdcopy "nbd+unix:///?socket=$sock" "$out" || fail "nbdcopy from the server failed"
cmp -n $((8 << 20)) -i 0:$((100 << 20)) "$data" "$out" || fail "server holds other data"
rm -f "$out"
echo "read back through nbdcopy: ok"

# TCP with ublksrv's option names; user copy.
nbd_start tcp -p 10911 -i 127.0.0.1 memory 64M
nbd_add --host 127.0.0.1 --port 10911 --export_name "" --user-copy
[ "$(jq -r '.[0].description' <<<"$(ublk list -n "$ID" --json)")" = "nbd://127.0.0.1:10911/" ] ||
	fail "description for --host: $(ublk list -n "$ID" --json)"
[ "$(jq -r '.[0].copy_mode' <<<"$(ublk list -n "$ID" --json)")" = user_copy ] ||
	fail "not in user copy mode"
fio_verify "$DEV" --bsrange=4k-1m --size=16M --output=/dev/null
echo "TCP, user copy: ok"
