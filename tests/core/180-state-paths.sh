#!/usr/bin/env bash
# ublkd runs as root: a symlink planted as a state file is replaced, never
# followed; a state directory that others may write (or a symlink) gets no
# state files, with one warning: a device that must be recoverable is then
# refused (no recovery record), one with --recovery=off works.
# timeout: 120
# kernels: first
. "$(dirname "$0")/../lib/common.sh"

run=${UBLKD_RUNDIR:-/run/ublkd}
mkdir -p "$run"
victim=$TMPDIR/victim
echo precious >"$victim"
ln -sf "$victim" "$run/7.conf"
ln -sf "$victim" "$run/7.state"
dev=$(ublk add -t null -n 7 -s 16M) || fail "ublk add failed"
cleanup ublk del -n 7
[ "$(cat "$victim")" = precious ] || fail "a state file was written through a symlink"
[ -f "$run/7.conf" ] && [ ! -L "$run/7.conf" ] || fail "7.conf is not a plain file"
[ -f "$run/7.state" ] && [ ! -L "$run/7.state" ] || fail "7.state is not a plain file"
ublk del -n 7
[ ! -e "$run/7.conf" ] && [ ! -e "$run/7.state" ] || fail "state left after del"
echo "ok: symlinked state files are replaced, not followed"

# Temporaries of a daemon killed mid-write (.7.NAME.XXXXXX) go when device
# 7's next daemon starts and when device 7 is deleted; device 8's stay.
touch "$run/.7.state.Ab12Cd" "$run/.7.conf.xY9zQ1" "$run/.8.state.Ab12Cd"
cleanup rm -f "$run/.8.state.Ab12Cd"
dev=$(ublk add -t null -n 7 -s 16M) || fail "ublk add failed"
[ ! -e "$run/.7.state.Ab12Cd" ] && [ ! -e "$run/.7.conf.xY9zQ1" ] ||
	fail "a killed daemon's temporaries outlived the next start: $(ls -A "$run")"
[ -e "$run/.8.state.Ab12Cd" ] || fail "device 7's daemon removed device 8's temporary"
touch "$run/.7.state.Zz00Zz"
ublk del -n 7
[ ! -e "$run/.7.state.Zz00Zz" ] || fail "ublk del -n 7 left the temporary .7.state.Zz00Zz"
rm -f "$run/.8.state.Ab12Cd"
echo "ok: temporaries go at start and at del, only the device's own"

# Device 7's files (7.conf, 7.state, and runstate's temporaries .7.*): other
# devices may come and go in the same directory.
mine() { ls -A "$run" | grep -E '^\.?7\.' || true; }
chmod 777 "$run"
cleanup chmod 755 "$run"
# Two lines: the directory's warning, then why the device cannot start.
rc=0
ublk add -t null -n 7 -s 16M 2>"$TMPDIR/err" >/dev/null || rc=$?
[ $rc = 1 ] || fail "ublk add in a world-writable state dir exited $rc, expected 1"
grep -q "warning: not writing state files in $run: it is writable by others" "$TMPDIR/err" &&
	grep -Eq "cannot write the recovery record $run/7.conf: .*: fix $run, or add --recovery=off" "$TMPDIR/err" ||
	fail "unexpected messages: $(cat "$TMPDIR/err")"
ublk_dev_wait_gone 7
[ -z "$(mine)" ] || fail "state written in a world-writable directory: $(mine)"
dev=$(ublk add -t null -n 7 -s 16M --recovery off 2>"$TMPDIR/err") ||
	fail "ublk add --recovery off failed: $(cat "$TMPDIR/err")"
grep -q "warning: not writing state files in $run: it is writable by others" "$TMPDIR/err" ||
	fail "no warning for a world-writable state directory: $(cat "$TMPDIR/err")"
[ "$(grep -c warning "$TMPDIR/err")" = 1 ] || fail "more than one warning: $(cat "$TMPDIR/err")"
[ -z "$(mine)" ] || fail "state written in a world-writable directory: $(mine)"
dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct status=none || fail "I/O failed"
ublk del -n 7
echo "ok: a world-writable state directory gets no state, one warning; recoverable devices refused"
