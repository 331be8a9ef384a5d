#!/usr/bin/env bash
# tests/bench/plot draws a benchmark result as SVG: well-formed XML (parsed),
# one bar per case with a ratio, coloured by its goal (met green, missed
# red, none grey), a goal mark where the goal is a ratio, skipped cases
# said on their row, memory cases listed below; text escaped.  Anything
# else than a result is refused.  Needs no VM.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
require_cmd jq
plot=$UBLKD_SRCDIR/tests/bench/plot
in=$TMPDIR/bench.json
cat >"$in" <<'JSON'
[{"id":"null/randread-4k-qd32","status":"ok","ratio":1.12,"goal":{"op":">=","value":1.0,"unit":"x","text":">=1.0x"},"met":true,"metric":"iops","kernel":"7.3.0"},
 {"id":"loop/randwrite-4k-qd1","status":"ok","ratio":0.71,"goal":{"op":">=","value":0.9,"unit":"x","text":">=0.9x"},"met":false,"metric":"iops","kernel":"7.3.0"},
 {"id":"nbd/seq<1m>","status":"ok","ratio":1.5,"goal":null,"met":null,"metric":"MiB/s","kernel":"7.3.0"},
 {"id":"zc/x","status":"skipped","reason":"no zero copy & <none>","kernel":"7.3.0"},
 {"id":"mem/rss","status":"ok","ratio":null,"a_median":12.5,"metric":"MiB","goal":{"op":"<=","value":64,"unit":"MiB","text":"<=64MiB"},"met":true,"kernel":"7.3.0"}]
JSON
out=$("$plot" "$in") || fail "tests/bench/plot failed"
[ "$out" = "$TMPDIR/bench.svg" ] || fail "plot wrote $out, not $TMPDIR/bench.svg"
/usr/bin/python3 - "$out" <<'PY' || fail "the SVG is not what it should be: $(cat "$out")"
import sys, xml.etree.ElementTree as E
ns = '{http://www.w3.org/2000/svg}'
root = E.parse(sys.argv[1]).getroot()
bars = [r for r in root.iter(ns + 'rect') if r.find(ns + 'title') is not None]
fills = [b.get('fill') for b in bars]
assert fills == ['#3a3', '#d33', '#999'], fills
goals = [l for l in root.iter(ns + 'line') if l.find(ns + 'title') is not None]
assert len(goals) == 2, len(goals)
text = ' '.join(t.text or '' for t in root.iter(ns + 'text'))
for want in ('nbd/seq<1m>', 'skipped: no zero copy & <none>', 'mem/rss: 12.5 MiB, goal <=64MiB, met'):
    assert want in text, (want, text)
PY
echo "ok: 3 bars, 2 goal marks, a skipped case and a memory case, escaped"
echo '{"not": "a result"}' >"$TMPDIR/bad.json"
expect_fail 1 "tests/bench/plot: .*bad.json is not a benchmark result" "$plot" "$TMPDIR/bad.json"
