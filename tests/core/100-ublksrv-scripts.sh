#!/bin/bash
# What a script written for ublksrv does, against ublk: ublksrv's flags
# (-u 1 is "complete in task", not user copy; -g 0; -b refused), the device
# id from `ublk add` (UBLK_COMPAT=ublksrv), the daemon pid, state and queue
# tids from `ublk list` by field position, and `kill -9 $pid` hits the real
# daemon, after which the state reads QUIESCED and `ublk recover` revives it.
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd jq

export UBLK_COMPAT=ublksrv
# As ublksrv's and the kernel selftests' scripts parse them.
get_dev_id()  { grep "dev id" | awk -F '[ :]' '{print $3}'; }
get_pid()     { ublk list -n "$1" | grep pid | awk '{print $7}'; }
get_state()   { ublk list -n "$1" | grep state | awk '{print $11}'; }
get_tids()    { ublk list -n "$1" | grep "queue .*: tid" | awk '{print $4}'; }

out=$(ublk add -t null -s 256M -q 2 -d 32 -u 1 -g 0 -r 1 -i 1) || fail "ublksrv-style add failed"
id=$(get_dev_id <<<"$out")
[[ "$id" =~ ^[0-9]+$ ]] || fail "no dev id in ublk add's output: $out"
[ "$(head -n1 <<<"$out")" = "/dev/ublkb$id" ] || fail "the first line is not the device path: $out"
json=$(ublk list -n "$id" --json)
[ "$(jq -r '.[0].copy_mode' <<<"$json")" = copy ] || fail "-u 1 changed the copy mode: $json"

pid=$(get_pid "$id")
[ "$pid" = "$(jq -r '.[0].pid' <<<"$json")" ] || fail "pid by field position is '$pid': $(ublk list -n "$id")"
[ "$(cat "/proc/$pid/comm")" = ublkd ] || fail "pid $pid is not a ublkd"
[ "$(get_state "$id")" = LIVE ] || fail "state by field position: $(ublk list -n "$id")"
tids=$(get_tids "$id")
[ "$(wc -w <<<"$tids")" = 2 ] || fail "want 2 queue tids: $(ublk list -n "$id")"
for t in $tids; do
	[ -d "/proc/$pid/task/$t" ] && [ "$t" != "$pid" ] ||
		fail "queue tid $t is not a thread of ublkd $pid: $(ublk list -n "$id")"
done
# Only one line each for the words scripts grep.
[ "$(ublk list -n "$id" | grep -c pid)" = 1 ] && [ "$(ublk list -n "$id" | grep -c state)" = 1 ] ||
	fail "'pid' or 'state' on more than one line: $(ublk list -n "$id")"

kill -9 "$pid"
for ((i = 0; i < 100; i++)); do
	[ "$(get_state "$id")" = QUIESCED ] && break
	sleep 0.1
done
[ "$(get_state "$id")" = QUIESCED ] || fail "state after kill -9: $(ublk list -n "$id")"
out=$(ublk recover -n "$id") || fail "recover failed"
[ "$(get_dev_id <<<"$out")" = "$id" ] || fail "no dev id in ublk recover's output: $out"
[ "$(get_state "$id")" = LIVE ] || fail "state after recover: $(ublk list -n "$id")"
[ "$(get_pid "$id")" != "$pid" ] || fail "same pid after recovery"
dd if=/dev/zero of="/dev/ublkb$id" bs=64K count=4 oflag=direct status=none || fail "I/O after recovery"
ublk del -n "$id" || fail "del"

# ublksrv's -b: batch I/O where the kernel has it, else one line naming it.
if has_feature BATCH_IO; then
	out=$(ublk add -t null -b) || fail "ublk add -t null -b failed"
	id=$(get_dev_id <<<"$out")
	ublk list -n "$id" --json | jq -e '.[0].features | index("BATCH_IO")' >/dev/null ||
		fail "-b: the device lacks BATCH_IO: $(ublk list -n "$id" --json)"
	dd if=/dev/zero of="/dev/ublkb$id" bs=64K count=4 oflag=direct status=none || fail "I/O with -b"
	ublk del -n "$id" || fail "del"
else
	expect_fail 1 "^ublkd: --batch-io needs the kernel feature UBLK_F_BATCH_IO \(Linux 7\.0\+\); this kernel \(.*\) does not have it$" \
		ublk add -t null -b
fi
expect_fail 1 "invalid value '2' for -u: expected 0 or 1" ublk add -t null -u 2
[ -z "$(ublk list)" ] || fail "devices left behind: $(ublk list)"
