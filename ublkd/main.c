/* SPDX-License-Identifier: MIT */
/*
 * main.c - the ublkd process: one device, from start to clean exit.
 *
 *   load target -> parse options -> open /dev/ublk-control -> check kernel
 *   features -> target open -> ADD_DEV/SET_PARAMS -> queue threads fetch
 *   -> START_DEV -> ready (stdout, --ready-fd, sd_notify) -> serve until
 *   SIGTERM/SIGINT or the kernel removes the device -> STOP_DEV -> queue
 *   threads exit -> target flush/close -> DEL_DEV -> exit 0.
 *   (`ublk upgrade` instead: QUIESCE_DEV -> queue threads exit -> target
 *   flush/close -> exit 4, the device left to the next daemon: handover.c.)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include "daemon.h"
#include "config.h"
#include "ublk-features.h"
#include "log.h"
#include "parse.h"
#include "runstate.h"
#include "stats.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ublkd -t TYPE [OPTIONS] [TARGET OPTIONS]\n"
		"       ublkd NAME [OPTIONS]         (the device of " CONFDIR_ETC "/NAME.conf)\n"
		"       ublkd --config FILE [OPTIONS]\n"
		"Serve one ublk block device until SIGTERM.  Usually started by\n"
		"'ublk add' or by systemd (ublkd@NAME.service); see ublkd(8).\n"
		"\n");
	options_help(f);	/* the table of ublkd/option-table.c */
}

static void target_help(const struct ublkd_target_ops *ops)
{
	const struct ublkd_option *o;
	char left[64];

	printf("\nTarget %s: %s\n", ops->name, ops->description ? ops->description : "");
	if (!ops->options || !ops->options->name)
		printf("  (no target options)\n");
	for (o = ops->options; o && o->name; o++) {
		int n = 0;

		if (o->short_name)
			n = snprintf(left, sizeof(left), "-%c, ", o->short_name);
		snprintf(left + n, sizeof(left) - n, "--%s%s%s", o->name,
			 o->has_arg ? " " : "", o->has_arg ? o->arg_name : "");
		printf("  %-26s %s\n", left, o->help ? o->help : "");
	}
	printf("Zero copy (--zero-copy): %s\n", ops->features & UBLKD_TARGET_ZERO_COPY ?
	       "supported" : "not supported by this target");
}

static int help(const char *type)
{
	struct ublkd_target t = { 0 };

	if (type && plugin_load(&t, type) < 0)
		return 1;
	usage(stdout);
	if (!type)
		return 0;
	target_help(t.ops);
	plugin_unload(&t);
	return 0;
}

static const char *kernel_release(void)
{
	static struct utsname u;

	return uname(&u) == 0 ? u.release : "unknown";
}

static unsigned int default_queues(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 4 ? 4 : (unsigned int)n;
}

static int need_feature(const struct ublkd_dev *dev, uint64_t bit, const char *what)
{
	if (dev->kernel_features & bit)
		return 0;
	ublkd_error("%s needs the kernel feature UBLK_F_%s (Linux %s+); this kernel "
		    "(%s) does not have it", what, feature_name(bit), feature_since(bit),
		    kernel_release());
	return -1;
}

/*
 * The default data mode, when none was asked for: zero copy for a target
 * that moves data (loop: 512K reads 1.8x copy's in `make bench`, and no
 * copy-mode buffers), where the kernel has a mechanism; copy otherwise.  A
 * target that moves no data (null) gains nothing from zero copy and stays
 * with copy, as does a device with -g 1 (a copy-mode feature) or --shmem
 * (whose requests need no copy in the copy modes, and zero copy has none
 * to save).  A device with --integrity takes user copy, the only mode in
 * which the kernel hands over protection information.
 */
static void default_data_mode(struct ublkd_dev *dev)
{
	const struct ublkd_target_ops *ops = dev->target.ops;
	const uint64_t zc = UBLK_F_AUTO_BUF_REG | UBLK_F_SUPPORT_ZERO_COPY |
			    UBLK_F_FUSED_ZERO_COPY;

	if (dev->cfg.integrity && !dev->cfg.data_mode_set) {
		dev->cfg.data_mode = UBLKD_DATA_USER_COPY;	/* the only one with it */
		return;
	}
	if (dev->cfg.data_mode_set || dev->cfg.need_get_data || dev->cfg.shmem)
		return;
	if ((ops->features & UBLKD_TARGET_ZERO_COPY) && !(ops->features & UBLKD_TARGET_NO_DATA) &&
	    (dev->kernel_features & zc))
		dev->cfg.data_mode = UBLKD_DATA_ZERO_COPY;
}

/* Decide how data moves, from what was asked, the target and the kernel. */
static int choose_data_mode(struct ublkd_dev *dev)
{
	const struct ublkd_target_ops *ops = dev->target.ops;
	uint64_t f = dev->kernel_features;

	dev->zc = ZC_NONE;
	default_data_mode(dev);
	if (dev->cfg.integrity) {
		if (!(ops->features & UBLKD_TARGET_INTEGRITY)) {
			ublkd_error("target %s cannot store protection information (--integrity): "
				    "use the loop target with --metadata FILE, or drop --integrity",
				    ops->name);
			return -1;
		}
		if (need_feature(dev, UBLK_F_INTEGRITY, "--integrity") < 0)
			return -1;
	}
	if (dev->cfg.zc_force != ZC_NONE && dev->cfg.data_mode != UBLKD_DATA_ZERO_COPY) {
		ublkd_error("--zc-mechanism only applies to zero copy: add --zero-copy");
		return -1;
	}
	if (dev->cfg.need_get_data) {
		if (dev->cfg.data_mode != UBLKD_DATA_COPY) {
			ublkd_error("-g 1 (NEED_GET_DATA) only applies to the copy mode: drop "
				    "-g 1, or --user-copy/--zero-copy");
			return -1;
		}
		return need_feature(dev, UBLK_F_NEED_GET_DATA, "-g 1");
	}
	switch (dev->cfg.data_mode) {
	case UBLKD_DATA_COPY:
		return 0;
	case UBLKD_DATA_USER_COPY:
		return need_feature(dev, UBLK_F_USER_COPY, "--user-copy");
	case UBLKD_DATA_ZERO_COPY:
		break;
	}
	if (!(ops->features & UBLKD_TARGET_ZERO_COPY)) {
		ublkd_error("target %s cannot use --zero-copy: it must handle the data "
			    "itself; drop --zero-copy (or use --user-copy)", ops->name);
		return -1;
	}
	if (dev->cfg.zc_force == ZC_AUTO) {
		dev->zc = ZC_AUTO;
		return need_feature(dev, UBLK_F_AUTO_BUF_REG, "--zc-mechanism=auto");
	}
	if (dev->cfg.zc_force == ZC_REGISTER) {
		dev->zc = ZC_REGISTER;
		return need_feature(dev, UBLK_F_SUPPORT_ZERO_COPY, "--zc-mechanism=register");
	}
	if (dev->cfg.zc_force == ZC_FUSED) {
		dev->zc = ZC_FUSED;
		return need_feature(dev, UBLK_F_FUSED_ZERO_COPY, "--zc-mechanism=fused");
	}
	/* Mainline's mechanisms first; the fused command where only the
	 * project's kernel/ series provides zero copy.  A target that moves
	 * no data gains nothing from automatic registration, which would
	 * register and unregister every request's pages for nothing: the
	 * explicit mechanism registers only what a target asks for. */
	if ((ops->features & UBLKD_TARGET_NO_DATA) && (f & UBLK_F_SUPPORT_ZERO_COPY))
		dev->zc = ZC_REGISTER;
	else if (f & UBLK_F_AUTO_BUF_REG)
		dev->zc = ZC_AUTO;
	else if (f & UBLK_F_SUPPORT_ZERO_COPY)
		dev->zc = ZC_REGISTER;
	else if (f & UBLK_F_FUSED_ZERO_COPY)
		dev->zc = ZC_FUSED;
	else {
		ublkd_error("--zero-copy needs a kernel with ublk zero copy (Linux 6.15+, "
			    "automatic buffer registration 6.16+); this kernel (%s) has none: "
			    "run a newer kernel, apply ublkd's kernel/ series to 6.12, or drop "
			    "--zero-copy", kernel_release());
		return -1;
	}
	return 0;
}

/* Batch I/O (batch.c) only where asked for (-b): on the test VM it was
 * no faster than one command per tag, and a batch device loses the
 * quiesce hand-over (device.c, recovery_flags).  options_validate()
 * has refused what batch I/O lacks (--threads, -g 1, depth 1). */
static int choose_batch_io(struct ublkd_dev *dev)
{
	dev->batch_io = dev->cfg.batch_io > 0;
	return dev->batch_io ? need_feature(dev, UBLK_F_BATCH_IO, "--batch-io") : 0;
}

static int check_recovery(const struct ublkd_dev *dev)
{
	switch (dev->cfg.recovery) {
	case RECOVERY_REISSUE:
		return need_feature(dev, UBLK_F_USER_RECOVERY_REISSUE, "--recovery=reissue");
	case RECOVERY_FAIL_IO:
		return need_feature(dev, UBLK_F_USER_RECOVERY_FAIL_IO, "--recovery=fail-io");
	case RECOVERY_ON:
		return need_feature(dev, UBLK_F_USER_RECOVERY, "--recovery=on");
	default:
		return 0;
	}
}

static int open_target(struct ublkd_dev *dev)
{
	struct ublkd_setup *s = &dev->target.setup;

	memset(s, 0, sizeof(*s));
	s->size_limit = dev->cfg.size;
	s->read_only = dev->cfg.read_only;
	s->data_mode = dev->cfg.data_mode;
	s->nr_queues = dev->cfg.nr_queues;
	s->queue_depth = dev->cfg.depth;
	if (plugin_open(&dev->target, s) < 0)
		return -1;

	if (!s->logical_block_size)
		s->logical_block_size = 512;
	if (!s->physical_block_size)
		s->physical_block_size = s->logical_block_size;
	if (!s->discard_granularity)
		s->discard_granularity = s->logical_block_size;
	if (dev->cfg.read_only)
		s->flags |= UBLKD_PARAM_READ_ONLY;
	if (s->nr_queues && s->nr_queues < dev->cfg.nr_queues)
		dev->cfg.nr_queues = s->nr_queues;
	dev->max_io_bytes = dev->cfg.max_io_bytes ? dev->cfg.max_io_bytes :
			    s->max_io_bytes ? s->max_io_bytes : DEFAULT_MAX_IO_BYTES;
	if (s->logical_block_size < 512 || s->logical_block_size > 4096 ||
	    (s->logical_block_size & (s->logical_block_size - 1)) ||
	    s->physical_block_size < s->logical_block_size ||
	    (s->physical_block_size & (s->physical_block_size - 1)) ||
	    dev->max_io_bytes < 4096 || dev->max_io_bytes % 4096 ||
	    dev->max_io_bytes > (32U << 20)) {
		ublkd_error("target %s reports an invalid geometry (logical block %u, physical "
			    "block %u, max I/O %u): fix the target", dev->target.ops->name,
			    s->logical_block_size, s->physical_block_size, dev->max_io_bytes);
		return -1;
	}
	if (s->size < s->logical_block_size || s->size % s->logical_block_size) {
		ublkd_error("target %s reports a size of %llu bytes: it must be a non-zero "
			    "multiple of the %u-byte block size", dev->target.ops->name,
			    (unsigned long long)s->size, s->logical_block_size);
		return -1;
	}
	return 0;
}

/* Start every queue thread and wait until each has fetched (or failed). */
static int start_queues(struct ublkd_dev *dev)
{
	unsigned int q, n = dev->nr_workers;
	int ret = 0;

	for (q = 0; q < n; q++) {
		ret = queue_start(&dev->queues[q]);
		if (ret < 0) {
			ublkd_error("cannot start a thread of queue %u: %s", dev->queues[q].q_id,
				    strerror(-ret));
			break;
		}
	}
	pthread_mutex_lock(&dev->lock);
	while (dev->nr_ready < q)
		pthread_cond_wait(&dev->cond, &dev->lock);
	pthread_mutex_unlock(&dev->lock);
	for (unsigned int i = 0; i < q && !ret; i++)
		ret = dev->queues[i].init_result;
	if (ret < 0) {
		for (unsigned int i = 0; i < q; i++)
			queue_request_stop(&dev->queues[i]);
		for (unsigned int i = 0; i < q; i++)
			queue_join(&dev->queues[i]);
	}
	return ret;
}

/* The command line as one string, for the runtime state file. */
static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	for (i = 0; s && i < argc; i++) {
		if (!strncmp(argv[i], "--ready-fd", 10) || !strcmp(argv[i], "--recover"))
			continue;	/* how it was started, not what it serves */
		if (*s)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static void announce_ready(struct ublkd_dev *dev)
{
	const struct ublkd_setup *s = &dev->target.setup;
	char size[32], status[512], threads[32];
	int null;

	format_size(s->size, size, sizeof(size));
	snprintf(threads, sizeof(threads), ", %u threads each", dev->threads);
	ublkd_info("serving " UBLK_BLOCK_FMT ": %s %s, %s, %s, %u queue%s of depth %u%s",
		   dev->info.dev_id, dev->target.ops->name,
		   s->description ? s->description : "", size, device_mode_name(dev),
		   dev->info.nr_hw_queues, dev->info.nr_hw_queues > 1 ? "s" : "",
		   dev->info.queue_depth, dev->threads > 1 ? threads : "");
	stats_status_line(dev, NULL, status, sizeof(status));
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
	if (dev->cfg.ready_fd < 0) {
		printf(UBLK_BLOCK_FMT "\n", dev->info.dev_id);
		fflush(stdout);
		return;
	}
	/* Started in the background by `ublk add`: report, then let go of
	 * the terminal; later messages go to the system log. */
	dprintf(dev->cfg.ready_fd, "%u\n", dev->info.dev_id);
	close(dev->cfg.ready_fd);
	dev->cfg.ready_fd = -1;
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
	log_to_syslog();
}

/* A queue thread left its loop on an error: its requests would hang.  The
 * daemon exits at once, without stopping the device, as if it had been
 * killed: the kernel keeps the device for `ublk recover` or the service's
 * restart (or, with --recovery=off, removes it).  Returns if none failed. */
static void exit_if_a_queue_failed(struct ublkd_dev *dev)
{
	unsigned int q;

	for (q = 0; q < dev->nr_workers; q++) {
		struct ublkd_queue *queue = &dev->queues[q];
		int err = __atomic_load_n(&queue->fail_err, __ATOMIC_ACQUIRE);

		if (!err)
			continue;
		ublkd_error("queue %u of " UBLK_BLOCK_FMT " failed: %s: %s; exiting with status "
			    "%d so that the device is recovered ('ublk recover -n %u', or the "
			    "service restarts)", queue->q_id, dev->info.dev_id, queue->fail_what,
			    strerror(-err), EXIT_QUEUE_FAILED, dev->info.dev_id);
		sd_notifyf(0, "STATUS=queue %u failed: %s", queue->q_id, strerror(-err));
		_exit(EXIT_QUEUE_FAILED);
	}
}

/*
 * Stop signals while starting.  Until the device exists (the target may be
 * connecting to a server that never answers), a SIGTERM or SIGINT ends the
 * process at once: there is nothing to undo.  The signals stay blocked in
 * every thread, so that threads a target starts never take them; this
 * guard thread alone reads them, and hands over to the main thread's
 * checks between the steps that create the device.
 */
struct setup_guard {
	pthread_t thread;
	pthread_mutex_t lock;
	int sfd, stop_efd;
	bool device_made;	/* under lock: the main thread handles signals */
};

/* Die of signal sig, as if it had never been blocked. */
static void die_of(int sig)
{
	sigset_t one;

	signal(sig, SIG_DFL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	_exit(128 + sig);
}

static void *setup_guard_thread(void *arg)
{
	struct setup_guard *g = arg;
	struct pollfd pfd[2] = {
		{ .fd = g->sfd, .events = POLLIN },
		{ .fd = g->stop_efd, .events = POLLIN },
	};
	struct signalfd_siginfo si;

	for (;;) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			return NULL;
		if (pfd[1].revents)
			return NULL;
		if (!(pfd[0].revents & POLLIN))
			continue;
		pthread_mutex_lock(&g->lock);
		if (g->device_made) {
			/* Too late: leave the signal to the main thread. */
			pthread_mutex_unlock(&g->lock);
			return NULL;
		}
		if (read(g->sfd, &si, sizeof(si)) == sizeof(si)) {
			ublkd_debug("signal %u while starting: exiting, nothing to undo",
				    si.ssi_signo);
			die_of((int)si.ssi_signo);
		}
		pthread_mutex_unlock(&g->lock);
	}
}

static int setup_guard_start(struct setup_guard *g, int sfd)
{
	g->sfd = sfd;
	g->device_made = false;
	pthread_mutex_init(&g->lock, NULL);
	g->stop_efd = eventfd(0, EFD_CLOEXEC);
	if (g->stop_efd < 0)
		return -1;
	if (pthread_create(&g->thread, NULL, setup_guard_thread, g)) {
		close(g->stop_efd);
		g->stop_efd = -1;
		return -1;
	}
	return 0;
}

/* The device is about to be made: signals are the main thread's now. */
static void setup_guard_stop(struct setup_guard *g)
{
	uint64_t one = 1;

	if (g->stop_efd < 0)
		return;
	pthread_mutex_lock(&g->lock);
	g->device_made = true;
	pthread_mutex_unlock(&g->lock);
	if (write(g->stop_efd, &one, sizeof(one)) != sizeof(one))
		ublkd_warn("cannot stop the setup guard: %s", strerror(errno));
	pthread_join(g->thread, NULL);
	close(g->stop_efd);
	g->stop_efd = -1;
}

/* A stop signal pending between setup steps: its number, or 0. */
static int stop_pending(int sfd)
{
	struct pollfd pfd = { .fd = sfd, .events = POLLIN };
	struct signalfd_siginfo si;

	if (poll(&pfd, 1, 0) == 1 && read(sfd, &si, sizeof(si)) == sizeof(si)) {
		ublkd_debug("signal %u while starting: undoing the setup", si.ssi_signo);
		return (int)si.ssi_signo;
	}
	return 0;
}

/* Serve until asked to stop or until every queue has exited; answer
 * requests (control.c) on lfd meanwhile. */
static void serve(struct ublkd_dev *dev, int sfd, int lfd)
{
	unsigned int exited = 0;
	uint64_t last_copied = 0, usec = 0, n;
	struct pollfd pfd[3] = {
		{ .fd = sfd, .events = POLLIN },
		{ .fd = dev->exit_efd, .events = POLLIN },
		{ .fd = lfd, .events = POLLIN },	/* ignored when -1 */
	};
	int timeout = 2000;

	if (sd_watchdog_enabled(0, &usec) > 0 && usec / 2000 < (uint64_t)timeout)
		timeout = usec / 2000;
	if (dev->cfg.metrics_dir && stats_metrics_interval(dev) * 1000 < (unsigned int)timeout)
		timeout = (int)stats_metrics_interval(dev) * 1000;
	for (;;) {
		int ret = poll(pfd, 3, timeout);

		if (ret < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				ublkd_info("signal %u: stopping " UBLK_BLOCK_FMT,
					   si.ssi_signo, dev->info.dev_id);
				sd_notify(0, "STOPPING=1");
				return;
			}
		}
		if (pfd[1].revents & POLLIN && read(dev->exit_efd, &n, sizeof(n)) == sizeof(n)) {
			exit_if_a_queue_failed(dev);
			exited += n;
			if (exited >= dev->nr_workers) {
				ublkd_info(UBLK_BLOCK_FMT " was stopped by the kernel", dev->info.dev_id);
				return;
			}
		}
		if (pfd[2].revents & POLLIN)
			control_handle(dev, lfd);
		if (dev->handover)
			return;	/* ublk upgrade: main() leaves the device */
		if (usec)
			sd_notify(0, "WATCHDOG=1");
		stats_notify_status(dev);	/* live rates, every few seconds */
		stats_write_metrics_file(dev, 0);
		n = stats_bytes_copied(dev);
		if (n != last_copied) {
			last_copied = n;
			device_write_runstate(dev);
		}
	}
}

static int device_exists(int id)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/ublk-char/ublkc%d", id);
	return access(path, F_OK) == 0;
}

/* The device to recover (from its record) instead of adding one: -1 none,
 * -2 after an error.  *by_config: found through its config file. */
static int pick_recovery(int argc, char **argv, const char *conf, int *by_config)
{
	char *abs;
	int id, check = 0, i;

	for (i = 1; i < argc; i++)
		check |= !strcmp(argv[i], "--check");
	if (options_find_recover(argc, argv, &id)) {
		if (id < 0) {
			ublkd_error("--recover needs the device id: add -n ID");
			return -2;
		}
		if (conf) {
			ublkd_error("--recover takes the device's configuration from its recovery "
				    "record, not from %s: drop the config file", conf);
			return -2;
		}
		return id;
	}
	if (check)
		return -1;	/* --check looks at the options, not at devices */
	if (conf && (abs = realpath(conf, NULL))) {
		id = device_find_by_config(abs);
		free(abs);
		if (id >= 0 && device_waiting(id)) {
			*by_config = 1;
			return id;
		}
	}
	return -1;
}

/* The name of the device of `ublkd NAME` (ublkd@NAME.service): NAME, when
 * it is one a device may have; else none, and a warning, rather than a
 * refusal: a unit that ran before names existed keeps running. */
static void default_name(struct dev_config *cfg, const char *name, const char *conf)
{
	const char *why = runstate_name_problem(name);

	if (why) {
		ublkd_warn("'%s' is not a device name (%s): the device of %s has none, and no "
			   "/dev/disk/by-ublk link; set name = \"...\"; in the file to give it one",
			   name, why, conf);
		return;
	}
	cfg->name = strdup(name);
}

/* Recovering: the record is the configuration; the command line may only
 * say how to run (--ready-fd, -v, --check, the id). */
static int apply_recovery_args(struct dev_config *cfg, int id, const char *rec,
			       int argc, char **argv, const struct ublkd_target_ops *ops)
{
	struct dev_config cli = { .dev_id = -1, .ready_fd = -1 };
	int ret = -1;

	if (options_parse(&cli, argc, argv, ops) < 0)
		goto out;
	if (!options_only_meta(&cli)) {
		ublkd_error("device %d is recovered with the configuration of its recovery record "
			    "%s: drop the other device options from the command line", id, rec);
		goto out;
	}
	if (cfg->dev_id != id || (cli.dev_id >= 0 && cli.dev_id != id)) {
		ublkd_error("the recovery record %s is for device %d, not %d: delete the device "
			    "with 'ublk del -n %d'", rec, cfg->dev_id, id, id);
		goto out;
	}
	cfg->recover = 1;
	cfg->ready_fd = cli.ready_fd;
	cfg->verbose = cli.verbose;
	cfg->check = cli.check;
	ret = 0;
out:
	options_free(&cli);
	return ret;
}

int main(int argc, char **argv)
{
	struct ublkd_dev dev = {
		.cfg = { .dev_id = -1, .ready_fd = -1 },
		.char_fd = -1,
		.name_fd = -1,
		.ctrl = { .fd = -1 },
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	const char *type, *conf;
	char conf_path[4096], rec_path[4096], *conf_target = NULL;
	struct setup_guard guard = { .stop_efd = -1 };
	sigset_t sigs;
	int sfd = -1, ret, status = 1, recovering = 0, served = 0, by_config = 0, skip = 0, i;
	int recover_id, sig = 0, lfd = -1;

	log_init("ublkd", LOG_LVL_INFO);
	switch (options_find_early(argc, argv)) {
	case 'h':
		return help(options_find_type(argc, argv));
	case 'V':
		printf("ublkd %s (target API %d)\n", PACKAGE_VERSION, UBLKD_TARGET_API_VERSION);
		return 0;
	}
	/* For tests/host/man-options.sh: the option table, one fact a line. */
	if (argc == 2 && !strcmp(argv[1], "--list-options")) {
		options_list(stdout);
		return 0;
	}
	/* A device config file: --config FILE, or a first argument NAME for
	 * /etc/ublkd/NAME.conf (systemd's ublkd@NAME.service; see
	 * config_path_for_name). */
	conf = options_find_config(argc, argv);
	if (!conf && argc > 1 && argv[1][0] != '-') {
		/* A name, not a path: ublkd@NAME must stay in the directory. */
		if (strchr(argv[1], '/') || argv[1][0] == '.') {
			ublkd_error("invalid device name '%s': a name has no '/' and does not "
				    "start with '.'; for a file elsewhere use --config FILE",
				    argv[1]);
			return 1;
		}
		config_path_for_name(argv[1], conf_path, sizeof(conf_path));
		conf = conf_path;
		skip = 1;
	}
	if (conf && options_find_type(argc, argv)) {
		ublkd_error("-t given with config file %s: set the target in the file "
			    "(target = \"...\";) and drop -t", conf);
		return UBLKD_EXIT_CONFIG;
	}
	/* A device that waits for a daemon after a crash is taken over, from
	 * its recovery record: asked for with --recover -n ID, or found by
	 * the config file it was started from (systemd restarting
	 * ublkd@NAME). */
	recover_id = pick_recovery(argc, argv, conf, &by_config);
	if (recover_id == -2)
		return 1;
	if (recover_id >= 0) {
		runstate_path(recover_id, "conf", rec_path, sizeof(rec_path));
		if (access(rec_path, R_OK) < 0) {
			if (!device_exists(recover_id))
				ublkd_error("cannot recover device %d: no such ublk device "
					    "(see 'ublk list')", recover_id);
			else
				ublkd_error("cannot recover device %d: it has no recovery record "
					    "(%s: %s); delete it with 'ublk del -n %d'", recover_id,
					    rec_path, strerror(errno), recover_id);
			return 1;
		}
		conf = rec_path;
	}
	/* A config file names the plugin ublkd runs as root: trust it like one. */
	if (conf && (file_trusted(conf, "config file", 1) < 0 ||
		     !(conf_target = config_read_target(conf))))
		return UBLKD_EXIT_CONFIG;
	type = conf ? conf_target : options_find_type(argc, argv);
	if (!type) {
		ublkd_error("no target given: use -t TYPE (null, loop, nbd); see 'ublkd --help'");
		return UBLKD_EXIT_CONFIG;
	}
	dev.target.dev = &dev;	/* for ublkd_count_reconnect() */
	ret = plugin_load(&dev.target, type);
	free(conf_target);
	if (ret < 0)
		return UBLKD_EXIT_CONFIG;
	/* The file first, then the command line, which may add to it.  Until
	 * the settings are accepted, a failure is the user's to fix: the
	 * configuration exit status, which systemd does not restart. */
	status = UBLKD_EXIT_CONFIG;
	if (conf && config_load(&dev.cfg, conf, dev.target.ops) < 0)
		goto out_plugin;
	if (conf && recover_id < 0)
		dev.cfg.config = realpath(conf, NULL);
	if (recover_id >= 0 ? apply_recovery_args(&dev.cfg, recover_id, rec_path, argc - skip,
						  argv + skip, dev.target.ops) < 0 :
	    options_parse(&dev.cfg, argc - skip, argv + skip, dev.target.ops) < 0)
		goto out_plugin;
	/* ublkd@NAME: the instance's name is the device's, unless the file
	 * names it otherwise. */
	if (skip && recover_id < 0 && !dev.cfg.name)
		default_name(&dev.cfg, argv[1], conf);
	/* The target was loaded by a first look for -t; an option's value
	 * that starts with -t (--io-scheduler -tnull) fools that look, and
	 * the parse then finds no -t, or another one. */
	if (!conf && (!dev.cfg.target || strcmp(dev.cfg.target, type))) {
		ublkd_error("cannot tell the target: a first look found -t %s, the options give %s; "
			    "give -t TYPE once, and a value that starts with -t as --OPTION=VALUE",
			    type, dev.cfg.target ? dev.cfg.target : "none");
		goto out_plugin;
	}
	/* Every path is absolute by now: nothing depends on where we were
	 * started, and no directory is kept busy. */
	if (chdir("/") < 0) {
		ublkd_error("cannot change to /: %s", strerror(errno));
		goto out_plugin;
	}
	if (dev.cfg.verbose)
		log_init("ublkd", LOG_LVL_DEBUG);
	if (!dev.cfg.nr_queues)
		dev.cfg.nr_queues = default_queues();
	if (!dev.cfg.depth)
		dev.cfg.depth = DEFAULT_QUEUE_DEPTH;
	if (options_validate(&dev.cfg, dev.target.ops) < 0)
		goto out_plugin;
	if (plugin_configure(&dev.target, &dev.cfg) < 0)
		goto out_plugin;
	status = 1;
	if (dev.cfg.check) {
		/* A recovering daemon's name is its own (held, in `ublk
		 * upgrade`'s check, by the daemon it replaces). */
		if (recover_id < 0 && name_check(&dev.cfg) < 0) {
			status = UBLKD_EXIT_CONFIG;
			goto out_plugin;
		}
		options_print(stdout, &dev.cfg);
		status = 0;
		goto out_plugin;
	}
	dev.cfg.argv_line = join_args(argc - 1, argv + 1);

	/* Signals are handled by the main thread alone, through a signalfd;
	 * the queue threads inherit the blocked mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);	/* reserved; never a reason to drop a disk */
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	dev.exit_efd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || dev.exit_efd < 0 || setup_guard_start(&guard, sfd) < 0) {
		ublkd_error("cannot create signalfd/eventfd: %s", strerror(errno));
		goto out_fds;
	}

	if (ctrl_open(&dev.ctrl) < 0)
		goto out_fds;
	ret = ctrl_get_features(&dev.ctrl, &dev.kernel_features);
	if (ret < 0) {
		ublkd_error("the ublk driver of this kernel (%s) is too old: ublkd needs "
			    "GET_FEATURES (Linux 6.5+); upgrade the kernel", kernel_release());
		goto out_ctrl;
	}
	if (recover_id >= 0) {
		recovering = device_recover_check(&dev, 0);
		if (recovering <= 0)
			goto out_ctrl;
		if (by_config)
			ublkd_info("device %d is waiting for a daemon after a crash: recovering it",
				   dev.cfg.dev_id);
		/* before the target opens anything */
		if (device_check_backing(&dev) < 0)
			goto out_ctrl;
	} else if (dev.cfg.dev_id >= 0 && device_recover_check(&dev, 1) > 0) {
		ublkd_error("device %d is waiting for its daemon after a crash: recover it with "
			    "'ublk recover -n %d', or delete it with 'ublk del -n %d'",
			    dev.cfg.dev_id, dev.cfg.dev_id, dev.cfg.dev_id);
		goto out_ctrl;
	}
	/* The name before anything is made: of two daemons started at once
	 * with one name, one goes on (names.c). */
	if (name_claim(&dev, recovering) < 0) {
		status = UBLKD_EXIT_CONFIG;
		goto out_ctrl;
	}
	if (!recovering && (choose_data_mode(&dev) < 0 || choose_batch_io(&dev) < 0 ||
			    check_recovery(&dev) < 0 ||
			    (dev.cfg.no_part_scan &&
			     need_feature(&dev, UBLK_F_NO_AUTO_PART_SCAN, "--no-part-scan") < 0) ||
			    (dev.cfg.nr_threads > 1 &&
			     need_feature(&dev, UBLK_F_PER_IO_DAEMON, "--threads") < 0) ||
			    (dev.cfg.shmem && need_feature(&dev, UBLK_F_SHMEM_ZC, "--shmem") < 0)))
		goto out_ctrl;
	if (open_target(&dev) < 0)
		goto out_target;	/* close() only if open() succeeded */
	if (shmem_map(&dev) < 0)
		goto out_target;
	/* From here on a stop signal undoes what was made (the main thread
	 * looks between the steps; each step is bounded). */
	setup_guard_stop(&guard);
	if ((sig = stop_pending(sfd)))
		goto out_target;
	if ((recovering ? device_recover_setup(&dev) : device_setup(&dev)) < 0)
		goto out_target;
	name_set_id(&dev);
	/* The record goes down before the device can be used, so that a
	 * daemon dying from here on leaves a device that can be recovered. */
	if (!recovering && device_write_record(&dev) < 0 && dev.cfg.recovery != RECOVERY_OFF)
		goto out_delete;
	if ((sig = stop_pending(sfd)) || stats_setup(&dev, recovering) < 0 ||
	    start_queues(&dev) < 0)
		goto out_delete;
	if ((sig = stop_pending(sfd)) ||
	    (recovering ? device_end_recovery(&dev) : device_start(&dev)) < 0)
		goto out_stop;
	if ((sig = stop_pending(sfd)) || (!recovering && device_set_scheduler(&dev) < 0))
		goto out_stop;
	runstate_remove_temps(dev.info.dev_id);	/* of a predecessor killed mid-write */
	device_write_runstate(&dev);
	if (dev.cfg.owner_set) {
		char node[32];

		snprintf(node, sizeof(node), UBLK_BLOCK_FMT, dev.info.dev_id);
		if (chown(node, dev.cfg.owner_uid, dev.cfg.owner_gid) < 0) {
			ublkd_error("cannot give %s to its owner (--owner): %s", node,
				    strerror(errno));
			goto out_stop;
		}
	}
	lfd = control_open(dev.info.dev_id);
	stats_write_metrics_file(&dev, 1);
	announce_ready(&dev);

	serve(&dev, sfd, lfd);
	if (dev.handover) {
		status = device_leave(&dev);	/* the device stays, for the new daemon */
		goto out_target;
	}
	status = 0;
	served = 1;
out_stop:
	/* From here, a request the target holds for long is failed (queue.c):
	 * STOP_DEV waits for every request in flight. */
	for (i = 0; i < (int)dev.nr_workers; i++)
		queue_request_drain(&dev.queues[i]);
	/* A failed recovery leaves the device waiting for the next daemon;
	 * a device this daemon served is deleted on stop, with its runtime
	 * state, even if the target's flush fails. */
	device_stop(&dev, served || !recovering);
	if (dev.target.ops->flush && dev.target.ops->flush(&dev.target) < 0)
		status = 1;
out_delete:
	device_delete(&dev, served || !recovering);
out_target:
	/* What it served, after serving (not after a failed start: its
	 * message is the one line a user gets). */
	if (served || dev.handover)
		stats_log_summary(&dev);
	stats_teardown(&dev);	/* after the queue threads: they count into it */
	shmem_unmap(&dev);	/* after the queue threads: they point into it */
	plugin_close(&dev.target);
out_ctrl:
	name_release(&dev);	/* after the device is gone, or left for recovery */
	ctrl_close(&dev.ctrl);
out_fds:
	setup_guard_stop(&guard);
	if (lfd >= 0)
		close(lfd);
	if (sfd >= 0)
		close(sfd);
	if (dev.exit_efd >= 0)
		close(dev.exit_efd);
out_plugin:
	options_free(&dev.cfg);
	plugin_unload(&dev.target);
	/* Stopped by a signal while starting: say so the way a signal does
	 * (`ublk add` tells its own timeout from the daemon's own failure). */
	if (sig)
		die_of(sig);
	return status;
}
