#!/bin/bash
# ublk stat counts errors: a loop device over a dm-flakey device whose table
# is switched to fail every I/O (up 0 s, down 1 s: always down).  fio reads 1M,
# then writes, continuing on errors; the daemon's read and write error
# counts grow by what fio reports as failed, and every one of those requests
# is counted in requests too.  Then the table is healthy again and I/O
# succeeds, with no error counted.
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
require_cmd fio dmsetup losetup jq
modprobe loop 2>/dev/null || true
modprobe dm-flakey 2>/dev/null || skip "no dm-flakey module"
W=$TMPDIR
name=ublkd-test-flakey-$$
cleanup sh -c 'ublk del -a >/dev/null 2>&1'

img=$(tmpfile 16M)
lo=$(losetup --find --show "$img") || fail "losetup"
cleanup losetup -d "$lo"
sectors=$(blockdev --getsz "$lo")
dmsetup create "$name" --table "0 $sectors linear $lo 0" || fail "dmsetup create"
cleanup dmsetup remove --retry "$name"
dmsetup mknodes "$name"	# no udev in the test VM
set_table() { dmsetup load "$name" --table "$1" && dmsetup suspend "$name" && dmsetup resume "$name"; }
noscan=
if kver_ge 7.0; then noscan=--no-part-scan; fi
# shellcheck disable=SC2086 # $noscan: zero or one option
dev=$(ublk add -t loop -f "/dev/mapper/$name" $noscan) || fail "add loop over dm-flakey"
id=${dev#/dev/ublkb}
echo 2 >"/sys/block/ublkb$id/queue/nomerges"
udevadm settle 2>/dev/null || true
ublk stat -n "$id" --json >"$W/s0.json" || fail "ublk stat"

# Every I/O fails from now on.
set_table "0 $sectors flakey $lo 0 0 1" || fail "switching to flakey"
fio --name=r --filename="$dev" --ioengine=psync --direct=1 --bs=4k --size=1M --rw=randread \
	--continue_on_error=all --output-format=json --output="$W/r.json" \
	>/dev/null 2>&1
fio --name=w --filename="$dev" --ioengine=psync --direct=1 --bs=4k --size=1M --rw=randwrite \
	--continue_on_error=all --output-format=json --output="$W/w.json" \
	>/dev/null 2>&1
ublk stat -n "$id" --json >"$W/s1.json" || fail "ublk stat"
# Healthy again.
set_table "0 $sectors linear $lo 0" || fail "switching back to linear"
dd if="$dev" of=/dev/null bs=4k count=10 iflag=direct status=none || fail "read after the errors"
ublk stat -n "$id" --json >"$W/s2.json" || fail "ublk stat"
ublk stat -n "$id"
ublk del -n "$id" || fail "del"

python3 - "$W" <<'PY' || fail "the error counts are wrong (above)"
import json, os, sys
W = sys.argv[1]
def load(n): return json.load(open(os.path.join(W, n + '.json')))
s0, s1, s2 = (load(n)[0]['totals'] for n in ('s0', 's1', 's2'))
def d(a, b, kind, op): return b[kind][op] - a[kind][op]
def check(what, ok, detail):
    print('%s: %s' % (what, detail))
    if not ok: sys.exit('FAIL: ' + what)
for job, op in (('r', 'read'), ('w', 'write')):
    j = load(job)['jobs'][0]
    fio_err = j.get('total_err', 0)
    e, n = d(s0, s1, 'errors', op), d(s0, s1, 'requests', op)
    check(op + ' errors counted', e > 0, 'ublkd %d errors of %d %ss; fio %d errors' % (e, n, op, fio_err))
    check(op + ' errors = fio\'s', e == fio_err, '%d, fio %d' % (e, fio_err))
    check(op + ' all failed', e == n, '%d of %d' % (e, n))
    check(op + ' no failed bytes', d(s0, s1, 'bytes', op) == 0, d(s0, s1, 'bytes', op))
check('healthy again: no new error', d(s1, s2, 'errors', 'read') == 0, d(s1, s2, 'errors', 'read'))
check('healthy again: reads', d(s1, s2, 'requests', 'read') >= 10, d(s1, s2, 'requests', 'read'))
PY
echo "ok: EIO from dm-flakey counted as read and write errors, as fio saw them"
