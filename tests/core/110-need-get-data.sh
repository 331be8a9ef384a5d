#!/bin/bash
# -g 1 (ublksrv's NEED_GET_DATA, Linux 6.0+): every WRITE arrives without its
# data and ublkd fetches it with UBLK_IO_NEED_GET_DATA into its buffer; fio
# write+verify on loop, writes on null, in the copy mode.  -g 1 with user
# copy or zero copy is refused.
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio jq

ublk features | grep -Eq '^[[:space:]]*NEED_GET_DATA[[:space:]]+yes' ||
	skip "kernel $(uname -r) has no NEED_GET_DATA"
img=$(tmpfile 64M)
dev=$(ublk add -t loop -f "$img" -q 2 -g 1) || fail "add loop -g 1"
id=${dev#/dev/ublkb}
jq -e '.[0].features | index("NEED_GET_DATA")' <<<"$(ublk list -n "$id" --json)" >/dev/null ||
	fail "device lacks NEED_GET_DATA: $(ublk list -n "$id" --json)"
fio_verify "$dev" --size=8M --bsrange=4k-256k
ublk del -n "$id" || fail "del loop"

dev=$(ublk add -t null -s 1G -q 2 -g 1) || fail "add null -g 1"
fio --name=w --filename="$dev" --ioengine=io_uring --direct=1 --rw=randwrite \
	--bsrange=4k-512k --iodepth=16 --size=64M --exitall_on_error=1 >/dev/null ||
	fail "fio writes on null -g 1 failed"
ublk del -n "${dev#/dev/ublkb}" || fail "del null"

expect_fail 1 "-g 1 \(NEED_GET_DATA\) only applies to the copy mode: drop -g 1, or --user-copy/--zero-copy" \
	ublk add -t null -g 1 --user-copy
[ -z "$(ublk list)" ] || fail "devices left behind: $(ublk list)"
