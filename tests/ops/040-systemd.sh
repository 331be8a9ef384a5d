#!/bin/bash
# ublkd@.service under real systemd (PID 1; run with tests/vm/run-systemd):
# `systemctl start ublkd@NAME` brings up the device of NAME.conf, the status
# line names device and target; kill -9 of ublkd during fio verify: systemd
# restarts it, it recovers the device, fio finishes with no error; `systemctl
# stop` removes the device.  Skipped where systemd is not PID 1.
# timeout: 600
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.bash"
[ "$(cat /proc/1/comm)" = systemd ] || skip "systemd is not PID 1 here (tests/vm/run-systemd runs this test)"
require_cmd systemctl fio jq

unit=/etc/systemd/system/ublkd@.service
sed -e "s|@sbindir[@]|$UBLKD_BUILDDIR/ublkd|g" "$UBLKD_SRCDIR/systemd/ublkd@.service.in" >"$unit"
mkdir -p "$unit.d" /etc/ublkd
{
	echo "[Service]"
	echo "Environment=UBLKD_PLUGIN_DIR=$UBLKD_PLUGIN_DIR UBLKD_CONFDIR=/etc/ublkd"
	# A build tree under /tmp (shared into the VM there) would be hidden.
	case $UBLKD_BUILDDIR/ in /tmp/* | /var/tmp/*) echo "PrivateTmp=no" ;; esac
	# An ASan build: LeakSanitizer stops the threads with ptrace at exit.
	! grep -qa __asan_init "$UBLKD_BUILDDIR/ublkd/ublkd" || echo "SystemCallFilter=ptrace"
} >"$unit.d/test.conf"
cleanup rm -rf "$unit" "$unit.d" /etc/ublkd/t1.conf
systemctl daemon-reload

# The backing file outside /tmp: the unit has a private /tmp.
mkdir -p /var/lib/ublkd-test
img=/var/lib/ublkd-test/disk.img
truncate -s 64M "$img"
cleanup rm -rf /var/lib/ublkd-test
cat >/etc/ublkd/t1.conf <<C
target = "loop";
id = 21;
queues = 2;
depth = 64;
recovery = "reissue";
file = "$img";
C
cleanup systemctl stop ublkd@t1

systemctl start ublkd@t1 || fail "systemctl start ublkd@t1 failed: $(journalctl -u ublkd@t1 --no-pager | tail -n 20)"
dev=/dev/ublkb21
[ -b $dev ] || fail "$dev missing after systemctl start returned"
status=$(systemctl show -p StatusText --value ublkd@t1)
[[ $status == "serving $dev: loop $img, copy" ]] || fail "status: '$status'"
echo "ok: active, status '$status'"

# kill -9 in the middle of fio verify: restarted, recovered, no I/O error.
pid=$(systemctl show -p MainPID --value ublkd@t1)
fio_verify $dev --size=32M --bs=4k --iodepth=8 &
fio=$!
sleep 3
t0=$(date +%s.%N)
kill -9 "$pid"
for _ in $(seq 300); do
	new=$(systemctl show -p MainPID --value ublkd@t1)
	state=$(systemctl show -p ActiveState --value ublkd@t1)
	[ "$new" != 0 ] && [ "$new" != "$pid" ] && [ "$state" = active ] && break
	sleep 0.1
done
t1=$(date +%s.%N)
[ "$state" = active ] && [ "$new" != "$pid" ] || fail "ublkd@t1 not restarted: $state, pid $new: $(journalctl -u ublkd@t1 --no-pager | tail -n 20)"
echo "ok: restarted as pid $new, active again $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s after kill -9"
[ "$(systemctl show -p NRestarts --value ublkd@t1)" = 1 ] || fail "NRestarts is not 1"
wait $fio || fail "fio verify failed across the crash"
echo "ok: fio verify finished with no error across kill -9 and recovery"
journalctl -u ublkd@t1 --no-pager | grep -q 'recover' || fail "the journal does not mention a recovery"

systemctl stop ublkd@t1
ublk_dev_wait_gone 21
state=$(systemctl show -p ActiveState --value ublkd@t1)
[ "$state" = inactive ] || fail "$state, not inactive after stop: $(systemctl show -p Result -p ExecMainStatus ublkd@t1 | tr '\n' ' ') $(journalctl -u ublkd@t1 --no-pager | tail -n 20)"
[ ! -e /run/ublkd/21.json ] || fail "state file left behind"
echo "ok: systemctl stop removed $dev"
echo "---- the journal of ublkd@t1 ----"
journalctl -u ublkd@t1 --no-pager -o short-monotonic
