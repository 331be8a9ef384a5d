#!/bin/bash
# timeout: 120
# Every queue's io_uring has /dev/ublkcN and the loop target's backing file
# registered as fixed files (slots 0 and 1, per the io_uring fdinfo), and
# data written through them reads back from the backing.
. "$(dirname "$0")/lib.bash"
need cmp jq

MiB=$((1 << 20))
img=$W/disk.img
truncate -s 16M "$img"
randfile "$W/r" 4
add_dev -f "$img" -q 2
pid=$(ublk list -n "$DEV_ID" --json | jq -r '.[0].pid')
dd if="$W/r" of="$DEV" bs=1M seek=4 oflag=direct status=none || fail "dd to $DEV failed"

# The fdinfo lists the files only when it gets the ring's lock: retry.
tables=
for try in 1 2 3 4 5; do
	tables=$(for fd in /proc/"$pid"/fd/*; do
		[ "$(readlink "$fd")" = "anon_inode:[io_uring]" ] || continue
		grep -E '^ *[0-9]+: ' /proc/"$pid"/fdinfo/"${fd##*/}" | grep -E "ublkc|disk" |
			tr -s ' ' | sed 's/^ //' | tr '\n' ' '
		echo
	done | grep . | sort)
	[ "$(grep -c . <<<"$tables")" = 2 ] && break
	sleep 0.2
done
# 7.x prints each file's path, 6.12 only its name.
want="^0: (/dev/)?ublkc$DEV_ID 1: ($(readlink -f "$W")/)?disk\\.img\$"
[ "$(grep -c . <<<"$tables")" = 2 ] ||
	fail "expected 2 queue rings with registered files, found: '$tables'"
while read -r line; do
	[[ $line =~ $want ]] || fail "a queue ring's fixed files are '$line', want /$want/"
done <<<"$tables"
log "ok: both queue rings have /dev/ublkc$DEV_ID in slot 0 and the backing in slot 1"

del_dev
cmp -n $((4 * MiB)) -i 0:$((4 * MiB)) "$W/r" "$img" || fail "the backing differs from what was written"
log "ok: data written through the fixed files is in the backing"
