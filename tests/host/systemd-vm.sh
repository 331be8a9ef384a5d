#!/usr/bin/env bash
# ublkd@.service under real systemd: boots the test VM with systemd as PID 1
# (tests/vm/run-systemd) and runs tests/ops/040-systemd.sh there: start from
# a conf file, status text, kill -9 during fio verify -> restart -> recovery
# with no I/O error, stop removes the device.
# timeout: 900
. "$(dirname "$0")/../lib/common.sh"
[ "${UBLKD_VM_TESTS:-yes}" != no ] || skip "real-kernel tests are off (--disable-vm-tests)"
[ -x "$UBLKD_BUILDDIR/ublkd/ublkd" ] || fail "ublkd is not built in $UBLKD_BUILDDIR"
exec "$UBLKD_SRCDIR/tests/vm/run-systemd" --timeout 840 -- "$UBLKD_SRCDIR/tests/ops/040-systemd.sh"
