#!/bin/bash
# ublkd@.service under real systemd (PID 1; run with tests/vm/run-systemd):
# `systemctl start ublkd@NAME` brings up the device of NAME.conf, the status
# line names device, target and copy mode; kill -9 of ublkd in a row under
# I/O (fio write+verify on loop): systemd restarts it each time, it recovers
# the device, fio sees no error, `ublk stat` counts each recovery; `systemctl
# stop` removes the device.  For
# loop and null, in copy mode and zero copy: 10 kills in a row for loop in
# copy mode (more than the unit's old StartLimitBurst allowed), 3 for each
# of the others; make check runs 3 of each (tests/lib/crash.bash).  Skipped where systemd is not PID 1.
# timeout: 600
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.bash"
. "$(dirname "$0")/../lib/crash.bash"
[ "$(cat /proc/1/comm)" = systemd ] || skip "systemd is not PID 1 here (tests/vm/run-systemd runs this test)"
require_cmd systemctl fio jq dd

systemd_unit_install

# The backing file outside /tmp: the unit has a private /tmp.
mkdir -p /var/lib/ublkd-test
img=/var/lib/ublkd-test/disk.img
truncate -s 256M "$img"
cleanup rm -rf /var/lib/ublkd-test

# serve NAME ID TARGET MODE N: start ublkd@NAME from a conf file for device ID
# (TARGET loop or null, MODE copy or zero_copy); check the status line (and,
# for t1, its live rates under I/O); then
# N kill -9 cycles under I/O (fio write+verify on loop): systemd restarts
# ublkd each time, which recovers the device: no I/O error; `systemctl stop`
# removes the device.
serve() {
	local name=$1 id=$2 target=$3 mode=$4 cycles=$5 dev=/dev/ublkb$2 status want
	{
		echo "target = \"$target\";"
		echo "id = $id;"
		echo "queues = 2;"
		echo "depth = 64;"
		echo "recovery = \"reissue\";"
		[ "$target" = loop ] && echo "file = \"$img\";" || echo "size = \"1G\";"
		[ "$mode" = copy ] && echo "copy = true;" || echo "zero_copy = true;"
	} >"/etc/ublkd/$name.conf"
	cleanup rm -f "/etc/ublkd/$name.conf"
	cleanup systemctl stop "ublkd@$name"
	echo "==== ublkd@$name: $target, $mode ===="
	systemctl start "ublkd@$name" ||
		fail "systemctl start ublkd@$name failed: $(journalctl -u "ublkd@$name" --no-pager | tail -n 20)"
	[ -b "$dev" ] || fail "$dev missing after systemctl start returned"
	status=$(systemctl show -p StatusText --value "ublkd@$name")
	want="serving $dev: $([ "$target" = loop ] && echo "loop $img" || echo "null (no backing store)"), ${mode/_/ }"
	[ "$status" = "$want" ] || fail "status: '$status', want '$want'"
	echo "ok: active, status '$status'"

	io_start "$dev" "$([ "$target" = loop ] && echo verify || echo load)"
	if [ "$name" = t1 ]; then
		# Live rates, every 5 s or a little more (ublk stat's counters):
		# some I/O within 30 s (fio takes a while to start here).
		for _ in $(seq 60); do
			status=$(systemctl show -p StatusText --value "ublkd@$name")
			[[ $status == "$want, "* && $status != *", 0 IOPS, "* ]] && break
			sleep 0.5
		done
		{ [[ $status =~ ^"$want, "[0-9.]+[kM]?" IOPS, "[0-9.]+" MiB/s"$ ]] &&
			[[ $status != *", 0 IOPS, "* ]]; } ||
			fail "status with rates under fio: '$status', want '$want, N IOPS, N MiB/s', N > 0"
		echo "ok: status '$status'"
	fi
	crash_cycles "$id" "$cycles" ""
	io_stop
	n=$crash_count
	[ "$(systemctl show -p NRestarts --value "ublkd@$name")" = "$n" ] ||
		fail "NRestarts is $(systemctl show -p NRestarts --value "ublkd@$name"), not $n"
	[ "$(journalctl -u "ublkd@$name" --no-pager | grep -c 'recovering it')" = "$n" ] ||
		fail "the journal does not show $n recoveries: $(journalctl -u "ublkd@$name" --no-pager | tail -n 20)"
	rec=$(ublk stat -n "$id" --json | jq '.[0].recoveries')
	[ "$rec" = "$n" ] || fail "ublk stat: recoveries $rec after $n restarts, want $n"
	echo "ok: systemd restarted ublkd@$name $n times; each recovered $dev"

	systemctl stop "ublkd@$name"
	ublk_dev_wait_gone "$id"
	state=$(systemctl show -p ActiveState --value "ublkd@$name")
	[ "$state" = inactive ] || fail "$state, not inactive after stop: $(systemctl show -p Result -p ExecMainStatus "ublkd@$name" | tr '\n' ' ') $(journalctl -u "ublkd@$name" --no-pager | tail -n 20)"
	runstate_gone "$id"
	echo "ok: systemctl stop removed $dev"
}

serve t1 21 loop copy 10
serve t2 22 loop zero_copy 3
serve t3 23 null copy 3
serve t4 24 null zero_copy 3
echo "---- the journal of ublkd@t2 ----"
journalctl -u ublkd@t2 --no-pager -o short-monotonic | tail -n 40
