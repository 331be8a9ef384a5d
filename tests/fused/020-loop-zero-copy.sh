#!/usr/bin/env bash
# The loop target under fused zero copy (the kernel/ series), 1 and 2 queues:
# fio verify, mkfs.ext4 + fsck, and the backing file byte-identical to what
# was written; the daemon copies no byte.  Skipped without the series.
# timeout: 600
. "$(dirname "$0")/../lib/common.sh"
require_cmd fio mkfs.ext4 jq
ublk features | grep -q '^  FUSED_ZERO_COPY *yes' ||
	skip "kernel $(uname -r) does not have the fused-command series"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
img=$(tmpfile 256M)
for q in 1 2; do
	dev=$(ublk add -t loop -f "$img" -q $q --zero-copy --zc-mechanism=fused) || fail "add q=$q"
	id=${dev#/dev/ublkb}
	[ "$(ublk list -n "$id" --json | jq -r '.[0].zero_copy_mechanism')" = fused_cmd ] ||
		fail "mechanism is not fused_cmd"
	fio --name=v --filename="$dev" --ioengine=io_uring --direct=1 --rw=randwrite \
		--bsrange=512-1M --iodepth=32 --size=64M --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --output=/dev/null || fail "fio verify q=$q"
	head -c 8M /dev/urandom >"$TMPDIR/pattern"
	dd if="$TMPDIR/pattern" of="$dev" bs=1M oflag=direct seek=100 status=none || fail "dd"
	cmp -n $((8 << 20)) -i 0:$((100 << 20)) "$TMPDIR/pattern" "$img" || fail "backing differs"
	mkfs.ext4 -q -F "$dev" || fail "mkfs"
	ublk del -n "$id"
	e2fsck -fn "$img" >/dev/null || fail "fsck of the image after q=$q"
	dev=$(ublk add -t loop -f "$img" -q $q --zero-copy) || fail "re-add"
	id=${dev#/dev/ublkb}
	e2fsck -fn "$dev" >/dev/null || fail "fsck through the device"
	copied=$(ublk list -n "$id" --json | jq -r '.[0].bytes_copied')
	[ "$copied" = 0 ] || fail "the daemon copied $copied bytes under zero copy"
	ublk del -n "$id"
	echo "q=$q: fio verify, cmp and fsck under fused zero copy, 0 bytes copied"
done
