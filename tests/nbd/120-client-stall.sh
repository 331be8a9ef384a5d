#!/bin/bash
# Only time the daemon runs counts against the server's --timeout. A paused or
# starved VM stops the daemon and a local server alike; when both run again,
# the daemon's timer fires late and, before this, every request in flight had
# "passed its deadline" and failed with EIO although nothing was wrong with
# the server (CI saw it once: nbd/070, a 30 s stall, 16 failed reads). Here
# both are stopped with SIGSTOP for twice the timeout, the daemon resumed
# first: fio's verify must see no error, and the daemon says what happened.
# kernels: first
. "$(dirname "$0")/lib.bash"
require_cmd fio

sock=$(nbd_sock st)
# Slow replies, so that requests are in flight when everything stops.
nbd_start st -U "$sock" --filter=delay memory 64M delay-read=100ms delay-write=100ms
nbd_add --uri "nbd+unix:///?socket=$sock" --timeout 3
daemon=$(jq -r '.[0].pid' <<<"$(ublk list -n "$ID" --json)")
server=$(cat "$TMPDIR/st.pid")
[ "$daemon" -gt 0 ] && [ "$server" -gt 0 ] || fail "no daemon or server pid ($daemon, $server)"
syslog=/run/ublkd-vm-syslog
lines=0
[ ! -f $syslog ] || lines=$(wc -l <$syslog)

fio --name=stall --filename="$DEV" --ioengine=io_uring --direct=1 --rw=randwrite \
	--bs=16k --iodepth=16 --size=16M --verify=crc32c --do_verify=1 --verify_fatal=1 \
	--verify_state_save=0 --output="$TMPDIR/fio.out" &
fio=$!
# Stop only once requests are in flight: under a loaded host fio can take
# seconds to start, and a stall with nothing in flight arms no timer (CI saw
# it: no stall logged).  /sys/block/X/inflight: reads and writes in flight.
inflight=/sys/block/${DEV#/dev/}/inflight
for ((i = 0; i < 300; i++)); do
	read -r r w <"$inflight"
	[ $((r + w)) -eq 0 ] || break
	sleep 0.1
done
[ $((r + w)) -gt 0 ] || fail "no request in flight 30 s after fio started"
sleep 0.5
kill -STOP "$server" "$daemon"
sleep 6
kill -CONT "$daemon"
sleep 0.3
kill -CONT "$server"
timeout 120 tail --pid=$fio -f /dev/null || fail "fio still runs 120 s after the stall"
wait $fio || fail "fio failed after a stall of the daemon and server: $(grep -i err "$TMPDIR/fio.out" | head -3)"
echo "daemon and server stopped 6 s with --timeout 3: fio verify: ok"

if [ -f $syslog ]; then
	log=$(tail -n +$((lines + 1)) $syslog)
	grep -q "did not run for" <<<"$log" || fail "the daemon did not log its stall: $log"
	! grep -q "lost the connection" <<<"$log" || fail "the stall cost the connection: $log"
	echo "the daemon logged the stall, kept its connection: ok"
fi
