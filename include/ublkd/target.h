/* SPDX-License-Identifier: MIT */
/*
 * <ublkd/target.h> - the ublkd target plugin API.
 *
 * This is the only header a target author reads.  A target is a shared
 * object that ublkd loads with dlopen(); it exports one symbol,
 * ublkd_target_entry(), made by UBLKD_REGISTER_TARGET(ops).  See
 * ublkd-target(3) for the full description and a worked example.
 *
 * Threading: ublkd runs one thread per hardware queue.  Every callback that
 * takes a struct ublkd_queue runs on that queue's thread, and only that
 * thread may use the queue (its ring, its requests).  open/close/flush run
 * on the main thread while no queue thread runs.
 *
 * Data: a request's data is reached in one of two ways, chosen by ublkd:
 *   - copy modes: io->buf points to io->len bytes in ublkd's memory;
 *   - zero copy:  io->buf is NULL; the data stays in the kernel and is
 *     lent to the target's own read/write SQEs.
 * A target that only moves data between the request and a file descriptor
 * should use ublkd_prep_rw(), which fills an SQE correctly in every mode;
 * such a target sets UBLKD_TARGET_ZERO_COPY.  A target that must touch the
 * bytes itself (checksums, a network library's own socket I/O) leaves the
 * flag clear and ublkd refuses --zero-copy for it.
 */
#ifndef UBLKD_TARGET_H
#define UBLKD_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <liburing.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change; ublkd refuses other versions. */
#define UBLKD_TARGET_API_VERSION 1

/* ---- Requests ---- */
enum ublkd_op {
	UBLKD_OP_READ		= 0,
	UBLKD_OP_WRITE		= 1,
	UBLKD_OP_FLUSH		= 2,
	UBLKD_OP_DISCARD	= 3,
	UBLKD_OP_WRITE_ZEROES	= 5,
};

#define UBLKD_IO_FUA		(1U << 0)  /* write must be durable on completion */
#define UBLKD_IO_NOUNMAP	(1U << 1)  /* write-zeroes must keep blocks allocated */

struct ublkd_io {
	uint16_t q_id;
	uint16_t tag;
	uint8_t  op;		/* enum ublkd_op */
	uint32_t flags;		/* UBLKD_IO_* */
	uint64_t offset;	/* byte offset on the device */
	uint32_t len;		/* bytes */
	void	*buf;		/* copy modes: the data; zero copy: NULL */
	void	*priv;		/* target_ops.io_priv_size bytes, zeroed at start */
};

/* ---- Device parameters, filled in by the target's open() ---- */
#define UBLKD_PARAM_READ_ONLY		(1U << 0)
#define UBLKD_PARAM_ROTATIONAL		(1U << 1)
#define UBLKD_PARAM_VOLATILE_CACHE	(1U << 2)  /* send FLUSH requests */
#define UBLKD_PARAM_FUA			(1U << 3)  /* send FUA writes */
#define UBLKD_PARAM_DISCARD		(1U << 4)
#define UBLKD_PARAM_WRITE_ZEROES	(1U << 5)

enum ublkd_data_mode {
	UBLKD_DATA_COPY = 0,	/* kernel copies into ublkd's buffers */
	UBLKD_DATA_USER_COPY,	/* ublkd copies with pread/pwrite on ublkcN */
	UBLKD_DATA_ZERO_COPY,	/* pages lent to the target's I/O, never copied */
};

struct ublkd_setup {
	/* In: what the user asked for. */
	uint64_t size_limit;	/* -s/--size in bytes, 0 when not given */
	int	 read_only;	/* --read-only given */
	enum ublkd_data_mode data_mode;
	/* In/out: a target may lower nr_queues (e.g. no multi-conn). */
	uint16_t nr_queues;
	/* In: requests per queue. */
	uint16_t queue_depth;
	/* Out: what the device looks like. */
	uint64_t size;			/* bytes, a multiple of logical_block_size */
	uint32_t logical_block_size;	/* 0 means 512 */
	uint32_t physical_block_size;	/* 0 means logical_block_size */
	uint32_t max_io_bytes;		/* 0 means ublkd's default */
	uint32_t flags;			/* UBLKD_PARAM_* */
	uint32_t discard_granularity;	/* bytes, 0 means logical_block_size */
	uint32_t max_discard_bytes;	/* 0 means no limit beyond ublkd's */
	uint32_t max_write_zeroes_bytes;
	/* A one-line human description for `ublk list` and systemd STATUS=,
	 * e.g. "/srv/disk.img"; points into target-owned memory. */
	const char *description;
};

/* ---- Options ---- */
/* What an option's value is.  ublkd checks the value against the type (and
 * the range or choices) before the target's config() sees it, for the
 * command line and config files alike, and prints it back in --check. */
enum ublkd_opt_type {
	UBLKD_OPT_STRING = 0,	/* any text (has_arg 1), or a switch (has_arg 0) */
	UBLKD_OPT_BOOL,		/* a switch: --NAME; in a file NAME = true; */
	UBLKD_OPT_INT,		/* a decimal integer in [min, max] */
	UBLKD_OPT_SIZE,		/* bytes: 4096, 512K, 1G; in [min, max] */
	UBLKD_OPT_ENUM,		/* one of choices[] */
	UBLKD_OPT_PATH,		/* a file name: ublkd makes it absolute (relative
				 * to the caller's directory on the command line,
				 * to the file's directory in a config file) */
};

/* flags */
#define UBLKD_OPT_BACKING	(1U << 0)  /* PATH: the device's data lives there;
					    * ublkd records the file's identity and
					    * refuses to recover onto another file */
#define UBLKD_OPT_REQUIRED	(1U << 1)  /* the target cannot start without it */

struct ublkd_option {
	const char *name;	/* long option, e.g. "file" for --file */
	char	    short_name;	/* e.g. 'f' for -f, 0 for none */
	int	    has_arg;	/* 0: a switch, 1: takes a value */
	const char *arg_name;	/* for help, e.g. "PATH" */
	const char *help;	/* one line */
	/* Since ublkd 0.2 (ops.option_size set); an older plugin's options
	 * read as STRING with none of these. */
	enum ublkd_opt_type type;
	uint32_t    flags;	/* UBLKD_OPT_* */
	int64_t	    min, max;	/* INT, SIZE: the range (both 0: no range) */
	const char *const *choices; /* ENUM: NULL-terminated */
	const char *config_key;	/* NULL: name with '-' written '_' */
};

/* ---- The target ---- */
struct ublkd_target;	/* opaque: the loaded target instance */
struct ublkd_queue;	/* opaque: one queue thread (one hardware queue, or
			 * with --threads a share of its tags) */

#define UBLKD_TARGET_ZERO_COPY	(1U << 0)  /* all data moves via ublkd_prep_rw() */
/* The target never reads or writes request data (null): under zero copy
 * ublkd then registers no buffer at all, and a READ returns whatever the
 * request's pages held.  Implies nothing in the copy modes. */
#define UBLKD_TARGET_NO_DATA	(1U << 1)
/* Several threads may serve one hardware queue (ublkd --threads): the
 * target keeps its per-queue state in ublkd_queue_priv(), set up by
 * queue_init (called once per thread), never in a table indexed by
 * ublkd_queue_id(), which threads of one queue share.  Since ublkd 0.4;
 * without it, --threads is refused for the target. */
#define UBLKD_TARGET_THREADS	(1U << 2)
/* The target stores metadata next to the data (ublkd --integrity): with
 * each READ and WRITE it moves ublkd_io_metadata()'s bytes too, sized in
 * open() by ublkd_target_metadata_size().  Since ublkd 0.5; without it,
 * --integrity is refused for the target. */
#define UBLKD_TARGET_INTEGRITY	(1U << 3)

struct ublkd_target_ops {
	uint32_t api_version;	/* UBLKD_TARGET_API_VERSION */
	uint32_t struct_size;	/* sizeof(struct ublkd_target_ops) */
	const char *name;	/* the -t name */
	const char *description;/* one line for `ublk help` */
	uint32_t features;	/* UBLKD_TARGET_* */
	size_t	 io_priv_size;	/* per-request private bytes (io->priv) */
	const struct ublkd_option *options; /* terminated by a zeroed entry */

	/* One call per option given on the command line or in a config file,
	 * in order.  value is NULL for switches.  Return 0, or -1 after
	 * ublkd_error() explaining what is wrong and how to fix it. */
	int  (*config)(struct ublkd_target *t, const char *name, const char *value);
	/* After all options: open backing storage, fill setup's outputs. */
	int  (*open)(struct ublkd_target *t, struct ublkd_setup *setup);
	/* Before the device goes away: make written data durable. */
	int  (*flush)(struct ublkd_target *t);
	void (*close)(struct ublkd_target *t);

	/* Per queue, on the queue's thread, before/after serving. */
	int  (*queue_init)(struct ublkd_queue *q);
	void (*queue_exit)(struct ublkd_queue *q);

	/* A request arrived.  The target must eventually call
	 * ublkd_complete(q, io, result) exactly once, from this callback or a
	 * later one on the same queue.  result: bytes done or -errno. */
	void (*queue_io)(struct ublkd_queue *q, struct ublkd_io *io);

	/* Completion of an SQE the target submitted with ublkd_sqe_set_data().
	 * io is NULL for SQEs not tied to a request. */
	void (*io_done)(struct ublkd_queue *q, struct ublkd_io *io,
			uint32_t cookie, const struct io_uring_cqe *cqe);

	/* Optional: called once per loop iteration before ublkd waits for
	 * completions (e.g. to flush a library's queued work). */
	void (*queue_idle)(struct ublkd_queue *q);

	/* ---- Since ublkd 0.2.  ublkd reads only the first struct_size
	 * bytes of this structure and zero-fills the rest (a target built
	 * against an older header still loads).  New members are only
	 * ever added here, at the end. */
	uint32_t option_size;	/* sizeof(struct ublkd_option) */
	/* Optional: after all config() calls and before open(), and for
	 * `ublkd --check` (which never opens): refuse option combinations.
	 * 0, or -1 after ublkd_error().  May be called before each open(). */
	int  (*check)(struct ublkd_target *t);
	/* Optional: called exactly once, last (after close() when open()
	 * succeeded; also after a failed config()/check()/open() and after
	 * --check): free what config() kept.  ublkd calls close() if and
	 * only if open() succeeded. */
	void (*release)(struct ublkd_target *t);

	/* Optional: `ublk resize` (a target without it cannot be resized).
	 * On the main thread while the queues serve.  In: *size, the size the
	 * user asked for in bytes, or 0 for the target's own size now (e.g.
	 * of a backing file the user grew).  Out: the size to serve, a
	 * non-zero multiple of the logical block size.  Check only, change
	 * nothing: ublkd decides (a shrink needs --force) and then tells
	 * the kernel, whose requests stay within the new size from then on.
	 * 0, or -1 after ublkd_error() naming the cause and the fix. */
	int  (*new_size)(struct ublkd_target *t, uint64_t *size);
};

/* Exported by every target plugin. */
#define UBLKD_TARGET_ENTRY "ublkd_target_entry"
#define UBLKD_REGISTER_TARGET(ops)					\
	const struct ublkd_target_ops *ublkd_target_entry(void);	\
	const struct ublkd_target_ops *ublkd_target_entry(void)		\
	{ return &(ops); }

/* ---- Services ublkd gives targets ---- */

/* Target-wide and per-queue private pointers. */
void  ublkd_target_set_priv(struct ublkd_target *t, void *priv);
void *ublkd_target_priv(const struct ublkd_target *t);
struct ublkd_target *ublkd_queue_target(const struct ublkd_queue *q);
void  ublkd_queue_set_priv(struct ublkd_queue *q, void *priv);
void *ublkd_queue_priv(const struct ublkd_queue *q);
unsigned int ublkd_queue_id(const struct ublkd_queue *q);
enum ublkd_data_mode ublkd_queue_data_mode(const struct ublkd_queue *q);

/* "read", "write", "flush", "discard", "write-zeroes" (UBLKD_OP_*), else
 * "request": for messages.  Since ublkd 0.3. */
const char *ublkd_op_name(unsigned int op);

/* Count one reconnection to the target's server (a connection lost and
 * made again) in the device's statistics: `ublk stat`'s reconnects.  Any
 * thread.  Since ublkd 0.3. */
void ublkd_count_reconnect(struct ublkd_target *t);

/* An SQE on the queue's ring (never NULL: ublkd submits to make room).
 * Submission happens in batches when the queue loop waits. */
struct io_uring_sqe *ublkd_get_sqe(struct ublkd_queue *q);

/* Route the CQE of sqe to ops->io_done(q, io, cookie, cqe).  io may be
 * NULL for queue-level work (e.g. a poll on a socket). */
void ublkd_sqe_set_data(struct io_uring_sqe *sqe, struct ublkd_io *io,
			uint32_t cookie);

/* Fill sqe to move len bytes between the request's data, starting
 * buf_off bytes into it, and fd at file_off: op UBLKD_OP_READ reads from
 * fd into the request (serving a READ request), UBLKD_OP_WRITE writes the
 * request's data to fd.  Correct in every data mode. rw_flags: RWF_*. */
void ublkd_prep_rw(struct ublkd_queue *q, struct ublkd_io *io,
		   struct io_uring_sqe *sqe, enum ublkd_op op, int fd,
		   uint64_t file_off, uint32_t buf_off, uint32_t len,
		   int rw_flags);

/* Since ublkd 0.2.  From queue_init: register fd in the queue's io_uring
 * file table, so that ublkd_prep_rw() with this fd uses the fixed file (no
 * file lookup per SQE; set IOSQE_ flags after it with |=).  fd must stay
 * open, naming the same file, until queue_exit.  0, or -errno (-ENOSPC: 7
 * files already; -EOPNOTSUPP: the ring has no table), and fd then simply
 * works unregistered. */
int ublkd_queue_register_file(struct ublkd_queue *q, int fd);

/* Since ublkd 0.5, for UBLKD_TARGET_INTEGRITY targets.  The bytes of
 * metadata the device keeps per logical block (the protection information
 * tuple of --integrity: 8, or 16 for crc64), or 0 without --integrity:
 * from open() on, to size the store, whose byte N * size holds block N's. */
unsigned int ublkd_target_metadata_size(const struct ublkd_target *t);

/* Since ublkd 0.5.  The metadata that goes with request io, or NULL when
 * there is none (no --integrity, a FLUSH, or a READ the kernel will not
 * check): *len bytes that belong at *offset in the target's metadata
 * store.  A WRITE's are to be stored with its data; a READ's buffer is to
 * be filled before ublkd_complete().  Valid until then.  Zeroes in the
 * store are a block never written (ublkd hands the kernel all-ones, which
 * it does not check): for a DISCARD or WRITE_ZEROES it returns NULL with
 * *len and *offset the metadata to set to zeroes. */
void *ublkd_io_metadata(const struct ublkd_queue *q, const struct ublkd_io *io,
			uint32_t *len, uint64_t *offset);

/* Finish a request: result is bytes transferred (len for success) or a
 * negative errno, which the application sees as an I/O error. */
void ublkd_complete(struct ublkd_queue *q, struct ublkd_io *io, int result);

/* Messages: one line, naming the cause and the fix. */
void ublkd_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ublkd_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ublkd_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ublkd_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Claim a backing file for this device for the daemon's life (a flock():
 * exclusive, or shared with other devices that pass shared too).  0, or
 * -1 after a one-line error naming the device that already uses it. */
int ublkd_claim_file(int fd, const char *path, int shared);

/* Parse "4096", "512K", "10M", "1G", "2T" (powers of 1024); -1 on error. */
int ublkd_parse_size(const char *s, uint64_t *out);

#ifdef __cplusplus
}
#endif
#endif /* UBLKD_TARGET_H */
