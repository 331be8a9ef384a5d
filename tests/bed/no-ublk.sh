#!/usr/bin/env bash
# A kernel without ublk (bookworm's 6.1) is refused before booting it. The first
# run downloads bookworm's kernel package once (~70 MB); later runs use the cache.
# timeout: 400
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
[ "${UBLKD_VM_TESTS:-yes}" != no ] || skip "VM tests disabled (--disable-vm-tests)"

expect_exit 243 'kernel bookworm .* has no ublk driver' \
	"$UBLKD_SRCDIR/tests/vm/run" --kernel bookworm -- true
