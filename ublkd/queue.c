/* SPDX-License-Identifier: MIT */
/*
 * queue.c - one thread per hardware queue (or --threads per queue, each
 * serving its share of the tags), each with its own io_uring.
 *
 * The loop: submit everything queued and wait for at least one completion
 * (one io_uring_enter both commits finished requests and starts new target
 * I/O), then dispatch each CQE by the kind encoded in its user_data.  A
 * FETCH/COMMIT_AND_FETCH completion means "tag T has a new request".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"
#include "stats.h"
#include "uring-cmd.h"

/* Every ublk I/O command ublkd sends for a tag (FETCH, COMMIT_AND_FETCH,
 * NEED_GET_DATA, REGISTER_IO_BUF, UNREGISTER_IO_BUF) is prepared here, on
 * /dev/ublkcN's registered-file slot where the ring has one. */
struct io_uring_sqe *queue_prep_io_cmd(struct ublkd_queue *q, struct tag *t,
				       unsigned int cmd_op, int32_t result,
				       uint64_t addr, unsigned int kind)
{
	struct io_uring_sqe *sqe = ublkd_get_sqe(q);
	struct ublksrv_io_cmd *cmd;

	uring_cmd_prep(sqe, q->cmd_fd, cmd_op);
	sqe->flags = q->file_flags;
	cmd = uring_cmd_payload(sqe);
	cmd->q_id = q->q_id;
	cmd->tag = t->io.tag;
	cmd->result = result;
	cmd->addr = addr;
	sqe->user_data = ud_make(t->io.tag, kind, 0);
	return sqe;
}

/* Queue and re-arm the fetch for a tag: FETCH_REQ at start, then
 * COMMIT_AND_FETCH_REQ carrying the previous request's result.  In copy
 * mode the kernel copies to and from the tag's buffer. */
void queue_submit_fetch(struct ublkd_queue *q, struct tag *t, unsigned int cmd_op)
{
	uint64_t addr = q->data_mode == UBLKD_DATA_COPY ? (uint64_t)(uintptr_t)t->io.buf : 0;
	struct io_uring_sqe *sqe = queue_prep_io_cmd(q, t, cmd_op, t->result, addr, UD_CMD);

	if (q->zc == ZC_AUTO) {
		unsigned int index = t->io.tag;

		if (q->reg_miss_every && ++q->nr_fetches % q->reg_miss_every == 0)
			index = q->depth;	/* no such slot: the kernel falls back */
		sqe->addr = ublk_auto_buf_reg_addr(index, UBLK_AUTO_BUF_REG_FALLBACK);
	}
	t->state = TAG_FETCHING;
}

static void arm_stop_poll(struct ublkd_queue *q)
{
	struct io_uring_sqe *sqe = ublkd_get_sqe(q);

	io_uring_prep_read(sqe, q->stop_efd, &q->stop_val, sizeof(q->stop_val), 0);
	sqe->user_data = ud_make(UD_NO_TAG, UD_STOP, 0);
}

/* NEED_GET_DATA (-g 1): a WRITE arrived without its data; hand the kernel
 * the tag's buffer to copy it into.  This command completes like a fetch. */
static void submit_get_data(struct ublkd_queue *q, struct tag *t)
{
	queue_prep_io_cmd(q, t, UBLK_U_IO_NEED_GET_DATA, 0, (uint64_t)(uintptr_t)t->io.buf,
			  UD_CMD);
	t->state = TAG_FETCHING;
}

/* The main thread wrote stop_efd: the device is about to stop (drain:
 * keep serving, but start the clock on requests the target holds), or
 * it has stopped (exit once the target holds nothing). */
static void on_stop_request(struct ublkd_queue *q)
{
	int phase = __atomic_load_n(&q->stop_phase, __ATOMIC_ACQUIRE);

	if (phase >= QUEUE_DRAIN && !q->drain_start_ms)
		q->drain_start_ms = ublkd_now_ms() | 1;
	if (phase >= QUEUE_STOP)
		q->stopping = 1;
	else
		arm_stop_poll(q);
}

/* While the device stops, a request the target has held for STOP_GRACE_MS
 * (counted from the stop at the earliest) is failed with EIO: otherwise
 * the kernel's STOP_DEV waits for it forever, and so does `ublk del`. */
static void fail_stuck_requests(struct ublkd_queue *q)
{
	uint64_t now = ublkd_now_ms();
	unsigned int i, failed = 0;

	for (i = 0; i < q->depth; i++) {
		struct tag *t = &q->tags[i];
		uint64_t from = t->since_ms > q->drain_start_ms ? t->since_ms : q->drain_start_ms;

		/* from may be a millisecond ahead of now (drain_start_ms is
		 * now | 1): unsigned now - from would then look like ages. */
		if (t->state != TAG_TARGET || now < from || now - from < STOP_GRACE_MS)
			continue;
		if (failed++ < 8)
			ublkd_error("queue %u tag %u: target %s never completed a %s of %u bytes "
				    "at offset %llu (held %.1f s): failing it with EIO so that the "
				    "device can stop", q->q_id, i, q->dev->target.ops->name,
				    ublkd_op_name(t->io.op), t->io.len, (unsigned long long)t->io.offset,
				    (now - t->since_ms) / 1000.0);
		ublkd_complete(q, &t->io, -EIO);
	}
	if (failed > 8)
		ublkd_error("queue %u: %u more requests the target never completed were failed",
			    q->q_id, failed - 8);
}

/* Tag t has a new request (a fetch completed, or a batch fetch named it). */
void queue_new_request(struct ublkd_queue *q, struct tag *t)
{
	q->nr_busy++;
	q->nr_requests++;
	stats_arrive(q, t->io.tag);
	data_request(q, t);
}

/* A FETCH, COMMIT_AND_FETCH or NEED_GET_DATA completed. */
static void on_cmd_cqe(struct ublkd_queue *q, struct tag *t, int res)
{
	if (res == UBLK_IO_RES_NEED_GET_DATA && q->need_get_data) {
		submit_get_data(q, t);
		return;
	}
	if (res == UBLK_IO_RES_OK) {
		queue_new_request(q, t);
		return;
	}
	if (res != UBLK_IO_RES_ABORT && res != -ECANCELED)
		ublkd_warn("queue %u tag %u: ublk command failed: %s",
			   q->q_id, t->io.tag, strerror(-res));
	t->state = TAG_DEAD;
	q->nr_live--;
}

static void dispatch(struct ublkd_queue *q, const struct io_uring_cqe *cqe)
{
	uint64_t ud = cqe->user_data;
	unsigned int kind = ud_kind(ud), tag = ud_tag(ud);
	struct tag *t = tag < q->depth ? &q->tags[tag] : NULL;

	switch (kind) {
	case UD_CMD:
		on_cmd_cqe(q, t, cqe->res);
		break;
	case UD_TARGET:
		if (q->io_done)
			q->io_done(q, t ? &t->io : NULL, ud_cookie(ud), cqe);
		else if (t)
			ublkd_complete(q, &t->io, -EIO);	/* a target bug: fail, never hang */
		break;
	case UD_STOP:
		on_stop_request(q);
		break;
	case UD_FETCH:
		batch_fetch_cqe(q, cqe);
		break;
	case UD_COMMIT:
		batch_commit_cqe(q, ud_cookie(ud), cqe->res);
		break;
	default:
		data_cqe(q, t, kind, cqe);
		break;
	}
}

/* The registered-file table: /dev/ublkcN in slot QUEUE_FILE_CHAR, the
 * rest empty for the target (ublkd_queue_register_file()).  A fixed file
 * saves every SQE the file lookup and reference count; without the table
 * (a kernel that refuses it) SQEs name the fd itself. */
static void register_files(struct ublkd_queue *q)
{
	int fds[QUEUE_NR_FILES], i, ret;

	for (i = 0; i < QUEUE_NR_FILES; i++)
		fds[i] = -1;	/* empty slot */
	fds[QUEUE_FILE_CHAR] = q->char_fd;
	ret = io_uring_register_files(&q->ring, fds, QUEUE_NR_FILES);
	if (ret < 0) {
		ublkd_debug("queue %u: no registered files (%s): SQEs name the fds",
			    q->q_id, strerror(-ret));
		return;
	}
	q->cmd_fd = QUEUE_FILE_CHAR;
	q->file_flags = IOSQE_FIXED_FILE;
}

int ublkd_queue_register_file(struct ublkd_queue *q, int fd)
{
	int ret;

	if (fd < 0)
		return -EBADF;
	if (!q->file_flags)
		return -EOPNOTSUPP;
	if (q->nr_files >= QUEUE_NR_FILES - 1)
		return -ENOSPC;
	ret = io_uring_register_files_update(&q->ring, q->nr_files + 1, &fd, 1);
	if (ret < 0)
		return ret;
	q->files[q->nr_files++] = fd;
	return 0;
}

static int ring_setup(struct ublkd_queue *q)
{
	unsigned int entries = 8;
	struct io_uring_params p;
	int ret;

	while (entries < 2 * q->depth + 8)
		entries <<= 1;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE |
		  IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER |
		  IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = entries * 2;
	ret = io_uring_queue_init_params(entries, &q->ring, &p);
	if (ret == -EINVAL) {
		/* Kernels before 6.1 lack the task-run flags. */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 2;
		ret = io_uring_queue_init_params(entries, &q->ring, &p);
	}
	if (ret < 0) {
		ublkd_error("queue %u: cannot set up io_uring: %s", q->q_id, strerror(-ret));
		return ret;
	}
	q->ring_up = 1;
	register_files(q);
	/* Each io_uring_enter then skips the ring fd's lookup (5.18+). */
	if (io_uring_register_ring_fd(&q->ring) < 0)
		ublkd_debug("queue %u: io_uring ring fd not registered", q->q_id);
	if (q->zc == ZC_AUTO || q->zc == ZC_REGISTER) {
		/* Testing aid: a table past the kernel's limit fails for real. */
		ret = io_uring_register_buffers_sparse(&q->ring, getenv("UBLKD_TEST_SPARSE_FAIL") ?
						       UBLKD_TEST_SPARSE_TOO_MANY : q->depth);
		if (ret < 0) {
			ublkd_error("queue %u: cannot register a sparse buffer table of %u "
				    "entries for zero copy: %s", q->q_id, q->depth, strerror(-ret));
			return ret;	/* queue_teardown() exits the ring */
		}
	}
	return 0;
}

static int queue_setup(struct ublkd_queue *q)
{
	struct ublkd_dev *dev = q->dev;
	const struct ublkd_target_ops *ops = dev->target.ops;
	long page = sysconf(_SC_PAGESIZE);
	size_t off;
	unsigned int i;
	int ret;

	if (CPU_COUNT(&q->affinity))
		pthread_setaffinity_np(pthread_self(), sizeof(q->affinity), &q->affinity);

	/* The kernel's read-only descriptor array for this queue. */
	q->descs_len = (q->depth * sizeof(struct ublksrv_io_desc) + page - 1) & ~(page - 1);
	off = UBLKSRV_CMD_BUF_OFFSET + (size_t)q->q_id *
	      ((UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc) + page - 1) & ~(page - 1));
	q->descs = mmap(NULL, q->descs_len, PROT_READ, MAP_SHARED | MAP_POPULATE,
			q->char_fd, off);
	if (q->descs == MAP_FAILED) {
		ret = -errno;
		q->descs = NULL;
		ublkd_error("queue %u: cannot map I/O descriptors: %s", q->q_id, strerror(-ret));
		return ret;
	}

	ret = ring_setup(q);
	if (ret < 0)
		return ret;

	for (i = 0; i < q->depth; i++) {
		struct tag *t = &q->tags[i];

		t->io.q_id = q->q_id;
		t->io.tag = i;
		if (q->bufs)
			t->io.buf = queue_tag_buf(q, i);
		if (ops->io_priv_size)
			t->io.priv = (char *)q->io_privs + i * ops->io_priv_size;
	}

	if (ops->queue_init) {
		ret = ops->queue_init(q);
		if (ret < 0) {
			ublkd_error("queue %u: target %s could not set up the queue", q->q_id, ops->name);
			return ret;
		}
	}

	/* With --threads, this thread's tags are thread_idx, thread_idx + nr_threads,
	 * ...: the kernel (UBLK_F_PER_IO_DAEMON) then sends each tag's
	 * requests to the thread that fetched it, and takes its commits only
	 * from there.  Interleaved, not in blocks: the block layer hands out
	 * low tags first, and each thread gets its share of them. */
	q->nr_live = 0;
	if (dev->batch_io) {
		ret = batch_setup(q);	/* batch_live(), not nr_live, from here */
		if (ret < 0)
			return ret;
		goto submit;
	}
	for (i = 0; i < q->depth; i++) {
		if (i % q->nr_threads != q->thread_idx) {
			q->tags[i].state = TAG_DEAD;	/* another thread's */
			continue;
		}
		queue_submit_fetch(q, &q->tags[i], UBLK_U_IO_FETCH_REQ);
		q->nr_live++;
	}
submit:
	arm_stop_poll(q);
	ret = io_uring_submit(&q->ring);
	return ret < 0 ? ret : 0;
}

static void report(struct ublkd_queue *q, int result)
{
	struct ublkd_dev *dev = q->dev;

	pthread_mutex_lock(&dev->lock);
	q->init_result = result;
	dev->nr_ready++;
	pthread_cond_broadcast(&dev->cond);
	pthread_mutex_unlock(&dev->lock);
}

/* Submit, and wait for a completion; while the device stops, at most a
 * second, so that requests the target never completes are noticed. */
static int submit_and_wait(struct ublkd_queue *q)
{
	struct __kernel_timespec tick = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;
	int ret;

	if (!q->drain_start_ms)
		ret = io_uring_submit_and_wait(&q->ring, 1);
	else
		ret = io_uring_submit_and_wait_timeout(&q->ring, &cqe, 1, &tick, NULL);
	if (q->fail_after && q->nr_requests >= q->fail_after) {
		q->fail_what = "io_uring_enter (injected by UBLKD_TEST_QUEUE_FAIL)";
		return -EIO;
	}
	q->fail_what = "io_uring_enter";
	return ret == -EINTR || ret == -EAGAIN || ret == -EBUSY || ret == -ETIME ? 0 : ret;
}

static void queue_loop(struct ublkd_queue *q)
{
	const struct ublkd_target_ops *ops = q->dev->target.ops;
	struct io_uring_cqe *cqe;
	unsigned int head, n;
	int ret;

	/* Serve until the kernel aborted every tag, or we were asked to stop
	 * and nothing is left with the target. */
	stats_batch_start(q);
	while ((q->batch ? batch_live(q) != 0 : q->nr_live != 0) && !(q->stopping && !q->nr_busy)) {
		if (ops->queue_idle)
			ops->queue_idle(q);
		stats_batch_end(q);
		ret = q->batch ? batch_flush(q) : 0;
		if (ret < 0)
			q->fail_what = "the batch commit (out of memory)";
		else
			ret = submit_and_wait(q);
		if (ret < 0) {
			/* The main thread logs it and exits: see serve(). */
			__atomic_store_n(&q->fail_err, ret, __ATOMIC_RELEASE);
			return;
		}
		stats_batch_start(q);	/* one clock read per batch, for both */
		q->now_ms = q->stats->batch_ns / 1000000;
		n = 0;
		io_uring_for_each_cqe(&q->ring, head, cqe) {
			dispatch(q, cqe);
			n++;
		}
		io_uring_cq_advance(&q->ring, n);
		if (q->drain_start_ms && q->nr_busy)
			fail_stuck_requests(q);
	}
	stats_batch_end(q);
	/* The last requests' commits may still be queued: hand them to the
	 * kernel, which otherwise takes those requests back as unfinished
	 * (after a handover it would issue them again to the next daemon). */
	if (q->stopping && q->batch && batch_flush(q) < 0)
		ublkd_warn("queue %u: out of memory for the last commits", q->q_id);
	if (q->stopping && io_uring_sq_ready(&q->ring))
		io_uring_submit(&q->ring);
}

static void queue_teardown(struct ublkd_queue *q)
{
	const struct ublkd_target_ops *ops = q->dev->target.ops;

	if (q->nr_bad_completions)
		ublkd_error("queue %u: target %s completed %llu requests that were not its to "
			    "complete (twice, or after they were failed); ignored", q->q_id,
			    ops->name, (unsigned long long)q->nr_bad_completions);
	if (ops->queue_exit)
		ops->queue_exit(q);
	if (q->ring_up)
		io_uring_queue_exit(&q->ring);
	q->ring_up = 0;
	batch_free(q);
	if (q->descs)
		munmap((void *)q->descs, q->descs_len);
	q->descs = NULL;
}

/* A thread that serves I/O must not wait for its own device's writeback
 * when it allocates memory: PR_SET_IO_FLUSHER makes its allocations
 * GFP_NOIO (and exempts it from the writeback throttle of its device). */
static void set_io_flusher(struct ublkd_queue *q)
{
	static int warned;

	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) < 0 &&
	    !__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		ublkd_warn("cannot mark the queue threads as I/O flushers (PR_SET_IO_FLUSHER: "
			   "%s; it needs CAP_SYS_RESOURCE and Linux 5.6+): under memory "
			   "pressure, writeback to this device can deadlock", strerror(errno));
}

static void *queue_thread(void *arg)
{
	struct ublkd_queue *q = arg;
	uint64_t one = 1;
	char name[16];
	int ret;

	/* `ublk list` finds the queue threads' tids by this name: a queue's
	 * first thread is ublkd-qN, its others (--threads) ublkd-qN.T. */
	if (q->thread_idx)
		snprintf(name, sizeof(name), "ublkd-q%u.%u", (uint8_t)q->q_id,
			 (uint8_t)q->thread_idx);	/* < MAX_QUEUES, MAX_THREADS */
	else
		snprintf(name, sizeof(name), "ublkd-q%u", q->q_id);
	pthread_setname_np(pthread_self(), name);
	set_io_flusher(q);
	ret = queue_setup(q);
	report(q, ret);
	if (ret == 0)
		queue_loop(q);
	/* A queue that failed keeps its ring and its requests: the main
	 * thread exits the process at once (exit_if_a_queue_failed), so the
	 * kernel sees what it sees after a crash, every ring closing together.
	 * Closing this one first, while the daemon still lived, once left
	 * 6.12 holding the device live and unrecoverable (core/140). */
	if (!__atomic_load_n(&q->fail_err, __ATOMIC_ACQUIRE))
		queue_teardown(q);
	if (write(q->dev->exit_efd, &one, sizeof(one)) < 0)
		ublkd_warn("queue %u: cannot report exit", q->q_id);
	return NULL;
}

int queue_start(struct ublkd_queue *q)
{
	struct ublkd_dev *dev = q->dev;
	const struct ublkd_target_ops *ops = dev->target.ops;
	const char *env;
	int ret;

	q->depth = dev->info.queue_depth;
	q->char_fd = dev->char_fd;
	q->cmd_fd = dev->char_fd;	/* until ring_setup() registers it */
	q->file_flags = 0;
	q->data_mode = dev->cfg.data_mode;
	q->zc = dev->zc;
	q->need_get_data = !!dev->cfg.need_get_data;
	q->max_io_bytes = dev->max_io_bytes;
	q->shmem_base = dev->shmem_base;
	q->shmem_len = dev->shmem_len;
	q->target_features = ops->features;
	q->queue_io = ops->queue_io;
	q->io_done = ops->io_done;
	env = getenv("UBLKD_TEST_AUTO_REG_MISS");
	if (env && q->zc == ZC_AUTO)
		q->reg_miss_every = (unsigned int)strtoul(env, NULL, 10);
	env = getenv("UBLKD_TEST_QUEUE_FAIL");	/* Q:N */
	if (env && strtoul(env, NULL, 10) == q->q_id && strchr(env, ':'))
		q->fail_after = strtoull(strchr(env, ':') + 1, NULL, 10);
	q->stop_efd = eventfd(0, EFD_CLOEXEC);
	if (q->stop_efd < 0)
		return -errno;
	q->tags = calloc(q->depth, sizeof(*q->tags));
	if (!q->tags)
		return -ENOMEM;
	if (ops->io_priv_size) {
		q->io_privs = calloc(q->depth, ops->io_priv_size);
		if (!q->io_privs)
			return -ENOMEM;
	}
	if (q->data_mode != UBLKD_DATA_ZERO_COPY) {
		/* Page-aligned per-tag buffers; untouched pages cost nothing. */
		q->bufs_len = (size_t)q->depth * dev->max_io_bytes;
		q->bufs = mmap(NULL, q->bufs_len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (q->bufs == MAP_FAILED) {
			q->bufs = NULL;
			return -ENOMEM;
		}
	}
	q->md_size = (uint8_t)integrity_tuple_size(dev->cfg.integrity);
	q->lbs_shift = (uint8_t)__builtin_ctz(dev->target.setup.logical_block_size);
	if (q->md_size) {
		q->md_max = (dev->max_io_bytes >> q->lbs_shift) * q->md_size;
		q->md_bufs_len = (size_t)q->depth * q->md_max;
		q->md_bufs = mmap(NULL, q->md_bufs_len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (q->md_bufs == MAP_FAILED) {
			q->md_bufs = NULL;
			return -ENOMEM;
		}
	}
	ret = pthread_create(&q->thread, NULL, queue_thread, q);
	return -ret;
}

static void signal_queue(struct ublkd_queue *q, int phase)
{
	uint64_t one = 1;

	__atomic_store_n(&q->stop_phase, phase, __ATOMIC_RELEASE);
	if (q->stop_efd >= 0 && write(q->stop_efd, &one, sizeof(one)) < 0)
		ublkd_warn("queue %u: cannot signal stop", q->q_id);
}

void queue_request_drain(struct ublkd_queue *q)
{
	signal_queue(q, QUEUE_DRAIN);
}

void queue_request_stop(struct ublkd_queue *q)
{
	signal_queue(q, QUEUE_STOP);
}

void queue_join(struct ublkd_queue *q)
{
	pthread_join(q->thread, NULL);
	if (q->stop_efd >= 0)
		close(q->stop_efd);
	if (q->bufs)
		munmap(q->bufs, q->bufs_len);
	if (q->md_bufs)
		munmap(q->md_bufs, q->md_bufs_len);
	free(q->tags);
	free(q->io_privs);
}
