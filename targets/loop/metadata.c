/* SPDX-License-Identifier: MIT */
/*
 * metadata.c - the loop target's metadata file: see metadata.h.
 *
 * All-ones is what a tuple of a block never written holds: its application
 * tag 0xffff tells the kernel's protection information checks to skip the
 * block, as a disk formatted with protection information returns for
 * blocks never written.  A block written once has a real tuple from then
 * on (the kernel generates it), so a tuple that does not match its data
 * is found at the next read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ublkd/target.h>
#include "metadata.h"

#define FILL_CHUNK	(1U << 20)

/* All-ones from byte from to byte to of the file, then fdatasync. */
static int fill_ones(struct loop_md *md, uint64_t from, uint64_t to)
{
	char *ones = malloc(FILL_CHUNK);
	int ret = 0;

	if (!ones) {
		ublkd_error("loop: out of memory");
		return -1;
	}
	memset(ones, 0xff, FILL_CHUNK);
	while (from < to) {
		size_t n = to - from < FILL_CHUNK ? (size_t)(to - from) : FILL_CHUNK;
		ssize_t w = pwrite(md->fd, ones, n, (off_t)from);

		if (w <= 0) {
			ublkd_error("loop: cannot write the metadata file %s: %s: free space "
				    "for %" PRIu64 " more bytes, or use another --metadata file",
				    md->path, w < 0 ? strerror(errno) : "no progress", to - from);
			ret = -1;
			break;
		}
		from += (uint64_t)w;
	}
	if (!ret && fdatasync(md->fd) < 0) {
		ublkd_error("loop: cannot make the metadata file %s durable: %s", md->path,
			    strerror(errno));
		ret = -1;
	}
	free(ones);
	return ret;
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
				    "empty (touch %s) and ublkd fills it, or fix the --metadata "
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
		ublkd_info("loop: %s is empty: filling it with %" PRIu64 " bytes of "
			   "never-written metadata (%u per block)", md->path, need, size);
		return fill_ones(md, 0, need);
	}
	if ((uint64_t)st.st_size < need) {
		ublkd_error("loop: the metadata file %s holds %" PRIu64 " bytes, but the "
			    "device's %" PRIu64 " blocks need %" PRIu64 " (%u each): give the "
			    "file of this device, or an empty one", md->path,
			    (uint64_t)st.st_size, blocks, need, size);
		return -1;
	}
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
	return fill_ones(md, (uint64_t)st.st_size, need);
}

void md_close(struct loop_md *md)
{
	if (md->fd >= 0)
		close(md->fd);
	md->fd = -1;
	free(md->path);
	md->path = NULL;
}
