#!/bin/bash
# One NBD connection per queue, and more than one queue only when the server
# advertises multi-conn; otherwise one queue and a note saying why.
# kernels: first
. "$(dirname "$0")/lib.bash"
require_cmd fio

conns() { # established connections on the server's Unix socket
	ss -xH state connected | grep -c "$1" || true
}

sock=$(nbd_sock mc)
nbd_start mc -U "$sock" memory 64M
nbd_add --uri "nbd+unix:///?socket=$sock" -q 2
[ "$(jq -r '.[0].queues' <<<"$(ublk list -n "$ID" --json)")" = 2 ] || fail "multi-conn: not 2 queues"
[ "$(ls /sys/block/ublkb$ID/mq | wc -l)" = 2 ] || fail "multi-conn: blk-mq has not 2 queues"
if command -v ss >/dev/null; then
	n=$(conns "$sock")
	[ "$n" -ge 2 ] || fail "multi-conn, 2 queues: $n connections to the server, want 2"
fi
fio_verify "$DEV" --bs=16k --size=8M --numjobs=2 --offset_increment=16M \
	--verify_state_save=0 --output=/dev/null
echo "multi-conn: 2 queues, 2 connections, fio verify: ok"
nbd_del

sock=$(nbd_sock single)
nbd_start single -U "$sock" --filter=multi-conn memory 64M multi-conn-mode=disable
DEV=$(ublk add -t nbd --uri "nbd+unix:///?socket=$sock" -q 2 2>"$TMPDIR/err") ||
	fail "add without multi-conn failed: $(cat "$TMPDIR/err")"
ID=${DEV#/dev/ublkb}
cleanup nbd_del_id "$ID"
grep -q "does not advertise multi-conn: serving with 1 queue" "$TMPDIR/err" ||
	fail "no note about the single queue: $(cat "$TMPDIR/err")"
[ "$(jq -r '.[0].queues' <<<"$(ublk list -n "$ID" --json)")" = 1 ] || fail "no multi-conn: not 1 queue"
fio_verify "$DEV" --bs=16k --size=8M --verify_state_save=0 --output=/dev/null
echo "no multi-conn: 1 queue with a note, fio verify: ok"
