/* SPDX-License-Identifier: MIT */
/*
 * metadata.c - the loop target's metadata file: see metadata.h.
 *
 * Zeroes are a block never written: ublkd hands them to the kernel as
 * all-ones, which its protection information checks skip, as a disk
 * formatted with protection information returns for blocks never written.
 * So the file starts sparse (a new device costs no writing), and a discard
 * punches its blocks' tuples out with their data.  A block written once
 * has a real tuple from then on (the kernel generates it), so a tuple that
 * does not match its data is found at the next read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ublkd/target.h>
#include "metadata.h"

/* The file grows to bytes, sparse: zeroes, never written. */
static int grow(struct loop_md *md, uint64_t bytes)
{
	if (ftruncate(md->fd, (off_t)bytes) < 0) {
		ublkd_error("loop: cannot grow the metadata file %s to %" PRIu64 " bytes: %s",
			    md->path, bytes, strerror(errno));
		return -1;
	}
	return 0;
}

/* Can the file forget tuples?  Tried past its end, where nothing lives. */
static int can_punch(int fd, uint64_t size)
{
	uint64_t past = (size + (1ULL << 20)) & ~((1ULL << 20) - 1);

	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)past,
			 1 << 16) == 0;
}

int md_open(struct loop_md *md, unsigned int size, uint64_t blocks, int read_only,
	    int shared)
{
	uint64_t need = blocks * size;
	struct stat st;

	md->size = size;
	md->fd = open(md->path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (md->fd < 0) {
		if (errno == ENOENT)
			ublkd_error("loop: the metadata file %s does not exist: create it "
				    "empty (touch %s) and ublkd sizes it, or fix the --metadata "
				    "path", md->path, md->path);
		else
			ublkd_error("loop: cannot open the metadata file %s: %s", md->path,
				    strerror(errno));
		return -1;
	}
	if (fstat(md->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ublkd_error("loop: the metadata file %s is not a regular file: --metadata "
			    "needs one", md->path);
		return -1;
	}
	if (ublkd_claim_file(md->fd, md->path, shared) < 0)
		return -1;
	if (st.st_size == 0) {
		if (read_only) {
			ublkd_error("loop: the metadata file %s is empty and the device is "
				    "read-only: there is no protection information to read; "
				    "drop --read-only for the first start", md->path);
			return -1;
		}
		ublkd_info("loop: %s is empty: sized to %" PRIu64 " bytes (%u per block), "
			   "every block never written", md->path, need, size);
		if (grow(md, need) < 0)
			return -1;
	} else if ((uint64_t)st.st_size < need) {
		ublkd_error("loop: the metadata file %s holds %" PRIu64 " bytes, but the "
			    "device's %" PRIu64 " blocks need %" PRIu64 " (%u each): give the "
			    "file of this device, or an empty one", md->path,
			    (uint64_t)st.st_size, blocks, need, size);
		return -1;
	}
	md->can_punch = !read_only && can_punch(md->fd, need);
	return 0;
}

int md_cover(struct loop_md *md, uint64_t blocks)
{
	uint64_t need = blocks * md->size;
	struct stat st;

	if (fstat(md->fd, &st) < 0) {
		ublkd_error("loop: cannot stat the metadata file %s: %s", md->path,
			    strerror(errno));
		return -1;
	}
	if ((uint64_t)st.st_size >= need)
		return 0;
	return grow(md, need);
}

void md_close(struct loop_md *md)
{
	if (md->fd >= 0)
		close(md->fd);
	md->fd = -1;
	free(md->path);
	md->path = NULL;
}
