// SPDX-License-Identifier: GPL-2.0
/*
 * fused-test - checks the rules of the fused-command zero-copy series
 * (kernel/patches) on a running kernel: creates its own ublk device through
 * /dev/ublk-control with UBLK_F_FUSED_ZERO_COPY and drives it.
 *
 * Needs root and a kernel with the series; exits 77 (skip) when the kernel
 * does not report UBLK_F_FUSED_ZERO_COPY.  Output: one "ok"/"not ok" line
 * per check, then "N passed, M failed".
 *
 * The server side: one queue thread owns the device's queue 0 (FETCH and
 * COMMIT_AND_FETCH on its own SQE128 ring).  In "auto" mode it serves each
 * request itself through fused commands against a memfd backing file (this
 * serves the partition scan at START_DEV).  In "manual" mode it hands the
 * request to the main thread, which issues fused commands from ITS OWN ring
 * (so from another task) and then asks the queue thread to commit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <liburing.h>

#include "ublk-abi.h"

/* ---- the series' UAPI (kernel/README), by number for older headers ---- */
#ifndef UBLK_F_FUSED_ZERO_COPY
#define UBLK_F_FUSED_ZERO_COPY		(1ULL << 48)
#endif
#ifndef UBLK_IO_FUSED_SUBMIT_IO
#define UBLK_IO_FUSED_SUBMIT_IO		0x30
#endif
#ifndef UBLK_U_IO_FUSED_SUBMIT_IO
#define UBLK_U_IO_FUSED_SUBMIT_IO	UBLK_U_IO(UBLK_IO_FUSED_SUBMIT_IO)
#endif
#ifndef IORING_OP_FUSED_CMD_UBLKD
#define IORING_OP_FUSED_CMD_UBLKD	255
#endif
#define FUSED_OP			IORING_OP_FUSED_CMD_UBLKD

#define DEPTH		4
#define DEV_BYTES	(16u << 20)
#define MAX_IO		(512u << 10)

/* user_data: type in the top byte, tag/index below */
enum { UD_IO = 1, UD_FUSED, UD_EVENT, UD_TEST };
#define UD(t, v)	((uint64_t)(t) << 56 | (uint64_t)(v))
#define UD_TYPE(u)	((unsigned int)((u) >> 56))
#define UD_VAL(u)	((unsigned int)((u) & 0xffffffffu))

static int passed, failed;
static int ctrl_fd, char_fd = -1, backing_fd, blk_fd = -1;
static unsigned int dev_id;
static struct ublksrv_io_desc *descs;
static struct io_uring ring_m;		/* the main (test) thread's ring */

/* state shared with the queue thread */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool manual, quit;
static int pending_tag = -1;			/* manual: request waiting */
static int commit_tag = -1, commit_res;		/* manual: commit wanted */
static int efd;

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", ok ? "ok" : "not ok", passed + failed + 1);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (ok)
		passed++;
	else
		failed++;
}

static void die(const char *what)
{
	fprintf(stderr, "fused-test: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ------------------------------------------------------------ SQE helpers */
static struct io_uring_sqe *get_sqe(struct io_uring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(r);

	if (!sqe) {
		io_uring_submit(r);
		sqe = io_uring_get_sqe(r);
	}
	memset(sqe, 0, 2 * sizeof(*sqe));
	return sqe;
}

static void prep_io_cmd(struct io_uring_sqe *sqe, int fd, unsigned int op,
			unsigned int tag, int result)
{
	struct ublksrv_io_cmd *c = (void *)sqe->cmd;

	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	c->q_id = 0;
	c->tag = tag;
	c->result = result;
}

/*
 * The fused command: primary (first 64 bytes) = UBLK_U_IO_FUSED_SUBMIT_IO
 * for (q 0, tag) on primary_fd; secondary (next 64 bytes) = an ordinary
 * read/write on file_fd at file offset off, whose addr is a byte offset into
 * the request's buffer (or an iovec array of such offsets for READV/WRITEV).
 */
static void prep_fused(struct io_uring_sqe *sqe, int primary_fd, unsigned int tag,
		       int sec_op, int file_fd, uint64_t off, uint64_t buf_off,
		       uint32_t len, uint64_t user_data)
{
	struct io_uring_sqe *sec = sqe + 1;
	struct ublksrv_io_cmd *c = (void *)sqe->cmd;

	sqe->opcode = FUSED_OP;
	sqe->fd = primary_fd;
	sqe->cmd_op = UBLK_U_IO_FUSED_SUBMIT_IO;
	sqe->user_data = user_data;
	c->q_id = 0;
	c->tag = tag;

	sec->opcode = sec_op;
	sec->fd = file_fd;
	sec->off = off;
	sec->addr = buf_off;
	sec->len = len;
}

/* Submit what is queued on ring_m and wait for the CQE of user_data. */
static int wait_ud(struct io_uring *r, uint64_t ud, int timeout_ms)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (timeout_ms % 1000) * 1000000LL,
	};
	int ret;

	io_uring_submit(r);
	for (;;) {
		ret = io_uring_wait_cqe_timeout(r, &cqe, &ts);
		if (ret == -ETIME)
			return -ETIME;
		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			errno = -ret;
			die("io_uring_wait_cqe");
		}
		if (cqe->user_data == ud) {
			ret = cqe->res;
			io_uring_cqe_seen(r, cqe);
			return ret;
		}
		fprintf(stderr, "fused-test: unexpected CQE %llx res %d\n",
			(unsigned long long)cqe->user_data, cqe->res);
		io_uring_cqe_seen(r, cqe);
	}
}

/* Queue one fused command (its secondary: op on fd at off, len bytes at
 * buf_off in the lent buffer) on ring_m and wait up to 5 s for its result. */
static int fused_once(unsigned int tag, int op, int fd, uint64_t off, uint64_t buf_off,
		      uint32_t len, unsigned int n)
{
	prep_fused(get_sqe(&ring_m), char_fd, tag, op, fd, off, buf_off, len, UD(UD_TEST, n));
	return wait_ud(&ring_m, UD(UD_TEST, n), 5000);
}

/* Wait for n CQEs of type UD_TEST; results stored by index. */
static int wait_many(struct io_uring *r, int n, int *res, int timeout_ms)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000 };
	int got = 0, ret;

	io_uring_submit(r);
	while (got < n) {
		ret = io_uring_wait_cqe_timeout(r, &cqe, &ts);
		if (ret == -ETIME)
			return got;
		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			errno = -ret;
			die("io_uring_wait_cqe");
		}
		if (UD_TYPE(cqe->user_data) == UD_TEST)
			res[UD_VAL(cqe->user_data)] = cqe->res;
		io_uring_cqe_seen(r, cqe);
		got++;
	}
	return got;
}

/* ------------------------------------------------------------- control */
static int ctrl_cmd_path(unsigned int op, uint32_t id, void *buf, uint16_t len,
			 uint64_t data, const char *dev_path);

static int ctrl_cmd(unsigned int op, uint32_t id, void *buf, uint16_t len,
		    uint64_t data)
{
	return ctrl_cmd_path(op, id, buf, len, data, NULL);
}

/* dev_path: the char device, which commands on unprivileged devices need
 * (then buf must be NULL: the path is the buffer) */
static int ctrl_cmd_path(unsigned int op, uint32_t id, void *buf, uint16_t len,
			 uint64_t data, const char *dev_path)
{
	struct io_uring r;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct ublksrv_ctrl_cmd *c;
	int ret;

	if (io_uring_queue_init(4, &r, IORING_SETUP_SQE128))
		die("io_uring_queue_init (ctrl)");
	sqe = get_sqe(&r);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = ctrl_fd;
	sqe->cmd_op = op;
	c = (void *)sqe->cmd;
	c->dev_id = id;
	c->queue_id = (uint16_t)-1;
	c->addr = (uintptr_t)buf;
	c->len = len;
	c->data[0] = data;
	if (dev_path) {
		c->addr = (uintptr_t)dev_path;
		c->len = c->dev_path_len = strlen(dev_path);
	}
	io_uring_submit(&r);
	ret = io_uring_wait_cqe(&r, &cqe);
	if (ret < 0) {
		errno = -ret;
		die("ctrl wait");
	}
	ret = cqe->res;
	io_uring_cqe_seen(&r, cqe);
	io_uring_queue_exit(&r);
	return ret;
}

/* ---------------------------------------------------------- queue thread */
static struct io_uring ring_q;
static int q_ready;

static void q_commit(unsigned int tag, int res)
{
	struct io_uring_sqe *sqe = get_sqe(&ring_q);

	prep_io_cmd(sqe, char_fd, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, res);
	sqe->user_data = UD(UD_IO, tag);
}

static void q_arm_event(void)
{
	struct io_uring_sqe *sqe = get_sqe(&ring_q);

	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = efd;
	sqe->poll32_events = POLLIN;
	sqe->user_data = UD(UD_EVENT, 0);
}

/* auto mode: serve the request with one fused command on the backing file */
static void q_serve(unsigned int tag)
{
	const struct ublksrv_io_desc *d = &descs[tag];
	unsigned int op = ublk_desc_op(d);
	uint32_t bytes = d->nr_sectors << 9;
	struct io_uring_sqe *sqe;

	if (op != UBLK_IO_OP_READ && op != UBLK_IO_OP_WRITE) {
		q_commit(tag, op == UBLK_IO_OP_FLUSH ? 0 : -EOPNOTSUPP);
		return;
	}
	sqe = get_sqe(&ring_q);
	prep_fused(sqe, char_fd, tag,
		   op == UBLK_IO_OP_READ ? IORING_OP_READ : IORING_OP_WRITE,
		   backing_fd, d->start_sector << 9, 0, bytes,
		   UD(UD_FUSED, tag));
}

static void *queue_thread(void *arg)
{
	struct io_uring_cqe *cqe;
	unsigned int tag;

	(void)arg;
	if (io_uring_queue_init(64, &ring_q, IORING_SETUP_SQE128))
		die("io_uring_queue_init (queue)");
	for (tag = 0; tag < DEPTH; tag++) {
		struct io_uring_sqe *sqe = get_sqe(&ring_q);

		prep_io_cmd(sqe, char_fd, UBLK_U_IO_FETCH_REQ, tag, -1);
		sqe->user_data = UD(UD_IO, tag);
	}
	q_arm_event();
	io_uring_submit(&ring_q);
	pthread_mutex_lock(&mu);
	q_ready = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);

	for (;;) {
		int ret = io_uring_submit_and_wait(&ring_q, 1);

		if (ret < 0 && ret != -EINTR) {
			errno = -ret;
			die("queue submit_and_wait");
		}
		while (io_uring_peek_cqe(&ring_q, &cqe) == 0) {
			uint64_t ud = cqe->user_data;
			int res = cqe->res;

			io_uring_cqe_seen(&ring_q, cqe);
			tag = UD_VAL(ud);
			switch (UD_TYPE(ud)) {
			case UD_IO:
				if (res != UBLK_IO_RES_OK)
					break;	/* aborted: device going away */
				pthread_mutex_lock(&mu);
				if (manual) {
					pending_tag = tag;
					pthread_cond_broadcast(&cv);
					pthread_mutex_unlock(&mu);
				} else {
					pthread_mutex_unlock(&mu);
					q_serve(tag);
				}
				break;
			case UD_FUSED:
				q_commit(tag, res);
				break;
			case UD_EVENT: {
				uint64_t v;

				if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					die("read eventfd");
				pthread_mutex_lock(&mu);
				if (quit) {
					pthread_mutex_unlock(&mu);
					io_uring_queue_exit(&ring_q);
					return NULL;
				}
				if (commit_tag >= 0) {
					q_commit(commit_tag, commit_res);
					commit_tag = -1;
					pthread_cond_broadcast(&cv);
				}
				pthread_mutex_unlock(&mu);
				q_arm_event();
				break;
			}
			}
		}
	}
}

/* manual mode: wait for the request the client just started */
static int wait_request(void)
{
	struct timespec ts;
	int tag;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&mu);
	while (pending_tag < 0)
		if (pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT)
			break;
	tag = pending_tag;
	pending_tag = -1;
	pthread_mutex_unlock(&mu);
	return tag;
}

/* manual mode: have the queue thread commit tag with res */
static void commit(int tag, int res)
{
	uint64_t one = 1;

	pthread_mutex_lock(&mu);
	commit_tag = tag;
	commit_res = res;
	pthread_mutex_unlock(&mu);
	if (write(efd, &one, sizeof(one)) != sizeof(one))
		die("write eventfd");
	pthread_mutex_lock(&mu);
	while (commit_tag >= 0)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

/* --------------------------------------------------------------- client */
struct client {
	pthread_t thread;
	bool write;
	void *buf;
	size_t len;
	off_t off;
	volatile int done;
	ssize_t res;
};

static void *client_thread(void *arg)
{
	struct client *c = arg;

	/* one descriptor opened once: no open/close I/O in manual mode */
	c->res = c->write ? pwrite(blk_fd, c->buf, c->len, c->off)
			  : pread(blk_fd, c->buf, c->len, c->off);
	if (c->res < 0)
		c->res = -errno;
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static struct client *client_start(bool write, size_t len, off_t off)
{
	struct client *c = calloc(1, sizeof(*c));

	/* past the end the block layer answers (EOF, 0 bytes) and no request
	 * ever reaches the server: a test bug, not a kernel one */
	if (off < 0 || (size_t)off + len > DEV_BYTES) {
		fprintf(stderr, "fused-test: client I/O at %lld+%zu is outside the %u-byte device\n",
			(long long)off, len, DEV_BYTES);
		exit(1);
	}
	c->write = write;
	c->len = len;
	c->off = off;
	if (posix_memalign(&c->buf, 4096, len))
		die("posix_memalign");
	memset(c->buf, 0, len);
	pthread_mutex_lock(&mu);
	manual = true;
	pending_tag = -1;
	pthread_mutex_unlock(&mu);
	return c;
}

static void client_go(struct client *c)
{
	if (pthread_create(&c->thread, NULL, client_thread, c))
		die("pthread_create");
}

static ssize_t client_finish(struct client *c)
{
	ssize_t res;

	pthread_join(c->thread, NULL);
	res = c->res;
	pthread_mutex_lock(&mu);
	manual = false;
	pthread_mutex_unlock(&mu);
	return res;
}

static void client_free(struct client *c)
{
	free(c->buf);
	free(c);
}

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 9));
}

static bool backing_equals(int fd, off_t off, const void *want, size_t len)
{
	unsigned char *got = malloc(len);
	bool same;

	same = pread(fd, got, len, off) == (ssize_t)len && !memcmp(got, want, len);
	free(got);
	return same;
}

/* ---------------------------------------------------------------- tests */

/* wrong direction, bad ranges, bad files: all on one READ and one WRITE */
static void test_direction_and_ranges(void)
{
	struct client *c;
	int tag, res;
	struct io_uring_sqe *sqe;

	/* a READ request: its pages may only be written (secondary = read) */
	c = client_start(false, 8192, 1 << 20);
	client_go(c);
	tag = wait_request();
	check(tag >= 0 && ublk_desc_op(&descs[tag]) == UBLK_IO_OP_READ,
	      "READ request delivered (tag %d)", tag);
	if (tag < 0)
		exit(1);

	res = fused_once(tag, IORING_OP_WRITE, backing_fd, 0, 0, 4096, 1);
	check(res == -EINVAL, "READ request lent to a WRITE secondary: %d (want -EINVAL)", res);

	res = fused_once(tag, IORING_OP_WRITE_FIXED, backing_fd, 0, 0, 4096, 2);
	check(res == -EINVAL, "READ request lent to a WRITE_FIXED secondary: %d (want -EINVAL)", res);

	res = fused_once(tag, IORING_OP_READ, backing_fd, 0, 4096, 8192, 3);
	check(res == -EINVAL, "range past the end of the buffer: %d (want -EINVAL)", res);

	res = fused_once(tag, IORING_OP_READ, 9999, 0, 0, 4096, 4);
	check(res == -EBADF, "secondary on a bad fd: %d (want -EBADF)", res);

	sqe = get_sqe(&ring_m);
	prep_io_cmd(sqe, char_fd, UBLK_U_IO_FUSED_SUBMIT_IO, tag, 0);
	sqe->user_data = UD(UD_TEST, 5);
	res = wait_ud(&ring_m, UD(UD_TEST, 5), 5000);
	check(res == -EINVAL, "FUSED_SUBMIT_IO as a plain uring_cmd: %d (want -EINVAL)", res);

	sqe = get_sqe(&ring_m);
	prep_fused(sqe, char_fd, tag, IORING_OP_READ, backing_fd, 0, 0, 4096,
		   UD(UD_TEST, 6));
	((struct ublksrv_io_cmd *)sqe->cmd)->q_id = 1;
	res = wait_ud(&ring_m, UD(UD_TEST, 6), 5000);
	check(res == -EINVAL, "primary for a queue that does not exist: %d (want -EINVAL)", res);

	/* the sub-range read: halves swapped, through READ and READV */
	{
		unsigned char want[8192], hi[4096];
		struct iovec iov[2] = {
			{ .iov_base = (void *)4096, .iov_len = 2048 },
			{ .iov_base = (void *)6144, .iov_len = 2048 },
		};

		fill(want, 8192, 1);
		if (pwrite(backing_fd, want, 8192, 3 << 20) != 8192)
			die("pwrite backing");
		/* buf[4096..8192) <- file[3M .. 3M+4096) via READV of 2 pieces */
		sqe = get_sqe(&ring_m);
		prep_fused(sqe, char_fd, tag, IORING_OP_READV, backing_fd, 3 << 20,
			   (uintptr_t)iov, 2, UD(UD_TEST, 7));
		/* buf[0..4096) <- file[3M+4096 .. 3M+8192) via READ */
		sqe = get_sqe(&ring_m);
		prep_fused(sqe, char_fd, tag, IORING_OP_READ, backing_fd,
			   (3 << 20) + 4096, 0, 4096, UD(UD_TEST, 8));
		{
			int r[9] = { 0 };

			res = wait_many(&ring_m, 2, r, 5000);
			check(res == 2 && r[7] == 4096 && r[8] == 4096,
			      "READV and READ into sub-ranges: %d %d", r[7], r[8]);
		}
		commit(tag, 8192);
		res = client_finish(c);
		memcpy(hi, want, 4096);
		check(res == 8192 && !memcmp(c->buf, want + 4096, 4096) &&
		      !memcmp((char *)c->buf + 4096, hi, 4096),
		      "READ data landed at the right offsets (client got %zd)", (ssize_t)res);
		client_free(c);
	}

	/* a WRITE request: its pages may only be read (secondary = write) */
	c = client_start(true, 8192, 2 << 20);
	fill(c->buf, 8192, 2);
	client_go(c);
	tag = wait_request();
	check(tag >= 0 && ublk_desc_op(&descs[tag]) == UBLK_IO_OP_WRITE,
	      "WRITE request delivered (tag %d)", tag);
	if (tag < 0)
		exit(1);

	res = fused_once(tag, IORING_OP_READ, backing_fd, 0, 0, 4096, 1);
	check(res == -EINVAL, "WRITE request lent to a READ secondary: %d (want -EINVAL)", res);

	res = fused_once(tag, IORING_OP_READV, backing_fd, 0, 0, 0, 2);
	check(res == -EINVAL, "WRITE request lent to a READV secondary: %d (want -EINVAL)", res);

	/* sub-range writes: the second half first, then pieces of the first */
	{
		struct iovec iov[2] = {
			{ .iov_base = (void *)0, .iov_len = 1024 },
			{ .iov_base = (void *)1024, .iov_len = 3072 },
		};
		int r[9] = { 0 };

		sqe = get_sqe(&ring_m);
		prep_fused(sqe, char_fd, tag, IORING_OP_WRITE, backing_fd,
			   (5 << 20) + 4096, 4096, 4096, UD(UD_TEST, 3));
		sqe = get_sqe(&ring_m);
		prep_fused(sqe, char_fd, tag, IORING_OP_WRITEV, backing_fd,
			   5 << 20, (uintptr_t)iov, 2, UD(UD_TEST, 4));
		/* the same bytes once more, into another place, WRITE_FIXED */
		sqe = get_sqe(&ring_m);
		prep_fused(sqe, char_fd, tag, IORING_OP_WRITE_FIXED, backing_fd,
			   6 << 20, 100, 5000, UD(UD_TEST, 5));
		res = wait_many(&ring_m, 3, r, 5000);
		check(res == 3 && r[3] == 4096 && r[4] == 4096 && r[5] == 5000,
		      "WRITE, WRITEV and WRITE_FIXED from sub-ranges: %d %d %d",
		      r[3], r[4], r[5]);
		check(backing_equals(backing_fd, 5 << 20, c->buf, 8192) &&
		      backing_equals(backing_fd, 6 << 20, (char *)c->buf + 100, 5000),
		      "WRITE data landed at the right offsets");
	}
	commit(tag, 8192);
	res = client_finish(c);
	check(res == 8192, "client WRITE completed: %zd", (ssize_t)res);
	client_free(c);
}

/* several secondaries on one buffer at once */
static void test_concurrent(void)
{
	const size_t len = 256 << 10;
	struct client *c = client_start(true, len, 4 << 20);
	int r[40], tag, res, i, ok = 1, other;
	struct io_uring_sqe *sqe;

	other = memfd_create("fused-test-other", 0);
	if (other < 0 || ftruncate(other, len))
		die("memfd other");
	fill(c->buf, len, 3);
	client_go(c);
	tag = wait_request();
	check(tag >= 0 && descs[tag].nr_sectors << 9 == len,
	      "256K WRITE request delivered (tag %d)", tag);
	if (tag < 0)
		exit(1);
	/* 32 chunks of 8K in reverse order + the whole buffer twice elsewhere */
	for (i = 0; i < 32; i++) {
		sqe = get_sqe(&ring_m);
		prep_fused(sqe, char_fd, tag, IORING_OP_WRITE, backing_fd,
			   (8 << 20) + (31 - i) * 8192, (31 - i) * 8192, 8192,
			   UD(UD_TEST, i));
	}
	sqe = get_sqe(&ring_m);
	prep_fused(sqe, char_fd, tag, IORING_OP_WRITE, other, 0, 0, len,
		   UD(UD_TEST, 32));
	sqe = get_sqe(&ring_m);
	prep_fused(sqe, char_fd, tag, IORING_OP_WRITE, backing_fd, 12 << 20, 0,
		   len, UD(UD_TEST, 33));
	memset(r, 0, sizeof(r));
	res = wait_many(&ring_m, 34, r, 10000);
	for (i = 0; i < 32; i++)
		ok &= r[i] == 8192;
	check(res == 34 && ok && r[32] == (int)len && r[33] == (int)len,
	      "34 concurrent secondaries on one buffer completed (%d)", res);
	check(backing_equals(backing_fd, 8 << 20, c->buf, len) &&
	      backing_equals(other, 0, c->buf, len) &&
	      backing_equals(backing_fd, 12 << 20, c->buf, len),
	      "all copies of the buffer are right");
	commit(tag, len);
	res = client_finish(c);
	check(res == (int)len, "client WRITE completed: %d", res);
	client_free(c);
	close(other);
}

/* the request cannot complete while a secondary holds its pages */
static void test_no_complete_while_lent(void)
{
	struct client *c = client_start(false, 4096, 0);
	unsigned char data[4096];
	struct io_uring_sqe *sqe;
	int p[2], tag, res;

	if (pipe(p))
		die("pipe");
	fill(data, sizeof(data), 4);
	client_go(c);
	tag = wait_request();
	check(tag >= 0, "READ request delivered (tag %d)", tag);
	if (tag < 0)
		exit(1);
	/* the secondary blocks on an empty pipe */
	sqe = get_sqe(&ring_m);
	prep_fused(sqe, char_fd, tag, IORING_OP_READ, p[0], 0, 0, 4096,
		   UD(UD_TEST, 1));
	res = wait_ud(&ring_m, UD(UD_TEST, 1), 300);
	check(res == -ETIME, "secondary reading an empty pipe is pending");
	/* the server commits the request while it is still lent */
	commit(tag, 4096);
	usleep(300 * 1000);
	check(!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE),
	      "committed request does not complete while lent");
	if (write(p[1], data, sizeof(data)) != sizeof(data))
		die("write pipe");
	res = wait_ud(&ring_m, UD(UD_TEST, 1), 5000);
	check(res == 4096, "secondary completed with the pipe's data: %d", res);
	res = client_finish(c);
	check(res == 4096 && !memcmp(c->buf, data, 4096),
	      "request completed after the lend, with the secondary's data");
	client_free(c);
	close(p[0]);
	close(p[1]);
}

/* registered files for the primary and the secondary */
static void test_fixed_files(void)
{
	struct client *c = client_start(true, 16384, 10 << 20);
	struct io_uring_sqe *sqe;
	int fds[2] = { char_fd, backing_fd };
	int tag, res;

	res = io_uring_register_files(&ring_m, fds, 2);
	check(res == 0, "register /dev/ublkcN and the backing file: %d", res);
	fill(c->buf, 16384, 7);
	client_go(c);
	tag = wait_request();
	if (tag < 0) {
		check(false, "WRITE request delivered");
		exit(1);
	}
	sqe = get_sqe(&ring_m);
	prep_fused(sqe, 0, tag, IORING_OP_WRITE, 1, 11 << 20, 0, 16384,
		   UD(UD_TEST, 1));
	sqe->flags = IOSQE_FIXED_FILE;
	sqe[1].flags = IOSQE_FIXED_FILE;
	res = wait_ud(&ring_m, UD(UD_TEST, 1), 5000);
	check(res == 16384 && backing_equals(backing_fd, 11 << 20, c->buf, 16384),
	      "fused command with fixed files on both halves: %d", res);
	sqe = get_sqe(&ring_m);
	prep_fused(sqe, 0, tag, IORING_OP_WRITE, 7, 0, 0, 4096, UD(UD_TEST, 2));
	sqe->flags = IOSQE_FIXED_FILE;
	sqe[1].flags = IOSQE_FIXED_FILE;
	res = wait_ud(&ring_m, UD(UD_TEST, 2), 5000);
	check(res == -EBADF, "secondary with an unregistered fixed file: %d (want -EBADF)", res);
	commit(tag, 16384);
	res = client_finish(c);
	check(res == 16384, "client WRITE completed: %d", res);
	client_free(c);
	io_uring_unregister_files(&ring_m);
}

/* a ring closed with a secondary still in flight gives the buffer back */
static void test_ring_exit_while_lent(void)
{
	struct client *c = client_start(false, 4096, 4096);
	struct io_uring_sqe *sqe;
	struct io_uring r2;
	int p[2], tag, i;

	if (pipe(p))
		die("pipe");
	if (io_uring_queue_init(8, &r2, IORING_SETUP_SQE128))
		die("io_uring_queue_init (r2)");
	client_go(c);
	tag = wait_request();
	if (tag < 0) {
		check(false, "READ request delivered");
		exit(1);
	}
	sqe = get_sqe(&r2);
	prep_fused(sqe, char_fd, tag, IORING_OP_READ, p[0], 0, 0, 4096,
		   UD(UD_TEST, 1));
	check(wait_ud(&r2, UD(UD_TEST, 1), 300) == -ETIME,
	      "secondary on an empty pipe pending on a second ring");
	io_uring_queue_exit(&r2);	/* cancels it */
	commit(tag, -EIO);
	for (i = 0; i < 100 && !__atomic_load_n(&c->done, __ATOMIC_ACQUIRE); i++)
		usleep(50 * 1000);
	check(__atomic_load_n(&c->done, __ATOMIC_ACQUIRE),
	      "ring closed while lent: the request still completes (no leaked reference)");
	if (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE))
		exit(1);
	check(client_finish(c) < 0, "client saw the committed error");
	client_free(c);
	close(p[0]);
	close(p[1]);
}

/* O_DIRECT secondaries on a block device (async completions) */
static void test_direct_bdev(void)
{
	const size_t len = 64 << 10;
	struct client *c;
	int fd, tag, res;
	void *want;

	fd = open("/dev/ram0", O_RDWR | O_DIRECT);
	if (fd < 0) {
		printf("ok %d - # SKIP O_DIRECT secondary: /dev/ram0: %s\n",
		       passed + failed + 1, strerror(errno));
		passed++;
		return;
	}
	c = client_start(true, len, 9 << 20);
	fill(c->buf, len, 6);
	if (posix_memalign(&want, 4096, len))
		die("posix_memalign");
	memcpy(want, c->buf, len);
	client_go(c);
	tag = wait_request();
	if (tag < 0) {
		check(false, "WRITE request delivered");
		exit(1);
	}
	res = fused_once(tag, IORING_OP_WRITE, fd, 1 << 20, 0, len, 1);
	check(res == (int)len, "O_DIRECT WRITE secondary to /dev/ram0: %d", res);
	commit(tag, len);
	client_finish(c);
	client_free(c);

	c = client_start(false, len, 9 << 20);
	client_go(c);
	tag = wait_request();
	if (tag < 0) {
		check(false, "READ request delivered");
		exit(1);
	}
	res = fused_once(tag, IORING_OP_READ, fd, 1 << 20, 0, len, 2);
	check(res == (int)len, "O_DIRECT READ secondary from /dev/ram0: %d", res);
	commit(tag, len);
	res = client_finish(c);
	check(res == (int)len && !memcmp(c->buf, want, len),
	      "data went through /dev/ram0 with O_DIRECT both ways");
	client_free(c);
	free(want);
	close(fd);
}

/* fused commands that must fail cleanly */
static void test_bad_primaries(void)
{
	struct io_uring_sqe *sqe;
	struct io_uring plain;
	int res, sv[2];

	/* an idle tag: every tag now waits in FETCH */
	res = fused_once(0, IORING_OP_READ, backing_fd, 0, 0, 4096, 1);
	check(res == -EINVAL, "primary on an idle tag: %d (want -EINVAL)", res);

	sqe = get_sqe(&ring_m);
	prep_fused(sqe, char_fd, DEPTH + 3, IORING_OP_READ, backing_fd, 0, 0,
		   4096, UD(UD_TEST, 2));
	res = wait_ud(&ring_m, UD(UD_TEST, 2), 5000);
	check(res == -EINVAL, "primary on a tag past the depth: %d (want -EINVAL)", res);

	/* primaries whose files cannot lend anything */
	sqe = get_sqe(&ring_m);
	prep_fused(sqe, backing_fd, 0, IORING_OP_READ, backing_fd, 0, 0, 4096,
		   UD(UD_TEST, 3));
	res = wait_ud(&ring_m, UD(UD_TEST, 3), 5000);
	check(res == -EOPNOTSUPP,
	      "primary on a regular file: %d (want -EOPNOTSUPP)", res);

	sqe = get_sqe(&ring_m);
	prep_fused(sqe, ctrl_fd, 0, IORING_OP_READ, backing_fd, 0, 0, 4096,
		   UD(UD_TEST, 4));
	res = wait_ud(&ring_m, UD(UD_TEST, 4), 5000);
	check(res == -EOPNOTSUPP,
	      "primary on /dev/ublk-control: %d (want -EOPNOTSUPP)", res);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	sqe = get_sqe(&ring_m);
	prep_fused(sqe, sv[0], 0, IORING_OP_READ, backing_fd, 0, 0, 4096,
		   UD(UD_TEST, 5));
	sqe->cmd_op = 0;	/* SOCKET_URING_OP_SIOCINQ as a plain command */
	res = wait_ud(&ring_m, UD(UD_TEST, 5), 5000);
	check(res == -EOPNOTSUPP,
	      "primary on a socket (a driver with ->uring_cmd): %d (want -EOPNOTSUPP)", res);
	close(sv[0]);
	close(sv[1]);

	/* a secondary opcode that is not a read or write */
	res = fused_once(0, IORING_OP_NOP, backing_fd, 0, 0, 0, 6);
	check(res == -EINVAL, "secondary NOP: %d (want -EINVAL)", res);

	/* a ring without SQE128 cannot carry a fused command */
	if (io_uring_queue_init(4, &plain, 0))
		die("io_uring_queue_init (plain)");
	sqe = io_uring_get_sqe(&plain);
	if (!sqe)
		die("io_uring_get_sqe (plain)");
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = FUSED_OP;
	sqe->fd = char_fd;
	sqe->cmd_op = UBLK_U_IO_FUSED_SUBMIT_IO;
	sqe->user_data = UD(UD_TEST, 7);
	res = wait_ud(&plain, UD(UD_TEST, 7), 5000);
	check(res == -EINVAL, "fused command on a ring without SQE128: %d (want -EINVAL)", res);
	io_uring_queue_exit(&plain);
}

/* the secondary's fields the series refuses, each on a delivered READ */
static void test_secondary_fields(void)
{
	struct client *c = client_start(false, 8192, 5 << 20);
	struct io_uring_sqe *sqe;
	struct iovec *many;
	struct io_uring iopoll;
	int tag, res, n = 0;
	const struct {
		const char *what;
		int want;
	} cases[] = {
		{ "addr ~0 (offset far past the buffer)", -EINVAL },
		{ "off -1 (current file position)", -EINVAL },
		{ "RWF_HIPRI", -EINVAL },
		{ "buf_index 1", -EINVAL },
		{ "personality 1", -EINVAL },
		{ "addr3 non-zero", -EINVAL },
		{ "secondary flags IOSQE_IO_LINK", -EINVAL },
		{ "READV with UIO_MAXIOV + 1 iovecs", -EINVAL },
	};

	many = calloc(1025, sizeof(*many));
	if (!many)
		die("calloc");
	client_go(c);
	tag = wait_request();
	check(tag >= 0, "READ request delivered (tag %d)", tag);
	if (tag < 0)
		exit(1);
	for (n = 0; n < (int)(sizeof(cases) / sizeof(cases[0])); n++) {
		sqe = get_sqe(&ring_m);
		prep_fused(sqe, char_fd, tag, IORING_OP_READ, backing_fd, 0, 0, 4096,
			   UD(UD_TEST, n));
		switch (n) {
		case 0: sqe[1].addr = ~0ULL; break;
		case 1: sqe[1].off = -1ULL; break;
		case 2: sqe[1].rw_flags = RWF_HIPRI; break;
		case 3: sqe[1].buf_index = 1; break;
		case 4: sqe[1].personality = 1; break;
		case 5: sqe[1].addr3 = 1; break;
		case 6: sqe[1].flags = IOSQE_IO_LINK; break;
		case 7:
			sqe[1].opcode = IORING_OP_READV;
			sqe[1].addr = (uintptr_t)many;
			sqe[1].len = 1025;
			break;
		}
		res = wait_ud(&ring_m, UD(UD_TEST, n), 5000);
		check(res == cases[n].want, "secondary %s: %d (want %d)", cases[n].what,
		      res, cases[n].want);
	}
	free(many);

	/* IORING_URING_CMD_FIXED, on a ring with a registered buffer (without
	 * one io_uring itself refuses the flag with -EFAULT) */
	{
		struct io_uring rb;
		static char buf[4096];
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

		if (io_uring_queue_init(4, &rb, IORING_SETUP_SQE128) ||
		    io_uring_register_buffers(&rb, &iov, 1))
			die("io_uring_queue_init (registered buffer)");
		sqe = get_sqe(&rb);
		prep_fused(sqe, char_fd, tag, IORING_OP_READ, backing_fd, 0, 0, 4096,
			   UD(UD_TEST, 19));
		sqe->uring_cmd_flags = 1;	/* IORING_URING_CMD_FIXED */
		res = wait_ud(&rb, UD(UD_TEST, 19), 5000);
		check(res == -EINVAL,
		      "primary with IORING_URING_CMD_FIXED: %d (want -EINVAL)", res);
		io_uring_queue_exit(&rb);
	}

	/* IOPOLL rings cannot reap a fused command's completion.  The opcode
	 * has no .iopoll, so io_uring refuses it in io_init_req() with -EINVAL,
	 * as it refuses every such opcode, before io_fused_cmd_prep() runs */
	if (io_uring_queue_init(4, &iopoll, IORING_SETUP_SQE128 | IORING_SETUP_IOPOLL))
		die("io_uring_queue_init (iopoll)");
	prep_fused(get_sqe(&iopoll), char_fd, tag, IORING_OP_READ, backing_fd, 0, 0,
		   4096, UD(UD_TEST, 20));
	res = wait_ud(&iopoll, UD(UD_TEST, 20), 5000);
	check(res == -EINVAL, "fused command on an IOPOLL ring: %d (want -EINVAL)", res);
	io_uring_queue_exit(&iopoll);

	/* the request is still fine */
	res = fused_once(tag, IORING_OP_READ, backing_fd, 0, 0, 8192, 21);
	check(res == 8192, "after the refusals the request is still lent: %d", res);
	commit(tag, 8192);
	client_finish(c);
	client_free(c);
}

/* one READ request served by one fused read from fd on ring r, verified */
static void read_via_ring(struct io_uring *r, int fd, off_t file_off,
			  unsigned int n, const char *what)
{
	struct client *c = client_start(false, 4096, 6 << 20);
	unsigned char *want;
	int tag, res;

	if (posix_memalign((void **)&want, 4096, 4096))
		die("posix_memalign");
	fill(want, 4096, 10 + n);
	if (pwrite(fd, want, 4096, file_off) != 4096)
		die("pwrite (read_via_ring)");
	client_go(c);
	tag = wait_request();
	if (tag < 0) {
		check(false, "%s: READ request delivered", what);
		exit(1);
	}
	prep_fused(get_sqe(r), char_fd, tag, IORING_OP_READ, fd, file_off, 0, 4096,
		   UD(UD_TEST, n));
	res = wait_ud(r, UD(UD_TEST, n), 5000);
	commit(tag, 4096);
	client_finish(c);
	check(res == 4096 && !memcmp(c->buf, want, 4096), "%s: %d, data right", what, res);
	client_free(c);
	free(want);
}

/* SQPOLL and DEFER_TASKRUN rings; a lent secondary cancelled by
 * ASYNC_CANCEL and by a link timeout gives the request back */
static void test_rings_and_cancel(void)
{
	struct io_uring r;
	struct io_uring_sqe *sqe;
	struct __kernel_timespec ts = { .tv_nsec = 100 * 1000000 };
	struct client *c;
	int ram, p[2], tag, res, got, rr[8];

	/* the SQPOLL thread belongs to the server's process: allowed */
	if (io_uring_queue_init(8, &r, IORING_SETUP_SQE128 | IORING_SETUP_SQPOLL))
		die("io_uring_queue_init (sqpoll)");
	read_via_ring(&r, backing_fd, 1 << 20, 1, "fused read on an SQPOLL ring");
	io_uring_queue_exit(&r);

	/* completions in deferred task work (async ones with /dev/ram0) */
	if (io_uring_queue_init(8, &r, IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
				IORING_SETUP_DEFER_TASKRUN))
		die("io_uring_queue_init (defer_taskrun)");
	ram = open("/dev/ram0", O_RDWR | O_DIRECT);
	read_via_ring(&r, ram >= 0 ? ram : backing_fd, 2 << 20, 2,
		      ram >= 0 ? "O_DIRECT fused read on a DEFER_TASKRUN ring" :
				 "fused read on a DEFER_TASKRUN ring");
	if (ram >= 0)
		close(ram);
	io_uring_queue_exit(&r);

	/* ASYNC_CANCEL, then a link timeout, of a secondary blocked on a pipe */
	if (pipe(p))
		die("pipe");
	c = client_start(false, 4096, 3 << 20);
	client_go(c);
	tag = wait_request();
	if (tag < 0) {
		check(false, "READ request delivered");
		exit(1);
	}
	prep_fused(get_sqe(&ring_m), char_fd, tag, IORING_OP_READ, p[0], 0, 0, 4096,
		   UD(UD_TEST, 1));
	check(wait_ud(&ring_m, UD(UD_TEST, 1), 300) == -ETIME,
	      "secondary on an empty pipe pending");
	sqe = get_sqe(&ring_m);
	sqe->opcode = IORING_OP_ASYNC_CANCEL;
	sqe->addr = UD(UD_TEST, 1);
	sqe->user_data = UD(UD_TEST, 2);
	memset(rr, 0, sizeof(rr));
	got = wait_many(&ring_m, 2, rr, 5000);
	check(got == 2 && (rr[2] == 0 || rr[2] == -EALREADY) &&
	      (rr[1] == -EINTR || rr[1] == -ECANCELED),
	      "ASYNC_CANCEL of a lent secondary: cancel %d, secondary %d", rr[2], rr[1]);

	sqe = get_sqe(&ring_m);
	prep_fused(sqe, char_fd, tag, IORING_OP_READ, p[0], 0, 0, 4096, UD(UD_TEST, 3));
	sqe->flags |= IOSQE_IO_LINK;
	sqe = get_sqe(&ring_m);		/* the ring is empty: no submit in between */
	sqe->opcode = IORING_OP_LINK_TIMEOUT;
	sqe->addr = (uintptr_t)&ts;
	sqe->len = 1;
	sqe->user_data = UD(UD_TEST, 4);
	/* The secondary blocks in an io-wq worker.  The timeout's own result
	 * is io_try_cancel()'s: the worker is signalled (-EALREADY), the
	 * lookups after it find nothing and the last one's -ENOENT is what
	 * the timeout posts (io_uring core: only ASYNC_CANCEL turns that into
	 * -EALREADY).  What matters is the secondary's end and the request
	 * being served afterwards. */
	memset(rr, 0, sizeof(rr));
	got = wait_many(&ring_m, 2, rr, 5000);
	check(got == 2 && (rr[4] == -ETIME || rr[4] == -EALREADY || rr[4] == -ENOENT) &&
	      (rr[3] == -EINTR || rr[3] == -ECANCELED),
	      "link timeout of a lent secondary: timeout %d, secondary %d", rr[4], rr[3]);

	/* the request was given back each time: it can still be served */
	{
		unsigned char want[4096];

		fill(want, sizeof(want), 11);
		if (pwrite(backing_fd, want, sizeof(want), 15 << 20) != sizeof(want))
			die("pwrite backing");
		res = fused_once(tag, IORING_OP_READ, backing_fd, 15 << 20, 0, 4096, 5);
		commit(tag, 4096);
		res = res == 4096 ? (int)client_finish(c) : -1;
		check(res == 4096 && !memcmp(c->buf, want, 4096),
		      "after both cancellations the request is served: %d", res);
	}
	client_free(c);
	close(p[0]);
	close(p[1]);
}

/* the fused opcode is 255: io_uring's probe lists it, and 58 (the series'
 * first number, mainline's IORING_OP_RECV_ZC since 6.15) is not this
 * kernel's any more */
static void test_opcode_numbers(void)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(&ring_m);
	struct io_uring_sqe *sqe;
	int res;

	check(probe && io_uring_opcode_supported(probe, FUSED_OP) &&
	      !io_uring_opcode_supported(probe, 58),
	      "probe: opcode %d supported, 58 not", FUSED_OP);
	if (probe)
		io_uring_free_probe(probe);
	sqe = get_sqe(&ring_m);
	sqe->opcode = 58;
	sqe->user_data = UD(UD_TEST, 1);
	res = wait_ud(&ring_m, UD(UD_TEST, 1), 5000);
	check(res == -EOPNOTSUPP, "opcode 58: %d (want -EOPNOTSUPP)", res);
}

/* Run fn in a forked child (another process) and return the int it gives. */
static int in_child(int (*fn)(void *), void *arg)
{
	int p[2], res = -12345, st;
	pid_t pid;

	if (pipe(p))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		res = fn(arg);
		_exit(write(p[1], &res, sizeof(res)) == sizeof(res) ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], &res, sizeof(res)) != sizeof(res))
		res = -12345;
	close(p[0]);
	waitpid(pid, &st, 0);
	return res;
}

static void unpriv_info(struct ublksrv_ctrl_dev_info *i, uint64_t flags)
{
	memset(i, 0, sizeof(*i));
	i->nr_hw_queues = 1;
	i->queue_depth = DEPTH;
	i->max_io_buf_bytes = MAX_IO;
	i->dev_id = (uint32_t)-1;
	i->flags = flags;
}

/* as nobody: ADD_DEV with and without the fused flag; the results and the
 * new device's id packed in one int */
static int unpriv_child(void *arg)
{
	struct ublksrv_ctrl_dev_info i;
	int with, without;

	(void)arg;
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return -100000;
	unpriv_info(&i, UBLK_F_UNPRIVILEGED_DEV | UBLK_F_FUSED_ZERO_COPY);
	with = ctrl_cmd(UBLK_U_CMD_ADD_DEV, (uint32_t)-1, &i, sizeof(i), 0);
	unpriv_info(&i, UBLK_F_UNPRIVILEGED_DEV);
	without = ctrl_cmd(UBLK_U_CMD_ADD_DEV, (uint32_t)-1, &i, sizeof(i), 0);
	if (without == 0 && !(i.flags & UBLK_F_UNPRIVILEGED_DEV))
		without = 1;	/* not created unprivileged: a useless control */
	/* with, without: small negative errnos or 0; the id below 1000 */
	return (-with) * 1000000 + (-without) * 1000 + (without == 0 ? (int)i.dev_id : 999);
}

/* an unprivileged server cannot have fused zero copy (it could commit a
 * READ without filling the pages and hand out uninitialised memory) */
static void test_unprivileged(void)
{
	int r = in_child(unpriv_child, NULL), with, without, id;
	char path[64];

	check(r >= 0, "unprivileged ADD_DEV child ran (%d)", r);
	if (r < 0)
		return;
	with = -(r / 1000000);
	without = -((r / 1000) % 1000);
	id = r % 1000;
	check(with == -EINVAL,
	      "unprivileged ADD_DEV with UBLK_F_FUSED_ZERO_COPY: %d (want -EINVAL)", with);
	check(without == 0,
	      "unprivileged ADD_DEV without it (the control) succeeds: %d", without);
	if (without == 0) {
		int i, ret = -ENOENT;

		snprintf(path, sizeof(path), UBLK_CHAR_FMT, (unsigned int)id);
		for (i = 0; i < 50 && (ret == -ENOENT || ret == -EBUSY); i++) {
			ret = ctrl_cmd_path(UBLK_U_CMD_DEL_DEV, id, NULL, 0, 0, path);
			if (ret)
				usleep(20000);
		}
		check(ret == 0, "DEL_DEV of the unprivileged control device: %d", ret);
	}
}

/* a fused command from another process: a forked child holding /dev/ublkcN */
struct other_arg { int tag; };

static int other_child(void *arg)
{
	struct other_arg *a = arg;
	struct io_uring r;

	if (io_uring_queue_init(4, &r, IORING_SETUP_SQE128))
		return -100000;
	prep_fused(get_sqe(&r), char_fd, a->tag, IORING_OP_READ, backing_fd, 0,
		   0, 4096, UD(UD_TEST, 1));
	return wait_ud(&r, UD(UD_TEST, 1), 5000);
}

/* only the server's own threads may lend its requests: anything else could
 * pin the request and /dev/ublkcN beyond the server's exit */
static void test_other_process(void)
{
	struct client *c = client_start(false, 4096, 13 << 20);
	struct other_arg a;
	unsigned char want[4096];
	int tag, res;

	fill(want, sizeof(want), 9);
	if (pwrite(backing_fd, want, sizeof(want), 13 << 20) != sizeof(want))
		die("pwrite backing");
	client_go(c);
	tag = wait_request();
	check(tag >= 0, "READ request delivered (tag %d)", tag);
	if (tag < 0)
		exit(1);
	a.tag = tag;
	res = in_child(other_child, &a);
	check(res == -EPERM, "fused command from another process: %d (want -EPERM)", res);
	res = fused_once(tag, IORING_OP_READ, backing_fd, 13 << 20, 0, 4096, 2);
	check(res == 4096, "the same from the server's own process still works: %d", res);
	commit(tag, 4096);
	res = client_finish(c);
	check(res == 4096 && !memcmp(c->buf, want, 4096),
	      "request completed with the data (client got %d)", res);
	client_free(c);
}

/* a short secondary fails its link, like io_uring's own reads and writes */
static void test_short_link(void)
{
	struct client *c = client_start(false, 4096, 14 << 20);
	struct io_uring_sqe *sqe;
	int small, tag, res, r[8];

	small = memfd_create("fused-test-small", 0);
	if (small < 0 || ftruncate(small, 1000))
		die("memfd small");
	client_go(c);
	tag = wait_request();
	check(tag >= 0, "READ request delivered (tag %d)", tag);
	if (tag < 0)
		exit(1);
	/* 4096 bytes asked from a 1000-byte file, linked to a NOP */
	sqe = get_sqe(&ring_m);
	prep_fused(sqe, char_fd, tag, IORING_OP_READ, small, 0, 0, 4096, UD(UD_TEST, 1));
	sqe->flags |= IOSQE_IO_LINK;
	sqe = get_sqe(&ring_m);
	sqe->opcode = IORING_OP_NOP;
	sqe->user_data = UD(UD_TEST, 2);
	/* the control: a full read, linked to a NOP that must run */
	sqe = get_sqe(&ring_m);
	prep_fused(sqe, char_fd, tag, IORING_OP_READ, backing_fd, 0, 0, 4096, UD(UD_TEST, 3));
	sqe->flags |= IOSQE_IO_LINK;
	sqe = get_sqe(&ring_m);
	sqe->opcode = IORING_OP_NOP;
	sqe->user_data = UD(UD_TEST, 4);
	memset(r, 0, sizeof(r));
	res = wait_many(&ring_m, 4, r, 5000);
	check(res == 4 && r[1] == 1000 && r[2] == -ECANCELED,
	      "short fused read (%d of 4096) cancels its link: NOP %d (want -ECANCELED)",
	      r[1], r[2]);
	check(res == 4 && r[3] == 4096 && r[4] == 0,
	      "a full fused read does not: %d, NOP %d", r[3], r[4]);
	commit(tag, 4096);
	client_finish(c);
	client_free(c);
	close(small);
}

/*
 * STOP_DEV while a request is lent waits for it; the server going away
 * with the secondary still in flight and the request never committed must
 * end both, so that STOP_DEV and DEL_DEV complete.  Meanwhile the aborted
 * request is not lent again.  This ends the device.
 */
static void test_stop_del_while_lent(pthread_t qt)
{
	struct client *c = client_start(false, 4096, 15 << 20);
	struct io_uring r2, rc;
	struct io_uring_sqe *sqe;
	struct ublksrv_ctrl_cmd *cc;
	int p[2], tag, res;

	if (pipe(p))
		die("pipe");
	if (io_uring_queue_init(8, &r2, IORING_SETUP_SQE128) ||
	    io_uring_queue_init(4, &rc, IORING_SETUP_SQE128))
		die("io_uring_queue_init");
	client_go(c);
	tag = wait_request();
	check(tag >= 0, "READ request delivered (tag %d)", tag);
	if (tag < 0)
		exit(1);
	prep_fused(get_sqe(&r2), char_fd, tag, IORING_OP_READ, p[0], 0, 0, 4096,
		   UD(UD_TEST, 1));
	check(wait_ud(&r2, UD(UD_TEST, 1), 300) == -ETIME,
	      "secondary on an empty pipe pending");

	sqe = get_sqe(&rc);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = ctrl_fd;
	sqe->cmd_op = UBLK_U_CMD_STOP_DEV;
	sqe->user_data = UD(UD_TEST, 2);
	cc = (void *)sqe->cmd;
	cc->dev_id = dev_id;
	cc->queue_id = (uint16_t)-1;
	check(wait_ud(&rc, UD(UD_TEST, 2), 500) == -ETIME,
	      "STOP_DEV waits while the request is lent");

	/* the queue thread exits: its ring closes, the queue is aborted */
	pthread_mutex_lock(&mu);
	quit = true;
	pthread_mutex_unlock(&mu);
	{
		uint64_t one = 1;

		if (write(efd, &one, sizeof(one)) != sizeof(one))
			die("write eventfd");
	}
	pthread_join(qt, NULL);
	res = fused_once(tag, IORING_OP_READ, backing_fd, 0, 0, 4096, 3);
	check(res == -EINVAL,
	      "a request whose queue thread is gone is not lent again: %d (want -EINVAL)", res);

	io_uring_queue_exit(&r2);	/* cancels the secondary */
	res = wait_ud(&rc, UD(UD_TEST, 2), 20000);
	check(res == 0, "STOP_DEV completed once the server's rings closed: %d", res);
	if (res == -ETIME)
		exit(1);	/* DEL_DEV would hang */
	res = client_finish(c);
	check(res < 0, "the lent, uncommitted request failed: %d", res);
	client_free(c);
	io_uring_queue_exit(&rc);
	close(p[0]);
	close(p[1]);
}

/* auto mode: ordinary I/O through the block device, served by fused cmds */
static void test_auto_io(void)
{
	const size_t len = 512 << 10;
	unsigned char *w, *r;
	int fd = blk_fd;
	bool ok;

	if (posix_memalign((void **)&w, 4096, len) || posix_memalign((void **)&r, 4096, len))
		die("posix_memalign");
	fill(w, len, 5);
	ok = pwrite(fd, w, len, 7 << 20) == (ssize_t)len &&
	     pread(fd, r, len, 7 << 20) == (ssize_t)len && !memcmp(w, r, len);
	check(ok && backing_equals(backing_fd, 7 << 20, w, len),
	      "512K write + read through /dev/ublkb%u served by fused commands", dev_id);
	free(w);
	free(r);
}

/* auto mode under load: several clients, random sizes, verified reads */
struct stress_arg {
	int id;
	unsigned int seed;
	off_t base;
	size_t span;
	int errors;
	int ops;
};

static void *stress_thread(void *arg)
{
	struct stress_arg *a = arg;
	unsigned char *w, *r;
	int i;

	if (posix_memalign((void **)&w, 4096, 256 << 10) ||
	    posix_memalign((void **)&r, 4096, 256 << 10))
		die("posix_memalign");
	for (i = 0; i < 60; i++) {
		size_t len = ((rand_r(&a->seed) % 64) + 1) * 4096;
		off_t off = a->base + (rand_r(&a->seed) % ((a->span - len) / 4096 + 1)) * 4096;

		fill(w, len, a->seed);
		if (pwrite(blk_fd, w, len, off) != (ssize_t)len ||
		    pread(blk_fd, r, len, off) != (ssize_t)len ||
		    memcmp(w, r, len))
			a->errors++;
		a->ops++;
	}
	free(w);
	free(r);
	return NULL;
}

static void test_stress(const char *what, size_t span)
{
	struct stress_arg a[4];
	pthread_t t[4];
	int i, errors = 0, ops = 0;

	for (i = 0; i < 4; i++) {
		a[i] = (struct stress_arg){ .id = i, .seed = 1234 + i,
			.base = i * (span / 4), .span = span / 4 };
		if (pthread_create(&t[i], NULL, stress_thread, &a[i]))
			die("pthread_create");
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		errors += a[i].errors;
		ops += a[i].ops;
	}
	check(errors == 0, "%s: %d verified write+read pairs from 4 threads, %d bad",
	      what, ops, errors);
}

int main(int argc, char **argv)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params params;
	pthread_t qt;
	uint64_t features = 0;
	char path[64];
	int ret, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ctrl_fd = open(UBLK_CONTROL_PATH, O_RDWR);
	if (ctrl_fd < 0) {
		printf("SKIP: %s: %s\n", UBLK_CONTROL_PATH, strerror(errno));
		return 77;
	}
	ret = ctrl_cmd(UBLK_U_CMD_GET_FEATURES, (uint32_t)-1, &features,
		       sizeof(features), 0);
	if (ret < 0 || !(features & UBLK_F_FUSED_ZERO_COPY)) {
		printf("SKIP: kernel lacks UBLK_F_FUSED_ZERO_COPY (features %#llx, ret %d)\n",
		       (unsigned long long)features, ret);
		return 77;
	}
	printf("# features %#llx\n", (unsigned long long)features);

	memset(&info, 0, sizeof(info));
	info.nr_hw_queues = 1;
	info.queue_depth = DEPTH;
	info.max_io_buf_bytes = MAX_IO;
	info.dev_id = (uint32_t)-1;
	info.flags = UBLK_F_FUSED_ZERO_COPY | UBLK_F_NEED_GET_DATA;
	ret = ctrl_cmd(UBLK_U_CMD_ADD_DEV, (uint32_t)-1, &info, sizeof(info), 0);
	check(ret == 0, "ADD_DEV with UBLK_F_FUSED_ZERO_COPY: %d", ret);
	if (ret)
		return 1;
	dev_id = info.dev_id;
	check((info.flags & UBLK_F_FUSED_ZERO_COPY) && !(info.flags & UBLK_F_NEED_GET_DATA),
	      "flag kept, NEED_GET_DATA cleared (flags %#llx)",
	      (unsigned long long)info.flags);

	memset(&params, 0, sizeof(params));
	params.len = sizeof(params);
	params.types = UBLK_PARAM_TYPE_BASIC;
	params.basic.logical_bs_shift = 9;
	params.basic.physical_bs_shift = 12;
	params.basic.io_opt_shift = 12;
	params.basic.io_min_shift = 9;
	params.basic.max_sectors = MAX_IO >> 9;
	params.basic.dev_sectors = DEV_BYTES >> 9;
	ret = ctrl_cmd(UBLK_U_CMD_SET_PARAMS, dev_id, &params, sizeof(params), 0);
	if (ret)
		fprintf(stderr, "fused-test: SET_PARAMS: %d\n", ret);

	backing_fd = memfd_create("fused-test-backing", 0);
	if (backing_fd < 0 || ftruncate(backing_fd, DEV_BYTES))
		die("memfd backing");
	efd = eventfd(0, EFD_NONBLOCK);
	if (efd < 0)
		die("eventfd");

	snprintf(path, sizeof(path), UBLK_CHAR_FMT, dev_id);
	for (i = 0; i < 100 && char_fd < 0; i++) {
		char_fd = open(path, O_RDWR);
		if (char_fd < 0)
			usleep(20000);
	}
	if (char_fd < 0)
		die(path);
	descs = mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_POPULATE, char_fd,
		     UBLKSRV_CMD_BUF_OFFSET);
	if (descs == MAP_FAILED)
		die("mmap descriptors");
	if (io_uring_queue_init(64, &ring_m, IORING_SETUP_SQE128))
		die("io_uring_queue_init (main)");

	if (pthread_create(&qt, NULL, queue_thread, NULL))
		die("pthread_create");
	pthread_mutex_lock(&mu);
	while (!q_ready)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);

	ret = ctrl_cmd(UBLK_U_CMD_START_DEV, dev_id, NULL, 0, getpid());
	check(ret == 0, "START_DEV (partition scan served by fused reads): %d", ret);
	if (ret)
		return 1;

	snprintf(path, sizeof(path), UBLK_BLOCK_FMT, dev_id);
	for (i = 0; i < 100 && blk_fd < 0; i++) {
		blk_fd = open(path, O_RDWR | O_DIRECT);
		if (blk_fd < 0)
			usleep(20000);
	}
	if (blk_fd < 0)
		die(path);

	test_auto_io();
	test_direction_and_ranges();
	test_concurrent();
	test_no_complete_while_lent();
	test_fixed_files();
	test_ring_exit_while_lent();
	test_direct_bdev();
	test_bad_primaries();
	test_opcode_numbers();
	test_secondary_fields();
	test_rings_and_cancel();
	test_other_process();
	test_short_link();
	test_unprivileged();
	test_auto_io();
	test_stress("stress, memfd backing", DEV_BYTES);
	{
		/* the same over a block device opened O_DIRECT: async completions */
		int ram = open("/dev/ram0", O_RDWR | O_DIRECT), old = backing_fd;

		if (ram >= 0) {
			backing_fd = ram;
			test_stress("stress, /dev/ram0 O_DIRECT backing", 4 << 20);
			backing_fd = old;
			close(ram);
		}
	}

	test_stop_del_while_lent(qt);
	close(blk_fd);
	io_uring_queue_exit(&ring_m);
	munmap(descs, 4096);
	close(char_fd);
	ret = ctrl_cmd(UBLK_U_CMD_DEL_DEV, dev_id, NULL, 0, 0);
	check(ret == 0, "DEL_DEV: %d", ret);

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
