/* SPDX-License-Identifier: MIT */
/*
 * common.c - the parts every harness shares: a scratch directory, silent
 * logging, the fuzz build's own target plugins, and stubs that keep the
 * nbd target off the network.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libnbd.h>
#include "common.h"
#include "daemon.h"
#include "log.h"

/* ---------------------------------------------------------------- logging */

/* ublkd's messages are formatted (a bad argument still shows under ASan)
 * but not printed: libFuzzer runs thousands of inputs a second and most
 * are refused with a message.  FUZZ_VERBOSE=1 prints them, to see why a
 * reproducer is refused. */
static int verbose;

void log_init(const char *prog, enum log_level verbosity) { }
void log_to_syslog(void) { }
/* The file:line a message is about (config files): kept for FUZZ_VERBOSE. */
static const char *context;
void log_set_context(const char *ctx) { context = ctx; }
/* Only control.c's requests capture messages; no harness sends one. */
void log_capture(char *buf, size_t len) { (void)buf; (void)len; }

__attribute__((format(printf, 2, 0)))
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (verbose)
		fprintf(stderr, "ublkd: %s%s%s\n", context ? context : "", context ? ": " : "", line);
}

#define DEFINE_LOG_FN(fn, lvl)				\
	void fn(const char *fmt, ...)			\
	{						\
		va_list ap;				\
		va_start(ap, fmt);			\
		log_vmsg(lvl, fmt, ap);			\
		va_end(ap);				\
	}
DEFINE_LOG_FN(ublkd_error, LOG_LVL_ERROR)
DEFINE_LOG_FN(ublkd_warn, LOG_LVL_WARN)
DEFINE_LOG_FN(ublkd_info, LOG_LVL_INFO)
DEFINE_LOG_FN(ublkd_debug, LOG_LVL_DEBUG)

/* ---------------------------------------------------------------- no network */

/* The nbd target's open() connects to the server its options name.  A
 * harness must never reach a real host or socket, so every way libnbd
 * connects fails at once here (the executable's symbols come first when
 * the plugin's calls are bound). */
#define NO_CONNECT(fn, ...)	int fn(struct nbd_handle *h, __VA_ARGS__) { return -1; }
NO_CONNECT(nbd_connect_uri, const char *uri)
NO_CONNECT(nbd_connect_unix, const char *path)
NO_CONNECT(nbd_connect_vsock, uint32_t cid, uint32_t port)
NO_CONNECT(nbd_connect_tcp, const char *host, const char *port)
NO_CONNECT(nbd_connect_socket, int sock)
NO_CONNECT(nbd_connect_command, char **argv)
NO_CONNECT(nbd_connect_systemd_socket_activation, char **argv)
NO_CONNECT(nbd_aio_connect, const struct sockaddr *addr, socklen_t len)
NO_CONNECT(nbd_aio_connect_uri, const char *uri)
NO_CONNECT(nbd_aio_connect_unix, const char *path)
NO_CONNECT(nbd_aio_connect_vsock, uint32_t cid, uint32_t port)
NO_CONNECT(nbd_aio_connect_tcp, const char *host, const char *port)
NO_CONNECT(nbd_aio_connect_socket, int sock)
NO_CONNECT(nbd_aio_connect_command, char **argv)
NO_CONNECT(nbd_aio_connect_systemd_socket_activation, char **argv)

/* ---------------------------------------------------------------- leaks */

/* libconfig 1.5 (Debian 12) leaks the text of a token its parser did not
 * expect ('a = 1 "x";', 'a = "" 1;'): a few bytes once, in a process that
 * then exits with the syntax error.  Not ublkd's to fix (1.7 frees them).
 * Only the lexer's allocations are excused: a ublkd that forgot
 * config_destroy() still shows, through the parser's settings. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

/* ---------------------------------------------------------------- setup */

static const char *const target_names[] = { "null", "loop", "nbd" };
#define NR_TARGETS (sizeof(target_names) / sizeof(target_names[0]))
static struct ublkd_target targets[NR_TARGETS];

static void die(const char *what)
{
	fprintf(stderr, "fuzz: %s\n", what);
	exit(1);
}

const char *fuzz_init(void)
{
	static char dir[4096];
	const char *tmp = getenv("TMPDIR");
	size_t i;

	verbose = getenv("FUZZ_VERBOSE") && atoi(getenv("FUZZ_VERBOSE"));
	snprintf(dir, sizeof(dir), "%s/ublkd-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir) || chdir(dir) < 0)
		die("cannot make a scratch directory under $TMPDIR");
	/* Nothing outside the scratch directory and the fuzz build. */
	if (setenv("UBLKD_RUNDIR", dir, 1) || setenv("UBLKD_CONFDIR", dir, 1) ||
	    setenv("UBLKD_PLUGIN_DIR", FUZZ_PLUGIN_DIR, 1))
		die("out of memory");
	/* Loaded now, before fuzzing starts, so that libFuzzer sees the
	 * plugins' coverage. */
	for (i = 0; i < NR_TARGETS; i++)
		if (plugin_load(&targets[i], target_names[i]) < 0)
			die("cannot load the fuzz build's target plugins from "
			    FUZZ_PLUGIN_DIR ": run make fuzz-build");
	return dir;
}

const struct ublkd_target_ops *fuzz_target(const char *name)
{
	size_t i;

	for (i = 0; name && i < NR_TARGETS; i++)
		if (!strcmp(name, target_names[i]))
			return targets[i].ops;
	return NULL;
}

char *fuzz_text(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		die("out of memory");
	memcpy(s, data, size);
	s[size] = 0;
	return s;
}

void fuzz_write_file(const char *path, const void *data, size_t size)
{
	FILE *f;

	/* A new file each time: ext4 flushes a file truncated and rewritten
	 * (auto_da_alloc) at close, which would make every run wait for the
	 * disk. */
	if (unlink(path) < 0 && errno != ENOENT)
		die("cannot write into the scratch directory");
	f = fopen(path, "wx");
	if (!f || (size && fwrite(data, size, 1, f) != 1) || fclose(f))
		die("cannot write into the scratch directory");
}

int fuzz_argv(char *text, char **argv, int max)
{
	static char arg0[] = "ublkd";
	char *p, *nl;
	int argc = 0;

	argv[argc++] = arg0;
	for (p = text; *p && argc < max; p = nl + 1) {
		argv[argc++] = p;
		nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = 0;
	}
	argv[argc] = NULL;
	return argc;
}

const struct ublkd_target_ops *fuzz_argv_target(int argc, char **argv)
{
	const struct ublkd_target_ops *ops = NULL;
	int i;

	for (i = 1; i < argc && !ops; i++) {
		if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--type")) && i + 1 < argc)
			ops = fuzz_target(argv[i + 1]);
		else if (!strncmp(argv[i], "--type=", 7))
			ops = fuzz_target(argv[i] + 7);
		else if (!strncmp(argv[i], "-t", 2) && argv[i][2])
			ops = fuzz_target(argv[i] + 2);
		else
			continue;
		break;
	}
	return ops ? ops : fuzz_target("null");
}

void fuzz_getopt_reset(void)
{
	static char arg0[] = "fuzz";
	char *argv[] = { arg0, NULL };

	optind = 0;	/* glibc: reinitialise completely on the next call */
	getopt(1, argv, "");
}
