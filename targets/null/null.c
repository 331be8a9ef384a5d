/* SPDX-License-Identifier: MIT */
/*
 * null - a target that completes every request at once and stores
 * nothing: reads return whatever the buffer holds, writes are dropped.
 * Useful to measure the cost of ublk and ublkd themselves.
 */
#include <stdlib.h>
#include <ublkd/target.h>

#define NULL_DEFAULT_SIZE (250ULL << 30)	/* as ublksrv's null target */

/* Testing aids, to check that ublkd catches a buggy target:
 * UBLKD_TEST_NULL_DOUBLE=N completes every Nth request of a queue twice,
 * UBLKD_TEST_NULL_HANG=N never completes the Nth request of each queue. */
static unsigned long double_every, hang_at;	/* set before the queues start */

static unsigned long env_number(const char *name)
{
	const char *v = getenv(name);

	return v ? strtoul(v, NULL, 10) : 0;
}

static int null_open(struct ublkd_target *t, struct ublkd_setup *s)
{
	double_every = env_number("UBLKD_TEST_NULL_DOUBLE");
	hang_at = env_number("UBLKD_TEST_NULL_HANG");
	s->size = s->size_limit ? s->size_limit : NULL_DEFAULT_SIZE;
	s->flags = UBLKD_PARAM_VOLATILE_CACHE | UBLKD_PARAM_FUA |
		   UBLKD_PARAM_DISCARD | UBLKD_PARAM_WRITE_ZEROES;
	s->description = "(no backing store)";
	return 0;
}

/* `ublk resize -s SIZE`: any size; without -s there is nothing to follow. */
static int null_new_size(struct ublkd_target *t, uint64_t *size)
{
	(void)t;
	if (!*size) {
		ublkd_error("null: the null target has no size of its own to follow: give "
			    "-s SIZE");
		return -1;
	}
	return 0;
}

static void null_queue_io(struct ublkd_queue *q, struct ublkd_io *io)
{
	static __thread unsigned long nr;	/* requests of this queue */
	int has_data = io->op == UBLKD_OP_READ || io->op == UBLKD_OP_WRITE;

	if (++nr == hang_at)
		return;
	ublkd_complete(q, io, has_data ? (int)io->len : 0);
	if (double_every && nr % double_every == 0)
		ublkd_complete(q, io, has_data ? (int)io->len : 0);
}

static const struct ublkd_target_ops null_ops = {
	.api_version	= UBLKD_TARGET_API_VERSION,
	.struct_size	= sizeof(struct ublkd_target_ops),
	.option_size	= sizeof(struct ublkd_option),
	.name		= "null",
	.description	= "completes every request at once, stores nothing",
	.features	= UBLKD_TARGET_ZERO_COPY | UBLKD_TARGET_NO_DATA | UBLKD_TARGET_THREADS,
	.open		= null_open,
	.queue_io	= null_queue_io,
	.new_size	= null_new_size,
};

UBLKD_REGISTER_TARGET(null_ops)
