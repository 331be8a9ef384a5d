#!/usr/bin/env bash
# The kernel rules of the fused-command zero-copy series (kernel/patches):
# direction, sub-ranges, concurrent secondaries, no completion while lent,
# idle tags, non-ublk primaries.  Skipped on kernels without the series.
# timeout: 300
. "$(dirname "$0")/../lib/common.sh"
prog=$UBLKD_BUILDDIR/kernel/tests/fused-test
[ -x "$prog" ] || fail "$prog is not built (make check builds it)"
rc=0
"$prog" || rc=$?
[ $rc = 77 ] && skip "kernel $(uname -r) does not have the fused-command series"
[ $rc = 0 ] || fail "fused-test: exit $rc"
dmesg | grep -E 'WARNING:|BUG:|possible circular|inconsistent lock' && fail "kernel warnings in dmesg"
exit 0
