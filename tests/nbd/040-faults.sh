#!/bin/bash
# Faults injected by nbdkit's filters: server errors come back as EIO at once
# (and the device works again when they stop); slow replies complete, only
# slower; a reply slower than --timeout fails with EIO, the connection is
# replaced and later I/O works. Nothing hangs, the daemon lives through it all.
# kernels: first
. "$(dirname "$0")/lib.bash"
require_cmd fio

alive() {
	[ "$(jq -r '.[0].pid' <<<"$(ublk list -n "$ID" --json)")" -gt 0 ] &&
		kill -0 "$(jq -r '.[0].pid' <<<"$(ublk list -n "$ID" --json)")" ||
		fail "ublkd of $DEV died"
}
elapsed() { echo $(($(date +%s%N) / 1000000 - $1)); }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- error filter: every request fails while $inject exists.
inject=$TMPDIR/inject
sock=$(nbd_sock err)
nbd_start err -U "$sock" --filter=error memory 64M error-rate=100% error-file="$inject"
nbd_add --uri "nbd+unix:///?socket=$sock"
data=$(rand_file 1)
dd if="$data" of="$DEV" bs=64k oflag=direct status=none || fail "write before faults failed"
touch "$inject"
t=$(now_ms)
if timeout 20 dd if="$DEV" of=/dev/null bs=4k count=1 iflag=direct status=none 2>"$TMPDIR/err"; then
	fail "read succeeded while the server failed every request"
fi
grep -q "Input/output error" "$TMPDIR/err" || fail "read did not fail with EIO: $(cat "$TMPDIR/err")"
# Well inside the 30 s timeout: errors are final, not retried.
[ "$(elapsed "$t")" -lt 10000 ] || fail "a server error took $(elapsed "$t") ms to reach the reader"
if timeout 20 dd if="$data" of="$DEV" bs=4k count=1 oflag=direct status=none 2>/dev/null; then
	fail "write succeeded while the server failed every request"
fi
echo "server errors -> EIO in $(elapsed "$t") ms: ok"
# Random errors under load: fio sees errors, finishes, nothing hangs.
rm -f "$inject"
nbd_kill err
nbd_start err -U "$sock" --filter=error memory 64M error-rate=20%
timeout 120 fio --name=errs --filename="$DEV" --ioengine=io_uring --direct=1 --rw=randrw \
	--bs=4k --iodepth=16 --size=2M --continue_on_error=all --output=/dev/null ||
	[ $? != 124 ] || fail "fio hung on a server failing 20% of requests"
alive
nbd_kill err
nbd_start err -U "$sock" memory 64M
dd if=/dev/zero of="$DEV" bs=64k count=16 oflag=direct status=none || fail "I/O after errors failed"
echo "random errors, then recovery: ok"
nbd_del
nbd_kill err

# --- delay filter: 300 ms per request, well inside the timeout: all succeed.
sock=$(nbd_sock slow)
nbd_start slow -U "$sock" --filter=delay memory 64M delay-read=300ms delay-write=300ms
nbd_add --uri "nbd+unix:///?socket=$sock" --timeout 10
t=$(now_ms)
timeout 60 fio --name=slow --filename="$DEV" --ioengine=io_uring --direct=1 --rw=randwrite \
	--bs=64k --iodepth=8 --size=1M --verify=crc32c --do_verify=1 --verify_fatal=1 \
	--verify_state_save=0 --output=/dev/null || fail "fio on a slow server failed"
ms=$(elapsed "$t")
[ "$ms" -ge 300 ] || fail "fio took $ms ms: the delay filter did not delay"
echo "slow server (300 ms/request): fio verify in $ms ms: ok"
nbd_del
nbd_kill slow

# --- a server that answers one request at a time, 250 ms each, behind a queue
# deeper than --timeout: the last of 16 waits ~4 s with --timeout 2, but
# replies keep coming, so the server is slow, not gone: nothing fails and
# the connection is kept (what a heavily loaded CI machine once hit).
nbd_start slow -U "$sock" -t 1 --filter=delay memory 64M delay-read=250ms
nbd_add --uri "nbd+unix:///?socket=$sock" --timeout 2 -q 1
t=$(now_ms)
timeout 60 fio --name=deep --filename="$DEV" --ioengine=io_uring --direct=1 --rw=randread \
	--bs=4k --iodepth=16 --iodepth_batch_submit=16 --number_ios=16 --size=1M \
	--output=/dev/null || fail "reads queued behind a slow server failed (--timeout 2)"
ms=$(elapsed "$t")
[ "$ms" -ge 3500 ] || fail "16 reads took $ms ms: the server did not serialise them"
reconnects=$(jq -r '.[0].reconnects' <<<"$(ublk stat -n "$ID" --json)")
[ "$reconnects" = 0 ] || fail "the connection was replaced $reconnects times"
echo "deep queue on a slow server (waits up to ~4 s, --timeout 2): all in $ms ms: ok"
nbd_del
nbd_kill slow

# --- a read slower than --timeout: EIO near the timeout, the connection is
# replaced, writes (not delayed) still work. The device starts on a plain
# server: the kernel's partition scan would otherwise sit on the slow reads
# (and hold the disk's open lock) for a while.
nbd_start hang -U "$sock" memory 64M
nbd_add --uri "nbd+unix:///?socket=$sock" --timeout 2
nbd_kill hang KILL
nbd_start hang -U "$sock" --filter=delay memory 64M delay-read=8
for ((i = 0; i < 50; i++)); do # both queues back
	dd if=/dev/zero of="$DEV" bs=4k count=1 oflag=direct status=none 2>/dev/null &&
		dd if=/dev/zero of="$DEV" bs=4k count=1 seek=1 oflag=direct status=none 2>/dev/null &&
		break
	sleep 0.3
done
t=$(now_ms)
if timeout 30 dd if="$DEV" of=/dev/null bs=4k count=1 iflag=direct status=none 2>/dev/null; then
	fail "a read the server holds for 8 s succeeded with --timeout 2"
fi
ms=$(elapsed "$t")
[ "$ms" -ge 1500 ] && [ "$ms" -lt 6000 ] || fail "the stuck read failed after $ms ms, want ~2000"
alive
dd if=/dev/zero of="$DEV" bs=4k count=4 oflag=direct status=none || fail "write after a stuck read failed"
echo "stuck read -> EIO after $ms ms, writes work: ok"
