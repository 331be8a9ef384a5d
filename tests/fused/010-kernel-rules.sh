#!/usr/bin/env bash
# The kernel rules of the fused-command zero-copy series (kernel/patches):
# direction, sub-ranges, concurrent secondaries, no completion while lent,
# idle tags, non-ublk primaries, fused commands from another process,
# unprivileged devices, short secondaries in links, STOP/DEL while lent.
# Then every kernel warning in dmesg since boot fails the test, not only
# lines about ublk.  Skipped on kernels without the series.
# timeout: 300
. "$(dirname "$0")/../lib/common.sh"
prog=$UBLKD_BUILDDIR/kernel/tests/fused-test
[ -x "$prog" ] || fail "$prog is not built (make check builds it)"
rc=0
"$prog" || rc=$?
[ $rc = 77 ] && skip "kernel $(uname -r) does not have the fused-command series"
[ $rc = 0 ] || fail "fused-test: exit $rc"
# ublkd's detection: the feature bit and io_uring's probe listing opcode 255
ublk features | grep -q '^  FUSED_ZERO_COPY *yes' ||
	fail "the kernel has the series, but 'ublk features' does not report FUSED_ZERO_COPY"
# the patterns kernel/README lists for this lockdep/debug kernel
dmesg | grep -E 'WARNING:|BUG:|INFO: possible|Call Trace|circular locking|inconsistent lock|blocked for more than|general protection|Oops' &&
	fail "kernel warnings in dmesg"
exit 0
