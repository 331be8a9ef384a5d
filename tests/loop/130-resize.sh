#!/bin/bash
# timeout: 180
# ublk resize (UPDATE_SIZE): the backing file of a loop device with a mounted
# ext4 grows, `ublk resize` makes the device that size at once (blockdev,
# ublk list, the state file, the recovery record), resize2fs grows the file
# system online, and every file keeps its checksum; a shrink is refused
# without --force (device unchanged), a size past the backing is refused; a
# crash afterwards recovers the resized device (the record followed); the
# recovered daemon resizes too (--force shrink, then back to the file's
# size); null resizes with -s.  On a kernel without UPDATE_SIZE (6.12):
# refused with one line naming the kernel version, nothing changed.
. "$(dirname "$0")/lib.bash"
need blockdev mkfs.ext4 resize2fs sha256sum jq

# one_line_fail WHAT REGEX CMD...: CMD exits 1 with one stderr line matching.
one_line_fail() {
	local what=$1 re=$2 rc=0
	shift 2
	"$@" >"$W/of.out" 2>"$W/of.err" || rc=$?
	[ $rc = 1 ] || fail "$what: '$*' exited $rc, expected 1 ($(cat "$W/of.err"))"
	[ "$(grep -c . "$W/of.err")" = 1 ] || fail "$what: not one line: $(cat "$W/of.err")"
	grep -Eq -- "$re" "$W/of.err" || fail "$what: '$(cat "$W/of.err")' does not match /$re/"
	log "ok: $what: $(cat "$W/of.err")"
}
size_is() { # WANT WHEN
	local got
	got=$(blockdev --getsize64 "$DEV")
	[ "$got" = "$1" ] || fail "$2: $DEV has $got bytes, want $1"
}
rec=/run/ublkd

# Usage errors: no kernel needed.
one_line_fail "no -n" '^ublk: usage: ublk resize -n ID \[-s SIZE\] \[--force\]$' ublk resize
one_line_fail "bad -s" "^ublk: invalid size '1000' for -s: expected a non-zero multiple of 512" \
	ublk resize -n 0 -s 1000

img=$W/disk.img
truncate -s 16M "$img"

if ! has_feature UPDATE_SIZE; then
	add_dev -f "$img"
	truncate -s 32M "$img"
	one_line_fail "resize on $(uname -r)" \
		'^ublk: ublk resize needs the kernel feature UBLK_F_UPDATE_SIZE \(Linux 6\.16\+\); this kernel \(.*\) does not have it$' \
		ublk resize -n "$DEV_ID"
	size_is $((16 << 20)) "after the refused resize"
	! grep -q '^size' "$rec/$DEV_ID.conf" || fail "the record changed: $(cat "$rec/$DEV_ID.conf")"
	del_dev
	for f in "$rec/$DEV_ID".* "$rec/.$DEV_ID".*; do
		[ ! -e "$f" ] || fail "left behind: $f"
	done
	log "ok: kernel $(uname -r) has no UPDATE_SIZE: refused, nothing changed"
	exit 0
fi

# ---- grow under a mounted ext4
add_dev -f "$img"
mkfs.ext4 -q -F "$DEV" >/dev/null || fail "mkfs.ext4 $DEV"
mnt=$W/mnt
mkdir -p "$mnt"
mount "$DEV" "$mnt" || fail "mount $DEV"
on_exit "umount -l '$mnt'"
for i in 1 2 3; do randfile "$mnt/f$i" 1; done
(cd "$mnt" && sha256sum f1 f2 f3 >"$W/sums") || fail "sha256sum"
truncate -s 32M "$img"
t0=$(date +%s%N)
out=$(ublk resize -n "$DEV_ID" 2>"$W/err") || fail "ublk resize after growing the file: $(cat "$W/err")"
t1=$(date +%s%N)
[ "$out" = "$DEV: 16 MiB -> 32 MiB" ] || fail "ublk resize printed '$out'"
size_is $((32 << 20)) "after ublk resize"
log "ok: '$out' in $(((t1 - t0) / 1000000)) ms; blockdev --getsize64 $(blockdev --getsize64 "$DEV")"
[ "$(ublk list -n "$DEV_ID" --json | jq '.[0].size')" = $((32 << 20)) ] ||
	fail "ublk list --json: $(ublk list -n "$DEV_ID" --json)"
grep -q "^size = $((32 << 20))L;" "$rec/$DEV_ID.state" || fail "state file: $(cat "$rec/$DEV_ID.state")"
grep -q "^size = \"$((32 << 20))\";" "$rec/$DEV_ID.conf" || fail "record: $(cat "$rec/$DEV_ID.conf")"
sed -n '/backing/,$p' "$rec/$DEV_ID.conf" | grep -q "size = $((32 << 20))L;" ||
	fail "record's backing identity: $(cat "$rec/$DEV_ID.conf")"
log "ok: ublk list, $DEV_ID.state and $DEV_ID.conf say 32 MiB"

before=$(df -k --output=size "$mnt" | tail -1)
resize2fs "$DEV" >"$W/resize2fs.out" 2>&1 || fail "resize2fs online: $(cat "$W/resize2fs.out")"
after=$(df -k --output=size "$mnt" | tail -1)
[ "$after" -gt $((before + 12000)) ] || fail "ext4 did not grow: $before KiB -> $after KiB"
randfile "$mnt/f4" 16	# needs the new space
(cd "$mnt" && sha256sum f4 >>"$W/sums") || fail "sha256sum f4"
umount "$mnt"
mount "$DEV" "$mnt" || fail "mount again"
(cd "$mnt" && sha256sum --quiet -c "$W/sums") || fail "checksums after the online grow"
log "ok: resize2fs online $before -> $after KiB, 16 MiB written, more than the old free space, checksums intact"

# ---- refused: shrink without --force, past the backing
one_line_fail "shrink without --force" \
	"^ublk: shrinking $DEV from 32 MiB to 16 MiB cuts off its last 16 MiB .*: shrink what is on it first, then add --force$" \
	ublk resize -n "$DEV_ID" -s 16M
one_line_fail "past the backing" \
	"^ublk: loop: $img holds 33554432 bytes, less than the size asked for: grow it first .*, or give a smaller -s$" \
	ublk resize -n "$DEV_ID" -s 64M
size_is $((32 << 20)) "after the refusals"

# ---- a crash now recovers the resized device
umount "$mnt"
kill -9 "$DEV_PID"
wait "$DEV_PID" 2>/dev/null
out=$(ublk recover -n "$DEV_ID" 2>"$W/err") || fail "recovery after the resize: $(cat "$W/err")"
size_is $((32 << 20)) "after recovery"
[ "$(ublk list -n "$DEV_ID" --json | jq -r '.[0].daemon_running')" = true ] || fail "no daemon after recovery"
grep -q "^size = $((32 << 20))L;" "$rec/$DEV_ID.state" || fail "state after recovery: $(cat "$rec/$DEV_ID.state")"
mount "$DEV" "$mnt" || fail "mount after recovery"
(cd "$mnt" && sha256sum --quiet -c "$W/sums") || fail "checksums after recovery"
umount "$mnt"
log "ok: recovered at 32 MiB, checksums intact"

# ---- the recovered daemon resizes: --force shrink, then back to the file
out=$(ublk resize -n "$DEV_ID" -s 24M --force 2>"$W/err") || fail "resize --force: $(cat "$W/err")"
[ "$out" = "$DEV: 32 MiB -> 24 MiB" ] || fail "ublk resize --force printed '$out'"
size_is $((24 << 20)) "after the forced shrink"
out=$(ublk resize -n "$DEV_ID" 2>"$W/err") || fail "resize to the file's size: $(cat "$W/err")"
size_is $((32 << 20)) "after growing back"
out=$(ublk resize -n "$DEV_ID" 2>"$W/err") || fail "resize to the same size: $(cat "$W/err")"
[ "$out" = "$DEV: 32 MiB, unchanged" ] || fail "same size printed '$out'"
ublk del -n "$DEV_ID" || fail "ublk del"
log "ok: the recovered daemon shrank (--force) and grew back"

# ---- null: -s only
dev=$(ublk add -t null -s 16M) || fail "ublk add -t null"
id=${dev#/dev/ublkb}
one_line_fail "null without -s" '^ublk: null: .*give -s SIZE$' ublk resize -n "$id"
ublk resize -n "$id" -s 48M >/dev/null || fail "null resize -s 48M"
[ "$(blockdev --getsize64 "$dev")" = $((48 << 20)) ] || fail "null: $(blockdev --getsize64 "$dev")"
ublk del -n "$id" || fail "ublk del null"
one_line_fail "no such device" "^ublk: no ublk device $id \(see 'ublk list'\)$" ublk resize -n "$id"
log "ok: null resized with -s"
