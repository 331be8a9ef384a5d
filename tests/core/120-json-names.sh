#!/bin/bash
# `ublk list --json` carries a backing file name of any bytes and any length
# losslessly: spaces, quotes, newline, tab, backslash, \001 and a 3800-byte
# path come back exactly; \377 (not UTF-8) comes back as \u00ff, U+00FF, as
# ublk(8) documents.  The output is valid UTF-8 and valid JSON.
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd jq iconv

# check NAME WANT [RAW]: add a loop device over NAME; the description must be
# WANT, and the JSON text contain RAW.
check() {
	local name=$1 want=$2 dev json got
	truncate -s 1M "$name"
	dev=$(ublk add -t loop -f "$name" -q 1) || fail "add over a ${#name}-byte name failed"
	json=$(ublk list -n "${dev#/dev/ublkb}" --json)
	iconv -f UTF-8 -t UTF-8 <<<"$json" >/dev/null || fail "list --json is not valid UTF-8: $json"
	jq -e . <<<"$json" >/dev/null || fail "list --json is not valid JSON: $json"
	[ -z "${3:-}" ] || grep -qF -- "$3" <<<"$json" || fail "no $3 in $json"
	got=$(jq -j '.[0].description' <<<"$json")
	[ "$got" = "$want" ] || fail "description of a ${#name}-byte name: got $(printf %q "$got"), want $(printf %q "$want")"
	ublk del -n "${dev#/dev/ublkb}" || fail "del"
	echo "ok: ${#name}-byte name: $(printf %q "$name" | cut -c1-80)"
}

dir=$PWD
name="$dir/a b\"c'd"$'\n'"e"$'\t'"f\\g"$'\001'"h.img"
check "$name" "$name"
name="$dir/x"$'\377'"y.img"
check "$name" "$dir/x"$'\303\277'"y.img" 'x\u00ffy.img"'
# 3800 bytes: directories of 200 bytes (a component may have 255), then a
# file name of what is left.
long=$dir
while [ $((${#long} + 201)) -le 3790 ]; do
	long=$long/$(printf 'd%.0s' {1..200})
done
mkdir -p "$long"
long=$long/$(printf 'f%.0s' $(seq $((3800 - ${#long} - 1))))
[ ${#long} = 3800 ] || fail "test bug: path of ${#long} bytes"
check "$long" "$long"
