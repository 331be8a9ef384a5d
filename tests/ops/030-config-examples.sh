#!/bin/bash
# The shipped examples conf/*.conf are valid for their targets (ublkd --check
# reads the file and runs every option through the target), and loop.conf,
# pointed at a scratch file, serves it: fio verify passes, in the default
# data mode and with copy = true.
# timeout: 600
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.bash"
require_cmd jq

n=0
for f in "$UBLKD_SRCDIR"/conf/*.conf; do
	name=$(basename "$f" .conf)
	out=$(ublkd --config "$f" --check) || fail "ublkd --config $f --check failed"
	[[ $out == "ublkd -t $name "* ]] || fail "--check of $f printed: $out"
	echo "ok: $f: $out"
	n=$((n + 1))
done
[ $n -ge 3 ] || fail "only $n example files in $UBLKD_SRCDIR/conf"

img=$(tmpfile 64M)
sed -e "s|^file = .*|file = \"$img\";|" -e 's/^id = .*/id = 13;/' \
	"$UBLKD_SRCDIR/conf/loop.conf" >"$CONFDIR/loop.conf"
ublkd_start loop
[ "$DEV" = /dev/ublkb13 ] || fail "loop.conf with id = 13 gave $DEV"
[ "$(json_field "$ID" target)" = loop ] || fail "target: $(json_field "$ID" target)"
fio_verify "$DEV"
ublkd_stop TERM

# The example leaves the data mode to the default (zero copy where the
# kernel has it); with copy = true it serves in copy mode on every kernel.
echo 'copy = true;' >>"$CONFDIR/loop.conf"
ublkd_start loop
[ "$(json_field "$ID" copy_mode)" = copy ] || fail "copy = true gave copy_mode $(json_field "$ID" copy_mode)"
fio_verify "$DEV"
ublkd_stop TERM
