#!/bin/bash
# Crash recovery (the default, --recovery=reissue): kill -9 of the daemon
# while fio runs leaves the device waiting, not deleted; `ublk recover`
# starts a new daemon that takes it over, and fio sees delay, not errors.
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio

for mode in "" --user-copy; do
	dev=$(ublk add -t null -s 1G -q 2 $mode) || fail "add failed"
	id=${dev#/dev/ublkb}
	fio --name=t --filename="$dev" --ioengine=io_uring --direct=1 --rw=randrw \
		--bs=4k --iodepth=32 --numjobs=2 --time_based --runtime=15 \
		--output-format=json --output=/tmp/fio.json >/dev/null 2>&1 &
	fio_pid=$!
	for cycle in 1 2 3; do
		sleep 2
		pid=$(ublk list -n "$id" --json | jq -r '.[0].pid')
		[ "$pid" != null ] || fail "cycle $cycle: no daemon before kill"
		kill -9 "$pid"
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		json=$(ublk list -n "$id" --json)
		state=$(jq -r '.[0].state' <<<"$json")
		[ "$state" = quiesced ] || [ "$state" = live ] || fail "cycle $cycle: state $state after kill"
		[ -b "$dev" ] || fail "cycle $cycle: $dev vanished with its daemon"
		[ "$(jq -r '.[0].daemon_running' <<<"$json")" = false ] || fail "daemon still listed"
		out=$(ublk recover -n "$id") || fail "cycle $cycle: ublk recover failed"
		[ "$out" = "$dev" ] || fail "recover printed '$out', want $dev"
		json=$(ublk list -n "$id" --json)
		[ "$(jq -r '.[0].state' <<<"$json")" = live ] || fail "cycle $cycle: not live after recover"
		[ "$(jq -r '.[0].daemon_running' <<<"$json")" = true ] || fail "no daemon after recover"
		echo "mode=[$mode] cycle $cycle: killed $pid, recovered by $(jq -r '.[0].pid' <<<"$json")"
	done
	wait $fio_pid || fail "mode=[$mode]: fio failed across recovery: $(cat /tmp/fio.json)"
	errs=$(jq '.jobs | map(.error) | add' /tmp/fio.json)
	[ "$errs" = 0 ] || fail "fio saw errors: $errs"
	ios=$(jq '.jobs | map(.read.total_ios + .write.total_ios) | add' /tmp/fio.json)
	echo "mode=[$mode]: $ios I/Os across 3 crashes, 0 errors"
	[ "$(jq -r '.[0].copy_mode' <<<"$(ublk list -n "$id" --json)")" = "${mode:+user_copy}" ] ||
		[ -z "$mode" ] || fail "copy mode not kept across recovery"
	ublk del -n "$id" || fail "del after recovery"
done

# What recover refuses, each with its reason.
dev=$(ublk add -t null -s 64M) || fail "add"
id=${dev#/dev/ublkb}
expect_fail 1 "device $id is served by a running ublkd \(pid [0-9]+\): nothing to recover" \
	ublk recover -n "$id"
ublk del -n "$id"
dev=$(ublk add -t null -s 64M --recovery off) || fail "add off"
id=${dev#/dev/ublkb}
kill -9 "$(ublk list -n "$id" --json | jq -r '.[0].pid')"
sleep 1
expect_fail 1 "cannot recover device $id: it is dead and was created with --recovery=off; delete it with 'ublk del -n $id'" \
	ublk recover -n "$id"
ublk del -n "$id" || fail "del"
expect_fail 1 "no saved options for device 42" ublk recover -n 42
expect_fail 1 "usage: ublk recover -n ID" ublk recover
