#!/bin/bash
# qemu-nbd serving a qcow2 image: fio verify, ext4, and what the device wrote
# reads back through QEMU's own qcow2 code (qemu-img convert) byte for byte.
# kernels: first
. "$(dirname "$0")/lib.bash"
require_cmd fio qemu-nbd qemu-img mkfs.ext4 fsck.ext4

img=$TMPDIR/disk.qcow2
qemu-img create -q -f qcow2 "$img" 128M || fail "qemu-img create failed"
sock=$(nbd_sock qemu)
qemu-nbd --fork --persistent --pid-file="$TMPDIR/qemu.pid" -k "$sock" -f qcow2 \
	-x disk --cache=writeback --discard=unmap "$img" || fail "qemu-nbd did not start"
cleanup nbd_kill qemu
nbd_add --uri "nbd+unix:///disk?socket=$sock"
[ "$(cat /sys/block/ublkb$ID/size)" = $((128 << 11)) ] || fail "size is not 128 MiB"

fio_verify "$DEV" --bs=4k --size=16M --verify_state_save=0 --output=/dev/null
fio_verify "$DEV" --bs=1m --size=32M --offset=32M --verify_state_save=0 --output=/dev/null
echo "fio verify 4k, 1m: ok"

mkfs.ext4 -q -F -E nodiscard -b 4096 "$DEV" 16384 || fail "mkfs.ext4 failed"  # 64 MiB: data goes at 100 MiB
fsck.ext4 -fn "$DEV" >/dev/null 2>&1 || fail "fsck failed"
data=$(rand_file 8)
dd if="$data" of="$DEV" bs=1M seek=100 oflag=direct status=none || fail "write failed"
nbd_del
nbd_kill qemu
raw=$TMPDIR/disk.raw
qemu-img convert -f qcow2 -O raw "$img" "$raw" || fail "qemu-img convert failed"
cmp -n $((8 << 20)) -i 0:$((100 << 20)) "$data" "$raw" || fail "qcow2 holds other bytes"
fsck.ext4 -fn "$raw" >/dev/null 2>&1 || fail "fsck of the converted image failed"
echo "read back through qemu-img: ok"
