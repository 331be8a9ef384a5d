#!/bin/bash
# timeout: 420
# Memory reclaim must not deadlock the disk: ext4 on a ublk loop device,
# with ublkd, mkfs and the writer all inside one memory cgroup capped at
# 32 MiB (cgroup v2 memory.max, no swap): 160 MiB of buffered writes (five
# times the cap, so dirty pages must be written back to the ublk device
# while its own daemon is charged to the same cgroup), then sync.  It must
# finish without an OOM kill, a hung task ("blocked for more than", with the
# kernel's hung-task timeout lowered to 20 s) or a kernel warning; the data
# reads back intact after a remount.  (A tighter cap, with memory pinned in
# the cgroup, only measured how the OOM killer picks under emulation.)
. "$(dirname "$0")/lib.bash"
# A stress test: its own target (make check-stress), not make check: under
# emulation the OOM killer sometimes takes the test itself (seen on 6.12).
[ "${UBLKD_TEST_STRESS:-}" = 1 ] || skip "a stress test: run it with make check-stress"
need mkfs.ext4 cmp timeout jq

# A failure unmounts first: `ublk del -a` (lib.bash's cleanup) of a device
# with a mounted file system waits for the unmount.
eval "$(declare -f fail | sed '1s/^fail/lib_fail/')"
fail() {
	umount -l "$mnt" 2>/dev/null
	lib_fail "$@"
}
mnt=$W/mnt

MiB=$((1 << 20))
CG=/sys/fs/cgroup
if [ ! -e $CG/cgroup.controllers ]; then
	mount -t cgroup2 none $CG || skip "cannot mount cgroup2 on $CG"
	on_exit "umount $CG"
fi
grep -qw memory $CG/cgroup.controllers || skip "no memory controller in cgroup v2"
grep -qw memory $CG/cgroup.subtree_control || echo +memory >$CG/cgroup.subtree_control ||
	fail "cannot enable the memory controller"
cg=$CG/ublkd-test-$$
mkdir "$cg" || fail "cannot create $cg"
# Leave the cgroup before removing it (cleanups run last registered first).
on_exit "rmdir '$cg'"
on_exit "echo \$\$ >$CG/cgroup.procs"
echo $((32 * MiB)) >"$cg/memory.max"
[ -e "$cg/memory.swap.max" ] && echo 0 >"$cg/memory.swap.max"

hung=/proc/sys/kernel/hung_task_timeout_secs
if [ -w $hung ]; then
	on_exit "echo $(cat $hung) >$hung"
	echo 20 >$hung
fi
dmesg_before=$(dmesg | wc -l)

# Outside the cgroup: the backing (ext4 on brd: direct I/O, no page cache
# charged to the cgroup) and 8 MiB of random data.
ext4_setup 256
img=$EXT4/disk.img
truncate -s 224M "$img"
randfile "$W/r" 8
mkdir -p "$mnt"
on_exit "umount -l '$mnt'"

# This shell joins the cgroup: ublkd (through add_dev), mkfs and the writer
# are all charged to it.  Small buffers (2 queues x 16 x 256K) keep the
# daemon's own memory small; a daemon the OOM killer picked would leave
# the device waiting for recovery with every writer stuck, so it is
# protected as a service manager would (OOMScoreAdjust=).
echo $$ >"$cg/cgroup.procs" || fail "cannot join $cg"
add_dev -f "$img" -q 2 -d 16 --max-io 256K
pid=$(ublk list -n "$DEV_ID" --json | jq -r '.[0].pid')
echo -1000 >"/proc/$pid/oom_score_adj"
grep -qx "0::/${cg#$CG/}" "/proc/$pid/cgroup" || fail "ublkd is not in $cg: $(cat "/proc/$pid/cgroup")"
mkfs.ext4 -q -F -E nodiscard "$DEV" || fail "mkfs.ext4 on $DEV failed"
mount "$DEV" "$mnt" || fail "mount $DEV failed"

t0=$SECONDS
timeout 240 sh -c 'for i in $(seq 1 20); do cat "$1" >"$2/f$i" || exit 1; done; sync' sh "$W/r" "$mnt" ||
	fail "160 MiB of buffered writes + sync did not finish within 240 s (or failed)"
took=$((SECONDS - t0))
peak=$(cat "$cg/memory.peak" 2>/dev/null || echo 0)
events=$(tr '\n' ' ' <"$cg/memory.events")
log "160 MiB written and synced in $took s under memory.max=32M (peak $((peak / MiB)) MiB; $events)"
grep -q 'oom_kill [1-9]' "$cg/memory.events" && fail "OOM kills in the cgroup: $events"
kill -0 "$pid" || fail "ublkd died"

umount "$mnt" || fail "umount failed"
echo $$ >$CG/cgroup.procs
mount "$DEV" "$mnt" || fail "remount failed"
for i in 1 7 20; do
	cmp "$W/r" "$mnt/f$i" || fail "f$i differs after remount"
done
umount "$mnt"
del_dev

if dmesg | tail -n +$((dmesg_before + 1)) | grep -E 'blocked for more than|hung_task|INFO: task'; then
	fail "hung tasks during the test"
fi
log "pass"
