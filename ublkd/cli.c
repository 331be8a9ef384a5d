/* SPDX-License-Identifier: MIT */
/*
 * cli.c - `ublk`, the command line: add, del, list, recover, resize,
 * features, help (upgrade: upgrade.c; stat: cli-stat.c).
 *
 * `add` runs one ublkd per device (never in-process) and returns once the
 * block device is live; the others talk to /dev/ublk-control and read the
 * daemons' runtime state files.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "ctrl.h"
#include "ublk-features.h"
#include "holders.h"
#include "json.h"
#include "log.h"
#include "parse.h"
#include "runstate.h"
#include "cli-stat.h"

#define MAX_DEVS 1024

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ublk COMMAND [OPTIONS]\n"
		"\n"
		"  add -t TYPE [-n ID] [--name NAME] [-q QUEUES] [-d DEPTH] [-s SIZE] [-z]\n"
		"      [--recovery MODE] [--foreground] [TARGET OPTIONS]\n"
		"                          create a device served by a new ublkd; prints its path\n"
		"  del -n ID | -a [--force] [--timeout S]\n"
		"                          delete a device not in use (or all); --force: in use too\n"
		"  list [-n ID] [-v] [--json]  show devices\n"
		"  stat [-n ID] [-v] [--json | --openmetrics] [-i SECONDS [COUNT]]\n"
		"                          I/O statistics: IOPS, MiB/s, latency, errors\n"
		"  recover -n ID           start a new ublkd for a device whose daemon died\n"
		"  resize -n ID [-s SIZE] [--force]\n"
		"                          change a live device's size (default: the target's\n"
		"                          size now, e.g. of a grown backing file); --force: shrink\n"
		"  upgrade -n ID           replace a live device's ublkd with the installed one\n"
		"  features [--json]       ublk features of the running kernel\n"
		"  udev-name ublkbN        for the udev rule: UBLK_ID=N and UBLK_NAME=NAME\n"
		"  help [-t TYPE]          this help, or a target's options\n"
		"  --version               print the version\n"
		"\n"
		"See ublk(8).\n");
}

/* ---------------------------------------------------------------- add */

/* ublkd: $UBLKD_PATH, else next to this program, else the installed one. */
const char *find_ublkd(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("UBLKD_PATH");
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", path, sizeof(path) - 8);
	if (n > 0) {
		path[n] = 0;
		slash = strrchr(path, '/');
		if (slash) {
			strcpy(slash + 1, "ublkd");
			if (access(path, X_OK) == 0)
				return path;
		}
	}
	return SBINDIR "/ublkd";
}

static void ublksrv_dump(uint32_t id);

/*
 * How long `ublk add` waits for the device to be live: $UBLK_ADD_TIMEOUT,
 * else a target's --timeout (nbd: its limit for connecting) plus
 * ADD_MARGIN_S for the rest of the setup, else ADD_DEFAULT_S.  Then ublkd
 * gets SIGTERM, and SIGKILL after ADD_GRACE_S; `ublk add` never outlives
 * that.
 */
#define ADD_DEFAULT_S	60
#define ADD_MARGIN_S	5
#define ADD_GRACE_S	3

static int add_limit_s(char **args)
{
	const char *v = getenv("UBLK_ADD_TIMEOUT");
	uint64_t n;

	if (v && *v) {
		if (!parse_uint(v, 1, 86400, &n))
			return (int)n;
		ublkd_warn("ignoring UBLK_ADD_TIMEOUT='%s': expected seconds from 1 to 86400",
			   v);
	}
	v = NULL;
	for (int i = 2; args[i]; i++) {
		if (!strcmp(args[i], "--timeout") && args[i + 1])
			v = args[i + 1];
		else if (!strncmp(args[i], "--timeout=", 10))
			v = args[i] + 10;
	}
	if (v && !parse_uint(v, 1, 86400, &n))
		return (int)n + ADD_MARGIN_S;
	return ADD_DEFAULT_S;	/* none, or invalid: ublkd says so */
}

/* The target named by -t/--type, for a hint; "" if none (a config file). */
static const char *add_type(char **args)
{
	for (int i = 2; args[i]; i++) {
		if ((!strcmp(args[i], "-t") || !strcmp(args[i], "--type")) && args[i + 1])
			return args[i + 1];
		if (!strncmp(args[i], "--type=", 7))
			return args[i] + 7;
		if (!strncmp(args[i], "-t", 2) && args[i][2])
			return args[i] + 2;
	}
	return "";
}

/* The ublk device whose /dev/ublkcN process pid holds open, or -1: a
 * daemon killed while setting up leaves that device behind. */
static int held_device(pid_t pid)
{
	char dir[64], path[600], target[128];
	struct dirent *e;
	int id = -1;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while (id < 0 && (e = readdir(d))) {
		ssize_t n;
		unsigned int v;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (sscanf(target, "/dev/ublkc%u", &v) == 1)
			id = (int)v;
	}
	closedir(d);
	return id;
}

/* Did pid exit within ms?  (Reaps it.) */
static int reaped(pid_t pid, int ms, int *status)
{
	for (;; ms -= 20) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return 1;
		if (ms <= 0)
			return 0;
		usleep(20000);
	}
}

/* Stop a daemon that is still setting up: SIGTERM (it undoes what it
 * made), SIGKILL after the grace time, and then delete the device it had
 * made, if any.  The device id, or -1. */
static int stop_starting(pid_t pid)
{
	struct ublk_ctrl c;
	int status, id;

	kill(pid, SIGTERM);
	if (reaped(pid, ADD_GRACE_S * 1000, &status))
		return -1;
	id = held_device(pid);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	if (id >= 0 && ctrl_open(&c) == 0) {
		ctrl_stop_dev(&c, id);
		ctrl_del_dev(&c, id);
		ctrl_close(&c);
		runstate_remove(id);
	}
	return id;
}

static int wait_ready(int rfd, pid_t pid, int limit_s, const char *type)
{
	struct pollfd pfd = { .fd = rfd, .events = POLLIN };
	char buf[32] = "", gone[64] = "";
	int status, ret, id;
	ssize_t n;

	do
		ret = poll(&pfd, 1, limit_s * 1000);
	while (ret < 0 && errno == EINTR);
	if (ret == 0 && !reaped(pid, 0, &status)) {
		id = stop_starting(pid);
		if (id >= 0)
			snprintf(gone, sizeof(gone), " and deleted device %d", id);
		if (!strcmp(type, "nbd"))
			ublkd_error("ublkd did not make the device live within %d s (still "
				    "connecting to the nbd server?): stopped it%s; check that the "
				    "server answers, or raise --timeout", limit_s, gone);
		else
			ublkd_error("ublkd did not make the device live within %d s (still "
				    "setting up%s%s?): stopped it%s; see the system log, or retry "
				    "with --foreground", limit_s, *type ? " target " : "", type,
				    gone);
		return 1;
	}
	if (ret > 0) {
		n = read(rfd, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = 0;
			printf(UBLK_BLOCK_FMT "\n", (unsigned int)strtoul(buf, NULL, 10));
			ublksrv_dump((uint32_t)strtoul(buf, NULL, 10));
			return 0;
		}
		/* ublkd exited before it was ready; it said why on stderr. */
		if (waitpid(pid, &status, 0) < 0)
			return 1;
	}
	/* ublk's own statuses (see ublk(8)): 127, ublkd could not be run;
	 * else 1, whatever ublkd's (78 for a bad setting: see ublkd(8)). */
	if (WIFEXITED(status))
		return WEXITSTATUS(status) == 127 ? 127 : 1;
	ublkd_error("ublkd died from signal %d while starting", WTERMSIG(status));
	return 1;
}

/* Run ublkd with args (args[1] is a slot for --ready-fd/--foreground):
 * in the foreground by exec, or in the background, returning once the
 * device is live and printing its path. */
static int spawn_ublkd(char **args, int foreground)
{
	const char *ublkd = find_ublkd();
	int p[2];
	pid_t pid;

	args[0] = (char *)"ublkd";
	if (foreground) {
		args[1] = (char *)"--foreground";
		execv(ublkd, args);
		ublkd_error("cannot run %s: %s (is ublkd installed?)", ublkd, strerror(errno));
		return 1;
	}
	/* --ready-fd goes before the user's options, so that a trailing
	 * option without its value is reported as such. */
	args[1] = (char *)"--ready-fd=3";
	if (pipe2(p, O_CLOEXEC) < 0)
		return 1;
	pid = fork();
	if (pid < 0) {
		ublkd_error("fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* The daemon outlives us in a session of its own; stderr
		 * stays ours until it is ready, for its error messages. */
		setsid();
		dup2(null, 0);
		dup2(null, 1);
		if (p[1] == 3)
			fcntl(3, F_SETFD, 0);
		else
			dup2(p[1], 3);
		execv(ublkd, args);
		ublkd_error("cannot run %s: %s (is ublkd installed?)", ublkd, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	return wait_ready(p[0], pid, add_limit_s(args), add_type(args));
}

static int cmd_add(int argc, char **argv)
{
	char **args = calloc(argc + 3, sizeof(*args));
	int i, n = 2, foreground = 0, ret;

	if (!args)
		return 1;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--foreground"))
			foreground = 1;
		else
			args[n++] = argv[i];
		/* ublkd answers these itself, on our terminal, and exits:
		 * run it in the foreground (ublkd ignores --foreground). */
		if (!strcmp(argv[i], "--check") || !strcmp(argv[i], "--help") ||
		    !strcmp(argv[i], "-h"))
			foreground = 1;
	}
	ret = spawn_ublkd(args, foreground);
	free(args);
	return ret;
}

/* ---------------------------------------------------------------- state */

pid_t state_pid(const char *state)
{
	int64_t pid;

	return state && runstate_lookup_int(state, "pid", &pid) == 0 ? (pid_t)pid : 0;
}

/* Is pid a running ublkd?  (Guards against reused pids.) */
int ublkd_alive(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (pid <= 0 || kill(pid, 0) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	return !strncmp(comm, "ublkd", 5);
}

int dev_exists(uint32_t id)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/class/ublk-char/ublkc%u", id);
	return access(path, F_OK) == 0;
}

/* ---------------------------------------------------------------- del */

/*
 * `ublk del` deletes a device nobody uses and refuses one in use, naming
 * what holds it: stopping a disk under a mounted file system or an open
 * file fails their I/O.  --force does that anyway, in bounded time.
 *
 *   1. claim: refuse a device in use (TRY_STOP_DEV where the kernel has
 *      it, which also stops the device and keeps new openers out; else
 *      the holders Linux shows), unless --force;
 *   2. SIGTERM every daemon: it stops the device (STOP_DEV fails any
 *      holder's further I/O), flushes its target and deletes the device;
 *   3. wait for them all, up to --timeout; a daemon still running then is
 *      killed and the device stopped and deleted from here.
 * A device without a daemon (it died) is stopped and deleted from here.
 */

#define DEL_DEFAULT_TIMEOUT_S 30
/* A just-added or just-closed disk is probed by udev (blkid) for a moment. */
#define DEL_BUSY_GRACE_MS 2000

struct del_job {
	uint32_t id;
	pid_t pid;		/* its ublkd, 0 when none runs */
};

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is the device free to delete?  0 yes (with TRY_STOP_DEV: and stopped
 * already), -EBUSY no.  Waits out a short-lived opener such as udev. */
static int del_claim(struct ublk_ctrl *c, uint32_t id)
{
	struct ublksrv_ctrl_dev_info info;
	int64_t until = now_ms() + DEL_BUSY_GRACE_MS;
	char who[512];
	int ret;

	for (;;) {
		if (ctrl_get_info(c, id, &info) < 0)
			return 0;	/* gone meanwhile: nothing to refuse */
		ret = 0;
		if (info.flags & UBLK_F_SAFE_STOP_DEV) {
			ret = ctrl_try_stop_dev(c, id);
			if (ret == -ENODEV)
				ret = 0;	/* no disk (never started, or stopped) */
		} else if (holders_describe(id, who, sizeof(who)) > 0)
			ret = -EBUSY;
		if (ret != -EBUSY || now_ms() >= until)
			break;
		usleep(50000);
	}
	if (ret != -EBUSY)
		return 0;	/* any other TRY_STOP_DEV error: the daemon's STOP_DEV decides */
	if (holders_describe(id, who, sizeof(who)) == 0)
		snprintf(who, sizeof(who), "open by a process or kernel user not visible here");
	ublkd_error("device %u is in use (" UBLK_BLOCK_FMT " %s): unmount or close it, or "
		    "'ublk del --force -n %u' fails its I/O and deletes it", id, id, who, id);
	return -EBUSY;
}

/* Stop and delete a device from here: its daemon is gone. */
static int del_orphan(struct ublk_ctrl *c, uint32_t id)
{
	int ret;

	ctrl_stop_dev(c, id);
	ret = ctrl_release_dev(c, id, 1000);
	runstate_remove(id);
	if (ret < 0 && ret != -ENODEV && ret != -EBUSY) {
		ublkd_error("cannot delete device %u: %s", id, strerror(-ret));
		return 1;
	}
	return 0;
}

/* Steps 1 and 2 for one device: 0 started (or done), 1 refused or failed. */
static int del_start(struct ublk_ctrl *c, struct del_job *job, int force)
{
	char *state;
	pid_t pid;

	job->pid = 0;	/* nothing to wait for, unless signalled below */
	if (!dev_exists(job->id)) {
		runstate_remove(job->id);
		ublkd_error("no ublk device %u (see 'ublk list')", job->id);
		return 1;
	}
	if (!force && del_claim(c, job->id) < 0)
		return 1;
	state = runstate_read(job->id);
	pid = state_pid(state);
	free(state);
	if (!ublkd_alive(pid))
		return del_orphan(c, job->id);
	kill(pid, SIGTERM);
	job->pid = pid;
	return 0;
}

/* Step 3: wait for the daemons until the deadline; kill the late ones. */
static int del_finish(struct ublk_ctrl *c, struct del_job *jobs, int n, int timeout_s)
{
	int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
	int i, left, ret = 0;

	do {
		for (i = 0, left = 0; i < n; i++) {
			if (jobs[i].pid && !ublkd_alive(jobs[i].pid) && !dev_exists(jobs[i].id))
				jobs[i].pid = 0;
			left += jobs[i].pid != 0;
		}
		if (left)
			usleep(10000);
	} while (left && now_ms() < deadline);
	for (i = 0; i < n; i++) {
		if (!jobs[i].pid)
			continue;
		ublkd_error("ublkd (pid %d) did not delete device %u within %d s: killed it "
			    "and deleted the device; its pending I/O failed", jobs[i].pid,
			    jobs[i].id, timeout_s);
		kill(jobs[i].pid, SIGKILL);
		for (int t = 0; t < 200 && ublkd_alive(jobs[i].pid); t++)
			usleep(10000);
		del_orphan(c, jobs[i].id);
		ret = 1;
	}
	return ret;
}

int parse_id(const char *s, uint32_t *id)
{
	uint64_t v;

	if (parse_uint(s, 0, 0x7fffffff, &v)) {
		ublkd_error("invalid device id '%s': expected a number such as 0", s);
		return -1;
	}
	*id = v;
	return 0;
}

static int cmd_del(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "async", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	static struct del_job jobs[MAX_DEVS];
	uint32_t ids[MAX_DEVS];
	struct ublk_ctrl c;
	int all = 0, force = 0, timeout_s = DEL_DEFAULT_TIMEOUT_S, n = 0, i, ret = 0, opt;
	uint64_t v;

	while ((opt = getopt_long(argc, argv, "n:af", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (n >= MAX_DEVS || parse_id(optarg, &ids[n]))
				return 1;
			n++;
			break;
		case 'a':
			all = 1;
			break;
		case 'f':
			force = 1;
			break;
		case 'T':
			if (parse_uint(optarg, 1, 3600, &v)) {
				ublkd_error("invalid --timeout '%s': expected seconds, 1-3600", optarg);
				return 1;
			}
			timeout_s = (int)v;
			break;
		case 'A':
			break;	/* accepted for ublksrv scripts: del is always safe */
		default:
			ublkd_error("usage: ublk del -n ID | -a [--force] [--timeout S]");
			return 1;
		}
	}
	if (!all && !n) {
		ublkd_error("which device? use 'ublk del -n ID' or 'ublk del -a'");
		return 1;
	}
	if (ctrl_open(&c) < 0)
		return 1;
	if (all)
		n = ctrl_list_ids(ids, MAX_DEVS);
	for (i = 0; i < n; i++) {
		jobs[i].id = ids[i];
		ret |= del_start(&c, &jobs[i], force);
	}
	ret |= del_finish(&c, jobs, n, timeout_s);
	ctrl_close(&c);
	return ret;
}

/* ---------------------------------------------------------------- recover */

/* A new ublkd takes the device over; it reads the device's configuration
 * from the recovery record the first daemon wrote (never from here, whose
 * directory may not be the first start's). */
static int cmd_recover(int argc, char **argv)
{
	char *state, idbuf[16];
	char *args[] = { NULL, NULL, (char *)"--recover", (char *)"-n", idbuf, NULL };
	uint32_t id;
	pid_t pid;
	int opt;

	if (argc < 3 || (opt = getopt(argc, argv, "n:")) != 'n' || parse_id(optarg, &id)) {
		ublkd_error("usage: ublk recover -n ID");
		return 1;
	}
	state = runstate_read(id);
	pid = state_pid(state);
	free(state);
	if (ublkd_alive(pid)) {
		ublkd_error("device %u is served by a running ublkd (pid %d): nothing to recover",
			    id, pid);
		return 1;
	}
	snprintf(idbuf, sizeof(idbuf), "%u", id);
	return spawn_ublkd(args, 0);
}

/* ---------------------------------------------------------------- resize */

/* How long the daemon may take to answer (a target may stat a file or ask
 * a server; the main thread answers between its other work). */
#define RESIZE_TIMEOUT_S 30

/* Send one request to device id's daemon (ublkd/control.c) and wait for
 * its one-message answer.  0, or 1 after one line. */
int ask_daemon(uint32_t id, pid_t pid, const char *req, char *ans, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd = { .events = POLLIN };
	ssize_t n;
	int fd, ret = 1;

	runstate_path(id, "sock", sa.sun_path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ublkd_error("the ublkd of device %u (pid %d) takes no requests at %s (%s): it "
			    "was started by an older ublkd, or could not write %s; restart it "
			    "(ublk del, then ublk add)", id, pid, sa.sun_path, strerror(errno),
			    runstate_dir());
		goto out;
	}
	pfd.fd = fd;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		ublkd_error("cannot send the request to the ublkd of device %u: %s", id,
			    strerror(errno));
		goto out;
	}
	while ((n = poll(&pfd, 1, RESIZE_TIMEOUT_S * 1000)) < 0 && errno == EINTR)
		;
	n = n > 0 ? recv(fd, ans, len - 1, 0) : -1;
	if (n <= 0) {
		ublkd_error("the ublkd of device %u (pid %d) did not answer within %d s: see the "
			    "system log", id, pid, RESIZE_TIMEOUT_S);
		goto out;
	}
	ans[n] = 0;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The daemon resizes (ublkd/resize.c): its target knows the size it can
 * serve and it keeps the recovery record that must follow.  The kernel
 * feature is checked here first, so that an older kernel gets its answer
 * whatever the daemon. */
static int cmd_resize(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	char req[64], ans[8192], from[32], to[32], *state;
	uint64_t size = 0, features = 0, old, now;
	int opt, force = 0, have_id = 0, ret;
	struct ublk_ctrl c;
	struct utsname u;
	uint32_t id = 0;
	pid_t pid;

	while ((opt = getopt_long(argc, argv, "n:s:f", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_id(optarg, &id))
				return 1;
			have_id = 1;
			break;
		case 's':
			if (parse_size(optarg, &size) || !size || size % 512) {
				ublkd_error("invalid size '%s' for -s: expected a non-zero multiple "
					    "of 512 bytes such as 1G, 512M or 4096", optarg);
				return 1;
			}
			break;
		case 'f':
			force = 1;
			break;
		default:
			ublkd_error("usage: ublk resize -n ID [-s SIZE] [--force]");
			return 1;
		}
	}
	if (!have_id || optind < argc) {
		ublkd_error("usage: ublk resize -n ID [-s SIZE] [--force]");
		return 1;
	}
	if (ctrl_open(&c) < 0)
		return 1;
	ret = ctrl_get_features(&c, &features);
	ctrl_close(&c);
	if (ret < 0 || !(features & UBLK_F_UPDATE_SIZE)) {
		uname(&u);
		ublkd_error("ublk resize needs the kernel feature UBLK_F_UPDATE_SIZE (Linux %s+); "
			    "this kernel (%s) does not have it", feature_since(UBLK_F_UPDATE_SIZE),
			    u.release);
		return 1;
	}
	if (!dev_exists(id)) {
		ublkd_error("no ublk device %u (see 'ublk list')", id);
		return 1;
	}
	state = runstate_read(id);
	pid = state_pid(state);
	free(state);
	if (!ublkd_alive(pid)) {
		ublkd_error("device %u has no running ublkd: recover it first ('ublk recover -n "
			    "%u'), then resize it", id, id);
		return 1;
	}
	snprintf(req, sizeof(req), "resize %llu %d", (unsigned long long)size, force);
	if (ask_daemon(id, pid, req, ans, sizeof(ans)))
		return 1;
	if (!strncmp(ans, "error ", 6)) {
		ublkd_error("%s", ans + 6);
		return 1;
	}
	if (sscanf(ans, "ok %" SCNu64 " %" SCNu64, &old, &now) != 2) {
		ublkd_error("unexpected answer from the ublkd of device %u: '%.80s': use the ublk "
			    "of the same version", id, ans);
		return 1;
	}
	format_size(old, from, sizeof(from));
	format_size(now, to, sizeof(to));
	if (old == now)
		printf(UBLK_BLOCK_FMT ": %s, unchanged\n", id, to);
	else
		printf(UBLK_BLOCK_FMT ": %s -> %s\n", id, from, to);
	return 0;
}

/* ---------------------------------------------------------------- list */

struct dev_view {
	uint32_t id;
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params params;
	char *state;		/* runtime state file text, or NULL */
	pid_t pid;
	int alive;
	char name[RUNSTATE_NAME_MAX + 1];	/* "" when none */
};

/* A string member of the state file, whole (malloc'd), or NULL. */
static char *state_dup(const struct dev_view *v, const char *key)
{
	size_t len = v->state ? strlen(v->state) + 1 : 0;
	char *buf = len ? malloc(len) : NULL;

	if (buf && runstate_lookup_string(v->state, key, buf, len) == 0)
		return buf;
	free(buf);
	return NULL;
}

static void state_str(const struct dev_view *v, const char *key, char *buf, size_t len)
{
	char *s = state_dup(v, key);

	snprintf(buf, len, "%s", s ? s : "-");
	free(s);
}

static uint64_t state_u64(const struct dev_view *v, const char *key)
{
	int64_t x = 0;

	if (v->state)
		runstate_lookup_int(v->state, key, &x);
	return (uint64_t)x;
}

/* The tid of queue q's thread in daemon pid: ublkd names them "ublkd-qN"
 * (queue.c), so they are found in /proc without a state file.  0 if none. */
static pid_t queue_tid(pid_t pid, unsigned int q)
{
	char path[64], want[32], comm[32];
	struct dirent *e;
	pid_t tid = 0;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = pid > 0 ? opendir(path) : NULL;
	if (!d)
		return 0;
	snprintf(want, sizeof(want), "ublkd-q%u\n", q);
	while (!tid && (e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/comm", pid, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, want))
			tid = (pid_t)strtol(e->d_name, NULL, 10);
		fclose(f);
	}
	closedir(d);
	return tid;
}

/*
 * ublksrv's layout first, field for field, so that scripts written for it
 * read the same numbers at the same positions (`grep pid | awk '{print $7}'`
 * is the daemon pid, `grep state | awk '{print $11}'` the state); then
 * ublkd's own line, which avoids the words those scripts grep for.
 */
static void list_text(struct ublk_ctrl *c, const struct dev_view *v, int verbose)
{
	char size[32], target[64], mode[32], zc[32], rec[16], cpus[1024], state[16], *p;
	uint64_t flags = v->info.flags;
	unsigned int q;
	cpu_set_t set;
	size_t n;

	snprintf(state, sizeof(state), "%s", ctrl_state_name(v->info.state));
	for (p = state; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	printf("dev id %u: nr_hw_queues %u queue_depth %u block size %u dev_capacity %llu\n",
	       v->id, v->info.nr_hw_queues, v->info.queue_depth,
	       1U << v->params.basic.logical_bs_shift,
	       (unsigned long long)v->params.basic.dev_sectors);
	printf("\tmax rq size %u daemon pid %d flags 0x%llx state %s\n",
	       v->info.max_io_buf_bytes, v->info.ublksrv_pid, (unsigned long long)flags, state);
	for (q = 0; q < v->info.nr_hw_queues; q++) {
		cpus[0] = 0;
		n = 0;
		if (ctrl_get_affinity(c, v->id, q, &set) == 0)
			for (int cpu = 0; cpu < CPU_SETSIZE && n + 8 < sizeof(cpus); cpu++)
				if (CPU_ISSET(cpu, &set))
					n += snprintf(cpus + n, sizeof(cpus) - n, "%d ", cpu);
		printf("\tqueue %u: tid %d affinity(%s)\n", q,
		       v->alive ? queue_tid(v->pid, q) : 0, cpus);
	}

	format_size(v->params.basic.dev_sectors << 9, size, sizeof(size));
	state_str(v, "target", target, sizeof(target));
	state_str(v, "copy_mode", mode, sizeof(mode));
	printf("\t" UBLK_BLOCK_FMT ": size %s, target %s, copy_mode %s, daemon %s%s%s\n",
	       v->id, size, target, mode, v->alive ? "running" : "none",
	       v->name[0] ? ", name " : "", v->name);
	if (!verbose)
		return;
	state_str(v, "zero_copy_mechanism", zc, sizeof(zc));
	state_str(v, "recovery", rec, sizeof(rec));
	printf("\tchar device " UBLK_CHAR_FMT ", logical block %u, physical block %u, "
	       "max io %u KiB\n", v->id, 1U << v->params.basic.logical_bs_shift,
	       1U << v->params.basic.physical_bs_shift,
	       v->params.basic.max_sectors / 2);
	p = state_dup(v, "description");
	printf("\tbacking: %s\n", p ? p : "-");
	free(p);
	printf("\tzero copy mechanism: %s, bytes copied by ublkd: %llu, recovery: %s\n",
	       zc, (unsigned long long)state_u64(v, "bytes_copied"), rec);
	if (v->params.types & UBLK_PARAM_TYPE_INTEGRITY) {
		const char *pi = ublk_pi_name(v->params.integrity.csum_type);

		printf("\tintegrity: %s, %u bytes of metadata per %u-byte block\n",
		       pi ? pi : "unknown", v->params.integrity.metadata_size,
		       1U << v->params.integrity.interval_exp);
	}
	p = state_dup(v, "options");
	printf("\toptions: %s\n", p ? p : "-");
	free(p);
	printf("\tfeatures:");
	for (const struct ublk_feature *f = ublk_features; f->name; f++)
		if (flags & (1ULL << f->bit))
			printf(" %s", f->name);
	putchar('\n');
}

static void list_json(struct json *j, const struct dev_view *v)
{
	char path[64];

	json_open_object(j, NULL);
	json_uint(j, "id", v->id);
	json_string(j, "state", ctrl_state_name(v->info.state));
	snprintf(path, sizeof(path), UBLK_BLOCK_FMT, v->id);
	json_string(j, "block_device", path);
	snprintf(path, sizeof(path), UBLK_CHAR_FMT, v->id);
	json_string(j, "char_device", path);
	json_uint(j, "queues", v->info.nr_hw_queues);
	json_uint(j, "depth", v->info.queue_depth);
	json_uint(j, "size", v->params.basic.dev_sectors << 9);
	json_uint(j, "logical_block_size", 1U << v->params.basic.logical_bs_shift);
	json_uint(j, "physical_block_size", 1U << v->params.basic.physical_bs_shift);
	json_uint(j, "max_io_bytes", (uint64_t)v->params.basic.max_sectors << 9);
	json_bool(j, "read_only", !!(v->params.basic.attrs & UBLK_ATTR_READ_ONLY));
	json_string(j, "integrity", v->params.types & UBLK_PARAM_TYPE_INTEGRITY ?
		    ublk_pi_name(v->params.integrity.csum_type) : NULL);
	json_uint(j, "flags", v->info.flags);
	json_open_array(j, "features");
	for (const struct ublk_feature *f = ublk_features; f->name; f++)
		if (v->info.flags & (1ULL << f->bit))
			json_string(j, NULL, f->name);
	json_close_array(j);
	if (v->name[0])
		json_string(j, "name", v->name);
	else
		json_string(j, "name", NULL);
	json_bool(j, "daemon_running", v->alive);
	if (v->alive)
		json_int(j, "pid", v->pid);
	else
		json_string(j, "pid", NULL);
	if (v->state) {
		static const char *const keys[] = {
			"target", "description", "copy_mode", "zero_copy_mechanism", "options",
			"recovery",
		};
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			char *val = state_dup(v, keys[k]);

			if (val)
				json_string(j, keys[k], val);
			free(val);
		}
		json_uint(j, "bytes_copied", state_u64(v, "bytes_copied"));
	}
	json_close_object(j);
}

static int load_view(struct ublk_ctrl *c, uint32_t id, struct dev_view *v)
{
	memset(v, 0, sizeof(*v));
	v->id = id;
	if (ctrl_get_info(c, id, &v->info) < 0)
		return -1;
	ctrl_get_params(c, id, &v->params);
	v->state = runstate_read(id);
	/* The recovery record's, as udev's (ublk udev-name): written before
	 * the disk starts, kept while the device waits for recovery. */
	if (runstate_record_name(id, v->name, sizeof(v->name)) < 0)
		v->name[0] = 0;
	v->pid = state_pid(v->state);
	v->alive = ublkd_alive(v->pid);
	return 0;
}

/* UBLK_COMPAT=ublksrv: `ublk add` and `ublk recover` also print what
 * ublksrv's do (its `list` layout), for scripts that grep "dev id". */
static void ublksrv_dump(uint32_t id)
{
	const char *env = getenv("UBLK_COMPAT");
	struct ublk_ctrl c;
	struct dev_view v;

	if (!env || strcmp(env, "ublksrv") || ctrl_open(&c) < 0)
		return;
	if (load_view(&c, id, &v) == 0)
		list_text(&c, &v, 0);
	free(v.state);
	ctrl_close(&c);
}

static int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t ids[MAX_DEVS];
	int n = -1, i, verbose = 0, as_json = 0, single = 0, opt, ret = 0;
	struct ublk_ctrl c;
	struct json j;

	while ((opt = getopt_long(argc, argv, "n:v", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (parse_id(optarg, &ids[0]))
				return 1;
			n = 1;
			single = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'j':
			as_json = 1;
			break;
		default:
			ublkd_error("usage: ublk list [-n ID] [-v] [--json]");
			return 1;
		}
	}
	if (ctrl_open(&c) < 0)
		return 1;
	if (n < 0)
		n = ctrl_list_ids(ids, MAX_DEVS);
	if (as_json) {
		json_init(&j, stdout);
		json_open_array(&j, NULL);
	}
	for (i = 0; i < n; i++) {
		struct dev_view v;

		if (load_view(&c, ids[i], &v) < 0) {
			if (single) {
				ublkd_error("no ublk device %u (see 'ublk list')", v.id);
				ret = 1;
			}
			continue;
		}
		if (as_json)
			list_json(&j, &v);
		else
			list_text(&c, &v, verbose);
		free(v.state);
	}
	if (as_json) {
		json_close_array(&j);
		json_end(&j);
	}
	ctrl_close(&c);
	return ret;
}

/* ---------------------------------------------------------------- features */

static int cmd_features(int argc, char **argv)
{
	int as_json = argc > 1 && !strcmp(argv[1], "--json");
	struct ublk_ctrl c;
	struct utsname u;
	uint64_t f = 0;
	struct json j;
	int ret;

	if (argc > 2 || (argc > 1 && !as_json)) {
		ublkd_error("usage: ublk features [--json]");
		return 1;
	}
	uname(&u);
	if (ctrl_open(&c) < 0)
		return 1;
	ret = ctrl_get_features(&c, &f);
	ctrl_close(&c);
	if (ret < 0) {
		ublkd_error("the ublk driver of this kernel (%s) cannot report features "
			    "(GET_FEATURES needs Linux 6.5+): upgrade the kernel", u.release);
		return 1;
	}
	if (as_json) {
		json_init(&j, stdout);
		json_open_object(&j, NULL);
		json_string(&j, "kernel", u.release);
		json_uint(&j, "features", f);
		json_open_array(&j, "names");
		for (const struct ublk_feature *x = ublk_features; x->name; x++)
			if (f & (1ULL << x->bit))
				json_string(&j, NULL, x->name);
		json_close_array(&j);
		json_close_object(&j);
		json_end(&j);
		return 0;
	}
	printf("kernel %s: ublk features 0x%llx\n", u.release, (unsigned long long)f);
	for (const struct ublk_feature *x = ublk_features; x->name; x++)
		printf("  %-24s %-3s  %s (Linux %s)\n", x->name,
		       f & (1ULL << x->bit) ? "yes" : "no", x->what, x->since);
	for (int bit = 0; bit < 64; bit++)
		if ((f & (1ULL << bit)) && !feature_by_bit(bit))
			printf("  bit %-20d yes  (unknown to this ublk)\n", bit);
	printf("zero copy: %s\n",
	       f & UBLK_F_AUTO_BUF_REG ? "yes, automatic buffer registration" :
	       f & UBLK_F_SUPPORT_ZERO_COPY ? "yes, registered buffers" :
	       f & UBLK_F_FUSED_ZERO_COPY ? "yes, fused commands (ublkd's kernel/ series)" : "no");
	return 0;
}

/* ---------------------------------------------------------------- udev-name */

/*
 * `ublk udev-name ublkbN[pM]`: what udev/60-ublkd.rules imports for a ublk
 * disk, UBLK_ID=N and, for a named device, UBLK_NAME=NAME.  The name comes
 * from the recovery record, which ublkd writes before START_DEV makes the
 * disk (and so before its "add" uevent): udev finds the name the first
 * time, without a "change" uevent from the daemon, and keeps finding it
 * while the device waits for recovery.  Reads one file, touches no device:
 * udev runs it for every event of the disk.
 */
static int cmd_udev_name(int argc, char **argv)
{
	char name[RUNSTATE_NAME_MAX + 1];
	unsigned int id, part;
	char end;

	if (argc != 2 || (sscanf(argv[1], "ublkb%u%c", &id, &end) != 1 &&
			  (sscanf(argv[1], "ublkb%up%u%c", &id, &part, &end) != 2))) {
		ublkd_error("usage: ublk udev-name ublkbN (the kernel name of a ublk disk, as "
			    "udev's %%k gives it)");
		return 1;
	}
	printf("UBLK_ID=%u\n", id);
	if (runstate_record_name(id, name, sizeof(name)) == 0)
		printf("UBLK_NAME=%s\n", name);
	return 0;
}

/* ---------------------------------------------------------------- main */

static int cmd_help(int argc, char **argv)
{
	const char *type = NULL;

	if (argc >= 3 && (!strcmp(argv[1], "-t") || !strcmp(argv[1], "--type")))
		type = argv[2];
	else if (argc == 2 && !strncmp(argv[1], "--type=", 7))
		type = argv[1] + 7;
	else if (argc == 2 && !strncmp(argv[1], "-t", 2) && argv[1][2])
		type = argv[1] + 2;
	else if (argc > 1) {
		ublkd_error("usage: ublk help [-t TYPE]");
		return 1;
	}
	if (type) {
		const char *ublkd = find_ublkd();
		char *args[] = { (char *)"ublkd", (char *)"-t", (char *)type, (char *)"--help", NULL };

		execv(ublkd, args);
		ublkd_error("cannot run %s: %s", ublkd, strerror(errno));
		return 1;
	}
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	log_init("ublk", LOG_LVL_INFO);
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	argv++;
	argc--;
	if (!strcmp(argv[0], "add"))
		return cmd_add(argc, argv);
	if (!strcmp(argv[0], "del"))
		return cmd_del(argc, argv);
	if (!strcmp(argv[0], "list"))
		return cmd_list(argc, argv);
	if (!strcmp(argv[0], "stat"))
		return cmd_stat(argc, argv);
	if (!strcmp(argv[0], "recover"))
		return cmd_recover(argc, argv);
	if (!strcmp(argv[0], "resize"))
		return cmd_resize(argc, argv);
	if (!strcmp(argv[0], "upgrade"))
		return cmd_upgrade(argc, argv);
	if (!strcmp(argv[0], "features"))
		return cmd_features(argc, argv);
	if (!strcmp(argv[0], "udev-name"))
		return cmd_udev_name(argc, argv);
	if (!strcmp(argv[0], "help") || !strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))
		return cmd_help(argc, argv);
	if (!strcmp(argv[0], "-v") || !strcmp(argv[0], "-V") || !strcmp(argv[0], "--version")) {
		printf("ublk %s\n", PACKAGE_VERSION);
		return 0;
	}
	ublkd_error("unknown command '%s'; see 'ublk help'", argv[0]);
	return 1;
}
