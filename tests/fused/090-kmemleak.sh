#!/usr/bin/env bash
# On the debug kernel (kernel/build --debug, which make check-kernel-debug
# boots), after the fused tests before it: kmemleak must report no object
# allocated by ublk or io_uring.  Other kernels have no kmemleak: skipped.
# timeout: 600
. "$(dirname "$0")/../lib/common.sh"
km=/sys/kernel/debug/kmemleak
[ -e $km ] || skip "no $km: kmemleak is in the debug kernel only (make check-kernel-debug)"
# kmemleak never reports an object younger than 5 s; a second scan settles
# what the first found only gray.
sleep 6
echo scan >$km || fail "cannot start a kmemleak scan"
sleep 2
echo scan >$km || fail "cannot start a kmemleak scan"
report=$(cat $km)
all=$(grep -c '^unreferenced object' <<<"$report" || true)
# One record per object: its header line and the backtrace below it.
mine=$(awk '/^unreferenced object/ { if (rec ~ /ublk|io_uring|fused/) print rec; rec = "" }
	{ rec = rec $0 "\n" } END { if (rec ~ /ublk|io_uring|fused/) print rec }' <<<"$report")
echo "kmemleak: $all unreferenced objects in all since boot"
[ -z "$mine" ] || fail "kmemleak: objects from ublk or io_uring: $(head -c 3000 <<<"$mine")"
echo "kmemleak: none allocated by ublk or io_uring"
