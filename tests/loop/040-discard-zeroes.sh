#!/bin/bash
# timeout: 400
# Discard really punches holes in a backing file (its allocated blocks
# shrink) and reads back as zeroes; write-zeroes reads back as zeroes, with
# unmapping allowed (fallocate -p on the device: blocks freed) and with
# NOUNMAP (blkdiscard -z / fallocate -z: blocks stay allocated).  Backings: a
# file on ext4, a file on tmpfs (no ZERO_RANGE: punch + allocate), brd; a
# backing that cannot punch holes (ramfs) offers neither.
. "$(dirname "$0")/lib.bash"
need blkdiscard fallocate cmp

MiB=$((1 << 20))
ext4_setup 160
tmpfs_setup
randfile "$W/r" 32

alloc_mib() { echo $(($(stat -c '%b * %B' "$1") / MiB)); }
zeroes_at() { # DEV OFFSET_MIB LEN_MIB
	cmp -n $(($3 * MiB)) -i "$(($2 * MiB)):0" "$1" /dev/zero >/dev/null ||
		fail "$1: $3 MiB at $2 MiB do not read back as zeroes ($what)"
}
data_at() { # DEV OFFSET_MIB LEN_MIB: still the random data
	cmp -n $(($3 * MiB)) -i "$(($2 * MiB)):$(($2 * MiB))" "$1" "$W/r" >/dev/null ||
		fail "$1: data at $2 MiB changed ($what)"
}

for dir in "$EXT4" "$TMPFS"; do
	what="file in $dir ($(stat -f -c %T "$dir"))"
	img=$dir/d.img
	rm -f "$img" && truncate -s 32M "$img"
	add_dev -f "$img"
	[ "$(cat /sys/block/ublkb"$DEV_ID"/queue/discard_max_bytes)" != 0 ] ||
		fail "discard is not offered on $what"
	[ "$(cat /sys/block/ublkb"$DEV_ID"/queue/write_zeroes_max_bytes)" != 0 ] ||
		fail "write-zeroes is not offered on $what"
	dd if="$W/r" of="$DEV" bs=1M oflag=direct status=none || fail "dd failed"
	a0=$(alloc_mib "$img")
	[ "$a0" -ge 31 ] || fail "only $a0 MiB of $img allocated after writing 32 MiB"

	# Discard: 0-8 MiB.  Blocks freed, zeroes read back.
	blkdiscard -o 0 -l $((8 * MiB)) "$DEV" || fail "blkdiscard failed ($what)"
	a1=$(alloc_mib "$img")
	[ "$a1" -le $((a0 - 7)) ] || fail "discard of 8 MiB: allocation $a0 -> $a1 MiB ($what)"
	zeroes_at "$DEV" 0 8

	# Write-zeroes with NOUNMAP (BLKZEROOUT): zeroes, blocks stay allocated.
	blkdiscard -z -o $((8 * MiB)) -l $((8 * MiB)) "$DEV" || fail "blkdiscard -z failed ($what)"
	a2=$(alloc_mib "$img")
	[ "$a2" -ge $((a1 - 1)) ] || fail "write-zeroes NOUNMAP freed blocks: $a1 -> $a2 MiB ($what)"
	zeroes_at "$DEV" 8 8
	fallocate -z -o $((16 * MiB)) -l $((4 * MiB)) "$DEV" || fail "fallocate -z failed ($what)"
	zeroes_at "$DEV" 16 4

	# Write-zeroes that may unmap (fallocate -p on the block device): zeroes,
	# blocks freed.
	fallocate -p -o $((20 * MiB)) -l $((8 * MiB)) "$DEV" || fail "fallocate -p failed ($what)"
	a3=$(alloc_mib "$img")
	[ "$a3" -le $((a2 - 7)) ] || fail "write-zeroes (unmap) of 8 MiB: allocation $a2 -> $a3 MiB ($what)"
	zeroes_at "$DEV" 20 8
	data_at "$DEV" 28 4
	del_dev
	grep -Eq 'served .* [1-9][0-9]* discards, [1-9][0-9]* write-zeroes' "$DEV_LOG" ||
		fail "the exit summary does not count discards and write-zeroes: $(tail -1 "$DEV_LOG")"
	zeroes_at "$img" 0 28
	data_at "$img" 28 4
	log "ok: $what: allocation $a0 -> discard $a1 -> zero NOUNMAP $a2 -> zero unmap $a3 MiB"
done

# A block device (brd): zeroes read back after discard and write-zeroes.
modprobe -r brd 2>/dev/null	# the ext4 one is done with
umount -l "$EXT4"
brd_setup 64
what="brd"
dd if="$W/r" of=/dev/ram0 bs=1M oflag=direct status=none
add_dev -f /dev/ram0 -s 32M
[ "$(cat /sys/block/ublkb"$DEV_ID"/queue/write_zeroes_max_bytes)" != 0 ] ||
	fail "write-zeroes is not offered on brd"
blkdiscard -z -o 0 -l $((4 * MiB)) "$DEV" || fail "blkdiscard -z failed (brd)"
fallocate -p -o $((4 * MiB)) -l $((4 * MiB)) "$DEV" || fail "fallocate -p failed (brd)"
zeroes_at "$DEV" 0 8
if [ "$(cat /sys/block/ram0/queue/discard_max_bytes)" != 0 ]; then
	[ "$(cat /sys/block/ublkb"$DEV_ID"/queue/discard_max_bytes)" != 0 ] ||
		fail "brd discards but the ublk device does not offer discard"
	blkdiscard -o $((8 * MiB)) -l $((8 * MiB)) "$DEV" || fail "blkdiscard failed (brd)"
	zeroes_at "$DEV" 8 8	# brd frees the pages: they read as zeroes
	log "ok: brd discard"
else
	[ "$(cat /sys/block/ublkb"$DEV_ID"/queue/discard_max_bytes)" = 0 ] ||
		fail "brd cannot discard on $(uname -r) but the ublk device offers it"
	log "brd has no discard on $(uname -r): discard correctly not offered"
fi
data_at "$DEV" 16 16
del_dev
log "ok: brd write-zeroes"

# A backing that cannot punch holes (ramfs): neither is offered, and says so.
mkdir -p "$W/ramfs" && mount -t ramfs none "$W/ramfs" && on_exit "umount -l '$W/ramfs'"
truncate -s 8M "$W/ramfs/d.img"
add_dev -f "$W/ramfs/d.img"
[ "$(cat /sys/block/ublkb"$DEV_ID"/queue/discard_max_bytes)" = 0 ] ||
	fail "discard offered on ramfs, which cannot punch holes"
grep -q 'cannot punch holes' "$DEV_LOG" || fail "no message about ramfs's missing hole punching"
del_dev
log "pass"
