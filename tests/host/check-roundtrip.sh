#!/usr/bin/env bash
# `ublkd --check` prints the settings as one command line; that line, given
# back to ublkd, must describe the same device (print -> parse -> print is a
# fixed point) and keep what was asked, for every generic option and some
# of each target's own.  Needs no
# ublk kernel: --check never touches it.
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

ublkd=$UBLKD_BUILDDIR/ublkd/ublkd
export UBLKD_PLUGIN_DIR=$UBLKD_BUILDDIR/plugins
[ -x "$ublkd" ] || fail "$ublkd is not built (run make first)"
img=$(tmpfile 8M)
# A value with a quote in it (found by fuzzing/fuzz-check): --check once
# printed it inside '...' as it was, a line no shell could read back.
quoted=$TMPDIR/bob\'s.img
# --shmem wants a file on tmpfs, a whole number of pages.
shmf=$(mktemp /dev/shm/ublkd-check.XXXXXX) || fail "cannot make a file in /dev/shm"
cleanup rm -f "$shmf"
truncate -s 1M "$shmf"

n=0
while IFS='|' read -r args want; do
	[ -n "$args" ] || continue
	# shellcheck disable=SC2086 # word splitting of the case's options is the point
	first=$("$ublkd" $args --check 2>&1) || fail "ublkd $args --check failed: $first"
	[[ $first == *"$want"* ]] || fail "ublkd $args --check printed '$first', without '$want'"
	# The printed line quotes target option values with '...'.
	second=$(eval "\"$ublkd\" ${first#ublkd } --check" 2>&1) ||
		fail "ublkd ${first#ublkd } --check (printed by --check) failed: $second"
	[ "$first" = "$second" ] || fail "not a fixed point: '$args' -> '$first' -> '$second'"
	n=$((n + 1))
done <<EOF2
-t null|--recovery reissue
-t null -n 3 -q 1 -d 64 -s 1G --max-io 1M --read-only|-n 3 -q 1 -d 64 -s 1073741824 --max-io 1048576 --read-only
-t null --zero-copy --zc-mechanism auto|--zero-copy --zc-mechanism auto
-t null --zero-copy --zc-mechanism register|--zero-copy --zc-mechanism register
-t null --zero-copy --zc-mechanism fused|--zero-copy --zc-mechanism fused
-t null --user-copy --recovery fail-io|--user-copy --recovery fail-io
-t null --copy|--copy
-t null --zero-copy --copy|--copy
-t null -r 0|--recovery off
-t null --recovery on --owner 0:0|--recovery on --owner 0:0
-t null --io-scheduler mq-deadline|--io-scheduler mq-deadline
-t null --io-scheduler keep|--io-scheduler keep
-t null --metrics-dir $TMPDIR --metrics-interval 5|--metrics-dir $TMPDIR --metrics-interval 5
-t loop -f $img --shmem $shmf --user-copy|--user-copy --shmem $shmf
-t loop -f $img --integrity crc64 --metadata $img.pi|--integrity crc64
-t loop -f $img --integrity t10dif --metadata $img.pi --user-copy|--metadata $img.pi
-t loop -f $img --offset 1M --buffered|--buffered
-t loop -f $img --zero-copy -q 2|--zero-copy
-t loop -f $quoted|--file '$TMPDIR/bob'\\''s.img'
-t nbd --uri nbd://127.0.0.1:10809/x --timeout 5|nbd://127.0.0.1:10809/x
EOF2

# An option's value that looks like -t (found by fuzzing/fuzz-check): ublkd
# loaded target null while its options named none, and --check printed
# "-t (null)"; -t twice loaded the first and reported the second.
expect_fail 78 "^ublkd: cannot tell the target: a first look found -t null, the options give none; " \
	"$ublkd" --io-scheduler -tnull --check
expect_fail 78 "^ublkd: cannot tell the target: a first look found -t null, the options give loop; " \
	"$ublkd" -t null -t loop --check
"$ublkd" -t null --io-scheduler=-tx --check >/dev/null || fail "--io-scheduler=-tx with -t null refused"

echo "ok: $n option sets round-trip through --check"

# --check refuses what a start refuses (the same checks, before any kernel
# call), with the start's message.
ublk=$UBLKD_BUILDDIR/ublkd/ublk
expect_fail 78 "target loop needs -f/--file PATH: add it" "$ublkd" -t loop --check
expect_fail 78 "--zc-mechanism only applies to zero copy: add --zero-copy" \
	"$ublkd" -t null --zc-mechanism auto --check
expect_fail 78 "nbd: --uri cannot be combined with --host" \
	"$ublkd" -t nbd --uri nbd://h/x --host h --check
expect_fail 78 "^ublkd: --batch-io and --threads 2 cannot be combined: the kernel has no per-I/O daemons with batch I/O; drop one$" \
	"$ublkd" -t null -b --threads 2 --check
expect_fail 78 "^ublkd: --batch-io and -g 1 \(NEED_GET_DATA\) cannot be combined: batch I/O has no NEED_GET_DATA; drop one$" \
	"$ublkd" -t null -b -g 1 --check
expect_fail 78 "^ublkd: --batch-io needs a queue depth of 2 or more" "$ublkd" -t null -b -d 1 --check
expect_fail 78 "^ublkd: --shmem and --zero-copy cannot be combined: under zero copy the target never touches the data, so there is no copy to save; drop one$" \
	"$ublkd" -t null --shmem "$shmf" -z --check
expect_fail 78 "^ublkd: --shmem /proc/version: not on hugetlbfs or tmpfs" "$ublkd" -t null --shmem /proc/version --check
expect_fail 78 "^ublkd: --integrity needs the user copy mode \(the kernel passes protection information only through pread/pwrite on /dev/ublkcN\): drop --zero-copy, or give --user-copy$" \
	"$ublkd" -t loop -f "$img" --integrity t10dif -z --check
expect_fail 78 "^ublkd: --integrity and --shmem cannot be combined: " \
	"$ublkd" -t loop -f "$img" --integrity ip --shmem "$shmf" --check
expect_fail 78 "^ublkd: --metrics-dir /nonexistent/m: no such directory; give an existing directory" \
	"$ublkd" -t null --metrics-dir /nonexistent/m --check
expect_fail 78 "^ublkd: --metrics-dir $img: not a directory; " "$ublkd" -t null --metrics-dir "$img" --check
expect_fail 78 "^ublkd: --metrics-interval applies to the metrics file: add --metrics-dir DIR" \
	"$ublkd" -t null --metrics-interval 5 --check
expect_fail 78 "invalid value '0' for --metrics-interval: expected seconds from 1 to 3600" \
	"$ublkd" -t null --metrics-dir /tmp --metrics-interval 0 --check
# ublksrv's -u 0|1 is not user copy; -g 1 is NEED_GET_DATA.
out=$("$ublkd" -t null -u 1 --check)
[[ $out != *--user-copy* ]] || fail "-u 1 read as user copy: $out"
out=$("$ublkd" -t null -g 1 --check)
[[ $out == *--need-get-data* ]] || fail "-g 1 not kept: $out"
out=$("$ublkd" -t null -g 0 --check)
[[ $out != *--need-get-data* ]] || fail "-g 0 set NEED_GET_DATA: $out"
echo "ok: --check refuses as a start does; -u, -g, -b as ublksrv means them"

# The printed line is shell-safe: bash reads back the same argv, whatever
# bytes a value holds.
awk_val=$'it\'s "x" \\ \n\t\001\377 $(id) `id` ;|&*?'
dir=$(mktemp -d "${TMPDIR:-/tmp}/check.XXXXXX")
cleanup rm -rf "$dir"
truncate -s 1M "$dir/$awk_val"
for args in "-t nbd --host h --export-name" "-t loop -f"; do
	val=$awk_val
	[ "${args: -2}" = -f ] && val=$dir/$awk_val
	# shellcheck disable=SC2086
	printed=$("$ublkd" $args "$val" --check) || fail "ublkd $args ... --check failed"
	ublkd() { printf '%s\0' "$@"; }
	eval "$printed" >"$dir/argv"
	unset -f ublkd
	mapfile -d '' got <"$dir/argv"
	found=0
	for a in "${got[@]}"; do [ "$a" != "$val" ] || found=1; done
	[ $found = 1 ] || fail "bash does not read the value back from: $printed"
done
echo "ok: --check's line survives ', \", \\, newline, tab, \\001, \\377, \$(...) in bash"

# `ublk add --check` and `ublk add --help` are ublkd's (no kernel needed).
a=$("$ublk" add -t loop -f "$img" --check) || fail "ublk add --check exited $?"
b=$("$ublkd" -t loop -f "$img" --check)
[ "$a" = "$b" ] || fail "ublk add --check printed '$a', ublkd '$b'"
expect_fail 78 "target loop needs -f/--file PATH" "$ublk" add -t loop --check
h=$("$ublk" add -t loop --help) || fail "ublk add --help exited $?"
[[ $h == *"Target loop"* && $h == *--file* ]] || fail "ublk add -t loop --help printed: $h"
echo "ok: ublk add --check and --help show ublkd's output"
