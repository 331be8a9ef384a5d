#!/bin/bash
# timeout: 400
# Zero copy with automatic buffer registration: when the kernel cannot
# register a request's buffer it delivers the request with NEED_REG_BUF and
# ublkd registers it explicitly.  UBLKD_TEST_AUTO_REG_MISS=3 makes every
# third fetch name a buffer slot that does not exist; data must still verify
# (fio crc32c, and the backing byte-identical to what was written), nothing
# is copied, and ublkd counts the fallbacks.
. "$(dirname "$0")/lib.bash"
need fio jq cmp
has_feature AUTO_BUF_REG || skip "kernel $(uname -r) has no UBLK_F_AUTO_BUF_REG"

MiB=$((1 << 20))
ext4_setup 160
img=$EXT4/disk.img
truncate -s 64M "$img"
randfile "$W/r" 8

for q in 1 2; do
	UBLKD_TEST_AUTO_REG_MISS=3 add_dev -f "$img" -q $q --zero-copy --zc-mechanism=auto --max-io 1M
	[ "$(ublk list -n "$DEV_ID" --json | jq -r '.[0].zero_copy_mechanism')" = auto_buf_reg ] ||
		fail "q=$q: mechanism is not automatic registration: $(ublk list -n "$DEV_ID" --json)"
	fio_verify "$DEV" fallback --rw=randwrite --bsrange=512-1m --iodepth=32 --size=32M \
		--name=fallback-read --stonewall --rw=randread --bsrange=4k-256k --iodepth=16 \
		--size=32M --do_verify=0 --verify=null
	dd if="$W/r" of="$DEV" bs=1M seek=40 oflag=direct status=none || fail "dd failed"
	cmp -n $((8 * MiB)) -i 0:$((40 * MiB)) "$W/r" "$DEV" || fail "q=$q: read back differs"
	copied=$(ublk list -n "$DEV_ID" --json | jq -r '.[0].bytes_copied')
	del_dev
	cmp -n $((8 * MiB)) -i 0:$((40 * MiB)) "$W/r" "$img" || fail "q=$q: the backing differs"
	[ "$copied" = 0 ] || fail "q=$q: the daemon copied $copied bytes under zero copy"
	grep -q "could not register a request's buffer automatically" "$DEV_LOG" ||
		fail "q=$q: no fallback warning in the log"
	n=$(sed -n 's/.*zero copy: \([0-9]*\) requests were registered explicitly.*/\1/p' "$DEV_LOG")
	[ "${n:-0}" -gt 100 ] || fail "q=$q: only '${n:-no}' fallback registrations counted"
	log "ok: q=$q: $n requests fell back to explicit registration; data verified; 0 bytes copied"
done

# Without the testing aid, no request falls back.
add_dev -f "$img" --zero-copy --zc-mechanism=auto
fio_verify "$DEV" plain --rw=randwrite --bsrange=4k-128k --iodepth=16 --size=8M
del_dev
! grep -q "registered explicitly\|could not register" "$DEV_LOG" ||
	fail "fallbacks without UBLKD_TEST_AUTO_REG_MISS: $(cat "$DEV_LOG")"
log "pass"
