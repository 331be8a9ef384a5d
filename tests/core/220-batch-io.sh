#!/bin/bash
# Batch I/O (-b/--batch-io, UBLK_F_BATCH_IO, Linux 7.0+): one multishot
# fetch per queue hands over tags of new requests in buffers, and one
# COMMIT_IO_CMDS per pass of the queue loop commits what finished.
#   Everywhere: what is refused, one line each (with --threads, with -g 1,
#   at depth 1;
#   before 7.0 the kernel feature, by name).
#   7.0+: the device has the flag (and --no-batch-io devices do not);
#   null serves reads on every queue; loop keeps data intact (fio crc32c
#   write + verify, 512 B to 512K, two jobs) in every copy mode the kernel
#   has, with 1 and 2 queues, at depths 2, 3 and 128, and with automatic
#   registration's fallback forced (UBLKD_TEST_AUTO_REG_MISS); a kill -9
#   and `ublk recover`, then `ublk upgrade`, under write + verify I/O
#   come back on batch I/O, and no I/O failed; `ublk del --force` under
#   I/O ends.
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio jq
. "$(dirname "$0")/../lib/crash.bash"

BATCH=$((0x8000))	# UBLK_F_BATCH_IO

expect_fail 1 "--batch-io and --threads 2 cannot be combined: the kernel has no per-I/O daemons with batch I/O; drop one" \
	ublk add -t null -b --threads 2
expect_fail 1 "--batch-io and -g 1 \(NEED_GET_DATA\) cannot be combined: batch I/O has no NEED_GET_DATA; drop one" \
	ublk add -t null --batch-io -g 1
expect_fail 1 "--batch-io needs a queue depth of 2 or more \(the kernel refuses depth 1 with batch I/O\): raise --depth, or drop --batch-io" \
	ublk add -t null -b -d 1

if ! has_feature BATCH_IO; then
	expect_fail 1 "--batch-io needs the kernel feature UBLK_F_BATCH_IO \(Linux 7\.0\+\); this kernel \(.*\) does not have it" \
		ublk add -t null -b
	echo "ok: refused on $(uname -r): no UBLK_F_BATCH_IO"
	echo "pass"
	exit 0
fi

# flags ID: the device's kernel flags.
flags() { ublk list -n "$1" --json | jq -r '.[0].flags'; }

dev=$(ublk add -t null -s 64M --no-batch-io) || fail "ublk add --no-batch-io failed"
id=${dev#/dev/ublkb}
f=$(flags "$id")
((f & BATCH)) && fail "--no-batch-io: the device has UBLK_F_BATCH_IO (flags $f)"
ublk del -n "$id" || fail "ublk del"

# null: every queue serves.
dev=$(ublk add -t null -s 1G -q 2 -b) || fail "ublk add -t null -b failed"
id=${dev#/dev/ublkb}
f=$(flags "$id")
((f & BATCH)) || fail "-b: the device lacks UBLK_F_BATCH_IO (flags $f)"
fio --name=b --filename="$dev" --ioengine=io_uring --direct=1 --rw=randread --bs=4k \
	--iodepth=32 --numjobs=2 --size=1G --io_size=32M --group_reporting >/dev/null ||
	fail "fio on null -b failed"
per=$(ublk stat -n "$id" -v --json | jq -r '.[0].queue_stats[] | "\(.queue)=\(.totals.requests.read)"' | tr '\n' ' ')
[[ $per =~ ^0=([0-9]+)\ 1=([0-9]+)\ $ ]] || fail "ublk stat's queue_stats: $per"
total=$((BASH_REMATCH[1] + BASH_REMATCH[2]))
# fio's 16384, and a few of udev's (partition table, blkid)
[ "$total" -ge 16384 ] && [ "$total" -le 16512 ] && [ "${BASH_REMATCH[1]}" -gt 0 ] &&
	[ "${BASH_REMATCH[2]}" -gt 0 ] || fail "null -b served reads $per; fio issued 16384"
echo "ok: null -q 2 -b: flags $f; reads per queue: $per"
ublk del -n "$id" || fail "ublk del"

# loop: data intact in every copy mode.
mapfile -t modes <<<"$(data_modes)"
img=$(tmpfile 64M)
for mode in "${modes[@]}"; do
	for q in 1 2; do
		# shellcheck disable=SC2086
		dev=$(ublk add -t loop -f "$img" -q $q -b $mode) || fail "loop -b -q $q $mode: add failed"
		fio_verify "$dev" --rw=randwrite --bssplit=512/10:4k/40:64k/30:512k/20 --iodepth=32 \
			--numjobs=2 --size=8M --offset_increment=16M ||
			fail "loop -b -q $q $mode: fio verify failed"
		ublk del -n "${dev#/dev/ublkb}" || fail "ublk del"
	done
	echo "ok: loop -b $mode, 1 and 2 queues: fio crc32c write + verify"
done

# Depth 2 (the least batch I/O takes), and an odd depth: more requests
# than tags, every batch small.
for d in 2 3; do
	dev=$(ublk add -t loop -f "$img" -q 1 -d $d -b) || fail "loop -b -d $d: add failed"
	fio_verify "$dev" --rw=randwrite --bs=4k --iodepth=8 --size=4M || fail "loop -b -d $d: fio verify failed"
	ublk del -n "${dev#/dev/ublkb}" || fail "ublk del"
done
echo "ok: loop -b -d 2 and -d 3: fio crc32c write + verify"

# Automatic registration's fallback: every third request is delivered
# without a registered buffer, and registered explicitly.
if has_feature AUTO_BUF_REG; then
	dev=$(UBLKD_TEST_AUTO_REG_MISS=3 ublk add -t loop -f "$img" -q 1 -b --zero-copy \
		--zc-mechanism auto) || fail "loop -b zero copy with forced fallbacks: add failed"
	id=${dev#/dev/ublkb}
	fio_verify "$dev" --rw=randwrite --bsrange=4k-256k --iodepth=32 --size=16M ||
		fail "loop -b with forced zero-copy fallbacks: fio verify failed"
	fb=$(ublk stat -n "$id" --json | jq -r '[.. | objects | .zero_copy_fallbacks? // empty] | max')
	[ "${fb:-0}" -gt 100 ] || fail "loop -b: only '${fb:-no}' zero-copy fallbacks counted"
	ublk del -n "$id" || fail "ublk del"
	echo "ok: loop -b zero copy, every third request falling back to explicit registration ($fb fallbacks): verified"
fi

# A crash, then an upgrade, under I/O.
dev=$(ublk add -t loop -f "$img" -q 2 -b) || fail "loop -b: add failed"
id=${dev#/dev/ublkb}
io_start "$dev" verify 16M
crash_cycles "$id" 1 "out=\$(ublk recover -n $id) && [ \"\$out\" = $dev ]"
f=$(flags "$id")
((f & BATCH)) || fail "after recovery the device lacks UBLK_F_BATCH_IO (flags $f)"
pid=$(ublk list -n "$id" --json | jq -r '.[0].pid')
echo "ok: kill -9 and ublk recover under I/O: batch I/O again"
sleep 0.5
ublk upgrade -n "$id" >/dev/null 2>"$TMPDIR/err" || fail "ublk upgrade failed: $(cat "$TMPDIR/err")"
new=$(ublk list -n "$id" --json | jq -r '.[0].pid')
[ "$new" != "$pid" ] || fail "ublk upgrade left pid $pid serving"
sleep 0.5
io_stop
echo "ok: ublk upgrade under I/O: pid $pid -> $new"
ublk del -n "$id" || fail "ublk del"

# ublk del --force while fio runs: the device goes, nothing hangs.
dev=$(ublk add -t loop -f "$img" -q 2 -b) || fail "loop -b: add failed"
id=${dev#/dev/ublkb}
fio --name=del --filename="$dev" --ioengine=io_uring --direct=1 --rw=randrw --bs=4k \
	--iodepth=32 --size=32M --time_based --runtime=30 >/dev/null 2>&1 &
fpid=$!
sleep 1
timeout 30 ublk del --force -n "$id" || fail "ublk del --force under I/O failed or hung"
timeout 30 tail --pid=$fpid -f /dev/null || fail "fio still runs 30 s after ublk del"
ublk_dev_wait_gone "$id" 10 || fail "device $id is still there after ublk del --force"
echo "ok: ublk del --force under I/O"
echo "pass"
