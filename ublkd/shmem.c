/* SPDX-License-Identifier: MIT */
/*
 * shmem.c - shared-memory zero copy (--shmem FILE, UBLK_F_SHMEM_ZC, 7.1+).
 *
 * An application that keeps its I/O buffers in shared memory (a file on
 * hugetlbfs or tmpfs, mapped MAP_SHARED) lets ublkd map the same file.
 * ublkd registers that mapping with the kernel once (REG_BUF, before
 * START_DEV); from then on a request whose pages all lie in it arrives
 * with UBLK_IO_F_SHMEM_ZC and the offset of its data in the file, and the
 * kernel copies nothing: the target reads and writes the shared pages
 * through ublkd's mapping (data.c points io->buf there).  Every other
 * request takes the device's data mode (copy or user copy) as before.
 *
 * The registration belongs to the device, not the daemon: a recovering
 * daemon maps the same file again (record.c has checked it is the same
 * inode; its size may have changed, which moves no page that a request
 * can match) and registers nothing.  It must not: after
 * START_DEV the kernel freezes the queue to register, which waits for the
 * requests in flight, and during a recovery no daemon serves them.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"

/* The whole pages of the file (what is registered and mapped: an
 * application may size it as it likes, and a page's tail is never a
 * request's whole buffer), after checking they can be registered; -1
 * after saying why not.  fd: open on the file, or -1 to look at path. */
static int64_t shmem_usable(const char *path, int fd)
{
	long page = sysconf(_SC_PAGESIZE);
	struct statfs sfs;
	struct stat st;
	int err = 0;

	if (fd >= 0 ? fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0 :
	    stat(path, &st) < 0 || statfs(path, &sfs) < 0)
		err = errno;
	if (err) {
		ublkd_error("--shmem %s: %s; create the file first (on hugetlbfs or tmpfs, "
			    "e.g. under /dev/shm), the size of the buffers it is for", path,
			    strerror(err));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		ublkd_error("--shmem %s: not a regular file; give a file on hugetlbfs or tmpfs",
			    path);
		return -1;
	}
	/* The kernel pins the pages for as long as the device lives: only
	 * memory-backed files allow that (a disk file's pages can be written
	 * back and moved). */
	if (sfs.f_type != TMPFS_MAGIC && sfs.f_type != HUGETLBFS_MAGIC) {
		ublkd_error("--shmem %s: not on hugetlbfs or tmpfs (file system type 0x%lx): "
			    "the kernel pins only shared memory; put the file under /dev/shm "
			    "or a hugetlbfs mount", path, (unsigned long)sfs.f_type);
		return -1;
	}
	if (st.st_size < page || (uint64_t)st.st_size > UBLK_SHMEM_BUF_MAX) {
		ublkd_error("--shmem %s: %lld bytes; it must hold at least one %ld-byte page and "
			    "at most 4 GiB (what the kernel registers): resize it (truncate -s)",
			    path, (long long)st.st_size, page);
		return -1;
	}
	return st.st_size / page * page;
}

int shmem_check(const char *path)
{
	return shmem_usable(path, -1) < 0 ? -1 : 0;
}

int shmem_map(struct ublkd_dev *dev)
{
	const char *path = dev->cfg.shmem;
	int64_t size;
	void *p;
	int fd;

	if (!path)
		return 0;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ublkd_error("--shmem %s: cannot open it for reading and writing: %s", path,
			    strerror(errno));
		return -1;
	}
	size = shmem_usable(path, fd);
	if (size < 0) {
		close(fd);
		return -1;
	}
	/* MAP_POPULATE: the kernel pins what exists; fault it all in now. */
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		ublkd_error("--shmem %s: cannot map its %lld bytes: %s", path, (long long)size,
			    strerror(errno));
		return -1;
	}
	dev->shmem_base = p;
	dev->shmem_len = (uint64_t)size;
	return 0;
}

/* A new device, before START_DEV: the kernel numbers registrations from
 * 0, and ublkd makes exactly one, so data.c expects index 0. */
int shmem_register(struct ublkd_dev *dev)
{
	int ret;

	if (!dev->shmem_base)
		return 0;
	ret = ctrl_reg_buf(&dev->ctrl, dev->info.dev_id, dev->shmem_base, dev->shmem_len);
	if (ret < 0) {
		ublkd_error("--shmem %s: the kernel cannot register it (REG_BUF): %s; "
			    "drop --shmem", dev->cfg.shmem, strerror(-ret));
		return ret;
	}
	if (ret != 0) {
		ublkd_error("--shmem %s: the kernel registered it as buffer %d, not 0: "
			    "a new device should have none", dev->cfg.shmem, ret);
		return -EINVAL;
	}
	ublkd_debug("--shmem %s: %llu bytes registered", dev->cfg.shmem,
		    (unsigned long long)dev->shmem_len);
	return 0;
}

void shmem_unmap(struct ublkd_dev *dev)
{
	if (dev->shmem_base)
		munmap(dev->shmem_base, dev->shmem_len);
	dev->shmem_base = NULL;
	dev->shmem_len = 0;
}
