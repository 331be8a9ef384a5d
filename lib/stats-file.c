/* SPDX-License-Identifier: MIT */
/* stats-file.c - reading a device's statistics file (see stats-file.h): mapping it,
 * consistent snapshots of its queue blocks, percentiles. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "runstate.h"
#include "stats-file.h"

const char *const stats_op_names[STATS_NR_OPS] = {
	"read", "write", "flush", "discard", "write_zeroes", "other",
};

_Static_assert(sizeof(struct stats_queue) % sizeof(uint64_t) == 0, "word copy");
_Static_assert(sizeof(struct stats_dev) % STATS_CACHE_LINE == 0, "header lines");
_Static_assert(sizeof(struct stats_queue) % STATS_CACHE_LINE == 0, "queue lines");

void *stats_calloc(size_t n, size_t size)
{
	size_t len = n * size;
	void *p;

	if (size && len / size != n)
		return NULL;
	len = (len + STATS_CACHE_LINE - 1) & ~(size_t)(STATS_CACHE_LINE - 1);
	p = aligned_alloc(STATS_CACHE_LINE, len ? len : STATS_CACHE_LINE);
	if (p)
		memset(p, 0, len);
	return p;
}

int stats_map_check(const void *base, size_t len, struct stats_dev *out)
{
	struct stats_dev d;

	if (len < sizeof(d))
		return -EPROTO;
	memcpy(&d, base, sizeof(d));
	if (d.magic != STATS_MAGIC || d.version != STATS_VERSION ||
	    d.header_size != sizeof(struct stats_dev) ||
	    d.queue_size != sizeof(struct stats_queue) ||
	    !d.nr_queues || d.nr_queues > 4096 || len < stats_file_size(d.nr_queues) ||
	    d.nr_queues % stats_threads(&d))
		return -EPROTO;
	d.target[sizeof(d.target) - 1] = 0;
	d.copy_mode[sizeof(d.copy_mode) - 1] = 0;
	d.zc_mechanism[sizeof(d.zc_mechanism) - 1] = 0;
	*out = d;
	return 0;
}

int stats_map_open(uint32_t dev_id, struct stats_map *m)
{
	char path[256];
	struct stat st;
	int ret;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	runstate_path(dev_id, "stats", path, sizeof(path));
	m->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (m->fd < 0)
		return -errno;
	if (fstat(m->fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size < sizeof(struct stats_dev)) {
		ret = -EPROTO;
		goto err;
	}
	m->len = (size_t)st.st_size;
	m->base = mmap(NULL, m->len, PROT_READ, MAP_SHARED, m->fd, 0);
	if (m->base == MAP_FAILED) {
		ret = -errno;
		m->base = NULL;
		goto err;
	}
	ret = stats_map_check(m->base, m->len, &m->dev);
	if (ret < 0)
		goto err;
	return 0;
err:
	stats_map_close(m);
	return ret;
}

void stats_map_close(struct stats_map *m)
{
	if (m->base)
		munmap(m->base, m->len);
	if (m->fd >= 0)
		close(m->fd);
	m->base = NULL;
	m->fd = -1;
}

void stats_dev_events(const void *base, struct stats_dev *dev)
{
	const struct stats_dev *h = base;

	dev->recoveries = __atomic_load_n(&h->recoveries, __ATOMIC_RELAXED);
	dev->upgrades = __atomic_load_n(&h->upgrades, __ATOMIC_RELAXED);
	dev->reconnects = __atomic_load_n(&h->reconnects, __ATOMIC_RELAXED);
}

int stats_mark_upgrading(uint32_t dev_id, int on)
{
	struct stats_dev d;
	char path[256];
	struct stat st;
	void *base;
	int fd, ret = 0;

	runstate_path(dev_id, "stats", path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	/* The daemon's own file only (as its successor checks it). */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (size_t)st.st_size < sizeof(struct stats_dev)) {
		close(fd);
		return -EPROTO;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return -errno;
	if (stats_map_check(base, (size_t)st.st_size, &d) < 0)
		ret = -EPROTO;
	else
		__atomic_store_n(&((struct stats_dev *)base)->upgrading, on ? 1 : 0,
				 __ATOMIC_RELEASE);
	munmap(base, (size_t)st.st_size);
	return ret;
}

static void copy_words(const struct stats_queue *src, struct stats_queue *dst)
{
	const uint64_t *s = (const uint64_t *)src;
	uint64_t *d = (uint64_t *)dst;
	size_t i;

	for (i = 0; i < sizeof(*src) / sizeof(uint64_t); i++)
		d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

/*
 * The writer keeps seq odd while it handles a batch of completions and
 * even while it waits in io_uring_enter; a busy queue may be odd most of
 * the time, so try many times, yielding now and then.  About 50 ms at
 * most; then the copy is taken as it is (a daemon killed mid-batch).
 */
int stats_read_queue(const struct stats_queue *src, struct stats_queue *dst)
{
	struct timespec nap = { 0, 100000 };	/* 0.1 ms */
	unsigned int tries;
	uint64_t s1, s2;

	for (tries = 0; tries < 100000; tries++) {
		s1 = __atomic_load_n(&src->seq, __ATOMIC_ACQUIRE);
		if (!(s1 & 1)) {
			copy_words(src, dst);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			s2 = __atomic_load_n(&src->seq, __ATOMIC_RELAXED);
			if (s1 == s2)
				return 0;
		}
		if (tries >= 1000 && tries % 200 == 0)
			nanosleep(&nap, NULL);	/* ~500 naps in all */
		else if (tries % 64 == 63)
			sched_yield();
	}
	copy_words(src, dst);
	return 1;
}

void stats_add(struct stats_queue *dst, const struct stats_queue *src)
{
	uint64_t *d = (uint64_t *)dst;
	const uint64_t *s = (const uint64_t *)src;
	size_t i;

	for (i = 1; i < sizeof(*src) / sizeof(uint64_t); i++)
		d[i] += s[i];
}

void stats_sub(struct stats_queue *dst, const struct stats_queue *src)
{
	uint64_t *d = (uint64_t *)dst;
	const uint64_t *s = (const uint64_t *)src;
	size_t i;

	for (i = 1; i < sizeof(*src) / sizeof(uint64_t); i++)
		d[i] -= s[i];
	dst->in_flight += src->in_flight;	/* a gauge: keep the newer value */
}

uint64_t stats_hist_count(const struct stats_queue *s)
{
	uint64_t n = 0;
	unsigned int b;

	for (b = 0; b < STATS_NR_BUCKETS; b++)
		n += s->lat_hist[b];
	return n;
}

uint64_t stats_total_ops(const struct stats_queue *s)
{
	uint64_t n = 0;
	unsigned int op;

	for (op = 0; op < STATS_NR_OPS; op++)
		n += s->ops[op];
	return n;
}

double stats_percentile_ns(const struct stats_queue *s, double p)
{
	uint64_t count = stats_hist_count(s), cum = 0;
	double want = p * (double)count;
	unsigned int b;

	if (!count)
		return 0;
	for (b = 0; b < STATS_NR_BUCKETS; b++) {
		double lo = b ? (double)((uint64_t)1 << (b - 1)) : 0;
		double hi = (double)((uint64_t)1 << b);

		if (!s->lat_hist[b])
			continue;
		if ((double)(cum + s->lat_hist[b]) >= want)
			return lo + (hi - lo) * (want - (double)cum) / (double)s->lat_hist[b];
		cum += s->lat_hist[b];
	}
	return (double)((uint64_t)1 << (STATS_NR_BUCKETS - 1));
}
