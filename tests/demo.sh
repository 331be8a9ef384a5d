#!/usr/bin/env bash
# The main job, end to end: a ublk loop device over a disk image (zero copy
# where the kernel has it), mkfs.ext4, mount, write files, verify checksums,
# `ublk list`, tear down, and check the image itself is a clean file system.
# Runs as root on a kernel with ublk (./quickstart demo puts it in the test VM
# when this host has none).
set -euo pipefail

step() { echo "==> $*"; }
work=$(mktemp -d /tmp/ublkd-demo.XXXXXX)
img=$work/disk.img
mnt=$work/mnt
dev=""
finish() {
	mountpoint -q "$mnt" 2>/dev/null && umount "$mnt"
	[ -z "$dev" ] || ublk del -n "${dev#/dev/ublkb}" 2>/dev/null || true
	rm -rf "$work"
}
trap finish EXIT

step "kernel $(uname -r)"
ublk features | tail -n1
zc=--zero-copy
if ! ublk features | grep -q '^zero copy: yes'; then
	zc=""
	echo "this kernel has no ublk zero copy (Linux 6.15+): using copy mode"
fi

step "creating a 256 MiB disk image and a ublk loop device over it ${zc:+(zero copy)}"
truncate -s 256M "$img"
dev=$(ublk add -t loop -f "$img" $zc)
echo "$dev"
ublk list -v

step "mkfs.ext4 $dev, mount, write files"
mkfs.ext4 -q -F "$dev"
mkdir -p "$mnt"
mount "$dev" "$mnt"
mkdir "$mnt/data"
for i in $(seq 1 20); do
	head -c $((i * 256 * 1024)) /dev/urandom >"$mnt/data/file$i"
done
(cd "$mnt/data" && sha256sum file* >"$work/sums")
du -sh "$mnt/data"

step "unmount, mount again, verify checksums"
umount "$mnt"
echo 3 >/proc/sys/vm/drop_caches
mount "$dev" "$mnt"
(cd "$mnt/data" && sha256sum --quiet -c "$work/sums")
echo "all 20 files verified"
umount "$mnt"

step "ublk list, then delete the device"
ublk list
json=$(ublk list -n "${dev#/dev/ublkb}" --json)
echo "copy mode: $(jq -r '.[0].copy_mode' <<<"$json"), bytes copied by the daemon: $(jq -r '.[0].bytes_copied' <<<"$json")"
ublk del -n "${dev#/dev/ublkb}"
dev=""

step "the image file holds a clean file system with the same files"
modprobe loop 2>/dev/null || true
e2fsck -fn "$img" >/dev/null
mount -o loop,ro "$img" "$mnt"
(cd "$mnt/data" && sha256sum --quiet -c "$work/sums")
umount "$mnt"
echo "demo passed: data written through ublk is intact in $img"
