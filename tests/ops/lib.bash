# shellcheck shell=bash
# tests/ops/lib.bash - helpers for the operations tests (config files,
# systemd, recovery); sourced after ../lib/common.sh, not a test itself.
#
#   conf NAME <<EOF ... EOF       write $CONFDIR/NAME.conf from stdin, print its path
#   ublkd_start ARG...            run `ublkd ARG...` in the background until it
#                                 prints /dev/ublkbN; sets UBLKD_PID, DEV, ID
#   ublkd_stop [SIGNAL]           signal it (TERM), wait, fail unless it exits 0
#                                 and the device and its state file are gone
#   json_field ID FIELD           one field of `ublk list -n ID --json`
#   runstate_gone ID              fail if the runtime state directory (/run/ublkd)
#                                 still holds any file of device ID
#   systemd_unit_install          install ublkd@.service from the source tree,
#                                 ExecStart in the build tree, as `make install`
#                                 would (no UBLKD_CONFDIR: NAME.conf in /etc/ublkd)

# Until ublkd is built with config file support (ublkd/config.c), skip.
ublkd --help 2>/dev/null | grep -- '--config' >/dev/null || skip "this ublkd has no --config"

CONFDIR=${TMPDIR:-/tmp}/conf
mkdir -p "$CONFDIR"
export UBLKD_CONFDIR=$CONFDIR
cleanup sh -c 'ublk del -a >/dev/null 2>&1'

conf() {
	cat >"$CONFDIR/$1.conf"
	echo "$CONFDIR/$1.conf"
}

UBLKD_PID='' DEV='' ID=''
_ublkd_n=0
ublkd_start() {
	local out err i
	_ublkd_n=$((_ublkd_n + 1))
	out=${TMPDIR:-/tmp}/ublkd.$_ublkd_n.out
	err=${TMPDIR:-/tmp}/ublkd.$_ublkd_n.err
	ublkd "$@" >"$out" 2>"$err" &
	UBLKD_PID=$!
	cleanup kill -KILL "$UBLKD_PID"
	for ((i = 0; i < 600; i++)); do
		DEV=$(grep -m1 -x '/dev/ublkb[0-9]*' "$out" || true)
		[ -z "$DEV" ] || break
		kill -0 "$UBLKD_PID" 2>/dev/null ||
			fail "ublkd $* exited before its device was live: $(cat "$err")"
		sleep 0.1
	done
	[ -n "$DEV" ] || fail "ublkd $* did not bring its device up in 60 s: $(cat "$err")"
	[ -b "$DEV" ] || fail "ublkd printed $DEV, which is no block device"
	ID=${DEV#/dev/ublkb}
	echo "ok: ublkd $* serves $DEV (pid $UBLKD_PID)"
}

ublkd_stop() {
	local rc=0
	kill "-${1:-TERM}" "$UBLKD_PID"
	wait "$UBLKD_PID" || rc=$?
	[ $rc = 0 ] || fail "ublkd exited $rc after SIG${1:-TERM}"
	ublk_dev_wait_gone "$ID"
	[ ! -e "/run/ublkd/$ID.state" ] || fail "/run/ublkd/$ID.state left behind"
	[ ! -e "/run/ublkd/$ID.conf" ] || fail "/run/ublkd/$ID.conf (recovery record) left behind"
	echo "ok: SIG${1:-TERM} stopped ublkd; $DEV is gone"
}

# unit_killed_restarts UNIT: kill -9 UNIT's main process; 0 once systemd has
# restarted it (a new main process, active), 1 if not within 30 s.
unit_killed_restarts() {
	local pid new i
	pid=$(systemctl show -p MainPID --value "$1")
	kill -9 "$pid"
	for ((i = 0; i < 300; i++)); do
		new=$(systemctl show -p MainPID --value "$1")
		[ "$new" != 0 ] && [ "$new" != "$pid" ] &&
			[ "$(systemctl show -p ActiveState --value "$1")" = active ] && return 0
		sleep 0.1
	done
	return 1
}

json_field() {
	ublk list -n "$1" --json | jq -r ".[0].$2"
}

runstate_gone() {
	local left
	left=$(ls -A /run/ublkd 2>/dev/null | grep -E "(^|[^0-9])$1([^0-9]|\$)" || true)
	[ -z "$left" ] || fail "runtime state of device $1 left in /run/ublkd: $left"
}

systemd_unit_install() {
	local unit=/etc/systemd/system/ublkd@.service
	sed -e "s|@sbindir[@]|$UBLKD_BUILDDIR/ublkd|g" "$UBLKD_SRCDIR/systemd/ublkd@.service.in" >"$unit"
	mkdir -p "$unit.d" /etc/ublkd
	{
		echo "[Service]"
		# The build tree's plugins; the installed ublkd finds its own.
		echo "Environment=UBLKD_PLUGIN_DIR=$UBLKD_PLUGIN_DIR"
		# A build tree under /tmp (shared into the VM there) would be hidden.
		case $UBLKD_BUILDDIR/ in /tmp/* | /var/tmp/*) echo "PrivateTmp=no" ;; esac
		# An ASan build: LeakSanitizer stops the threads with ptrace at exit.
		! grep -qa __asan_init "$UBLKD_BUILDDIR/ublkd/ublkd" || echo "SystemCallFilter=ptrace"
	} >"$unit.d/test.conf"
	cleanup rm -rf "$unit" "$unit.d"
	systemctl daemon-reload
}
