#!/bin/bash
# A queue that dies must not leave its requests hanging: when queue 1's
# io_uring fails (injected: UBLKD_TEST_QUEUE_FAIL=1:N, after N requests)
# while fio writes and verifies, the daemon exits at once with status 3 and
# one line naming the queue and the error, the device waits for a daemon,
# `ublk recover` takes it over, and fio sees delay, never an error.
# timeout: 240
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/crash.bash"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio jq taskset

img=$(tmpfile 128M)
UBLKD_TEST_QUEUE_FAIL=1:2000 ublk add --foreground -t loop -f "$img" -q 2 --copy >out 2>daemon.log &
pid=$!
for ((i = 0; i < 600; i++)); do
	dev=$(grep -m1 '^/dev/ublkb' out 2>/dev/null) && break
	kill -0 $pid 2>/dev/null || fail "ublkd did not start: $(cat daemon.log)"
	sleep 0.1
done
[ -n "$dev" ] || fail "ublkd did not start within 60 s"
id=${dev#/dev/ublkb}
# I/O reaches queue 1 from its CPUs: run fio there.
cpus=$(cat "/sys/block/ublkb$id/mq/1/cpu_list")
[ -n "$cpus" ] || skip "queue 1 has no CPU (one CPU online?)"
taskset -pc "$cpus" $$ >/dev/null || fail "taskset -pc $cpus failed"
io_start "$dev" verify

# The failure comes after 2000 requests on queue 1: a few seconds of fio.
t0=$SECONDS
while kill -0 $pid 2>/dev/null && [ $((SECONDS - t0)) -lt 60 ]; do
	sleep 0.2
done
kill -0 $pid 2>/dev/null && fail "ublkd still runs 60 s into fio (queue 1 fails after 2000 requests): $(cat daemon.log)"
rc=0
wait $pid || rc=$?
[ $rc = 3 ] || fail "ublkd exited $rc after a queue failure, expected 3: $(cat daemon.log)"
cat daemon.log
re="queue 1 of $dev failed: io_uring_enter \(injected by UBLKD_TEST_QUEUE_FAIL\): Input/output error; exiting with status 3 so that the device is recovered \('ublk recover -n $id', or the service restarts\)"
grep -Eq "$re" daemon.log || fail "no line naming the queue and its error in: $(cat daemon.log)"
n=$(grep -c 'queue [0-9]' daemon.log || true)
[ "$n" = 1 ] || fail "$n lines about queues, expected one: $(cat daemon.log)"
echo "ok: exit 3, one line: $(grep -E "$re" daemon.log)"

# The device waits (recovery=reissue): fio is blocked, not failed.
[ -b "$dev" ] || fail "$dev went away with its daemon"
out=$(ublk recover -n "$id") || fail "ublk recover -n $id failed"
[ "$out" = "$dev" ] || fail "ublk recover printed '$out'"
sleep 3
io_stop
[ "$(ublk list -n "$id" --json | jq -r '.[0].copy_mode')" = copy ] || fail "not serving after recovery"
timeout 60 ublk del -n "$id" || fail "ublk del after recovery"
ublk_dev_wait_gone "$id"
echo "pass"
