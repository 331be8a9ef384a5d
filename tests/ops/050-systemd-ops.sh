#!/bin/bash
# ublkd@.service as the README tells a user to run it, under systemd as PID 1
# (tests/vm/run-systemd): conf/loop.conf copied to /etc/ublkd/disk1.conf
# starts ublkd@disk1 with no UBLKD_CONFDIR; the sandbox lets ublkd set its
# disk's I/O scheduler (the default none, and io_scheduler = "mq-deadline");
# `ublk upgrade` of ublkd@disk1 twice makes each new ublkd the unit's main
# process (`ublk stat`: upgrades 2, recoveries 0); a broken config fails once
# with status 78 and is not restarted; and 5
# start/stop cycles (20 under make check-stress; UBLKD_TEST_STOP_CYCLES; every
# 10th and the last after a kill -9 and recovery) each leave nothing of the device in /run/ublkd.  Skipped where systemd is not PID 1.
# timeout: 300
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.bash"
[ "$(cat /proc/1/comm)" = systemd ] || skip "systemd is not PID 1 here (tests/vm/run-systemd runs this test)"
require_cmd systemctl jq dd
unset UBLKD_CONFDIR	# the unit never sees it; nor does anything here

systemd_unit_install
journal() { journalctl -u "ublkd@$1" --no-pager -o cat | tail -n 20; }
sched() { sed -n 's/.*\[\(.*\)\].*/\1/p' "/sys/block/ublkb$1/queue/scheduler"; }

# ---- the README's steps: /etc/ublkd/NAME.conf, whatever the build's prefix ----
mkdir -p /var/lib/ublkd-test
img=/var/lib/ublkd-test/disk.img
truncate -s 64M "$img"
cleanup rm -rf /var/lib/ublkd-test
mkdir -p /etc/ublkd
sed -e "s|^file = .*|file = \"$img\";|" -e 's|^id = .*|id = 1;|' "$UBLKD_SRCDIR/conf/loop.conf" \
	>/etc/ublkd/disk1.conf
cleanup rm -f /etc/ublkd/disk1.conf
cleanup systemctl stop ublkd@disk1
systemctl start ublkd@disk1 || fail "systemctl start ublkd@disk1 failed: $(journal disk1)"
[ -b /dev/ublkb1 ] || fail "/dev/ublkb1 missing after systemctl start ublkd@disk1"
echo "ok: README steps: /etc/ublkd/disk1.conf -> ublkd@disk1 serves /dev/ublkb1, no UBLKD_CONFDIR"

# ---- the sandbox lets ublkd set its disk's scheduler ----
[ "$(sched 1)" = none ] || fail "default scheduler under systemd: $(cat /sys/block/ublkb1/queue/scheduler), want none"
! journalctl -u ublkd@disk1 --no-pager | grep -q 'cannot set the I/O scheduler' ||
	fail "ublkd@disk1 warned: $(journalctl -u ublkd@disk1 --no-pager | grep 'I/O scheduler')"
echo "ok: the default scheduler none is set under ProtectKernelTunables=yes, no warning"
systemctl stop ublkd@disk1
if grep -qw mq-deadline /sys/block/*/queue/scheduler 2>/dev/null || modprobe mq-deadline 2>/dev/null; then
	{ echo 'target = "null";'; echo 'id = 2;'; echo 'io_scheduler = "mq-deadline";'; } >/etc/ublkd/sched.conf
	cleanup rm -f /etc/ublkd/sched.conf
	cleanup systemctl stop ublkd@sched
	systemctl start ublkd@sched || fail "io_scheduler = \"mq-deadline\" under systemd: $(journal sched)"
	[ "$(sched 2)" = mq-deadline ] || fail "scheduler: $(cat /sys/block/ublkb2/queue/scheduler), want mq-deadline"
	systemctl stop ublkd@sched
	echo "ok: io_scheduler = \"mq-deadline\" starts and is in effect"
fi

# ---- ublk upgrade of a unit's device: systemd starts the new ublkd ----
systemctl start ublkd@disk1 || fail "systemctl start ublkd@disk1 failed: $(journal disk1)"
data=$(mktemp) back=$(mktemp)
cleanup rm -f "$data" "$back"
dd if=/dev/urandom of="$data" bs=1M count=4 status=none
dd if="$data" of=/dev/ublkb1 bs=1M oflag=direct status=none
for c in 1 2; do
	old=$(systemctl show -p MainPID --value ublkd@disk1)
	out=$(ublk upgrade -n 1) || fail "upgrade $c of ublkd@disk1 failed: $(journal disk1)"
	echo "$out"
	re="^upgraded /dev/ublkb1 in [0-9.]+ s \\(ublkd pid $old -> ([0-9]+), ublkd@disk1.service\\)\$"
	[[ $out =~ $re ]] || fail "upgrade $c: unexpected output: $out"
	new=${BASH_REMATCH[1]}
	for ((i = 0; i < 50; i++)); do
		[ "$(systemctl show -p MainPID --value ublkd@disk1)" = "$new" ] &&
			[ "$(systemctl show -p ActiveState --value ublkd@disk1)" = active ] && break
		sleep 0.1
	done
	[ "$i" -lt 50 ] || fail "upgrade $c: ublkd@disk1's main process is $(systemctl show -p MainPID --value ublkd@disk1), not the new ublkd $new: $(journal disk1)"
done
dd if=/dev/ublkb1 of="$back" bs=1M count=4 iflag=direct status=none
cmp "$data" "$back" || fail "data differs after ublk upgrade under systemd"
counts=$(ublk stat -n 1 --json | jq -r '.[0] | "\(.upgrades) \(.recoveries)"')
[ "$counts" = "2 0" ] || fail "ublk stat: upgrades and recoveries '$counts' after 2 upgrades by systemd's restart, want '2 0'"
systemctl stop ublkd@disk1
echo "ok: ublk upgrade of ublkd@disk1 twice: each new ublkd is the unit's main process, active; data intact"

# ---- a broken config: exit 78, no restart loop ----
printf 'target = "null";\nqueues = 0;\n' >/etc/ublkd/broken.conf
cleanup rm -f /etc/ublkd/broken.conf
cleanup systemctl reset-failed ublkd@broken
! systemctl start ublkd@broken 2>/dev/null || fail "ublkd@broken started"
sleep 2	# a restart loop would be at several restarts by now (RestartSec=100ms)
n=$(systemctl show -p NRestarts --value ublkd@broken)
st=$(systemctl show -p ExecMainStatus --value ublkd@broken)
state=$(systemctl show -p ActiveState --value ublkd@broken)
[ "$n" = 0 ] && [ "$st" = 78 ] && [ "$state" = failed ] ||
	fail "broken config: NRestarts $n, status $st, state $state (want 0, 78, failed): $(journal broken)"
journalctl -u ublkd@broken --no-pager -o cat | grep -q "broken.conf:2: key 'queues'" ||
	fail "the journal does not name the bad key: $(journal broken)"
echo "ok: a broken config exits 78 once; systemd does not restart it ($state, NRestarts $n)"

# ---- 20 stops, each removes all runtime state of its device ----
{ echo 'target = "null";'; echo 'id = 7;'; echo 'size = "64M";'; } >/etc/ublkd/cycle.conf
cleanup rm -f /etc/ublkd/cycle.conf
cleanup systemctl stop ublkd@cycle
# 5 in make check, 20 in make check-stress (UBLKD_TEST_STRESS=1).
cycles=${UBLKD_TEST_STOP_CYCLES:-$([ "${UBLKD_TEST_STRESS:-0}" = 1 ] && echo 20 || echo 5)}
SECONDS=0
for ((c = 1; c <= cycles; c++)); do
	systemctl start ublkd@cycle || fail "cycle $c: start failed: $(journal cycle)"
	[ -n "$(ls -A /run/ublkd 2>/dev/null | grep -E '(^|[^0-9])7([^0-9]|$)')" ] ||
		fail "cycle $c: no runtime state of device 7 while it runs (is the check blind?)"
	if [ $((c % 10)) = 0 ] || [ $c = "$cycles" ]; then
		unit_killed_restarts ublkd@cycle ||
			fail "cycle $c: ublkd@cycle did not recover after kill -9: $(journal cycle)"
		dd if=/dev/ublkb7 of=/dev/null bs=64k count=16 iflag=direct status=none ||
			fail "cycle $c: read after recovery failed"
	fi
	systemctl stop ublkd@cycle
	state=$(systemctl show -p ActiveState --value ublkd@cycle)
	[ "$state" = inactive ] || fail "cycle $c: $state after stop: $(journal cycle)"
	ublk_dev_wait_gone 7
	runstate_gone 7
done
echo "ok: $cycles systemctl stop (every 10th and the last after a kill -9 and recovery) in $SECONDS s: device and runtime state gone each time"
