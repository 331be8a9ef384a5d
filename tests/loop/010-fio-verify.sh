#!/bin/bash
# timeout: 600
# fio write-then-verify (crc32c) through the loop target: random and
# sequential, block sizes 512 B to 1 MiB mixed, QD 1 and 64, 1 and 2 queues,
# direct and buffered backing, in every copy mode the kernel offers.
#
# The default copy mode runs both backings (direct, 1 queue; buffered, 2
# queues); each other copy mode runs one of them, in turn.
. "$(dirname "$0")/lib.bash"
need fio

copy_modes
ext4_setup 160
img=$EXT4/disk.img
truncate -s 96M "$img"

# bs 512 B - 1 MiB mixed; --max-io 1M so that 1 MiB requests reach the target.
mix=--bssplit=512/15:4k/30:16k/15:64k/15:256k/15:1m/10
configs=("-q 1" "-q 2 --buffered")

i=0
for mode in "${MODES[@]}"; do
	if [ -z "$mode" ]; then cfgs=("${configs[@]}"); else cfgs=("${configs[i++ % 2]}"); fi
	for cfg in "${cfgs[@]}"; do
		# shellcheck disable=SC2086 # $cfg and $mode are zero or more options
		add_dev -f "$img" --max-io 1M $cfg $mode
		fio_verify "$DEV" rand-qd64 --rw=randwrite $mix --iodepth=64 --size=16M \
			--name=seq-qd1 --stonewall --rw=write $mix --iodepth=1 --size=4M --offset=32M \
			--name=rand-qd1 --stonewall --rw=randwrite --bsrange=512-1m --iodepth=1 \
			--size=4M --offset=40M \
			--name=seq-qd64-2jobs --stonewall --rw=write $mix --iodepth=64 --size=8M \
			--numjobs=2 --offset=48M --offset_increment=16M
		del_dev
		log "ok: $(mode_name "$mode"), $cfg: $(grep -Eo 'served .*' "$DEV_LOG")"
	done
done
log "pass"
