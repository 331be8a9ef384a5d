#!/bin/bash
# fio randread and randwrite at QD 32, 4K and 1M, on null devices with one
# and two queues, and (where the kernel has zero copy) with --zero-copy: no
# errors, every I/O completes.  Under zero copy the null target lends
# nothing: with the explicit mechanism on offer it is chosen (automatic
# registration would register every request for nothing), 0 bytes copied.
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio

cases=("1" "2")
ublk features | grep -Eq '^[[:space:]]*SUPPORT_ZERO_COPY[[:space:]]+yes' && cases+=("1 --zero-copy")
for c in "${cases[@]}"; do
	read -r q zc <<<"$c"
	# shellcheck disable=SC2086 # $zc: zero or one option
	dev=$(ublk add -t null -q "$q" -s 4G $zc) || fail "ublk add $c failed"
	if [ -n "$zc" ]; then
		json=$(ublk list -n "${dev#/dev/ublkb}" --json)
		[ "$(jq -r '.[0].zero_copy_mechanism' <<<"$json")" = register_io_buf ] ||
			fail "null --zero-copy: mechanism $(jq -r '.[0].zero_copy_mechanism' <<<"$json"), want register_io_buf"
	fi
	for bs in 4k 1M; do
		for rw in randread randwrite; do
			out=$(fio --name=t --filename="$dev" --ioengine=io_uring --direct=1 \
				--rw=$rw --bs=$bs --iodepth=32 --numjobs=1 --time_based \
				--runtime=1 --output-format=json) || fail "fio $rw $bs q=$q failed"
			errs=$(jq '.jobs[0].error' <<<"$out")
			ios=$(jq ".jobs[0].${rw#rand}.total_ios" <<<"$out")
			[ "$errs" = 0 ] || fail "fio $rw $bs q=$q: error $errs"
			[ "$ios" -gt 0 ] || fail "fio $rw $bs q=$q: no I/O completed"
			echo "q=$q ${zc:-copy} $rw $bs: $ios I/Os, no errors"
		done
	done
	if [ -n "$zc" ]; then
		copied=$(ublk list -n "${dev#/dev/ublkb}" --json | jq -r '.[0].bytes_copied')
		[ "$copied" = 0 ] || fail "null --zero-copy copied $copied bytes"
	fi
	ublk del -n "${dev#/dev/ublkb}" || fail "del failed"
done
