#!/bin/bash
# When a queue's sparse buffer table cannot be registered (zero copy;
# injected: UBLKD_TEST_SPARSE_FAIL asks for more slots than the kernel
# allows), ublkd says so and exits 1, and tears the ring down once: a second
# io_uring_queue_exit would close the ring's fd again (EBADF here, or another
# thread's fd) and unmap its rings twice.
# timeout: 120
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd strace
ublk features | grep -Eq '^[[:space:]]*(SUPPORT_ZERO_COPY|AUTO_BUF_REG)[[:space:]]+yes' ||
	skip "kernel $(uname -r) has no ublk zero copy with registered buffers"

# The same failure without strace first: the sanitizer pass checks it for
# leaks too (LeakSanitizer cannot run under ptrace).
expect_exit 1 '^ublkd: queue [0-9]+: cannot register a sparse buffer table of 128 entries for zero copy: Invalid argument$' \
	env UBLKD_TEST_SPARSE_FAIL=1 ublkd -t null -s 64M -q 2 --zero-copy

for q in 1 2; do
	rc=0
	UBLKD_TEST_SPARSE_FAIL=1 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -qq -e trace=close,munmap -o trace.$q \
		ublkd -t null -s 64M -q $q --zero-copy >out 2>err || rc=$?
	cat err
	[ $rc = 1 ] || fail "q=$q: ublkd exited $rc, expected 1"
	grep -Eq '^ublkd: queue [0-9]+: cannot register a sparse buffer table of 128 entries for zero copy: Invalid argument$' err ||
		fail "q=$q: no message naming the failed registration: $(cat err)"
	! grep -E 'close\([0-9]+\) += -1 EBADF' trace.$q ||
		fail "q=$q: a file descriptor was closed twice (the ring torn down twice)"
	[ -z "$(ublk list)" ] || fail "q=$q: a device was left behind: $(ublk list)"
	echo "ok: q=$q: exit 1, no double close ($(grep -c 'close(' trace.$q) closes traced)"
done
echo "pass"
