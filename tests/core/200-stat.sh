#!/bin/bash
# ublk stat: the daemon's counters equal what dd and fio did, exactly.
#   null (2 queues): dd reads and writes of known counts; loop: fio write +
#   verify, against fio's own counts (--output-format=json).  Deltas of
#   requests and bytes by op around each run; the histogram counts every
#   request; nothing left in flight.  --openmetrics passes the OpenMetrics
#   parser and agrees with --json; --metrics-dir's file passes the
#   Prometheus parser and goes at stop; -v and -i SECONDS COUNT print
#   per-queue rows and COUNT reports.  Errors: reads past the end of a
#   shrunk loop backing file fail with EIO, counted as read errors.
#   Recovery: after kill -9 the dead daemon's counts still read; after
#   `ublk recover` the new daemon goes on from them (recoveries 1) and
#   counts on.  Upgrade: `ublk upgrade` counts an upgrade, not a recovery
#   (text, --json, --openmetrics), and the counts go on.  The file goes
#   with `ublk del`; what `ublk stat` refuses.
# Every check of the numbers is in one python3 run at the end (each
# process start costs seconds under emulation).  Nothing kernel-specific:
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio dd
PY=/usr/bin/python3
[ -x $PY ] || skip "no $PY"
run=${UBLKD_RUNDIR:-/run/ublkd}
W=$TMPDIR

# No partition scan at start where the kernel can skip it (7.0+);
# elsewhere wait until the device is idle: its request counts unchanged
# over 0.3 s, nothing in flight.
noscan=
if kver_ge 7.0; then noscan=--no-part-scan; fi
settle() {
	local a b
	[ -z "$noscan" ] || return 0
	a=$(ublk stat -n "$1" --openmetrics | grep -E '^ublkd_(requests_total|in_flight_requests)')
	for _ in $(seq 30); do
		sleep 0.3
		b=$(ublk stat -n "$1" --openmetrics | grep -E '^ublkd_(requests_total|in_flight_requests)')
		[ "$a" = "$b" ] && ! grep -q '^ublkd_in_flight.* [1-9]' <<<"$b" && return 0
		a=$b
	done
	fail "device $1 never went idle: $b"
}
snap() { ublk stat -n "$1" --json >"$W/$2.json" || fail "ublk stat -n $1 --json failed"; }
# The block layer must not merge requests: one request, one count.
no_merges() { echo 2 >"/sys/block/ublkb$1/queue/nomerges"; }

# ---- null, 2 queues: dd of known counts
mkdir "$W/metrics"
# shellcheck disable=SC2086 # $noscan: zero or one option
dev=$(ublk add -t null -s 64M -q 2 $noscan --metrics-dir "$W/metrics" --metrics-interval 1) ||
	fail "add null"
id=${dev#/dev/ublkb}
[ -f "$run/$id.stats" ] || fail "no $run/$id.stats"
no_merges "$id"
settle "$id"
snap "$id" null0
dd if="$dev" of=/dev/null bs=4k count=100 iflag=direct status=none || fail "dd read"
dd if=/dev/zero of="$dev" bs=64k count=30 oflag=direct status=none || fail "dd write"
snap "$id" null1
ublk stat -n "$id" --openmetrics >"$W/om" || fail "ublk stat --openmetrics failed"
ublk stat -n "$id" -v --json >"$W/v.json" || fail "ublk stat -v --json failed"
out=$(ublk stat -n "$id" -v -i 0.2 2) || fail "ublk stat -i 0.2 2 failed"
echo "$out"
[ "$(grep -c '^device' <<<"$out")" = 2 ] || fail "-i 0.2 2: not 2 reports"
[ "$(grep -c '^  q[01] ' <<<"$out")" = 4 ] || fail "-v: not 2 queue rows per report"
sleep 1.2
cp "$W/metrics/ublkd_$id.prom" "$W/prom" || fail "no $W/metrics/ublkd_$id.prom"
[ "$(ls -A "$W/metrics")" = "ublkd_$id.prom" ] || fail "more than the metrics file in $W/metrics: $(ls -A "$W/metrics")"

# ---- recovery of the same device: the counts go on
kill -9 "$(sed -n 's/.*"pid":\([0-9]*\).*/\1/p' "$W/null1.json")"
sleep 1
snap "$id" dead	# the dead daemon's counts, still there
[ "$(ublk recover -n "$id")" = "$dev" ] || fail "ublk recover failed"
snap "$id" rec0
dd if="$dev" of=/dev/null bs=4k count=50 iflag=direct status=none || fail "dd after recovery"
snap "$id" rec1
# The whole output first: grep -q stopping early would kill ublk stat
# with SIGPIPE, a failure under pipefail.
om=$(ublk stat -n "$id" --openmetrics) || fail "ublk stat --openmetrics failed"
grep -qx "ublkd_recoveries_total{device=\"$id\"} 1" <<<"$om" ||
	fail "--openmetrics: no ublkd_recoveries_total 1 after a recovery"
# ---- an upgrade: counted apart from the recovery
out=$(ublk upgrade -n "$id" 2>&1) || fail "ublk upgrade failed: $out"
snap "$id" upg
out=$(ublk stat -n "$id") || fail "ublk stat after the upgrade failed"
echo "$out"
grep -qx "  since added: recoveries 1, upgrades 1, reconnects 0" <<<"$out" ||
	fail "ublk stat: no 'since added: recoveries 1, upgrades 1, reconnects 0' line"
om=$(ublk stat -n "$id" --openmetrics) || fail "ublk stat --openmetrics failed"
grep -qx "ublkd_upgrades_total{device=\"$id\"} 1" <<<"$om" ||
	fail "--openmetrics: no ublkd_upgrades_total 1 after an upgrade"
# A device without a statistics file (served by an older ublkd, say)
mv "$run/$id.stats" "$W/stats"
expect_fail 1 "device $id has no statistics: its daemon is not running, or started before" \
	ublk stat -n "$id"
! ublk stat | grep -q "^ublkb$id " || fail "ublk stat lists a device without statistics"
mv "$W/stats" "$run/$id.stats"
ublk del -n "$id" || fail "del null"
[ ! -e "$run/$id.stats" ] || fail "$run/$id.stats left after ublk del"
[ -z "$(ls -A "$W/metrics")" ] || fail "left in $W/metrics after ublk del: $(ls -A "$W/metrics")"

# ---- loop: fio write + verify; then errors
img=$(tmpfile 32M)
# shellcheck disable=SC2086 # $noscan: zero or one option
dev=$(ublk add -t loop -f "$img" $noscan) || fail "add loop"
id=${dev#/dev/ublkb}
no_merges "$id"
settle "$id"
snap "$id" loop0
fio_verify "$dev" --size=4M --output-format=json --output="$W/fio.json" >/dev/null
snap "$id" loop1
truncate -s 4M "$img"
if dd if="$dev" of=/dev/null bs=64k count=1 skip=256 iflag=direct status=none 2>/dev/null; then
	fail "a read past the end of the shrunk backing succeeded"
fi
snap "$id" loop2
ublk del -n "$id" || fail "del loop"

# ---- every number, and the parsers
$PY - "$W" <<'PY' || fail "the counts are wrong (above)"
import json, os, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
from prometheus_client.parser import text_string_to_metric_families as prom_parse
W = sys.argv[1]
def load(name): return json.load(open(os.path.join(W, name + '.json')))[0]
def delta(a, b, kind, op): return b['totals'][kind][op] - a['totals'][kind][op]
def check(what, got, want):
    print('%s: %s, want %s' % (what, got, want))
    if got != want:
        sys.exit('FAIL: ' + what)
def idle(s, what):
    check(what + ': in flight', s['in_flight'], 0)
    check(what + ': histogram = requests', sum(b['count'] for b in s['totals']['latency_histogram']),
          sum(s['totals']['requests'].values()))

n0, n1 = load('null0'), load('null1')
check('null reads', delta(n0, n1, 'requests', 'read'), 100)
check('null read bytes', delta(n0, n1, 'bytes', 'read'), 100 * 4096)
check('null writes', delta(n0, n1, 'requests', 'write'), 30)
check('null write bytes', delta(n0, n1, 'bytes', 'write'), 30 * 65536)
check('null errors', sum(n1['totals']['errors'].values()), 0)
idle(n1, 'null')
check('null recoveries', n1['recoveries'], 0)
check('null upgrades', n1['upgrades'], 0)
check('null reconnects', n1['reconnects'], 0)
check('-v queues', len(json.load(open(W + '/v.json'))[0]['queue_stats']), 2)

for name, parse, text in (('--openmetrics', om_parse, open(W + '/om').read()),
                          ('--metrics-dir file', prom_parse, open(W + '/prom').read())):
    fams = {f.name: f for f in parse(text)}
    reads = sum(s.value for s in fams['ublkd_requests'].samples if s.labels['op'] == 'read')
    check(name + ': reads (parsed)', int(reads), n1['totals']['requests']['read'])
    lat = fams['ublkd_request_latency_seconds']
    count = sum(s.value for s in lat.samples if s.name.endswith('_count'))
    check(name + ': histogram count', int(count), sum(n1['totals']['requests'].values()))

dead, r0, r1 = load('dead'), load('rec0'), load('rec1')
check('dead daemon: reads', dead['totals']['requests']['read'], n1['totals']['requests']['read'])
check('recovered: recoveries', r0['recoveries'], 1)
check('recovered: upgrades', r0['upgrades'], 0)
upg = load('upg')
check('upgraded: upgrades', upg['upgrades'], 1)
check('upgraded: recoveries unchanged', upg['recoveries'], 1)
check('upgraded: new pid', upg['pid'] != r1['pid'], True)
check('upgraded: reads kept', upg['totals']['requests']['read'] >= r1['totals']['requests']['read'], True)
check('recovered: new pid', r0['pid'] != n1['pid'], True)
check('recovered: reads kept', r0['totals']['requests']['read'] >= n1['totals']['requests']['read'], True)
check('recovered: 50 more reads', delta(r0, r1, 'requests', 'read'), 50)
idle(r1, 'recovered')

fio = json.load(open(W + '/fio.json'))['jobs'][0]
l0, l1, l2 = load('loop0'), load('loop1'), load('loop2')
for op in ('read', 'write'):
    check('loop %ss = fio\'s' % op, delta(l0, l1, 'requests', op), fio[op]['total_ios'])
    check('loop %s bytes = fio\'s' % op, delta(l0, l1, 'bytes', op), fio[op]['io_bytes'])
check('loop errors', sum(l1['totals']['errors'].values()), 0)
idle(l1, 'loop')
e, r = delta(l1, l2, 'errors', 'read'), delta(l1, l2, 'requests', 'read')
check('failed reads counted', e >= 1 and e == r, True)
check('errors in the report', l2['errors'] >= 1, True)
PY

# ---- what ublk stat refuses
expect_fail 1 "no ublk device 999 \\(see 'ublk list'\\)" ublk stat -n 999
expect_fail 1 "invalid interval '0' for -i: expected seconds from 0.1 to 86400" ublk stat -i 0
expect_fail 1 "invalid count 'x' after -i SECONDS" ublk stat -i 1 x
expect_fail 1 "--json and --openmetrics are two output formats: choose one" ublk stat --json --openmetrics
expect_fail 1 "--openmetrics prints the counters once: drop -i" ublk stat --openmetrics -i 1
expect_fail 1 "usage: ublk stat" ublk stat 5
