#!/bin/bash
# timeout: 120
# --no-part-scan (UBLK_F_NO_AUTO_PART_SCAN): a loop device over an image with
# an MBR partition table gets /dev/ublkbNp1 without the flag, none with it
# (the device's flags, `ublk list -v` and the recovery record say so, and
# `blockdev --rereadpt` still reads the table when asked); the config key
# no_part_scan = true; is the same option.  On a kernel without the feature
# (6.12): refused with one line naming the kernel version, exit 1, no device
# and no state left.
. "$(dirname "$0")/lib.bash"
need blockdev

img=$W/parts.img
truncate -s 16M "$img"
# One MBR entry at 446: type 0x83, from sector 2048, 8192 sectors; 55 AA.
printf '\x00\x00\x00\x00\x83\x00\x00\x00\x00\x08\x00\x00\x00\x20\x00\x00' |
	dd of="$img" bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of="$img" bs=1 seek=510 conv=notrunc status=none

part() { echo "/sys/class/block/ublkb${DEV_ID}/ublkb${DEV_ID}p1"; }
wait_part() { # 1 if the partition shows within 5 s
	local i
	for ((i = 0; i < 50; i++)); do
		[ -e "$(part)" ] && return 0
		sleep 0.1
	done
	return 1
}

# Without the flag the kernel reads the table at start: every kernel.
add_dev -f "$img"
wait_part || fail "no partition ublkb${DEV_ID}p1 without --no-part-scan"
[ "$(cat "$(part)/size")" = 8192 ] || fail "ublkb${DEV_ID}p1 has $(cat "$(part)/size") sectors"
del_dev
log "ok: without --no-part-scan, ublkb${DEV_ID}p1 (8192 sectors) appears"

if ! has_feature NO_AUTO_PART_SCAN; then
	before=$(ls -A /run/ublkd 2>/dev/null)
	expect_refusal "--no-part-scan on $(uname -r)" \
		'^ublkd: --no-part-scan needs the kernel feature UBLK_F_NO_AUTO_PART_SCAN \(Linux 7\.0\+\); this kernel \(.*\) does not have it$' \
		ublk add -t loop -f "$img" --no-part-scan
	conf=$W/np.conf
	printf 'target = "loop";\nfile = "%s";\nno_part_scan = true;\n' "$img" >"$conf"
	expect_refusal "no_part_scan = true; on $(uname -r)" \
		'needs the kernel feature UBLK_F_NO_AUTO_PART_SCAN \(Linux 7\.0\+\)' \
		ublk add --config "$conf"
	[ "$(ls -A /run/ublkd 2>/dev/null)" = "$before" ] || fail "state left behind: $(ls -A /run/ublkd)"
	exit 0
fi

# With it: no partition, whatever time passes; the flag is the device's.
add_dev -f "$img" --no-part-scan
sleep 1
[ ! -e "$(part)" ] || fail "ublkb${DEV_ID}p1 appeared with --no-part-scan"
ublk list -n "$DEV_ID" -v | grep -q 'features:.* NO_AUTO_PART_SCAN' ||
	fail "ublk list -v does not show NO_AUTO_PART_SCAN: $(ublk list -n "$DEV_ID" -v)"
grep -q '^no_part_scan = true;' "/run/ublkd/$DEV_ID.conf" ||
	fail "the recovery record lacks no_part_scan: $(cat "/run/ublkd/$DEV_ID.conf")"
blockdev --rereadpt "$DEV" || fail "blockdev --rereadpt $DEV"
wait_part || fail "blockdev --rereadpt did not read the table"
del_dev
log "ok: --no-part-scan: no ublkb${DEV_ID}p1 until blockdev --rereadpt"

# The config key.
conf=$W/np.conf
printf 'target = "loop";\nfile = "%s";\nno_part_scan = true;\n' "$img" >"$conf"
ublkd --config "$conf" --check | grep -q -- ' --no-part-scan' ||
	fail "--check does not show --no-part-scan: $(ublkd --config "$conf" --check)"
dev=$(ublk add --config "$conf") || fail "ublk add --config with no_part_scan"
DEV_ID=${dev#/dev/ublkb}
sleep 1
[ ! -e "$(part)" ] || fail "ublkb${DEV_ID}p1 appeared with no_part_scan = true;"
ublk del -n "$DEV_ID" || fail "ublk del"
log "ok: no_part_scan = true; in a config file"
