/* SPDX-License-Identifier: MIT */
/*
 * record.c - the recovery record, /run/ublkd/<id>.conf.
 *
 * When a device is first started, ublkd writes the configuration it
 * resolved (absolute paths, the id the kernel gave) as a device config file
 * (ublkd.conf(5)), plus the identity of every backing file.  A daemon that
 * recovers the device (`ublk recover`, or systemd restarting ublkd@NAME)
 * reads that file back with config_load(), the parser of every config
 * file, and never the command line of the first start: a relative path or
 * an edited config file cannot make it open another file.  Before the
 * target opens anything, each backing path must still name the file it
 * named (same st_dev/st_ino, same size, except for --shmem's file, which
 * its application may resize); otherwise recovery is refused and
 * the device is left waiting, for `ublk del` to remove.
 */
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"
#include "option-table.h"
#include "parse.h"
#include "runstate.h"

/* What path names now; -errno when it cannot be reached. */
static int identify(const char *path, struct backing_id *id)
{
	struct stat st;
	uint64_t size;
	int fd;

	if (stat(path, &st) < 0)
		return -errno;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	if (S_ISBLK(st.st_mode)) {
		/* a device node's inode is the node's, not the disk's */
		id->dev = st.st_rdev;
		id->ino = 0;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ioctl(fd, BLKGETSIZE64, &size) == 0)
			id->size = size;
		close(fd);
	}
	return 0;
}

static const struct ublkd_option *find_opt(const struct ublkd_target_ops *ops,
					   const char *name)
{
	const struct ublkd_option *o;

	for (o = ops->options; o && o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

/* The generic keys (ublkd.conf(5)) of what the device is: every
 * GOPT_RECORD option of the table, with the values the device got (the
 * id, queues, depth and request size the kernel and the target settled). */
static int add_generic(config_setting_t *r, const struct ublkd_dev *dev)
{
	struct dev_config c = dev->cfg;	/* shallow: read only */
	char buf[64], key[64];
	const char *v;
	size_t g;
	int ret = 0;

	if (!c.target)
		c.target = (char *)dev->target.ops->name;
	c.dev_id = (int)dev->info.dev_id;
	c.nr_queues = dev->info.nr_hw_queues;
	c.nr_threads = dev->threads;
	c.depth = dev->info.queue_depth;
	c.max_io_bytes = dev->max_io_bytes;
	for (g = 0; g < nr_generic_options; g++) {
		const struct gopt *e = &generic_options[g];

		if (!(e->flags & GOPT_RECORD) || !(v = options_value(e, &c, buf, sizeof(buf))))
			continue;
		option_key(&e->o, key, sizeof(key));
		if (!e->o.has_arg)
			ret |= runstate_add_bool(r, key, 1);
		else if (e->o.type == UBLKD_OPT_INT)
			ret |= runstate_add_int(r, key, strtoll(v, NULL, 10));
		else
			ret |= runstate_add_string(r, key, v);
	}
	return ret;
}

/* What path names now, into the record's backing list.  resizable: the
 * same file with another size is still the same at recovery. */
static int add_backing(config_setting_t *backing, const char *path, int resizable)
{
	struct backing_id id;
	config_setting_t *b;
	int err = identify(path, &id), ret = 0;

	if (err < 0) {
		ublkd_error("cannot identify backing file %s for the recovery record: %s",
			    path, strerror(-err));
		return -1;
	}
	b = config_setting_add(backing, NULL, CONFIG_TYPE_GROUP);
	if (!b)
		return -1;
	ret |= runstate_add_string(b, "path", path);
	ret |= runstate_add_int(b, "dev", id.dev);
	ret |= runstate_add_int(b, "ino", id.ino);
	ret |= runstate_add_int(b, "size", id.size);
	if (resizable)
		ret |= runstate_add_bool(b, "resizable", 1);
	return ret;
}

/* The target's options, each once (the last given wins, as on the command
 * line), and the identity of the backing files among them. */
static int add_target(config_setting_t *r, config_setting_t *backing,
		      const struct ublkd_dev *dev)
{
	const struct dev_config *c = &dev->cfg;
	const struct ublkd_option *o;
	char key[128];
	int i, j, ret = 0;

	for (i = 0; i < c->nr_topts; i++) {
		for (j = i + 1; j < c->nr_topts; j++)
			if (!strcmp(c->topts[j].name, c->topts[i].name))
				break;
		o = find_opt(dev->target.ops, c->topts[i].name);
		if (j < c->nr_topts || !o)
			continue;	/* given again later */
		option_key(o, key, sizeof(key));
		if (!c->topts[i].value) {
			ret |= runstate_add_bool(r, key, 1);
			continue;
		}
		ret |= runstate_add_string(r, key, c->topts[i].value);
		if ((o->flags & UBLKD_OPT_BACKING) && add_backing(backing, c->topts[i].value, 0) < 0)
			return -1;
	}
	/* --shmem too: the kernel matches requests to the pages it pinned
	 * at the first start, and a recovering daemon reads them through its
	 * own mapping of this path, which must be the same file (shmem.c);
	 * the application may resize it. */
	if (c->shmem && add_backing(backing, c->shmem, 1) < 0)
		return -1;
	return ret;
}

int device_write_record(struct ublkd_dev *dev)
{
	config_setting_t *root, *rec, *backing;
	char header[256], path[4200];
	int ret = -1;
	config_t c;

	config_init(&c);
	root = config_root_setting(&c);
	if (add_generic(root, dev) < 0)
		goto oom;
	rec = config_setting_add(root, "recovery_record", CONFIG_TYPE_GROUP);
	backing = rec ? config_setting_add(rec, "backing", CONFIG_TYPE_LIST) : NULL;
	if (!backing)
		goto oom;
	if (dev->cfg.config && runstate_add_string(rec, "config", dev->cfg.config) < 0)
		goto oom;
	ret = add_target(root, backing, dev);
	if (ret < 0)
		goto out;
	snprintf(header, sizeof(header), "# The recovery record of " UBLK_BLOCK_FMT
		 " (ublkd.conf(5)), written by ublkd %s\n# at its first start: a "
		 "recovering ublkd reads it, not the command line.\n", dev->info.dev_id,
		 PACKAGE_VERSION);
	ret = runstate_write(dev->info.dev_id, "conf", header, &c);
	if (ret < 0) {
		runstate_path(dev->info.dev_id, "conf", path, sizeof(path));
		ublkd_error("cannot write the recovery record %s: %s; without it the device "
			    "could not be recovered: fix %s, or add --recovery=off", path,
			    strerror(-ret), runstate_dir());
	}
	goto out;
oom:
	ublkd_error("out of memory writing the recovery record");
	ret = -1;
out:
	config_destroy(&c);
	return ret;
}

static void describe(const struct backing_id *id, char *buf, size_t len)
{
	char size[32];

	format_size(id->size, size, sizeof(size));
	if (id->ino)
		snprintf(buf, len, "inode %llu on device %u:%u, %s", (unsigned long long)id->ino,
			 major(id->dev), minor(id->dev), size);
	else
		snprintf(buf, len, "block device %u:%u, %s", major(id->dev), minor(id->dev),
			 size);
}

int device_check_backing(const struct ublkd_dev *dev)
{
	const struct dev_config *c = &dev->cfg;
	char was[128], now[128];
	struct backing_id id;
	int i, err;

	for (i = 0; i < c->nr_backing; i++) {
		const struct backing_id *b = &c->backing[i];

		describe(b, was, sizeof(was));
		err = identify(b->path, &id);
		if (err < 0) {
			ublkd_error("cannot recover device %d: its backing file %s (%s) cannot be "
				    "reached: %s; put that file back, or delete the device with "
				    "'ublk del -n %d'", c->dev_id, b->path, was, strerror(-err),
				    c->dev_id);
			return -1;
		}
		if (id.dev != b->dev || id.ino != b->ino || (id.size != b->size && !b->resizable)) {
			describe(&id, now, sizeof(now));
			ublkd_error("cannot recover device %d: %s is now another file (%s) than "
				    "the one the device was started on (%s); put the original back "
				    "at that path, or delete the device with 'ublk del -n %d'",
				    c->dev_id, b->path, now, was, c->dev_id);
			return -1;
		}
	}
	return 0;
}

/* The device whose recovery record says it was started from config file
 * path; -1 when none. */
int device_find_by_config(const char *path)
{
	uint32_t ids[256];
	char rec[4200];
	const char *conf;
	int n, i, id = -1;
	config_t c;

	n = ctrl_list_ids(ids, 256);
	for (i = 0; i < n && id < 0; i++) {
		runstate_path(ids[i], "conf", rec, sizeof(rec));
		config_init(&c);
		if (config_read_file(&c, rec) == CONFIG_TRUE &&
		    config_lookup_string(&c, "recovery_record.config", &conf) == CONFIG_TRUE &&
		    !strcmp(conf, path))
			id = (int)ids[i];
		config_destroy(&c);
	}
	return id;
}

/* Is device id waiting for a daemon after a crash (or about to: live, its
 * daemon gone, the kernel still quiescing)? */
int device_waiting(uint32_t id)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_ctrl ctrl = { .fd = -1 };
	int ret = 0;

	if (ctrl_open(&ctrl) < 0)
		return 0;
	if (ctrl_get_info(&ctrl, id, &info) == 0 && (info.flags & UBLK_F_USER_RECOVERY))
		ret = info.state == UBLK_S_DEV_QUIESCED || info.state == UBLK_S_DEV_FAIL_IO ||
		      (info.state == UBLK_S_DEV_LIVE &&
		       (info.ublksrv_pid <= 0 || kill(info.ublksrv_pid, 0) < 0));
	ctrl_close(&ctrl);
	return ret;
}
