#!/usr/bin/env bash
# The test bed itself: a kernel with ublk, modules that load, a file system that
# works. Fails (never skips) when it is not on such a kernel.
# timeout: 120
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

echo "kernel $(uname -r), mode ${UBLKD_TEST_MODE:-?}, host kernel ${UBLKD_HOST_KERNEL:-?}"
if [ "${UBLKD_TEST_MODE:-}" = vm ] && [ "$(uname -r)" = "${UBLKD_HOST_KERNEL:-}" ]; then
	fail "running on the host's kernel $(uname -r), not in the VM"
fi
[ "$(id -u)" = 0 ] || fail "not root"
[ -c /dev/ublk-control ] || fail "no /dev/ublk-control"
grep -q '^ublk_drv ' /proc/modules || [ -d /sys/module/ublk_drv ] || fail "ublk_drv is not loaded"

modprobe null_blk || fail "modprobe null_blk"
[ -b /dev/nullb0 ] || fail "modprobe null_blk made no /dev/nullb0"
cleanup rmmod null_blk
modprobe dm_flakey || fail "modprobe dm_flakey"
modprobe brd rd_nr=1 rd_size=65536 || fail "modprobe brd"
cleanup rmmod brd
[ -b /dev/ram0 ] || fail "modprobe brd made no /dev/ram0"

require_cmd mkfs.ext4
mnt=$(mktemp -d)
mkfs.ext4 -q /dev/ram0
mount /dev/ram0 "$mnt"
cleanup umount "$mnt"
head -c 1M /dev/urandom >"$mnt/data"
sum=$(cksum <"$mnt/data")
umount "$mnt"
mount -o ro /dev/ram0 "$mnt"
[ "$(cksum <"$mnt/data")" = "$sum" ] || fail "ext4 on /dev/ram0 returned other data"
echo "ext4 on brd: ok"

if command -v ublk >/dev/null; then
	ublk features || fail "ublk features failed"
else
	echo "note: no ublk program on PATH (not built yet): ublk features not checked"
fi
