#!/bin/bash
# Recovery reads the device's recovery record (/run/ublkd/ID.conf), never the
# first start's command line or directory: a relative -f recovered from
# another directory keeps the original file (checked by data); a backing
# path that now names another file, or nothing, is refused with one line and
# the device (with a reader blocked on it) is deleted by `ublk del --force` within
# seconds; devices started as `ublkd NAME` and `ublkd --config FILE` recover
# by `ublk recover` (and NAME by a restart, as systemd does); a file name
# with every awkward byte in a ~3800-byte path survives add, --check (eval'd
# by bash: same argv) and recovery.
# timeout: 300
# kernels: first
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.bash"
require_cmd jq dd cmp

T=$(mktemp -d "${TMPDIR:-/tmp}/rec.XXXXXX")
cleanup rm -rf "$T"

pattern() { # FILE: 64 KiB of random data
	head -c 65536 /dev/urandom >"$1"
}
write_dev() { dd if="$2" of="$1" bs=64K count=1 oflag=direct status=none || fail "write to $1"; }
same_data() { # DEV_OR_FILE PATTERN
	cmp -n 65536 "$1" "$2" >/dev/null 2>&1
}
kill_daemon() { # ID: kill -9 its ublkd, wait until the kernel sees it gone
	local pid
	# (from the state file: list --json's escaping is not this test's concern)
	pid=$(grep -o 'pid[": =]*[0-9]*' "/run/ublkd/$1.state" | grep -o '[0-9]*$')
	kill -9 "$pid"
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

# ---- relative -f, recovered from another directory
mkdir -p "$T/a" "$T/b"
truncate -s 64M "$T/a/disk.img"
truncate -s 32M "$T/b/disk.img"
pattern "$T/p1"
dev=$(cd "$T/a" && ublk add -t loop -f disk.img) || fail "add -f disk.img in $T/a"
id=${dev#/dev/ublkb}
write_dev "$dev" "$T/p1"
grep -q "^file = \"$T/a/disk.img\";" "/run/ublkd/$id.conf" ||
	fail "the recovery record does not hold the absolute path: $(cat "/run/ublkd/$id.conf")"
kill_daemon "$id"
out=$(cd "$T/b" && ublk recover -n "$id") || fail "recover from $T/b failed"
[ "$out" = "$dev" ] || fail "recover printed '$out', want $dev"
[ "$(blockdev --getsize64 "$dev")" = $((64 << 20)) ] || fail "size after recovery: $(blockdev --getsize64 "$dev")"
same_data "$dev" "$T/p1" || fail "$dev lost its data after recovery from another directory"
same_data "$T/a/disk.img" "$T/p1" || fail "$T/a/disk.img does not hold what was written"
[ "$(json_field "$id" description)" = "$T/a/disk.img" ] || fail "recovered onto $(json_field "$id" description)"
write_dev "$dev" "$T/p1"
cmp -n 65536 "$T/b/disk.img" /dev/zero >/dev/null || fail "$T/b/disk.img was written to"
echo "ok: recovered from $T/b, $dev still serves $T/a/disk.img (same data, 64 MiB)"
ublk del -n "$id" || fail "del"

# ---- the path now names another file, or nothing: refused, deletable
img=$T/a/x.img
truncate -s 16M "$img"
dev=$(ublk add -t loop -f "$img") || fail "add"
id=${dev#/dev/ublkb}
kill_daemon "$id"
# a reader blocked on the waiting device
dd if="$dev" of=/dev/null bs=4K count=1 iflag=direct status=none 2>/dev/null &
reader=$!
mv "$img" "$T/a/x.moved"
expect_fail 1 "cannot recover device $id: its backing file $img \(inode [0-9]+ on device [0-9]+:[0-9]+, 16 MiB\) cannot be reached: No such file or directory; put that file back, or delete the device with 'ublk del -n $id'" \
	ublk recover -n "$id"
truncate -s 16M "$img"
expect_fail 1 "cannot recover device $id: $img is now another file \(inode [0-9]+ .*\) than the one the device was started on \(inode [0-9]+ .*\); put the original back" \
	ublk recover -n "$id"
kill -0 "$reader" 2>/dev/null || fail "the reader finished while the device had no daemon"
# The reader holds the disk: plain del refuses, naming it; --force deletes.
expect_fail 1 "device $id is in use \\(/dev/ublkb$id open by dd" timeout 15 ublk del -n "$id"
timeout 15 ublk del --force -n "$id" || fail "ublk del --force of the refused device failed or hung"
ublk_dev_wait_gone "$id" 5
for ((i = 0; i < 50; i++)); do kill -0 "$reader" 2>/dev/null || break; sleep 0.1; done
kill -0 "$reader" 2>/dev/null && fail "the reader is still blocked 5 s after ublk del"
echo "ok: recovery onto a missing or other file refused; ublk del --force removed the device and freed its reader"

# ---- NAME and --config started devices: ublk recover, and a restart
truncate -s 16M "$CONFDIR/rd.img"
pattern "$T/p2"
conf rd >/dev/null <<'C'
target = "loop";
file = "rd.img";
C
ublkd_start rd
[ "$(json_field "$ID" description)" = "$CONFDIR/rd.img" ] ||
	fail "file = \"rd.img\" is not relative to the config file: $(json_field "$ID" description)"
write_dev "$DEV" "$T/p2"
kill -9 "$UBLKD_PID"
wait "$UBLKD_PID" 2>/dev/null || true
out=$(cd / && ublk recover -n "$ID") || fail "ublk recover of the NAME-started device failed"
[ "$out" = "$DEV" ] || fail "recover printed '$out'"
same_data "$DEV" "$T/p2" || fail "$DEV lost its data"
echo "ok: a device started as 'ublkd rd' recovers by ublk recover"
old=$ID
kill_daemon "$ID"
ublkd_start rd
[ "$ID" = "$old" ] || fail "restarting ublkd rd made device $ID instead of recovering $old"
grep -q "recovering it" "${TMPDIR:-/tmp}/ublkd.$_ublkd_n.err" || fail "the restart did not say it recovers"
same_data "$DEV" "$T/p2" || fail "$DEV lost its data"
echo "ok: restarting 'ublkd rd' recovers $DEV from its record"
ublk del -n "$ID"

f=$(conf rc <<C
target = "loop";
file = "$CONFDIR/rd.img";
C
)
ublkd_start --config "$f"
kill -9 "$UBLKD_PID"
wait "$UBLKD_PID" 2>/dev/null || true
out=$(ublk recover -n "$ID") || fail "ublk recover of the --config-started device failed"
[ "$out" = "$DEV" ] || fail "recover printed '$out'"
same_data "$DEV" "$T/p2" || fail "$DEV lost its data"
echo "ok: a device started with --config recovers by ublk recover"
ublk del -n "$ID"

# ---- awkward names in a long path
long=$T
while [ ${#long} -lt 3550 ]; do long=$long/$(printf 'd%.0s' {1..200}); done
long=$long/$(head -c $((3760 - ${#long})) /dev/zero | tr '\0' e)
mkdir -p "$long"
name=$'we\'ird "name"\n\twith \\ \001 \377 end.img'
w=$long/$name
[ ${#w} -gt 3700 ] || fail "path of ${#w} bytes, want ~3800"
truncate -s 16M "$w"
ublkd() { printf '%s\0' "$@"; }
printed=$(command ublkd -t loop -f "$w" --check) || fail "--check failed"
eval "$printed" >"$T/argv" || fail "bash cannot eval what --check printed: $printed"
unset -f ublkd
mapfile -d '' argv <"$T/argv"
found=0
for a in "${argv[@]}"; do [ "$a" != "$w" ] || found=1; done
[ $found = 1 ] || fail "--check's line does not give the path back to bash: $printed"
dev=$(ublk add -t loop -f "$w") || fail "add of the awkward path (${#w} bytes)"
id=${dev#/dev/ublkb}
write_dev "$dev" "$T/p1"
kill_daemon "$id"
out=$(ublk recover -n "$id") || fail "recovery of the awkward path failed"
same_data "$dev" "$T/p1" || fail "$dev lost its data"
same_data "$w" "$T/p1" || fail "the awkward file does not hold the data"
echo "ok: a ${#w}-byte path with ' \" newline tab \\ \\001 \\377 survives add, --check and recovery"
ublk del -n "$id"
