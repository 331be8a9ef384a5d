/* mytarget: a disk over a regular file (ublkd-target(3) example) */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ublkd/target.h>

struct mytarget {
	char *path;	/* --file */
	int fd;
};

static const struct ublkd_option my_options[] = {
	{ .name = "file", .short_name = 'f', .has_arg = 1, .arg_name = "PATH",
	  .help = "the backing file (required)",
	  .type = UBLKD_OPT_PATH, .flags = UBLKD_OPT_BACKING | UBLKD_OPT_REQUIRED },
	{ .name = NULL },
};

/* Main thread, once per option given: here only --file. */
static int my_config(struct ublkd_target *t, const char *name,
		     const char *value)
{
	struct mytarget *m = ublkd_target_priv(t);

	if (!m) {
		m = calloc(1, sizeof(*m));
		if (!m)
			goto nomem;
		m->fd = -1;
		ublkd_target_set_priv(t, m);
	}
	free(m->path);
	m->path = strdup(value);
	if (m->path)
		return 0;
nomem:
	ublkd_error("mytarget: out of memory");
	return -1;
}

static void my_close(struct ublkd_target *t)
{
	struct mytarget *m = ublkd_target_priv(t);

	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m->path);
	free(m);
	ublkd_target_set_priv(t, NULL);
}

/* Main thread, before the device exists: open the file and
 * describe the disk. */
static int my_open(struct ublkd_target *t, struct ublkd_setup *s)
{
	struct mytarget *m = ublkd_target_priv(t);
	int flags = s->read_only ? O_RDONLY : O_RDWR;
	struct stat st;

	if (!m) {
		ublkd_error("mytarget needs a file: add -f PATH");
		return -1;
	}
	m->fd = open(m->path, flags | O_CLOEXEC);
	if (m->fd < 0 || fstat(m->fd, &st) < 0) {
		ublkd_error("mytarget: cannot open %s: %s", m->path,
			    strerror(errno));
		goto fail;
	}
	if (s->size_limit > (uint64_t)st.st_size) {
		ublkd_error("mytarget: -s is larger than %s", m->path);
		goto fail;
	}
	s->size = s->size_limit ? s->size_limit
				: (uint64_t)st.st_size / 512 * 512;
	s->flags = UBLKD_PARAM_VOLATILE_CACHE | UBLKD_PARAM_FUA;
	s->description = m->path;
	return 0;
fail:
	my_close(t);	/* no close() after a failed open() */
	return -1;
}

/* Main thread, after the queues stopped: make the data durable. */
static int my_flush(struct ublkd_target *t)
{
	struct mytarget *m = ublkd_target_priv(t);

	if (fdatasync(m->fd) == 0)
		return 0;
	ublkd_error("mytarget: fdatasync %s: %s", m->path,
		    strerror(errno));
	return -1;
}

/* Queue thread: a request.  Never block: queue the I/O on the ring. */
static void my_queue_io(struct ublkd_queue *q, struct ublkd_io *io)
{
	struct mytarget *m = ublkd_target_priv(ublkd_queue_target(q));
	int fua = io->flags & UBLKD_IO_FUA ? RWF_DSYNC : 0;
	struct io_uring_sqe *sqe;

	switch (io->op) {
	case UBLKD_OP_READ:
	case UBLKD_OP_WRITE:
		sqe = ublkd_get_sqe(q);
		ublkd_prep_rw(q, io, sqe, (enum ublkd_op)io->op, m->fd,
			      io->offset, 0, io->len, fua);
		break;
	case UBLKD_OP_FLUSH:
		sqe = ublkd_get_sqe(q);
		io_uring_prep_fsync(sqe, m->fd, IORING_FSYNC_DATASYNC);
		break;
	default:	/* open() offered no discard, no write-zeroes */
		ublkd_complete(q, io, -EOPNOTSUPP);
		return;
	}
	ublkd_sqe_set_data(sqe, io, 0);
}

/* Queue thread: an SQE of ours completed. */
static void my_io_done(struct ublkd_queue *q, struct ublkd_io *io,
		       uint32_t cookie, const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	if (io->op == UBLKD_OP_FLUSH)
		res = res < 0 ? res : 0;
	else if (res >= 0 && (uint32_t)res != io->len)
		res = -EIO;	/* short: the file shrank */
	ublkd_complete(q, io, res);
}

static const struct ublkd_target_ops my_ops = {
	.api_version	= UBLKD_TARGET_API_VERSION,
	.struct_size	= sizeof(struct ublkd_target_ops),
	.option_size	= sizeof(struct ublkd_option),
	.name		= "mytarget",
	.description	= "a disk over a regular file (an example)",
	.features	= UBLKD_TARGET_ZERO_COPY,
	.options	= my_options,
	.config		= my_config,
	.open		= my_open,
	.flush		= my_flush,
	.close		= my_close,
	.queue_io	= my_queue_io,
	.io_done	= my_io_done,
};

UBLKD_REGISTER_TARGET(my_ops)
