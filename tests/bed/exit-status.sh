#!/usr/bin/env bash
# tests/vm/run passes the command's exit status through (also above 127), keeps
# stdout and stderr apart, and reports a missing command with 127 and one line.
# timeout: 400
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
[ "${UBLKD_VM_TESTS:-yes}" != no ] || skip "VM tests disabled (--disable-vm-tests)"
vm=$UBLKD_SRCDIR/tests/vm/run

# Each boot costs ~20 s under emulation: one boot checks a status above 127
# and stdout/stderr kept apart; exit 0 is what every other VM test relies on.
rc=0
"$vm" --vm --cpus 1 -- sh -c 'echo out; echo err >&2; exit 200' >stdout 2>stderr || rc=$?
[ $rc = 200 ] || fail "'exit 200' exited $rc"
[ "$(cat stdout)" = out ] || fail "stdout was '$(cat stdout)', expected 'out'"
[ "$(cat stderr)" = err ] || fail "stderr was '$(cat stderr)', expected 'err'"
echo "ok: exit 200, stdout and stderr apart"

expect_fail 127 'no-such-command-x: command not found' "$vm" --vm --cpus 1 -- no-such-command-x
