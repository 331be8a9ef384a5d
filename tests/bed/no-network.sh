#!/usr/bin/env bash
# With an empty cache and no way to the mirror, tests/vm/run fails at once with its
# own status and says why.
# timeout: 60
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

export UBLKD_TEST_CACHE=$TMPDIR/empty-cache
vm=("$UBLKD_SRCDIR/tests/vm/run" --vm -- true)
if unshare -n true 2>/dev/null; then
	expect_exit 244 'cannot download it and none is cached' unshare -n "${vm[@]}"
fi
# Also through an unreachable mirror (works where unshare does not).
UBLKD_DEBIAN_MIRROR=http://127.0.0.1:9/debian \
	expect_exit 244 'cannot download it and none is cached' "${vm[@]}"
