/* SPDX-License-Identifier: MIT */
/*
 * claim.c - ublkd_claim_file(): one backing file, one device, unless shared.
 *
 * A flock() on the backing file, held for the daemon's life: the kernel
 * drops it when the daemon exits or crashes, so a crashed daemon never
 * leaves a stale claim behind and its recovering successor gets the file.
 * The holder of a conflicting lock is found in /proc/locks (pid, dev:ino)
 * and named by the ublk device whose daemon it is (GET_DEV_INFO's pid).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"

/* The pid of another process holding a lock on st's file, or 0. */
static pid_t lock_holder(const struct stat *st)
{
	char line[256], kind[32], arrow[8];
	unsigned int maj, min;
	unsigned long ino;
	pid_t holder = 0;
	int pid;
	FILE *f = fopen("/proc/locks", "re");

	if (!f)
		return 0;
	while (!holder && fgets(line, sizeof(line), f)) {
		/* "1: FLOCK  ADVISORY  WRITE 123 00:1a:456 0 EOF"; waiters
		 * have "->" after the number. */
		if (sscanf(line, "%*d: %7s", arrow) == 1 && !strcmp(arrow, "->"))
			continue;
		if (sscanf(line, "%*d: %31s %*s %*s %d %x:%x:%lu", kind, &pid, &maj, &min,
			   &ino) == 5 && maj == major(st->st_dev) && min == minor(st->st_dev) &&
		    ino == (unsigned long)st->st_ino && pid != getpid())
			holder = pid;
	}
	fclose(f);
	return holder;
}

/* Is pid running (not gone, not a zombie whose files are being released)? */
static int pid_running(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ok = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
		ok = p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return ok;
}

/* The ublk device served by daemon pid, or -1. */
static int device_of(pid_t pid)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_ctrl c;
	uint32_t ids[256];
	int n, i, id = -1;

	if (ctrl_open(&c) < 0)
		return -1;
	n = ctrl_list_ids(ids, 256);
	for (i = 0; i < n && id < 0; i++)
		if (ctrl_get_info(&c, ids[i], &info) == 0 && info.ublksrv_pid == pid)
			id = (int)ids[i];
	ctrl_close(&c);
	return id;
}

static void report(const char *path, pid_t pid)
{
	char comm[32] = "?", file[64];
	int id = device_of(pid);
	FILE *f;

	if (id >= 0) {
		ublkd_error("%s is already the backing file of " UBLK_BLOCK_FMT " (ublkd pid %d): "
			    "use --shared on both devices to serve it from two", path, id, pid);
		return;
	}
	snprintf(file, sizeof(file), "/proc/%d/comm", pid);
	f = fopen(file, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	ublkd_error("%s is already in use by another ublk device or program (pid %d, %s): "
		    "use --shared on both to share it", path, pid, comm);
}

int ublkd_claim_file(int fd, const char *path, int shared)
{
	struct stat st;
	pid_t pid = 0;
	int i;

	if (fstat(fd, &st) < 0)
		return 0;
	/* A holder that died (a crashed daemon being recovered) keeps its
	 * lock until the kernel has released its files: wait up to 10 s. */
	for (i = 0; i < 1000; i++) {
		if (flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK) {
			/* A file system without flock (some network ones): no
			 * protection, but no reason to refuse the file. */
			ublkd_warn("cannot lock %s (%s): nothing stops a second device from "
				   "using it", path, strerror(errno));
			return 0;
		}
		pid = lock_holder(&st);
		if (pid > 0 && pid_running(pid))
			break;
		usleep(10000);
	}
	if (pid > 0)
		report(path, pid);
	else
		ublkd_error("%s is locked by another process: use --shared on both users "
			    "to share it", path);
	return -1;
}
