#!/usr/bin/env bash
# Recovery under fused zero copy with secondaries in flight: the loop target
# on a dm-delay device over /dev/ram0 (5 ms per read and write, O_DIRECT), so
# that every kill -9 of the daemon lands while fused reads and writes are
# in flight and the last reference of an aborted request is often dropped
# by the lend's release.  With --recovery=reissue (the default) such a
# request must be requeued for the new daemon, never failed: fio write+verify
# runs back to back across UBLKD_TEST_FUSED_CYCLES (default 10) kills and
# `ublk recover`s and must see 0 errors.  Then the same kill without
# recovery: the device must go away and nothing hang.  Skipped without the
# series.
# timeout: 600
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/crash.bash"
require_cmd fio jq dd dmsetup
ublk features | grep -q '^  FUSED_ZERO_COPY *yes' ||
	skip "kernel $(uname -r) does not have the fused-command series"
[ -b /dev/ram0 ] || skip "no /dev/ram0 (brd)"
dmsetup targets | grep -q '^delay' || skip "no dm-delay"
dm=ublkd-fused-delay
sectors=$((64 << 11))	# 64 MiB of /dev/ram0
dmsetup create $dm --table "0 $sectors delay /dev/ram0 0 5" || fail "dmsetup create $dm failed"
cleanup dmsetup remove --retry $dm
cleanup sh -c 'ublk del -a >/dev/null 2>&1'	# runs first
# No udev in the test VM, so no /dev/mapper/$dm: use the kernel's own dm-N
# node (devtmpfs), as loop/070 does.
node=$(dmsetup info -c --noheadings -o blkdevname $dm) || fail "dmsetup info $dm failed"
backing=/dev/${node//[[:space:]]/}
for _ in $(seq 50); do [ -b "$backing" ] && break; sleep 0.1; done
[ -b "$backing" ] || fail "$backing (dm device $dm) did not appear"

dev=$(ublk add -t loop -f "$backing" -q 2 --zero-copy --zc-mechanism=fused) ||
	fail "add loop on $backing with fused zero copy failed"
id=${dev#/dev/ublkb}
json=$(ublk list -n "$id" --json)
[ "$(jq -r '.[0].zero_copy_mechanism' <<<"$json")" = fused_cmd ] || fail "mechanism is not fused_cmd"
[ "$(jq -r '.[0].recovery' <<<"$json")" = reissue ] ||
	fail "recovery is $(jq -r '.[0].recovery' <<<"$json"), want reissue"

io_start "$dev" verify 8M	# 8M runs: io_stop waits for the last one
# All 10 in make check too: this boot runs only what the series changes.
UBLKD_TEST_CRASH_CYCLES=${UBLKD_TEST_FUSED_CYCLES:-${UBLKD_TEST_CRASH_CYCLES:-10}} \
	crash_cycles "$id" 10 "out=\$(ublk recover -n $id) && [ \"\$out\" = $dev ]"
io_stop
[ "$(ublk list -n "$id" --json | jq -r '.[0].zero_copy_mechanism')" = fused_cmd ] ||
	fail "mechanism after recovery is not fused_cmd"
ublk del -n "$id" || fail "del after recovery"
ublk_dev_wait_gone "$id"

# Without recovery: kill -9 with fused I/O in flight ends the device (the
# lent requests fail once their secondaries are done, nothing hangs): the
# block device goes away, fio exits, `ublk del` removes the rest.
dev=$(ublk add -t loop -f "$backing" -q 2 --zero-copy --zc-mechanism=fused --recovery off) ||
	fail "add with --recovery off failed"
id=${dev#/dev/ublkb}
fio --name=load --filename="$dev" --ioengine=io_uring --direct=1 --rw=randrw --bs=64k \
	--iodepth=16 --time_based --runtime=60 >/dev/null 2>&1 &
fio_pid=$!
sleep 1
kill -9 "$(ublk list -n "$id" --json | jq -r '.[0].pid')"
for _ in $(seq 100); do [ -e "$dev" ] || break; sleep 0.1; done
[ ! -e "$dev" ] || fail "$dev still present 10 s after the daemon died with fused I/O in flight"
for _ in $(seq 100); do kill -0 "$fio_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$fio_pid" 2>/dev/null && fail "fio still running 10 s after the device went away"
wait "$fio_pid" && fail "fio saw no error although its device died under it"
ublk del -n "$id" || fail "del of the dead device failed"
echo "no recovery: the device went away with fused I/O in flight, fio got its errors, del worked"
dmesg | grep -E 'WARNING:|BUG:|INFO: possible|Call Trace|circular locking|inconsistent lock|blocked for more than|general protection|Oops' &&
	fail "kernel warnings in dmesg"
exit 0
