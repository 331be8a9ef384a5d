#!/bin/bash
# Crash recovery without a service manager (the default, --recovery=reissue):
# for the loop target, 10 kill -9 cycles in a row in copy mode and in zero
# copy (where the kernel has it; make check runs 3, make check-stress all:
# tests/lib/crash.bash), 3 in user copy and 3 in each mode for null (no data
# to lose: the handshake with the kernel only), while fio keeps I/O
# going (write+verify on loop): the device stays, `ublk recover` starts a new
# daemon that takes it over, and fio sees delay, never an error.  Then what
# `ublk recover` refuses.
# timeout: 900
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/crash.bash"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio jq dd

modes=(--copy --user-copy)
if has_feature AUTO_BUF_REG || has_feature SUPPORT_ZERO_COPY || has_feature FUSED_ZERO_COPY; then
	modes+=(--zero-copy)
else
	echo "note: kernel $(uname -r) has no zero copy: --zero-copy cycles skipped"
fi
img=$(tmpfile 256M)

for target in null loop; do
	for mode in "${modes[@]}"; do
		echo "==== $target, ${mode:-copy} ===="
		if [ $target = null ]; then
			dev=$(ublk add -t null -s 1G -q 2 $mode) || fail "add -t null $mode failed"
		else
			dev=$(ublk add -t loop -f "$img" -q 2 $mode) || fail "add -t loop $mode failed"
		fi
		id=${dev#/dev/ublkb}
		# 8M runs: io_stop waits for the last one to finish.
		io_start "$dev" "$([ $target = loop ] && echo verify || echo load)" 8M
		crash_cycles "$id" "$([ "$mode" = --user-copy ] || [ $target = null ] && echo 3 || echo 10)" "out=\$(ublk recover -n $id) && [ \"\$out\" = $dev ]"
		io_stop
		have=$(ublk list -n "$id" --json | jq -r '.[0].copy_mode')
		case $mode in --user-copy) want=user_copy ;; --zero-copy) want=zero_copy ;; *) want=copy ;; esac
		[ "$have" = "$want" ] || fail "copy mode $have after recovery, want $want"
		ublk del -n "$id" || fail "del after recovery"
		ublk_dev_wait_gone "$id"
	done
done

# What recover refuses, each with its reason.
dev=$(ublk add -t null -s 64M) || fail "add"
id=${dev#/dev/ublkb}
expect_fail 1 "device $id is served by a running ublkd \(pid [0-9]+\): nothing to recover" \
	ublk recover -n "$id"
ublk del -n "$id"
dev=$(ublk add -t null -s 64M --recovery off) || fail "add off"
id=${dev#/dev/ublkb}
kill -9 "$(ublk list -n "$id" --json | jq -r '.[0].pid')"
sleep 1
expect_fail 1 "cannot recover device $id: it is dead and was created with --recovery=off; delete it with 'ublk del -n $id'" \
	ublk recover -n "$id"
ublk del -n "$id" || fail "del"
expect_fail 1 "cannot recover device 42: no such ublk device" ublk recover -n 42
expect_fail 1 "usage: ublk recover -n ID" ublk recover
