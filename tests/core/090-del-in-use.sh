#!/bin/bash
# `ublk del` of a device in use: refused, exit 1, with one line naming what
# holds it (a process with it open, a mount point), and the device still
# works; `ublk del --force` returns before its --timeout (the daemon does not
# wait for the holder), the holder's I/O fails (EIO for a file system), the
# device and its runtime state are gone and its id is free once the holder
# lets go; a daemon that does not stop is killed at --timeout;
# `del -a` deletes the idle devices and refuses the held ones; an idle device
# is deleted as before and its id is free at once.  TRY_STOP_DEV (7.0+) or,
# before, the holders Linux shows (6.12).
# timeout: 240
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a --force >/dev/null 2>&1'
require_cmd jq dd

ublk features | grep -q 'SAFE_STOP_DEV *yes' && echo "kernel $(uname -r): TRY_STOP_DEV" ||
	echo "kernel $(uname -r): no TRY_STOP_DEV, holders from /proc and /sys"
gone() { # ID: device, daemon and runtime state gone
	ublk_dev_wait_gone "$1"
	! ublk list | grep -q "^dev $1:" || fail "ublk list still shows device $1"
	[ -z "$(ls -A /run/ublkd 2>/dev/null | grep -E "(^|[^0-9])$1([^0-9]|\$)")" ] ||
		fail "runtime state of device $1 left: $(ls -A /run/ublkd)"
}
readable() { dd if="/dev/ublkb$1" of=/dev/null bs=4k count=1 iflag=direct status=none; }
elapsed() { echo $((($(date +%s%N) - $1) / 1000000)); }

# ---- an idle device: deleted, its id free again at once ----
ublk add -t null -n 11 -s 64M >/dev/null
ublk del -n 11 || fail "del of an idle device failed"
gone 11
ublk add -t null -n 11 -s 64M >/dev/null || fail "id 11 not free right after ublk del"
ublk del -n 11
echo "ok: an idle device is deleted; its id is free at once"

# ---- open by a process: refused, naming it; the device still works ----
ublk add -t null -n 12 -s 64M >/dev/null
sleep 600 3<>/dev/ublkb12 &
holder=$!
cleanup kill "$holder"
expect_fail 1 "^ublk: device 12 is in use \(/dev/ublkb12 open by sleep \(pid $holder\)\): unmount or close it, or 'ublk del --force -n 12' fails its I/O and deletes it\$" \
	ublk del -n 12
readable 12 || fail "device 12 does not work after the refused del"
[ "$(ublk list -n 12 --json | jq -r '.[0].state')" = live ] || fail "device 12 is not live after the refused del"
kill "$holder"
wait "$holder" 2>/dev/null || true
ublk del -n 12 || fail "del after the holder exited failed"
gone 12
echo "ok: a device open by a process is refused, naming it; deleted once closed"

# ---- --force under an open fd: bounded; the holder's I/O fails ----
# (The kernel shrinks a deleted disk to 0 bytes: a read returns end of file,
# a write fails with ENOSPC; requests in flight and file systems get EIO.)
ublk add -t null -n 13 -s 64M >/dev/null
(
	set +e
	exec 3<>/dev/ublkb13
	: >ready
	while [ ! -e go ]; do sleep 0.05; done
	dd of=/dev/null bs=4k count=1 iflag=direct <&3 2>dd-read.err
	dd if=/dev/zero bs=4k count=1 oflag=direct >&3 2>dd-write.err
	echo $? >dd.rc
	while [ ! -e done ]; do sleep 0.05; done
) &
holder=$!
cleanup touch go done
while [ ! -e ready ]; do sleep 0.05; done
t0=$(date +%s%N)
timeout 60 ublk del --force --timeout 20 -n 13 || fail "ublk del --force failed (or hit its --timeout 20)"
ms=$(elapsed "$t0")
gone 13
touch go
for ((i = 0; i < 300; i++)); do [ -e dd.rc ] && break; sleep 0.1; done
[ -e dd.rc ] || fail "the holder's I/O after --force did not finish in 30 s"
grep -q '^0 bytes' dd-read.err && [ "$(cat dd.rc)" != 0 ] && grep -q 'No space left on device' dd-write.err ||
	fail "the holder's I/O after --force: read '$(cat dd-read.err)', write exit $(cat dd.rc) '$(cat dd-write.err)'"
touch done
wait "$holder"
for ((i = 0; i < 50; i++)); do ublk add -t null -n 13 -s 64M >/dev/null 2>&1 && break; sleep 0.1; done
[ "$i" -lt 50 ] || fail "id 13 not free 5 s after its holder closed it"
ublk del -n 13
echo "ok: --force under an open fd returned in $ms ms; the holder reads end of file and cannot write; id free once closed"

# ---- mounted: refused naming the mount point; --force shuts the file system down ----
if command -v mkfs.ext4 >/dev/null; then
	img=$(tmpfile 128M)
	ublk add -t loop -f "$img" -n 14 >/dev/null
	mkfs.ext4 -q /dev/ublkb14
	mnt=$TMPDIR/mnt
	mkdir -p "$mnt"
	mount /dev/ublkb14 "$mnt"
	cleanup umount -l "$mnt"
	echo before >"$mnt/a"
	expect_fail 1 "^ublk: device 14 is in use \(/dev/ublkb14 mounted on $mnt\): unmount or close it" \
		ublk del -n 14
	echo still >"$mnt/b" && sync -f "$mnt/b" || fail "the file system does not work after the refused del"
	t0=$(date +%s%N)
	timeout 60 ublk del --force --timeout 20 -n 14 || fail "ublk del --force of a mounted device failed"
	ms=$(elapsed "$t0")
	gone 14
	! { echo after >"$mnt/c" && sync -f "$mnt/c"; } 2>/dev/null || fail "writes to the file system still succeed after --force"
	umount "$mnt" || fail "cannot unmount after --force"
	echo "ok: a mounted device is refused naming $mnt; --force returned in $ms ms and the file system fails its I/O"
fi

# ---- a daemon that does not stop: killed at --timeout, the device deleted anyway ----
ublk add -t null -n 15 -s 64M >/dev/null
pid=$(ublk list -n 15 --json | jq -r '.[0].pid')
kill -STOP "$pid"
t0=$(date +%s%N)
expect_exit 1 "ublkd \(pid $pid\) did not delete device 15 within 2 s: killed it and deleted the device" \
	timeout 60 ublk del --force --timeout 2 -n 15
ms=$(elapsed "$t0")
[ "$ms" -lt 10000 ] || fail "ublk del --timeout 2 took $ms ms"
gone 15
echo "ok: a stuck daemon is killed at --timeout 2; ublk del returned in $ms ms, device gone"

# ---- del -a: idle ones deleted, held ones refused (exit 1) ----
ublk add -t null -n 16 -s 64M >/dev/null
ublk add -t null -n 17 -s 64M >/dev/null
sleep 600 3</dev/ublkb17 &
holder=$!
cleanup kill "$holder"
expect_fail 1 "^ublk: device 17 is in use \(/dev/ublkb17 open by sleep \(pid $holder\)\)" ublk del -a
gone 16
readable 17 || fail "device 17 does not work after del -a refused it"
timeout 60 ublk del -a --force || fail "del -a --force failed"
gone 17
echo "ok: del -a deletes the idle device, refuses the held one; del -a --force deletes it"

expect_fail 1 "invalid --timeout '0': expected seconds, 1-3600" ublk del --timeout 0 -n 1
