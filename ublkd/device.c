/* SPDX-License-Identifier: MIT */
/*
 * device.c - the control path for the one device this daemon serves:
 * ADD_DEV -> SET_PARAMS -> (queues fetch) -> START_DEV ... STOP_DEV -> DEL_DEV.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"
#include "parse.h"
#include "runstate.h"
#include "stats.h"

/* How long a deleted device's id may take to be freed: the queues' rings
 * drop their references asynchronously. */
#define DEL_WAIT_MS 3000

static uint8_t ilog2_u32(uint32_t v)
{
	return v ? 31 - __builtin_clz(v) : 0;
}

static void fill_params(const struct ublkd_dev *dev, struct ublk_params *p)
{
	const struct ublkd_setup *s = &dev->target.setup;
	uint32_t lbs = s->logical_block_size, pbs = s->physical_block_size;

	memset(p, 0, sizeof(*p));
	p->types = UBLK_PARAM_TYPE_BASIC;
	if (s->flags & UBLKD_PARAM_READ_ONLY)
		p->basic.attrs |= UBLK_ATTR_READ_ONLY;
	if (s->flags & UBLKD_PARAM_ROTATIONAL)
		p->basic.attrs |= UBLK_ATTR_ROTATIONAL;
	if (s->flags & UBLKD_PARAM_VOLATILE_CACHE)
		p->basic.attrs |= UBLK_ATTR_VOLATILE_CACHE;
	if (s->flags & UBLKD_PARAM_FUA)
		p->basic.attrs |= UBLK_ATTR_FUA;
	p->basic.logical_bs_shift = ilog2_u32(lbs);
	p->basic.physical_bs_shift = ilog2_u32(pbs);
	p->basic.io_min_shift = ilog2_u32(pbs);
	p->basic.io_opt_shift = ilog2_u32(pbs);
	p->basic.max_sectors = dev->max_io_bytes >> 9;
	p->basic.dev_sectors = s->size >> 9;

	if (dev->cfg.integrity) {
		/* Every logical block carries one tuple (8 bytes, 16 for
		 * crc64) at the start of its metadata, type 1: the kernel
		 * generates it on writes and checks guard and reference tag
		 * on reads (integrity/write_generate, read_verify). */
		p->types |= UBLK_PARAM_TYPE_INTEGRITY;
		p->integrity.flags = UBLK_LBMD_PI_CAP_INTEGRITY | UBLK_LBMD_PI_CAP_REFTAG;
		p->integrity.csum_type = dev->cfg.integrity;
		p->integrity.metadata_size = (uint8_t)integrity_tuple_size(dev->cfg.integrity);
		p->integrity.interval_exp = p->basic.logical_bs_shift;
	}
	if (s->flags & (UBLKD_PARAM_DISCARD | UBLKD_PARAM_WRITE_ZEROES)) {
		uint32_t cap = 0xffffffffU >> 9 & ~((lbs >> 9) - 1);

		p->types |= UBLK_PARAM_TYPE_DISCARD;
		p->discard.discard_granularity = s->discard_granularity;
		p->discard.max_discard_segments = 1;
		if (s->flags & UBLKD_PARAM_DISCARD)
			p->discard.max_discard_sectors = s->max_discard_bytes ?
				s->max_discard_bytes >> 9 : cap;
		if (s->flags & UBLKD_PARAM_WRITE_ZEROES)
			p->discard.max_write_zeroes_sectors = s->max_write_zeroes_bytes ?
				s->max_write_zeroes_bytes >> 9 : cap;
	}
}

static uint64_t mode_flags(const struct ublkd_dev *dev)
{
	switch (dev->cfg.data_mode) {
	case UBLKD_DATA_USER_COPY:
		return UBLK_F_USER_COPY;
	case UBLKD_DATA_ZERO_COPY:
		if (dev->zc == ZC_FUSED)
			return UBLK_F_FUSED_ZERO_COPY;
		return UBLK_F_SUPPORT_ZERO_COPY |
		       (dev->zc == ZC_AUTO ? UBLK_F_AUTO_BUF_REG : 0);
	default:
		return 0;
	}
}

/* UBLK_F_QUIESCE too where the kernel has it (Linux 6.16+; it needs
 * USER_RECOVERY): `ublk upgrade` hands the device over without killing
 * its daemon (handover.c).  Not with batch I/O: there QUIESCE_DEV's
 * cancel marks the queues aborted (7.3's ublk_batch_cancel_queue sets
 * force_abort), and every request until the next daemon fails with EIO
 * (core/220 saw it).  The crash path's hand-over reissues them. */
static uint64_t recovery_flags(const struct ublkd_dev *dev)
{
	uint64_t quiesce = dev->batch_io ? 0 : dev->kernel_features & UBLK_F_QUIESCE;

	switch (dev->cfg.recovery) {
	case RECOVERY_REISSUE:
		return UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE | quiesce;
	case RECOVERY_FAIL_IO:
		return UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_FAIL_IO | quiesce;
	case RECOVERY_ON:
		return UBLK_F_USER_RECOVERY | quiesce;
	default:
		return 0;
	}
}

const char *recovery_name(uint64_t flags)
{
	if (flags & UBLK_F_USER_RECOVERY_FAIL_IO)
		return "fail-io";
	if (flags & UBLK_F_USER_RECOVERY_REISSUE)
		return "reissue";
	return flags & UBLK_F_USER_RECOVERY ? "on" : "off";
}

static int open_char_dev(struct ublkd_dev *dev)
{
	char path[64];
	int i;

	snprintf(path, sizeof(path), UBLK_CHAR_FMT, dev->info.dev_id);
	/* devtmpfs creates the node as the device is added; allow a moment. */
	for (i = 0; i < 100; i++) {
		dev->char_fd = open(path, O_RDWR | O_CLOEXEC);
		if (dev->char_fd >= 0 || errno != ENOENT)
			break;
		usleep(10000);
	}
	if (dev->char_fd < 0) {
		ublkd_error("cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/* Open /dev/ublkcN and lay out the queue threads (--threads per queue),
 * with their queue's CPU affinity. */
static int open_queues(struct ublkd_dev *dev)
{
	unsigned int q, w;
	cpu_set_t affinity;
	int ret;

	ret = open_char_dev(dev);
	if (ret < 0)
		return ret;
	dev->threads = dev->cfg.nr_threads > 1 ? dev->cfg.nr_threads : 1;
	dev->nr_workers = dev->info.nr_hw_queues * dev->threads;
	dev->queues = calloc(dev->nr_workers, sizeof(*dev->queues));
	if (!dev->queues) {
		close(dev->char_fd);
		dev->char_fd = -1;
		dev->nr_workers = 0;
		return -ENOMEM;
	}
	for (q = 0; q < dev->info.nr_hw_queues; q++) {
		if (ctrl_get_affinity(&dev->ctrl, dev->info.dev_id, q, &affinity) < 0)
			CPU_ZERO(&affinity);
		for (w = q * dev->threads; w < (q + 1) * dev->threads; w++) {
			dev->queues[w].dev = dev;
			dev->queues[w].q_id = q;
			dev->queues[w].thread_idx = w % dev->threads;
			dev->queues[w].nr_threads = dev->threads;
			dev->queues[w].affinity = affinity;
		}
	}
	return 0;
}

int device_setup(struct ublkd_dev *dev)
{
	struct ublk_params params;
	int ret;

	memset(&dev->info, 0, sizeof(dev->info));
	dev->info.nr_hw_queues = dev->cfg.nr_queues;
	dev->info.queue_depth = dev->cfg.depth;
	dev->info.max_io_buf_bytes = dev->max_io_bytes;
	dev->info.dev_id = dev->cfg.dev_id < 0 ? (uint32_t)-1 : (uint32_t)dev->cfg.dev_id;
	dev->info.flags = UBLK_F_CMD_IOCTL_ENCODE | mode_flags(dev) | recovery_flags(dev) |
			  (dev->cfg.need_get_data ? UBLK_F_NEED_GET_DATA : 0) |
			  (dev->cfg.no_part_scan ? UBLK_F_NO_AUTO_PART_SCAN : 0) |
			  (dev->cfg.nr_threads > 1 ? UBLK_F_PER_IO_DAEMON : 0) |
			  (dev->batch_io ? UBLK_F_BATCH_IO : 0) |
			  (dev->shmem_base ? UBLK_F_SHMEM_ZC : 0) |
			  (dev->cfg.integrity ? UBLK_F_INTEGRITY : 0);

	ret = ctrl_add_dev(&dev->ctrl, &dev->info);
	if (ret == -EEXIST) {
		ublkd_error("device id %d is already taken: pick another -n, or omit -n "
			    "to let the kernel choose", dev->cfg.dev_id);
		return ret;
	}
	if (ret < 0) {
		ublkd_error("cannot add the ublk device (ADD_DEV): %s", strerror(-ret));
		return ret;
	}
	if (dev->info.nr_hw_queues < dev->cfg.nr_queues)
		ublkd_info("the kernel granted %u of %u queues (one per CPU at most)",
			   dev->info.nr_hw_queues, dev->cfg.nr_queues);

	fill_params(dev, &params);
	ret = ctrl_set_params(&dev->ctrl, dev->info.dev_id, &params);
	if (ret < 0) {
		ublkd_error("the kernel rejected the device parameters (SET_PARAMS): %s",
			    strerror(-ret));
		goto err_del;
	}
	ret = shmem_register(dev);	/* before START_DEV (shmem.c) */
	if (ret < 0)
		goto err_del;
	ret = open_queues(dev);
	if (ret < 0)
		goto err_del;
	return 0;

err_del:
	ctrl_del_dev(&dev->ctrl, dev->info.dev_id);
	return ret;
}

/* Is device dev_id waiting for a daemon (USER_RECOVERY after a crash)?
 * Fills dev->info and adopts the first daemon's queues, depth and data
 * mode from the kernel's record.  quiet: a missing or busy device is not
 * an error (auto-detection at start). 1 yes, 0 no, -1 error (printed). */
int device_recover_check(struct ublkd_dev *dev, int quiet)
{
	uint32_t id = (uint32_t)dev->cfg.dev_id;
	uint64_t f;
	int i;

	/* The kernel marks the device as waiting for a daemon once the old
	 * daemon's rings are gone: usually within a second, longer under load. */
	for (i = 0; i < 3000; i++) {
		if (ctrl_get_info(&dev->ctrl, id, &dev->info) < 0) {
			if (quiet)
				return 0;
			ublkd_error("cannot recover device %u: no such ublk device (see 'ublk list')", id);
			return -1;
		}
		if (dev->info.state != UBLK_S_DEV_LIVE)
			break;
		if (dev->info.ublksrv_pid > 0 && kill(dev->info.ublksrv_pid, 0) == 0) {
			if (quiet)
				return 0;
			ublkd_error("cannot recover device %u: it is served by a running "
				    "ublkd (pid %d)", id, dev->info.ublksrv_pid);
			return -1;
		}
		usleep(10000);	/* the kernel is still quiescing after the old daemon */
	}
	f = dev->info.flags;
	if (dev->info.state == UBLK_S_DEV_LIVE && (f & UBLK_F_USER_RECOVERY)) {
		if (quiet)
			return 0;
		ublkd_error("cannot recover device %u: its daemon (pid %d) is gone, but after "
			    "30 s the kernel still holds the device live (I/O stuck in the old "
			    "daemon's rings? see dmesg); 'ublk del --force -n %u' deletes it",
			    id, dev->info.ublksrv_pid, id);
		return -1;
	}
	if (!(f & UBLK_F_USER_RECOVERY) ||
	    (dev->info.state != UBLK_S_DEV_QUIESCED && dev->info.state != UBLK_S_DEV_FAIL_IO)) {
		if (quiet)
			return 0;
		ublkd_error("cannot recover device %u: it is %s%s; delete it with 'ublk del -n %u'",
			    id, ctrl_state_name(dev->info.state),
			    f & UBLK_F_USER_RECOVERY ? ", not waiting for a daemon" :
			    " and was created with --recovery=off", id);
		return -1;
	}
	dev->cfg.nr_queues = dev->info.nr_hw_queues;
	dev->cfg.depth = dev->info.queue_depth;
	dev->cfg.max_io_bytes = dev->info.max_io_buf_bytes;
	dev->cfg.recovery = f & UBLK_F_USER_RECOVERY_FAIL_IO ? RECOVERY_FAIL_IO :
			    f & UBLK_F_USER_RECOVERY_REISSUE ? RECOVERY_REISSUE : RECOVERY_ON;
	dev->zc = ZC_NONE;
	dev->cfg.need_get_data = !!(f & UBLK_F_NEED_GET_DATA);
	dev->cfg.no_part_scan = !!(f & UBLK_F_NO_AUTO_PART_SCAN);
	/* The kernel holds the first daemon's --shmem registration; the
	 * record names the file (and record.c checks it is the same). */
	if (!!(f & UBLK_F_SHMEM_ZC) != !!dev->cfg.shmem) {
		ublkd_error("cannot recover device %u: it was added %s shared memory, its "
			    "recovery record says %s; delete it with 'ublk del -n %u'", id,
			    f & UBLK_F_SHMEM_ZC ? "with" : "without",
			    dev->cfg.shmem ? "--shmem" : "no --shmem", id);
		return -1;
	}
	/* The device's blocks carry protection information, in the target's
	 * store, or they do not: the record must agree. */
	if (!!(f & UBLK_F_INTEGRITY) != !!dev->cfg.integrity) {
		ublkd_error("cannot recover device %u: it was added %s protection information, "
			    "its recovery record says %s; delete it with 'ublk del -n %u'", id,
			    f & UBLK_F_INTEGRITY ? "with" : "without",
			    dev->cfg.integrity ? "--integrity" : "no --integrity", id);
		return -1;
	}
	/* The device speaks the commands it was added with. */
	dev->batch_io = !!(f & UBLK_F_BATCH_IO);
	dev->cfg.batch_io = dev->batch_io ? 1 : -1;
	if (dev->batch_io && dev->cfg.nr_threads > 1) {
		ublkd_warn("device %u uses batch I/O (UBLK_F_BATCH_IO): recovering it with one "
			   "thread per queue, not --threads %u", id, dev->cfg.nr_threads);
		dev->cfg.nr_threads = 1;
	}
	/* Several threads per queue need the flag the device was added with. */
	if (dev->cfg.nr_threads > 1 && !(f & UBLK_F_PER_IO_DAEMON)) {
		ublkd_warn("device %u was added without per-I/O daemons (UBLK_F_PER_IO_DAEMON): "
			   "recovering it with one thread per queue, not --threads %u", id,
			   dev->cfg.nr_threads);
		dev->cfg.nr_threads = 1;
	}
	if (f & UBLK_F_USER_COPY)
		dev->cfg.data_mode = UBLKD_DATA_USER_COPY;
	else if (f & UBLK_F_SUPPORT_ZERO_COPY) {
		dev->cfg.data_mode = UBLKD_DATA_ZERO_COPY;
		dev->zc = f & UBLK_F_AUTO_BUF_REG ? ZC_AUTO : ZC_REGISTER;
	} else if (f & UBLK_F_FUSED_ZERO_COPY) {
		dev->cfg.data_mode = UBLKD_DATA_ZERO_COPY;
		dev->zc = ZC_FUSED;
	} else
		dev->cfg.data_mode = UBLKD_DATA_COPY;
	return 1;
}

/* START_USER_RECOVERY, then open the device like a new daemon would. */
int device_recover_setup(struct ublkd_dev *dev)
{
	uint32_t id = dev->info.dev_id;
	int ret, i;

	/* The old daemon's ring may still be tearing down: retry while busy. */
	/* The kernel marks the device as waiting for a daemon once the old
	 * daemon's rings are gone: usually within a second, longer under load. */
	for (i = 0; i < 3000; i++) {
		ret = ctrl_start_recovery(&dev->ctrl, id);
		if (ret != -EBUSY)
			break;
		usleep(10000);
	}
	if (ret < 0) {
		ublkd_error("cannot recover device %u (START_USER_RECOVERY): %s", id, strerror(-ret));
		return ret;
	}
	return open_queues(dev);
}

/* END_USER_RECOVERY: like START_DEV, returns once every queue fetched. */
int device_end_recovery(struct ublkd_dev *dev)
{
	int ret = ctrl_end_recovery(&dev->ctrl, dev->info.dev_id, getpid());

	if (ret < 0)
		ublkd_error("cannot finish recovery of device %u (END_USER_RECOVERY): %s",
			    dev->info.dev_id, strerror(-ret));
	return ret;
}

/* START_DEV: returns once every queue has fetched and the disk is live. */
int device_start(struct ublkd_dev *dev)
{
	int ret = ctrl_start_dev(&dev->ctrl, dev->info.dev_id, getpid());

	if (ret < 0)
		ublkd_error("cannot start the ublk device (START_DEV): %s", strerror(-ret));
	return ret;
}

/*
 * The block device's I/O scheduler: "none" unless told otherwise, as the
 * kernel's own loop driver does (blk-mq would give a one-queue ublk disk
 * mq-deadline, which costs a kblockd hop per request: 2-2.5x fewer 4K IOPS
 * measured in the test VM).  "keep" leaves the kernel's choice.  Failing to
 * set the default is a warning; failing to set one the user named, an error.
 */
int device_set_scheduler(struct ublkd_dev *dev)
{
	const char *want = dev->cfg.io_scheduler ? dev->cfg.io_scheduler : "none";
	char path[80], offered[256] = "";
	ssize_t n;
	int fd, err = 0;

	if (!strcmp(want, "keep"))
		return 0;
	snprintf(path, sizeof(path), "/sys/block/ublkb%u/queue/scheduler", dev->info.dev_id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		err = errno;
	else if (write(fd, want, strlen(want)) < 0)
		err = errno;
	if (fd >= 0 && err) {
		n = pread(fd, offered, sizeof(offered) - 1, 0);
		for (n = n > 0 ? n : 0; n > 0 && isspace((unsigned char)offered[n - 1]); n--)
			;
		offered[n] = 0;
	}
	if (fd >= 0)
		close(fd);
	if (!err)
		return 0;
	if (!dev->cfg.io_scheduler) {
		ublkd_warn("cannot set the I/O scheduler of " UBLK_BLOCK_FMT " to none (%s): "
			   "it keeps the kernel's choice", dev->info.dev_id, strerror(err));
		return 0;
	}
	ublkd_error("cannot use I/O scheduler '%s' for " UBLK_BLOCK_FMT " (%s)%s%s: "
		    "pick one the kernel offers with --io-scheduler, or 'keep'", want,
		    dev->info.dev_id, strerror(err), offered[0] ? "; the kernel offers: " : "",
		    offered);
	return -err;
}

/* STOP_DEV removes the disk (waiting for in-flight I/O, which the queue
 * threads still serve); then the queue threads are told to exit. */
void device_stop(struct ublkd_dev *dev, int stop_kernel_dev)
{
	unsigned int q;
	int ret;

	if (stop_kernel_dev) {
		ret = ctrl_stop_dev(&dev->ctrl, dev->info.dev_id);
		if (ret < 0 && ret != -ENODEV)
			ublkd_warn("STOP_DEV failed: %s", strerror(-ret));
	}
	for (q = 0; q < dev->nr_workers; q++)
		queue_request_stop(&dev->queues[q]);
	for (q = 0; q < dev->nr_workers; q++)
		queue_join(&dev->queues[q]);
}

/* Delete the device without waiting for whoever still holds its disk
 * (ctrl_release_dev); close our char fd first, which holds it too. */
void device_delete(struct ublkd_dev *dev, int del_kernel_dev)
{
	int ret;

	if (dev->char_fd >= 0)
		close(dev->char_fd);
	dev->char_fd = -1;
	if (!del_kernel_dev) {
		free(dev->queues);
		dev->queues = NULL;
		return;
	}
	ret = ctrl_release_dev(&dev->ctrl, dev->info.dev_id, DEL_WAIT_MS);
	if (ret == -EBUSY)
		ublkd_warn("deleted " UBLK_BLOCK_FMT ", but something still holds it open "
			   "(its I/O fails): device id %u is free again once it is closed",
			   dev->info.dev_id, dev->info.dev_id);
	else if (ret < 0 && ret != -ENODEV)
		ublkd_warn("DEL_DEV failed: %s", strerror(-ret));
	runstate_remove(dev->info.dev_id);
	free(dev->queues);
	dev->queues = NULL;
}

const char *device_mode_name(const struct ublkd_dev *dev)
{
	switch (dev->cfg.data_mode) {
	case UBLKD_DATA_USER_COPY:
		return "user_copy";
	case UBLKD_DATA_ZERO_COPY:
		return "zero_copy";
	default:
		return "copy";
	}
}

const char *device_zc_name(enum zc_mech zc)
{
	switch (zc) {
	case ZC_AUTO:
		return "auto_buf_reg";
	case ZC_REGISTER:
		return "register_io_buf";
	case ZC_FUSED:
		return "fused_cmd";
	default:
		return "none";
	}
}

/* /run/ublkd/<id>.state for `ublk list`, `del` and `recover`: a libconfig
 * file, read back with libconfig (runstate_lookup_*). */
int device_write_runstate(struct ublkd_dev *dev)
{
	const struct ublkd_setup *s = &dev->target.setup;
	config_setting_t *r;
	char path[64];
	int ret = 0;
	config_t c;

	config_init(&c);
	r = config_root_setting(&c);
	ret |= runstate_add_int(r, "id", dev->info.dev_id);
	ret |= runstate_add_int(r, "pid", getpid());
	snprintf(path, sizeof(path), UBLK_BLOCK_FMT, dev->info.dev_id);
	ret |= runstate_add_string(r, "block_device", path);
	snprintf(path, sizeof(path), UBLK_CHAR_FMT, dev->info.dev_id);
	ret |= runstate_add_string(r, "char_device", path);
	if (dev->cfg.name)
		ret |= runstate_add_string(r, "name", dev->cfg.name);
	ret |= runstate_add_string(r, "target", dev->target.ops->name);
	ret |= runstate_add_string(r, "description", s->description ? s->description : "");
	ret |= runstate_add_string(r, "options", dev->cfg.argv_line ? dev->cfg.argv_line : "");
	ret |= runstate_add_int(r, "size", (int64_t)s->size);
	ret |= runstate_add_int(r, "logical_block_size", s->logical_block_size);
	ret |= runstate_add_int(r, "queues", dev->info.nr_hw_queues);
	ret |= runstate_add_int(r, "depth", dev->info.queue_depth);
	ret |= runstate_add_int(r, "max_io_bytes", dev->max_io_bytes);
	ret |= runstate_add_bool(r, "read_only", !!(s->flags & UBLKD_PARAM_READ_ONLY));
	ret |= runstate_add_string(r, "copy_mode", device_mode_name(dev));
	ret |= runstate_add_string(r, "zero_copy_mechanism", device_zc_name(dev->zc));
	ret |= runstate_add_int(r, "bytes_copied", (int64_t)stats_bytes_copied(dev));
	ret |= runstate_add_string(r, "recovery", recovery_name(dev->info.flags));
	ret |= runstate_add_string(r, "config", dev->cfg.config ? dev->cfg.config : "");
	ret |= runstate_add_int(r, "flags", (int64_t)dev->info.flags);
	ret = ret ? -ENOMEM : runstate_write(dev->info.dev_id, "state", NULL, &c);
	config_destroy(&c);
	return ret;
}
