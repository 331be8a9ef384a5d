#!/bin/bash
# Every mistake on `ublk add -t nbd` gets one line naming the cause, a non-zero
# exit, and leaves no device behind; --zero-copy is refused.
# kernels: first
. "$(dirname "$0")/lib.bash"

nbd=(ublk add -t nbd)
expect_fail 1 "nbd: no server given: use --uri" "${nbd[@]}"
expect_fail 1 "cannot connect to nbdx://foo: unknown NBD URI scheme" "${nbd[@]}" --uri nbdx://foo
expect_fail 1 "cannot connect to nbd://\[bad: unable to parse URI" "${nbd[@]}" --uri 'nbd://[bad'
expect_fail 1 "cannot connect to nbd://127.0.0.1:10991/: .*Connection refused; is the NBD server running" \
	"${nbd[@]}" --uri nbd://127.0.0.1:10991/
expect_fail 1 "cannot connect to nbd://127.0.0.1:10991/: .*Connection refused" \
	"${nbd[@]}" --host 127.0.0.1 --port 10991
expect_fail 1 "cannot connect to nbd\+unix:///\?socket=/nonexistent/nbd.sock: .*No such file or directory" \
	"${nbd[@]}" --uri 'nbd+unix:///?socket=/nonexistent/nbd.sock'
expect_fail 1 "cannot connect to .*: .*Connection refused|No such file" \
	"${nbd[@]}" --unix /nonexistent/nbd.sock
expect_fail 1 "--uri cannot be combined with --host" "${nbd[@]}" --uri nbd://x/ --host y
expect_fail 1 "--host and --unix exclude each other" "${nbd[@]}" --host x --unix /y
expect_fail 1 "invalid value '0' for --port" "${nbd[@]}" --host x --port 0
expect_fail 1 "invalid value 'soon' for --timeout" "${nbd[@]}" --host x --timeout soon
expect_fail 1 "invalid value '0' for --timeout" "${nbd[@]}" --host x --timeout 0

sock=$(nbd_sock exp)
nbd_start exp -U "$sock" --filter=exportname memory 64M exportname=disk exportname-strict=true
expect_fail 1 "cannot connect to nbd\+unix:///nosuch\?socket=.*: .*nosuch.*check the export name" \
	"${nbd[@]}" --uri "nbd+unix:///nosuch?socket=$sock"
expect_fail 1 "cannot connect to .*check the export name" \
	"${nbd[@]}" --unix "$sock" --export-name nosuch
expect_fail 1 "target nbd cannot use --zero-copy" \
	"${nbd[@]}" --uri "nbd+unix:///disk?socket=$sock" --zero-copy
expect_fail 1 "-s/--size .* is larger than the export" \
	"${nbd[@]}" --uri "nbd+unix:///disk?socket=$sock" -s 1G

sock0=$(nbd_sock empty)
nbd_start empty -U "$sock0" memory 0
expect_fail 1 "the export nbd\+unix:///\?socket=.* is empty \(0 bytes\)" \
	"${nbd[@]}" --uri "nbd+unix:///?socket=$sock0"

[ -z "$(ublk list)" ] || fail "devices left behind: $(ublk list)"
[ -z "$(ls /run/ublkd 2>/dev/null)" ] || fail "state files left: $(ls /run/ublkd)"
echo "bad input: one line each, nothing left behind: ok"
