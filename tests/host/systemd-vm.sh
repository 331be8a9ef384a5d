#!/usr/bin/env bash
# ublkd@.service under real systemd: boots the test VM with systemd as PID 1
# (tests/vm/run-systemd) once and runs there tests/ops/040-systemd.sh (start
# from a conf file, status text, kill -9 during fio verify -> restart ->
# recovery with no I/O error, stop removes the device) and then
# tests/ops/050-systemd-ops.sh (the README's /etc/ublkd steps, the I/O
# scheduler inside the sandbox, no restart loop on a broken config, 5 stops (20 under make check-stress)
# that leave no runtime state).  UBLKD_SYSTEMD_TESTS="050" runs only some.
# timeout: 1560
. "$(dirname "$0")/../lib/common.sh"
[ "${UBLKD_VM_TESTS:-yes}" != no ] || skip "real-kernel tests are off (--disable-vm-tests)"
[ -x "$UBLKD_BUILDDIR/ublkd/ublkd" ] || fail "ublkd is not built in $UBLKD_BUILDDIR"
tests=()
for t in ${UBLKD_SYSTEMD_TESTS:-040 050 080}; do
	tests+=("$(echo "$UBLKD_SRCDIR"/tests/ops/"$t"-*.sh)")
done
# One boot; each test's result on its own line, the first failure fails this.
exec "$UBLKD_SRCDIR/tests/vm/run-systemd" --timeout 1500 -- bash -c '
	rc=0
	for t; do
		r=0
		"$t" || r=$?
		echo "==== $(basename "$t"): exit $r"
		[ $r = 0 ] || [ $r = 77 ] || [ $rc != 0 ] || rc=$r
	done
	exit $rc' systemd-tests "${tests[@]}"
