#!/bin/bash
# A buggy target cannot hang or corrupt the device (null's testing aids):
# a target that completes every 7th request twice (UBLKD_TEST_NULL_DOUBLE)
# is caught: each bad completion is ignored and logged once per tag (at most
# 16 lines a queue, a count at stop), I/O keeps working, the device stops
# cleanly; a target that never completes a request (UBLKD_TEST_NULL_HANG)
# does not hang the stop: `ublk del` returns in about 10 s (STOP_GRACE_MS),
# the log names the tag, op and how long it was held, and the stuck reader
# gets an I/O error.
# timeout: 200
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio jq dd

# start_null LOG ARGS...: ublkd in the foreground, its messages in LOG;
# sets dev, id, pid.
start_null() {
	local log=$1 i
	shift
	ublk add --foreground -t null "$@" >out 2>"$log" &
	pid=$!
	dev=
	for ((i = 0; i < 600; i++)); do
		dev=$(grep -m1 '^/dev/ublkb' out 2>/dev/null) && break
		kill -0 $pid 2>/dev/null || fail "ublkd did not start: $(cat "$log")"
		sleep 0.1
	done
	[ -n "$dev" ] || fail "ublkd did not start within 60 s"
	id=${dev#/dev/ublkb}
	for ((i = 0; i < 100; i++)); do [ -b "$dev" ] && break; sleep 0.05; done
}

# ---- completed twice ----
modes=("")
ublk features | grep -Eq '^[[:space:]]*USER_COPY[[:space:]]+yes' && modes+=(--user-copy)
for mode in "${modes[@]}"; do
	log=double${mode}.log
	UBLKD_TEST_NULL_DOUBLE=7 start_null "$log" -s 1G -q 2 -d 32 $mode
	timeout 60 fio --name=double --filename="$dev" --ioengine=io_uring --direct=1 --rw=randrw \
		--bs=4k --iodepth=32 --time_based --runtime=3 --output=fio.out >/dev/null 2>&1 ||
		fail "${mode:-copy}: fio failed or hung: $(grep -i err fio.out | head -n 3)"
	dd if="$dev" of=/dev/null bs=64k count=64 iflag=direct status=none ||
		fail "${mode:-copy}: dd after the double completions failed"
	t0=$SECONDS
	timeout 60 ublk del -n "$id" || fail "${mode:-copy}: ublk del failed"
	rc=0
	wait $pid || rc=$?
	[ $rc = 0 ] || fail "${mode:-copy}: ublkd exited $rc: $(tail -n 5 "$log")"
	n=$(grep -c 'completed a request that is .* a target bug (completed twice?); ignored' "$log" || true)
	[ "$n" -ge 1 ] || fail "${mode:-copy}: no double completion logged: $(cat "$log")"
	[ "$n" -le 32 ] || fail "${mode:-copy}: $n lines for double completions, at most 16 a queue"
	dup=$(grep -o 'queue [0-9]* tag [0-9]*: target null completed' "$log" | sort | uniq -d)
	[ -z "$dup" ] || fail "${mode:-copy}: a tag was logged twice: $dup"
	total=$(sed -n 's/.*target null completed \([0-9]*\) requests that were not its to complete.*/\1/p' "$log" |
		awk '{ s += $1 } END { print s + 0 }')
	[ "$total" -gt "$n" ] || fail "${mode:-copy}: $total counted at stop, $n logged"
	grep -q 'ublk command failed' "$log" && fail "${mode:-copy}: a second commit reached the kernel: $(cat "$log")"
	echo "ok: ${mode:-copy}: $total double completions ignored, $n lines logged, del in $((SECONDS - t0)) s"
done

# ---- never completed ----
UBLKD_TEST_NULL_HANG=40 start_null hang.log -s 64M -q 1
dd if="$dev" of=/dev/null bs=4k count=100 iflag=direct 2>dd.err &
dd_pid=$!
sleep 2
kill -0 $dd_pid 2>/dev/null || fail "dd did not block on the request null never completes"
t0=$SECONDS
timeout 40 ublk del --force -n "$id" || fail "ublk del did not return within 40 s (rc $?): $(cat hang.log)"
took=$((SECONDS - t0))
[ $took -le 25 ] || fail "ublk del took $took s"
rc=0
timeout 10 tail --pid=$dd_pid -f /dev/null || fail "dd still blocked after del"
wait $dd_pid || rc=$?
[ $rc != 0 ] || fail "dd read through the never-completed request without an error"
wait $pid || fail "ublkd exited $?: $(cat hang.log)"
re="queue 0 tag [0-9]+: target null never completed a read of 4096 bytes at offset [0-9]+ \(held [0-9.]+ s\): failing it with EIO so that the device can stop"
grep -Eq "$re" hang.log || fail "no line naming the stuck request: $(cat hang.log)"
held=$(sed -n 's/.*(held \([0-9]*\)\.[0-9] s).*/\1/p' hang.log)
[ "$held" -ge 10 ] || fail "failed after $held s, before the grace period"
ublk_dev_wait_gone "$id"
echo "ok: ublk del returned in $took s; $(grep -E "$re" hang.log)"
echo "pass"
