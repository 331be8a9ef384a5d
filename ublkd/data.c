/* SPDX-License-Identifier: MIT */
/*
 * data.c - how a request's data reaches the target, in each data mode.
 *
 *   copy       the kernel copies between the request and ublkd's per-tag
 *              buffer (write data is there when the request arrives; read
 *              data is copied out at commit).
 *   user copy  ublkd copies itself with pread/pwrite on /dev/ublkcN:
 *              before handing a WRITE to the target, after a READ.
 *   zero copy  the request's pages stay in the kernel and are lent to the
 *              target's fixed-buffer reads/writes (buffer index = tag):
 *              ZC_AUTO      the kernel registers the buffer at delivery and
 *                           unregisters it at commit (one SQE per request);
 *                           if that fails it sets NEED_REG_BUF and we fall
 *                           back to the explicit chain below.
 *              ZC_REGISTER  REGISTER_IO_BUF before the target runs,
 *                           UNREGISTER_IO_BUF hard-linked before the commit.
 *              ZC_FUSED     (6.12 with ublkd's kernel/ series) each target
 *                           read/write is one fused SQE whose ublk half lends
 *                           the pages to its read/write half.
 *   --shmem    (copy and user copy, 7.1+) a request whose pages lie in the
 *              shared memory registered at start (shmem.c) comes with
 *              UBLK_IO_F_SHMEM_ZC: nobody copies, io.buf points into
 *              ublkd's mapping of it for the target, and back to the tag's
 *              own buffer at commit (the next fetch hands that to the
 *              kernel).  Targets are promised page-aligned data (for
 *              O_DIRECT): data that starts elsewhere in a page is copied
 *              through the tag's buffer by ublkd instead ("bounce").
 *   --integrity (user copy, 7.0+) a READ or WRITE also has metadata, one
 *              protection information tuple per logical block, in the tag's
 *              metadata buffer (ublkd_io_metadata()): ublkd preads a
 *              WRITE's from ublkcN (the integrity flag in the offset)
 *              and pwrites a READ's, each beside (in parallel with) the
 *              data's copy; the last of the two moves the request on.
 *              Zeroes are a block never written (a hole in the target's
 *              store, a discarded block): ublkd hands them to the kernel
 *              as all-ones, whose checks skip such a tuple.  A WRITE the
 *              kernel sends without metadata (integrity/write_generate
 *              off) gets zeroes, so the target forgets the old tuples.
 */
#include <errno.h>
#include <string.h>
#include "daemon.h"
#include "log.h"
#include "stats.h"
#include "uring-cmd.h"

static int has_data(unsigned int op)
{
	return op == UBLKD_OP_READ || op == UBLKD_OP_WRITE;
}

static void to_target(struct ublkd_queue *q, struct tag *t)
{
	t->state = TAG_TARGET;
	t->since_ms = q->now_ms;
	q->queue_io(q, &t->io);
}

/* pread/pwrite between buf and the request on /dev/ublkcN: its data
 * (kind UD_UCOPY), or with --integrity its metadata (UD_MDCOPY: the
 * integrity flag in the offset). */
static void prep_copy(struct ublkd_queue *q, struct tag *t, unsigned int kind,
		      int to_request, void *buf, uint32_t len)
{
	struct io_uring_sqe *sqe = ublkd_get_sqe(q);
	uint64_t off = ublk_user_copy_offset(q->q_id, t->io.tag, 0) |
		       (kind == UD_MDCOPY ? UBLKSRV_IO_INTEGRITY_FLAG : 0);

	if (to_request)
		io_uring_prep_write(sqe, q->cmd_fd, buf, len, off);
	else
		io_uring_prep_read(sqe, q->cmd_fd, buf, len, off);
	sqe->flags = q->file_flags;
	sqe->user_data = ud_make(t->io.tag, kind, 0);
}

/* The metadata of a request's first len bytes. */
static uint32_t md_bytes(const struct ublkd_queue *q, uint32_t len)
{
	return (len >> q->lbs_shift) * q->md_size;
}

/* --integrity: the metadata that goes with a new request (t->md_len for
 * the target, none but for a READ or WRITE), and whether the kernel has
 * it (t->md_kernel: a WRITE's is copied in, a READ's out). */
static void md_request(struct ublkd_queue *q, struct tag *t, uint32_t desc_flags)
{
	t->md_kernel = !!(desc_flags & UBLK_IO_F_INTEGRITY);
	t->md_len = 0;
	if (t->io.op == UBLK_IO_OP_WRITE) {
		t->md_len = md_bytes(q, t->io.len);
		if (!t->md_kernel)
			memset(queue_tag_md(q, t->io.tag), 0, t->md_len);
	} else if (t->io.op == UBLK_IO_OP_READ && t->md_kernel) {
		t->md_len = md_bytes(q, t->io.len);
	}
}

/* --integrity: a READ's tuples of all zeroes (blocks never written) go to
 * the kernel as all-ones: application tag 0xffff and reference tag
 * 0xffffffff, which its checks skip.  (The only real tuple of all zeroes,
 * t10dif's for a block of zeroes whose reference tag is 0, is then not
 * checked: never a false error, never wrong data.) */
static void md_unwritten(const struct ublkd_queue *q, struct tag *t, uint32_t len)
{
	static const uint8_t zero[UBLK_PI_TUPLE_MAX];
	char *md = queue_tag_md(q, t->io.tag);
	uint32_t i;

	for (i = 0; i + q->md_size <= len; i += q->md_size)
		if (!memcmp(md + i, zero, q->md_size))
			memset(md + i, 0xff, q->md_size);
}

static uint32_t map_flags(uint32_t kflags)
{
	uint32_t f = 0;

	if (kflags & UBLK_IO_F_FUA)
		f |= UBLKD_IO_FUA;
	if (kflags & UBLK_IO_F_NOUNMAP)
		f |= UBLKD_IO_NOUNMAP;
	return f;
}

/* The alignment targets may need of io.buf (O_DIRECT: loop allows up to
 * 4096), which the tag's own buffers have. */
#define SHMEM_INPLACE_ALIGN	4096

/* UBLK_IO_F_SHMEM_ZC: the request's data is at d->addr's offset in the
 * shared memory, and nowhere else (the kernel copied nothing).  Served in
 * place if page-aligned, else bounced.  0, or -1 (with one warning per
 * queue) when it is not in ublkd's mapping: a kernel bug, or a
 * registration ublkd did not make. */
static int use_shmem(struct ublkd_queue *q, struct tag *t, const struct ublksrv_io_desc *d)
{
	uint64_t off = ublk_shmem_offset(d->addr);

	if (ublk_shmem_index(d->addr) != 0 || !q->shmem_base ||
	    off + t->io.len > q->shmem_len) {
		if (!q->shmem_warned) {
			q->shmem_warned = 1;
			ublkd_error("queue %u tag %u: the kernel put a request's data at shared "
				    "buffer %u offset %llu, outside --shmem (%llu bytes): failed "
				    "with EIO", q->q_id, t->io.tag, ublk_shmem_index(d->addr),
				    (unsigned long long)off, (unsigned long long)q->shmem_len);
		}
		return -1;
	}
	if (off % SHMEM_INPLACE_ALIGN) {
		if (!q->shmem_bounce_noted) {
			q->shmem_bounce_noted = 1;
			ublkd_info("queue %u: --shmem: a request's data starts %u bytes into a page: "
				   "copied through ublkd's buffer (targets get page-aligned data); "
				   "buffers aligned to %u bytes are served in place", q->q_id,
				   (unsigned int)(off % SHMEM_INPLACE_ALIGN), SHMEM_INPLACE_ALIGN);
		}
		t->bounce = q->shmem_base + off;
		if (t->io.op == UBLK_IO_OP_WRITE) {
			memcpy(t->io.buf, t->bounce, t->io.len);
			stats_copied(q, t->io.len);
		}
		return 0;
	}
	t->io.buf = q->shmem_base + off;
	t->shmem = 1;
	return 0;
}

/* A new request arrived on tag t. */
void data_request(struct ublkd_queue *q, struct tag *t)
{
	const struct ublksrv_io_desc *d = &q->descs[t->io.tag];
	unsigned int op = ublk_desc_op(d);
	enum ublkd_data_mode mode = q->data_mode;

	t->io.op = op;
	t->io.flags = map_flags(d->op_flags);
	t->io.offset = d->start_sector << 9;
	t->io.len = d->nr_sectors << 9;
	t->registered = 0;
	t->result = 0;
	t->state = TAG_PREPARING;

	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		if (t->io.len > q->max_io_bytes) {
			ublkd_complete(q, &t->io, -EIO);
			return;
		}
		break;
	case UBLK_IO_OP_FLUSH:
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		break;
	default:
		ublkd_complete(q, &t->io, -EOPNOTSUPP);
		return;
	}
	if (q->md_size)
		md_request(q, t, d->op_flags);	/* within max_io_bytes: checked */

	if (has_data(op) && (d->op_flags & UBLK_IO_F_SHMEM_ZC)) {
		if (use_shmem(q, t, d) < 0)
			ublkd_complete(q, &t->io, -EIO);
		else
			to_target(q, t);
		return;
	}
	if (has_data(op) && mode == UBLKD_DATA_ZERO_COPY &&
	    !(q->target_features & UBLKD_TARGET_NO_DATA) &&
	    (q->zc == ZC_REGISTER || (d->op_flags & UBLK_IO_F_NEED_REG_BUF))) {
		if (q->zc == ZC_AUTO) {
			stats_zc_fallback(q);
			if (!q->zc_fallback_warned) {
				q->zc_fallback_warned = 1;
				ublkd_warn("queue %u: the kernel could not register a request's "
					   "buffer automatically (tag %u): registering explicitly",
					   q->q_id, t->io.tag);
			}
		}
		/* index = tag in the ring's buffer table */
		queue_prep_io_cmd(q, t, UBLK_U_IO_REGISTER_IO_BUF, 0, t->io.tag, UD_REGISTER);
		return;
	}
	if (op == UBLK_IO_OP_WRITE && mode == UBLKD_DATA_USER_COPY) {
		t->copies = 1;
		t->copy_err = 0;
		prep_copy(q, t, UD_UCOPY, 0, t->io.buf, t->io.len);
		if (t->md_kernel) {
			t->copies++;
			prep_copy(q, t, UD_MDCOPY, 0, queue_tag_md(q, t->io.tag), t->md_len);
		}
		return;
	}
	if (op == UBLK_IO_OP_WRITE && mode == UBLKD_DATA_COPY)
		stats_copied(q, t->io.len);
	to_target(q, t);
}

/* Give the tag back to the kernel with its result, and fetch the next. */
void data_commit(struct ublkd_queue *q, struct tag *t)
{
	if (t->registered) {
		struct io_uring_sqe *sqe = queue_prep_io_cmd(q, t, UBLK_U_IO_UNREGISTER_IO_BUF,
							     0, t->io.tag, UD_UNREGISTER);

		/* Per tag, linked before the commit; batch I/O's commit goes
		 * out later in the same enter, and the kernel runs the SQEs
		 * in order. */
		sqe->flags |= (q->batch ? 0 : IOSQE_IO_HARDLINK) | IOSQE_CQE_SKIP_SUCCESS;
		t->registered = 0;
	}
	if (t->shmem) {
		t->io.buf = queue_tag_buf(q, t->io.tag);
		t->shmem = 0;
	} else if (t->bounce) {
		if (t->io.op == UBLK_IO_OP_READ && t->result > 0) {
			memcpy(t->bounce, t->io.buf, (size_t)t->result);
			stats_copied(q, t->result);
		}
		t->bounce = NULL;
	} else if (t->io.op == UBLK_IO_OP_READ && t->result > 0 &&
		   q->data_mode == UBLKD_DATA_COPY) {
		stats_copied(q, t->result);
	}
	stats_commit(q, &t->io, t->result);
	q->nr_busy--;
	if (q->batch)
		batch_commit(q, t);
	else
		queue_submit_fetch(q, t, UBLK_U_IO_COMMIT_AND_FETCH_REQ);
}

static const char *state_name(unsigned int state)
{
	switch (state) {
	case TAG_FETCHING:	return "already completed";
	case TAG_FINISHING:	return "being completed";
	case TAG_DEAD:		return "aborted by the kernel";
	default:		return "not with the target";
	}
}

/* A completion of a tag the target does not hold: a target bug.  Acting on
 * it would commit the tag twice (the kernel refuses the second commit and
 * the tag is lost) or complete the tag's next request with this result. */
static void bad_completion(struct ublkd_queue *q, struct tag *t, int result)
{
	q->nr_bad_completions++;
	if (t->warned || q->bad_logged >= 16)
		return;		/* once per tag, at most 16 per queue */
	t->warned = 1;
	q->bad_logged++;
	ublkd_error("queue %u tag %u: target %s completed a request that is %s (result %d): "
		    "a target bug (completed twice?); ignored", q->q_id, t->io.tag,
		    q->dev->target.ops->name, state_name(t->state), result);
}

void ublkd_complete(struct ublkd_queue *q, struct ublkd_io *io, int result)
{
	struct tag *t = io_to_tag(io);

	if (t->state != TAG_TARGET && t->state != TAG_PREPARING) {
		bad_completion(q, t, result);
		return;
	}
	t->result = result;
	if (io->op == UBLK_IO_OP_READ && result > 0 && !t->shmem && !t->bounce &&
	    q->data_mode == UBLKD_DATA_USER_COPY) {
		t->state = TAG_FINISHING;
		t->copies = 1;
		t->copy_err = 0;
		prep_copy(q, t, UD_UCOPY, 1, t->io.buf, (uint32_t)result);
		if (t->md_kernel) {
			/* The tuples of the blocks read (a short read has fewer). */
			t->md_len = md_bytes(q, (uint32_t)result);
			t->copies++;
			md_unwritten(q, t, t->md_len);
			prep_copy(q, t, UD_MDCOPY, 1, queue_tag_md(q, t->io.tag), t->md_len);
		}
		return;
	}
	data_commit(q, t);
}

/* A user copy moved res bytes, not what it should have: the request fails
 * with the first such error. */
static void copy_failed(struct tag *t, int res)
{
	if (!t->copy_err)
		t->copy_err = res < 0 ? res : -EIO;
}

/* One of the request's user copies (data, metadata) is done; after the
 * last, a WRITE goes to the target and a READ is committed. */
static void copy_done(struct ublkd_queue *q, struct tag *t)
{
	if (--t->copies)
		return;
	if (t->state == TAG_PREPARING && !t->copy_err) {
		to_target(q, t);
		return;
	}
	if (t->copy_err)
		t->result = t->copy_err;
	data_commit(q, t);
}

/* Completions of ublkd's own per-request SQEs. */
void data_cqe(struct ublkd_queue *q, struct tag *t, unsigned int kind,
	      const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	switch (kind) {
	case UD_REGISTER:
		if (res < 0) {
			ublkd_warn("queue %u tag %u: cannot register request buffer: %s",
				   q->q_id, t->io.tag, strerror(-res));
			t->result = -EIO;
			data_commit(q, t);
			return;
		}
		t->registered = 1;
		to_target(q, t);
		return;
	case UD_UNREGISTER:
		/* Only failures reach here (success CQEs are skipped). */
		ublkd_warn("queue %u tag %u: cannot unregister request buffer: %s",
			   q->q_id, t->io.tag, strerror(-res));
		return;
	case UD_UCOPY:
		if (res > 0)
			stats_copied(q, res);
		if (t->state == TAG_PREPARING) {
			if (res != (int)t->io.len) {
				ublkd_warn("queue %u tag %u: user copy of %u bytes moved %d",
					   q->q_id, t->io.tag, t->io.len, res);
				copy_failed(t, res);
			}
		} else if (res != t->result) {
			copy_failed(t, res);
		}
		copy_done(q, t);
		return;
	case UD_MDCOPY:
		if (res != (int)t->md_len) {
			ublkd_warn("queue %u tag %u: copy of the %s's metadata (%u bytes) moved %d",
				   q->q_id, t->io.tag, ublkd_op_name(t->io.op), t->md_len, res);
			copy_failed(t, res);
		}
		copy_done(q, t);
		return;
	}
}

/* ZC_FUSED: one 128-byte SQE; the first half is the primary, a ublk command
 * that lends the request's pages, the second half the secondary read or
 * write against the target's file, addressing the lent buffer by offset. */
static void prep_fused_rw(struct ublkd_queue *q, struct ublkd_io *io,
			  struct io_uring_sqe *sqe, enum ublkd_op op, int fd,
			  uint64_t file_off, uint32_t buf_off, uint32_t len, int rw_flags)
{
	struct io_uring_sqe *secondary = sqe + 1;
	struct ublksrv_io_cmd *cmd;

	uring_cmd_prep(sqe, q->char_fd, UBLK_U_IO_FUSED_SUBMIT_IO);
	sqe->opcode = IORING_OP_FUSED_CMD_UBLKD;
	cmd = uring_cmd_payload(sqe);
	cmd->q_id = q->q_id;
	cmd->tag = io->tag;
	io_uring_prep_rw(op == UBLKD_OP_READ ? IORING_OP_READ : IORING_OP_WRITE,
			 secondary, fd, (void *)(uintptr_t)buf_off, len, file_off);
	secondary->rw_flags = rw_flags;
}

void ublkd_prep_rw(struct ublkd_queue *q, struct ublkd_io *io,
		   struct io_uring_sqe *sqe, enum ublkd_op op, int fd,
		   uint64_t file_off, uint32_t buf_off, uint32_t len, int rw_flags)
{
	unsigned int i;

	if (q->zc == ZC_FUSED) {
		/* Both halves name their files by fd, as they always have. */
		prep_fused_rw(q, io, sqe, op, fd, file_off, buf_off, len, rw_flags);
		return;
	}
	if (q->data_mode == UBLKD_DATA_ZERO_COPY) {
		/* A registered request buffer starts at address 0. */
		io_uring_prep_rw(op == UBLKD_OP_READ ? IORING_OP_READ_FIXED :
				 IORING_OP_WRITE_FIXED, sqe, fd,
				 (void *)(uintptr_t)buf_off, len, file_off);
		sqe->buf_index = io->tag;
	} else {
		io_uring_prep_rw(op == UBLKD_OP_READ ? IORING_OP_READ : IORING_OP_WRITE,
				 sqe, fd, (char *)io->buf + buf_off, len, file_off);
	}
	sqe->rw_flags = rw_flags;
	/* A file the target registered for this queue: its fixed slot. */
	for (i = 0; i < q->nr_files; i++) {
		if (q->files[i] == fd) {
			sqe->fd = (int)i + 1;
			sqe->flags |= IOSQE_FIXED_FILE;
			break;
		}
	}
}
