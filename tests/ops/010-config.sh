#!/bin/bash
# A device from a config file: `ublkd --config FILE` and `ublkd NAME`
# (SYSCONFDIR/ublkd/NAME.conf, here $UBLKD_CONFDIR) bring up a null device
# with the configured id, queues, depth, size and max I/O size; options after
# NAME apply on top of the file; SIGTERM stops it and leaves nothing.
# timeout: 300
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.bash"
require_cmd jq

ncpu=$(nproc)
q=$((ncpu < 2 ? ncpu : 2))
f=$(conf t1 <<'C'
# a null device
target = "null";
queues = 2;
depth = 64;
size = "256M";
max_io = "256K";
recovery = "off";
C
)

check_dev() { # DEPTH SIZE_BYTES
	local name=ublkb$ID
	[ "$(json_field "$ID" queues)" = "$q" ] || fail "queues: $(json_field "$ID" queues), want $q"
	[ "$(json_field "$ID" depth)" = "$1" ] || fail "depth: $(json_field "$ID" depth), want $1"
	[ "$(json_field "$ID" size)" = "$2" ] || fail "size: $(json_field "$ID" size), want $2"
	[ "$(json_field "$ID" target)" = null ] || fail "target: $(json_field "$ID" target)"
	[ "$(json_field "$ID" max_io_bytes)" = $((256 << 10)) ] || fail "max_io_bytes: $(json_field "$ID" max_io_bytes)"
	[ "$(cat "/sys/block/$name/size")" = $(($2 / 512)) ] || fail "sysfs size $(cat "/sys/block/$name/size")"
	[ "$(cat "/sys/block/$name/queue/max_sectors_kb")" = 256 ] || fail "max_sectors_kb $(cat "/sys/block/$name/queue/max_sectors_kb")"
	dd if=/dev/zero of="$DEV" bs=64K count=16 oflag=direct status=none || fail "write to $DEV failed"
	dd if="$DEV" of=/dev/null bs=64K count=16 iflag=direct status=none || fail "read from $DEV failed"
	echo "ok: $DEV: $q queues of depth $1, $2 bytes, 256K requests, I/O works"
}

# --config FILE
ublkd_start --config "$f"
check_dev 64 $((256 << 20))
ublkd_stop TERM

# --config=FILE, and SIGINT stops it as well.
ublkd_start --config="$f"
check_dev 64 $((256 << 20))
ublkd_stop INT

# NAME, with a fixed id; command-line options after NAME go on top.
cat >>"$f" <<'C'
id = 9;
C
ublkd_start t1 --depth 32 -s 512M
[ "$DEV" = /dev/ublkb9 ] || fail "id = 9 gave $DEV"
check_dev 32 $((512 << 20))
ublk list -v | grep -q "options: .*t1" || fail "list -v does not show how ublkd was started: $(ublk list -v)"
ublkd_stop TERM

# owner: the block device node goes to the user and group named.
cat >"$f" <<'C'
target = "null";
size = "64M";
queues = 1;
owner = "nobody:nogroup";
C
ublkd_start t1
[ "$(stat -c %U:%G "$DEV")" = nobody:nogroup ] || fail "owner: $DEV is $(stat -c %U:%G "$DEV")"
echo "ok: owner: $DEV belongs to nobody:nogroup"
ublkd_stop TERM

[ -z "$(ublk list)" ] || fail "devices left: $(ublk list)"
