#!/usr/bin/env bash
# tests/deb/install-test.sh DEBDIR: the packages of DEBDIR, installed as an
# administrator would, on a machine with systemd as PID 1 (the test VM of
# tests/vm/run-systemd; `make check-deb` runs it through tests/deb/check-deb):
# apt-get installs ublkd, ublkd-nbd and ublkd-dev offline; nothing is enabled
# or started; /etc/ublkd/data.conf (loop over a file in /var/lib) runs as
# ublkd@data, its disk /dev/disk/by-ublk/data (the package's udev rule); an
# ext4 file's checksum survives `systemctl restart` (mounted by that name); removal
# is refused while the device is mounted, then stops it cleanly and keeps
# /etc/ublkd/data.conf; purge removes the rest of what the package made.
# Not a tests/run test: tests/run leaves the group deb out.
# timeout: 600
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
debdir=$(cd "${1:?usage: install-test.sh DEBDIR}" && pwd)
[ "$(cat /proc/1/comm)" = systemd ] || skip "systemd is not PID 1 here (tests/deb/check-deb runs this in tests/vm/run-systemd)"
# The installed programs, not the build tree's (tests/vm/run puts those first).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
unset UBLKD_PLUGIN_DIR UBLKD_CONFDIR UBLKD_RUNSTATEDIR
id=5 dev=/dev/ublkb5 mnt=/run/ublkd-deb-mnt
step() { echo "---- [${SECONDS}s] $*"; }

# ---- a writable /usr: the VM's root is the host's, read-only, and the VM
# writes /etc and /var through overlays (tests/vm/run-systemd); /usr gets one
# here.  dpkg's database (/var/lib/dpkg) is the host's (copied to a tmpfs
# below, where the test's changes go): the libraries ublkd needs
# (liburing2, libconfig9, libsystemd0, libnbd0) are installed there already,
# as the build needs their -dev packages, so apt-get resolves every
# dependency without a download.
# /usr/lib is a mount of its own (the VM kernel's modules over the host's
# /usr/lib, tests/vm/initramfs-init), which an overlay of /usr would hide:
# it gets its own writable overlay, bound back over /usr/lib.
ovl=/run/ublkd-deb-usr
mkdir -p $ovl && mount -t tmpfs tmpfs $ovl && mkdir $ovl/{upper,work,lib-upper,lib-work,lib}
if ! mount -t overlay -o lowerdir=/usr/lib,upperdir=$ovl/lib-upper,workdir=$ovl/lib-work overlay $ovl/lib ||
	! mount -t overlay -o lowerdir=/usr,upperdir=$ovl/upper,workdir=$ovl/work overlay /usr ||
	! mount --bind $ovl/lib /usr/lib; then
	fail "cannot put a writable overlay on /usr"
fi
rm -f /var/lib/man-db/auto-update	# no man-db index rebuild (minutes under emulation)
# The host may be a container whose policy-rc.d forbids starting and stopping
# services (exit 101): the VM is a whole machine, with no such policy.
rm -f /usr/sbin/policy-rc.d
# apt without the host's package lists, so it cannot download: every
# dependency is installed, and parsing the lists of all of Debian takes long
# under emulation.  (Not --no-download: with it, apt 2.6 fails on local
# .debs with "Pathname to install is not absolute".)
mkdir $ovl/sources.list.d && : >$ovl/sources.list
# No dpkg-preconfigure (debconf's hook in /etc/apt/apt.conf.d/70debconf): the
# packages have no debconf templates, so it has nothing to ask, yet apt runs
# it (Perl, debconf's database over 9p) in each of the five apt-get runs
# below, 7-14 s each under emulation.  Everything else of apt and dpkg runs
# as a user's does.
echo '#clear DPkg::Pre-Install-Pkgs;' >$ovl/apt.conf
apt_get() {
	DEBIAN_FRONTEND=noninteractive apt-get -c $ovl/apt.conf -o Dir::Etc::SourceList=$ovl/sources.list \
		-o Dir::Etc::SourceParts=$ovl/sources.list.d -o APT::Get::List-Cleanup=false "$@"
}
# dpkg's database in memory: every dpkg run reads all of it (the file lists
# of the host's ~3600 packages, "Reading database ... 138000 files"), which
# took 30-35 s a run through the /var overlay and 9p, six runs in this test;
# from tmpfs it takes a second.  The copy comes from DEBDIR/dpkg-db.tar
# (tests/deb/check-deb's tar of the host's /var/lib/dpkg: one file over 9p)
# if that is the database the VM sees (the same status file), else file by
# file (100 s).  Then the same database, written by the same apt and dpkg,
# at the same path.
mkdir $ovl/db
if [ ! -f "$debdir/dpkg-db.tar" ] || ! tar -C $ovl/db -xf "$debdir/dpkg-db.tar" ||
	! cmp -s $ovl/db/dpkg/status /var/lib/dpkg/status; then
	echo "(copying /var/lib/dpkg file by file: no current $debdir/dpkg-db.tar)"
	rm -rf $ovl/db/dpkg
	cp -a /var/lib/dpkg $ovl/db/ || fail "cannot copy dpkg's database to a tmpfs"
fi
mount --bind $ovl/db/dpkg /var/lib/dpkg || fail "cannot bind the copy of dpkg's database over /var/lib/dpkg"
! dpkg -s ublkd >/dev/null 2>&1 || fail "ublkd is already installed in the VM's view of the host"

step "apt-get install the packages"
debs=("$debdir"/ublkd_*.deb "$debdir"/ublkd-nbd_*.deb "$debdir"/ublkd-dev_*.deb)
for d in "${debs[@]}"; do [ -f "$d" ] || fail "no package $d in $debdir"; done
apt_get install -y "${debs[@]}" ||
	fail "apt-get install of ${debs[*]} failed"
for p in ublkd ublkd-nbd ublkd-dev; do
	[ "$(dpkg-query -W -f '${Status}' $p)" = "install ok installed" ] || fail "$p is not installed"
done
[ "$(command -v ublk)" = /usr/sbin/ublk ] || fail "ublk is $(command -v ublk), not /usr/sbin/ublk"
[ -d /etc/ublkd ] || fail "the package made no /etc/ublkd"
plugindir=$(pkg-config --variable=plugindir ublkd)
for t in null loop nbd; do [ -f "$plugindir/$t.so" ] || fail "no $t target in ublkd.pc's plugindir $plugindir"; done
[ -f /usr/include/ublkd/target.h ] || fail "ublkd-dev has no /usr/include/ublkd/target.h"
echo "ok: installed: $(dpkg-query -W -f '${Package} ${Version}, ' ublkd ublkd-nbd ublkd-dev)plugins in $plugindir"
# udevd runs in a mount namespace of its own (PrivateMounts=yes) made at
# boot, before this test's /usr overlay: it would see neither the package's
# rule nor /usr/sbin/ublk.  A machine that installs into its real /usr needs
# no such step (udevd rereads changed rule directories by itself).
if systemctl -q is-active systemd-udevd; then
	systemctl restart systemd-udevd || fail "cannot restart systemd-udevd"
	[ -f /lib/udev/rules.d/60-ublkd.rules ] || fail "the package installed no /lib/udev/rules.d/60-ublkd.rules"
fi

# The unit is a template: installed, but no instance is enabled or running.
systemctl cat ublkd@data.service >/dev/null || fail "systemd does not know ublkd@.service after the install"
[ "$(systemctl is-enabled ublkd@data.service 2>/dev/null || true)" = disabled ] ||
	fail "ublkd@data is $(systemctl is-enabled ublkd@data.service 2>&1) after the install, want disabled"
[ -z "$(systemctl list-units --plain --no-legend 'ublkd@*')" ] || fail "units running after the install: $(systemctl list-units --plain --no-legend 'ublkd@*')"
[ ! -e $dev ] || fail "$dev exists before any start"
echo "ok: ublkd@.service installed, nothing enabled or started"

step "/etc/ublkd/data.conf -> systemctl start ublkd@data"
mkdir -p /var/lib/ublkd-data
truncate -s 128M /var/lib/ublkd-data/disk.img
# The package's example, edited as its comments say.
sed -e 's|^file = .*|file = "/var/lib/ublkd-data/disk.img";|' -e "s|^id = .*|id = $id;|" \
	/usr/share/doc/ublkd/examples/loop.conf >/etc/ublkd/data.conf
journal() { journalctl -u ublkd@data --no-pager -o cat | tail -n 20; }
systemctl enable ublkd@data.service || fail "systemctl enable ublkd@data failed"
systemctl start ublkd@data || fail "systemctl start ublkd@data failed: $(journal)"
[ -b $dev ] || fail "$dev missing after systemctl start ublkd@data"
echo "ok: $(systemctl show -P StatusText ublkd@data) ($(systemctl show -P ExecStart ublkd@data | grep -o 'path=[^ ;]*'))"
out=$(ublk list -n $id 2>&1) || true
grep -q loop <<<"$out" || fail "ublk list -n $id does not show the loop device: $out"
out=$(ublk add -t nbd --help 2>&1) || true
grep -q -- --uri <<<"$out" || fail "the packaged nbd target does not load: $out"
echo "ok: ublk list shows it; ublk add -t nbd --help loads the nbd target of ublkd-nbd"
# The package's udev rule names the disk after the instance.
for _ in $(seq 100); do [ "$(readlink -f /dev/disk/by-ublk/data)" != $dev ] || break; sleep 0.1; done
[ "$(readlink -f /dev/disk/by-ublk/data)" = $dev ] ||
	fail "/dev/disk/by-ublk/data resolves to '$(readlink -f /dev/disk/by-ublk/data)', not $dev (60-ublkd.rules)"
echo "ok: $(ls -l /dev/disk/by-ublk/data | sed 's/.* \(\/dev\)/\1/')"

step "mkfs.ext4, mount, checksum; restart; checksum again"
mkdir -p $mnt
mkfs.ext4 -q -F $dev || fail "mkfs.ext4 $dev failed"
mount $dev $mnt || fail "mount $dev failed"
cleanup sh -c "! mountpoint -q $mnt || umount -l $mnt"
head -c 16M /dev/urandom >$mnt/file
sum1=$(sha256sum <$mnt/file)
umount $mnt
systemctl restart ublkd@data || fail "systemctl restart ublkd@data failed: $(journal)"
[ -b $dev ] || fail "$dev missing after systemctl restart ublkd@data"
for _ in $(seq 100); do [ ! -b /dev/disk/by-ublk/data ] || break; sleep 0.1; done
mount /dev/disk/by-ublk/data $mnt || fail "mount /dev/disk/by-ublk/data after the restart failed"
sum2=$(sha256sum <$mnt/file)
[ "$sum1" = "$sum2" ] || fail "the file changed across systemctl restart: $sum1 then $sum2"
echo "ok: sha256 ${sum1%% *} before and after systemctl restart ublkd@data"

step "reinstall (an upgrade's scripts) while $dev is mounted: the daemon stays"
pid=$(systemctl show -P MainPID ublkd@data)
apt_get install -y --reinstall "$debdir"/ublkd_*.deb ||
	fail "apt-get install --reinstall ublkd failed"
[ "$(systemctl show -P MainPID ublkd@data)" = "$pid" ] ||
	fail "the reinstall restarted ublkd@data (pid $pid, now $(systemctl show -P MainPID ublkd@data))"
[ "$(sha256sum <$mnt/file)" = "$sum1" ] || fail "the file changed across the reinstall"
echo "ok: ublkd@data kept running (pid $pid) and the file readable across a reinstall"

step "apt-get remove ublkd while $dev is mounted: refused"
rc=0
err=$(apt_get remove -y ublkd 2>&1) || rc=$?
[ $rc != 0 ] || fail "apt-get remove ublkd succeeded while $dev was mounted"
grep -q "ublkd@data.service serves $dev, which is in use" <<<"$err" || fail "apt-get remove ublkd: $err"
[ "$(dpkg-query -W -f '${Status}' ublkd)" = "install ok installed" ] || fail "ublkd is not installed after the refused removal: $(dpkg-query -W -f '${Status}' ublkd)"
if ! systemctl is-active -q ublkd@data || [ ! -b $dev ]; then fail "ublkd@data stopped by the refused removal"; fi
[ "$(sha256sum <$mnt/file)" = "$sum1" ] || fail "the file changed after the refused removal"
echo "ok: refused: $(grep -m1 'in use' <<<"$err")"
umount $mnt

step "apt-get remove ublkd"
cursor=$(journalctl -n1 --show-cursor -q | sed -n 's/^-- cursor: //p')
apt_get remove -y ublkd || fail "apt-get remove ublkd failed"
# A clean stop: the daemon's last line counts what it served and failed (0),
# and systemd does not hold the unit as failed.
for ((i = 0; i < 100; i++)); do
	log=$(journalctl --after-cursor="$cursor" -u ublkd@data --no-pager -o cat)
	grep -q 'served .* 0 failed' <<<"$log" && break
	sleep 0.2
done
grep -q 'served .* 0 failed' <<<"$log" || fail "ublkd@data did not stop cleanly: $log"
! systemctl is-failed -q ublkd@data || fail "ublkd@data failed at the removal: $log"
! systemctl is-active -q ublkd@data || fail "ublkd@data still active after the removal"
ublk_dev_wait_gone $id 10
if compgen -G "/run/ublkd/$id.*" >/dev/null || compgen -G "/run/ublkd/.$id.*" >/dev/null; then
	fail "runtime state of device $id left in /run/ublkd: $(ls -A /run/ublkd)"
fi
[ -f /etc/ublkd/data.conf ] || fail "the removal deleted /etc/ublkd/data.conf"
for f in /usr/sbin/ublkd /usr/sbin/ublk /lib/systemd/system/ublkd@.service "$plugindir/loop.so" "$plugindir/nbd.so"; do
	[ ! -e "$f" ] || fail "$f is still there after the removal"
done
echo "ok: removed: ublkd@data stopped ($(grep -m1 'served' <<<"$log")), $dev gone, /etc/ublkd/data.conf kept; ublkd $(dpkg-query -W -f '${db:Status-Status}' ublkd 2>/dev/null || echo not-installed)"

step "purge"
apt_get purge -y ublkd ublkd-nbd ublkd-dev || fail "apt-get purge failed"
for p in ublkd ublkd-nbd ublkd-dev; do
	s=$(dpkg-query -W -f '${db:Status-Status}' $p 2>/dev/null || echo not-installed)
	[ "$s" = not-installed ] || fail "$p is $s after the purge"
done
[ -z "$(find /etc/systemd/system -name 'ublkd@*')" ] || fail "purge left $(find /etc/systemd/system -name 'ublkd@*')"
[ ! -e /usr/include/ublkd ] || fail "purge left /usr/include/ublkd"
[ -f /etc/ublkd/data.conf ] || fail "purge deleted the administrator's /etc/ublkd/data.conf"
echo "ok: purged: no package state, no enablement links; /etc/ublkd holds only $(ls /etc/ublkd)"
step "done"
