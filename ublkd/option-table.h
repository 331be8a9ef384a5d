/* SPDX-License-Identifier: MIT */
/*
 * option-table.h - ublkd's generic options, declared once.
 *
 * The table (option-table.c, generic_options[]) is the one list of the
 * daemon's own options.  Everything else is made from it: the getopt
 * tables and the value checks (options.c), the config-file keys
 * (config.c), `ublkd --help` (main.c), the `--check` line and the
 * recovery record (record.c), and `ublkd --list-options`, which the man
 * page test (tests/host/man-options.sh) checks ublkd(8), ublkd.conf(5)
 * and ublk(8) against.
 *
 * Each entry is a struct ublkd_option, as a target declares its own (name,
 * short name, type, range, choices, help), so that generic and target
 * values go through the same checks (options_check_value()), plus what
 * only the daemon's own options have: how a value lands in struct
 * dev_config (set) and how it is read back (get).
 */
#ifndef UBLKD_OPTION_TABLE_H
#define UBLKD_OPTION_TABLE_H

#include <stddef.h>
#include "daemon.h"

/* gopt.flags */
#define GOPT_CLI_ONLY	(1U << 0)  /* no config-file key */
#define GOPT_META	(1U << 1)  /* how to run, not what device: may be given
				    * with --recover (options_only_meta()) */
#define GOPT_RECORD	(1U << 2)  /* a device setting: in the recovery record
				    * and the --check line (needs get) */
#define GOPT_ALWAYS	(1U << 3)  /* GOPT_RECORD: written even when unset, as
				    * def (the default made explicit) */
#define GOPT_EARLY	(1U << 4)  /* -h, -V: main() looks for them before
				    * anything else; not given to getopt */
#define GOPT_NO_ADD	(1U << 5)  /* not an option of `ublk add` (it sets
				    * --ready-fd itself; -V starts nothing) */

struct gopt {
	struct ublkd_option o;	/* name (NULL: a short option only), short
				 * name, has_arg, arg_name, help, type,
				 * min/max, choices; o.config_key: the key */
	const char *alias;	/* another long spelling, or NULL */
	const char *def;	/* the default, for --help (and GOPT_ALWAYS) */
	const char *what;	/* for messages: INT, what a value is ("a queue
				 * count" -> "expected a queue count from 1 to
				 * 64"); other types, the whole expectation;
				 * NULL: from the type */
	const char *example;	/* a config value, as written in a file */
	uint32_t flags;		/* GOPT_* */
	/* Store a value already checked against o (NULL for a switch).  0;
	 * -1 when the value does not do, with *want what was expected (left
	 * NULL: the option's own expectation, as for its type); -2 after a
	 * message of its own. */
	int (*set)(struct dev_config *cfg, const char *value, const char **want);
	/* The value in cfg as the command line would give it ("" for a switch
	 * that is on), in buf or static; NULL when not set. */
	const char *(*get)(const struct dev_config *cfg, char *buf, size_t len);
};

extern const struct gopt generic_options[];
extern const size_t nr_generic_options;

/* The entry whose config key is key ('-' and '_' alike), NULL if none. */
const struct gopt *gopt_by_key(const char *key);
/* The entry for short option c, NULL if none. */
const struct gopt *gopt_by_short(int c);
/* The config key of a generic or target option, '_' spelling, in buf. */
const char *option_key(const struct ublkd_option *o, char *buf, size_t len);
/* "-s/--size", "--max-io", "-u": the option as messages name it. */
const char *option_display(const struct ublkd_option *o, char *buf, size_t len);

#endif
