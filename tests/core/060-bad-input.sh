#!/bin/bash
# Every mistake a user can make on `ublk add` gets one line naming the cause
# and the fix, a non-zero exit, and leaves no device behind.
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'

expect_fail 1 "unknown target 'nosuch': no nosuch.so in .* \(available: .*null" \
	ublk add -t nosuch
expect_fail 1 "no target given: use -t TYPE" ublk add -s 1G
expect_fail 1 "invalid value '0' for -s/--size: expected a size above 0" ublk add -t null -s 0
expect_fail 1 "invalid value '12Q' for -s/--size" ublk add -t null -s 12Q
expect_fail 1 "invalid value '1000' for -s/--size: expected a multiple of 512" ublk add -t null -s 1000
expect_fail 1 "invalid value '0' for -q/--queues: expected a queue count from 1 to 64" \
	ublk add -t null -q 0
expect_fail 1 "invalid value '65' for -q/--queues" ublk add -t null -q 65
expect_fail 1 "invalid value '0' for -d/--depth: expected a queue depth from 1 to 4096" \
	ublk add -t null -d 0
expect_fail 1 "invalid value '4097' for -d/--depth" ublk add -t null -d 4097
expect_fail 1 "invalid value 'x' for -n/--number" ublk add -t null -n x
expect_fail 1 "unknown option '--bogus' for target null; see 'ublk help -t null'" \
	ublk add -t null --bogus
expect_fail 1 "option -q needs a value" ublk add -t null -q
expect_fail 1 "unexpected argument 'extra'" ublk add -t null extra
expect_fail 1 "unknown command 'frobnicate'; see 'ublk help'" ublk frobnicate
expect_fail 1 "no ublk device 77 \(see 'ublk list'\)" ublk del -n 77
expect_fail 1 "which device\? use 'ublk del -n ID'" ublk del

# Copy-mode requests the kernel or the target cannot honour.
expect_fail 1 "--zc-mechanism only applies to zero copy: add --zero-copy" \
	ublk add -t null --zc-mechanism=register
if ublk features | grep -q '^zero copy: no'; then
	expect_fail 1 "--zero-copy needs a kernel with ublk zero copy \(Linux 6\.15\+, automatic buffer registration 6\.16\+\); this kernel \(.*\) has none: run a newer kernel, apply ublkd's kernel/ series to 6\.12, or drop --zero-copy" \
		ublk add -t null --zero-copy
	expect_fail 1 "--zc-mechanism=auto needs the kernel feature UBLK_F_AUTO_BUF_REG \(Linux 6\.16\+\)" \
		ublk add -t null --zero-copy --zc-mechanism=auto
fi

# A device id already taken.
dev=$(ublk add -t null -n 5 -s 1G) || fail "add -n 5 failed"
[ "$dev" = /dev/ublkb5 ] || fail "asked for id 5, got $dev"
expect_fail 1 "device id 5 is already taken: pick another -n" ublk add -t null -n 5
ublk del -n 5 || fail "del 5"

# The plugin file missing, or built for another API version.
expect_fail 1 "unknown target 'null': no null.so in /nonexistent" \
	env UBLKD_PLUGIN_DIR=/nonexistent ublk add -t null
tmp=$(mktemp -d)
cat >"$tmp/old.c" <<'C'
#include <ublkd/target.h>
static void qio(struct ublkd_queue *q, struct ublkd_io *io) { }
static int op(struct ublkd_target *t, struct ublkd_setup *s) { return 0; }
static const struct ublkd_target_ops ops = {
	.api_version = UBLKD_TARGET_API_VERSION + 1, .struct_size = sizeof(ops),
	.name = "old", .open = op, .queue_io = qio,
};
UBLKD_REGISTER_TARGET(ops)
C
if command -v gcc >/dev/null; then
	gcc -shared -fPIC -I"$UBLKD_SRCDIR/include" -o "$tmp/old.so" "$tmp/old.c" ||
		fail "cannot build the test plugin"
	expect_fail 1 "old.so was built for target API version 2, this ublkd speaks version 1: rebuild" \
		ublk add -t "$tmp/old.so"
	echo 'int x;' >"$tmp/notarget.c"
	gcc -shared -fPIC -o "$tmp/notarget.so" "$tmp/notarget.c"
	expect_fail 1 "notarget.so is not a ublkd target: it has no ublkd_target_entry" \
		ublk add -t "$tmp/notarget.so"
fi
rm -rf "$tmp"

# Not root: /dev/ublk-control is root's.
expect_fail 1 "cannot open /dev/ublk-control: permission denied; run as root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups ublk add -t null
expect_fail 1 "cannot open /dev/ublk-control: permission denied; run as root" \
	setpriv --reuid=65534 --regid=65534 --clear-groups ublk list

# No ublk driver: a mount namespace whose /dev lacks ublk-control.
expect_fail 1 "/dev/ublk-control not found: the ublk driver is not loaded; run 'modprobe ublk_drv'" \
	unshare -m sh -c 'mount -t tmpfs none /dev && exec ublk add -t null'
expect_fail 1 "/dev/ublk-control not found" \
	unshare -m sh -c 'mount -t tmpfs none /dev && exec ublk features'

[ -z "$(ublk list)" ] || fail "devices left behind: $(ublk list)"
[ -z "$(ls /run/ublkd 2>/dev/null)" ] || fail "state files left: $(ls /run/ublkd)"
