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
# Cost: in the test VM every program start takes 0.2-0.5 s and every MiB
# through fio's crc32c is slow, so the max-size job runs alone (the device
# statistics around it count it only) and all the other jobs, on disjoint
# regions, run at once in a single fio; bash reads the statistics and the
# daemon's summary.
. "$(dirname "$0")/lib.bash"
need fio jq cmp

MiB=$((1 << 20))
copy_modes
ext4_setup 80
img=$EXT4/disk.img
configs=("-q 1" "-q 2 --buffered")

# write_stats DEV: sets ios and sec, requests and sectors written so far
# (fields 5 and 7 of /sys/block/X/stat).
write_stats() {
	local a
	read -r -a a <"/sys/block/${1##*/}/stat"
	ios=${a[4]} sec=${a[6]}
}

i=0
for mode in "${MODES[@]}"; do
	cfg=${configs[i++ % 2]}
	rm -f "$img" && truncate -s 48M "$img"
	# shellcheck disable=SC2086 # $cfg and $mode are zero or more options
	add_dev -f "$img" --max-io 1M $cfg $mode
	what="$(mode_name "$mode"), $cfg"

	# 32-40 MiB is written now, discarded below while the other jobs run,
	# and must then read back as zeroes.
	dd if=/dev/urandom of="$DEV" bs=1M seek=32 count=8 oflag=direct status=none ||
		fail "$what: dd to $DEV failed"

	# Max-size requests, alone: 1 MiB each, page-aligned.
	write_stats "$DEV"
	ios0=$ios sec0=$sec
	fio_verify "$DEV" max-size --rw=write --bs=1M --iodepth=4 --size=8M --offset=12M
	write_stats "$DEV"
	ios=$((ios - ios0)) bytes=$(((sec - sec0) * 512))
	[ "$bytes" -ge $((8 * MiB)) ] && [ "$ios" -gt 0 ] ||
		fail "$what: the device's statistics did not see 8 MiB written ($ios ios, $bytes bytes)"
	[ $((bytes / ios)) = $MiB ] ||
		fail "$what: 1 MiB writes reached the device as $((bytes / ios)) byte requests on average"

	# All at once, disjoint regions: unaligned lengths and buffers (0-11
	# MiB); max-size 512 bytes off a page (20-24); discard, flush and FUA
	# among verified writes (24-32); the discard of 32-40.
	fio_verify "$DEV" unaligned-512 --rw=randwrite --bsrange=512-132k --blockalign=512 \
		--mem_align=512 --iodepth=16 --size=6M \
		--name=unaligned-3584 --rw=randwrite --bsrange=512-68k --blockalign=512 \
		--mem_align=3584 --iodepth=8 --size=4M --offset=6M \
		--name=unaligned-qd1 --rw=write --bsrange=512-12k --mem_align=512 \
		--iodepth=1 --size=1M --offset=10M \
		--name=max-size-off512 --rw=randwrite --bs=1M --mem_align=512 --iodepth=4 \
		--size=4M --offset=20M \
		--name=trim-write --rw=randtrimwrite --bsrange=4k-64k --iodepth=8 \
		--size=2M --offset=24M \
		--name=fsync-writes --rw=randwrite --bsrange=512-64k --fsync=4 --iodepth=8 \
		--size=2M --offset=26M \
		--name=dsync-writes --rw=randwrite --bsrange=512-32k --sync=dsync --iodepth=8 \
		--size=4M --offset=28M \
		--name=discard --rw=randtrim --bs=64k --iodepth=4 --size=8M --offset=32M \
		--do_verify=0 --verify=null
	cmp -n $((8 * MiB)) -i $((32 * MiB)):0 "$DEV" /dev/zero >/dev/null ||
		fail "$what: the discarded 32-40 MiB do not read back as zeroes"

	read -r copied cmode <<<"$(ublk list -n "$DEV_ID" --json | jq -r '.[0] | "\(.bytes_copied) \(.copy_mode)"')"
	del_dev
	# The daemon's last "served ..." summary, read with builtins.
	served=
	while IFS= read -r line; do
		[[ $line =~ served\ .* ]] && served=${BASH_REMATCH[0]}
	done <"$DEV_LOG"
	for op in flushes discards FUA; do
		n=0
		[[ $served =~ ([0-9]+)\ $op ]] && n=${BASH_REMATCH[1]}
		[ "$n" -gt 0 ] || fail "$what: the target served no $op: $served"
	done
	case $cmode in	# the mode in effect: "" is zero copy where the kernel has it
	zero_copy)
		[ "$copied" = 0 ] || fail "$what: the daemon copied $copied bytes under zero copy" ;;
	*)
		# At least everything fio wrote above (31 MiB) went through daemon memory.
		[ "$copied" -ge $((30 * MiB)) ] ||
			fail "$what: only $copied bytes counted as copied" ;;
	esac
	log "ok: $what: $served; $copied bytes copied"
done
log "pass"
