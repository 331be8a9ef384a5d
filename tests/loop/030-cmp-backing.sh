#!/bin/bash
# timeout: 600
# kernels: first
# What is written through the device is byte-identical to the backing at the
# right offset (cmp), and what the backing holds reads back through the
# device - plain, and with --offset and -s (the bytes around the window stay
# untouched).  Direct I/O on a file on ext4, buffered on tmpfs, in every copy
# mode.
. "$(dirname "$0")/lib.bash"
need cmp

copy_modes
ext4_setup 160
tmpfs_setup
MiB=$((1 << 20))
randfile "$W/r1" 4
randfile "$W/r2" 12
randfile "$W/fill" 24

# cmp_at FILE OFFSET DATA LEN: LEN bytes of FILE at OFFSET equal DATA's start.
cmp_at() {
	cmp -n "$4" -i "$2:0" "$1" "$3" >/dev/null ||
		fail "$1 at offset $2 differs from what was written ($5)"
}

# Direct I/O (ext4) in every copy mode; buffered (tmpfs) in the default one.
for dir in "$EXT4" "$TMPFS"; do
	[ "$dir" = "$EXT4" ] || MODES=("")
	for mode in "${MODES[@]}"; do
		what="$(mode_name "$mode"), backing in $dir"
		img=$dir/cmp.img

		# 1. Whole device: writes land at the same offsets in the file,
		# up to the last sector.
		rm -f "$img" && truncate -s 16M "$img"
		# shellcheck disable=SC2086
		add_dev -f "$img" -q 2 $mode
		dd if="$W/r1" of="$DEV" bs=1M oflag=direct status=none || fail "dd to $DEV failed"
		dd if="$W/r2" of="$DEV" bs=64k seek=64 oflag=direct status=none ||
			fail "dd to $DEV failed"
		dd if="$W/r1" of="$DEV" bs=512 count=3 seek=$((16 * 2048 - 3)) oflag=direct \
			status=none || fail "dd of the last sectors failed"
		del_dev
		cmp_at "$img" 0 "$W/r1" $((4 * MiB)) "$what"
		cmp_at "$img" $((4 * MiB)) "$W/r2" $((12 * MiB - 1536)) "$what"
		cmp_at "$img" $((16 * MiB - 1536)) "$W/r1" 1536 "$what, last sectors"
		[ "$(stat -c %s "$img")" = $((16 * MiB)) ] || fail "the backing changed size"

		# 2. --offset 3M -s 12M inside a 24 MiB file of known bytes: the
		# device shows exactly that window, writes land in it, nothing
		# outside changes.
		cp "$W/fill" "$img"
		# shellcheck disable=SC2086
		add_dev -f "$img" --offset 3M -s 12M -q 1 $mode
		[ "$(blockdev --getsize64 "$DEV")" = $((12 * MiB)) ] ||
			fail "--offset 3M -s 12M: device size $(blockdev --getsize64 "$DEV")"
		cmp -n $((12 * MiB)) -i "0:$((3 * MiB))" "$DEV" "$W/fill" >/dev/null ||
			fail "reading through --offset 3M does not show the backing ($what)"
		dd if="$W/r2" of="$DEV" bs=1M oflag=direct status=none || fail "dd to $DEV failed"
		del_dev
		cmp_at "$img" $((3 * MiB)) "$W/r2" $((12 * MiB)) "$what, --offset 3M"
		cmp -n $((3 * MiB)) "$img" "$W/fill" >/dev/null ||
			fail "bytes before --offset changed ($what)"
		cmp -i $((15 * MiB)) "$img" "$W/fill" >/dev/null ||
			fail "bytes after the -s window changed ($what)"

		# 3. --offset without -s: the device runs to the end of the file.
		# shellcheck disable=SC2086
		add_dev -f "$img" --offset 23M $mode
		[ "$(blockdev --getsize64 "$DEV")" = $MiB ] ||
			fail "--offset 23M of 24M: device size $(blockdev --getsize64 "$DEV")"
		dd if="$W/r1" of="$DEV" bs=4k count=256 oflag=direct status=none conv=fsync || fail "dd failed"
		del_dev
		cmp_at "$img" $((23 * MiB)) "$W/r1" $MiB "$what, --offset 23M"
		log "ok: $what"
	done
done
log "pass"
