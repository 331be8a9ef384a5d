#!/bin/bash
# null devices with 1, 2 and 4 queues and depths 1, 128 and 4096: the block
# device has the size, block size and max request size asked for, `ublk
# list --json` reports what the kernel granted, and del leaves nothing.
. "$(dirname "$0")/../lib/common.sh"
cleanup sh -c 'ublk del -a >/dev/null 2>&1'

# Sysfs is read with $(<file) and the list with one jq: in the test VM each
# program start (cat, ls, wc, jq) costs 0.2-0.5 s, nine devices over.
ncpu=$(nproc)
for q in 1 2 4; do
	for d in 1 128 4096; do
		dev=$(ublk add -t null -q "$q" -d "$d" -s 1G --max-io 256K) ||
			fail "ublk add -q $q -d $d failed"
		id=${dev#/dev/ublkb}
		[ -b "$dev" ] || fail "$dev is not a block device"
		sys=/sys/block/ublkb$id
		v=$(<"$sys/size")
		[ "$v" = 2097152 ] || fail "q=$q d=$d: size is $v sectors, want 2097152"
		[ "$(<"$sys/queue/logical_block_size")" = 512 ] ||
			fail "logical block size is not 512"
		v=$(<"$sys/queue/max_sectors_kb")
		[ "$v" = 256 ] || fail "max_sectors_kb is $v, want 256"
		want_q=$(( q < ncpu ? q : ncpu ))
		v=$(ublk list -n "$id" --json | jq -r '.[0] | "\(.queues) \(.depth)"') ||
			fail "ublk list -n $id --json failed"
		read -r lq ld <<<"$v"
		[ "$lq" = "$want_q" ] || fail "q=$q: list says $lq queues, want $want_q"
		[ "$ld" = "$d" ] || fail "depth not $d"
		hw=("$sys"/mq/*)
		[ "${#hw[@]}" = "$want_q" ] || fail "blk-mq has ${#hw[@]} hw queues, want $want_q"
		# One request of every size up to the maximum, at depth 1 too.
		dd if=/dev/zero of="$dev" bs=256K count=8 oflag=direct status=none ||
			fail "q=$q d=$d: direct write failed"
		dd if="$dev" of=/dev/null bs=1M count=4 iflag=direct status=none ||
			fail "q=$q d=$d: direct read failed"
		ublk del -n "$id" || fail "ublk del -n $id failed"
		[ ! -e "$dev" ] || fail "$dev still exists after del"
		[ ! -e /run/ublkd/$id.state ] || fail "/run/ublkd/$id.state left behind"
		[ ! -e /run/ublkd/$id.conf ] || fail "/run/ublkd/$id.conf (recovery record) left behind"
		[ -z "$(ublk list)" ] || fail "ublk list not empty after del: $(ublk list)"
	done
done
echo "9 devices added, checked and deleted"
