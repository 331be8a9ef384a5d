#!/bin/bash
# `ublk add` never outlives its --timeout: against a server that accepts TCP
# but never answers the NBD handshake it fails within the timeout (plus the
# setup margin and the grace time) with one line, and leaves no device or
# state behind; ublkd honours SIGTERM while it is still connecting, and so
# does `ublk add` stop it when its own wait (UBLK_ADD_TIMEOUT) ends.
# timeout: 120
# kernels: first
. "$(dirname "$0")/lib.bash"
require_cmd python3

port=10985
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
held = []
while True:
    held.append(s.accept()[0])   # accept, never answer
' "$port" &
silent=$!
cleanup kill "$silent"
for ((i = 0; i < 100; i++)); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
[ $i -lt 100 ] || fail "the silent server did not start"

no_leftovers() {
	[ -z "$(ublk list)" ] || fail "$1: device left behind: $(ublk list)"
	[ -z "$(ls /run/ublkd 2>/dev/null)" ] || fail "$1: state left: $(ls /run/ublkd)"
}
ms() { echo $(($(date +%s%N) / 1000000)); }

# 1. ublk add --timeout 3: ublkd's own connect limit, one line, nothing left.
t0=$(ms)
expect_fail 1 "nbd: cannot connect to nbd://127.0.0.1:$port/: timed out|did not make the device live within 8 s" \
	ublk add -t nbd --uri "nbd://127.0.0.1:$port/" --timeout 3
t=$(($(ms) - t0))
echo "ublk add --timeout 3 failed after $t ms"
# 3 s + 5 s margin + 3 s grace, and slack for a loaded emulated VM; before
# the fix, a longer --timeout outlived ublk add's fixed 60 s.
[ "$t" -lt 25000 ] || fail "ublk add --timeout 3 took $t ms (limit 3 s + 5 s margin + 3 s grace)"
no_leftovers "--timeout 3"

# 2. SIGTERM to a ublkd that is still connecting ends it at once (it is
# blocked until the device exists, so a guard thread reads it).
ublkd -t nbd --uri "nbd://127.0.0.1:$port/" --timeout 60 2>"$TMPDIR/ublkd.err" &
pid=$!
sleep 2
t0=$(ms)
kill -TERM "$pid"
st=0
wait "$pid" || st=$?
t=$(($(ms) - t0))
echo "ublkd stopped $t ms after SIGTERM while connecting, status $st"
[ "$st" = 143 ] || fail "ublkd exited $st after SIGTERM while connecting, not 143: $(cat "$TMPDIR/ublkd.err")"
[ "$t" -lt 10000 ] || fail "ublkd took $t ms to honour SIGTERM while connecting (--timeout 60)"
no_leftovers "SIGTERM while connecting"

# 3. ublk add's own limit ends first (UBLK_ADD_TIMEOUT, shorter than the
# target's connect limit): it stops ublkd and says why in one line.
t0=$(ms)
expect_fail 1 "ublkd did not make the device live within 3 s \(still connecting to the nbd server\?\): stopped it; check that the server answers, or raise --timeout" env UBLK_ADD_TIMEOUT=3 \
	ublk add -t nbd --uri "nbd://127.0.0.1:$port/" --timeout 60
t=$(($(ms) - t0))
echo "ublk add stopped ublkd after $t ms"
[ "$t" -lt 20000 ] || fail "ublk add took $t ms (its limit: 3 s, grace 3 s; --timeout 60)"
no_leftovers "ublk add's own limit"
