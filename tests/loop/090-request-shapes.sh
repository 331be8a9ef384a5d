#!/bin/bash
# timeout: 600
# Request shapes that stress the data path, in every copy mode the kernel
# offers (fio write-then-verify, crc32c):
#  - unaligned: lengths in 512-byte steps (1536, 4608, ...) at 512-byte
#    aligned device offsets, from user buffers that start 512 and 3584 bytes
#    into a page, so a request's pages begin mid-page and end mid-page;
#  - max-size: 1 MiB requests with --max-io 1M, checked in the device's own
#    statistics to reach the target whole;
#  - discard, flush and FUA mixed with verified data: trim-then-write at
#    random offsets, writes with an fsync every 4, O_DSYNC writes beside them, and a
#    region discarded meanwhile that must read back as zeroes;
# and the daemon's copied-bytes counter: 0 under zero copy, the data volume
# otherwise.
. "$(dirname "$0")/lib.bash"
need fio jq cmp

MiB=$((1 << 20))
copy_modes
ext4_setup 200
img=$EXT4/disk.img
configs=("-q 1" "-q 2 --buffered")

# write_stats DEV: "IOS SECTORS" written so far (/sys/block/X/stat).
write_stats() { awk '{ print $5, $7 }' "/sys/block/$(basename "$1")/stat"; }
summary_count() { grep -Eo "[0-9]+ $1" "$DEV_LOG" | tail -1 | grep -Eo '^[0-9]+'; }

i=0
for mode in "${MODES[@]}"; do
	cfg=${configs[i++ % 2]}
	rm -f "$img" && truncate -s 96M "$img"
	# shellcheck disable=SC2086 # $cfg and $mode are zero or more options
	add_dev -f "$img" --max-io 1M $cfg $mode
	what="$(mode_name "$mode"), $cfg"

	# Unaligned lengths and buffers (two jobs at once, disjoint regions).
	fio_verify "$DEV" unaligned-512 --rw=randwrite --bsrange=512-132k --blockalign=512 \
		--mem_align=512 --iodepth=16 --size=12M \
		--name=unaligned-3584 --rw=randwrite --bsrange=512-68k --blockalign=512 \
		--mem_align=3584 --iodepth=8 --size=8M --offset=12M \
		--name=unaligned-qd1 --rw=write --bsrange=512-12k --mem_align=512 \
		--iodepth=1 --size=2M --offset=20M

	# Max-size requests: 1 MiB each, page-aligned and 512 bytes off.
	read -r ios0 sec0 <<<"$(write_stats "$DEV")"
	fio_verify "$DEV" max-size --rw=write --bs=1M --iodepth=4 --size=16M --offset=24M
	read -r ios1 sec1 <<<"$(write_stats "$DEV")"
	ios=$((ios1 - ios0)) bytes=$(((sec1 - sec0) * 512))
	[ "$bytes" -ge $((16 * MiB)) ] && [ "$ios" -gt 0 ] ||
		fail "$what: the device's statistics did not see 16 MiB written ($ios ios, $bytes bytes)"
	[ $((bytes / ios)) = $MiB ] ||
		fail "$what: 1 MiB writes reached the device as $((bytes / ios)) byte requests on average"
	fio_verify "$DEV" max-size-off512 --rw=randwrite --bs=1M --mem_align=512 --iodepth=4 \
		--size=8M --offset=40M

	# Discard, flush and FUA among verified writes; 64-80 MiB is written,
	# then discarded while the other jobs run, and must read back as zeroes.
	dd if=/dev/urandom of="$DEV" bs=1M seek=64 count=16 oflag=direct status=none ||
		fail "$what: dd to $DEV failed"
	fio_verify "$DEV" trim-write --rw=randtrimwrite --bsrange=4k-64k --iodepth=8 \
		--size=4M --offset=48M \
		--name=fsync-writes --rw=randwrite --bsrange=512-64k --fsync=4 --iodepth=8 \
		--size=4M --offset=52M \
		--name=dsync-writes --rw=randwrite --bsrange=512-32k --sync=dsync --iodepth=8 \
		--size=8M --offset=56M \
		--name=discard --rw=randtrim --bs=64k --iodepth=4 --size=16M --offset=64M \
		--do_verify=0 --verify=null
	cmp -n $((16 * MiB)) -i $((64 * MiB)):0 "$DEV" /dev/zero >/dev/null ||
		fail "$what: the discarded 64-80 MiB do not read back as zeroes"

	read -r copied cmode <<<"$(ublk list -n "$DEV_ID" --json | jq -r '.[0] | "\(.bytes_copied) \(.copy_mode)"')"
	del_dev
	for op in flushes discards FUA; do
		n=$(summary_count "$op")
		[ "${n:-0}" -gt 0 ] || fail "$what: the target served no $op: $(grep served "$DEV_LOG")"
	done
	case $cmode in	# the mode in effect: "" is zero copy where the kernel has it
	zero_copy)
		[ "$copied" = 0 ] || fail "$what: the daemon copied $copied bytes under zero copy" ;;
	*)
		# At least everything written above went through daemon memory.
		[ "$copied" -ge $((60 * MiB)) ] ||
			fail "$what: only $copied bytes counted as copied" ;;
	esac
	log "ok: $what: $(grep -Eo 'served .*' "$DEV_LOG"); $copied bytes copied"
done
log "pass"
