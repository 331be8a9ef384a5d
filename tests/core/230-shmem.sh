#!/bin/bash
# Shared-memory zero copy (--shmem FILE, UBLK_F_SHMEM_ZC, Linux 7.1+): an
# application whose I/O buffers are in FILE (here tests/prog/shmem-io, on
# tmpfs) has its requests served in place, with no copy.
#   Everywhere: what is refused, one line each (a missing file, a file not
#   on tmpfs/hugetlbfs, one smaller than a page or larger than 4 GiB, with --zero-copy,
#   with -g 1; before 7.1 the kernel feature, by name).
#   7.1+: the device has the flag; loop in copy and in user copy mode: what
#   the client writes from FILE and reads into FILE is not copied (ublkd's
#   copy counter does not move), what it moves through its own memory is,
#   and each reads back what the other wrote; data in FILE that does not
#   start on a page is copied by ublkd, intact; fio verify on the same
#   device; null serves reads into FILE uncopied; the same in place with
#   FILE on hugetlbfs (where the VM can have huge pages); after FILE is resized and
#   the daemon killed, `ublk recover` serves in place again, the data
#   intact, and again after `ublk upgrade`; a recovery after FILE was
#   replaced by another file is refused.
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio jq
. "$(dirname "$0")/../lib/crash.bash"

SHMEM_ZC=$((1 << 19))	# UBLK_F_SHMEM_ZC
shm=/dev/shm/ublkd-test-shmem.$$
cleanup rm -f "$shm" "$shm.odd"

expect_fail 1 "--shmem $shm: No such file or directory; create the file first \(on hugetlbfs or tmpfs, e\.g\. under /dev/shm\), the size of the buffers it is for" \
	ublk add -t null --shmem "$shm"
# A regular file on another file system (procfs): the kernel would not pin it.
expect_fail 1 "--shmem /proc/version: not on hugetlbfs or tmpfs \(file system type 0x9fa0\): the kernel pins only shared memory; put the file under /dev/shm or a hugetlbfs mount" \
	ublk add -t null --shmem /proc/version
head -c 1000 /dev/zero >"$shm.odd"
expect_fail 1 "--shmem $shm.odd: 1000 bytes; it must hold at least one [0-9]+-byte page and at most 4 GiB \(what the kernel registers\): resize it \(truncate -s\)" \
	ublk add -t null --shmem "$shm.odd"
truncate -s 5G "$shm.odd"	# sparse: no memory used
expect_fail 1 "--shmem $shm.odd: 5368709120 bytes; it must hold at least one [0-9]+-byte page and at most 4 GiB \(what the kernel registers\): resize it \(truncate -s\)" \
	ublk add -t null --shmem "$shm.odd"

# The client: tests/prog/shmem-io, whose buffers are in $shm (or with --own
# in its own memory): O_DIRECT chunks of 4K-512K, written with a pattern
# and read back and compared.
io=$UBLKD_BUILDDIR/tests/prog/shmem-io
[ -x "$io" ] || fail "$io is not built (make check-programs)"
truncate -s 4M "$shm"
ino=$(stat -c %i "$shm")

expect_fail 1 "--shmem and --zero-copy cannot be combined: under zero copy the target never touches the data, so there is no copy to save; drop one" \
	ublk add -t null --shmem "$shm" --zero-copy
expect_fail 1 "--shmem and -g 1 \(NEED_GET_DATA\) cannot be combined: a write's data is already in the shared memory; drop one" \
	ublk add -t null --shmem "$shm" -g 1

if ! has_feature SHMEM_ZC; then
	expect_fail 1 "--shmem needs the kernel feature UBLK_F_SHMEM_ZC \(Linux 7\.1\+\); this kernel \(.*\) does not have it" \
		ublk add -t null --shmem "$shm"
	echo "ok: refused on $(uname -r): no UBLK_F_SHMEM_ZC"
	echo "pass"
	exit 0
fi

flags() { ublk list -n "$1" --json | jq -r '.[0].flags'; }
syslog=/run/ublkd-vm-syslog	# the daemons' messages in the test VM (tests/vm/guest-init)
copied() { ublk stat -n "$1" --json | jq -r '.[0].totals.bytes_copied'; }
# same ID: the copy counter has not moved since the last look; grew ID: it has.
c_last=0
same() { local c; c=$(copied "$1"); [ "$c" = "$c_last" ] || fail "$2: ublkd copied $((c - c_last)) bytes"; }
grew() { local c; c=$(copied "$1"); [ "$c" -gt "$c_last" ] || fail "$2: ublkd copied nothing"; c_last=$c; }

# loop, copy and user copy: what the client moves from and to $shm is not
# copied, what it moves from its own memory is; either reads back what the
# other wrote.
img=$(tmpfile 64M)
for mode in --copy --user-copy; do
	dev=$(ublk add -t loop -f "$img" --shmem "$shm" $mode) || fail "loop --shmem $mode: add failed"
	id=${dev#/dev/ublkb}
	f=$(flags "$id")
	((f & SHMEM_ZC)) || fail "--shmem: the device lacks UBLK_F_SHMEM_ZC (flags $f)"
	c_last=$(copied "$id")
	"$io" write "$shm" "$dev" 1 48 || fail "loop --shmem $mode: writes from $shm failed"
	same "$id" "loop --shmem $mode: writes from $shm"
	"$io" --own verify "$shm" "$dev" 1 48 || fail "loop --shmem $mode: writes from $shm did not reach the disk"
	grew "$id" "loop --shmem $mode: reads into the client's own memory"
	"$io" --own write "$shm" "$dev" 2 48 || fail "loop --shmem $mode: writes from own memory failed"
	grew "$id" "loop --shmem $mode: writes from the client's own memory"
	"$io" verify "$shm" "$dev" 2 48 || fail "loop --shmem $mode: reads into $shm"
	same "$id" "loop --shmem $mode: reads into $shm"
	# Buffers 512 bytes into a page: ublkd copies them through its own
	# (page-aligned, as targets are promised) buffer, and says so once.
	[ ! -f "$syslog" ] || lines=$(wc -l <"$syslog")
	"$io" --misalign write "$shm" "$dev" 3 16 $((40 << 20)) ||
		fail "loop --shmem $mode: misaligned writes from $shm failed"
	grew "$id" "loop --shmem $mode: misaligned writes from $shm"
	"$io" --misalign verify "$shm" "$dev" 3 16 $((40 << 20)) ||
		fail "loop --shmem $mode: misaligned reads into $shm"
	grew "$id" "loop --shmem $mode: misaligned reads into $shm"
	"$io" --own verify "$shm" "$dev" 3 16 $((40 << 20)) ||
		fail "loop --shmem $mode: misaligned writes from $shm did not reach the disk"
	if [ -f "$syslog" ]; then
		bounced=$(tail -n +$((lines + 1)) "$syslog" | grep -c -- "--shmem: a request's data starts 512 bytes into a page: copied through ublkd's buffer") || true
		[ "$bounced" -ge 1 ] || fail "loop --shmem $mode: no line says misaligned data was copied by ublkd"
		echo "ok: ublkd said it copied the misaligned data ($bounced line)"
	fi
	fio_verify "$dev" --bsrange=4k-512k --iodepth=16 --size=16M --offset=32M
	ublk del -n "$id" || fail "ublk del"
	echo "ok: loop --shmem $mode: flags $f; 48 chunks each way in place (nothing copied) and through the client's own memory (copied), each read back intact; 16 each way 512 bytes into a page (copied by ublkd), intact; fio verify"
done

# null: reads into $shm are not copied.
dev=$(ublk add -t null -s 256M --shmem "$shm") || fail "null --shmem: add failed"
id=${dev#/dev/ublkb}
c_last=$(copied "$id")
"$io" read "$shm" "$dev" 3 200 || fail "null --shmem: reads failed"
same "$id" "null --shmem: reads into $shm"
"$io" --own read "$shm" "$dev" 3 20 || fail "null --shmem: reads into own memory failed"
grew "$id" "null --shmem: reads into the client's own memory"
ublk del -n "$id" || fail "ublk del"
echo "ok: null --shmem: 200 reads into $shm, none copied"

# hugetlbfs: FILE in 2 MiB pages (where the kernel can give the VM some).
hp_old=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
if grep -qw hugetlbfs /proc/filesystems && echo $((hp_old + 4)) >/proc/sys/vm/nr_hugepages 2>/dev/null &&
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge $((hp_old + 2)) ]; then
	cleanup sh -c "echo $hp_old >/proc/sys/vm/nr_hugepages"
	mnt=$(mktemp -d)
	mount -t hugetlbfs none "$mnt" || fail "cannot mount hugetlbfs on $mnt"
	cleanup sh -c "rm -f '$mnt/buf'; umount '$mnt'; rmdir '$mnt'"
	truncate -s 4M "$mnt/buf"
	dev=$(ublk add -t loop -f "$img" --shmem "$mnt/buf") || fail "loop --shmem on hugetlbfs: add failed"
	id=${dev#/dev/ublkb}
	c_last=$(copied "$id")
	"$io" write "$mnt/buf" "$dev" 5 48 || fail "hugetlbfs: writes from $mnt/buf failed"
	"$io" verify "$mnt/buf" "$dev" 5 48 || fail "hugetlbfs: reads into $mnt/buf"
	same "$id" "loop --shmem on hugetlbfs"
	"$io" --own verify "$mnt/buf" "$dev" 5 48 || fail "hugetlbfs: the writes, read into own memory"
	ublk del -n "$id" || fail "ublk del"
	echo "ok: loop --shmem on hugetlbfs: 48 chunks each way in place (nothing copied), verified"
else
	echo "note: no hugetlbfs pages in $(uname -r)'s VM: the hugetlbfs case did not run"
fi

# A crash: the recovered daemon maps the same file and serves in place
# (the kernel kept the first daemon's registration).
dev=$(ublk add -t loop -f "$img" --shmem "$shm") || fail "loop --shmem: add failed"
id=${dev#/dev/ublkb}
"$io" write "$shm" "$dev" 4 48 $((32 << 20)) || fail "loop --shmem: writes from $shm failed"
io_start "$dev" verify 16M
# The application resizes its file (no longer whole pages): still the same
# file for the recovery; the pages registered are unchanged.
truncate -s $(((4 << 20) + 1000)) "$shm"
crash_cycles "$id" 1 "out=\$(ublk recover -n $id) && [ \"\$out\" = $dev ]"
io_stop
f=$(flags "$id")
((f & SHMEM_ZC)) || fail "after recovery the device lacks UBLK_F_SHMEM_ZC (flags $f)"
c_last=$(copied "$id")
"$io" verify "$shm" "$dev" 4 48 $((32 << 20)) || fail "after recovery: the chunks written before the crash"
same "$id" "after recovery: reads into $shm"
echo "ok: $shm resized, kill -9 and ublk recover under fio verify: the chunks written before the crash verify, read in place"
# `ublk upgrade`: the new daemon takes the device over the same way.
pid=$(ublk list -n "$id" --json | jq -r '.[0].pid')
ublk upgrade -n "$id" >/dev/null 2>"$TMPDIR/err" || fail "ublk upgrade failed: $(cat "$TMPDIR/err")"
new=$(ublk list -n "$id" --json | jq -r '.[0].pid')
[ "$new" != "$pid" ] || fail "ublk upgrade left pid $pid serving"
c_last=$(copied "$id")
"$io" verify "$shm" "$dev" 4 48 $((32 << 20)) || fail "after ublk upgrade: the chunks written before"
same "$id" "after ublk upgrade: reads into $shm"
echo "ok: ublk upgrade (pid $pid -> $new): the chunks verify, read in place"

# The file replaced under a crashed device: recovery is refused, not
# served from the wrong pages.
pid=$(ublk list -n "$id" --json | jq -r '.[0].pid')
kill -9 "$pid"
rm -f "$shm"
truncate -s 4M "$shm"
expect_fail 1 "cannot recover device $id: $shm is now another file \(inode [0-9]+ .*\) than the one the device was started on \(inode $ino .*\); put the original back at that path, or delete the device with 'ublk del -n $id'" \
	ublk recover -n "$id"
ublk del -n "$id" || fail "ublk del of the device left waiting"
echo "ok: $shm replaced: recovery refused"
echo "pass"
