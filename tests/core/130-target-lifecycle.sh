#!/bin/bash
# The target lifecycle, enforced by ublkd in one place (ublkd/plugin.c):
# close() is called if and only if open() succeeded, release() exactly once,
# last, whatever failed.  A target that logs its calls
# (tests/lib/count-target.c) is run through --check, a failing config(),
# check() and open(), an open() whose geometry ublkd refuses, and a normal
# start and stop.
# timeout: 120
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
require_cmd cc
cleanup sh -c 'ublk del -a >/dev/null 2>&1'

so=${TMPDIR:-/tmp}/count.so
cc -shared -fPIC -Wall -Wextra -Werror -I"$UBLKD_SRCDIR/include" -o "$so" \
	"$UBLKD_SRCDIR/tests/lib/count-target.c" || fail "cannot build the counting target"
export COUNT_FILE=${TMPDIR:-/tmp}/count.log

calls() { # WANT EXPECTED-STATUS ublkd-ARGS...: run ublkd, compare the calls
	# (78: a setting refused, see ublkd(8); 1: the start failed)
	local want=$1 code=$2 rc=0 got
	shift 2
	: >"$COUNT_FILE"
	ublkd -t "$so" "$@" >/dev/null 2>&1 || rc=$?
	[ "$rc" = "$code" ] || fail "ublkd $* exited $rc, want $code"
	got=$(paste -sd' ' "$COUNT_FILE")
	[ "$got" = "$want" ] || fail "ublkd $*: calls '$got', want '$want'"
	echo "ok: $* -> $got"
}

calls "config check release" 0 --x --check
calls "config release" 78 --fail-config
calls "config check release" 78 --fail-check
calls "config check open release" 1 --fail-open
calls "config check open close release" 1 --bad-geometry

# A device started and deleted.
: >"$COUNT_FILE"
dev=$(ublk add -t "$so" --x) || fail "add"
ublk del -n "${dev#/dev/ublkb}" || fail "del"
ublk_dev_wait_gone "${dev#/dev/ublkb}"
for ((i = 0; i < 50; i++)); do grep -q release "$COUNT_FILE" && break; sleep 0.1; done
got=$(paste -sd' ' "$COUNT_FILE")
[ "$got" = "config check open close release" ] || fail "add + del: calls '$got'"
echo "ok: add + del -> $got"
