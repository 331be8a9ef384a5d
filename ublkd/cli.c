/* SPDX-License-Identifier: MIT */
/*
 * cli.c - `ublk`, the command line: add, del, list, features, help.
 *
 * `add` runs one ublkd per device (never in-process) and returns once the
 * block device is live; the others talk to /dev/ublk-control and read the
 * daemons' runtime state files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ctrl.h"
#include "ublk-features.h"
#include "json.h"
#include "log.h"
#include "parse.h"
#include "runstate.h"

#define MAX_DEVS 1024

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ublk COMMAND [OPTIONS]\n"
		"\n"
		"  add -t TYPE [-n ID] [-q QUEUES] [-d DEPTH] [-s SIZE] [-z] [--recovery MODE]\n"
		"      [--foreground] [TARGET OPTIONS]\n"
		"                          create a device served by a new ublkd; prints its path\n"
		"  del -n ID | -a          stop and delete a device (or all)\n"
		"  list [-n ID] [-v] [--json]  show devices\n"
		"  recover -n ID           start a new ublkd for a device whose daemon died\n"
		"  features [--json]       ublk features of the running kernel\n"
		"  help [-t TYPE]          this help, or a target's options\n"
		"  --version               print the version\n"
		"\n"
		"See ublk(8).\n");
}

/* ---------------------------------------------------------------- add */

/* ublkd: $UBLKD_PATH, else next to this program, else the installed one. */
static const char *find_ublkd(void)
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
			return 0;
		}
		/* ublkd exited before it was ready; it said why on stderr. */
		if (waitpid(pid, &status, 0) < 0)
			return 1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status) ? WEXITSTATUS(status) : 1;
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
	}
	ret = spawn_ublkd(args, foreground);
	free(args);
	return ret;
}

/* ---------------------------------------------------------------- state */

static pid_t state_pid(const char *state)
{
	int64_t pid;

	return state && json_lookup_int(state, "pid", &pid) == 0 ? (pid_t)pid : 0;
}

/* Is pid a running ublkd?  (Guards against reused pids.) */
static int ublkd_alive(pid_t pid)
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

static int dev_exists(uint32_t id)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/class/ublk-char/ublkc%u", id);
	return access(path, F_OK) == 0;
}

/* ---------------------------------------------------------------- del */

static int wait_gone(uint32_t id, pid_t pid, int timeout_ms)
{
	for (; timeout_ms > 0; timeout_ms -= 10) {
		if (!ublkd_alive(pid) && !dev_exists(id))
			return 0;
		usleep(10000);
	}
	return -1;
}

static int del_one(struct ublk_ctrl *c, uint32_t id)
{
	char *state = runstate_read(id);
	pid_t pid = state_pid(state);
	int ret;

	free(state);
	if (!dev_exists(id)) {
		runstate_remove(id);
		ublkd_error("no ublk device %u (see 'ublk list')", id);
		return 1;
	}
	if (ublkd_alive(pid)) {
		/* The daemon stops the device, finishes in-flight I/O and
		 * deletes it; we wait for that. */
		kill(pid, SIGTERM);
		if (wait_gone(id, pid, 30000) == 0)
			return 0;
		ublkd_error("ublkd (pid %d) did not delete device %u within 30 s; "
			    "killing it", pid, id);
		kill(pid, SIGKILL);
		usleep(200000);
	}
	/* No daemon (it died): stop and delete the device ourselves. */
	ctrl_stop_dev(c, id);
	ret = ctrl_del_dev(c, id);
	runstate_remove(id);
	if (ret < 0 && ret != -ENODEV) {
		ublkd_error("cannot delete device %u: %s", id, strerror(-ret));
		return 1;
	}
	return 0;
}

static int parse_id(const char *s, uint32_t *id)
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
		{ "async", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t ids[MAX_DEVS];
	struct ublk_ctrl c;
	int all = 0, n = 0, i, ret = 0, opt;

	while ((opt = getopt_long(argc, argv, "n:a", opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (n >= MAX_DEVS || parse_id(optarg, &ids[n]))
				return 1;
			n++;
			break;
		case 'a':
			all = 1;
			break;
		case 'A':
			break;	/* accepted for ublksrv scripts: del is always safe */
		default:
			ublkd_error("usage: ublk del -n ID | -a");
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
	for (i = 0; i < n; i++)
		ret |= del_one(&c, ids[i]);
	ctrl_close(&c);
	return ret;
}

/* ---------------------------------------------------------------- recover */

/* The saved options of device id (NUL-separated), as an argv with two
 * free slots in front and room for three more at the end. */
static char **saved_args(uint32_t id, char **blob)
{
	char path[256], **args;
	size_t len = 0, i;
	int n = 0;
	FILE *f;

	runstate_path(id, "args", path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return NULL;
	*blob = calloc(1, 65536);
	if (*blob)
		len = fread(*blob, 1, 65535, f);
	fclose(f);
	args = *blob ? calloc(len + 6, sizeof(*args)) : NULL;
	if (!args)
		return NULL;
	n = 2;
	for (i = 0; i < len; i += strlen(*blob + i) + 1)
		args[n++] = *blob + i;
	return args;
}

static int cmd_recover(int argc, char **argv)
{
	char *state, *blob = NULL, **args, idbuf[16];
	int opt, n, ret;
	uint32_t id;
	pid_t pid;

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
	args = saved_args(id, &blob);
	if (!args) {
		ublkd_error("no saved options for device %u in %s: start ublkd by hand with "
			    "the device's options plus --recover -n %u", id, runstate_dir(), id);
		free(blob);
		return 1;
	}
	for (n = 2; args[n]; n++)
		;
	snprintf(idbuf, sizeof(idbuf), "%u", id);
	args[n++] = (char *)"--recover";
	args[n++] = (char *)"-n";
	args[n++] = idbuf;
	ret = spawn_ublkd(args, 0);
	free(args);
	free(blob);
	return ret;
}

/* ---------------------------------------------------------------- list */

struct dev_view {
	uint32_t id;
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params params;
	char *state;		/* runtime state file text, or NULL */
	pid_t pid;
	int alive;
};

static void state_str(const struct dev_view *v, const char *key, char *buf, size_t len)
{
	if (!v->state || json_lookup_string(v->state, key, buf, len) < 0)
		snprintf(buf, len, "-");
}

static uint64_t state_u64(const struct dev_view *v, const char *key)
{
	int64_t x = 0;

	if (v->state)
		json_lookup_int(v->state, key, &x);
	return (uint64_t)x;
}

static void list_text(const struct dev_view *v, int verbose)
{
	char size[32], target[64], mode[32], desc[512], opts[1024], zc[32], rec[16];
	uint64_t flags = v->info.flags;

	format_size(v->params.basic.dev_sectors << 9, size, sizeof(size));
	state_str(v, "target", target, sizeof(target));
	state_str(v, "copy_mode", mode, sizeof(mode));
	printf("dev %u: " UBLK_BLOCK_FMT "  state %s  size %s  queues %u  depth %u  "
	       "target %s  copy_mode %s  daemon %s",
	       v->id, v->id, ctrl_state_name(v->info.state), size,
	       v->info.nr_hw_queues, v->info.queue_depth, target, mode,
	       v->alive ? "running" : "none");
	if (v->alive)
		printf(" (pid %d)", v->pid);
	putchar('\n');
	if (!verbose)
		return;
	state_str(v, "description", desc, sizeof(desc));
	state_str(v, "options", opts, sizeof(opts));
	state_str(v, "zero_copy_mechanism", zc, sizeof(zc));
	state_str(v, "recovery", rec, sizeof(rec));
	printf("    char device " UBLK_CHAR_FMT "  logical block %u  physical block %u  "
	       "max io %u KiB\n", v->id, 1U << v->params.basic.logical_bs_shift,
	       1U << v->params.basic.physical_bs_shift,
	       v->params.basic.max_sectors / 2);
	printf("    backing: %s\n    zero copy mechanism: %s  bytes copied by ublkd: %llu  "
	       "recovery: %s\n", desc, zc, (unsigned long long)state_u64(v, "bytes_copied"), rec);
	printf("    options: %s\n    flags 0x%llx:", opts, (unsigned long long)flags);
	for (const struct ublk_feature *f = ublk_features; f->name; f++)
		if (flags & (1ULL << f->bit))
			printf(" %s", f->name);
	putchar('\n');
}

static void list_json(struct json *j, const struct dev_view *v)
{
	char buf[1024], path[64];

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
	json_uint(j, "flags", v->info.flags);
	json_open_array(j, "features");
	for (const struct ublk_feature *f = ublk_features; f->name; f++)
		if (v->info.flags & (1ULL << f->bit))
			json_string(j, NULL, f->name);
	json_close_array(j);
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
			if (json_lookup_string(v->state, keys[k], buf, sizeof(buf)) == 0)
				json_string(j, keys[k], buf);
		}
		json_uint(j, "bytes_copied", state_u64(v, "bytes_copied"));
	}
	json_close_object(j);
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
		struct dev_view v = { .id = ids[i] };

		if (ctrl_get_info(&c, v.id, &v.info) < 0) {
			if (single) {
				ublkd_error("no ublk device %u (see 'ublk list')", v.id);
				ret = 1;
			}
			continue;
		}
		ctrl_get_params(&c, v.id, &v.params);
		v.state = runstate_read(v.id);
		v.pid = state_pid(v.state);
		v.alive = ublkd_alive(v.pid);
		if (as_json)
			list_json(&j, &v);
		else
			list_text(&v, verbose);
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
	if (!strcmp(argv[0], "recover"))
		return cmd_recover(argc, argv);
	if (!strcmp(argv[0], "features"))
		return cmd_features(argc, argv);
	if (!strcmp(argv[0], "help") || !strcmp(argv[0], "-h") || !strcmp(argv[0], "--help"))
		return cmd_help(argc, argv);
	if (!strcmp(argv[0], "-v") || !strcmp(argv[0], "-V") || !strcmp(argv[0], "--version")) {
		printf("ublk %s\n", PACKAGE_VERSION);
		return 0;
	}
	ublkd_error("unknown command '%s'; see 'ublk help'", argv[0]);
	return 1;
}
