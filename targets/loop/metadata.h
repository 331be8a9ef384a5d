/* SPDX-License-Identifier: MIT */
/*
 * metadata.h - the loop target's metadata file (--metadata, for a device
 * with --integrity): block N's protection information tuple at byte
 * N * size, zeroes for a block never written (or discarded).  Opened and
 * sized on the main thread (metadata.c); read, written and punched by the
 * queues' io_uring beside the data (loop.c).
 */
#ifndef LOOP_METADATA_H
#define LOOP_METADATA_H

#include <stdint.h>

struct loop_md {
	char	*path;		/* --metadata, absolute; NULL: none */
	int	 fd;		/* buffered: tuples are a few bytes each */
	unsigned int size;	/* bytes per logical block, 0: no --integrity */
	int	 can_punch;	/* fallocate(PUNCH_HOLE) works: discard and
				 * write-zeroes can forget tuples */
};

/* Open md->path for a device of blocks logical blocks with size-byte
 * tuples: an empty file is sized (sparse: every block never written); one
 * that already holds tuples must hold one for every block.  0, or -1
 * after a one-line error. */
int md_open(struct loop_md *md, unsigned int size, uint64_t blocks, int read_only,
	    int shared);

/* `ublk resize`: make the file hold a tuple for each of blocks blocks,
 * the new ones never written.  0, or -1 after a one-line error. */
int md_cover(struct loop_md *md, uint64_t blocks);

void md_close(struct loop_md *md);

#endif
