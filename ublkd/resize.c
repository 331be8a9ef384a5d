/* SPDX-License-Identifier: MIT */
/*
 * resize.c - `ublk resize`: change a live device's size (UPDATE_SIZE).
 *
 * The target says what size it can serve (its new_size()); a shrink needs
 * --force, because whatever lies past the new end (the tail of a file
 * system) is cut off.  Then the kernel learns the size (UPDATE_SIZE: the
 * disk's capacity changes at once), and the daemon's files follow, so that
 * a later crash recovery keeps the new size:
 *   - the recovery record (<id>.conf) gets size = NEW and the backing
 *     files' identity as they are now (a grown file's new length, which
 *     recovery checks);
 *   - the state file (<id>.state) gets the new size, for `ublk list`.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include "daemon.h"
#include "log.h"
#include "parse.h"
#include "runstate.h"
#include "ublk-features.h"

int device_resize(struct ublkd_dev *dev, uint64_t want, int force, uint64_t *old_size)
{
	struct ublkd_setup *s = &dev->target.setup;
	const struct ublkd_target_ops *ops = dev->target.ops;
	uint64_t size = want;
	char from[32], to[32], cut[32], rec[256];
	struct utsname u;
	int ret;

	*old_size = s->size;
	if (!(dev->kernel_features & UBLK_F_UPDATE_SIZE)) {
		uname(&u);
		ublkd_error("ublk resize needs the kernel feature UBLK_F_UPDATE_SIZE (Linux %s+); "
			    "this kernel (%s) does not have it", feature_since(UBLK_F_UPDATE_SIZE),
			    u.release);
		return -1;
	}
	if (!ops->new_size) {
		ublkd_error("target %s cannot change its size while it runs: delete the device "
			    "and add it again with the new size", ops->name);
		return -1;
	}
	if (ops->new_size(&dev->target, &size) < 0)
		return -1;
	if (!size || size % s->logical_block_size) {
		ublkd_error("target %s reports a new size of %llu bytes: it must be a non-zero "
			    "multiple of the %u-byte block size; fix the target", ops->name,
			    (unsigned long long)size, s->logical_block_size);
		return -1;
	}
	format_size(s->size, from, sizeof(from));
	format_size(size, to, sizeof(to));
	if (size < s->size && !force) {
		format_size(s->size - size, cut, sizeof(cut));
		ublkd_error("shrinking " UBLK_BLOCK_FMT " from %s to %s cuts off its last %s "
			    "(whatever a file system keeps there is lost): shrink what is on it "
			    "first, then add --force", dev->info.dev_id, from, to, cut);
		return -1;
	}
	if (size != s->size) {
		ret = ctrl_update_size(&dev->ctrl, dev->info.dev_id, size >> 9);
		if (ret < 0) {
			ublkd_error("the kernel refused the new size of " UBLK_BLOCK_FMT
				    " (UPDATE_SIZE): %s", dev->info.dev_id, strerror(-ret));
			return -1;
		}
		ublkd_info("resized " UBLK_BLOCK_FMT " from %s to %s", dev->info.dev_id, from, to);
	}
	s->size = size;
	/* A recovering daemon opens the target with size_limit = cfg.size:
	 * from now on that is the size the device has. */
	dev->cfg.size = size;
	device_write_runstate(dev);
	/* Also when the size did not change: running the same resize again
	 * is how a record that could not be written is retried. */
	if (device_write_record(dev) < 0 && dev->cfg.recovery != RECOVERY_OFF) {
		runstate_path(dev->info.dev_id, "conf", rec, sizeof(rec));
		ublkd_error(UBLK_BLOCK_FMT " has %s now, but its recovery record %s could not "
			    "be updated (see the system log), so a crash recovery would refuse "
			    "it: fix that and run 'ublk resize -n %u' again", dev->info.dev_id, to,
			    rec, dev->info.dev_id);
		return -1;
	}
	return 0;
}
