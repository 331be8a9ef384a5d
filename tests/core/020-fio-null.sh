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
if has_feature SUPPORT_ZERO_COPY; then cases+=("1 --zero-copy"); fi
for c in "${cases[@]}"; do
	read -r q zc <<<"$c"
	# shellcheck disable=SC2086 # $zc: zero or one option
	dev=$(ublk add -t null -q "$q" -s 4G $zc) || fail "ublk add $c failed"
	if [ -n "$zc" ]; then
		mech=$(ublk list -n "${dev#/dev/ublkb}" --json | jq -r '.[0].zero_copy_mechanism')
		[ "$mech" = register_io_buf ] ||
			fail "null --zero-copy: mechanism $mech, want register_io_buf"
	fi
	# The four runs one after the other (stonewall) in one fio and one jq:
	# in the test VM each program start costs 0.2-0.5 s.
	jobs=()
	for bs in 4k 1M; do
		for rw in randread randwrite; do
			jobs+=(--name="$rw-$bs" --rw="$rw" --bs="$bs" --stonewall)
		done
	done
	out=$(fio --output-format=json --filename="$dev" --ioengine=io_uring --direct=1 \
		--iodepth=32 --numjobs=1 --time_based --runtime=1 "${jobs[@]}") ||
		fail "fio on q=$q ${zc:-copy} failed"
	res=$(jq -r '.jobs[] | (.jobname | split("-")[0] | ltrimstr("rand")) as $d | "\(.jobname) \(.error) \(.[$d].total_ios)"' <<<"$out") ||
		fail "fio's json: $out"
	n=0
	while read -r job errs ios; do
		n=$((n + 1))
		[ "$errs" = 0 ] || fail "fio $job q=$q: error $errs"
		[ "$ios" -gt 0 ] || fail "fio $job q=$q: no I/O completed"
		echo "q=$q ${zc:-copy} $job: $ios I/Os, no errors"
	done <<<"$res"
	[ $n = 4 ] || fail "fio reported $n jobs, want 4: $res"
	if [ -n "$zc" ]; then
		copied=$(ublk list -n "${dev#/dev/ublkb}" --json | jq -r '.[0].bytes_copied')
		[ "$copied" = 0 ] || fail "null --zero-copy copied $copied bytes"
	fi
	ublk del -n "${dev#/dev/ublkb}" || fail "del failed"
done
