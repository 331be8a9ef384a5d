#!/usr/bin/env bash
# systemd-unit-test: `systemd-analyze verify` of systemd/ublkd@.service.in is
# clean: no unknown directive, no bad value, ExecStart's binary exists, and the
# Documentation= man page resolves.  A host test: the build copies this script
# to $UBLKD_BUILDDIR/tests/unit/systemd-unit-test, where tests/run finds it.
# The unit is generated as `make` does, with ExecStart in the build tree.
set -euo pipefail
src=${UBLKD_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${UBLKD_BUILDDIR:-$src}
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze is not installed"; exit 77; }
[ -x "$build/ublkd/ublkd" ] || fail "$build/ublkd/ublkd is not built"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sed -e "s|@sbindir[@]|$build/ublkd|g" "$src/systemd/ublkd@.service.in" >"$tmp/ublkd@.service"
! grep -n '@[a-zA-Z_]*@' "$tmp/ublkd@.service" || fail "a @substitution@ is left in the unit"
grep -q "^ExecStart=$build/ublkd/ublkd %i\$" "$tmp/ublkd@.service" || fail "ExecStart is not '$build/ublkd/ublkd %i'"
# An instance, as `systemctl start ublkd@t1` would load it.
cp "$tmp/ublkd@.service" "$tmp/ublkd@t1.service"

man=--man=no
if command -v man >/dev/null; then
	# Documentation=man:ublkd.conf(5), from the source tree.
	mkdir -p "$tmp/man/man5"
	cp "$src/man/ublkd.conf.5" "$tmp/man/man5/"
	export MANPATH=$tmp/man
	man=--man=yes
fi
rc=0
out=$(cd "$tmp" && systemd-analyze verify "$man" "$tmp/ublkd@t1.service" "$tmp/ublkd@.service" 2>&1) || rc=$?
[ $rc = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify exited $rc: $out"
echo "ok: systemd-analyze verify ($man) of ublkd@.service and ublkd@t1.service is clean"

# The directives the daemon depends on are there, and once each.
for d in Type=notify NotifyAccess=main Restart=on-failure KillSignal=SIGTERM \
	RuntimeDirectory=ublkd RuntimeDirectoryPreserve=yes RestartPreventExitStatus=78 \
	ReadWritePaths=/sys/devices/virtual/block 'DeviceAllow=/dev/ublk-control rw' \
	'DeviceAllow=char-ublk-char rw' SystemCallFilter=@system-service; do
	[ "$(grep -cx -- "$d" "$tmp/ublkd@.service")" = 1 ] || fail "'$d' is not in the unit exactly once"
done
# The system call filter lets io_uring through.
for s in io_uring_setup io_uring_enter io_uring_register ioctl; do
	systemd-analyze syscall-filter @system-service | grep -qx "    $s" ||
		systemd-analyze syscall-filter @aio | grep -qx "    $s" ||
		fail "@system-service does not allow $s on this systemd"
done
echo "ok: Type=notify, restart, runtime directory, device and system call rules present"
