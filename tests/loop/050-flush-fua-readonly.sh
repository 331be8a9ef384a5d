#!/bin/bash
# timeout: 300
# Flushes reach the target and become fdatasync (counted in ublkd's exit
# summary); FUA writes reach it as FUA; a --read-only device rejects writes
# and leaves the backing untouched; a backing that is read-only works with
# --read-only.
. "$(dirname "$0")/lib.bash"
need fio cmp blockdev

ext4_setup 96
img=$EXT4/d.img
truncate -s 32M "$img"
randfile "$W/r" 4

# served N reads, N writes (N FUA), N flushes, ...
summary() { grep -Eo 'served .*' "$DEV_LOG" | tail -1; }
count() { summary | grep -Eo "[0-9]+ $1" | grep -Eo '^[0-9]+'; }

# Flush and FUA are offered to the kernel.
add_dev -f "$img"
q=/sys/block/ublkb$DEV_ID/queue
[ "$(cat "$q/write_cache")" = "write back" ] || fail "volatile cache not offered: $(cat "$q/write_cache")"
[ "$(cat "$q/fua")" = 1 ] || fail "FUA not offered"

# Writes without any sync: no flush.
dd if="$W/r" of="$DEV" bs=64k oflag=direct status=none || fail "dd failed"
del_dev
[ "$(count flushes)" = 0 ] || fail "flushes counted without any sync: $(summary)"

# 10 fsyncs from fio, then a final one from dd: flushes counted.
add_dev -f "$img"
fio --name=fsync --filename="$DEV" --ioengine=psync --direct=1 --rw=write --bs=4k \
	--size=40k --fsync=1 --output="$W/fio.out" || fail "fio with fsync failed"
dd if="$W/r" of="$DEV" bs=64k conv=fsync status=none || fail "dd conv=fsync failed"
del_dev
n=$(count flushes)
[ "$n" -ge 10 ] || fail "expected at least 10 flushes served, got $n: $(summary)"
log "ok: flushes reach the target: $(summary)"

# O_DIRECT|O_DSYNC writes are FUA writes on a device with FUA.
add_dev -f "$img"
dd if="$W/r" of="$DEV" bs=4k count=16 oflag=direct,dsync status=none || fail "dd dsync failed"
del_dev
n=$(count FUA)
[ "$n" -ge 16 ] || fail "expected at least 16 FUA writes, got $n: $(summary)"
log "ok: FUA writes reach the target: $(summary)"
cmp -n $((64 * 1024)) "$img" "$W/r" >/dev/null || fail "FUA data not in the backing"

# --read-only: writes fail, reads work, backing untouched.
sum=$(sha256sum <"$img")
add_dev -f "$img" --read-only
[ "$(blockdev --getro "$DEV")" = 1 ] || fail "--read-only device is not read-only"
if dd if="$W/r" of="$DEV" bs=4k count=1 oflag=direct status=none 2>"$W/dd.err"; then
	fail "a write to a --read-only device succeeded"
fi
cmp -n $((4 << 20)) "$DEV" "$img" >/dev/null || fail "reading the --read-only device differs"
[ "$(cat /sys/block/ublkb"$DEV_ID"/queue/discard_max_bytes)" = 0 ] ||
	fail "--read-only device offers discard"
del_dev
[ "$(sha256sum <"$img")" = "$sum" ] || fail "the backing changed under --read-only"
log "ok: --read-only rejects writes ($(head -1 "$W/dd.err"))"

# A backing on a read-only mount: fine with --read-only.
mkdir -p "$W/ro"
{ mount --bind "$EXT4" "$W/ro" && mount -o remount,bind,ro "$W/ro"; } || fail "cannot make a read-only bind mount"
on_exit "umount -l '$W/ro'"
add_dev -f "$W/ro/d.img" --read-only
cmp -n $((4 << 20)) "$DEV" "$img" >/dev/null || fail "reading a read-only backing differs"
del_dev
log "pass"
