/* SPDX-License-Identifier: MIT */
/*
 * cli-stat.c - `ublk stat`: the devices' counters (lib/stats-file.h), read from
 * their daemons' statistics files without stopping their I/O.
 *
 * Like iostat: the first report covers the time since each device
 * started; with -i SECONDS, each next one the interval just past.
 * --json prints each report as one JSON array on one line;
 * --openmetrics the counters in the OpenMetrics text format, once.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "ctrl.h"
#include "json.h"
#include "log.h"
#include "parse.h"
#include "runstate.h"
#include "cli-stat.h"
#include "stats-file.h"
#include "ublk-abi.h"

#define MAX_DEVS 1024

struct dev {
	struct stats_map map;
	struct stats_queue *now, *last;	/* per queue */
	struct stats_queue total, delta;	/* summed over the queues */
	struct stats_queue *qdelta;
	double secs;			/* what the deltas cover */
};

struct opts {
	int verbose, json, openmetrics;
};

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Rates of a delta over secs. */
struct rates {
	double r_iops, w_iops, o_iops, r_bps, w_bps, avg_us, p50_us, p99_us;
	uint64_t errors;
};

static void rates_of(const struct stats_queue *d, double secs, struct rates *r)
{
	uint64_t n = stats_hist_count(d);
	unsigned int op;

	memset(r, 0, sizeof(*r));
	if (secs <= 0)
		secs = 1e-9;
	r->r_iops = (double)d->ops[STATS_READ] / secs;
	r->w_iops = (double)d->ops[STATS_WRITE] / secs;
	r->o_iops = (double)(stats_total_ops(d) - d->ops[STATS_READ] - d->ops[STATS_WRITE]) /
		    secs;
	r->r_bps = (double)d->bytes[STATS_READ] / secs;
	r->w_bps = (double)d->bytes[STATS_WRITE] / secs;
	r->avg_us = n ? (double)d->lat_sum_ns / (double)n / 1e3 : 0;
	r->p50_us = stats_percentile_ns(d, 0.50) / 1e3;
	r->p99_us = stats_percentile_ns(d, 0.99) / 1e3;
	for (op = 0; op < STATS_NR_OPS; op++)
		r->errors += d->errors[op];
}

/* ---------------------------------------------------------------- text */

static void text_header(void)
{
	printf("%-12s %9s %9s %9s %9s %9s %9s %9s %9s %8s %8s\n", "device", "r/s", "w/s",
	       "rMiB/s", "wMiB/s", "other/s", "avg_us", "p50_us", "p99_us", "inflight",
	       "errors");
}

static void text_row(const char *name, const struct stats_queue *d, double secs,
		     uint64_t in_flight)
{
	struct rates r;

	rates_of(d, secs, &r);
	printf("%-12s %9.1f %9.1f %9.2f %9.2f %9.1f %9.1f %9.1f %9.1f %8llu %8llu\n", name,
	       r.r_iops, r.w_iops, r.r_bps / 1048576, r.w_bps / 1048576, r.o_iops, r.avg_us,
	       r.p50_us, r.p99_us, (unsigned long long)in_flight,
	       (unsigned long long)r.errors);
}

/* The device's takeovers and reconnects since it was added: under its row
 * when there were any, always with -v. */
static void text_events(const struct dev *d, const struct opts *o)
{
	struct stats_dev ev;

	stats_dev_events(d->map.base, &ev);
	if (!o->verbose && !ev.recoveries && !ev.upgrades && !ev.reconnects)
		return;
	printf("  since added: recoveries %llu, upgrades %llu, reconnects %llu\n",
	       (unsigned long long)ev.recoveries, (unsigned long long)ev.upgrades,
	       (unsigned long long)ev.reconnects);
}

static void text_report(struct dev *devs, int n, const struct opts *o)
{
	char name[32];
	unsigned int q, th;
	int i;

	text_header();
	for (i = 0; i < n; i++) {
		struct dev *d = &devs[i];

		snprintf(name, sizeof(name), "ublkb%u", d->map.dev.dev_id);
		text_row(name, &d->delta, d->secs, d->total.in_flight);
		text_events(d, o);
		if (!o->verbose)
			continue;
		th = stats_threads(&d->map.dev);
		for (q = 0; q < d->map.dev.nr_queues; q++) {
			/* q0, or with --threads q0.0, q0.1 ...: queue.thread */
			if (th > 1)
				snprintf(name, sizeof(name), "  q%u.%u", q / th, q % th);
			else
				snprintf(name, sizeof(name), "  q%u", q);
			text_row(name, &d->qdelta[q], d->secs, d->now[q].in_flight);
		}
	}
}

/* ---------------------------------------------------------------- json */

static void json_counts(struct json *j, const char *key, const uint64_t *v)
{
	unsigned int op;

	json_open_object(j, key);
	for (op = 0; op < STATS_NR_OPS; op++)
		json_uint(j, stats_op_names[op], v[op]);
	json_close_object(j);
}

static void json_totals(struct json *j, const struct stats_queue *s)
{
	unsigned int b;

	json_open_object(j, "totals");
	json_counts(j, "requests", s->ops);
	json_counts(j, "bytes", s->bytes);
	json_counts(j, "errors", s->errors);
	json_uint(j, "bytes_copied", s->bytes_copied);
	json_uint(j, "zero_copy_fallbacks", s->zc_fallbacks);
	json_uint(j, "latency_sum_ns", s->lat_sum_ns);
	json_open_array(j, "latency_histogram");
	for (b = 0; b < STATS_NR_BUCKETS; b++) {
		json_open_object(j, NULL);
		if (b + 1 < STATS_NR_BUCKETS)
			json_uint(j, "le_ns", stats_bucket_le_ns(b));
		else
			json_string(j, "le_ns", NULL);
		json_uint(j, "count", s->lat_hist[b]);
		json_close_object(j);
	}
	json_close_array(j);
	json_close_object(j);
}

static void json_rates(struct json *j, const struct stats_queue *d, double secs,
		       uint64_t in_flight)
{
	struct rates r;

	rates_of(d, secs, &r);
	json_double(j, "read_iops", r.r_iops);
	json_double(j, "write_iops", r.w_iops);
	json_double(j, "other_iops", r.o_iops);
	json_double(j, "read_bytes_per_second", r.r_bps);
	json_double(j, "write_bytes_per_second", r.w_bps);
	json_double(j, "latency_avg_us", r.avg_us);
	json_double(j, "latency_p50_us", r.p50_us);
	json_double(j, "latency_p99_us", r.p99_us);
	json_uint(j, "in_flight", in_flight);
	json_uint(j, "errors", r.errors);
}

static void json_report(struct dev *devs, int n, const struct opts *o)
{
	char path[64];
	struct json j;
	unsigned int q;
	int i;

	json_init(&j, stdout);
	json_open_array(&j, NULL);
	for (i = 0; i < n; i++) {
		struct dev *d = &devs[i];
		const struct stats_dev *h = &d->map.dev;
		struct stats_dev ev;

		stats_dev_events(d->map.base, &ev);
		json_open_object(&j, NULL);
		json_uint(&j, "id", h->dev_id);
		snprintf(path, sizeof(path), UBLK_BLOCK_FMT, h->dev_id);
		json_string(&j, "block_device", path);
		json_string(&j, "target", h->target);
		json_string(&j, "copy_mode", h->copy_mode);
		json_string(&j, "zero_copy_mechanism", h->zc_mechanism);
		json_uint(&j, "queues", h->nr_queues / stats_threads(h));
		json_uint(&j, "threads_per_queue", stats_threads(h));
		json_uint(&j, "depth", h->depth);
		json_int(&j, "pid", h->pid);
		json_uint(&j, "recoveries", ev.recoveries);
		json_uint(&j, "upgrades", ev.upgrades);
		json_uint(&j, "reconnects", ev.reconnects);
		json_double(&j, "device_start_time", (double)h->created_ns / 1e9);
		json_double(&j, "daemon_start_time", (double)h->started_ns / 1e9);
		json_double(&j, "interval_seconds", d->secs);
		json_rates(&j, &d->delta, d->secs, d->total.in_flight);
		json_totals(&j, &d->total);
		if (o->verbose) {
			json_open_array(&j, "queue_stats");
			for (q = 0; q < h->nr_queues; q++) {
				json_open_object(&j, NULL);
				json_uint(&j, "queue", q / stats_threads(h));
				json_uint(&j, "thread", q % stats_threads(h));
				json_rates(&j, &d->qdelta[q], d->secs, d->now[q].in_flight);
				json_totals(&j, &d->now[q]);
				json_close_object(&j);
			}
			json_close_array(&j);
		}
		json_close_object(&j);
	}
	json_close_array(&j);
	json_end(&j);
}

/* ---------------------------------------------------------------- main */

/* Read every queue of d; the deltas since the previous read (or, the
 * first time, since the device started). */
static void sample(struct dev *d, uint64_t mono_ns, uint64_t *last_mono, int first)
{
	unsigned int q, nq = d->map.dev.nr_queues;

	memset(&d->total, 0, sizeof(d->total));
	memset(&d->delta, 0, sizeof(d->delta));
	for (q = 0; q < nq; q++) {
		d->last[q] = d->now[q];
		stats_read_queue(stats_queue_at(d->map.base, q), &d->now[q]);
		stats_add(&d->total, &d->now[q]);
		d->qdelta[q] = d->now[q];
		if (!first)
			stats_sub(&d->qdelta[q], &d->last[q]);
		stats_add(&d->delta, &d->qdelta[q]);
	}
	if (first) {
		uint64_t now = clock_ns(CLOCK_REALTIME);

		d->secs = now > d->map.dev.created_ns ?
			  (double)(now - d->map.dev.created_ns) / 1e9 : 0;
	} else {
		d->secs = (double)(mono_ns - *last_mono) / 1e9;
	}
}

static int device_exists(uint32_t id)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/ublk-char/ublkc%u", id);
	return access(path, F_OK) == 0;
}

static int open_dev(uint32_t id, struct dev *d, int single)
{
	unsigned int nq;
	int ret;

	memset(d, 0, sizeof(*d));
	ret = stats_map_open(id, &d->map);
	if (ret < 0) {
		if (!single)
			return -1;
		if (ret == -ENOENT && !device_exists(id))
			ublkd_error("no ublk device %u (see 'ublk list')", id);
		else if (ret == -ENOENT)
			ublkd_error("device %u has no statistics: its daemon is not running, or "
				    "started before ublkd had 'ublk stat' (see 'ublk list -n %u')",
				    id, id);
		else if (ret == -EPROTO)
			ublkd_error("the statistics of device %u are of another ublkd version: "
				    "use the 'ublk' of the daemon that serves it", id);
		else
			ublkd_error("cannot read the statistics of device %u: %s", id,
				    strerror(-ret));
		return -1;
	}
	nq = d->map.dev.nr_queues;
	d->now = stats_calloc(nq, sizeof(*d->now));
	d->last = stats_calloc(nq, sizeof(*d->last));
	d->qdelta = stats_calloc(nq, sizeof(*d->qdelta));
	if (!d->now || !d->last || !d->qdelta) {
		ublkd_error("out of memory");
		return -1;
	}
	return 0;
}

static void close_dev(struct dev *d)
{
	stats_map_close(&d->map);
	free(d->now);
	free(d->last);
	free(d->qdelta);
}

static void usage_error(void)
{
	ublkd_error("usage: ublk stat [-n ID] [-v] [--json | --openmetrics] "
		    "[-i SECONDS [COUNT]]");
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.1 && v <= 86400)) {
		ublkd_error("invalid interval '%s' for -i: expected seconds from 0.1 to 86400", s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_count(const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1) {
		ublkd_error("invalid count '%s' after -i SECONDS: expected a number of reports, "
			    "1 or more", s);
		return -1;
	}
	*out = v;
	return 0;
}

int cmd_stat(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "interval", required_argument, NULL, 'i' },
		{ "json", no_argument, NULL, 'j' },
		{ "openmetrics", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { 0 };
	uint32_t ids[MAX_DEVS];
	struct dev *devs = NULL;
	double interval = 0;
	long count = 1, r;
	uint64_t mono = 0, last_mono = 0;
	int n = -1, nd = 0, single = 0, opt, i, ret = 1;

	while ((opt = getopt_long(argc, argv, "+n:vi:", lopts, NULL)) != -1) {
		switch (opt) {
		case 'n': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v > UINT32_MAX - 1) {
				ublkd_error("invalid device id '%s' for -n: expected a number "
					    "(see 'ublk list')", optarg);
				return 1;
			}
			ids[0] = (uint32_t)v;
			n = 1;
			single = 1;
			break;
		}
		case 'v':
			o.verbose = 1;
			break;
		case 'i':
			if (parse_seconds(optarg, &interval) < 0)
				return 1;
			count = 0;	/* until interrupted, unless COUNT follows */
			break;
		case 'j':
			o.json = 1;
			break;
		case 'o':
			o.openmetrics = 1;
			break;
		default:
			usage_error();
			return 1;
		}
	}
	if (optind < argc && interval > 0 && optind + 1 == argc) {
		if (parse_count(argv[optind++], &count) < 0)
			return 1;
	}
	if (optind < argc) {
		usage_error();
		return 1;
	}
	if (o.json && o.openmetrics) {
		ublkd_error("--json and --openmetrics are two output formats: choose one");
		return 1;
	}
	if (o.openmetrics && interval > 0) {
		ublkd_error("--openmetrics prints the counters once: drop -i (a scraper "
			    "computes rates from the counters)");
		return 1;
	}
	if (n < 0) {
		n = ctrl_list_ids(ids, MAX_DEVS);
		if (n < 0) {
			ublkd_error("cannot list ublk devices: %s", strerror(-n));
			return 1;
		}
	}
	devs = stats_calloc(n ? (size_t)n : 1, sizeof(*devs));
	if (!devs)
		return 1;
	for (i = 0; i < n; i++) {
		if (open_dev(ids[i], &devs[nd], single) < 0) {
			close_dev(&devs[nd]);
			if (single)
				goto out;
			continue;
		}
		nd++;
	}
	for (r = 0; count == 0 || r < count; r++) {
		if (r) {
			struct timespec ts = { (time_t)interval,
					       (long)((interval - (double)(time_t)interval) * 1e9) };

			nanosleep(&ts, NULL);
			if (!o.json && !o.openmetrics)
				putchar('\n');
		}
		mono = clock_ns(CLOCK_MONOTONIC);
		for (i = 0; i < nd; i++)
			sample(&devs[i], mono, &last_mono, r == 0);
		last_mono = mono;
		if (o.openmetrics) {
			struct stats_device_snap *snaps = stats_calloc(nd ? (size_t)nd : 1,
								       sizeof(*snaps));

			if (!snaps)
				goto out;
			for (i = 0; i < nd; i++) {
				snaps[i].dev = devs[i].map.dev;
				stats_dev_events(devs[i].map.base, &snaps[i].dev);
				snaps[i].queues = devs[i].now;
			}
			stats_write_metrics(stdout, snaps, (unsigned int)nd, STATS_OPENMETRICS);
			free(snaps);
		} else if (o.json) {
			json_report(devs, nd, &o);
		} else {
			text_report(devs, nd, &o);
		}
		fflush(stdout);
	}
	ret = 0;
out:
	for (i = 0; i < nd; i++)
		close_dev(&devs[i]);
	free(devs);
	return ret;
}
