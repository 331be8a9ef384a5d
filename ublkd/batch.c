/* SPDX-License-Identifier: MIT */
/*
 * batch.c - batch I/O (UBLK_F_BATCH_IO, Linux 7.0+): the queue's commands
 * to the kernel in bulk instead of one per tag.
 *
 *   PREP_IO_CMDS    once, at setup: every tag of the queue in one command
 *                   (with its buffer in copy mode, its buffer-table slot in
 *                   zero copy with automatic registration).
 *   FETCH_IO_CMDS   one multishot command per queue: each completion hands
 *                   over a buffer of 16-bit tags of new requests, taken from
 *                   a provided-buffer ring that the loop refills.
 *   COMMIT_IO_CMDS  the requests finished in one pass of the queue loop, in
 *                   one command sent with the loop's io_uring_enter.
 *
 * The per-tag path (queue.c: FETCH_REQ, COMMIT_AND_FETCH_REQ) is the same
 * protocol one request at a time; everything between delivery and commit
 * (data.c, the targets) is shared.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "daemon.h"
#include "log.h"
#include "stats.h"
#include "uring-cmd.h"

#ifndef IORING_URING_CMD_MULTISHOT
#define IORING_URING_CMD_MULTISHOT	(1U << 1)	/* Linux 6.19+ */
#endif

#define FETCH_GROUP	0	/* the provided-buffer group of the fetch */
#define FETCH_MAX_TAGS	128	/* the kernel fills at most this many per buffer */

/* A commit buffer: busy from its SQE until its CQE (the kernel reads it
 * when it runs the command, which is during the enter, but the CQE is
 * what says so). */
struct commit_buf {
	char *elems;
	unsigned int n;
	int busy;
};

struct queue_batch {
	uint16_t flags;			/* UBLK_BATCH_F_* of PREP and COMMIT */
	uint8_t elem_bytes;		/* 8, 16 with a buffer address */
	unsigned int cur;		/* the commit buffer being filled */
	unsigned int nr_cbufs;
	struct commit_buf *cbufs;
	/* the fetch */
	struct io_uring_buf_ring *br;
	size_t br_len;
	char *fetch_bufs;		/* nr_fetch_bufs x fetch_buf_len */
	unsigned int nr_fetch_bufs, fetch_buf_len;
	int fetch_armed;
	int enobufs_warned;
	unsigned int commit_failures;	/* logged ones, at most 8 */
	/* how much each command carried, for the log at exit */
	uint64_t nr_fetch_cqes, nr_fetched, nr_commits, nr_committed;
};

static unsigned int pow2_at_least(unsigned int n)
{
	unsigned int p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static void put_elem(struct ublkd_queue *q, char *at, struct tag *t, int32_t result)
{
	struct queue_batch *b = q->batch;
	struct ublk_elem_header *e = (struct ublk_elem_header *)at;

	e->tag = t->io.tag;
	e->buf_index = t->io.tag;
	if (q->zc == ZC_AUTO && q->reg_miss_every && ++q->nr_fetches % q->reg_miss_every == 0)
		e->buf_index = q->depth;	/* no such slot: the kernel falls back */
	e->result = result;
	if (b->flags & UBLK_BATCH_F_HAS_BUF_ADDR) {
		uint64_t addr = (uint64_t)(uintptr_t)t->io.buf;

		memcpy(at + sizeof(*e), &addr, sizeof(addr));
	}
}

static void prep_batch_cmd(struct ublkd_queue *q, struct io_uring_sqe *sqe, unsigned int op,
			   uint16_t flags, uint8_t elem_bytes, unsigned int nr_elem)
{
	struct ublk_batch_io *cmd;

	uring_cmd_prep(sqe, q->cmd_fd, op);
	sqe->flags = q->file_flags;
	cmd = uring_cmd_payload(sqe);
	cmd->q_id = q->q_id;
	cmd->flags = flags;
	cmd->nr_elem = nr_elem;
	cmd->elem_bytes = elem_bytes;
}

/* ---- fetch ---- */

static void arm_fetch(struct ublkd_queue *q)
{
	struct queue_batch *b = q->batch;
	struct io_uring_sqe *sqe = ublkd_get_sqe(q);

	prep_batch_cmd(q, sqe, UBLK_U_IO_FETCH_IO_CMDS, 0, sizeof(uint16_t),
		       b->fetch_buf_len / sizeof(uint16_t));
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = FETCH_GROUP;
	sqe->rw_flags = IORING_URING_CMD_MULTISHOT;	/* uring_cmd_flags */
	sqe->user_data = ud_make(UD_NO_TAG, UD_FETCH, 0);
	b->fetch_armed = 1;
}

static void recycle_fetch_buf(struct queue_batch *b, unsigned int bid)
{
	io_uring_buf_ring_add(b->br, b->fetch_bufs + (size_t)bid * b->fetch_buf_len,
			      b->fetch_buf_len, bid, io_uring_buf_ring_mask(b->nr_fetch_bufs), 0);
	io_uring_buf_ring_advance(b->br, 1);
}

/* New requests: a buffer of tags. */
static void take_tags(struct ublkd_queue *q, const uint16_t *tags, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct tag *t = tags[i] < q->depth ? &q->tags[tags[i]] : NULL;

		if (!t || t->state != TAG_FETCHING) {
			ublkd_warn("queue %u: the kernel delivered tag %u, which is %s: ignored",
				   q->q_id, tags[i], t ? "busy" : "out of range");
			continue;
		}
		queue_new_request(q, t);
	}
}

void batch_fetch_cqe(struct ublkd_queue *q, const struct io_uring_cqe *cqe)
{
	struct queue_batch *b = q->batch;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned int bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (bid < b->nr_fetch_bufs) {
			b->nr_fetch_cqes++;
			b->nr_fetched += cqe->res > 0 ? (unsigned int)cqe->res / sizeof(uint16_t) : 0;
			if (cqe->res > 0)
				take_tags(q, (const uint16_t *)(b->fetch_bufs +
							       (size_t)bid * b->fetch_buf_len),
					  (unsigned int)cqe->res / sizeof(uint16_t));
			recycle_fetch_buf(b, bid);
		}
	}
	if (cqe->flags & IORING_CQE_F_MORE)
		return;
	/* The multishot command ended.  Out of buffers: the kernel kept the
	 * tags, and a new fetch gets them (the buffers are back by now). */
	b->fetch_armed = 0;
	if (cqe->res >= 0 || cqe->res == -ENOBUFS) {
		if (cqe->res == -ENOBUFS && !b->enobufs_warned) {
			b->enobufs_warned = 1;
			ublkd_debug("queue %u: the fetch ran out of tag buffers: re-armed", q->q_id);
		}
		if (!q->stopping)
			arm_fetch(q);
		return;
	}
	/* ABORT or ECANCELED: the device stops, quiesces or is torn down. */
	if (cqe->res != UBLK_IO_RES_ABORT && cqe->res != -ECANCELED)
		ublkd_warn("queue %u: the batch fetch command failed: %s", q->q_id,
			   strerror(-cqe->res));
}

/* ---- commit ---- */

/* Tag t's request is done: its commit goes out with the loop's next enter. */
void batch_commit(struct ublkd_queue *q, struct tag *t)
{
	struct queue_batch *b = q->batch;
	struct commit_buf *c = &b->cbufs[b->cur];

	put_elem(q, c->elems + (size_t)c->n * b->elem_bytes, t, t->result);
	c->n++;
	t->state = TAG_FETCHING;
}

static int next_free_cbuf(struct queue_batch *b, unsigned int depth)
{
	struct commit_buf *grown;
	unsigned int i;

	for (i = 1; i <= b->nr_cbufs; i++) {
		unsigned int j = (b->cur + i) % b->nr_cbufs;

		if (!b->cbufs[j].busy && j != b->cur)
			return (int)j;
	}
	/* Every buffer still awaits its CQE (rare: each is done within its
	 * own enter): one more, allocated once and kept. */
	grown = realloc(b->cbufs, (b->nr_cbufs + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	b->cbufs = grown;
	memset(&grown[b->nr_cbufs], 0, sizeof(*grown));
	grown[b->nr_cbufs].elems = calloc(depth, b->elem_bytes);
	if (!grown[b->nr_cbufs].elems)
		return -ENOMEM;
	return (int)b->nr_cbufs++;
}

/* Before each io_uring_enter: one COMMIT_IO_CMDS for what the pass finished. */
int batch_flush(struct ublkd_queue *q)
{
	struct queue_batch *b = q->batch;
	struct commit_buf *c = &b->cbufs[b->cur];
	struct io_uring_sqe *sqe;
	int next;

	if (!c->n)
		return 0;
	next = next_free_cbuf(b, q->depth);
	if (next < 0)
		return next;
	sqe = ublkd_get_sqe(q);
	c = &b->cbufs[b->cur];		/* the array may have moved */
	prep_batch_cmd(q, sqe, UBLK_U_IO_COMMIT_IO_CMDS, b->flags, b->elem_bytes, c->n);
	sqe->addr = (uint64_t)(uintptr_t)c->elems;
	sqe->len = c->n * b->elem_bytes;
	sqe->user_data = ud_make(UD_NO_TAG, UD_COMMIT, b->cur);
	c->busy = 1;
	b->nr_commits++;
	b->nr_committed += c->n;
	b->cur = (unsigned int)next;
	return 0;
}

/* A commit completed: res is the bytes of elements the kernel took, or
 * -errno when it took none.  The kernel stops at the first element it
 * refuses (a request no longer the daemon's: the device was aborted);
 * that one is dropped, and the ones after it go out again. */
void batch_commit_cqe(struct ublkd_queue *q, unsigned int idx, int res)
{
	struct queue_batch *b = q->batch;
	struct commit_buf *c, *cur;
	unsigned int done, i;

	if (idx >= b->nr_cbufs)
		return;
	c = &b->cbufs[idx];
	c->busy = 0;
	done = res < 0 ? 0 : (unsigned int)res / b->elem_bytes;
	if (done >= c->n) {
		c->n = 0;
		return;
	}
	if (b->commit_failures++ < 8) {
		const struct ublk_elem_header *e =
			(const void *)(c->elems + (size_t)done * b->elem_bytes);

		ublkd_warn("queue %u tag %u: the kernel refused the commit (%s): dropped", q->q_id,
			   e->tag, res < 0 ? strerror(-res) : "partial commit");
	}
	cur = &b->cbufs[b->cur];
	for (i = done + 1; i < c->n; i++) {
		memcpy(cur->elems + (size_t)cur->n * b->elem_bytes,
		       c->elems + (size_t)i * b->elem_bytes, b->elem_bytes);
		cur->n++;
	}
	c->n = 0;
}

/* ---- setup and teardown ---- */

static int setup_fetch_ring(struct ublkd_queue *q, struct queue_batch *b)
{
	struct io_uring_buf_reg reg;
	unsigned int i;
	int ret;

	/* At most depth tags are out at once, each CQE carries at least one,
	 * and the loop gives every buffer back before its next enter: with
	 * depth buffers the fetch never runs dry. */
	b->nr_fetch_bufs = pow2_at_least(q->depth < 2 ? 2 : q->depth);
	b->fetch_buf_len = (q->depth < FETCH_MAX_TAGS ? q->depth : FETCH_MAX_TAGS) *
			   sizeof(uint16_t);
	b->fetch_bufs = calloc(b->nr_fetch_bufs, b->fetch_buf_len);
	if (!b->fetch_bufs)
		return -ENOMEM;
	b->br_len = b->nr_fetch_bufs * sizeof(struct io_uring_buf);
	b->br = mmap(NULL, b->br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b->br == MAP_FAILED) {
		b->br = NULL;
		return -ENOMEM;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)b->br;
	reg.ring_entries = b->nr_fetch_bufs;
	reg.bgid = FETCH_GROUP;
	ret = io_uring_register_buf_ring(&q->ring, &reg, 0);
	if (ret < 0) {
		munmap(b->br, b->br_len);
		b->br = NULL;
		ublkd_error("queue %u: cannot register the batch fetch's buffer ring: %s",
			    q->q_id, strerror(-ret));
		return ret;
	}
	io_uring_buf_ring_init(b->br);
	for (i = 0; i < b->nr_fetch_bufs; i++)
		io_uring_buf_ring_add(b->br, b->fetch_bufs + (size_t)i * b->fetch_buf_len,
				      b->fetch_buf_len, i, io_uring_buf_ring_mask(b->nr_fetch_bufs),
				      (int)i);
	io_uring_buf_ring_advance(b->br, b->nr_fetch_bufs);
	return 0;
}

/* PREP_IO_CMDS for every tag, waited for: the kernel must know them all
 * before the fetch (and before START_DEV, which waits for every queue). */
static int prep_tags(struct ublkd_queue *q, struct queue_batch *b)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	char *elems;
	unsigned int i;
	int ret;

	elems = calloc(q->depth, b->elem_bytes);
	if (!elems)
		return -ENOMEM;
	for (i = 0; i < q->depth; i++)
		put_elem(q, elems + (size_t)i * b->elem_bytes, &q->tags[i], 0);
	sqe = ublkd_get_sqe(q);
	prep_batch_cmd(q, sqe, UBLK_U_IO_PREP_IO_CMDS, b->flags, b->elem_bytes, q->depth);
	sqe->addr = (uint64_t)(uintptr_t)elems;
	sqe->len = q->depth * b->elem_bytes;
	sqe->user_data = ud_make(UD_NO_TAG, UD_PREP, 0);
	ret = io_uring_submit_and_wait(&q->ring, 1);
	if (ret >= 0)
		ret = io_uring_peek_cqe(&q->ring, &cqe);
	if (ret >= 0) {
		ret = ud_kind(cqe->user_data) == UD_PREP ? cqe->res : -EPROTO;
		io_uring_cqe_seen(&q->ring, cqe);
	}
	free(elems);
	if (ret < 0)
		ublkd_error("queue %u: the kernel refused batch I/O's PREP_IO_CMDS: %s", q->q_id,
			    strerror(-ret));
	return ret < 0 ? ret : 0;
}

/* In queue_setup(), in place of the per-tag FETCH_REQs. */
int batch_setup(struct ublkd_queue *q)
{
	struct queue_batch *b;
	unsigned int i;
	int ret;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	q->batch = b;
	b->elem_bytes = sizeof(struct ublk_elem_header);
	if (q->data_mode == UBLKD_DATA_COPY) {
		b->flags = UBLK_BATCH_F_HAS_BUF_ADDR;
		b->elem_bytes += sizeof(uint64_t);
	} else if (q->zc == ZC_AUTO) {
		b->flags = UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK;
	}
	b->nr_cbufs = 2;
	b->cbufs = calloc(b->nr_cbufs, sizeof(*b->cbufs));
	if (!b->cbufs)
		return -ENOMEM;
	for (i = 0; i < b->nr_cbufs; i++) {
		b->cbufs[i].elems = calloc(q->depth, b->elem_bytes);
		if (!b->cbufs[i].elems)
			return -ENOMEM;
	}
	ret = setup_fetch_ring(q, b);
	if (ret < 0)
		return ret;
	ret = prep_tags(q, b);
	if (ret < 0)
		return ret;
	for (i = 0; i < q->depth; i++)
		q->tags[i].state = TAG_FETCHING;
	arm_fetch(q);
	return 0;
}

/* Is the queue still serving?  While its fetch is armed, or the target
 * holds requests, or commits are on their way. */
int batch_live(const struct ublkd_queue *q)
{
	const struct queue_batch *b = q->batch;
	unsigned int i;

	if (b->fetch_armed || q->nr_busy || b->cbufs[b->cur].n)
		return 1;
	for (i = 0; i < b->nr_cbufs; i++)
		if (b->cbufs[i].busy)
			return 1;
	return 0;
}

/* After the ring is gone (queue_teardown), or when setup failed. */
void batch_free(struct ublkd_queue *q)
{
	struct queue_batch *b = q->batch;
	unsigned int i;

	if (!b)
		return;
	if (b->nr_fetch_cqes && b->nr_commits)
		ublkd_info("queue %u: batch I/O: %" PRIu64 " requests in %" PRIu64 " fetch "
			   "completions (%.1f each), committed in %" PRIu64 " commands (%.1f each)",
			   q->q_id, b->nr_fetched, b->nr_fetch_cqes,
			   (double)b->nr_fetched / b->nr_fetch_cqes, b->nr_commits,
			   (double)b->nr_committed / b->nr_commits);
	if (b->br)
		munmap(b->br, b->br_len);
	free(b->fetch_bufs);
	for (i = 0; b->cbufs && i < b->nr_cbufs; i++)
		free(b->cbufs[i].elems);
	free(b->cbufs);
	free(b);
	q->batch = NULL;
}
