#!/bin/bash
# timeout: 400
# The backings the loop target meets, each with a short fio verify and a
# check of the I/O mode and block size it chose:
#   tmpfs file       buffered, and says so once
#   ramfs file       buffered (no O_DIRECT at all), and says so
#   ext4 image file  on the kernel loop driver: direct I/O
#   brd RAM disk     block device, direct I/O, size from BLKGETSIZE64
#   4K-sector device (kernel loop -b 4096): logical block size 4096
#   --buffered       on a direct-capable file: buffered, silently
# kernels: first
. "$(dirname "$0")/lib.bash"
need fio losetup mkfs.ext4

MiB=$((1 << 20))
quick_verify() { fio_verify "$DEV" quick --rw=randwrite --bssplit=4k/50:64k/30:256k/20 \
	--iodepth=16 --size=8M; }
lbs() { cat /sys/block/ublkb"$DEV_ID"/queue/logical_block_size; }
mode_line() { grep -E 'debug: loop: .* I/O' "$DEV_LOG" | tail -1; }
expect_mode() { # direct|buffered
	mode_line | grep -q " $1 I/O" || fail "$what: expected $1 I/O: $(mode_line)"
}

# tmpfs
what="tmpfs file"
tmpfs_setup
truncate -s 32M "$TMPFS/t.img"
add_dev -f "$TMPFS/t.img" -v
grep -c 'is on tmpfs, which has no direct I/O: using buffered I/O' "$DEV_LOG" | grep -qx 1 ||
	fail "tmpfs: no (or more than one) buffered fallback message: $(cat "$DEV_LOG")"
expect_mode buffered
quick_verify
del_dev
log "ok: $what: $(grep -m1 tmpfs "$DEV_LOG")"

# ramfs: open(O_DIRECT) is refused there.
what="ramfs file"
{ mkdir -p "$W/ramfs" && mount -t ramfs none "$W/ramfs"; } || fail "cannot mount ramfs"
on_exit "umount -l '$W/ramfs'"
truncate -s 16M "$W/ramfs/r.img"
add_dev -f "$W/ramfs/r.img" -v
grep -q 'no direct I/O: using buffered I/O' "$DEV_LOG" || fail "ramfs: no buffered fallback message"
expect_mode buffered
quick_verify
del_dev
log "ok: $what"

# An ext4 image on the kernel's loop driver, a file on it.
what="file on ext4 on a kernel loop device"
modprobe loop 2>/dev/null
truncate -s 96M "$W/ext4.img"
mkfs.ext4 -q -F "$W/ext4.img" || fail "mkfs.ext4 failed"
kl=$(losetup --find --show --direct-io=on "$W/ext4.img") || fail "losetup failed"
on_exit "losetup -d $kl"
mkdir -p "$W/e"
mount "$kl" "$W/e" || fail "cannot mount $kl"
on_exit "umount -l '$W/e'"
truncate -s 48M "$W/e/x.img"
add_dev -f "$W/e/x.img" -v -q 2
expect_mode direct
quick_verify
del_dev
add_dev -f "$W/e/x.img" -v --buffered
expect_mode buffered
grep -q 'using buffered I/O' "$DEV_LOG" && fail "--buffered should not print a fallback message"
quick_verify
del_dev
log "ok: $what (and --buffered)"

# brd: a block device with O_DIRECT; the size comes from the device.
what="brd"
brd_setup 48
add_dev -f /dev/ram0 -v
expect_mode direct
[ "$(blockdev --getsize64 "$DEV")" = $((48 * MiB)) ] || fail "brd: size $(blockdev --getsize64 "$DEV")"
quick_verify
del_dev
log "ok: $what"

# A 4K-sector block device: the ublk device takes its logical block size.
what="4K-sector block device"
truncate -s 32M "$W/k4.img"
k4=$(losetup --find --show --direct-io=on -b 4096 "$W/k4.img") || fail "losetup -b 4096 failed"
on_exit "losetup -d $k4"
[ "$(blockdev --getss "$k4")" = 4096 ] || skip "the kernel loop driver did not give 4K sectors"
add_dev -f "$k4" -v
[ "$(lbs)" = 4096 ] || fail "$what: logical block size $(lbs), expected 4096"
expect_mode direct
fio_verify "$DEV" k4 --rw=randwrite --bssplit=4k/60:64k/40 --iodepth=16 --size=8M
del_dev
log "ok: $what: logical block size 4096"
log "pass"
