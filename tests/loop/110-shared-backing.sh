#!/bin/bash
# One backing file, one device: a second loop device on the same file is
# refused with a message naming the first device and its daemon, unless both
# say --shared (or `shared = true;` in a config file); once the first is
# deleted the file is free again.
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd jq

img=$(tmpfile 16M)
a=$(ublk add -t loop -f "$img" -q 1) || fail "first add failed"
ida=${a#/dev/ublkb}
pida=$(ublk list -n "$ida" --json | jq -r '.[0].pid')
msg="$img is already the backing file of /dev/ublkb$ida \(ublkd pid $pida\): use --shared on both devices to serve it from two"
expect_fail 1 "$msg" ublk add -t loop -f "$img" -q 1
expect_fail 1 "$msg" ublk add -t loop -f "$img" -q 1 --shared
# A relative path names the same file: the lock is on the file, not the name.
(cd "$(dirname "$img")" && expect_fail 1 "already the backing file of /dev/ublkb$ida" \
	ublk add -t loop -f "./$(basename "$img")" -q 1)
[ "$(ublk list --json | jq length)" = 1 ] || fail "a refused add left a device: $(ublk list)"
ublk del -n "$ida" || fail "del first"

# The file is free again.
b=$(ublk add -t loop -f "$img" -q 1) || fail "add after the first was deleted failed"
ublk del -n "${b#/dev/ublkb}" || fail "del"

# Both --shared: two devices; I/O through one is seen through the other.
a=$(ublk add -t loop -f "$img" -q 1 --shared) || fail "first --shared add failed"
conf=$TMPDIR/b.conf
printf 'target = "loop";\nfile = "%s";\nqueues = 1;\nshared = true;\n' "$img" >"$conf"
b=$(ublk add --config "$conf") || fail "second add with shared = true failed"
printf 'shared backing\n' | dd of="$a" bs=4096 conv=sync oflag=direct status=none ||
	fail "write through $a"
dd if="$b" bs=4096 count=1 iflag=direct status=none | grep -q 'shared backing' ||
	fail "$b does not see what $a wrote"
# A device without --shared is refused while shared ones hold the file.
expect_fail 1 "already the backing file of /dev/ublkb" ublk add -t loop -f "$img" -q 1
ublk del -a || fail "del -a"
echo "ok: exclusive by default, shared on request"
