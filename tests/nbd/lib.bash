# tests/nbd/lib.bash: helpers for the nbd target's tests (sourced, not a test).
#
#   nbd_start NAME NBDKIT-ARG...  start a daemonised nbdkit (pid file $TMPDIR/NAME.pid),
#                                 stopped at exit; returns once it listens
#   nbd_kill NAME [SIGNAL]        stop it now (default TERM) and wait until it is gone
#   nbd_add NBD-OPTION...         ublk add -t nbd ...; sets DEV and ID; deleted at exit
#   nbd_del                       delete the device DEV now
#   nbd_sock NAME                 a Unix socket path for server NAME
#   rand_file SIZE                a file of random bytes (dd count in MiB)

. "$(dirname "$0")/../lib/common.sh"
require_cmd nbdkit
# tests/run gives each test its own TMPDIR; when run alone, make one.
if [ -z "${TMPDIR:-}" ]; then
	TMPDIR=$(mktemp -d /tmp/ublkd-nbd.XXXXXX)
	export TMPDIR
	cleanup rm -rf "$TMPDIR"
fi
# The VM's loopback starts down; servers listen on 127.0.0.1 or Unix sockets.
ip link set lo up 2>/dev/null || true

nbd_sock() {
	echo "$TMPDIR/$1.sock"
}

nbd_start() {
	local name=$1 a prev= i
	shift
	# nbdkit leaves its Unix socket behind when killed: clear it for a restart.
	for a in "$@"; do
		[ "$prev" != -U ] || rm -f "$a"
		prev=$a
	done
	# -P: nbdkit forks once it listens and writes its pid there. A server
	# just killed may hold its port a moment longer: retry a few times.
	for ((i = 0; i < 20; i++)); do
		nbdkit -P "$TMPDIR/$name.pid" "$@" 2>"$TMPDIR/$name.err" && break
		sleep 0.5
	done
	[ $i -lt 20 ] || fail "cannot start nbdkit $*: $(cat "$TMPDIR/$name.err")"
	cleanup nbd_kill "$name"
}

nbd_kill() {
	local f=$TMPDIR/$1.pid pid i st
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	kill -"${2:-TERM}" "$pid" 2>/dev/null || true
	# Until it is gone, or a zombie nobody reaps whose threads have all
	# exited (its sockets are closed). nbdkit waits for its clients on TERM
	# and a client that reconnects at once can keep it busy: KILL after 3 s.
	for ((i = 0; i < 100; i++)); do
		st=$(awk '/^State:/ { s = $2 } /^Threads:/ { t = $2 } END { print s t }' \
			"/proc/$pid/status" 2>/dev/null) || true
		[ -n "$st" ] && [ "$st" != Z1 ] || break
		[ $i != 30 ] || kill -KILL "$pid" 2>/dev/null || true
		sleep 0.1
	done
	rm -f "$f"
}

nbd_add() {
	DEV=$(ublk add -t nbd "$@") || fail "ublk add -t nbd $* failed"
	ID=${DEV#/dev/ublkb}
	cleanup nbd_del_id "$ID"
}

nbd_del_id() {
	[ -e "/sys/class/ublk-char/ublkc$1" ] || return 0
	ublk del -n "$1" || fail "ublk del -n $1 failed"
	ublk_dev_wait_gone "$1"
}

nbd_del() {
	nbd_del_id "$ID"
}

rand_file() {
	local f
	f=$(mktemp "$TMPDIR/rand.XXXXXX")
	dd if=/dev/urandom of="$f" bs=1M count="$1" status=none
	echo "$f"
}

# sysfs queue attribute of DEV
qattr() {
	cat "/sys/block/ublkb$ID/queue/$1"
}
