#!/usr/bin/env bash
# A kernel panic ends the VM at once with its own status, message and kernel log.
# timeout: 200
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
[ "${UBLKD_VM_TESTS:-yes}" != no ] || skip "VM tests disabled (--disable-vm-tests)"

rc=0
"$UBLKD_SRCDIR/tests/vm/run" --vm --cpus 1 --timeout 120 -- sh -c 'echo c >/proc/sysrq-trigger' 2>err || rc=$?
cat err
[ $rc = 241 ] || fail "exited $rc, expected 241"
tail -n1 err | grep -q '^tests/vm/run: kernel panic' || fail "no 'kernel panic' message"
grep -q 'sysrq triggered crash' err || fail "the kernel log tail does not show the panic"
