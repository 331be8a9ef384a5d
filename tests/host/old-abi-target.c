/* SPDX-License-Identifier: MIT */
/*
 * old-abi-target.c - a target as built against <ublkd/target.h> of ublkd
 * 0.1 (API 1 as first released): its struct ublkd_target_ops ends at
 * queue_idle and its struct ublkd_option has five members.  The layouts
 * below are copies of that header's, under other names; ublkd must load
 * the plugin, zero-fill what it lacks and read its options with their own
 * stride (tests/host/plugin-old-abi.sh).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ublkd/target.h>

struct option_v1 {
	const char *name;
	char	    short_name;
	int	    has_arg;
	const char *arg_name;
	const char *help;
};

struct ops_v1 {
	uint32_t api_version;
	uint32_t struct_size;
	const char *name;
	const char *description;
	uint32_t features;
	size_t	 io_priv_size;
	const struct option_v1 *options;
	int  (*config)(struct ublkd_target *t, const char *name, const char *value);
	int  (*open)(struct ublkd_target *t, struct ublkd_setup *setup);
	int  (*flush)(struct ublkd_target *t);
	void (*close)(struct ublkd_target *t);
	int  (*queue_init)(struct ublkd_queue *q);
	void (*queue_exit)(struct ublkd_queue *q);
	void (*queue_io)(struct ublkd_queue *q, struct ublkd_io *io);
	void (*io_done)(struct ublkd_queue *q, struct ublkd_io *io,
			uint32_t cookie, const struct io_uring_cqe *cqe);
	void (*queue_idle)(struct ublkd_queue *q);
};

/* The test also builds it with a wrong size, which ublkd must refuse. */
#ifndef OPS_SIZE
#define OPS_SIZE sizeof(struct ops_v1)
#endif

static const struct option_v1 old_options[] = {
	{ "alpha", 'a', 1, "A", "the first option" },
	{ "beta", 0, 0, NULL, "the second option, a switch" },
	{ "gamma-ray", 0, 1, "G", "the third option" },
	{ NULL, 0, 0, NULL, NULL },
};

static int old_config(struct ublkd_target *t, const char *name, const char *value)
{
	(void)t;
	if (!strcmp(name, "alpha") && value && !strcmp(value, "bad")) {
		ublkd_error("old: --alpha bad is refused");
		return -1;
	}
	return 0;
}

static int old_open(struct ublkd_target *t, struct ublkd_setup *s)
{
	(void)t;
	s->size = 1 << 20;
	return 0;
}

static void old_queue_io(struct ublkd_queue *q, struct ublkd_io *io)
{
	ublkd_complete(q, io, io->op <= UBLKD_OP_WRITE ? (int)io->len : 0);
}

static const struct ops_v1 old_ops = {
	.api_version	= 1,
	.struct_size	= OPS_SIZE,
	.name		= "old",
	.description	= "a target built against API 1's first header",
	.options	= old_options,
	.config		= old_config,
	.open		= old_open,
	.queue_io	= old_queue_io,
};

const void *ublkd_target_entry(void);
const void *ublkd_target_entry(void)
{
	return &old_ops;
}
