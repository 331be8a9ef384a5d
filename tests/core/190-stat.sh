#!/bin/bash
# ublk stat: the daemon's counters equal what fio and dd did, exactly.
#   null (2 queues, random read/write) and loop (write + verify): the
#   deltas of requests and bytes by op around the run equal fio's own
#   counts; the histogram counts every request; nothing left in flight;
#   --openmetrics passes the OpenMetrics parser and agrees with --json;
#   -v and -i SECONDS COUNT print per-queue rows and COUNT reports.
#   Errors: reads past the end of a shrunk loop backing file fail with
#   EIO and are counted as read errors.
#   Recovery: after kill -9 and `ublk recover`, the new daemon goes on
#   from the old counts (recoveries 1, nothing in flight) and counts on.
#   --metrics-dir: the Prometheus text file, parsed, same counts, removed
#   at stop.  The file goes with `ublk del`; what `ublk stat` refuses.
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio jq dd
PY=/usr/bin/python3
run=${UBLKD_RUNDIR:-/run/ublkd}
$PY -c 'import prometheus_client' 2>/dev/null || skip "python3-prometheus-client is not installed"

# total KEY: the device's total of .totals.KEY over all ops
stat_json() { ublk stat -n "$1" --json; }
field() { jq -r ".[0].$2" <<<"$1"; }

# Wait until the device is idle: counts unchanged over 0.3 s, nothing in
# flight (e.g. the kernel's partition scan at start is done).
settle() {
	local a b
	a=$(stat_json "$1" | jq -c '[.[0].totals.requests, .[0].in_flight]')
	for _ in $(seq 50); do
		sleep 0.3
		b=$(stat_json "$1" | jq -c '[.[0].totals.requests, .[0].in_flight]')
		[ "$a" = "$b" ] && [ "$(jq '.[1]' <<<"$b")" = 0 ] && return 0
		a=$b
	done
	fail "device $1 never went idle: $b"
}

# check_against_fio ID BEFORE_JSON AFTER_JSON FIO_JSON
check_against_fio() {
	local id=$1 before=$2 after=$3 fio=$4 dir want got ops hist
	for dir in read write; do
		want=$(jq ".jobs[0].$dir.total_ios" <<<"$fio")
		got=$(($(field "$after" "totals.requests.$dir") - $(field "$before" "totals.requests.$dir")))
		[ "$got" = "$want" ] || fail "device $id: $got ${dir}s counted, fio did $want"
		want=$(jq ".jobs[0].$dir.io_bytes" <<<"$fio")
		got=$(($(field "$after" "totals.bytes.$dir") - $(field "$before" "totals.bytes.$dir")))
		[ "$got" = "$want" ] || fail "device $id: $got bytes ${dir} counted, fio did $want"
		echo "device $id: $dir: $(jq ".jobs[0].$dir.total_ios" <<<"$fio") requests, $want bytes: equal"
	done
	ops=$(jq '[.[0].totals.requests[]] | add' <<<"$after")
	hist=$(jq '[.[0].totals.latency_histogram[].count] | add' <<<"$after")
	[ "$ops" = "$hist" ] || fail "device $id: $ops requests, but $hist in the latency histogram"
	[ "$(field "$after" in_flight)" = 0 ] || fail "device $id: $(field "$after" in_flight) in flight when idle"
	[ "$(jq '[.[0].totals.errors[]] | add' <<<"$after")" = 0 ] || fail "device $id: errors counted: $after"
}

# The block layer must not merge fio's requests: one request, one count.
no_merges() { echo 2 >"/sys/block/ublkb$1/queue/nomerges"; }

# ---- null, 2 queues, random reads and writes
mdir=$TMPDIR/metrics
mkdir "$mdir"
dev=$(ublk add -t null -s 256M -q 2 --metrics-dir "$mdir" --metrics-interval 1) || fail "add null"
id=${dev#/dev/ublkb}
[ -f "$run/$id.stats" ] || fail "no $run/$id.stats"
no_merges "$id"
settle "$id"
before=$(stat_json "$id")
fio_out=$(fio --name=null --filename="$dev" --ioengine=io_uring --direct=1 --rw=randrw \
	--bs=4k --iodepth=16 --size=8M --output-format=json) || fail "fio on null failed"
settle "$id"
after=$(stat_json "$id")
check_against_fio "$id" "$before" "$after" "$fio_out"
[ "$(field "$after" target)" = null ] || fail "target $(field "$after" target)"
[ "$(field "$after" recoveries)" = 0 ] || fail "recoveries $(field "$after" recoveries) on a new device"

# --openmetrics: a real parser, and the same counts as --json
ublk stat -n "$id" --openmetrics >"$TMPDIR/om" || fail "ublk stat --openmetrics failed"
tail -n1 "$TMPDIR/om" | grep -qx '# EOF' || fail "--openmetrics does not end with # EOF"
om_reads=$($PY -c '
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse
fams = {f.name: f for f in parse(open(sys.argv[1]).read())}
print(int(sum(s.value for s in fams["ublkd_requests"].samples if s.labels["op"] == "read")))
' "$TMPDIR/om") || fail "the OpenMetrics parser refused ublk stat --openmetrics: $(head -c 2000 "$TMPDIR/om")"
[ "$om_reads" = "$(field "$after" totals.requests.read)" ] ||
	fail "--openmetrics says $om_reads reads, --json $(field "$after" totals.requests.read)"
echo "ok: --openmetrics parsed, $om_reads reads as in --json"

# --json is JSON; -v has the queues; -i 0.2 2 prints two reports
ublk stat --json | jq -e 'type == "array" and length >= 1' >/dev/null || fail "ublk stat --json: not a JSON array"
[ "$(ublk stat -n "$id" -v --json | jq '.[0].queue_stats | length')" = 2 ] || fail "-v --json: not 2 queues"
out=$(ublk stat -n "$id" -v -i 0.2 2) || fail "ublk stat -i 0.2 2 failed"
[ "$(grep -c '^device' <<<"$out")" = 2 ] || fail "-i 0.2 2: not 2 reports: $out"
[ "$(grep -c '^  q[01] ' <<<"$out")" = 4 ] || fail "-v: not 2 queue rows per report: $out"
echo "$out"
# --metrics-dir: the Prometheus text format, rewritten every second
sleep 2.2
prom_reads=$($PY -c '
import sys
from prometheus_client.parser import text_string_to_metric_families as parse
fams = {f.name: f for f in parse(open(sys.argv[1]).read())}
print(int(sum(s.value for s in fams["ublkd_requests"].samples if s.labels["op"] == "read")))
' "$mdir/ublkd_$id.prom") || fail "the Prometheus parser refused $mdir/ublkd_$id.prom: $(head -c 2000 "$mdir/ublkd_$id.prom")"
[ "$prom_reads" = "$(field "$after" totals.requests.read)" ] ||
	fail "$mdir/ublkd_$id.prom says $prom_reads reads, --json $(field "$after" totals.requests.read)"
[ "$(ls -A "$mdir")" = "ublkd_$id.prom" ] || fail "more than the metrics file in $mdir: $(ls -A "$mdir")"
echo "ok: --metrics-dir: ublkd_$id.prom parsed, $prom_reads reads"
ublk del -n "$id" || fail "del null"
[ -z "$(ls -A "$mdir")" ] || fail "left in $mdir after ublk del: $(ls -A "$mdir")"
[ ! -e "$run/$id.stats" ] || fail "$run/$id.stats left after ublk del"

# ---- loop: write + verify
img=$(tmpfile 32M)
dev=$(ublk add -t loop -f "$img") || fail "add loop"
id=${dev#/dev/ublkb}
no_merges "$id"
settle "$id"
before=$(stat_json "$id")
fio_out=$(fio_verify "$dev" --size=8M --output-format=json) || fail "fio verify on loop failed"
settle "$id"
after=$(stat_json "$id")
check_against_fio "$id" "$before" "$after" "$fio_out"

# ---- errors: the backing shrinks; reads past its end fail
truncate -s 4M "$img"
if dd if="$dev" of=/dev/null bs=64k count=1 skip=256 iflag=direct status=none 2>/dev/null; then
	fail "a read past the end of the shrunk backing succeeded"
fi
settle "$id"
errs=$(stat_json "$id")
e=$(($(field "$errs" totals.errors.read) - $(field "$after" totals.errors.read)))
r=$(($(field "$errs" totals.requests.read) - $(field "$after" totals.requests.read)))
{ [ "$e" -ge 1 ] && [ "$e" = "$r" ]; } || fail "failed reads: $e errors counted of $r reads"
[ "$(field "$errs" errors)" -ge 1 ] || fail "the report's errors column is $(field "$errs" errors)"
echo "ok: $e failed reads counted"
ublk del -n "$id" || fail "del loop"

# ---- recovery: the counts go on
dev=$(ublk add -t null -s 64M) || fail "add null for recovery"
id=${dev#/dev/ublkb}
no_merges "$id"
dd if="$dev" of=/dev/null bs=4k count=100 iflag=direct status=none || fail "dd before the crash"
settle "$id"
before=$(stat_json "$id")
kill -9 "$(field "$before" pid)"
sleep 1
# While no daemon serves it, the dead daemon's counts are still there.
dead=$(stat_json "$id") || fail "ublk stat of a device waiting for recovery failed"
[ "$(field "$dead" totals.requests.read)" = "$(field "$before" totals.requests.read)" ] ||
	fail "the counts changed with the daemon's death: $dead"
[ "$(ublk recover -n "$id")" = "$dev" ] || fail "ublk recover failed"
settle "$id"
mid=$(stat_json "$id")
[ "$(field "$mid" recoveries)" = 1 ] || fail "recoveries $(field "$mid" recoveries) after a recovery"
[ "$(field "$mid" pid)" != "$(field "$before" pid)" ] || fail "the pid did not change"
[ "$(field "$mid" totals.requests.read)" -ge "$(field "$before" totals.requests.read)" ] ||
	fail "reads went back after recovery: $(field "$before" totals.requests.read) -> $(field "$mid" totals.requests.read)"
dd if="$dev" of=/dev/null bs=4k count=50 iflag=direct status=none || fail "dd after recovery"
settle "$id"
after=$(stat_json "$id")
[ $(($(field "$after" totals.requests.read) - $(field "$mid" totals.requests.read))) = 50 ] ||
	fail "50 reads after recovery counted as $(($(field "$after" totals.requests.read) - $(field "$mid" totals.requests.read)))"
echo "ok: recovery: recoveries 1, reads $(field "$before" totals.requests.read) -> $(field "$mid" totals.requests.read) -> $(field "$after" totals.requests.read)"
ublk stat -n "$id" --openmetrics | grep -qx "ublkd_recoveries_total{device=\"$id\"} 1" ||
	fail "--openmetrics: no ublkd_recoveries_total 1"
# A device without a statistics file (e.g. served by an older ublkd)
mv "$run/$id.stats" "$TMPDIR/stats"
expect_fail 1 "device $id has no statistics: its daemon is not running, or started before" \
	ublk stat -n "$id"
ublk stat | grep -q "^ublkb$id " && fail "ublk stat lists a device without statistics"
mv "$TMPDIR/stats" "$run/$id.stats"
ublk del -n "$id" || fail "del after recovery"

# ---- what ublk stat refuses
expect_fail 1 "no ublk device 999 \\(see 'ublk list'\\)" ublk stat -n 999
expect_fail 1 "invalid interval '0' for -i: expected seconds from 0.1 to 86400" ublk stat -i 0
expect_fail 1 "invalid count 'x' after -i SECONDS" ublk stat -i 1 x
expect_fail 1 "--json and --openmetrics are two output formats: choose one" ublk stat --json --openmetrics
expect_fail 1 "--openmetrics prints the counters once: drop -i" ublk stat --openmetrics -i 1
expect_fail 1 "usage: ublk stat" ublk stat 5
