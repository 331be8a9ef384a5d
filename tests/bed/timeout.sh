#!/usr/bin/env bash
# A command that hangs is stopped by --timeout with its own status and message.
# timeout: 200
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
[ "${UBLKD_VM_TESTS:-yes}" != no ] || skip "VM tests disabled (--disable-vm-tests)"

start=$SECONDS
expect_exit 240 '^tests/vm/run: timed out after 30s' \
	"$UBLKD_SRCDIR/tests/vm/run" --vm --cpus 1 --timeout 30 -- sleep 1000
[ $((SECONDS - start)) -lt 60 ] || fail "took $((SECONDS - start))s to stop"
