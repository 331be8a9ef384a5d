/* SPDX-License-Identifier: MIT */
/* log.c - one-line messages to stderr, or syslog once detached. */
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <pthread.h>
#include "log.h"

static const char *log_prog = "ublkd";
static enum log_level log_verbosity = LOG_LVL_INFO;
static int log_syslog;
static int log_quiet;
static const char *log_context;	/* main thread only: see log_set_context() */

void log_init(const char *prog, enum log_level verbosity)
{
	log_prog = prog;
	log_verbosity = verbosity;
}

static pthread_t log_context_thread;

void log_set_context(const char *ctx)
{
	log_context = ctx;
	log_context_thread = pthread_self();
}

void log_set_quiet(int quiet)
{
	log_quiet = quiet;
}

static char *log_capture_buf;	/* see log_capture() */
static size_t log_capture_len;
static pthread_t log_capture_thread;

void log_capture(char *buf, size_t len)
{
	log_capture_buf = buf;
	log_capture_len = len;
	log_capture_thread = pthread_self();
	if (buf && len)
		buf[0] = 0;
}

void log_to_syslog(void)
{
	openlog(log_prog, LOG_PID, LOG_DAEMON);
	log_syslog = 1;
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const tag[] = { "", "warning: ", "", "debug: " };
	char line[8192];	/* a message may name two 4K paths */
	int n = 0;

	if (lvl > log_verbosity)
		return;
	if (log_context && lvl == LOG_LVL_ERROR && pthread_equal(pthread_self(), log_context_thread))
		n = snprintf(line, sizeof(line), "%s", log_context);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (log_capture_buf && lvl == LOG_LVL_ERROR &&
	    pthread_equal(pthread_self(), log_capture_thread))
		snprintf(log_capture_buf, log_capture_len, "%s", line);
	if (log_quiet)
		return;
	if (log_syslog) {
		syslog(prio[lvl], "%s", line);
		return;
	}
	/* One write per line so lines from queue threads never interleave. */
	fprintf(stderr, "%s: %s%s\n", log_prog, tag[lvl], line);
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
