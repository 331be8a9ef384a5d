#!/bin/bash
# ublk upgrade: the daemon of a live loop device is replaced 3 times in a row
# (20 under make check-stress, UBLKD_TEST_STRESS=1) in zero copy where the
# kernel has automatic buffer registration, else in copy mode (both under
# make check-stress), while fio write+verify runs: every upgrade starts a new daemon, the device never
# disappears, fio sees no error and the kernel logs no I/O error; each pause
# ("upgraded ... in S s") is logged with the median and the maximum.  With
# UBLK_F_QUIESCE (7.3) the old daemon quiesces and says nothing; without it
# (6.12) one line says the crash-recovery path is taken.  Then the
# transaction: a new ublkd that fails its check leaves the old one serving; a
# new ublkd that fails after the quiesce leaves the device waiting with its
# I/O held, and `ublk recover` brings it back with the data intact.  `ublk
# stat` counts each upgrade (the recover that finishes one too), no recovery.  Then
# what upgrade refuses.
# timeout: 900
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/crash.bash"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'
require_cmd fio jq dd cmp

# UBLKD_TEST_CRASH_CYCLES overrides the count, as for the crash tests.
cycles=${UBLKD_TEST_CRASH_CYCLES:-$([ "${UBLKD_TEST_STRESS:-0}" = 1 ] && echo 20 || echo 3)}
quiesce=0
if has_feature QUIESCE; then quiesce=1; fi
# One mode in make check: zero copy where the kernel registers buffers
# itself (its buffers are aborted with the fetches), else copy; both
# under make check-stress.
modes=(--copy)
if has_feature AUTO_BUF_REG; then
	modes=(--zero-copy)
	[ "${UBLKD_TEST_STRESS:-0}" != 1 ] || modes=(--copy --zero-copy)
fi
klog_start=$(dmesg | wc -l)
img=$(tmpfile 128M)
# Running, not a zombie.  With bash's builtins and crash.bash's _dev_view
# (no grep, no jq): each program start costs 0.2-0.5 s in the test VM.
alive() {
	local st=
	[ -e "/proc/$1" ] && read -r st <"/proc/$1/stat" 2>/dev/null
	[ -n "$st" ] && [[ $st != *") Z "* ]]
}
pid_of() { _dev_view "$1"; echo "$_pid"; }
state_of() { _dev_view "$1"; echo "$_state"; }

pauses=()
for mode in "${modes[@]}"; do
	echo "==== loop, ${mode:-copy} ===="
	dev=$(ublk add -t loop -f "$img" -q 2 $mode) || fail "add -t loop $mode failed"
	id=${dev#/dev/ublkb}
	# The block device must never go away, not even for a moment.
	watch=$TMPDIR/watch
	rm -f "$watch.stop" "$watch.gone"
	(while [ ! -e "$watch.stop" ]; do [ -b "$dev" ] || echo gone >"$watch.gone"; sleep 0.02; done) &
	watcher=$!
	io_start "$dev" verify 4M	# small runs: io_stop waits for the last one
	for ((c = 1; c <= cycles; c++)); do
		sleep 0.5
		old=$(pid_of "$id")
		out=$(ublk upgrade -n "$id" 2>"$TMPDIR/err") ||
			fail "cycle $c: ublk upgrade failed: $(cat "$TMPDIR/err")"
		echo "cycle $c: $out"
		re="^upgraded $dev in ([0-9.]+) s \\(ublkd pid $old -> ([0-9]+)\\)\$"
		[[ $out =~ $re ]] ||
			fail "cycle $c: unexpected output: $out"
		pauses+=("${BASH_REMATCH[1]}")
		new=${BASH_REMATCH[2]}
		[ "$new" != "$old" ] && [ "$(pid_of "$id")" = "$new" ] && alive "$new" ||
			fail "cycle $c: the device is not served by the new daemon $new: $(ublk list -n "$id")"
		[ "$(state_of "$id")" = live ] || fail "cycle $c: state $(state_of "$id") after the upgrade"
		# ublk's own lines (the new ublkd's "ublkd: serving ..." may precede).
		grep '^ublk: ' "$TMPDIR/err" >"$TMPDIR/own" || true
		if [ $quiesce = 1 ]; then
			[ ! -s "$TMPDIR/own" ] || fail "cycle $c: upgrade with QUIESCE printed: $(cat "$TMPDIR/err")"
		else
			[ "$(grep -c '' "$TMPDIR/own")" = 1 ] &&
				grep -Eq "^ublk: this kernel \(.*\) has no UBLK_F_QUIESCE \(Linux 6.16\+\): upgrading $dev through crash recovery" "$TMPDIR/own" ||
				fail "cycle $c: no one-line note of the crash-recovery path: $(cat "$TMPDIR/err")"
		fi
	done
	io_stop
	# ublk stat: every upgrade counted as one, none as a recovery.
	counts=$(ublk stat -n "$id" --json | jq -r '.[0] | "\(.upgrades) \(.recoveries)"')
	[ "$counts" = "$cycles 0" ] ||
		fail "ublk stat: upgrades and recoveries '$counts' after $cycles upgrades, want '$cycles 0'"
	echo "($SECONDS s)"
	touch "$watch.stop"
	wait "$watcher"
	[ ! -e "$watch.gone" ] || fail "$dev disappeared during an upgrade"
	ublk del -n "$id" || fail "del after the upgrades"
	ublk_dev_wait_gone "$id"
done
[ $quiesce = 1 ] && echo "ok: every upgrade quiesced, silently" ||
	echo "ok: every upgrade said it took the crash-recovery path (no QUIESCE on $(uname -r))"
sorted=$(printf '%s\n' "${pauses[@]}" | sort -n | tr '\n' ' ')
read -ra p <<<"$sorted"
echo "upgrade pause over ${#p[@]} upgrades (quiesce $quiesce): median ${p[$((${#p[@]} / 2))]} s, max ${p[$((${#p[@]} - 1))]} s"
if dmesg | tail -n +"$((klog_start + 1))" | grep -Ei 'I/O error|blk_update_request|Buffer I/O'; then
	fail "the kernel logged I/O errors during the upgrades"
fi
echo "ok: no I/O error in the kernel log"

# ---- the transaction ----
dev=$(ublk add -t loop -f "$img") || fail "add"
id=${dev#/dev/ublkb}
dd if=/dev/urandom of="$TMPDIR/data" bs=1M count=4 status=none
dd if="$TMPDIR/data" of="$dev" bs=1M oflag=direct status=none
old=$(pid_of "$id")
expect_fail 1 "the new ublkd \(/bin/false\) cannot take device $id over \('ublkd --recover -n $id --check' exited 1\): nothing was changed, pid $old still serves $dev" \
	env UBLKD_PATH=/bin/false ublk upgrade -n "$id"
[ "$(pid_of "$id")" = "$old" ] && [ "$(state_of "$id")" = live ] ||
	fail "a refused upgrade changed the device: $(ublk list -n "$id")"
# A new ublkd that passes its check and then cannot start.
cat >"$TMPDIR/broken-ublkd" <<EOF
#!/bin/sh
for a; do [ "\$a" = --check ] && exec $(command -v ublkd) "\$@"; done
echo "broken-ublkd: cannot start" >&2
exit 1
EOF
chmod +x "$TMPDIR/broken-ublkd"
expect_exit 1 "the new ublkd could not take $dev over \(see above\): the device waits, its I/O held; fix that and run 'ublk recover -n $id', or 'ublk del -n $id'" \
	env UBLKD_PATH="$TMPDIR/broken-ublkd" ublk upgrade -n "$id"
alive "$old" && fail "the old daemon $old still runs after the upgrade"
[ -b "$dev" ] || fail "$dev disappeared after a failed upgrade"
[ "$(state_of "$id")" = quiesced ] || fail "state $(state_of "$id") after a failed upgrade, want quiesced"
# I/O waits, and completes once the device is recovered.
dd if="$dev" of="$TMPDIR/back" bs=1M count=4 iflag=direct status=none &
reader=$!
sleep 1
kill -0 "$reader" 2>/dev/null || fail "a read of the waiting device did not wait"
out=$(ublk recover -n "$id") && [ "$out" = "$dev" ] || fail "ublk recover after the failed upgrade: $out"
wait "$reader" || fail "the read held during the failed upgrade failed"
cmp "$TMPDIR/data" "$TMPDIR/back" || fail "data differs after the failed upgrade and recovery"
# The recover finished the upgrade: counted as one (ublk stat).
counts=$(ublk stat -n "$id" --json | jq -r '.[0] | "\(.upgrades) \(.recoveries)"')
[ "$counts" = "1 0" ] || fail "ublk stat: upgrades and recoveries '$counts' after a failed upgrade finished by ublk recover, want '1 0'"
echo "($SECONDS s)"
echo "ok: a failed upgrade leaves the device waiting; ublk recover brings it back, the held read completes, the data is intact"
ublk del -n "$id"
ublk_dev_wait_gone "$id"

# ---- what upgrade refuses ----
expect_fail 1 "usage: ublk upgrade -n ID" ublk upgrade
expect_fail 1 "no ublk device 42 \(see 'ublk list'\)" ublk upgrade -n 42
dev=$(ublk add -t null -s 64M --recovery off) || fail "add --recovery off"
id=${dev#/dev/ublkb}
expect_fail 1 "device $id was added with --recovery=off: its I/O would fail while its ublkd is replaced; only a device added with --recovery=reissue \(the default\) can be upgraded live" \
	ublk upgrade -n "$id"
ublk del -n "$id"
ublk_dev_wait_gone "$id"
dev=$(ublk add -t null -s 64M) || fail "add"
id=${dev#/dev/ublkb}
kill -9 "$(pid_of "$id")"
sleep 1
expect_fail 1 "device $id has no running ublkd: 'ublk recover -n $id' starts the installed one" \
	ublk upgrade -n "$id"
ublk del -n "$id"
