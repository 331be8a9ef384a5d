#!/bin/bash
# fio randread and randwrite at QD 32, 4K and 1M, on null devices with one
# and two queues: no errors, every I/O completes.
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio

for q in 1 2; do
	dev=$(ublk add -t null -q "$q" -s 4G) || fail "ublk add failed"
	for bs in 4k 1M; do
		for rw in randread randwrite; do
			out=$(fio --name=t --filename="$dev" --ioengine=io_uring --direct=1 \
				--rw=$rw --bs=$bs --iodepth=32 --numjobs=1 --time_based \
				--runtime=3 --output-format=json) || fail "fio $rw $bs q=$q failed"
			errs=$(jq '.jobs[0].error' <<<"$out")
			ios=$(jq ".jobs[0].${rw#rand}.total_ios" <<<"$out")
			[ "$errs" = 0 ] || fail "fio $rw $bs q=$q: error $errs"
			[ "$ios" -gt 0 ] || fail "fio $rw $bs q=$q: no I/O completed"
			echo "q=$q $rw $bs: $ios I/Os, no errors"
		done
	done
	ublk del -n "${dev#/dev/ublkb}" || fail "del failed"
done
