#!/bin/bash
# The server dies and comes back: I/O in flight when it is killed fails with EIO
# within --timeout, the daemon stays up, I/O fails fast while it stays down,
# works again once the server is back (same data), and a request caught by a
# short outage is retried on the new connection and succeeds.  `ublk stat`
# counts the reconnects (0 before, >= 1 after the server's return).
# kernels: first
. "$(dirname "$0")/lib.bash"
require_cmd fio

now_ms() { echo $(($(date +%s%N) / 1000000)); }
daemon_pid() { jq -r '.[0].pid' <<<"$(ublk list -n "$ID" --json)"; }

img=$(tmpfile 64M)
srv=(-p 10951 -i 127.0.0.1 file "$img")
nbd_start srv "${srv[@]}"
nbd_add --uri nbd://127.0.0.1:10951/ --timeout 6
pid=$(daemon_pid)
data=$(rand_file 4)
dd if="$data" of="$DEV" bs=1M oflag=direct status=none || fail "first write failed"
reconnects() { ublk stat -n "$ID" --json | jq '.[0].reconnects'; }
[ "$(reconnects)" = 0 ] || fail "ublk stat: reconnects $(reconnects) before any outage, want 0"

# 1. Killed under load.
timeout 40 fio --name=load --filename="$DEV" --ioengine=io_uring --direct=1 --rw=randrw \
	--offset=8M --size=56M --bs=4k --iodepth=16 --time_based --runtime=30 --output="$TMPDIR/fio.out" &
fio=$!
sleep 2
nbd_kill srv KILL
t=$(now_ms)
rc=0
wait $fio || rc=$?
ms=$(($(now_ms) - t))
[ $rc != 124 ] || fail "fio still ran 30 s after the server died"
[ $rc != 0 ] || fail "fio succeeded with its server killed"
[ "$ms" -lt 10000 ] || fail "I/O took $ms ms to fail after the server died (--timeout 6)"
kill -0 "$pid" || fail "ublkd died with its server"
echo "server killed: fio failed after $ms ms, ublkd alive: ok"

# 2. Down for longer than the timeout: new I/O fails at once.
t=$(now_ms)
if dd if="$DEV" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null; then
	fail "read succeeded with no server"
fi
ms=$(($(now_ms) - t))
# (Well under the 6 s timeout; starting dd alone takes ~1 s under emulation.)
[ "$ms" -lt 4000 ] || fail "with the server long gone a read took $ms ms to fail"
echo "server gone: new I/O fails in $ms ms: ok"

# 3. Back: I/O resumes, the data is still there.
nbd_start srv "${srv[@]}"
for ((i = 0; i < 50; i++)); do
	dd if="$DEV" of="$TMPDIR/back" bs=1M count=4 iflag=direct status=none 2>/dev/null && break
	sleep 0.2
done
[ $i -lt 50 ] || fail "no reconnect within 10 s of the server's return"
cmp "$data" "$TMPDIR/back" || fail "data differs after the reconnect"
n=$(reconnects)
[ "$n" -ge 1 ] || fail "ublk stat: reconnects $n after the server came back, want >= 1"
echo "ublk stat: $n reconnects"
echo "server back: reconnected, data intact: ok"

# 4. A short outage, on a device with a longer timeout: a write sent while the
# server is down waits for it and succeeds.
nbd_del
nbd_add --uri nbd://127.0.0.1:10951/ --timeout 20
pid=$(daemon_pid)
nbd_kill srv KILL
dd if="$data" of="$DEV" bs=1M seek=8 oflag=direct status=none 2>"$TMPDIR/dd.err" &
dd=$!
sleep 1
nbd_start srv "${srv[@]}"
wait $dd || fail "a write across a 1 s outage failed: $(cat "$TMPDIR/dd.err")"
cmp -n $((4 << 20)) -i 0:$((8 << 20)) "$data" "$img" || fail "the retried write is not in the image"
kill -0 "$pid" || fail "ublkd died"
echo "write across a short outage retried: ok"

# 5. A write the server holds (delay filter) when it is killed: libnbd fails it
# with ENOTCONN, it is sent again on the next connection and succeeds.
nbd_kill srv KILL
slow=(-p 10951 -i 127.0.0.1 --filter=delay file "$img" delay-write=1)
nbd_start srv "${slow[@]}"
for ((i = 0; i < 50; i++)); do # connected again
	dd if=/dev/zero of="$DEV" bs=4k count=1 oflag=direct status=none 2>/dev/null && break
	sleep 0.2
done
dd if="$data" of="$DEV" bs=1M count=1 seek=16 oflag=direct status=none 2>"$TMPDIR/dd.err" &
dd=$!
sleep 0.5
nbd_kill srv KILL
nbd_start srv "${slow[@]}"
wait $dd || fail "a write in flight when the server died failed: $(cat "$TMPDIR/dd.err")"
cmp -n $((1 << 20)) -i 0:$((16 << 20)) "$data" "$img" || fail "the re-sent write is not in the image"
echo "write in flight across a server restart re-sent: ok"
