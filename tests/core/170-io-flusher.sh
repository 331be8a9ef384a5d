#!/bin/bash
# Every thread that serves I/O is an I/O flusher (PR_SET_IO_FLUSHER), so
# that memory reclaim in it never waits for writeback to its own device:
# /proc/PID/task/TID/stat's flags (field 9) carry PF_MEMALLOC_NOIO
# (0x80000) and PF_LOCAL_THROTTLE (0x100000) on each queue thread.  Without
# CAP_SYS_RESOURCE the prctl fails: one warning, and the device still serves.
# timeout: 120
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd jq setpriv dd

# flags_of PID TID: field 9 of the thread's stat (after the "(comm)").
flags_of() {
	local stat
	stat=$(cat "/proc/$1/task/$2/stat")
	stat=${stat##*) }
	set -- $stat
	echo "${7}"
}

for target in "null -s 1G" "loop -f $(tmpfile 64M)"; do
	dev=$(ublk add -t $target -q 2) || fail "ublk add -t $target failed"
	id=${dev#/dev/ublkb}
	pid=$(ublk list -n "$id" --json | jq -r '.[0].pid')
	n=0
	for task in /proc/$pid/task/*; do
		tid=${task##*/}
		comm=$(cat "$task/comm")
		case $comm in ublkd-q*) ;; *) continue ;; esac
		flags=$(flags_of "$pid" "$tid")
		[ $((flags & 0x180000)) = $((0x180000)) ] ||
			fail "${target%% *}: thread $tid ($comm) flags $(printf '%#x' "$flags"): not an I/O flusher"
		n=$((n + 1))
	done
	[ $n = 2 ] || fail "${target%% *}: $n queue threads (ublkd-q*) found, expected 2: $(cat /proc/$pid/task/*/comm)"
	echo "ok: ${target%% *}: both queue threads have PF_MEMALLOC_NOIO|PF_LOCAL_THROTTLE"
	ublk del -n "$id" || fail "ublk del"
done

# Without CAP_SYS_RESOURCE: one warning for all queues, and it serves.
setpriv --inh-caps=-sys_resource --bounding-set=-sys_resource \
	ublkd -t null -s 64M -q 2 >out 2>err &
pid=$!
for ((i = 0; i < 300; i++)); do
	dev=$(grep -m1 '^/dev/ublkb' out 2>/dev/null) && break
	kill -0 $pid 2>/dev/null || fail "ublkd without CAP_SYS_RESOURCE did not start: $(cat err)"
	sleep 0.1
done
[ -n "$dev" ] || fail "ublkd did not start within 30 s"
for ((i = 0; i < 100; i++)); do [ -b "$dev" ] && break; sleep 0.05; done
dd if="$dev" of=/dev/null bs=64k count=16 iflag=direct status=none || fail "dd failed"
kill -TERM $pid
wait $pid || fail "ublkd exited $?: $(cat err)"
n=$(grep -c 'PR_SET_IO_FLUSHER' err || true)
[ "$n" = 1 ] || fail "$n PR_SET_IO_FLUSHER warnings, expected one: $(cat err)"
grep -q 'cannot mark the queue threads as I/O flushers (PR_SET_IO_FLUSHER: Operation not permitted' err ||
	fail "the warning does not say why: $(cat err)"
echo "ok: without CAP_SYS_RESOURCE: $(grep PR_SET_IO_FLUSHER err)"
echo "pass"
