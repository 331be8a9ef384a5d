#!/bin/bash
# TLS through libnbd: a PSK (URI with tls-psk-file=, and the --tls-psk-file
# option), X.509 certificates with client verification; a wrong key, an unknown
# user and plain NBD to a TLS-only server fail with one clear line.
# kernels: first
. "$(dirname "$0")/lib.bash"
require_cmd psktool certtool fio

psk=$TMPDIR/keys.psk
psktool -u alice -p "$psk" >/dev/null || fail "psktool failed"
nbd_start psk -p 10981 -i 127.0.0.1 --tls=require --tls-psk="$psk" memory 64M

nbd_add --uri "nbds://alice@127.0.0.1:10981/?tls-psk-file=$psk"
fio_verify "$DEV" --bs=64k --size=8M --verify_state_save=0 --output=/dev/null
echo "PSK in the URI: ok"
nbd_del
nbd_add --host 127.0.0.1 --port 10981 --tls-psk-file "$psk" --tls-username alice
[ "$(jq -r '.[0].description' <<<"$(ublk list -n "$ID" --json)")" = "nbds://127.0.0.1:10981/" ] ||
	fail "description of a TLS device: $(ublk list -n "$ID" --json)"
fio_verify "$DEV" --bs=4k --size=4M --verify_state_save=0 --output=/dev/null
echo "PSK with --tls-psk-file: ok"
nbd_del

psktool -u alice -p "$TMPDIR/wrong.psk" >/dev/null
expect_fail 1 "cannot connect to nbds://alice@127.0.0.1:10981/.*: .*TLS.*check the TLS key" \
	ublk add -t nbd --uri "nbds://alice@127.0.0.1:10981/?tls-psk-file=$TMPDIR/wrong.psk"
expect_fail 1 "cannot connect to .*username bob was not found in PSK file" \
	ublk add -t nbd --uri "nbds://bob@127.0.0.1:10981/?tls-psk-file=$psk"
expect_fail 1 "cannot connect to nbd://127.0.0.1:10981/: .*server requires TLS.*use nbds://" \
	ublk add -t nbd --uri nbd://127.0.0.1:10981/
echo "wrong key, unknown user, no TLS: clear errors: ok"

# X.509: a CA, a server certificate for 127.0.0.1, a client certificate.
srv=$TMPDIR/srv cli=$TMPDIR/cli
mkdir -p "$srv" "$cli"
cert() { certtool "$@" >/dev/null 2>&1 || fail "certtool $* failed"; }
cert --generate-privkey --key-type=ecdsa --outfile "$srv/ca-key.pem"
printf 'cn = ublkd test CA\nca\ncert_signing_key\nexpiration_days = 2\n' >"$TMPDIR/ca.info"
cert --generate-self-signed --load-privkey "$srv/ca-key.pem" --template "$TMPDIR/ca.info" \
	--outfile "$srv/ca-cert.pem"
signed() { # DIR NAME TEMPLATE-TEXT: DIR/NAME-key.pem and a NAME-cert.pem the CA signed
	cert --generate-privkey --key-type=ecdsa --outfile "$1/$2-key.pem"
	printf '%s' "$3" >"$TMPDIR/$2.info"
	cert --generate-certificate --load-ca-certificate "$srv/ca-cert.pem" \
		--load-ca-privkey "$srv/ca-key.pem" --load-privkey "$1/$2-key.pem" \
		--template "$TMPDIR/$2.info" --outfile "$1/$2-cert.pem"
}
signed "$srv" server $'cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\ntls_www_server\nencryption_key\nsigning_key\nexpiration_days = 2\n'
signed "$cli" client $'cn = client\ntls_www_client\nencryption_key\nsigning_key\nexpiration_days = 2\n'
cp "$srv/ca-cert.pem" "$cli/"

nbd_start x509 -p 10982 -i 127.0.0.1 --tls=require --tls-certificates="$srv" \
	--tls-verify-peer memory 64M
nbd_add --uri "nbds://127.0.0.1:10982/?tls-certificates=$cli"
fio_verify "$DEV" --bs=64k --size=8M --verify_state_save=0 --output=/dev/null
nbd_del
nbd_add --host 127.0.0.1 --port 10982 --tls-certificates "$cli"
dd if=/dev/zero of="$DEV" bs=64k count=4 oflag=direct status=none || fail "I/O over X.509 TLS failed"
nbd_del
echo "X.509 certificates: ok"
# The server insists on a client certificate: a directory without one fails.
mkdir -p "$TMPDIR/nocert"
cp "$srv/ca-cert.pem" "$TMPDIR/nocert/"
expect_fail 1 "cannot connect to nbds://127.0.0.1:10982/.*check the TLS key or certificates" \
	ublk add -t nbd --uri "nbds://127.0.0.1:10982/?tls-certificates=$TMPDIR/nocert"
echo "no client certificate: clear error: ok"
[ -z "$(ublk list)" ] || fail "devices left behind: $(ublk list)"
