#!/bin/bash
# `ublk del --force` while fio runs: fio ends (errors allowed), nothing
# hangs, the daemon exits, no /run/ublkd leftovers.  (Without --force,
# `ublk del` refuses a device in use: core/090.)
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a --force >/dev/null 2>&1'
require_cmd fio

for q in 1 2; do
	dev=$(ublk add -t null -q "$q" -s 4G) || fail "add failed"
	id=${dev#/dev/ublkb}
	pid=$(ublk list -n "$id" --json | jq -r '.[0].pid')
	fio --name=t --filename="$dev" --ioengine=io_uring --direct=1 --rw=randrw \
		--bs=4k --iodepth=64 --numjobs=2 --time_based --runtime=60 \
		--output=/dev/null >/dev/null 2>&1 &
	fio_pid=$!
	sleep 2
	timeout 30 ublk del --force -n "$id" || fail "ublk del --force hung or failed"
	timeout 30 tail --pid=$fio_pid -f /dev/null || fail "fio did not end after del"
	wait $fio_pid || true
	! kill -0 "$pid" 2>/dev/null || fail "daemon $pid still running"
	[ ! -e "$dev" ] || fail "$dev still there"
	[ -z "$(ls /run/ublkd 2>/dev/null)" ] || fail "leftovers in /run/ublkd: $(ls /run/ublkd)"
	[ -z "$(ublk list)" ] || fail "ublk list not empty"
done
