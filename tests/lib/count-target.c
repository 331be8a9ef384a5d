/* SPDX-License-Identifier: MIT */
/*
 * count-target.c - a null-like target that appends the name of every
 * lifecycle call (config, check, open, close, release) to the file named
 * by $COUNT_FILE, for tests/core/130-target-lifecycle.sh.  Switches make a
 * step fail: --fail-config, --fail-check, --fail-open, --bad-geometry (open
 * succeeds but reports a block size ublkd must refuse).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ublkd/target.h>

static int fail_check, fail_open, bad_geometry;

static void note(const char *what)
{
	const char *path = getenv("COUNT_FILE");
	FILE *f = path ? fopen(path, "a") : NULL;

	if (f) {
		fprintf(f, "%s\n", what);
		fclose(f);
	}
}

static int c_config(struct ublkd_target *t, const char *name, const char *value)
{
	(void)t;
	(void)value;
	note("config");
	if (!strcmp(name, "fail-config")) {
		ublkd_error("count: --fail-config");
		return -1;
	}
	fail_check |= !strcmp(name, "fail-check");
	fail_open |= !strcmp(name, "fail-open");
	bad_geometry |= !strcmp(name, "bad-geometry");
	return 0;
}

static int c_check(struct ublkd_target *t)
{
	(void)t;
	note("check");
	if (fail_check)
		ublkd_error("count: --fail-check");
	return fail_check ? -1 : 0;
}

static int c_open(struct ublkd_target *t, struct ublkd_setup *s)
{
	(void)t;
	note("open");
	if (fail_open) {
		ublkd_error("count: --fail-open");
		return -1;
	}
	s->size = 64 << 20;
	s->logical_block_size = bad_geometry ? 3 : 512;
	s->description = "counting";
	return 0;
}

static void c_close(struct ublkd_target *t)
{
	(void)t;
	note("close");
}

static void c_release(struct ublkd_target *t)
{
	(void)t;
	note("release");
}

static void c_queue_io(struct ublkd_queue *q, struct ublkd_io *io)
{
	ublkd_complete(q, io, io->op <= UBLKD_OP_WRITE ? (int)io->len : 0);
}

static const struct ublkd_option c_options[] = {
	{ .name = "fail-config", .type = UBLKD_OPT_BOOL, .help = "config() fails" },
	{ .name = "fail-check", .type = UBLKD_OPT_BOOL, .help = "check() fails" },
	{ .name = "fail-open", .type = UBLKD_OPT_BOOL, .help = "open() fails" },
	{ .name = "bad-geometry", .type = UBLKD_OPT_BOOL, .help = "open() lies" },
	{ .name = "x", .type = UBLKD_OPT_BOOL, .help = "does nothing" },
	{ .name = NULL },
};

static const struct ublkd_target_ops c_ops = {
	.api_version	= UBLKD_TARGET_API_VERSION,
	.struct_size	= sizeof(struct ublkd_target_ops),
	.option_size	= sizeof(struct ublkd_option),
	.name		= "count",
	.features	= UBLKD_TARGET_NO_DATA,
	.options	= c_options,
	.config		= c_config,
	.check		= c_check,
	.open		= c_open,
	.close		= c_close,
	.release	= c_release,
	.queue_io	= c_queue_io,
};

UBLKD_REGISTER_TARGET(c_ops)
