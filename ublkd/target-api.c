/* SPDX-License-Identifier: MIT */
/* target-api.c - small services of <ublkd/target.h> (the data path's are
 * in data.c, ublkd_queue_register_file() in queue.c, messages in
 * lib/log.c). */
#include "daemon.h"
#include "stats.h"

void ublkd_target_set_priv(struct ublkd_target *t, void *priv) { t->priv = priv; }
void *ublkd_target_priv(const struct ublkd_target *t) { return t->priv; }
struct ublkd_target *ublkd_queue_target(const struct ublkd_queue *q) { return &q->dev->target; }
void ublkd_queue_set_priv(struct ublkd_queue *q, void *priv) { q->priv = priv; }
void *ublkd_queue_priv(const struct ublkd_queue *q) { return q->priv; }
unsigned int ublkd_queue_id(const struct ublkd_queue *q) { return q->q_id; }

enum ublkd_data_mode ublkd_queue_data_mode(const struct ublkd_queue *q)
{
	return q->data_mode;
}

void ublkd_count_reconnect(struct ublkd_target *t)
{
	if (t->dev)
		stats_count_reconnect(t->dev);
}

const char *ublkd_op_name(unsigned int op)
{
	switch (op) {
	case UBLKD_OP_READ:		return "read";
	case UBLKD_OP_WRITE:		return "write";
	case UBLKD_OP_FLUSH:		return "flush";
	case UBLKD_OP_DISCARD:		return "discard";
	case UBLKD_OP_WRITE_ZEROES:	return "write-zeroes";
	default:			return "request";
	}
}

struct io_uring_sqe *ublkd_get_sqe(struct ublkd_queue *q)
{
	struct io_uring_sqe *sqe;

	/* A full SQ ring: submit what is queued to make room. */
	while (!(sqe = io_uring_get_sqe(&q->ring)))
		io_uring_submit(&q->ring);
	return sqe;
}

void ublkd_sqe_set_data(struct io_uring_sqe *sqe, struct ublkd_io *io,
			uint32_t cookie)
{
	sqe->user_data = ud_make(io ? io->tag : UD_NO_TAG, UD_TARGET, cookie);
}

unsigned int ublkd_target_metadata_size(const struct ublkd_target *t)
{
	return t->dev ? integrity_tuple_size(t->dev->cfg.integrity) : 0;
}

void *ublkd_io_metadata(const struct ublkd_queue *q, const struct ublkd_io *io,
			uint32_t *len, uint64_t *offset)
{
	const struct tag *t = (const struct tag *)io;	/* io is its first member */

	*offset = (io->offset >> q->lbs_shift) * q->md_size;
	if (io->op == UBLKD_OP_DISCARD || io->op == UBLKD_OP_WRITE_ZEROES) {
		/* No buffer: the range to set to zeroes (never written). */
		*len = (io->len >> q->lbs_shift) * q->md_size;
		return NULL;
	}
	*len = t->md_len;
	return t->md_len ? queue_tag_md(q, io->tag) : NULL;
}
