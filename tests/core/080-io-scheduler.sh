#!/bin/bash
# The block device's I/O scheduler: none by default (as the kernel's loop
# driver; blk-mq would pick mq-deadline for one queue), any the kernel
# offers with --io-scheduler or the io_scheduler key, 'keep' leaves the
# kernel's choice; one the kernel lacks is a one-line error and no device.
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'

sched() { sed -n 's/.*\[\(.*\)\].*/\1/p' "/sys/block/$(basename "$1")/queue/scheduler"; }
offered() { cat "/sys/block/$(basename "$1")/queue/scheduler"; }

dev=$(ublk add -t null -q 1) || fail "add"
[ "$(sched "$dev")" = none ] || fail "default scheduler: $(offered "$dev"), want none"
grep -qw mq-deadline "/sys/block/$(basename "$dev")/queue/scheduler" ||
	skip "this kernel offers no mq-deadline: $(offered "$dev")"
ublk del -a

dev=$(ublk add -t null -q 1 --io-scheduler mq-deadline) || fail "add --io-scheduler mq-deadline"
[ "$(sched "$dev")" = mq-deadline ] || fail "--io-scheduler mq-deadline: $(offered "$dev")"
ublk del -a

# keep: what blk-mq gives a one-queue device (mq-deadline, when offered).
dev=$(ublk add -t null -q 1 --io-scheduler keep) || fail "add --io-scheduler keep"
[ "$(sched "$dev")" = mq-deadline ] || fail "--io-scheduler keep: $(offered "$dev")"
ublk del -a

conf=$(tmpfile 0)
printf 'target = "null";\nqueues = 1;\nio_scheduler = "mq-deadline";\n' >"$conf"
dev=$(ublk add --config "$conf") || fail "add --config with io_scheduler"
[ "$(sched "$dev")" = mq-deadline ] || fail "io_scheduler key: $(offered "$dev")"
ublk del -a

expect_fail 1 "cannot use I/O scheduler 'nosuch' for /dev/ublkb[0-9]+ .*the kernel offers: .*none.*: pick one the kernel offers with --io-scheduler, or 'keep'" \
	ublk add -t null --io-scheduler nosuch
[ -z "$(ublk list)" ] || fail "a device was left behind: $(ublk list)"
expect_fail 1 "invalid value 'No/Such' for --io-scheduler: expected an I/O scheduler name" \
	ublk add -t null --io-scheduler No/Such
echo "pass"
