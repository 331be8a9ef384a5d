/* SPDX-License-Identifier: MIT */
/*
 * names.c - a device's NAME (--name, name = "..." in its config file,
 * ublkd@NAME's instance name by default), unique among the ublk devices
 * of this machine; udev links it as /dev/disk/by-ublk/NAME
 * (udev/60-ublkd.rules, through `ublk udev-name`).
 *
 * A name is held in one of two ways, and a new device must find it free
 * in both:
 *   - by a running daemon: an flock() on <rundir>/names/NAME, held for the
 *     daemon's life.  It is taken before ADD_DEV, so that of two daemons
 *     started at once with one name exactly one goes on; the kernel drops
 *     it when the daemon exits or dies, so a crash leaves no stale claim.
 *   - by a device whose daemon died and that waits for recovery: its
 *     recovery record (<id>.conf), written while the lock was held and
 *     before the disk starts, keeps name = "NAME".  The daemon that
 *     recovers the device reads its name from there and takes the lock
 *     again: a recovered device keeps its name.  The record of a device
 *     the kernel no longer has holds nothing.
 * The lock file holds "PID ID" of its holder, for the refusal's message.
 */
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ctrl.h"
#include "daemon.h"
#include "log.h"
#include "runstate.h"

/* A recovering daemon may find the name still locked by the daemon it
 * replaces, on its way out (`ublk upgrade`): it waits this long. */
#define NAME_WAIT_MS 10000

/* <rundir>/names, made if need be, and ublkd's own as the state directory
 * must be (runstate_dir_check()): no one else may swap the locks.  0 or -1
 * with errno. */
static int names_dir(void)
{
	char dir[4200];
	struct stat st;

	if (runstate_dir_check() < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/names", runstate_dir());
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	if (lstat(dir, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* The lock of path, taken: its fd; -EWOULDBLOCK when another process has
 * it; another -errno.  The holder removes the file as it exits: a lock
 * taken on a file no longer at path is dropped and taken again. */
static int lock_name(const char *path)
{
	struct stat a, b;
	int fd, i;

	for (i = 0; i < 100; i++) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno == ENOENT && names_dir() == 0)
			continue;	/* the last holder removed the directory */
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int err = errno;

			close(fd);
			return -err;
		}
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return fd;
		close(fd);
	}
	return -EAGAIN;
}

static void report_holder(const char *name, const char *path)
{
	char buf[64] = "";
	int pid = 0, id = -1, fd;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		close(fd);
	}
	if (sscanf(buf, "%d %d", &pid, &id) == 2 && id >= 0)
		ublkd_error("the name '%s' is taken by " UBLK_BLOCK_FMT " (ublkd pid %d): pick "
			    "another name, or delete that device first ('ublk del -n %d')",
			    name, (unsigned int)id, pid, id);
	else if (pid > 0)
		ublkd_error("the name '%s' is taken by a device ublkd pid %d is starting: pick "
			    "another name, or stop that ublkd first", name, pid);
	else
		ublkd_error("the name '%s' is taken by another ublkd (%s is locked): pick "
			    "another name", name, path);
}

/* Does device id's recovery record keep name?  Not when the device was
 * made with --recovery=off: dead, it can never be served again (its disk
 * is gone; it waits only for `ublk del`). */
static int record_keeps(unsigned int id, const char *name)
{
	const char *have, *recovery;
	char path[256];
	config_t c;
	int ret;

	runstate_path(id, "conf", path, sizeof(path));
	config_init(&c);
	ret = config_read_file(&c, path) == CONFIG_TRUE &&
	      config_lookup_string(&c, "name", &have) == CONFIG_TRUE && !strcmp(have, name) &&
	      !(config_lookup_string(&c, "recovery", &recovery) == CONFIG_TRUE &&
		!strcmp(recovery, "off"));
	config_destroy(&c);
	return ret;
}

/* The device, other than skip, whose recovery record keeps name and which
 * the kernel still has (ctrl_list_ids()); -1 when none. */
static int record_with_name(const char *name, int skip)
{
	uint32_t ids[256];
	int n, i;

	n = ctrl_list_ids(ids, 256);
	for (i = 0; i < n; i++)
		if ((int)ids[i] != skip && record_keeps(ids[i], name))
			return (int)ids[i];
	return -1;
}

/* Device id keeps name in its record: say by whom the name is held. */
static void report_record(const char *name, int id)
{
	char *state = runstate_read((uint32_t)id);
	int64_t pid = 0;

	if (state)
		runstate_lookup_int(state, "pid", &pid);
	free(state);
	if (pid > 0 && kill((pid_t)pid, 0) == 0)
		ublkd_error("the name '%s' is taken by " UBLK_BLOCK_FMT " (ublkd pid %d): pick "
			    "another name, or delete that device first ('ublk del -n %d')",
			    name, (unsigned int)id, (int)pid, id);
	else
		ublkd_error("the name '%s' is kept by " UBLK_BLOCK_FMT ", which waits for "
			    "recovery after its daemon died: recover it ('ublk recover -n %d'), "
			    "delete it ('ublk del -n %d'), or pick another name", name,
			    (unsigned int)id, id, id);
}

static void write_holder(int fd, int id)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%d %d\n", (int)getpid(), id);

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		ublkd_debug("cannot note the holder of the name lock: %s", strerror(errno));
}

int name_claim(struct ublkd_dev *dev, int recovering)
{
	const char *name = dev->cfg.name;
	char path[4200];
	int fd, id, waited;

	if (!name)
		return 0;
	runstate_name_path(name, path, sizeof(path));
	if (names_dir() < 0) {
		ublkd_error("cannot keep the name '%s' unique: %s/names is not usable (%s); "
			    "fix it, or start the device without a name", name, runstate_dir(),
			    strerror(errno));
		return -1;
	}
	for (waited = 0;; waited += 10) {
		fd = lock_name(path);
		if (fd >= 0)
			break;
		if (fd != -EWOULDBLOCK) {
			ublkd_error("cannot lock %s for the name '%s': %s; fix %s, or start the "
				    "device without a name", path, name, strerror(-fd),
				    runstate_dir());
			return -1;
		}
		if (!recovering || waited >= NAME_WAIT_MS) {
			report_holder(name, path);
			return -1;
		}
		usleep(10000);
	}
	id = record_with_name(name, recovering ? dev->cfg.dev_id : -1);
	if (id >= 0) {
		report_record(name, id);
		close(fd);
		return -1;
	}
	dev->name_fd = fd;
	write_holder(fd, recovering ? dev->cfg.dev_id : -1);
	return 0;
}

void name_set_id(struct ublkd_dev *dev)
{
	if (dev->name_fd >= 0)
		write_holder(dev->name_fd, (int)dev->info.dev_id);
}

/* Removed while still locked: a daemon waiting for the lock sees that the
 * file it locked is gone and makes a new one (lock_name); and the
 * directory with the last name, so that a stopped device leaves nothing. */
void name_release(struct ublkd_dev *dev)
{
	char path[4200];

	if (dev->name_fd < 0)
		return;
	runstate_name_path(dev->cfg.name, path, sizeof(path));
	unlink(path);
	close(dev->name_fd);
	dev->name_fd = -1;
	*strrchr(path, '/') = 0;
	rmdir(path);
}

int name_check(const struct dev_config *cfg)
{
	char path[4200];
	int fd, id;

	if (!cfg->name)
		return 0;
	runstate_name_path(cfg->name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		int busy = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;

		close(fd);
		if (busy) {
			report_holder(cfg->name, path);
			return -1;
		}
	}
	id = record_with_name(cfg->name, -1);
	if (id >= 0) {
		report_record(cfg->name, id);
		return -1;
	}
	return 0;
}
