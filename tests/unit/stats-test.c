/* SPDX-License-Identifier: MIT */
/*
 * stats-test.c - the statistics file's readers (lib/stats-file.c) and the
 * exposition (lib/metrics.c):
 *   - a snapshot is consistent while a writer thread updates the block
 *     seqlock-style (two counters always read equal), and a block left
 *     odd (a dead daemon) is still read, flagged;
 *   - sums, deltas and percentiles of known histograms;
 *   - the layout check refuses other files;
 *   - both text formats, for two devices, pass a real parser
 *     (python3-prometheus-client's OpenMetrics and Prometheus parsers),
 *     with cumulative buckets whose +Inf equals _count.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "stats-file.h"
#include "unit.h"

static struct stats_queue shared;
static int stop;

/* The queue thread's protocol, as ublkd/stats.h does it. */
static void *writer(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		__atomic_store_n(&shared.seq, shared.seq + 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		__atomic_store_n(&shared.ops[0], shared.ops[0] + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&shared.lat_hist[20], shared.lat_hist[20] + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&shared.ops[1], shared.ops[1] + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&shared.seq, shared.seq + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void test_consistent_snapshots(void)
{
	struct stats_queue snap;
	pthread_t t;
	int i, torn = 0, flagged = 0;

	pthread_create(&t, NULL, writer, NULL);
	for (i = 0; i < 20000; i++) {
		flagged += stats_read_queue(&shared, &snap);
		if (snap.ops[0] != snap.ops[1] || snap.ops[0] != snap.lat_hist[20])
			torn++;
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	CHECK(torn == 0);
	CHECK(flagged == 0);
	CHECK(snap.seq % 2 == 0);

	/* A writer that died mid-batch: the copy comes back, flagged. */
	shared.seq |= 1;
	shared.ops[0] = 42;
	CHECK(stats_read_queue(&shared, &snap) == 1);
	CHECK(snap.ops[0] == 42);
}

static void test_sums_and_percentiles(void)
{
	struct stats_queue a = { 0 }, b = { 0 }, d;

	a.ops[STATS_READ] = 100;
	a.bytes[STATS_READ] = 409600;
	a.in_flight = 3;
	a.lat_hist[10] = 50;	/* [512, 1024) ns */
	a.lat_hist[12] = 50;	/* [2048, 4096) ns */
	b = a;
	b.ops[STATS_READ] = 160;
	b.in_flight = 5;
	b.lat_hist[12] = 110;
	CHECK(stats_hist_count(&a) == 100);
	CHECK(stats_total_ops(&b) == 160);
	/* p50 is the top of bucket 10; p99 within bucket 12. */
	CHECK(stats_percentile_ns(&a, 0.5) == 1024);
	CHECK(stats_percentile_ns(&a, 0.99) > 2048 && stats_percentile_ns(&a, 0.99) <= 4096);
	d = b;
	stats_sub(&d, &a);
	CHECK(d.ops[STATS_READ] == 60);
	CHECK(d.lat_hist[12] == 60 && d.lat_hist[10] == 0);
	CHECK(d.in_flight == 5);	/* a gauge: the newer value */
	/* Every request of the delta is above 2048 ns. */
	CHECK(stats_percentile_ns(&d, 0.01) >= 2048);
	stats_add(&d, &a);
	CHECK(d.ops[STATS_READ] == 160 && d.in_flight == 8);
	memset(&d, 0, sizeof(d));
	CHECK(stats_percentile_ns(&d, 0.99) == 0);
}

static void test_layout_check(void)
{
	size_t len = stats_file_size(2);
	struct stats_dev *h = aligned_alloc(STATS_CACHE_LINE, len), out;

	memset(h, 0, len);
	h->magic = STATS_MAGIC;
	h->version = STATS_VERSION;
	h->header_size = sizeof(*h);
	h->queue_size = sizeof(struct stats_queue);
	h->nr_queues = 2;
	memset(h->target, 'x', sizeof(h->target));	/* unterminated */
	CHECK(stats_map_check(h, len, &out) == 0);
	CHECK(strlen(out.target) == sizeof(out.target) - 1);
	CHECK(stats_map_check(h, len - 1, &out) < 0);	/* shorter than 2 queues */
	h->version = STATS_VERSION + 1;
	CHECK(stats_map_check(h, len, &out) < 0);
	h->version = STATS_VERSION;
	h->queue_size = 64;
	CHECK(stats_map_check(h, len, &out) < 0);
	h->queue_size = sizeof(struct stats_queue);
	h->threads = 2;		/* 2 blocks: one queue of 2 threads */
	CHECK(stats_map_check(h, len, &out) == 0 && stats_threads(&out) == 2);
	h->threads = 3;		/* 2 blocks cannot be queues of 3 threads */
	CHECK(stats_map_check(h, len, &out) < 0);
	h->threads = 0;		/* an older daemon's file: 1 thread */
	CHECK(stats_map_check(h, len, &out) == 0 && stats_threads(&out) == 1);
	free(h);
}

/* Two devices, the second with two queues, some traffic. */
static void make_devices(struct stats_device_snap *devs, struct stats_queue *qs)
{
	unsigned int i;

	memset(devs, 0, 2 * sizeof(*devs));
	memset(qs, 0, 3 * sizeof(*qs));
	for (i = 0; i < 2; i++) {
		devs[i].dev.dev_id = i ? 7 : 0;
		devs[i].dev.nr_queues = i + 1;
		devs[i].dev.depth = 128;
		devs[i].dev.created_ns = 1700000000123456789ULL;
		devs[i].dev.started_ns = 1700000100000000000ULL;
		strcpy(devs[i].dev.target, i ? "loop" : "a \"quoted\\ name");
		strcpy(devs[i].dev.copy_mode, "copy");
		strcpy(devs[i].dev.zc_mechanism, "none");
	}
	devs[0].queues = &qs[0];
	devs[1].queues = &qs[1];
	devs[1].dev.recoveries = 2;
	devs[1].dev.upgrades = 3;
	devs[0].dev.reconnects = 4;
	qs[0].ops[STATS_READ] = 10;
	qs[0].bytes[STATS_READ] = 40960;
	qs[0].lat_hist[3] = 4;		/* below the first bucket printed */
	qs[0].lat_hist[14] = 6;
	qs[0].lat_sum_ns = 6 * 10000 + 4 * 5;
	qs[2].ops[STATS_WRITE] = 5;
	qs[2].errors[STATS_WRITE] = 1;
	qs[2].lat_hist[STATS_NR_BUCKETS - 1] = 5;	/* over a second: +Inf only */
	qs[2].lat_sum_ns = 5ULL * 2000000000;
	qs[2].in_flight = 2;
}

/* The exposition of make_devices()'s two; threads: the second device's
 * threads per queue (its two blocks: 2 queues of 1, or 1 queue of 2). */
static char *exposition(enum stats_format fmt, unsigned int threads)
{
	struct stats_device_snap devs[2];
	struct stats_queue qs[3];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	make_devices(devs, qs);
	devs[1].dev.threads = threads;
	stats_write_metrics(f, devs, 2, fmt);
	fclose(f);
	return buf;
}

/* Feed text to a real parser: 0 if it accepts it and the families the
 * script checks are there. */
static int parse_with_python(const char *text, int openmetrics)
{
	static const char script[] =
		"import sys\n"
		"if sys.argv[1] == 'om':\n"
		"    from prometheus_client.openmetrics.parser import text_string_to_metric_families\n"
		"else:\n"
		"    from prometheus_client.parser import text_string_to_metric_families\n"
		"fams = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}\n"
		"req = fams['ublkd_requests']\n"
		"assert req.type == 'counter', req.type\n"
		"v = {(s.labels['device'], s.labels['queue'], s.labels['op']): s.value\n"
		"     for s in req.samples if s.name == 'ublkd_requests_total'}\n"
		"assert v[('0', '0', 'read')] == 10 and v[('7', '1', 'write')] == 5, v\n"
		"h = fams['ublkd_request_latency_seconds']\n"
		"assert h.type == 'histogram'\n"
		"inf = [s.value for s in h.samples if s.name.endswith('_bucket')\n"
		"       and s.labels['le'] == '+Inf' and s.labels['device'] == '0']\n"
		"cnt = [s.value for s in h.samples if s.name.endswith('_count') and s.labels['device'] == '0']\n"
		"assert inf == [10] and cnt == [10], (inf, cnt)\n"
		"info = [f for f in fams.values() if f.name.startswith('ublkd_device') and\n"
		"        f.type in ('info', 'gauge') and 'target' in f.samples[0].labels][0]\n"
		"assert info.samples[0].labels['target'] == 'a \"quoted\\\\ name', info.samples[0].labels\n"
		"for name, dev, want in (('ublkd_upgrades', '7', 3), ('ublkd_reconnects', '0', 4)):\n"
		"    f = fams[name]\n"
		"    assert f.type == 'counter', (name, f.type)\n"
		"    got = [s.value for s in f.samples if s.name == name + '_total' and\n"
		"           s.labels['device'] == dev]\n"
		"    assert got == [want], (name, got)\n"
		"print('parsed', len(fams), 'families')\n";
	char cmd[4096];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c \"$UBLKD_STATS_SCRIPT\" %s",
		 openmetrics ? "om" : "prom");
	setenv("UBLKD_STATS_SCRIPT", script, 1);
	p = popen(cmd, "w");
	if (!p)
		return -1;
	fputs(text, p);
	return pclose(p);
}

static void test_exposition(void)
{
	char *om = exposition(STATS_OPENMETRICS, 0), *prom = exposition(STATS_PROMETHEUS, 0);
	size_t n = strlen(om);

	CHECK(n > 7 && !strcmp(om + n - 6, "# EOF\n"));
	CHECK(!strstr(prom, "# EOF"));
	CHECK(strstr(om, "# TYPE ublkd_requests counter\n") != NULL);
	CHECK(strstr(prom, "# TYPE ublkd_requests_total counter\n") != NULL);
	CHECK(strstr(om, "ublkd_requests_total{device=\"7\",queue=\"1\",op=\"write\"} 5\n"));
	CHECK(strstr(om, "ublkd_errors_total{device=\"7\",queue=\"1\",op=\"write\"} 1\n"));
	CHECK(strstr(om, "ublkd_recoveries_total{device=\"7\"} 2\n"));
	CHECK(strstr(om, "ublkd_upgrades_total{device=\"7\"} 3\n"));
	CHECK(strstr(om, "ublkd_reconnects_total{device=\"0\"} 4\n"));
	CHECK(strstr(om, "# TYPE ublkd_upgrades counter\n"));
	CHECK(strstr(prom, "# TYPE ublkd_reconnects_total counter\n"));
	/* Cumulative: the 4 fast ones are in the first bucket printed. */
	CHECK(strstr(om, "ublkd_request_latency_seconds_bucket{device=\"0\",queue=\"0\","
			 "le=\"1.024e-06\"} 4\n"));
	CHECK(strstr(om, "ublkd_request_latency_seconds_bucket{device=\"7\",queue=\"1\","
			 "le=\"+Inf\"} 5\n"));
	CHECK(strstr(om, "ublkd_request_latency_seconds_count{device=\"7\",queue=\"1\"} 5\n"));
	CHECK(strstr(om, "ublkd_in_flight_requests{device=\"7\",queue=\"1\"} 2\n"));
	CHECK(parse_with_python(om, 1) == 0);
	CHECK(parse_with_python(prom, 0) == 0);
	free(om);
	free(prom);
}

/* --threads 2: device 7's two blocks are queue 0's threads 0 and 1, each
 * with a thread label; the info metric says 1 queue of 2 threads. */
static void test_thread_labels(void)
{
	char *buf = exposition(STATS_OPENMETRICS, 2);

	CHECK(strstr(buf, "ublkd_requests_total{device=\"7\",queue=\"0\",thread=\"1\","
			  "op=\"write\"} 5\n"));
	CHECK(strstr(buf, "ublkd_requests_total{device=\"7\",queue=\"0\",thread=\"0\","
			  "op=\"write\"} 0\n"));
	CHECK(strstr(buf, "ublkd_in_flight_requests{device=\"7\",queue=\"0\",thread=\"1\"} 2\n"));
	CHECK(strstr(buf, "ublkd_request_latency_seconds_count{device=\"7\",queue=\"0\","
			  "thread=\"1\"} 5\n"));
	CHECK(strstr(buf, "queues=\"1\",threads_per_queue=\"2\",depth=\"128\"} 1\n"));
	/* the single-thread device keeps its labels as before */
	CHECK(strstr(buf, "ublkd_in_flight_requests{device=\"0\",queue=\"0\"} 0\n"));
	CHECK(!strstr(buf, "device=\"0\",queue=\"0\",thread="));
	free(buf);
}

int main(void)
{
	test_consistent_snapshots();
	test_sums_and_percentiles();
	test_layout_check();
	test_exposition();
	test_thread_labels();
	return unit_done("stats-test");
}
