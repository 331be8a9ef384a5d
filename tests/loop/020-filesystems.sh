#!/bin/bash
# timeout: 600
# kernels: first
# ext4 and xfs on the loop target: mkfs, mount, copy a tree of files,
# checksum, unmount, fsck -fn / xfs_repair -n clean, then through a NEW ublkd
# on the same backing: remount and re-verify.  ext4 over a file on tmpfs
# (buffered), xfs over a brd RAM disk (direct I/O): both in the default copy
# mode, one of them (in turn) in each other copy mode.
. "$(dirname "$0")/lib.bash"
need mkfs.ext4 fsck.ext4 mkfs.xfs xfs_repair sha256sum

copy_modes
brd_setup 320
tmpfs_setup
img=$TMPFS/ext4.img
mnt=$W/mnt
mkdir -p "$mnt" "$W/tree"
on_exit "umount -l '$mnt'"

# The tree: a real source tree (many small files) plus random files of
# various sizes up to 2 MiB.
cp -a /usr/include/linux "$W/tree/" 2>/dev/null || mkdir -p "$W/tree/linux"
for i in $(seq 1 40); do
	head -c $(((i * 7919) % 65536 + i)) /dev/urandom >"$W/tree/small-$i"
done
for i in 1 2; do randfile "$W/tree/big-$i" $i; done
mkdir -p "$W/tree/deep/a/b/c/d" && echo hello >"$W/tree/deep/a/b/c/d/e"
(cd "$W/tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$W/sums"
nfiles=$(wc -l <"$W/sums")

check_tree() {
	(cd "$mnt" && sha256sum --quiet -c "$W/sums") || fail "$1: files differ after $2"
}

# fs_cycle NAME MKFS FSCK BACKING [ADD-ARGS...]
fs_cycle() {
	local name=$1 mkfs=$2 fsck=$3 backing=$4
	shift 4
	add_dev -f "$backing" "$@"
	$mkfs "$DEV" >"$W/mkfs.out" 2>&1 || fail "$name: $mkfs $DEV failed: $(cat "$W/mkfs.out")"
	mount "$DEV" "$mnt" || fail "$name: mount failed"
	cp -a "$W/tree/." "$mnt/" || fail "$name: copying the tree failed"
	check_tree "$name" "copying"
	umount "$mnt" || fail "$name: umount failed"
	$fsck "$DEV" >"$W/fsck.out" 2>&1 || fail "$name: $fsck found problems: $(tail -5 "$W/fsck.out")"
	del_dev
	# A new daemon on the same backing: only what reached the backing counts.
	add_dev -f "$backing" "$@"
	mount "$DEV" "$mnt" || fail "$name: remount through a new ublkd failed"
	check_tree "$name" "remounting through a new ublkd"
	umount "$mnt"
	del_dev
	log "ok: $name: $nfiles files verified, fsck clean, remount verified"
}

# ext4 and xfs in the default copy mode; one of them, in turn, in each other.
k=0
for mode in "${MODES[@]}"; do
	m=$(mode_name "$mode")
	if [ -z "$mode" ]; then fss="ext4 xfs"; elif ((k++ % 2)); then fss=ext4; else fss=xfs; fi
	for fs in $fss; do
		case $fs in
		ext4)
			rm -f "$img" && truncate -s 128M "$img"
			# shellcheck disable=SC2086
			fs_cycle "ext4 on a tmpfs file, $m" "mkfs.ext4 -q -F" "fsck.ext4 -fn" "$img" -q 2 $mode ;;
		xfs)
			# shellcheck disable=SC2086
			fs_cycle "xfs on brd, $m" "mkfs.xfs -q -f" "xfs_repair -n" /dev/ram0 -q 1 $mode ;;
		esac
	done
done
log "pass"
