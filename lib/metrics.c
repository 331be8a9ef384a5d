/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - the statistics as text for Prometheus: OpenMetrics 1.0
 * (`ublk stat --openmetrics`) or the Prometheus text format 0.0.4.
 *
 * The two differ in three places: an OpenMetrics counter family is named
 * without its samples' _total suffix, the device info is an `info` family
 * (a gauge of 1 in the older format), and OpenMetrics ends with # EOF.
 * Names follow Prometheus's conventions: ublkd_ prefix, base units
 * (seconds, bytes), _total on counters; labels device, queue, op.
 */
#include <stdio.h>
#include "stats-file.h"

enum kind { COUNTER, GAUGE, HISTOGRAM, INFO };

struct family {
	const char *name;	/* counters: without _total; info: without _info */
	enum kind kind;
	const char *help;
};

static void header(FILE *f, const struct family *m, enum stats_format fmt)
{
	const char *suffix = "", *type = "gauge";

	switch (m->kind) {
	case COUNTER:
		type = "counter";
		suffix = fmt == STATS_OPENMETRICS ? "" : "_total";
		break;
	case INFO:
		type = fmt == STATS_OPENMETRICS ? "info" : "gauge";
		suffix = fmt == STATS_OPENMETRICS ? "" : "_info";
		break;
	case HISTOGRAM:
		type = "histogram";
		break;
	case GAUGE:
		break;
	}
	fprintf(f, "# HELP %s%s %s\n", m->name, suffix, m->help);
	fprintf(f, "# TYPE %s%s %s\n", m->name, suffix, type);
}

/* A label value, escaped as both formats want. */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* A block's labels: queue="Q", and with --threads thread="T" too (each
 * thread of a queue counts apart; a sum over thread gives the queue). */
static const char *queue_labels(const struct stats_dev *dev, unsigned int b, char *buf,
				size_t len)
{
	unsigned int th = stats_threads(dev);

	if (th > 1)
		snprintf(buf, len, "queue=\"%u\",thread=\"%u\"", b / th, b % th);
	else
		snprintf(buf, len, "queue=\"%u\"", b);
	return buf;
}

static void per_op(FILE *f, const struct stats_device_snap *devs, unsigned int n,
		   const char *sample, size_t member)
{
	unsigned int d, q, op;
	char ql[48];

	for (d = 0; d < n; d++)
		for (q = 0; q < devs[d].dev.nr_queues; q++) {
			const uint64_t *v = (const uint64_t *)((const char *)&devs[d].queues[q] +
							       member);

			queue_labels(&devs[d].dev, q, ql, sizeof(ql));
			for (op = 0; op < STATS_NR_OPS; op++)
				fprintf(f, "%s{device=\"%u\",%s,op=\"%s\"} %llu\n", sample,
					devs[d].dev.dev_id, ql, stats_op_names[op],
					(unsigned long long)v[op]);
		}
}

static void per_queue(FILE *f, const struct stats_device_snap *devs, unsigned int n,
		      const char *sample, size_t member)
{
	unsigned int d, q;
	char ql[48];

	for (d = 0; d < n; d++)
		for (q = 0; q < devs[d].dev.nr_queues; q++) {
			const uint64_t *v = (const uint64_t *)((const char *)&devs[d].queues[q] +
							       member);

			fprintf(f, "%s{device=\"%u\",%s} %llu\n", sample, devs[d].dev.dev_id,
				queue_labels(&devs[d].dev, q, ql, sizeof(ql)),
				(unsigned long long)*v);
		}
}

/* Buckets from 1.024 us on (the ones below are folded into it: they are
 * cumulative) to 1.07 s, then +Inf. */
#define FIRST_BUCKET 10

static void histogram(FILE *f, const char *name, const struct stats_device_snap *dv,
		      unsigned int q)
{
	const struct stats_queue *s = &dv->queues[q];
	uint64_t cum = 0;
	unsigned int b;
	char ql[48];

	queue_labels(&dv->dev, q, ql, sizeof(ql));
	for (b = 0; b < STATS_NR_BUCKETS; b++) {
		cum += s->lat_hist[b];
		if (b < FIRST_BUCKET)
			continue;
		fprintf(f, "%s_bucket{device=\"%u\",%s,le=\"", name, dv->dev.dev_id, ql);
		if (b + 1 < STATS_NR_BUCKETS)
			fprintf(f, "%.9g", (double)stats_bucket_le_ns(b) / 1e9);
		else
			fputs("+Inf", f);
		fprintf(f, "\"} %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "%s_sum{device=\"%u\",%s} %.9f\n", name, dv->dev.dev_id, ql,
		(double)s->lat_sum_ns / 1e9);
	fprintf(f, "%s_count{device=\"%u\",%s} %llu\n", name, dv->dev.dev_id, ql,
		(unsigned long long)cum);
}

void stats_write_metrics(FILE *f, const struct stats_device_snap *devs, unsigned int n,
			 enum stats_format fmt)
{
	static const struct family info = { "ublkd_device", INFO,
		"The device's target, copy mode and zero-copy mechanism." };
	static const struct family start = { "ublkd_device_start_time_seconds", GAUGE,
		"When the device was first started, since the Unix epoch." };
	static const struct family dstart = { "ublkd_daemon_start_time_seconds", GAUGE,
		"When the device's current daemon started, since the Unix epoch." };
	static const struct family rec = { "ublkd_recoveries", COUNTER,
		"Daemons that took the device over after its daemon died." };
	static const struct family upg = { "ublkd_upgrades", COUNTER,
		"Daemons that took the device over for ublk upgrade." };
	static const struct family recon = { "ublkd_reconnects", COUNTER,
		"The target's reconnections to its server (nbd), over all queues." };
	static const struct family reqs = { "ublkd_requests", COUNTER,
		"Requests completed, by operation." };
	static const struct family bytes = { "ublkd_bytes", COUNTER,
		"Bytes of the requests that completed successfully, by operation." };
	static const struct family errs = { "ublkd_errors", COUNTER,
		"Requests completed with an error, by operation." };
	static const struct family inflight = { "ublkd_in_flight_requests", GAUGE,
		"Requests the daemon has received and not yet completed." };
	static const struct family copied = { "ublkd_copied_bytes", COUNTER,
		"Data bytes that went through the daemon's memory (0 under zero copy)." };
	static const struct family fallbacks = { "ublkd_zero_copy_fallbacks", COUNTER,
		"Requests whose automatic buffer registration failed and were registered "
		"explicitly." };
	static const struct family lat = { "ublkd_request_latency_seconds", HISTOGRAM,
		"Time from the daemon receiving a request to its completion." };
	unsigned int d, q;

	header(f, &info, fmt);
	for (d = 0; d < n; d++) {
		fprintf(f, "ublkd_device_info{device=\"%u\",target=\"", devs[d].dev.dev_id);
		label_value(f, devs[d].dev.target);
		fprintf(f, "\",copy_mode=\"");
		label_value(f, devs[d].dev.copy_mode);
		fprintf(f, "\",zero_copy_mechanism=\"");
		label_value(f, devs[d].dev.zc_mechanism);
		fprintf(f, "\",queues=\"%u\",threads_per_queue=\"%u\",depth=\"%u\"} 1\n",
			devs[d].dev.nr_queues / stats_threads(&devs[d].dev),
			stats_threads(&devs[d].dev), devs[d].dev.depth);
	}
	header(f, &start, fmt);
	for (d = 0; d < n; d++)
		fprintf(f, "%s{device=\"%u\"} %.3f\n", start.name, devs[d].dev.dev_id,
			(double)devs[d].dev.created_ns / 1e9);
	header(f, &dstart, fmt);
	for (d = 0; d < n; d++)
		fprintf(f, "%s{device=\"%u\"} %.3f\n", dstart.name, devs[d].dev.dev_id,
			(double)devs[d].dev.started_ns / 1e9);
	header(f, &rec, fmt);
	for (d = 0; d < n; d++)
		fprintf(f, "ublkd_recoveries_total{device=\"%u\"} %llu\n", devs[d].dev.dev_id,
			(unsigned long long)devs[d].dev.recoveries);
	header(f, &upg, fmt);
	for (d = 0; d < n; d++)
		fprintf(f, "ublkd_upgrades_total{device=\"%u\"} %llu\n", devs[d].dev.dev_id,
			(unsigned long long)devs[d].dev.upgrades);
	header(f, &recon, fmt);
	for (d = 0; d < n; d++)
		fprintf(f, "ublkd_reconnects_total{device=\"%u\"} %llu\n", devs[d].dev.dev_id,
			(unsigned long long)devs[d].dev.reconnects);
	header(f, &reqs, fmt);
	per_op(f, devs, n, "ublkd_requests_total", offsetof(struct stats_queue, ops));
	header(f, &bytes, fmt);
	per_op(f, devs, n, "ublkd_bytes_total", offsetof(struct stats_queue, bytes));
	header(f, &errs, fmt);
	per_op(f, devs, n, "ublkd_errors_total", offsetof(struct stats_queue, errors));
	header(f, &inflight, fmt);
	per_queue(f, devs, n, inflight.name, offsetof(struct stats_queue, in_flight));
	header(f, &copied, fmt);
	per_queue(f, devs, n, "ublkd_copied_bytes_total",
		  offsetof(struct stats_queue, bytes_copied));
	header(f, &fallbacks, fmt);
	per_queue(f, devs, n, "ublkd_zero_copy_fallbacks_total",
		  offsetof(struct stats_queue, zc_fallbacks));
	header(f, &lat, fmt);
	for (d = 0; d < n; d++)
		for (q = 0; q < devs[d].dev.nr_queues; q++)
			histogram(f, lat.name, &devs[d], q);
	if (fmt == STATS_OPENMETRICS)
		fputs("# EOF\n", f);
}
