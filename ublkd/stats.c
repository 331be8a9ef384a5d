/* SPDX-License-Identifier: MIT */
/*
 * stats.c - the daemon's statistics file, /run/ublkd/<id>.stats (layout in
 * lib/stats-file.h; the hot-path counting is inline in stats.h): made before
 * the queue threads start, taken over with its counts by the daemon that
 * recovers or upgrades the device, removed with the other runtime files.  Also the
 * main thread's uses of the counters: systemd's STATUS= line.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "log.h"
#include "runstate.h"
#include "stats.h"

/* How often STATUS= is refreshed, at most. */
#define STATUS_EVERY_NS	(5ULL * 1000000000)
/* --metrics-interval's default: Prometheus's default scrape interval. */
#define METRICS_DEFAULT_S	15

struct dev_stats {
	void *base;		/* the mapping: header, then the queue blocks */
	size_t len;
	struct queue_stats *queues;
	uint64_t status_ns;	/* last STATUS= */
	struct stats_queue status_last;
	uint64_t metrics_ns;	/* last metrics file */
	int metrics_failing;	/* the last write failed (warned once) */
	struct stats_queue start;	/* the counts this daemon started from
					 * (a recovered device's go on) */
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fill_header(struct ublkd_dev *dev, struct stats_dev *h)
{
	h->magic = STATS_MAGIC;
	h->version = STATS_VERSION;
	h->header_size = sizeof(*h);
	h->queue_size = sizeof(struct stats_queue);
	h->nr_queues = dev->nr_workers;
	h->threads = dev->threads;
	h->dev_id = dev->info.dev_id;
	h->depth = dev->info.queue_depth;
	h->started_ns = realtime_ns();
	h->pid = getpid();
	snprintf(h->target, sizeof(h->target), "%s", dev->target.ops->name);
	snprintf(h->copy_mode, sizeof(h->copy_mode), "%s", device_mode_name(dev));
	snprintf(h->zc_mechanism, sizeof(h->zc_mechanism), "%s", device_zc_name(dev->zc));
}

/* A new file, published by rename once its header is written.  NULL with
 * *refused set when the state directory is refused (runstate_dir_check()
 * said so, once). */
static void *create_file(struct ublkd_dev *dev, size_t len, uint64_t recoveries,
			 int *refused)
{
	char tmp[300], path[256];
	struct stats_dev *h;
	void *base;
	int fd;

	*refused = runstate_dir_check() < 0;
	if (*refused)
		return NULL;
	snprintf(tmp, sizeof(tmp), "%s/.%u.stats.XXXXXX", runstate_dir(), dev->info.dev_id);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return NULL;
	base = MAP_FAILED;
	if (fchmod(fd, 0644) == 0 && ftruncate(fd, (off_t)len) == 0)
		base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		goto err;
	h = base;
	fill_header(dev, h);
	h->created_ns = h->started_ns;
	h->recoveries = recoveries;
	runstate_path(dev->info.dev_id, "stats", path, sizeof(path));
	if (rename(tmp, path) == 0)
		return base;
	munmap(base, len);
err:
	unlink(tmp);
	return NULL;
}

/* Recovery: the dead daemon's file, if it is ours and of this layout; its
 * counts go on.  What it had in flight is reissued to us and counted here. */
static void *take_over_file(struct ublkd_dev *dev, size_t len)
{
	struct stats_dev old, *h;
	char path[256];
	struct stat st;
	void *base;
	unsigned int q;
	int fd;

	runstate_path(dev->info.dev_id, "stats", path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	base = MAP_FAILED;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    (size_t)st.st_size == len)
		base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (base == MAP_FAILED)
		return NULL;
	if (stats_map_check(base, len, &old) < 0 || old.nr_queues != dev->nr_workers) {
		munmap(base, len);
		return NULL;
	}
	for (q = 0; q < old.nr_queues; q++) {
		struct stats_queue *s = stats_queue_at(base, q);

		/* A daemon killed mid-batch left seq odd. */
		STATS_SET(&s->seq, (s->seq + 1) & ~1ULL);
		STATS_SET(&s->in_flight, 0);
	}
	h = base;
	fill_header(dev, h);
	/* `ublk upgrade` marked the file before the old daemon left. */
	if (__atomic_exchange_n(&h->upgrading, 0, __ATOMIC_ACQ_REL))
		__atomic_add_fetch(&h->upgrades, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&h->recoveries, 1, __ATOMIC_RELAXED);
	return base;
}

int stats_setup(struct ublkd_dev *dev, int recovering)
{
	unsigned int nq = dev->nr_workers, depth = dev->info.queue_depth, q;
	struct dev_stats *ds;
	int refused = 0;

	ds = stats_calloc(1, sizeof(*ds));
	if (!ds)
		return -ENOMEM;
	dev->stats = ds;
	ds->len = stats_file_size(nq);
	if (recovering)
		ds->base = take_over_file(dev, ds->len);
	if (!ds->base)
		ds->base = create_file(dev, ds->len, recovering ? 1 : 0, &refused);
	if (!ds->base) {
		/* Counting goes on, in private memory: `ublk stat` shows nothing. */
		if (!refused)
			ublkd_warn("cannot make the statistics file of " UBLK_BLOCK_FMT " in %s: "
				   "%s; 'ublk stat' will not show it", dev->info.dev_id,
				   runstate_dir(), strerror(errno));
		ds->base = mmap(NULL, ds->len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ds->base == MAP_FAILED) {
			ds->base = NULL;
			return -ENOMEM;
		}
		fill_header(dev, ds->base);
	}
	ds->queues = stats_calloc(nq, sizeof(*ds->queues));
	if (!ds->queues)
		return -ENOMEM;
	for (q = 0; q < nq; q++) {
		struct queue_stats *s = &ds->queues[q];

		s->sh = stats_queue_at(ds->base, q);
		s->max_done = 2 * depth;
		s->arrival_ns = calloc(depth, sizeof(*s->arrival_ns));
		s->done_ns = calloc(s->max_done, sizeof(*s->done_ns));
		if (!s->arrival_ns || !s->done_ns)
			return -ENOMEM;
		dev->queues[q].stats = s;
	}
	stats_sum(dev, &ds->start);
	return 0;
}

/* What this daemon served, one line at its stop: every target's summary
 * (the targets count nothing of their own for it). */
void stats_log_summary(struct ublkd_dev *dev)
{
	struct stats_queue n;
	uint64_t failed = 0;
	unsigned int i;

	if (!dev->stats)
		return;
	stats_sum(dev, &n);
	stats_sub(&n, &dev->stats->start);
	for (i = 0; i < STATS_NR_OPS; i++) {
		failed += n.errors[i];
		n.ops[i] -= n.errors[i];
	}
	ublkd_info(UBLK_BLOCK_FMT ": served %" PRIu64 " reads, %" PRIu64 " writes (%" PRIu64
		   " FUA), %" PRIu64 " flushes, %" PRIu64 " discards, %" PRIu64
		   " write-zeroes; %" PRIu64 " failed", dev->info.dev_id, n.ops[STATS_READ],
		   n.ops[STATS_WRITE], n.fua_writes, n.ops[STATS_FLUSH], n.ops[STATS_DISCARD],
		   n.ops[STATS_WRITE_ZEROES], failed);
	if (n.zc_fallbacks)
		ublkd_info("zero copy: %" PRIu64 " requests were registered explicitly after the "
			   "kernel's automatic registration fell back", n.zc_fallbacks);
}

uint64_t stats_bytes_copied(const struct ublkd_dev *dev)
{
	uint64_t sum = 0;
	unsigned int q;

	/* One queue thread writes each; a relaxed load sees a whole value. */
	for (q = 0; dev->stats && q < dev->nr_workers; q++)
		sum += __atomic_load_n(&stats_queue_at(dev->stats->base, q)->bytes_copied,
				       __ATOMIC_RELAXED);
	return sum;
}

void stats_teardown(struct ublkd_dev *dev)
{
	struct dev_stats *ds = dev->stats;
	unsigned int q;

	if (!ds)
		return;
	if (dev->cfg.metrics_dir && ds->metrics_ns) {
		char path[4200];

		/* Stale numbers would read as a device that stopped moving. */
		snprintf(path, sizeof(path), "%s/ublkd_%u.prom", dev->cfg.metrics_dir,
			 dev->info.dev_id);
		unlink(path);
	}
	for (q = 0; ds->queues && q < dev->nr_workers; q++) {
		free(ds->queues[q].arrival_ns);
		free(ds->queues[q].done_ns);
	}
	free(ds->queues);
	if (ds->base)
		munmap(ds->base, ds->len);
	free(ds);
	dev->stats = NULL;
}

void stats_count_reconnect(struct ublkd_dev *dev)
{
	struct dev_stats *ds = dev->stats;

	/* Before the file exists (a target's open()) there is none to count. */
	if (ds && ds->base)
		__atomic_add_fetch(&((struct stats_dev *)ds->base)->reconnects, 1,
				   __ATOMIC_RELAXED);
}

void stats_flush_latencies(struct ublkd_queue *q)
{
	struct queue_stats *s = q->stats;
	struct stats_queue *sh = s->sh;
	uint64_t now = stats_clock_ns(), sum = 0;
	unsigned int i;

	for (i = 0; i < s->nr_done; i++) {
		uint64_t ns = now - s->done_ns[i];

		sum += ns;
		STATS_ADD(&sh->lat_hist[stats_bucket(ns)], 1);
	}
	STATS_ADD(&sh->lat_sum_ns, sum);
	s->nr_done = 0;
}

void stats_sum(struct ublkd_dev *dev, struct stats_queue *total)
{
	struct dev_stats *ds = dev->stats;
	struct stats_queue one;
	unsigned int q;

	memset(total, 0, sizeof(*total));
	for (q = 0; ds && q < dev->nr_workers; q++) {
		stats_read_queue(stats_queue_at(ds->base, q), &one);
		stats_add(total, &one);
	}
}

unsigned int stats_metrics_interval(const struct ublkd_dev *dev)
{
	return dev->cfg.metrics_interval ? dev->cfg.metrics_interval : METRICS_DEFAULT_S;
}

/* The exposition into a temporary file of dir, renamed over ublkd_<id>.prom:
 * the textfile collector reads only *.prom, and never half a file. */
static int write_metrics(struct ublkd_dev *dev)
{
	struct dev_stats *ds = dev->stats;
	struct stats_device_snap snap;
	char tmp[4200], path[4200];
	unsigned int q;
	int fd, ret = 0;
	FILE *f;

	memcpy(&snap.dev, ds->base, sizeof(snap.dev));
	stats_dev_events(ds->base, &snap.dev);	/* the counts that change */
	snap.queues = stats_calloc(dev->nr_workers, sizeof(*snap.queues));
	if (!snap.queues)
		return -ENOMEM;
	for (q = 0; q < dev->nr_workers; q++)
		stats_read_queue(stats_queue_at(ds->base, q), &snap.queues[q]);
	snprintf(tmp, sizeof(tmp), "%s/.ublkd_%u.prom.XXXXXX", dev->cfg.metrics_dir,
		 dev->info.dev_id);
	snprintf(path, sizeof(path), "%s/ublkd_%u.prom", dev->cfg.metrics_dir, dev->info.dev_id);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		unlink(tmp);
		goto out;
	}
	fchmod(fd, 0644);
	stats_write_metrics(f, &snap, 1, STATS_PROMETHEUS);
	if (ferror(f))
		ret = -EIO;
	if (fclose(f))
		ret = -EIO;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
out:
	free(snap.queues);
	return ret;
}

void stats_write_metrics_file(struct ublkd_dev *dev, int now)
{
	struct dev_stats *ds = dev->stats;
	uint64_t t = stats_clock_ns();
	int ret;

	if (!ds || !dev->cfg.metrics_dir)
		return;
	if (!now && t - ds->metrics_ns < (uint64_t)stats_metrics_interval(dev) * 1000000000)
		return;
	ds->metrics_ns = t;
	ret = write_metrics(dev);
	if (ret < 0 && !ds->metrics_failing)
		ublkd_warn("cannot write the metrics of " UBLK_BLOCK_FMT " to %s: %s; retrying "
			   "every %u s", dev->info.dev_id, dev->cfg.metrics_dir, strerror(-ret),
			   stats_metrics_interval(dev));
	else if (!ret && ds->metrics_failing)
		ublkd_info("writing the metrics of " UBLK_BLOCK_FMT " to %s again",
			   dev->info.dev_id, dev->cfg.metrics_dir);
	ds->metrics_failing = ret < 0;
}

static void format_rates(char *buf, size_t len, double iops, double bps)
{
	if (iops >= 1e6)
		snprintf(buf, len, "%.2fM IOPS, %.1f MiB/s", iops / 1e6, bps / 1048576);
	else if (iops >= 1e3)
		snprintf(buf, len, "%.1fk IOPS, %.1f MiB/s", iops / 1e3, bps / 1048576);
	else
		snprintf(buf, len, "%.0f IOPS, %.1f MiB/s", iops, bps / 1048576);
}

void stats_status_line(struct ublkd_dev *dev, const char *rates, char *buf, size_t len)
{
	const struct ublkd_setup *s = &dev->target.setup;

	snprintf(buf, len, "serving " UBLK_BLOCK_FMT ": %s %s, %s%s%s", dev->info.dev_id,
		 dev->target.ops->name, s->description ? s->description : "",
		 dev->cfg.data_mode == UBLKD_DATA_ZERO_COPY ? "zero copy" :
		 dev->cfg.data_mode == UBLKD_DATA_USER_COPY ? "user copy" : "copy",
		 rates ? ", " : "", rates ? rates : "");
}

void stats_notify_status(struct ublkd_dev *dev)
{
	struct dev_stats *ds = dev->stats;
	struct stats_queue now, delta;
	char rates[64], line[512];
	uint64_t t = stats_clock_ns();
	double secs;

	if (!ds || !getenv("NOTIFY_SOCKET"))
		return;
	if (!ds->status_ns) {
		stats_sum(dev, &ds->status_last);
		ds->status_ns = t;
		return;
	}
	if (t - ds->status_ns < STATUS_EVERY_NS)
		return;
	stats_sum(dev, &now);
	delta = now;
	stats_sub(&delta, &ds->status_last);
	secs = (double)(t - ds->status_ns) / 1e9;
	format_rates(rates, sizeof(rates), (double)stats_total_ops(&delta) / secs,
		     (double)(delta.bytes[STATS_READ] + delta.bytes[STATS_WRITE]) / secs);
	stats_status_line(dev, rates, line, sizeof(line));
	sd_notifyf(0, "STATUS=%s", line);
	ds->status_last = now;
	ds->status_ns = t;
}
