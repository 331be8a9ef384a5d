#!/bin/bash
# TLS is required or refused, never silently off: each combination of server
# address (nbd://, nbds://, --host, --unix, a config file) and TLS option
# (--tls, --tls-psk-file, --tls-certificates, --tls-username, tls-*= and USER@
# in the URI) against a TLS-off, a TLS-optional and a TLS-only nbdkit, as the
# table under TLS in ublkd-nbd(8) says; a reconnect to a server that lost
# TLS is refused too; a PSK file others may read is refused.
# timeout: 240
# kernels: first
. "$(dirname "$0")/lib.bash"
require_cmd psktool

psk=$TMPDIR/keys.psk
psktool -u alice -p "$psk" >/dev/null || fail "psktool failed"
certs=$TMPDIR/certs
mkdir -p "$certs"
off=$(nbd_sock off) opt=$(nbd_sock opt)
nbd_start off -p 10983 -i 127.0.0.1 --tls=off memory 64M
nbd_start offu -U "$off" --tls=off memory 64M
nbd_start opt -U "$opt" --tls=on --tls-psk="$psk" memory 64M
nbd_start req -p 10984 -i 127.0.0.1 --tls=require --tls-psk="$psk" memory 64M
nbd=(ublk add -t nbd)

no_leftovers() {
	[ -z "$(ublk list)" ] || fail "$1: device left behind: $(ublk list)"
	[ -z "$(ls /run/ublkd 2>/dev/null)" ] || fail "$1: state left: $(ls /run/ublkd)"
}

# 1. A TLS setting with a plain URI: refused before connecting.
u=nbd://127.0.0.1:10983/
expect_fail 1 "nbd: --tls-psk-file with an nbd:// URI, which does not use TLS: use nbds:// \(TLS required\) or drop --tls-psk-file" \
	"${nbd[@]}" --uri "$u" --tls-psk-file "$psk"
expect_fail 1 "nbd: --tls with an nbd:// URI.*use nbds://" "${nbd[@]}" --uri "$u" --tls
expect_fail 1 "nbd: tls-psk-file= in an nbd:// URI, which does not use TLS: use nbds://" \
	"${nbd[@]}" --uri "$u?tls-psk-file=$psk"
expect_fail 1 "nbd: tls-certificates= in an nbd\+unix:// URI.*use nbds\+unix://" \
	"${nbd[@]}" --uri "nbd+unix:///?socket=$off&tls%2Dcertificates=$certs"
expect_fail 1 "nbd: a user name \(USER@\) in an nbd:// URI is only for TLS.*use nbds://" \
	"${nbd[@]}" --uri nbd://alice@127.0.0.1:10983/
printf 'target = "nbd";\nuri = "%s";\ntls_psk_file = "%s";\n' "$u" "$psk" >"$TMPDIR/plain.conf"
expect_fail 1 "nbd: --tls-psk-file with an nbd:// URI.*use nbds://" \
	ublk add --config "$TMPDIR/plain.conf"
expect_fail 1 "nbd: tls-psk-file is given twice, by --tls-psk-file and in the URI: keep one" \
	"${nbd[@]}" --uri "nbds://127.0.0.1:10984/?tls-psk-file=$psk" --tls-psk-file "$psk"
chmod 644 "$psk"
expect_fail 1 "nbd: the PSK file $psk is open to others \(mode 0644\): chmod 600 $psk" \
	"${nbd[@]}" --uri "nbds://alice@127.0.0.1:10984/?tls-psk-file=$psk"
chmod 600 "$psk"
no_leftovers "refusals"
echo "TLS settings with nbd:// URIs are refused: ok"

# 2. TLS required, the server has none: the connection fails, no plaintext.
tcp=(--host 127.0.0.1 --port 10983)
expect_fail 1 "cannot connect to nbds://alice@127.0.0.1:10983/.*: .*TLS" \
	"${nbd[@]}" --uri "nbds://alice@127.0.0.1:10983/?tls-psk-file=$psk"
expect_fail 1 "cannot connect to nbds://127.0.0.1:10983/: .*TLS" "${nbd[@]}" "${tcp[@]}" --tls
expect_fail 1 "cannot connect to nbds://127.0.0.1:10983/: .*TLS" \
	"${nbd[@]}" "${tcp[@]}" --tls-psk-file "$psk" --tls-username alice
expect_fail 1 "cannot connect to nbds\+unix:///\?socket=.*: .*does not offer TLS" \
	"${nbd[@]}" --unix "$off" --tls-certificates "$certs"
no_leftovers "TLS-off server"
echo "TLS required against a server without TLS: refused: ok"

# 3. A server where TLS is optional: what was asked is what is used.
add_v() { # OPTION...: add with debug messages; sets DEV, ID and LOG
	LOG=$TMPDIR/add.log
	DEV=$(ublk add -t nbd -v "$@" 2>"$LOG") || fail "ublk add -t nbd $* failed: $(cat "$LOG")"
	ID=${DEV#/dev/ublkb}
	cleanup nbd_del_id "$ID"
}
add_v --uri "nbds+unix://alice@/?socket=$opt&tls-psk-file=$psk"
grep -q "bytes.*, TLS$" "$LOG" || fail "nbds:// without TLS: $(cat "$LOG")"
dd if="$DEV" of=/dev/null bs=64k count=4 iflag=direct status=none || fail "I/O over TLS failed"
nbd_del
add_v --unix "$opt"
grep -q "bytes.*, no TLS$" "$LOG" || fail "plain --unix: $(cat "$LOG")"
nbd_del
echo "TLS-optional server: TLS exactly when asked: ok"

# 4. A TLS-only server (nbd:// to it: see nbd/080): nbds:// with the key as
# an option works; then the
# server comes back without TLS: the device does not reconnect in plaintext.
nbd_add --uri nbds://127.0.0.1:10984/ --tls-psk-file "$psk" --tls-username alice --timeout 3
dd if=/dev/urandom of="$DEV" bs=64k count=4 oflag=direct status=none || fail "TLS write failed"
nbd_kill req
nbd_start plain -p 10984 -i 127.0.0.1 --tls=off memory 64M
if timeout 30 dd if="$DEV" of=/dev/null bs=64k count=1 iflag=direct status=none 2>/dev/null; then
	fail "a read was served by a plaintext server after a TLS device reconnected"
fi
[ -e "/sys/class/ublk-char/ublkc$ID" ] || fail "the daemon gave up its device"
nbd_del
no_leftovers "end"
echo "reconnect to a server without TLS: refused: ok"
