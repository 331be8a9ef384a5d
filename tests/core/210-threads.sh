#!/bin/bash
# --threads N: N threads serve one hardware queue, each with its own
# io_uring and every Nth tag (UBLK_F_PER_IO_DAEMON, Linux 6.16+).
#   Everywhere: what is refused, one line each (a target that keeps state
#   per queue id, more threads than tags, out of range; before 6.16 the
#   kernel feature, by name).  A hand-edited recovery record asking for
#   threads: one thread and a warning where the device lacks the flag.
#   6.16+: null -q 1 --threads 2 has threads ublkd-q0 and ublkd-q0.1, and
#   with two fio jobs on it, each thread serves requests of its own
#   (`ublk stat -v --json`: queue 0, threads 0 and 1, reads > 0 each);
#   loop -q 1 --threads 2 keeps data intact (fio crc32c write + verify)
#   in every copy mode the kernel has; a kill -9 and `ublk recover`, then
#   `ublk upgrade`, under write + verify I/O come back with two threads
#   again, and no I/O failed.
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio jq
. "$(dirname "$0")/../lib/crash.bash"

expect_fail 1 "target nbd cannot serve one queue from several threads \(--threads 2\): drop --threads, or give it more queues \(-q\)" \
	ublk add -t nbd --threads 2
expect_fail 1 "--threads 4 is more than the queue depth 2: each thread serves its share of the tags; lower --threads or raise --depth" \
	ublk add -t null -d 2 --threads 4
expect_fail 1 "invalid value '0' for --threads: expected a thread count from 1 to 16" \
	ublk add -t null --threads 0
expect_fail 1 "invalid value '17' for --threads" ublk add -t null --threads 17

# thread_names PID: the comm of each queue thread, sorted, on one line.
thread_names() {
	local t names=()
	for t in /proc/"$1"/task/*/comm; do
		read -r c <"$t" || continue
		case $c in ublkd-q*) names+=("$c") ;; esac
	done
	printf '%s\n' "${names[@]}" | sort | tr '\n' ' '
}

# A recovery record that asks for threads (a hand edit): on a device whose
# kernel flags lack UBLK_F_PER_IO_DAEMON (6.12; 7.3 sets it on every device)
# the recovering daemon warns and serves one thread per queue, as the kernel
# would refuse a second thread's fetches; with the flag, it serves two.
dev=$(ublk add -t null -s 64M -q 1) || fail "ublk add -t null failed"
id=${dev#/dev/ublkb}
read -r pid flags <<<"$(ublk list -n "$id" --json | jq -r '.[0] | "\(.pid) \(.flags)"')"
echo 'threads = 2;' >>"${UBLKD_RUNDIR:-/run/ublkd}/$id.conf"
kill -9 "$pid"
for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
out=$(ublk recover -n "$id" 2>"$TMPDIR/rec.err") && [ "$out" = "$dev" ] ||
	fail "ublk recover after a hand-edited record failed: $(cat "$TMPDIR/rec.err")"
warning="device $id was added without per-I/O daemons (UBLK_F_PER_IO_DAEMON): recovering it with one thread per queue, not --threads 2"
pid=$(ublk list -n "$id" --json | jq -r '.[0].pid')
names=$(thread_names "$pid")
if ((flags & 0x2000)); then
	! grep -qF "$warning" "$TMPDIR/rec.err" || fail "warned though the device has the flag"
	[ "$names" = "ublkd-q0 ublkd-q0.1 " ] || fail "recovered with queue threads '$names', want 2"
	echo "ok: a record asking for 2 threads, device flags $flags (PER_IO_DAEMON set): two threads"
else
	grep -qF "$warning" "$TMPDIR/rec.err" ||
		fail "no warning about the record's threads: $(cat "$TMPDIR/rec.err")"
	[ "$names" = "ublkd-q0 " ] || fail "recovered with queue threads '$names', want ublkd-q0 alone"
	echo "ok: a record asking for 2 threads, device flags $flags (no PER_IO_DAEMON): warned, one thread"
fi
ublk del -n "$id" || fail "ublk del"

if ! has_feature PER_IO_DAEMON; then
	expect_fail 1 "--threads needs the kernel feature UBLK_F_PER_IO_DAEMON \(Linux 6\.16\+\); this kernel \(.*\) does not have it" \
		ublk add -t null --threads 2
	echo "ok: refused on $(uname -r): no UBLK_F_PER_IO_DAEMON"
	echo "pass"
	exit 0
fi

# null: both threads serve.
dev=$(ublk add -t null -s 1G -q 1 --threads 2) || fail "ublk add -t null --threads 2 failed"
id=${dev#/dev/ublkb}
pid=$(ublk list -n "$id" --json | jq -r '.[0].pid')
names=$(thread_names "$pid")
[ "$names" = "ublkd-q0 ublkd-q0.1 " ] || fail "queue threads '$names', want ublkd-q0 ublkd-q0.1"
fio --name=two --filename="$dev" --ioengine=io_uring --direct=1 --rw=randread --bs=4k \
	--iodepth=32 --numjobs=2 --size=1G --io_size=32M --group_reporting >/dev/null ||
	fail "fio on null --threads 2 failed"
stat=$(ublk stat -n "$id" -v --json)
jq -e '.[0].queues == 1 and .[0].threads_per_queue == 2' <<<"$stat" >/dev/null ||
	fail "ublk stat: want 1 queue of 2 threads: $stat"
per=$(jq -r '.[0].queue_stats[] | "\(.queue).\(.thread)=\(.totals.requests.read)"' <<<"$stat" | tr '\n' ' ')
[[ $per =~ ^0\.0=([0-9]+)\ 0\.1=([0-9]+)\ $ ]] || fail "ublk stat's queue_stats: $per"
[ "${BASH_REMATCH[1]}" -gt 0 ] && [ "${BASH_REMATCH[2]}" -gt 0 ] ||
	fail "a thread served no reads: $per"
echo "ok: null -q 1 --threads 2: threads $names; reads per queue.thread: $per"
ublk del -n "$id" || fail "ublk del"

# loop: data intact in every copy mode, then across a crash.
mapfile -t modes <<<"$(data_modes)"
img=$(tmpfile 64M)
for mode in "${modes[@]}"; do
	# shellcheck disable=SC2086
	dev=$(ublk add -t loop -f "$img" -q 1 --threads 2 $mode) || fail "loop --threads 2 $mode: add failed"
	fio_verify "$dev" --rw=randwrite --bssplit=4k/40:64k/40:512k/20 --iodepth=32 \
		--numjobs=2 --size=8M --offset_increment=16M ||
		fail "loop --threads 2 $mode: fio verify failed"
	echo "ok: loop -q 1 --threads 2 $mode: fio crc32c write + verify"
	ublk del -n "${dev#/dev/ublkb}" || fail "ublk del"
done

dev=$(ublk add -t loop -f "$img" -q 1 --threads 2) || fail "loop --threads 2: add failed"
id=${dev#/dev/ublkb}
io_start "$dev" verify 16M
crash_cycles "$id" 1 "out=\$(ublk recover -n $id) && [ \"\$out\" = $dev ]"
pid=$(ublk list -n "$id" --json | jq -r '.[0].pid')
names=$(thread_names "$pid")
[ "$names" = "ublkd-q0 ublkd-q0.1 " ] || fail "after recovery, queue threads '$names', want ublkd-q0 ublkd-q0.1"
echo "ok: kill -9 and ublk recover: threads $names again"
sleep 0.5
ublk upgrade -n "$id" >/dev/null 2>"$TMPDIR/err" || fail "ublk upgrade failed: $(cat "$TMPDIR/err")"
new=$(ublk list -n "$id" --json | jq -r '.[0].pid')
[ "$new" != "$pid" ] || fail "ublk upgrade left pid $pid serving"
names=$(thread_names "$new")
[ "$names" = "ublkd-q0 ublkd-q0.1 " ] || fail "after the upgrade, queue threads '$names', want ublkd-q0 ublkd-q0.1"
sleep 0.5
io_stop
echo "ok: ublk upgrade under I/O: pid $pid -> $new, threads $names"
ublk del -n "$id" || fail "ublk del"
echo "pass"
