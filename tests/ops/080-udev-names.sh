#!/bin/bash
# /dev/disk/by-ublk/NAME under systemd and udev (tests/vm/run-systemd), with
# udev/60-ublkd.rules installed as `make install` would: ublkd@named's disk
# is linked as /dev/disk/by-ublk/named (the instance name) and
# /dev/disk/by-ublk-id/ID; both stay across `systemctl restart` and a kill -9
# with systemd's restart and recovery, and go with `systemctl stop`; a device
# of `ublk add --name` is linked too, until `ublk del`.  Skipped where
# systemd is not PID 1 or udev does not run.
# timeout: 120
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/lib.bash"
[ "$(cat /proc/1/comm)" = systemd ] || skip "systemd is not PID 1 here (tests/vm/run-systemd runs this test)"
require_cmd systemctl udevadm jq
systemctl -q is-active systemd-udevd || skip "udev does not run here"
unset UBLKD_CONFDIR	# the unit never sees it

systemd_unit_install
rules=/etc/udev/rules.d/60-ublkd.rules
mkdir -p /etc/udev/rules.d
sed -e "s|@sbindir[@]|$UBLKD_BUILDDIR/ublkd|g" "$UBLKD_SRCDIR/udev/60-ublkd.rules.in" >"$rules"
cleanup rm -f "$rules"
udevadm control --reload
journal() { journalctl -u ublkd@named --no-pager -o cat | tail -n 20; }

# link_is LINK DEV: LINK resolves to DEV (within 10 s: udev works at its pace)
link_is() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(readlink -f "$1" 2>/dev/null)" != "$2" ] || return 0
		sleep 0.1
	done
	fail "$1 resolves to '$(readlink -f "$1" 2>/dev/null)', want $2; by-ublk: $(ls -l /dev/disk/by-ublk/ 2>&1)"
}
link_gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -e "$1" ] || [ -L "$1" ] || return 0
		sleep 0.1
	done
	fail "$1 is still there: $(ls -l "$1")"
}

{ echo 'target = "null";'; echo 'id = 9;'; echo 'size = "64M";'; } >/etc/ublkd/named.conf
cleanup rm -f /etc/ublkd/named.conf
cleanup systemctl stop ublkd@named
systemctl start ublkd@named || fail "systemctl start ublkd@named failed: $(journal)"
link_is /dev/disk/by-ublk/named /dev/ublkb9
link_is /dev/disk/by-ublk-id/9 /dev/ublkb9
ls -l /dev/disk/by-ublk/ /dev/disk/by-ublk-id/ | grep -- '->'
ublk list -n 9
[ "$(json_field 9 name)" = named ] || fail "list --json name: $(ublk list -n 9 --json)"
echo "ok: ublkd@named: /dev/disk/by-ublk/named and by-ublk-id/9 -> /dev/ublkb9"

systemctl restart ublkd@named || fail "systemctl restart ublkd@named failed: $(journal)"
link_is /dev/disk/by-ublk/named /dev/ublkb9
echo "ok: the link is back after systemctl restart"

unit_killed_restarts ublkd@named || fail "ublkd@named did not recover after kill -9: $(journal)"
grep -q 'recovering it' <<<"$(journalctl -u ublkd@named --no-pager)" || fail "no recovery: $(journal)"
udevadm settle -t 10 || true
link_is /dev/disk/by-ublk/named /dev/ublkb9
[ "$(json_field 9 name)" = named ] || fail "list --json name after recovery: $(ublk list -n 9 --json)"
echo "ok: the link and the name stay across kill -9 and systemd's recovery"

systemctl stop ublkd@named
link_gone /dev/disk/by-ublk/named
link_gone /dev/disk/by-ublk-id/9
echo "ok: systemctl stop removes both links"

dev=$(ublk add -t null -s 16M --name adhoc) || fail "ublk add --name adhoc failed"
link_is /dev/disk/by-ublk/adhoc "$dev"
ublk del -n "${dev#/dev/ublkb}" || fail "ublk del $dev failed"
link_gone /dev/disk/by-ublk/adhoc
echo "ok: ublk add --name adhoc: /dev/disk/by-ublk/adhoc -> $dev until ublk del"
