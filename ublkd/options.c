/* SPDX-License-Identifier: MIT */
/*
 * options.c - ublkd's command line: generic options plus the target's own
 * (from its ublkd_option table), into a struct dev_config.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"
#include "parse.h"

enum {
	OPT_MAX_IO = 256, OPT_USER_COPY, OPT_ZC_MECH, OPT_READ_ONLY, OPT_READY_FD,
	OPT_FOREGROUND, OPT_RECOVERY, OPT_RECOVER, OPT_CONFIG, OPT_CHECK,
	OPT_OWNER, OPT_IO_SCHED, OPT_TARGET_BASE = 1000,
};

static const struct option generic_opts[] = {
	{ "type",		required_argument, NULL, 't' },
	{ "number",		required_argument, NULL, 'n' },
	{ "queues",		required_argument, NULL, 'q' },
	{ "depth",		required_argument, NULL, 'd' },
	{ "size",		required_argument, NULL, 's' },
	{ "max-io",		required_argument, NULL, OPT_MAX_IO },
	{ "max_io_buf_bytes",	required_argument, NULL, OPT_MAX_IO },
	{ "zero-copy",		no_argument,	   NULL, 'z' },
	{ "zerocopy",		no_argument,	   NULL, 'z' },
	{ "user-copy",		no_argument,	   NULL, OPT_USER_COPY },
	{ "usercopy",		no_argument,	   NULL, OPT_USER_COPY },
	{ "zc-mechanism",	required_argument, NULL, OPT_ZC_MECH },
	{ "read-only",		no_argument,	   NULL, OPT_READ_ONLY },
	{ "read_only",		no_argument,	   NULL, OPT_READ_ONLY },
	{ "ready-fd",		required_argument, NULL, OPT_READY_FD },
	{ "foreground",		no_argument,	   NULL, OPT_FOREGROUND },
	{ "recovery",		required_argument, NULL, OPT_RECOVERY },
	{ "recover",		no_argument,	   NULL, OPT_RECOVER },
	{ "config",		required_argument, NULL, OPT_CONFIG },
	{ "check",		no_argument,	   NULL, OPT_CHECK },
	{ "owner",		required_argument, NULL, OPT_OWNER },
	{ "io-scheduler",	required_argument, NULL, OPT_IO_SCHED },
	{ "verbose",		no_argument,	   NULL, 'v' },
};
#define NR_GENERIC (sizeof(generic_opts) / sizeof(generic_opts[0]))
/* ublksrv's spellings: -r 0|1 recovery, -i 0|1 reissue (our default when
 * recovery is on), -e 0|1 fail I/O while no daemon; -g 0|1 NEED_GET_DATA;
 * -u 0|1 "complete in task" (nothing to do: the kernel always does);
 * -b batch I/O, refused. */
static const char generic_short[] = "+t:n:q:d:s:zu:r:i:e:g:bv";

static int zero_one(const char *opt, const char *arg, int *out)
{
	if (strcmp(arg, "0") && strcmp(arg, "1")) {
		ublkd_error("invalid value '%s' for %s: expected 0 or 1", arg, opt);
		return -1;
	}
	*out = arg[0] == '1';
	return 0;
}

/* Set while options_set() runs: bad_value() reports here, prints nothing. */
static const char **quiet_want;

static int bad_value(const char *opt, const char *val, const char *want)
{
	if (quiet_want)
		*quiet_want = want;
	else
		ublkd_error("invalid value '%s' for %s: expected %s", val, opt, want);
	return -1;
}

/* "USER" or "USER:GROUP", names or numbers; gid -1 keeps the group. */
static int parse_owner(const char *arg, uid_t *uid, gid_t *gid)
{
	char user[256], *group;
	struct passwd *pw;
	struct group *gr;
	uint64_t v;

	if (snprintf(user, sizeof(user), "%s", arg) >= (int)sizeof(user) || !user[0])
		return -1;
	group = strchr(user, ':');
	if (group)
		*group++ = 0;
	if ((pw = getpwnam(user)))
		*uid = pw->pw_uid;
	else if (!parse_uint(user, 0, 0xfffffffe, &v))
		*uid = v;
	else
		return -1;
	*gid = (gid_t)-1;
	if (!group)
		return 0;
	if ((gr = getgrnam(group)))
		*gid = gr->gr_gid;
	else if (!parse_uint(group, 0, 0xfffffffe, &v))
		*gid = v;
	else
		return -1;
	return 0;
}

static int add_topt(struct dev_config *cfg, const char *name, const char *value)
{
	struct target_opt *o = realloc(cfg->topts, (cfg->nr_topts + 1) * sizeof(*o));

	if (!o)
		return -1;
	cfg->topts = o;
	o[cfg->nr_topts].name = strdup(name);
	o[cfg->nr_topts].value = value ? strdup(value) : NULL;
	cfg->nr_topts++;
	return 0;
}

static int generic(struct dev_config *cfg, int c, const char *arg)
{
	uint64_t v;
	int on;

	switch (c) {
	case 't':
		free(cfg->target);
		cfg->target = strdup(arg);
		return 0;
	case 'n':
		if (parse_uint(arg, 0, 0x7fffffff, &v))
			return bad_value("-n/--number", arg, "a device id (0 or more)");
		cfg->dev_id = (int)v;
		return 0;
	case 'q':
		if (parse_uint(arg, 1, MAX_QUEUES, &v))
			return bad_value("-q/--queues", arg, "a queue count from 1 to 64");
		cfg->nr_queues = v;
		return 0;
	case 'd':
		if (parse_uint(arg, 1, UBLK_MAX_QUEUE_DEPTH, &v))
			return bad_value("-d/--depth", arg, "a queue depth from 1 to 4096");
		cfg->depth = v;
		return 0;
	case 's':
		if (parse_size(arg, &v) || v == 0)
			return bad_value("-s/--size", arg, "a size above 0 such as 1G, 512M, 4096");
		if (v % 512)
			return bad_value("-s/--size", arg, "a multiple of 512 bytes");
		cfg->size = v;
		return 0;
	case OPT_MAX_IO:
		if (parse_size(arg, &v) || v < 4096 || v > (32U << 20) || v % 4096)
			return bad_value("--max-io", arg, "4K to 32M in multiples of 4K");
		cfg->max_io_bytes = v;
		return 0;
	case 'z':
		cfg->data_mode = UBLKD_DATA_ZERO_COPY;
		return 0;
	case 'u':
		if (strcmp(arg, "0") && strcmp(arg, "1"))
			return bad_value("-u", arg, "0 or 1");
		return 0;
	case 'g':
		if (strcmp(arg, "0") && strcmp(arg, "1"))
			return bad_value("-g", arg, "0 or 1");
		cfg->need_get_data = arg[0] == '1';
		return 0;
	case 'b':
		ublkd_error("-b (ublksrv's batch I/O) is not supported by ublkd: drop -b");
		return -1;
	case OPT_USER_COPY:
		cfg->data_mode = UBLKD_DATA_USER_COPY;
		return 0;
	case OPT_RECOVERY:
		if (!strcmp(arg, "reissue"))
			cfg->recovery = RECOVERY_REISSUE;
		else if (!strcmp(arg, "fail-io"))
			cfg->recovery = RECOVERY_FAIL_IO;
		else if (!strcmp(arg, "off"))
			cfg->recovery = RECOVERY_OFF;
		else if (!strcmp(arg, "on"))
			cfg->recovery = RECOVERY_ON;
		else
			return bad_value("--recovery", arg, "reissue, on, fail-io or off");
		return 0;
	case 'r':
		if (zero_one("-r", arg, &on))
			return -1;
		if (!on)
			cfg->recovery = RECOVERY_OFF;
		else if (cfg->recovery == RECOVERY_OFF)
			cfg->recovery = RECOVERY_REISSUE;
		return 0;
	case 'i':
		if (zero_one("-i", arg, &on))
			return -1;
		if (!on && cfg->recovery == RECOVERY_REISSUE)
			cfg->recovery = RECOVERY_ON;
		else if (on && cfg->recovery == RECOVERY_ON)
			cfg->recovery = RECOVERY_REISSUE;
		return 0;
	case 'e':
		if (zero_one("-e", arg, &on))
			return -1;
		if (on)
			cfg->recovery = RECOVERY_FAIL_IO;
		return 0;
	case OPT_RECOVER:
		cfg->recover = 1;
		return 0;
	case OPT_ZC_MECH:
		if (!strcmp(arg, "auto"))
			cfg->zc_force = ZC_AUTO;
		else if (!strcmp(arg, "register"))
			cfg->zc_force = ZC_REGISTER;
		else if (!strcmp(arg, "fused"))
			cfg->zc_force = ZC_FUSED;
		else
			return bad_value("--zc-mechanism", arg, "auto, register or fused");
		return 0;
	case OPT_READ_ONLY:
		cfg->read_only = 1;
		return 0;
	case OPT_READY_FD:
		if (parse_uint(arg, 3, 1023, &v))
			return bad_value("--ready-fd", arg, "a file descriptor number");
		cfg->ready_fd = v;
		return 0;
	case OPT_FOREGROUND:
		return 0;	/* ublkd always runs in the foreground */
	case OPT_CONFIG:
		return 0;	/* read by main() before the target is loaded */
	case OPT_CHECK:
		cfg->check = 1;
		return 0;
	case OPT_OWNER:
		if (parse_owner(arg, &cfg->owner_uid, &cfg->owner_gid))
			return bad_value("--owner", arg, "USER or USER:GROUP, an existing user and group");
		cfg->owner_set = 1;
		return 0;
	case OPT_IO_SCHED:
		if (!*arg || strlen(arg) > 31 || strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_-")
		    != strlen(arg))
			return bad_value("--io-scheduler", arg,
					 "an I/O scheduler name such as none, mq-deadline, kyber, "
					 "bfq, or 'keep'");
		free(cfg->io_scheduler);
		cfg->io_scheduler = strdup(arg);
		return 0;
	case 'v':
		cfg->verbose++;
		return 0;
	}
	return -1;
}

/* Build getopt tables of generic + target options. */
static int build_tables(const struct ublkd_target_ops *ops, struct option **lopts,
			char *sopts, size_t slen)
{
	const struct ublkd_option *o;
	size_t n = 0, i;
	struct option *l;
	char *p;

	for (o = ops->options; o && o->name; o++)
		n++;
	l = calloc(NR_GENERIC + 2 * n + 1, sizeof(*l));
	if (!l)
		return -1;
	memcpy(l, generic_opts, sizeof(generic_opts));
	snprintf(sopts, slen, "%s", generic_short);
	p = sopts + strlen(sopts);
	i = NR_GENERIC;
	for (o = ops->options; o && o->name; o++) {
		int code = OPT_TARGET_BASE + (int)(o - ops->options);
		int has_arg = o->has_arg ? required_argument : no_argument;
		char *alt;

		l[i++] = (struct option){ o->name, has_arg, NULL, code };
		/* ublksrv spells multi-word options with '_': accept both. */
		if (strchr(o->name, '-') && (alt = strdup(o->name))) {
			for (char *c = alt; *c; c++)
				if (*c == '-')
					*c = '_';
			l[i++] = (struct option){ alt, has_arg, NULL, code | 0x10000 };
		}
		if (o->short_name && (size_t)(p - sopts) + 3 < slen) {
			*p++ = o->short_name;
			if (o->has_arg)
				*p++ = ':';
			*p = 0;
		}
	}
	*lopts = l;
	return 0;
}

static void free_tables(struct option *l)
{
	struct option *o;

	for (o = l + NR_GENERIC; o->name; o++)
		if (o->val & 0x10000)
			free((char *)o->name);
	free(l);
}

static const struct ublkd_option *short_to_target(const struct ublkd_target_ops *ops, int c)
{
	const struct ublkd_option *o;

	for (o = ops->options; o && o->name; o++)
		if (o->short_name == c)
			return o;
	return NULL;
}

int options_parse(struct dev_config *cfg, int argc, char **argv,
		  const struct ublkd_target_ops *ops)
{
	struct option *lopts;
	char sopts[128];
	int c, idx, ret = 0;

	if (build_tables(ops, &lopts, sopts, sizeof(sopts)))
		return -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, sopts, lopts, &idx)) != -1) {
		const struct ublkd_option *o = NULL;

		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];

			if (c == ':' || (optopt && strchr(sopts, optopt)))
				ublkd_error("option %s needs a value; see 'ublk help -t %s'",
					    bad, ops->name);
			else
				ublkd_error("unknown option '%s' for target %s; see 'ublk help -t %s'",
					    bad, ops->name, ops->name);
			ret = -1;
			break;
		}
		if ((c & 0xffff) >= OPT_TARGET_BASE)
			o = &ops->options[(c & 0xffff) - OPT_TARGET_BASE];
		else if (c < 256 && !strchr(generic_short + 1, c))
			o = short_to_target(ops, c);
		if (o) {
			if (add_topt(cfg, o->name, o->has_arg ? optarg : NULL)) {
				ret = -1;
				break;
			}
			continue;
		}
		if (generic(cfg, c, optarg)) {
			ret = -1;
			break;
		}
	}
	if (!ret && optind < argc) {
		ublkd_error("unexpected argument '%s'; options start with '-'", argv[optind]);
		ret = -1;
	}
	free_tables(lopts);
	return ret;
}

int options_set(struct dev_config *cfg, const struct ublkd_target_ops *ops,
		const char *name, const char *value, const char **want)
{
	const struct ublkd_option *o;
	size_t i;
	int ret;

	*want = NULL;
	for (i = 0; i < NR_GENERIC; i++) {
		if (strcmp(generic_opts[i].name, name))
			continue;
		if (generic_opts[i].has_arg && !value)
			return -1;
		quiet_want = want;
		ret = generic(cfg, generic_opts[i].val, value);
		quiet_want = NULL;
		return ret;
	}
	for (o = ops->options; o && o->name; o++)
		if (!strcmp(o->name, name))
			return add_topt(cfg, o->name, o->has_arg ? value : NULL);
	return -2;
}

/* The value of --config, found before the target is loaded. */
const char *options_find_config(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return NULL;
}

/* s in single quotes for sh, each ' in it written as '\'' (fuzzing/fuzz-check). */
static void print_quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);	/* end the quote, \', quote again */
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* --check: the device cfg describes, as one ublkd command line. */
void options_print(FILE *f, const struct dev_config *cfg)
{
	static const char *const rec[] = {
		[RECOVERY_REISSUE] = "reissue", [RECOVERY_FAIL_IO] = "fail-io",
		[RECOVERY_OFF] = "off", [RECOVERY_ON] = "on",
	};
	int i;

	fprintf(f, "ublkd -t %s", cfg->target);
	if (cfg->dev_id >= 0)
		fprintf(f, " -n %d", cfg->dev_id);
	if (cfg->nr_queues)
		fprintf(f, " -q %u", cfg->nr_queues);
	if (cfg->depth)
		fprintf(f, " -d %u", cfg->depth);
	if (cfg->size)
		fprintf(f, " -s %llu", (unsigned long long)cfg->size);
	if (cfg->max_io_bytes)
		fprintf(f, " --max-io %u", cfg->max_io_bytes);
	if (cfg->data_mode == UBLKD_DATA_ZERO_COPY)
		fprintf(f, " --zero-copy");
	if (cfg->data_mode == UBLKD_DATA_USER_COPY)
		fprintf(f, " --user-copy");
	if (cfg->zc_force != ZC_NONE)
		fprintf(f, " --zc-mechanism %s", cfg->zc_force == ZC_AUTO ? "auto" :
			cfg->zc_force == ZC_FUSED ? "fused" : "register");
	if (cfg->need_get_data)
		fprintf(f, " -g 1");
	if (cfg->read_only)
		fprintf(f, " --read-only");
	if (cfg->io_scheduler)
		fprintf(f, " --io-scheduler %s", cfg->io_scheduler);
	fprintf(f, " --recovery %s", rec[cfg->recovery]);
	if (cfg->owner_set) {
		fprintf(f, " --owner %u", (unsigned int)cfg->owner_uid);
		if (cfg->owner_gid != (gid_t)-1)
			fprintf(f, ":%u", (unsigned int)cfg->owner_gid);
	}
	for (i = 0; i < cfg->nr_topts; i++) {
		fprintf(f, " --%s", cfg->topts[i].name);
		if (cfg->topts[i].value) {
			fputc(' ', f);
			print_quoted(f, cfg->topts[i].value);
		}
	}
	fputc('\n', f);
}

/* The value of -t/--type, found before the target is loaded. */
const char *options_find_type(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--type")) && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--type=", 7))
			return argv[i] + 7;
		if (!strncmp(argv[i], "-t", 2) && argv[i][2])
			return argv[i] + 2;
	}
	return NULL;
}

void options_free(struct dev_config *cfg)
{
	int i;

	for (i = 0; i < cfg->nr_topts; i++) {
		free(cfg->topts[i].name);
		free(cfg->topts[i].value);
	}
	free(cfg->topts);
	free(cfg->target);
	free(cfg->argv_line);
	free(cfg->io_scheduler);
	cfg->io_scheduler = NULL;
	free(cfg->config);
	cfg->config = NULL;
	cfg->topts = NULL;
	cfg->target = NULL;
	cfg->argv_line = NULL;
}
