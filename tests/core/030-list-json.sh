#!/bin/bash
# `ublk list --json` is valid JSON with every field ublk(8) promises, and
# agrees with the kernel and with `ublk list -v`.
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'

[ "$(ublk list --json)" = "[]" ] || fail "list --json without devices is not []"
a=$(ublk add -t null -s 64M -q 1) || fail "add a"
b=$(ublk add -t null -s 128M -q 2 -d 64) || fail "add b"
json=$(ublk list --json)
jq -e . <<<"$json" >/dev/null || fail "not valid JSON: $json"
[ "$(jq length <<<"$json")" = 2 ] || fail "want 2 devices: $json"
for f in id state block_device char_device queues depth size logical_block_size \
	 physical_block_size max_io_bytes read_only integrity flags features daemon_running pid \
	 target description copy_mode zero_copy_mechanism options bytes_copied; do
	jq -e "all(.[]; has(\"$f\"))" <<<"$json" >/dev/null || fail "field $f missing: $json"
done
idb=${b#/dev/ublkb}
jb=$(ublk list -n "$idb" --json)
[ "$(jq -r '.[0].state' <<<"$jb")" = live ] || fail "state not live"
[ "$(jq -r '.[0].size' <<<"$jb")" = $((128 << 20)) ] || fail "size wrong"
[ "$(jq -r '.[0].depth' <<<"$jb")" = 64 ] || fail "depth wrong"
[ "$(jq -r '.[0].target' <<<"$jb")" = null ] || fail "target wrong"
[ "$(jq -r '.[0].copy_mode' <<<"$jb")" = copy ] || fail "copy mode wrong"
[ "$(jq -r '.[0].integrity' <<<"$jb")" = null ] || fail "integrity not null without --integrity"
[ "$(jq -r '.[0].daemon_running' <<<"$jb")" = true ] || fail "daemon not running"
pid=$(jq -r '.[0].pid' <<<"$jb")
[ "$(cat /proc/$pid/comm)" = ublkd ] || fail "pid $pid is not ublkd"
[ "$(jq -r '.[0].block_device' <<<"$jb")" = "$b" ] || fail "block_device wrong"
ublk list -v | grep -q "^dev id $idb: nr_hw_queues 2 queue_depth 64 block size 512 dev_capacity 262144$" ||
	fail "list -v: $(ublk list -v)"
ublk list -v | grep -q "^	$b: size 128 MiB, target null, copy_mode copy, daemon running$" ||
	fail "list -v: $(ublk list -v)"
ublk list -v | grep -q "options: .*-t null" || fail "list -v lacks options"
ublk del -a || fail "del -a"
[ "$(ublk list --json)" = "[]" ] || fail "devices left after del -a"
