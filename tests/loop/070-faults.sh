#!/bin/bash
# timeout: 400
# Backing faults: the application gets EIO, the daemon keeps serving and
# recovers when the backing heals.
#   1. a device-mapper backing switched to the error target and back
#   2. dm-flakey (up 1 s / down 1 s) under fio, then healed and verified
#   3. a backing file that shrinks under the device, then is unlinked
. "$(dirname "$0")/lib.bash"
need dmsetup fio cmp

MiB=$((1 << 20))
modprobe dm_mod 2>/dev/null
modprobe dm_flakey 2>/dev/null
dmsetup targets | grep -q '^flakey' || skip "no dm-flakey (modprobe dm_flakey)"
brd_setup 64
sectors=$((64 * 2048))
dm=ublkt-loop-faults
dmsetup create $dm --table "0 $sectors linear /dev/ram0 0" || fail "dmsetup create failed"
on_exit "dmsetup remove --force $dm"
# No udev in the test VM: use the kernel's own dm-N node.
dmdev=/dev/$(dmsetup info -c --noheadings -o blkdevname $dm) || fail "dmsetup info failed"
udevwait "$dmdev"
randfile "$W/r" 16

retable() { # TABLE
	{ dmsetup suspend --noflush $dm && dmsetup load $dm --table "$1" && dmsetup resume $dm; } ||
		fail "cannot switch $dm to: $1"
}
alive() {
	daemon_running || fail "the daemon is gone after backing errors ($1): $(ublk list)"
}

# ---- 1. error target
add_dev -f "$dmdev" -q 2
dd if="$W/r" of="$DEV" bs=1M oflag=direct status=none || fail "initial write failed"
retable "0 $sectors error"
if dd if="$DEV" of=/dev/null bs=64k count=4 iflag=direct status=none 2>"$W/dd.err"; then
	fail "a read from a failing backing succeeded"
fi
grep -q 'Input/output error' "$W/dd.err" || fail "read error is not EIO: $(cat "$W/dd.err")"
if dd if="$W/r" of="$DEV" bs=64k count=4 seek=300 oflag=direct status=none 2>"$W/dd.err"; then
	fail "a write to a failing backing succeeded"
fi
grep -q 'Input/output error' "$W/dd.err" || fail "write error is not EIO: $(cat "$W/dd.err")"
alive "error target"
retable "0 $sectors linear /dev/ram0 0"
cmp -n $((16 * MiB)) "$DEV" "$W/r" >/dev/null || fail "data written before the fault is wrong after healing"
fio_verify "$DEV" healed --rw=randwrite --bssplit=4k/50:64k/50 --iodepth=32 --size=16M --offset=16M
del_dev
log "ok: error target: EIO to the application, daemon alive, healed and verified"

# ---- 2. dm-flakey: fails all I/O 1 s out of every 2 while fio runs
add_dev -f "$dmdev" -q 2
retable "0 $sectors flakey /dev/ram0 0 1 1"
fio --name=flaky --filename="$DEV" --ioengine=io_uring --direct=1 --rw=randrw --bs=4k \
	--iodepth=16 --size=32M --offset=32M --time_based --runtime=5 --continue_on_error=io \
	--output="$W/flaky.out" >/dev/null 2>&1
alive "dm-flakey"
retable "0 $sectors linear /dev/ram0 0"
cmp -n $((16 * MiB)) "$DEV" "$W/r" >/dev/null || fail "data outside the flakey run changed"
fio_verify "$DEV" after-flakey --rw=randwrite --bssplit=4k/50:64k/50 --iodepth=32 --size=16M --offset=32M
del_dev
failed=$(grep -Eo '[0-9]+ failed' "$DEV_LOG" | tail -1)
[ "${failed%% *}" -gt 0 ] || fail "no failed requests counted: $(tail -1 "$DEV_LOG")"
grep -q 'warning: loop: .* failed: Input/output error' "$DEV_LOG" ||
	fail "no warning about the backing error in the log"
log "ok: dm-flakey: $failed requests, daemon alive, healed and verified"

# ---- 3. a backing file that shrinks, then disappears
tmpfs_setup
f=$TMPFS/shrink.img
truncate -s 32M "$f"
add_dev -f "$f"
dd if="$W/r" of="$DEV" bs=1M oflag=direct status=none || fail "write failed"
truncate -s $((8 * MiB + 4096)) "$f"
# Wholly past the new end: EIO.  Straddling it: a short read, then none: EIO.
if dd if="$DEV" of=/dev/null bs=64k count=1 skip=256 iflag=direct status=none 2>"$W/dd.err"; then
	fail "a read past the end of the shrunk file succeeded"
fi
grep -q 'Input/output error' "$W/dd.err" || fail "read past the end: $(cat "$W/dd.err")"
if dd if="$DEV" of=/dev/null bs=64k count=1 skip=128 iflag=direct status=none 2>"$W/dd.err"; then
	fail "a read across the end of the shrunk file succeeded"
fi
cmp -n $((8 * MiB)) "$DEV" "$W/r" >/dev/null || fail "data before the new end is wrong"
alive "shrunk file"
rm -f "$f"
fio_verify "$DEV" unlinked --rw=randwrite --bssplit=4k/50:64k/50 --iodepth=16 --size=8M
alive "unlinked file"
del_dev
log "ok: shrunk and unlinked backing file: EIO past the end, daemon alive"
log "pass"
