/* SPDX-License-Identifier: MIT */
/*
 * stats-file.h - a device's statistics file, /run/ublkd/<id>.stats.
 *
 * The daemon maps the file shared and its queue threads count into it; any
 * process maps it read-only and takes snapshots, never stopping the I/O.
 * Layout: one struct stats_dev (written before the file is published,
 * then only its event counts and `upgrading` change, with atomic stores
 * and adds: rare events, from any thread or process), then one struct
 * stats_queue per queue, each in cache lines of its own, written by that
 * queue's thread alone.
 *
 * Consistency: a queue's `seq` is odd while its thread updates the block
 * (seqlock).  A reader copies the block and retries until it read the
 * same even seq before and after.  A daemon killed mid-update leaves seq
 * odd: a reader then gives up after a while and takes the copy as it is
 * (stats_read_queue says so), off by at most one batch of requests.
 */
#ifndef UBLKD_STATS_FILE_H
#define UBLKD_STATS_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define STATS_MAGIC		0x3173746174736b6cULL	/* "lkstats1" */
#define STATS_VERSION		1
#define STATS_CACHE_LINE	64

/* Request kinds, in this order everywhere (arrays, output). */
enum stats_op {
	STATS_READ = 0,
	STATS_WRITE,
	STATS_FLUSH,
	STATS_DISCARD,
	STATS_WRITE_ZEROES,
	STATS_OTHER,		/* ops ublkd does not serve (failed) */
	STATS_NR_OPS,
};

/* Latency histogram: bucket b counts requests that took less than 2^b ns
 * (and at least 2^(b-1)); the last bucket everything from 2^30 ns on. */
#define STATS_NR_BUCKETS	32

struct stats_dev {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;	/* sizeof(struct stats_dev) */
	uint32_t queue_size;	/* sizeof(struct stats_queue) */
	uint32_t nr_queues;	/* struct stats_queue blocks: one per queue
				 * thread, hardware queues x threads */
	uint32_t dev_id;
	uint32_t depth;
	uint64_t recoveries;	/* daemons that took the device over after its
				 * daemon died (ublk recover, a restart) */
	uint64_t upgrades;	/* daemons that took it over for `ublk upgrade` */
	uint64_t reconnects;	/* the target's reconnections to its server
				 * (nbd: one per queue connection) */
	uint32_t upgrading;	/* set by `ublk upgrade` before the daemon
				 * leaves: the next takeover is an upgrade
				 * (and clears it) */
	uint32_t threads;	/* threads per hardware queue (--threads):
				 * block b is queue b / threads, thread
				 * b % threads.  0 (older daemons): 1 */
	uint64_t created_ns;	/* CLOCK_REALTIME: the device's first start */
	uint64_t started_ns;	/* CLOCK_REALTIME: this daemon's start */
	int64_t pid;		/* this daemon */
	char target[32];
	char copy_mode[16];	/* copy, user_copy, zero_copy */
	char zc_mechanism[16];	/* none, auto_buf_reg, register_io_buf, fused_cmd */
} __attribute__((aligned(STATS_CACHE_LINE)));

/* Every member a uint64_t: readers copy the block word by word. */
struct stats_queue {
	uint64_t seq;		/* odd while the queue thread writes */
	uint64_t in_flight;	/* requests received, not yet committed */
	uint64_t ops[STATS_NR_OPS];	/* requests committed, by op */
	uint64_t bytes[STATS_NR_OPS];	/* ... their bytes (successful ones) */
	uint64_t errors[STATS_NR_OPS];	/* ... of which failed */
	uint64_t bytes_copied;	/* data bytes through the daemon's memory */
	uint64_t zc_fallbacks;	/* automatic registrations that fell back */
	uint64_t fua_writes;	/* successful writes with FUA (of ops[WRITE]) */
	uint64_t lat_sum_ns;	/* sum of the latencies in lat_hist */
	uint64_t lat_hist[STATS_NR_BUCKETS];	/* arrival -> commit, ns */
} __attribute__((aligned(STATS_CACHE_LINE)));

/* The ops' names, by index: "read", ..., "write_zeroes", "other". */
extern const char *const stats_op_names[STATS_NR_OPS];

/* Threads per hardware queue: a block's queue is block / stats_threads(). */
static inline unsigned int stats_threads(const struct stats_dev *d)
{
	return d->threads ? d->threads : 1;
}

static inline size_t stats_file_size(unsigned int nr_queues)
{
	return sizeof(struct stats_dev) + (size_t)nr_queues * sizeof(struct stats_queue);
}

static inline struct stats_queue *stats_queue_at(void *base, unsigned int q)
{
	return (struct stats_queue *)((char *)base + sizeof(struct stats_dev)) + q;
}

/* Upper bound of bucket b in ns (the last bucket has none: UINT64_MAX). */
static inline uint64_t stats_bucket_le_ns(unsigned int b)
{
	return b + 1 >= STATS_NR_BUCKETS ? UINT64_MAX : (uint64_t)1 << b;
}

/* calloc() for anything holding these cache-line-aligned structures
 * (calloc's alignment is less); free() frees it.  NULL if out of memory. */
void *stats_calloc(size_t n, size_t size);

/* ---- readers ---- */

struct stats_map {
	int fd;
	void *base;
	size_t len;
	struct stats_dev dev;	/* copy of the header at open */
};

/* Map <id>.stats read-only and check its layout.  0; -errno (-ENOENT: no
 * such file; -EPROTO: not a statistics file of this version). */
int stats_map_open(uint32_t dev_id, struct stats_map *m);
/* The same, from an open file or a mapping already made (tests). */
int stats_map_check(const void *base, size_t len, struct stats_dev *out);
void stats_map_close(struct stats_map *m);
/* Copy the event counts of the header at base (a mapped file: they change
 * while it is mapped, atomically) into dev. */
void stats_dev_events(const void *base, struct stats_dev *dev);
/* `ublk upgrade`: set (on 1) or clear the file's `upgrading` mark, so that
 * the daemon that takes the device over next counts an upgrade, not a
 * recovery.  0; -errno (-ENOENT: no statistics file). */
int stats_mark_upgrading(uint32_t dev_id, int on);

/* Copy queue block src into dst consistently: 0; 1 if the writer kept it
 * odd too long (a dead daemon) and dst is the last copy taken. */
int stats_read_queue(const struct stats_queue *src, struct stats_queue *dst);
/* dst += src (seq ignored); dst -= src for deltas. */
void stats_add(struct stats_queue *dst, const struct stats_queue *src);
void stats_sub(struct stats_queue *dst, const struct stats_queue *src);
/* Requests in the histogram, and every request counted. */
uint64_t stats_hist_count(const struct stats_queue *s);
uint64_t stats_total_ops(const struct stats_queue *s);
/* Latency percentile p (0 < p <= 1) in ns, interpolated within its log2
 * bucket; 0 when the histogram is empty. */
double stats_percentile_ns(const struct stats_queue *s, double p);

/* ---- the exposition (OpenMetrics or Prometheus text) ---- */

struct stats_device_snap {
	struct stats_dev dev;
	struct stats_queue *queues;	/* dev.nr_queues of them */
};

enum stats_format {
	STATS_PROMETHEUS = 0,	/* text format 0.0.4 (node_exporter textfiles) */
	STATS_OPENMETRICS,	/* OpenMetrics 1.0 text, with # EOF */
};

/* Write every metric of the n devices, grouped by metric family. */
void stats_write_metrics(FILE *f, const struct stats_device_snap *devs, unsigned int n,
			 enum stats_format fmt);

#endif
