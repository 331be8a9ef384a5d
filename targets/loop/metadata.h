/* SPDX-License-Identifier: MIT */
/*
 * metadata.h - the loop target's metadata file (--metadata, for a device
 * with --integrity): block N's protection information tuple at byte
 * N * size.  Opened and sized on the main thread (metadata.c); read and
 * written by the queues' io_uring next to the data (loop.c).
 */
#ifndef LOOP_METADATA_H
#define LOOP_METADATA_H

#include <stdint.h>

struct loop_md {
	char	*path;		/* --metadata, absolute; NULL: none */
	int	 fd;		/* buffered: tuples are a few bytes each */
	unsigned int size;	/* bytes per logical block, 0: no --integrity */
};

/* Open md->path for a device of blocks logical blocks with size-byte
 * tuples: an empty file is filled with all-ones ("never written": the
 * kernel's checks skip such tuples); one that already holds tuples must
 * hold one for every block.  0, or -1 after a one-line error. */
int md_open(struct loop_md *md, unsigned int size, uint64_t blocks, int read_only,
	    int shared);

/* `ublk resize`: make the file hold a tuple for each of blocks blocks,
 * the new ones all-ones.  0, or -1 after a one-line error. */
int md_cover(struct loop_md *md, uint64_t blocks);

void md_close(struct loop_md *md);

#endif
