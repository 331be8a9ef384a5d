/* SPDX-License-Identifier: MIT */
/* log.h - one-line messages to stderr (and to the journal when detached). */
#ifndef UBLKD_LOG_H
#define UBLKD_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* prog prefixes every line ("ublkd: ..."); verbosity: LOG_LVL_* shown. */
void log_init(const char *prog, enum log_level verbosity);
/* After detaching from the terminal: send messages to syslog/journal. */
void log_to_syslog(void);
/* Errors printed by this thread start with ctx until it is set to NULL
 * (e.g. "FILE:LINE: key 'offset': " while a target checks a value that
 * came from a config file). */
void log_set_context(const char *ctx);
/* quiet: format every message but print none (the fuzzing harnesses:
 * thousands of refused inputs a second, each with its message). */
void log_set_quiet(int quiet);
/* While buf is set (NULL ends it), the last error this thread prints is
 * also copied there: a request's answer carries the message (control.c). */
void log_capture(char *buf, size_t len);
__attribute__((format(printf, 2, 0)))
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);

/* The ublkd_error/warn/info/debug functions of <ublkd/target.h> are
 * defined in log.c and used by the daemon, the CLI and targets alike. */
#include <ublkd/target.h>

#endif
