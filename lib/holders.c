/* SPDX-License-Identifier: MIT */
/*
 * holders.c - who holds /dev/ublkbN open: mounts, stacked devices (dm, md),
 * swap, and processes with an open file descriptor on it or a partition.
 *
 * The kernel counts openers but (before TRY_STOP_DEV, Linux 7.0) does not
 * tell; and even TRY_STOP_DEV only says "busy".  A user refused a deletion
 * needs to know what to close, so this looks where Linux shows holders.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "holders.h"

#define MAX_DEVT 64
#define SHOWN 3

struct found {
	char *buf;
	size_t len;
	int n;
};

/* Add one holder to the description (the first SHOWN; the rest counted). */
static void add(struct found *f, const char *what, const char *name)
{
	size_t used = strlen(f->buf);

	if (f->n < SHOWN && used < f->len)
		snprintf(f->buf + used, f->len - used, "%s%s %s", used ? ", " : "", what, name);
	f->n++;
}

static int read_devt(const char *path, dev_t *d)
{
	unsigned int maj, min;
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%u:%u", &maj, &min) == 2;
	fclose(f);
	if (!ok)
		return -1;
	*d = makedev(maj, min);
	return 0;
}

/* The disk's dev_t and its partitions'. */
static int disk_devts(uint32_t id, dev_t *devs, char names[][32], int max)
{
	char dir[64], path[384];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "/sys/block/ublkb%u", id);
	snprintf(path, sizeof(path), "%s/dev", dir);
	if (read_devt(path, &devs[0]) < 0)
		return 0;
	snprintf(names[n++], 32, "ublkb%u", id);
	d = opendir(dir);
	while (d && (e = readdir(d)) && n < max) {
		if (strncmp(e->d_name, names[0], strlen(names[0])) || !e->d_name[strlen(names[0])] ||
		    strlen(e->d_name) >= 32)
			continue;
		snprintf(path, sizeof(path), "%s/%s/dev", dir, e->d_name);
		if (read_devt(path, &devs[n]) == 0)
			memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
	}
	if (d)
		closedir(d);
	return n;
}

static int is_ours(dev_t d, const dev_t *devs, int n)
{
	for (int i = 0; i < n; i++)
		if (devs[i] == d)
			return 1;
	return 0;
}

/* /proc/self/mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...". */
static void find_mounts(struct found *f, const dev_t *devs, int n)
{
	char line[4096], point[2048];
	unsigned int maj, min;
	FILE *m = fopen("/proc/self/mountinfo", "re");

	while (m && fgets(line, sizeof(line), m))
		if (sscanf(line, "%*u %*u %u:%u %*s %2047s", &maj, &min, point) == 3 &&
		    is_ours(makedev(maj, min), devs, n))
			add(f, "mounted on", point);
	if (m)
		fclose(m);
}

/* /sys/block/ublkbN[/PART]/holders: device-mapper, md, bcache... */
static void find_stacked(struct found *f, uint32_t id, char names[][32], int n)
{
	char path[160];
	struct dirent *e;
	DIR *d;

	for (int i = 0; i < n; i++) {
		if (i == 0)
			snprintf(path, sizeof(path), "/sys/block/ublkb%u/holders", id);
		else
			snprintf(path, sizeof(path), "/sys/block/ublkb%u/%s/holders", id, names[i]);
		d = opendir(path);
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.')
				add(f, "used by", e->d_name);
		if (d)
			closedir(d);
	}
}

static void find_swap(struct found *f, const dev_t *devs, int n)
{
	char line[1024], path[1024];
	FILE *s = fopen("/proc/swaps", "re");
	struct stat st;

	while (s && fgets(line, sizeof(line), s))
		if (sscanf(line, "%1023s", path) == 1 && path[0] == '/' && stat(path, &st) == 0 &&
		    S_ISBLK(st.st_mode) && is_ours(st.st_rdev, devs, n))
			add(f, "swap on", path);
	if (s)
		fclose(s);
}

static void comm_of(long pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	buf[0] = 0;
	if (f && fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = 0;
	if (f)
		fclose(f);
}

/* Any process with a file descriptor on the disk or a partition. */
static void find_processes(struct found *f, const dev_t *devs, int n)
{
	DIR *proc = opendir("/proc"), *fds;
	char path[320], comm[64];
	struct dirent *p, *e;
	struct stat st;
	long self = getpid();

	while (proc && (p = readdir(proc))) {
		long pid;

		if (!isdigit((unsigned char)p->d_name[0]) || (pid = atol(p->d_name)) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		fds = opendir(path);
		while (fds && (e = readdir(fds))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "/proc/%ld/fd/%s", pid, e->d_name);
			if (stat(path, &st) == 0 && S_ISBLK(st.st_mode) && is_ours(st.st_rdev, devs, n)) {
				comm_of(pid, comm, sizeof(comm));
				snprintf(path, sizeof(path), "%s (pid %ld)", comm, pid);
				add(f, "open by", path);
				break;	/* one mention per process */
			}
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
}

int holders_describe(uint32_t id, char *buf, size_t len)
{
	char names[MAX_DEVT][32];
	dev_t devs[MAX_DEVT];
	struct found f = { .buf = buf, .len = len };
	int n;

	buf[0] = 0;
	n = disk_devts(id, devs, names, MAX_DEVT);
	if (!n)
		return 0;
	find_mounts(&f, devs, n);
	find_stacked(&f, id, names, n);
	find_swap(&f, devs, n);
	find_processes(&f, devs, n);
	if (f.n > SHOWN) {
		size_t used = strlen(buf);

		snprintf(buf + used, len - used, " and %d more", f.n - SHOWN);
	}
	return f.n;
}
