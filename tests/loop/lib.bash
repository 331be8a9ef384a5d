# shellcheck shell=bash
# tests/loop/lib.bash - helpers shared by the loop target's tests (sourced;
# not a test itself: the runner only runs *.sh).
#
# Each test runs as root on a kernel with ublk (tests/vm/run), with ublk and
# ublkd on PATH and UBLKD_PLUGIN_DIR set.  Exit 0 pass, 77 skip, else fail.

set -u -o pipefail

T=$(basename "$0" .sh)
W=$(mktemp -d "${TMPDIR:-/tmp}/ublkd-loop-$T.XXXXXX")	# per-test scratch
CLEANUPS=()

log() { printf '%s: %s\n' "$T" "$*"; }
fail() {
	local f
	printf '%s: FAIL: %s\n' "$T" "$*" >&2
	for f in "$W"/ublkd-*.log; do
		[ -s "$f" ] || continue
		echo "---- $f (last lines) ----" >&2
		tail -n 20 "$f" >&2
	done
	exit 1
}
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }

# Run "$@" at exit, last registered first.
on_exit() { CLEANUPS+=("$*"); }
_cleanup() {
	local rc=$? i
	set +e
	ublk del -a >/dev/null 2>&1
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[i]}" >/dev/null 2>&1
	done
	rm -rf "$W"
	exit $rc
}
trap _cleanup EXIT

need() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "$c is not installed"
	done
}
need ublk ublkd
[ -c /dev/ublk-control ] || skip "no /dev/ublk-control (run through tests/vm/run)"
[ "$(id -u)" = 0 ] || skip "needs root"

# ---- copy modes ------------------------------------------------------------
# The data modes this kernel offers, as ublk add arguments ("" = the default).
# Sets MODES (array) and says once which were skipped and why.
# shellcheck source=../lib/features.bash
. "$(dirname "${BASH_SOURCE[0]}")/../lib/features.bash"	# has_feature
copy_modes() {
	local missing=
	# "" is the default mode: zero copy where the kernel has it (ublkd(8)),
	# which then needs no run of its own; else copy.
	MODES=("")
	if has_feature AUTO_BUF_REG || has_feature SUPPORT_ZERO_COPY ||
		has_feature FUSED_ZERO_COPY; then
		MODES+=("--copy")
	else
		missing+=" '--zero-copy'"
	fi
	if has_feature USER_COPY; then MODES+=("--user-copy"); else missing+=" '--user-copy'"; fi
	if has_feature SUPPORT_ZERO_COPY; then
		MODES+=("--zero-copy --zc-mechanism=register")
	else
		missing+=" '--zero-copy --zc-mechanism=register'"
	fi
	# 6.12 with ublkd's kernel/ series: zero copy through fused commands is
	# that kernel's default ("").
	[ -z "$missing" ] ||
		log "kernel $(uname -r) lacks these copy modes, skipped:$missing"
	# UBLKD_TEST_SKIP_MODES=REGEX drops matching modes ("default" is the default).
	if [ -n "${UBLKD_TEST_SKIP_MODES:-}" ]; then
		local m keep=()
		for m in "${MODES[@]}"; do
			if [[ ${m:-default} =~ $UBLKD_TEST_SKIP_MODES ]]; then
				log "UBLKD_TEST_SKIP_MODES: skipping copy mode '${m:-default}'"
			else
				keep+=("$m")
			fi
		done
		MODES=("${keep[@]}")
	fi
}
mode_name() { echo "${1:-default}"; }

# ---- devices -----------------------------------------------------------------
# add_dev ARGS...: start a loop device (ublkd in the foreground, in the
# background of this shell, its messages in $W/ublkd-N.log, shown when the test
# fails); sets DEV (/dev/ublkbN), DEV_ID, DEV_PID and DEV_LOG.
NDEV=0
add_dev() {
	local i out=$W/add-$NDEV.out
	DEV_LOG=$W/ublkd-$NDEV.log
	NDEV=$((NDEV + 1))
	DEV=
	ublk add --foreground -t loop "$@" >"$out" 2>"$DEV_LOG" &
	DEV_PID=$!
	for ((i = 0; i < 600; i++)); do
		DEV=$(grep -m1 '^/dev/ublkb' "$out" 2>/dev/null) && break
		kill -0 $DEV_PID 2>/dev/null || fail "ublk add -t loop $* failed: $(cat "$DEV_LOG")"
		sleep 0.1
	done
	[ -n "$DEV" ] || fail "ublkd did not start within 60 s: $(cat "$DEV_LOG")"
	DEV_ID=${DEV#/dev/ublkb}
	udevwait "$DEV"
}

# del_dev: stop the device and wait for its daemon's clean exit.
del_dev() {
	ublk del -n "$DEV_ID" || fail "ublk del -n $DEV_ID failed"
	wait "$DEV_PID" || fail "ublkd exited with status $? (log: $(cat "$DEV_LOG"))"
}

# The node appears a moment after the device goes live (no udev in the VM).
udevwait() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -b "$1" ] && return 0
		sleep 0.05
	done
	fail "$1 did not appear"
}

daemon_running() { ublk list -n "$DEV_ID" 2>/dev/null | grep -q 'daemon running'; }

# ---- backings ----------------------------------------------------------------
# A brd RAM disk: /dev/ram0 of SIZE_MIB MiB (block device with O_DIRECT).
# A kernel with brd built in (the kernel/ series' test kernel) has its RAM
# disks from boot (brd.rd_nr, brd.rd_size on its command line): use ram0 when
# it is big enough.
brd_setup() {
	local mib=$1
	if [ -d /sys/module/brd ] && [ ! -e /sys/module/brd/initstate ]; then
		[ -b /dev/ram0 ] && [ "$(($(cat /sys/block/ram0/size) / 2048))" -ge "$mib" ] ||
			skip "brd is built in and /dev/ram0 is smaller than $mib MiB (boot with brd.rd_size=$((mib * 1024)))"
		return 0
	fi
	modprobe -r brd 2>/dev/null
	modprobe brd rd_nr=1 rd_size=$((mib * 1024)) max_part=0 || skip "no brd module (modprobe brd)"
	udevwait /dev/ram0
	on_exit "modprobe -r brd"
}

# An ext4 file system on brd mounted at $W/ext4: a file there is a backing with
# real direct I/O (the guest's /tmp is tmpfs, which has none).
EXT4=
ext4_setup() {
	local mib=${1:-320}
	need mkfs.ext4
	brd_setup "$mib"
	mkfs.ext4 -q -F -E nodiscard /dev/ram0 >/dev/null || fail "mkfs.ext4 /dev/ram0 failed"
	EXT4=$W/ext4
	mkdir -p "$EXT4"
	mount /dev/ram0 "$EXT4" || fail "cannot mount ext4 on /dev/ram0"
	on_exit "umount -l '$EXT4'"
}

# A tmpfs of its own at $W/tmpfs (TMPFS): buffered-only backing files, and the
# guest's /tmp being tmpfs is not something to rely on.
TMPFS=
tmpfs_setup() {
	TMPFS=$W/tmpfs
	mkdir -p "$TMPFS"
	mount -t tmpfs -o size=1g tmpfs "$TMPFS" || fail "cannot mount a tmpfs"
	on_exit "umount -l '$TMPFS'"
}

# ---- data ------------------------------------------------------------------------
# fio_verify DEV NAME FIO-ARGS...: write then verify (crc32c); fails the test on
# any error.  More jobs: add --name=JOB [--stonewall] ... to FIO-ARGS (the
# common options come first, so every job gets them).
fio_verify() {
	local dev=$1 name=$2
	shift 2
	need fio
	fio --filename="$dev" --ioengine=io_uring --direct=1 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
		--output="$W/fio.out" --name="$name" "$@" ||
		{ cat "$W/fio.out" >&2; fail "fio $name on $dev: data did not verify (fio status $?)"; }
	! grep -Eq 'err= *[1-9]' "$W/fio.out" || { cat "$W/fio.out" >&2; fail "fio $name reported errors"; }
}

# Random bytes, N MiB, into a file.
randfile() { head -c "$(($2 << 20))" /dev/urandom >"$1"; }

# expect_refusal "what" "MESSAGE-REGEX" CMD...: CMD must fail with a one-line
# message on stderr matching the regex, and leave no device behind.
expect_refusal() {
	local what=$1 re=$2 rc=0 lines
	shift 2
	"$@" >"$W/ef.out" 2>"$W/ef.err" || rc=$?
	[ $rc != 0 ] || fail "$what: '$*' succeeded, expected failure"
	lines=$(grep -c . "$W/ef.err")
	[ "$lines" = 1 ] || fail "$what: expected one line of error, got $lines: $(cat "$W/ef.err")"
	grep -Eq -- "$re" "$W/ef.err" || fail "$what: message '$(cat "$W/ef.err")' does not match /$re/"
	[ -z "$(ublk list 2>/dev/null)" ] || fail "$what: left a device behind: $(ublk list)"
	log "ok: $what -> exit $rc: $(cat "$W/ef.err")"
}
