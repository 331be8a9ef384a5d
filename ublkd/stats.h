/* SPDX-License-Identifier: MIT */
/*
 * stats.h - the daemon's side of the statistics file (lib/stats-file.h): the
 * counting the queue threads do on the hot path, inline.
 *
 * A queue thread counts into its own block of the shared mapping, with
 * plain stores (no locks, no atomic read-modify-write).  It keeps the
 * block's seq odd from when io_uring_enter returns until it calls it
 * again (one batch of completions), and stamps time twice per batch:
 * when the batch arrives (the arrival time of every request in it), and
 * just before the enter that commits what the batch completed (their
 * commit time).  So a request costs a handful of stores, and a batch two
 * clock_gettime calls, whatever its size.
 */
#ifndef UBLKD_STATS_DAEMON_H
#define UBLKD_STATS_DAEMON_H

#include <time.h>
#include "daemon.h"
#include "stats-file.h"

/* The counters are not optional.  Only `make bench` builds, besides ublkd,
 * a tests/bench/ublkd-nostats with -DUBLKD_BENCH_NO_STATS: the same daemon
 * with the queue threads' counting below compiled out (the batch clock
 * stays: the core uses it), the baseline of its case stats/... . */
#ifdef UBLKD_BENCH_NO_STATS
#define STATS_COUNT	0
#else
#define STATS_COUNT	1
#endif

/* One queue's counting state; q->stats.  Cache lines of its own: the
 * queue threads write theirs on every batch. */
struct queue_stats {
	struct stats_queue *sh;		/* the queue's block in the file */
	uint64_t batch_ns;		/* when the current batch arrived */
	uint64_t *arrival_ns;		/* per tag */
	uint64_t *done_ns;		/* arrival times of the requests
					 * committed in this batch */
	unsigned int nr_done, max_done;
} __attribute__((aligned(STATS_CACHE_LINE)));

/* Set up the file (a new one, or the crashed daemon's on recovery) and
 * every queue's q->stats; never fails for want of the file (the counters
 * then live in private memory).  0, or -ENOMEM. */
int stats_setup(struct ublkd_dev *dev, int recovering);
void stats_teardown(struct ublkd_dev *dev);
/* The main thread: sum of every queue's block, consistent per queue. */
void stats_sum(struct ublkd_dev *dev, struct stats_queue *total);
/* The main thread, every few seconds: systemd's STATUS= with live rates. */
void stats_notify_status(struct ublkd_dev *dev);
/* --metrics-dir: DIR/ublkd_<id>.prom in the Prometheus text format,
 * written (temporary file, rename) when the interval is past, or now. */
void stats_write_metrics_file(struct ublkd_dev *dev, int now);
unsigned int stats_metrics_interval(const struct ublkd_dev *dev);
/* "serving /dev/ublkbN: TARGET DESCRIPTION, MODE[, RATES]" for STATUS=. */
void stats_status_line(struct ublkd_dev *dev, const char *rates, char *buf, size_t len);
/* done_ns is full (a batch longer than 2 * depth commits: a full SQ ring
 * submitted mid-batch): count those latencies now. */
void stats_flush_latencies(struct ublkd_queue *q);
void stats_log_summary(struct ublkd_dev *dev);
/* ublkd_count_reconnect(): the target reconnected; any thread. */
void stats_count_reconnect(struct ublkd_dev *dev);

static inline uint64_t stats_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Only this queue's thread writes its block; relaxed stores so that a
 * reader's concurrent loads are no data race, and no RMW. */
#define STATS_SET(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define STATS_ADD(p, n)	STATS_SET((p), *(p) + (n))

/* io_uring_enter returned: a batch of completions follows. */
static inline void stats_batch_start(struct ublkd_queue *q)
{
	struct queue_stats *s = q->stats;

	if (STATS_COUNT) {
		STATS_SET(&s->sh->seq, s->sh->seq + 1);		/* odd: writing */
		__atomic_thread_fence(__ATOMIC_RELEASE);
	}
	s->batch_ns = stats_clock_ns();
}

/* A request arrived on tag. */
static inline void stats_arrive(struct ublkd_queue *q, unsigned int tag)
{
	struct queue_stats *s = q->stats;

	if (!STATS_COUNT)
		return;
	s->arrival_ns[tag] = s->batch_ns;
	STATS_ADD(&s->sh->in_flight, 1);
}

static inline unsigned int stats_op_index(unsigned int op)
{
	switch (op) {
	case UBLKD_OP_READ:		return STATS_READ;
	case UBLKD_OP_WRITE:		return STATS_WRITE;
	case UBLKD_OP_FLUSH:		return STATS_FLUSH;
	case UBLKD_OP_DISCARD:		return STATS_DISCARD;
	case UBLKD_OP_WRITE_ZEROES:	return STATS_WRITE_ZEROES;
	default:			return STATS_OTHER;
	}
}

/* The request on io is committed with result (bytes, 0, or -errno). */
static inline void stats_commit(struct ublkd_queue *q, const struct ublkd_io *io,
				int result)
{
	struct queue_stats *s = q->stats;
	struct stats_queue *sh = s->sh;
	unsigned int i = stats_op_index(io->op);

	if (!STATS_COUNT)
		return;
	STATS_ADD(&sh->ops[i], 1);
	if (result < 0)
		STATS_ADD(&sh->errors[i], 1);
	else if (i == STATS_READ || i == STATS_WRITE) {
		STATS_ADD(&sh->bytes[i], (uint64_t)result);
		if (io->flags & UBLKD_IO_FUA)
			STATS_ADD(&sh->fua_writes, 1);
	}
	else
		STATS_ADD(&sh->bytes[i], io->len);
	STATS_SET(&sh->in_flight, sh->in_flight - 1);
	if (s->nr_done == s->max_done)
		stats_flush_latencies(q);
	s->done_ns[s->nr_done++] = s->arrival_ns[io->tag];
}

static inline unsigned int stats_bucket(uint64_t ns)
{
	unsigned int b = ns ? 64 - (unsigned int)__builtin_clzll(ns) : 0;

	return b < STATS_NR_BUCKETS ? b : STATS_NR_BUCKETS - 1;
}

/* n data bytes went through the daemon's memory (copy, user copy). */
static inline void stats_copied(struct ublkd_queue *q, uint64_t n)
{
	if (STATS_COUNT)
		STATS_ADD(&q->stats->sh->bytes_copied, n);
}

/* A ZC_AUTO request came with NEED_REG_BUF: registered explicitly. */
static inline void stats_zc_fallback(struct ublkd_queue *q)
{
	if (STATS_COUNT)
		STATS_ADD(&q->stats->sh->zc_fallbacks, 1);
}

/* The main thread, any time: data bytes through the daemon's memory since
 * the device was made (recoveries continue its file's count). */
uint64_t stats_bytes_copied(const struct ublkd_dev *dev);

/* About to enter io_uring, which commits what this batch completed. */
static inline void stats_batch_end(struct ublkd_queue *q)
{
	struct queue_stats *s = q->stats;
	struct stats_queue *sh = s->sh;

	if (!STATS_COUNT)
		return;
	if (s->nr_done)
		stats_flush_latencies(q);
	__atomic_store_n(&sh->seq, sh->seq + 1, __ATOMIC_RELEASE);	/* even */
}

#endif
