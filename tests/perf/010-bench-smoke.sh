#!/bin/bash
# timeout: 600
# The benchmark harness (tests/bench, `make bench`) in short: its in-VM part runs
# three cases for 1 s per side, one round, and must produce well-formed results
# (a JSON array, one object per case, every field the table needs, positive
# numbers), leave nothing behind and render its Markdown table.
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
# 90 s of CI time for the harness, not for ublkd: make check-stress runs it.
[ "${UBLKD_TEST_STRESS:-}" = 1 ] || skip "the bench harness's smoke test: run it with make check-stress"
require_cmd fio jq
bench=$UBLKD_SRCDIR/tests/bench
out=$(mktemp "${TMPDIR:-/tmp}/bench.XXXXXX.json")
cleanup rm -f "$out"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'

# null vs null_blk, zero copy vs copy (skipped where the kernel has no zero
# copy), and the daemon's memory.
cases=(null/4k-randread-qd32-q1 zc/null-512k-read-qd32 mem/null-copy)
args=()
for c in "${cases[@]}"; do args+=(--case "$c"); done
rc=0
"$bench/inside" --runtime 1 --rounds 1 "${args[@]}" --out "$out" || rc=$?
[ $rc = 0 ] || fail "tests/bench/inside exited $rc"
jq -e 'type == "array"' "$out" >/dev/null || fail "$out is not a JSON array: $(head -c 400 "$out")"
[ "$(jq length "$out")" = ${#cases[@]} ] || fail "want ${#cases[@]} results: $(cat "$out")"

zc=$(ublk features | sed -n 's/^zero copy: *//p')
for c in "${cases[@]}"; do
	o=$(jq -c --arg id "$c" '.[] | select(.id == $id)' "$out")
	[ -n "$o" ] || fail "no result for $c: $(cat "$out")"
	status=$(jq -r .status <<<"$o")
	if [ "$c" = zc/null-512k-read-qd32 ] && [ "${zc%%,*}" = no ]; then
		[ "$status" = skipped ] || fail "$c: want skipped (no zero copy), got $status: $o"
		jq -e '.reason | test("zero copy")' <<<"$o" >/dev/null || fail "$c: skip reason: $o"
		echo "ok: $c skipped: $(jq -r .reason <<<"$o")"
		continue
	fi
	[ "$status" = ok ] || fail "$c: status $status: $(jq -r .reason <<<"$o")"
	for f in id group side_a metric a_runs a_median goal met fio setup kernel seconds; do
		jq -e --arg f "$f" 'has($f) and .[$f] != null' <<<"$o" >/dev/null || fail "$c: no $f: $o"
	done
	jq -e '.a_runs | length == 1 and all(.[]; type == "number" and . > 0)' <<<"$o" >/dev/null ||
		fail "$c: a_runs not one positive number: $o"
	jq -e '.a_median > 0 and (.met | type == "boolean")' <<<"$o" >/dev/null || fail "$c: a_median/met: $o"
	if [ "${c%%/*}" = mem ]; then
		jq -e '.rss | length == 1 and all(.[]; .vmrss_kib > 0 and .rss_anon_kib > 0 and
			.buffers_resident_kib >= 0 and .beyond_buffers_kib > 0)' <<<"$o" >/dev/null ||
			fail "$c: rss details: $o"
		jq -e '.method | length > 0' <<<"$o" >/dev/null || fail "$c: no method: $o"
	else
		jq -e '.b_runs | length == 1 and all(.[]; type == "number" and . > 0)' <<<"$o" >/dev/null ||
			fail "$c: b_runs not one positive number: $o"
		jq -e '.b_median > 0 and .ratio > 0 and .side_b != null and .goal.op == ">="' <<<"$o" >/dev/null ||
			fail "$c: b_median/ratio/side_b/goal: $o"
		jq -e '(.a_median / .b_median - .ratio | fabs) < 0.01' <<<"$o" >/dev/null ||
			fail "$c: ratio is not A/B: $o"
	fi
	echo "ok: $c: $(jq -r '"A \(.a_median) B \(.b_median // "-") ratio \(.ratio // "-") \(.metric)"' <<<"$o")"
done

# Nothing left behind.
[ "$(ublk list --json)" = "[]" ] || fail "ublk devices left: $(ublk list --json)"
[ ! -e /sys/module/null_blk/initstate ] || fail "null_blk left loaded"

# The table.
table=$("$bench/report" "$out") || fail "tests/bench/report failed"
echo "$table"
[ "$(grep -c '^|' <<<"$table")" = $((${#cases[@]} + 2)) ] || fail "table rows: $table"
grep -q '^| null/4k-randread-qd32-q1 | ublk null' <<<"$table" || fail "table lacks the null row"
