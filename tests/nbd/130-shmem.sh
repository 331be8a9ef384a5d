#!/bin/bash
# --shmem with the nbd target (Linux 7.1+), the target that has no zero
# copy: libnbd reads and writes the client's shared pages directly, so
# nothing is copied (ublk stat's bytes_copied does not move) and the data
# verifies both ways, against writes and reads through the client's own
# memory (copied), and through nbdcopy.
. "$(dirname "$0")/lib.bash"
require_cmd jq nbdcopy
has_feature SHMEM_ZC || skip "no UBLK_F_SHMEM_ZC in $(uname -r) (Linux 7.1+)"
io=$UBLKD_BUILDDIR/tests/prog/shmem-io
[ -x "$io" ] || fail "$io is not built (make check-programs)"

shm=/dev/shm/ublkd-test-nbd-shmem.$$
cleanup rm -f "$shm"
truncate -s 4M "$shm"
sock=$(nbd_sock mem)
nbd_start mem -U "$sock" memory 64M
nbd_add --uri "nbd+unix:///?socket=$sock" -q 1 --shmem "$shm"

copied() { ublk stat -n "$ID" --json | jq -r '.[0].totals.bytes_copied'; }
c0=$(copied)
"$io" write "$shm" "$DEV" 7 48 || fail "writes from $shm failed"
"$io" verify "$shm" "$DEV" 7 48 || fail "reads into $shm"
c1=$(copied)
[ "$c1" = "$c0" ] || fail "ublkd copied $((c1 - c0)) bytes of requests in $shm"
"$io" --own verify "$shm" "$DEV" 7 48 || fail "the writes from $shm, read into own memory"
c2=$(copied)
[ "$c2" -gt "$c1" ] || fail "reads into the client's own memory were not copied"
# What the server has: chunk 0 (written from $shm) through another client.
nbdcopy "nbd+unix:///?socket=$sock" "$TMPDIR/export" || fail "nbdcopy failed"
dd if="$DEV" of="$TMPDIR/dev" bs=1M count=24 iflag=direct status=none
cmp -n $((24 << 20)) "$TMPDIR/export" "$TMPDIR/dev" || fail "the server's data differs from the device's"
echo "ok: nbd --shmem: 48 chunks written and read in place (nothing copied), verified through own memory ($((c2 - c1)) bytes copied) and nbdcopy"
