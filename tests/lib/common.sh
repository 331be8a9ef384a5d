# tests/lib/common.sh: sourced by every test script (bash).
# shellcheck shell=bash
#
#   . "$(dirname "$0")/../lib/common.sh"
#
# A test exits 0 to pass, 77 to skip (skip prints the reason as its last line),
# anything else to fail. It runs as root, on a kernel with ublk (in the test VM or
# natively), with PATH starting at the build tree's ublkd/ and its own scratch
# directory as TMPDIR. Tests run one at a time.
#
#   skip REASON                  stop here, the test is skipped
#   fail MESSAGE                 stop here, the test failed
#   require_cmd CMD...           skip unless every CMD is on PATH
#   kver_ge X.Y                  true if the running kernel is X.Y or newer
#   cleanup CMD [ARG]...         run CMD at exit (last registered runs first)
#   expect_fail CODE REGEX CMD.. CMD must exit CODE with exactly one stderr line
#                                matching the extended regex REGEX
#   expect_exit CODE REGEX CMD.. CMD must exit CODE and the last line it prints on
#                                stderr must match REGEX (earlier lines may explain)
#   tmpfile SIZE                 print the path of a new sparse file of SIZE bytes
#                                (truncate suffixes: 64M, 1G)
#   ublk_dev_wait_gone ID [S]    wait up to S (10) seconds for ublk device ID to go
#   fio_verify DEV [FIO_ARG]...  write DEV with crc32c checksums and verify them;
#                                extra fio options override the defaults, and
#                                more jobs (--name=JOB ...) get them too
#   has_feature NAME             does `ublk features` say "NAME yes"? (features.bash)
#   data_modes                   the data modes this kernel has, as ublk add options,
#                                one per line (features.bash)

set -euo pipefail

UBLKD_SRCDIR=${UBLKD_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
UBLKD_BUILDDIR=${UBLKD_BUILDDIR:-$UBLKD_SRCDIR}
export UBLKD_SRCDIR UBLKD_BUILDDIR
# shellcheck source=features.bash
. "$(dirname "${BASH_SOURCE[0]}")/features.bash"

skip() {
	echo "SKIP: $*"
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "$c is not installed"
	done
}

# kver_ge 6.16: compares the numeric part of uname -r (7.3.4+deb13-amd64 -> 7.3.4).
kver_ge() {
	local have
	have=$(uname -r | sed 's/[^0-9.].*//')
	[ "$(printf '%s\n%s\n' "$1" "$have" | sort -V | head -n1)" = "$1" ]
}

_cleanups=()
cleanup() {
	local q
	printf -v q '%q ' "$@"
	_cleanups+=("$q")
}
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[i]}" || true
	done
}
trap _run_cleanups EXIT
# A timeout sends TERM: exit through the EXIT trap so cleanups still run.
trap 'exit 143' TERM INT

expect_fail() {
	local code=$1 re=$2 rc=0 err lines
	shift 2
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	lines=$(printf '%s' "$err" | grep -c '' || true)
	[ "$rc" = "$code" ] ||
		fail "'$*' exited $rc, expected $code; its stderr: $err"
	[ "$lines" = 1 ] ||
		fail "'$*' printed $lines lines on stderr, expected one: $err"
	printf '%s\n' "$err" | grep -Eq -- "$re" ||
		fail "'$*' said '$err', which does not match /$re/"
	echo "ok: exit $rc: $err"
}

expect_exit() {
	local code=$1 re=$2 rc=0 err last
	shift 2
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	last=$(printf '%s\n' "$err" | tail -n1)
	[ "$rc" = "$code" ] ||
		fail "'$*' exited $rc, expected $code; its stderr: $err"
	printf '%s\n' "$last" | grep -Eq -- "$re" ||
		fail "'$*' ended with '$last', which does not match /$re/"
	echo "ok: exit $rc: $last"
}

tmpfile() {
	local f
	f=$(mktemp "${TMPDIR:-/tmp}/ublkd-test.XXXXXX")
	cleanup rm -f "$f"
	truncate -s "$1" "$f"
	echo "$f"
}

ublk_dev_wait_gone() {
	local id=$1 left=$((${2:-10} * 10))
	while [ -e "/dev/ublkc$id" ] || [ -e "/dev/ublkb$id" ] || [ -e "/sys/class/ublk-char/ublkc$id" ]; do
		[ $left -gt 0 ] || fail "ublk device $id still exists after ${2:-10}s"
		left=$((left - 1))
		sleep 0.1
	done
}

# fio exits non-zero on any I/O or verify error (verify_fatal); 16 MiB by default
# keeps it short under emulation.  The defaults come before the first --name,
# as global options: several jobs in one fio cost one program start.
fio_verify() {
	local dev=$1
	shift
	require_cmd fio
	fio --filename="$dev" --ioengine=io_uring --direct=1 \
		--rw=randwrite --bs=4k --iodepth=16 --size=16M \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
		--exitall_on_error=1 --error_dump=1 --name=verify "$@" ||
		fail "fio write+verify on $dev failed"
}
