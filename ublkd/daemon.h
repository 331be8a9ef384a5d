/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - ublkd's internal structures.
 *
 * Where things live:
 *   main.c        process lifecycle: start, serve, signals, stop
 *   option-table.c  THE table of ublkd's own options (option-table.h)
 *   options.c     command line -> struct dev_config; every option's checks
 *   config.c      config files (ublkd.conf(5)) -> struct dev_config
 *   record.c      the recovery record
 *   device.c      the control path for one device (add/params/start/stop/del)
 *   queue.c       the per-queue thread and its io_uring loop
 *   data.c        how a request's data reaches the target: copy, user copy,
 *                 zero copy (auto-registered or registered buffers)
 *   control.c     requests to the running daemon (<id>.sock)
 *   resize.c      `ublk resize`: a live device's new size
 *   handover.c    `ublk upgrade`: quiesce, then leave the device to a new ublkd
 *   plugin.c      loading target plugins
 *   stats.c       the statistics file; stats.h the hot-path counting
 *   target-api.c  the services <ublkd/target.h> promises targets
 */
#ifndef UBLKD_DAEMON_H
#define UBLKD_DAEMON_H

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>
#include <liburing.h>
#include <ublkd/target.h>
#include "ctrl.h"
#include "ublk-abi.h"

#define DEFAULT_QUEUE_DEPTH	128
#define DEFAULT_MAX_IO_BYTES	(512U << 10)
#define MAX_QUEUES		64
/* --threads: the threads serving one queue (UBLK_F_PER_IO_DAEMON). */
#define MAX_THREADS		16
/* Exit status of a configuration error (sysexits.h's EX_CONFIG): a bad
 * config file, option or target setting.  ublkd@.service lists it in
 * RestartPreventExitStatus=: restarting cannot fix it.  See ublkd(8). */
#define UBLKD_EXIT_CONFIG	78
/* At stop, how long a request may stay with the target before ublkd fails
 * it (so that STOP_DEV, which waits for every request, returns). */
#define STOP_GRACE_MS		10000
/* Exit status when a queue failed while serving: the device is left for
 * recovery, as if the daemon had been killed (see serve() in main.c). */
#define EXIT_QUEUE_FAILED	3
/* Exit status after handing the device over to a new daemon (`ublk
 * upgrade`, handover.c): the device waits for it.  Not 0, so that
 * ublkd@.service (Restart=on-failure) starts it: it recovers the device. */
#define UBLKD_EXIT_HANDOVER	4
/* Testing aid (UBLKD_TEST_SPARSE_FAIL): a sparse buffer table this large
 * is past the kernel's limit (IORING_MAX_REG_BUFFERS, 16384). */
#define UBLKD_TEST_SPARSE_TOO_MANY	(1U << 15)

/* How zero copy is done; chosen from the kernel's features. */
enum zc_mech {
	ZC_NONE = 0,
	ZC_AUTO,	/* UBLK_F_AUTO_BUF_REG: kernel registers at delivery */
	ZC_REGISTER,	/* UBLK_F_SUPPORT_ZERO_COPY: REGISTER_IO_BUF per request */
	ZC_FUSED,	/* UBLK_F_FUSED_ZERO_COPY (kernel/ series): one fused SQE
			 * per target read/write lends the request's pages */
};

/* What the kernel does with I/O when the daemon dies. */
enum recovery_mode {
	RECOVERY_REISSUE = 0,	/* device waits; in-flight I/O reissued (default) */
	RECOVERY_FAIL_IO,	/* device stays; I/O fails until a daemon returns */
	RECOVERY_OFF,		/* device is removed with its daemon */
	RECOVERY_ON,		/* device waits; I/O in flight at the crash fails */
};

struct target_opt {
	char *name;
	char *value;		/* NULL for switches; PATH options absolute */
	char *where;		/* "FILE:LINE: key 'K': " from a config file,
				 * for the target's messages; else NULL */
};

/* Which file a backing path named when the device was first started. */
struct backing_id {
	char *path;		/* absolute */
	uint64_t dev, ino;	/* st_dev/st_ino; a block device: st_rdev, ino 0 */
	uint64_t size;		/* bytes */
	int resizable;		/* may have another size at recovery (--shmem) */
};

/* Everything the user asked for, from the command line or a config file. */
struct dev_config {
	char *target;		/* -t: name or path to a .so */
	int dev_id;		/* -n: -1 lets the kernel choose */
	char *name;		/* --name: unique (names.c), or NULL */
	unsigned int nr_queues;	/* -q: 0 means default */
	unsigned int nr_threads;	/* --threads: per queue; 0 means 1 */
	unsigned int depth;	/* -d */
	uint64_t size;		/* -s: 0 means the target's size */
	uint32_t max_io_bytes;	/* --max-io */
	enum ublkd_data_mode data_mode;
	int data_mode_set;	/* --copy, --user-copy or --zero-copy given: no
				 * default (zero copy where it helps) */
	enum zc_mech zc_force;	/* --zc-mechanism: ZC_NONE means best */
	int batch_io;		/* -b 1, --no-batch-io -1, 0: the default */
	int need_get_data;	/* -g 1, --need-get-data: UBLK_F_NEED_GET_DATA,
				 * writes' data fetched after the request */
	int read_only;
	char *io_scheduler;	/* --io-scheduler: NULL is "none"; "keep" */
	int no_part_scan;	/* --no-part-scan: UBLK_F_NO_AUTO_PART_SCAN */
	char *metrics_dir;	/* --metrics-dir: write ublkd_ID.prom there */
	char *shmem;		/* --shmem: shared memory served in place */
	uint8_t integrity;	/* --integrity: UBLK_LBMD_PI_CSUM_*, 0: none */
	unsigned int metrics_interval;	/* --metrics-interval: seconds, 0: default */
	enum recovery_mode recovery;
	int recover;		/* --recover: take over device dev_id */
	int check;		/* --check: print the configuration, exit */
	char *config;		/* the config file's absolute path, if any */
	int owner_set;		/* --owner: chown /dev/ublkbN when live */
	uid_t owner_uid;
	gid_t owner_gid;	/* (gid_t)-1: keep the group */
	int ready_fd;		/* --ready-fd: write "ID\n" when live, -1 none */
	int verbose;
	struct target_opt *topts;
	int nr_topts;
	char *argv_line;	/* the options, for the runtime state file */
	char *path_base;	/* relative PATH values are relative to this
				 * directory (a config file's); NULL: the cwd */
	struct backing_id *backing; /* from a recovery record: what the */
	int nr_backing;		/* backing paths must still name */
};

struct ublkd_target {
	const struct ublkd_target_ops *ops;	/* &ops_copy */
	struct ublkd_target_ops ops_copy;	/* the plugin's, zero-filled past
						 * its struct_size */
	struct ublkd_option *options;		/* the plugin's, in this ublkd's
						 * layout (ops_copy.options) */
	void *dl;
	int opened;				/* open() succeeded, close() due */
	void *priv;
	struct ublkd_setup setup;
	struct ublkd_dev *dev;			/* the device it serves (NULL in
						 * the fuzz harnesses) */
};

/* What a tag is doing right now. */
enum tag_state {
	TAG_FETCHING = 0,	/* FETCH/COMMIT_AND_FETCH outstanding */
	TAG_PREPARING,		/* ublkd readies the data (register, user copy) */
	TAG_TARGET,		/* the target owns the request */
	TAG_FINISHING,		/* ublkd finishes the data (unregister, user copy) */
	TAG_DEAD,		/* the kernel aborted this tag */
};

struct tag {
	struct ublkd_io io;	/* the target's view; first member */
	uint8_t state;		/* enum tag_state */
	uint8_t registered;	/* buffer registered by us: unregister at commit */
	uint8_t warned;		/* a bad completion of this tag was logged */
	uint8_t shmem;		/* io.buf points into --shmem, not the tag's
				 * own buffer (UBLK_IO_F_SHMEM_ZC) */
	char *bounce;		/* --shmem data not page-aligned: copied
				 * through the tag's buffer, from/to here */
	uint8_t copies;		/* user copies in flight (data, metadata) */
	int32_t copy_err;	/* the first of their errors, or 0 */
	uint8_t md_kernel;	/* --integrity: the request carries metadata
				 * (UBLK_IO_F_INTEGRITY), moved through ublkcN */
	uint32_t md_len;	/* --integrity: the target's share of metadata
				 * for this request (ublkd_io_metadata()) */
	int32_t result;		/* result to commit */
	uint64_t since_ms;	/* when the target got it (ublkd_now_ms) */
};

/* queue->stop_phase, set by the main thread before it writes stop_efd. */
enum {
	QUEUE_SERVE = 0,
	QUEUE_DRAIN,		/* the device is stopping: fail what the target
				 * holds past STOP_GRACE_MS, keep serving */
	QUEUE_STOP,		/* stopped: exit once the target holds nothing */
};

struct ublkd_dev;
struct queue_stats;
struct dev_stats;

/* Slots of a queue's registered-file table: 0 is /dev/ublkcN, the rest
 * are for the target's files (ublkd_queue_register_file()). */
#define QUEUE_FILE_CHAR		0
#define QUEUE_NR_FILES		8

/* One queue thread: it serves hardware queue q_id (all of its tags, or
 * with --threads its share), on its own io_uring.  What targets call a
 * queue (queue_init, ublkd_queue_priv) is this. */
struct ublkd_queue {
	/* What the hot path reads per request, at the front (the first two
	 * cache lines); the device's and the target's settings are copied
	 * here at queue_start() so that a request costs no q->dev->...
	 * pointer chase. */
	struct tag *tags;
	const struct ublksrv_io_desc *descs;
	void (*queue_io)(struct ublkd_queue *q, struct ublkd_io *io);
	void (*io_done)(struct ublkd_queue *q, struct ublkd_io *io,
			uint32_t cookie, const struct io_uring_cqe *cqe);
	struct queue_batch *batch;	/* batch I/O (batch.c), or NULL: per tag */
	unsigned int depth;
	unsigned int q_id;	/* the hardware queue this thread serves */
	unsigned int thread_idx;	/* which of its nr_threads: tags thread_idx,
					 * thread_idx + nr_threads, ... are this
					 * one's (--threads) */
	unsigned int nr_threads;
	enum ublkd_data_mode data_mode;
	enum zc_mech zc;
	uint32_t target_features;	/* UBLKD_TARGET_* */
	uint32_t max_io_bytes;
	int cmd_fd;		/* /dev/ublkcN as SQEs name it: the fixed slot
				 * QUEUE_FILE_CHAR, or the fd itself */
	uint8_t file_flags;	/* IOSQE_FIXED_FILE when cmd_fd is a slot */
	uint8_t need_get_data;	/* UBLK_F_NEED_GET_DATA */
	uint8_t nr_files;	/* target files registered, slots 1.. */
	unsigned int nr_busy;	/* tags away from the kernel */
	uint64_t nr_requests;	/* requests received */
	unsigned int nr_live;	/* tags not dead */
	uint64_t now_ms;	/* when the last wait returned (ublkd_now_ms's clock) */
	int files[QUEUE_NR_FILES - 1];	/* the target's fds in slots 1.. */

	struct ublkd_dev *dev;
	struct io_uring ring;
	int char_fd;
	int stop_efd;		/* main thread asks the queue to exit */
	uint64_t stop_val;
	size_t descs_len;
	char *bufs;		/* copy modes: depth * max_io_bytes */
	size_t bufs_len;
	char *shmem_base;	/* --shmem's mapping (the device's), or NULL */
	uint64_t shmem_len;
	char *md_bufs;		/* --integrity: depth * md_max, or NULL */
	size_t md_bufs_len;
	uint32_t md_max;	/* metadata bytes of the largest request */
	uint8_t md_size;	/* metadata bytes per logical block, 0: none */
	uint8_t lbs_shift;	/* log2 of the logical block size */
	void *io_privs;
	void *priv;		/* the target's */
	cpu_set_t affinity;
	pthread_t thread;
	int ring_up;		/* ring set up: queue_teardown() exits it */
	int stop_phase;		/* QUEUE_*, written by the main thread */
	uint64_t drain_start_ms;	/* when QUEUE_DRAIN was seen, 0 before */
	int stopping;
	int init_result;	/* 0, or -errno from queue setup */
	int fail_err;		/* -errno: the loop failed; the daemon exits */
	const char *fail_what;	/* ... in this call */
	uint64_t nr_bad_completions;	/* target completions ignored */
	unsigned int bad_logged;	/* ... of which logged */
	int zc_fallback_warned;	/* the first ZC_AUTO fallback was logged */
	int shmem_warned;	/* a bad UBLK_IO_F_SHMEM_ZC address was logged */
	int shmem_bounce_noted;	/* the first bounced --shmem request was logged */
	struct queue_stats *stats;	/* the counters (stats.h) */
	/* Testing aid (UBLKD_TEST_AUTO_REG_MISS=N): every Nth fetch asks for
	 * an index past the buffer table, so that the kernel's automatic
	 * registration fails and the fallback path runs. 0: off. */
	unsigned int reg_miss_every, nr_fetches;
	/* Testing aid (UBLKD_TEST_QUEUE_FAIL=Q:N): queue Q fails as on an
	 * io_uring error once it has received N requests.  0: off. */
	uint64_t fail_after;
};

/* --integrity: tag's metadata buffer in q->md_bufs. */
static inline char *queue_tag_md(const struct ublkd_queue *q, unsigned int tag)
{
	return q->md_bufs + (size_t)tag * q->md_max;
}

/* --integrity: the bytes of metadata per logical block, one protection
 * information tuple of the csum type (UBLK_LBMD_PI_CSUM_*); 0 for none. */
#define UBLK_PI_TUPLE_MAX	16
static inline unsigned int integrity_tuple_size(uint8_t csum)
{
	switch (csum) {
	case UBLK_LBMD_PI_CSUM_IP:
	case UBLK_LBMD_PI_CSUM_CRC16_T10DIF:
		return 8;
	case UBLK_LBMD_PI_CSUM_CRC64_NVME:
		return 16;
	default:
		return 0;
	}
}

/* Copy modes: tag's own buffer in q->bufs (io.buf, except while a --shmem
 * request points it elsewhere). */
static inline char *queue_tag_buf(const struct ublkd_queue *q, unsigned int tag)
{
	return q->bufs + (size_t)tag * q->max_io_bytes;
}

struct ublkd_dev {
	struct dev_config cfg;
	struct ublkd_target target;
	struct ublk_ctrl ctrl;
	struct ublksrv_ctrl_dev_info info;
	uint64_t kernel_features;
	enum zc_mech zc;
	int batch_io;		/* the device has UBLK_F_BATCH_IO (batch.c) */
	uint32_t max_io_bytes;
	char *shmem_base;	/* --shmem mapped (shmem.c), or NULL */
	uint64_t shmem_len;
	int char_fd;
	/* One per queue thread: nr_hw_queues x threads, queue q's threads
	 * at q * threads ... q * threads + threads - 1.  With one thread
	 * per queue (the default) queues[q] serves queue q. */
	struct ublkd_queue *queues;
	unsigned int threads;		/* per queue (--threads), >= 1 */
	unsigned int nr_workers;	/* entries of queues[] */
	/* queue threads report setup done / exit here */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int nr_ready;
	int exit_efd;		/* a queue thread exited */
	int handover;		/* HANDOVER_*: asked to leave for a new daemon */
	struct dev_stats *stats;	/* <id>.stats (stats.c) */
	int name_fd;		/* names.c: the name's lock file, or -1 */
};

/* dev->handover (handover.c) */
enum {
	HANDOVER_NONE = 0,
	HANDOVER_QUIESCED,	/* the kernel quiesced the device: leave cleanly */
	HANDOVER_CRASH,		/* it could not: leave as after a crash */
};

/* options.c: the command line, and every option's checks (generic ones:
 * the table of option-table.c) */
struct gopt;
const char *options_find_type(int argc, char **argv);
int options_parse(struct dev_config *cfg, int argc, char **argv,
		  const struct ublkd_target_ops *ops);
void options_free(struct dev_config *cfg);
/* Apply one option, as --NAME VALUE (VALUE NULL for a switch) on the
 * command line would, with the same checks, printing nothing (but for an
 * option that refuses itself, -b).  0; -1 with *want = what was expected
 * (e.g. "a queue count from 1 to 64"); -2 after a message of its own.  For
 * config files (config.c). */
int options_apply_generic(struct dev_config *cfg, const struct gopt *g, const char *value,
			  const char **want);
int options_apply_target(struct dev_config *cfg, const struct ublkd_option *o,
			 const char *value, const char **want);
const char *options_find_config(int argc, char **argv);
int options_find_recover(int argc, char **argv, int *id);
int options_find_early(int argc, char **argv);
int options_only_meta(const struct dev_config *cfg);
int options_validate(const struct dev_config *cfg, const struct ublkd_target_ops *ops);
char *options_absolute(const char *base, const char *path);
const char *options_recovery_name(enum recovery_mode r);
const char *options_value(const struct gopt *g, const struct dev_config *cfg, char *buf,
			  size_t len);
void options_print(FILE *f, const struct dev_config *cfg);
void options_help(FILE *f);
void options_list(FILE *f);

/* plugin.c */
int plugin_load(struct ublkd_target *t, const char *name);
int file_trusted(const char *path, const char *what, int check_owner);
void plugin_unload(struct ublkd_target *t);
int plugin_configure(struct ublkd_target *t, const struct dev_config *cfg);
int plugin_open(struct ublkd_target *t, struct ublkd_setup *s);
void plugin_close(struct ublkd_target *t);
void plugin_release(struct ublkd_target *t);

/* device.c */
int device_setup(struct ublkd_dev *dev);
int device_recover_check(struct ublkd_dev *dev, int quiet);
int device_find_by_config(const char *path);
int device_recover_setup(struct ublkd_dev *dev);
int device_end_recovery(struct ublkd_dev *dev);
int device_write_record(struct ublkd_dev *dev);
int device_check_backing(const struct ublkd_dev *dev);
int device_waiting(uint32_t id);
int device_start(struct ublkd_dev *dev);
int device_set_scheduler(struct ublkd_dev *dev);
void device_stop(struct ublkd_dev *dev, int stop_kernel_dev);
void device_delete(struct ublkd_dev *dev, int del_kernel_dev);
int device_write_runstate(struct ublkd_dev *dev);
const char *device_mode_name(const struct ublkd_dev *dev);
const char *device_zc_name(enum zc_mech zc);
const char *recovery_name(uint64_t flags);

/* names.c: a device's name, unique among the devices of this machine.
 * name_claim(): before ADD_DEV (or recovery); 0, or -1 after one line.
 * name_set_id(): once the device has its id.  name_release(): at exit.
 * name_check(): --check's look, taking nothing. */
int name_claim(struct ublkd_dev *dev, int recovering);
void name_set_id(struct ublkd_dev *dev);
void name_release(struct ublkd_dev *dev);
int name_check(const struct dev_config *cfg);

/* resize.c: 0, or -1 after one line; *old_size: the size before */
int device_resize(struct ublkd_dev *dev, uint64_t want, int force, uint64_t *old_size);

/* handover.c: `ublk upgrade`'s request; ans gets the answer.  Then
 * device_leave() (after serve()) exits, leaving the device waiting. */
void device_handover(struct ublkd_dev *dev, char *ans, size_t len);
int device_leave(struct ublkd_dev *dev);

/* shmem.c (--shmem): shmem_check() for options_validate(); shmem_map()
 * before the device is set up, new or recovered; shmem_register() for a
 * new device, before START_DEV.  0, or -1 / -errno after one line. */
int shmem_check(const char *path);
int shmem_map(struct ublkd_dev *dev);
int shmem_register(struct ublkd_dev *dev);
void shmem_unmap(struct ublkd_dev *dev);

/* control.c */
int control_open(uint32_t dev_id);
void control_handle(struct ublkd_dev *dev, int lfd);

/* queue.c */
int queue_start(struct ublkd_queue *q);
void queue_request_drain(struct ublkd_queue *q);
void queue_request_stop(struct ublkd_queue *q);
void queue_join(struct ublkd_queue *q);

/* data.c: the per-request data path, called from queue.c */
void data_request(struct ublkd_queue *q, struct tag *t);
void data_cqe(struct ublkd_queue *q, struct tag *t, unsigned int kind,
	      const struct io_uring_cqe *cqe);
void data_commit(struct ublkd_queue *q, struct tag *t);
/* queue.c: a ublk I/O command for tag t on the queue's ring */
struct io_uring_sqe *queue_prep_io_cmd(struct ublkd_queue *q, struct tag *t,
				       unsigned int cmd_op, int32_t result,
				       uint64_t addr, unsigned int kind);
void queue_submit_fetch(struct ublkd_queue *q, struct tag *t, unsigned int cmd_op);
void queue_new_request(struct ublkd_queue *q, struct tag *t);
/* batch.c: batch I/O (UBLK_F_BATCH_IO) */
int batch_setup(struct ublkd_queue *q);
void batch_fetch_cqe(struct ublkd_queue *q, const struct io_uring_cqe *cqe);
void batch_commit(struct ublkd_queue *q, struct tag *t);
int batch_flush(struct ublkd_queue *q);
void batch_commit_cqe(struct ublkd_queue *q, unsigned int idx, int res);
int batch_live(const struct ublkd_queue *q);
void batch_free(struct ublkd_queue *q);

/* user_data: tag in bits 0-15, kind in 16-23, target cookie in 32-63 */
enum ud_kind {
	UD_CMD = 0,		/* FETCH / COMMIT_AND_FETCH / NEED_GET_DATA */
	UD_TARGET,		/* the target's own SQE */
	UD_REGISTER,		/* REGISTER_IO_BUF */
	UD_UNREGISTER,		/* UNREGISTER_IO_BUF */
	UD_UCOPY,		/* user-copy pread/pwrite on ublkcN */
	UD_STOP,		/* poll on stop_efd */
	UD_PREP,		/* batch I/O: PREP_IO_CMDS */
	UD_FETCH,		/* batch I/O: the multishot FETCH_IO_CMDS */
	UD_COMMIT,		/* batch I/O: COMMIT_IO_CMDS, cookie: its buffer */
	UD_MDCOPY,		/* --integrity: metadata pread/pwrite on ublkcN */
};
#define UD_NO_TAG 0xffff

static inline uint64_t ud_make(unsigned int tag, unsigned int kind, uint32_t cookie)
{
	return (uint64_t)tag | (uint64_t)kind << 16 | (uint64_t)cookie << 32;
}
static inline unsigned int ud_tag(uint64_t ud)  { return ud & 0xffff; }
static inline unsigned int ud_kind(uint64_t ud) { return (ud >> 16) & 0xff; }
static inline uint32_t ud_cookie(uint64_t ud)   { return ud >> 32; }

/* How long a request is held, in ms: CLOCK_MONOTONIC, the clock of the
 * statistics (the queue loop takes q->now_ms from its batch stamp). */
static inline uint64_t ublkd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline struct tag *io_to_tag(struct ublkd_io *io)
{
	return (struct tag *)io;
}

#endif
