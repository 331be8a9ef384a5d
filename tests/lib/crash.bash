# shellcheck shell=bash
# tests/lib/crash.bash - crash cycles for the recovery tests: core/070 (the
# new daemon started by `ublk recover`) and ops/040 (restarted by systemd).
# Sourced after common.sh, not a test itself.
#
#   io_start DEV verify|load [SIZE]
#                              keep I/O running on DEV in the background until
#                              io_stop: back-to-back fio write+verify runs
#                              (crc32c, 4K-256K, SIZE (32M) each, a new seed each
#                              run) or, for a target that keeps no data (null),
#                              2-second random read/write runs.  Every run must
#                              exit 0: no I/O error, no verify error.
#   io_stop                    end it; fail unless every run passed
#   crash_cycles ID N RESTART  N times: let I/O run 0.5 s, kill -9 the daemon of
#                              device ID, then run RESTART (a shell command; ""
#                              where a service manager restarts ublkd), wait
#                              for a new daemon with the device live.  Measures
#                              recovery time as the kernel sees it: kill -9 to
#                              the completion of a 4K read issued right after
#                              the kill.  Prints each cycle and min/median/max.
#                              make check runs at most 3 (N in full under
#                              make check-stress, UBLKD_TEST_STRESS=1);
#                              UBLKD_TEST_CRASH_CYCLES=N overrides both (the
#                              sanitizer pass runs 1: it checks the new
#                              daemon's memory safety, not the count).
#                              Sets crash_count to the cycles it ran.

_io_dir=''
_io_pid=''

io_start() {
	local dev=$1 kind=$2 size=${3:-32M}
	_io_dir=$(mktemp -d "${TMPDIR:-/tmp}/io.XXXXXX")
	(
		set +e
		n=0
		while [ ! -e "$_io_dir/stop" ]; do
			n=$((n + 1))
			if [ "$kind" = verify ]; then
				fio --name=verify --filename="$dev" --ioengine=io_uring --direct=1 \
					--rw=randwrite --bssplit=4k/50:64k/30:256k/20 --iodepth=16 \
					--size="$size" --randseed=$n --verify=crc32c --do_verify=1 \
					--verify_fatal=1 --verify_state_save=0 --exitall_on_error=1 \
					>"$_io_dir/run.log" 2>&1
			else
				fio --name=load --filename="$dev" --ioengine=io_uring --direct=1 \
					--rw=randrw --bs=4k --iodepth=32 --time_based --runtime=2 \
					>"$_io_dir/run.log" 2>&1
			fi || {
				mv "$_io_dir/run.log" "$_io_dir/failed.log"
				echo "$n" >"$_io_dir/failed"
				exit 1
			}
			echo "$n" >"$_io_dir/runs"
		done
	) &
	_io_pid=$!
	cleanup touch "$_io_dir/stop"
}

io_stop() {
	local rc=0
	touch "$_io_dir/stop"
	wait "$_io_pid" || rc=$?
	[ ! -e "$_io_dir/failed" ] ||
		fail "fio run $(cat "$_io_dir/failed") failed: $(grep -Ei 'err|verify|bad' "$_io_dir/failed.log" | head -n 5)"
	[ $rc = 0 ] || fail "the I/O loop exited $rc"
	echo "ok: $(cat "$_io_dir/runs" 2>/dev/null || echo 0) fio runs back to back, every one clean"
}

# Milliseconds now, from bash's clock: no date(1) start (0.2-0.5 s in the
# test VM) inside what is measured.  EPOCHREALTIME has six decimals.
_now_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((t / 1000)); }

# _dev_view ID: _pid (or null), _state and _running from `ublk list -n ID
# --json`, read with bash's regexes: jq and tr would be two more program
# starts per poll.  The output is compact JSON ("key":value).
_dev_view() {
	local j
	j=$(ublk list -n "$1" --json 2>/dev/null) || j=
	_pid=null _state='' _running=''
	if [[ $j =~ \"pid\":([0-9]+) ]]; then _pid=${BASH_REMATCH[1]}; fi
	if [[ $j =~ \"state\":\"([a-z_]+)\" ]]; then _state=${BASH_REMATCH[1]}; fi
	if [[ $j =~ \"daemon_running\":(true|false) ]]; then _running=${BASH_REMATCH[1]}; fi
	return 0
}

crash_cycles() {
	local id=$1 cycles=${UBLKD_TEST_CRASH_CYCLES:-$2} restart=$3 dev=/dev/ublkb$1
	local c pid new state t0 t1 i ms=() sorted
	if [ -z "${UBLKD_TEST_CRASH_CYCLES:-}" ] && [ "${UBLKD_TEST_STRESS:-0}" != 1 ] && [ "$cycles" -gt 3 ]; then
		cycles=3
	fi
	crash_count=$cycles
	for ((c = 1; c <= cycles; c++)); do
		sleep 0.5
		[ ! -e "$_io_dir/failed" ] || io_stop
		_dev_view "$id"
		pid=$_pid
		[ "$pid" != null ] && kill -0 "$pid" 2>/dev/null ||
			fail "cycle $c: no running daemon for device $id before the kill"
		rm -f "$_io_dir/probe"
		# _now_ms inlined: $(_now_ms) forks a subshell between the
		# clock and the kill; the division waits until after it.
		t0=${EPOCHREALTIME//[!0-9]/}
		kill -9 "$pid"
		(dd if="$dev" of=/dev/null bs=4096 count=1 iflag=direct status=none &&
			_now_ms >"$_io_dir/probe") &
		t0=$((t0 / 1000))
		for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		kill -0 "$pid" 2>/dev/null && fail "cycle $c: pid $pid survived kill -9 for 5 s"
		[ -b "$dev" ] || fail "cycle $c: $dev vanished with its daemon"
		if [ -n "$restart" ]; then
			eval "$restart" >/dev/null || fail "cycle $c: '$restart' failed"
		fi
		for ((i = 0; i < 300; i++)); do
			_dev_view "$id"
			new=$_pid state="$_state $_running"
			[ "$new" != "$pid" ] && [ "$state" = "live true" ] && break
			sleep 0.1
		done
		[ "$state" = "live true" ] || fail "cycle $c: no new daemon serving $dev 30 s after the kill (state: $state)"
		for ((i = 0; i < 300; i++)); do [ -s "$_io_dir/probe" ] && break; sleep 0.1; done
		[ -s "$_io_dir/probe" ] || fail "cycle $c: a read issued after the kill did not complete in 30 s"
		read -r t1 <"$_io_dir/probe"
		ms+=($((t1 - t0)))
		echo "cycle $c: killed pid $pid; pid $new took over; first I/O completed $((t1 - t0)) ms after the kill"
	done
	sorted=$(printf '%s\n' "${ms[@]}" | sort -n | tr '\n' ' ')
	read -ra ms <<<"$sorted"
	echo "recovery time over $cycles kills (kill -9 to first completed I/O): min ${ms[0]} ms, median ${ms[$((cycles / 2))]} ms, max ${ms[$((cycles - 1))]} ms"
}
