#!/bin/bash
# timeout: 180
# The default data mode (ublkd(8), --copy): zero copy for the loop target
# where the kernel has a zero-copy mechanism (7.x: automatic buffer
# registration; the fused 6.12: fused commands), copy where it has none
# (stock 6.12); copy for null (it moves no data) and whenever --copy is
# given.  A default zero-copy device keeps its mode across kill -9 and
# `ublk recover`, and its data reads back.
. "$(dirname "$0")/lib.bash"
need cmp jq

mode_of() { ublk list -n "$1" --json | jq -r '.[0].copy_mode + " " + .[0].zero_copy_mechanism'; }

if has_feature AUTO_BUF_REG; then want="zero_copy auto_buf_reg"
elif has_feature SUPPORT_ZERO_COPY; then want="zero_copy register_io_buf"
elif has_feature FUSED_ZERO_COPY; then want="zero_copy fused_cmd"
else want="copy none"; fi

img=$W/disk.img
truncate -s 64M "$img"
randfile "$W/r" 4

# 1. loop, no mode asked: zero copy where the kernel has it.
dev=$(ublk add -t loop -f "$img") || fail "ublk add -t loop -f $img failed"
id=${dev#/dev/ublkb}
got=$(mode_of "$id")
[ "$got" = "$want" ] || fail "loop default mode on $(uname -r): '$got', want '$want'"
log "ok: loop, no mode asked: $got"

# 2. It stays so across a crash and ublk recover, and the data is intact.
dd if="$W/r" of="$dev" bs=1M seek=8 oflag=direct status=none || fail "dd to $dev failed"
pid=$(ublk list -n "$id" --json | jq -r '.[0].pid')
kill -9 "$pid"
for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
out=$(ublk recover -n "$id") || fail "ublk recover -n $id failed: $out"
got=$(mode_of "$id")
[ "$got" = "$want" ] || fail "mode after recovery: '$got', want '$want'"
cmp -n $((4 << 20)) -i $((8 << 20)):0 "$dev" "$W/r" || fail "data differs after recovery"
ublk del -n "$id" || fail "ublk del -n $id failed"
cmp -n $((4 << 20)) -i $((8 << 20)):0 "$img" "$W/r" || fail "the backing file lacks the data"
log "ok: kill -9 + recover keeps '$got', data intact"

# 3. --copy asks for copy, on every kernel.
dev=$(ublk add -t loop -f "$img" --copy) || fail "ublk add --copy failed"
id=${dev#/dev/ublkb}
got=$(mode_of "$id")
[ "$got" = "copy none" ] || fail "--copy gave '$got'"
ublk del -n "$id" || fail "ublk del -n $id failed"

# 4. null moves no data: copy unless asked.
dev=$(ublk add -t null -s 64M) || fail "ublk add -t null failed"
id=${dev#/dev/ublkb}
got=$(mode_of "$id")
[ "$got" = "copy none" ] || fail "null default mode: '$got', want 'copy -'"
ublk del -n "$id" || fail "ublk del -n $id failed"
log "ok: --copy and null give copy"
