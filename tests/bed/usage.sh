#!/usr/bin/env bash
# tests/vm/run's quick refusals: bad usage, no QEMU, --native without ublk.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
vm=$UBLKD_SRCDIR/tests/vm/run

expect_fail 2 'no command given' "$vm"
expect_fail 2 "'abc' is not a positive number" "$vm" --timeout abc -- true
expect_fail 2 "unknown option '--bogus'" "$vm" --bogus -- true
UBLKD_QEMU=/nonexistent/qemu-system-x86_64 \
	expect_fail 245 "QEMU '/nonexistent/qemu-system-x86_64' not found" "$vm" --vm -- true
if [ -c /dev/ublk-control ]; then
	echo "this host has /dev/ublk-control: --native refusal not checked"
else
	expect_fail 246 'no /dev/ublk-control' "$vm" --native -- true
fi
"$vm" --help | grep -q '^  240  timed out' || fail "--help does not list the exit codes"
