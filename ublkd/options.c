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
#include <sys/stat.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"
#include "parse.h"

enum {
	OPT_MAX_IO = 256, OPT_USER_COPY, OPT_ZC_MECH, OPT_READ_ONLY, OPT_READY_FD,
	OPT_FOREGROUND, OPT_RECOVERY, OPT_RECOVER, OPT_CONFIG, OPT_CHECK,
	OPT_OWNER, OPT_IO_SCHED, OPT_NEED_GET_DATA, OPT_NO_PART_SCAN, OPT_METRICS_DIR,
	OPT_METRICS_INTERVAL, OPT_TARGET_BASE = 1000,
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
	{ "need-get-data",	no_argument,	   NULL, OPT_NEED_GET_DATA },
	{ "batch-io",		no_argument,	   NULL, 'b' },
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
	{ "no-part-scan",	no_argument,	   NULL, OPT_NO_PART_SCAN },
	{ "metrics-dir",	required_argument, NULL, OPT_METRICS_DIR },
	{ "metrics-interval",	required_argument, NULL, OPT_METRICS_INTERVAL },
	{ "verbose",		no_argument,	   NULL, 'v' },
};
#define NR_GENERIC (sizeof(generic_opts) / sizeof(generic_opts[0]))
/* ublksrv's spellings: -u 0|1 complete uring commands in task (accepted,
 * nothing to do: ublkd's kernels always do); -g 0|1 NEED_GET_DATA; -b batch
 * I/O (refused until it exists); -r 0|1 recovery, -i 0|1 reissue (our
 * default when recovery is on), -e 0|1 fail I/O while no daemon. */
static const char generic_short[] = "+t:n:q:d:s:zu:g:br:i:e:v";

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

/* path made absolute against base (NULL: the current directory); malloc'd,
 * NULL when out of memory or the directory cannot be found. */
char *options_absolute(const char *base, const char *path)
{
	char cwd[4096], *out;

	if (path[0] == '/')
		return strdup(path);
	if (!base) {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		base = cwd;
	}
	if (asprintf(&out, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/",
		     path) < 0)
		return NULL;
	return out;
}

/* A target option's value checked against its declared type; PATH values
 * made absolute.  *out: the value to keep (malloc'd; NULL for a switch). */
static int check_topt(const struct dev_config *cfg, const struct ublkd_option *o,
		      const char *value, char **out)
{
	static char want[160];	/* outlives us: quiet_want may point here */
	char opt[80];
	uint64_t v;

	*out = NULL;
	if (!o->has_arg)
		return 0;
	snprintf(opt, sizeof(opt), "--%s", o->name);
	switch (o->type) {
	case UBLKD_OPT_INT:
		if (parse_uint(value, o->min > 0 ? (uint64_t)o->min : 0,
			       o->max > 0 ? (uint64_t)o->max : UINT64_MAX, &v)) {
			snprintf(want, sizeof(want), "an integer from %lld to %lld",
				 (long long)o->min, (long long)(o->max > 0 ? o->max : INT64_MAX));
			return bad_value(opt, value, want);
		}
		break;
	case UBLKD_OPT_SIZE:
		if (parse_size(value, &v) || (o->max > o->min &&
		    (v < (uint64_t)o->min || v > (uint64_t)o->max))) {
			snprintf(want, sizeof(want), "a size such as 4096, 512K or 1G%s",
				 o->max > o->min ? " within the option's range" : "");
			return bad_value(opt, value, want);
		}
		break;
	case UBLKD_OPT_ENUM: {
		const char *const *c;
		size_t n = 0;

		for (c = o->choices; c && *c; c++)
			if (!strcmp(*c, value))
				break;
		if (c && *c)
			break;
		want[0] = 0;
		for (c = o->choices; c && *c && n < sizeof(want); c++)
			n += snprintf(want + n, sizeof(want) - n, "%s%s", n ? ", " : "one of ", *c);
		return bad_value(opt, value, want);
	}
	case UBLKD_OPT_PATH:
		if (!value[0])
			return bad_value(opt, value, "a file name");
		*out = options_absolute(cfg->path_base, value);
		return *out ? 0 : -1;
	default:
		break;
	}
	*out = strdup(value);
	return *out ? 0 : -1;
}

static int add_topt(struct dev_config *cfg, const struct ublkd_option *opt,
		    const char *value)
{
	struct target_opt *o;
	char *v;

	if (check_topt(cfg, opt, value, &v) < 0)
		return -1;
	o = realloc(cfg->topts, (cfg->nr_topts + 1) * sizeof(*o));
	if (!o) {
		free(v);
		return -1;
	}
	cfg->topts = o;
	o[cfg->nr_topts].name = strdup(opt->name);
	o[cfg->nr_topts].value = v;
	o[cfg->nr_topts].where = NULL;
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
		/* a plugin named by its path: absolute, like every path */
		cfg->target = strchr(arg, '/') ? options_absolute(cfg->path_base, arg)
					       : strdup(arg);
		return cfg->target ? 0 : -1;
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
		/* ublksrv's UBLK_F_URING_CMD_COMP_IN_TASK: since Linux 6.x
		 * the kernel completes uring commands in task context
		 * anyway, so both values mean the same.  Not user copy
		 * (--user-copy). */
		if (strcmp(arg, "0") && strcmp(arg, "1"))
			return bad_value("-u", arg, "0 or 1");
		return 0;
	case 'g':
		if (strcmp(arg, "0") && strcmp(arg, "1"))
			return bad_value("-g", arg, "0 or 1");
		cfg->need_get_data = arg[0] == '1';
		return 0;
	case OPT_NEED_GET_DATA:
		cfg->need_get_data = 1;
		return 0;
	case 'b':
		ublkd_error("batch I/O (-b) is not implemented yet: drop -b");
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
	case OPT_NO_PART_SCAN:
		cfg->no_part_scan = 1;
		return 0;
	case OPT_METRICS_DIR:
		if (!*arg)
			return bad_value("--metrics-dir", arg, "a directory");
		free(cfg->metrics_dir);
		cfg->metrics_dir = options_absolute(cfg->path_base, arg);
		return cfg->metrics_dir ? 0 : -1;
	case OPT_METRICS_INTERVAL:
		if (parse_uint(arg, 1, 3600, &v))
			return bad_value("--metrics-interval", arg, "seconds from 1 to 3600");
		cfg->metrics_interval = (unsigned int)v;
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
			if (add_topt(cfg, o, o->has_arg ? optarg : NULL)) {
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
		if (!strcmp(o->name, name)) {
			quiet_want = want;
			ret = add_topt(cfg, o, o->has_arg ? value : NULL);
			quiet_want = NULL;
			return ret;
		}
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

/* --recover given?  Then *id is -n's value (-1 when absent). */
int options_find_recover(int argc, char **argv, int *id)
{
	const char *n = NULL;
	int i, found = 0;
	uint64_t v;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--recover"))
			found = 1;
		else if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "--number")) && i + 1 < argc)
			n = argv[++i];
		else if (!strncmp(argv[i], "--number=", 9))
			n = argv[i] + 9;
		else if (!strncmp(argv[i], "-n", 2) && argv[i][2])
			n = argv[i] + 2;
	}
	*id = n && !parse_uint(n, 0, 0x7fffffff, &v) ? (int)v : -1;
	return found;
}

/* What every start checks once all options are in, --check included:
 * combinations and required options.  0, or -1 after one line. */
int options_validate(const struct dev_config *cfg, const struct ublkd_target_ops *ops)
{
	const struct ublkd_option *o;
	struct stat st;
	int i;

	if (cfg->zc_force != ZC_NONE && cfg->data_mode != UBLKD_DATA_ZERO_COPY) {
		ublkd_error("--zc-mechanism only applies to zero copy: add --zero-copy");
		return -1;
	}
	if (cfg->metrics_interval && !cfg->metrics_dir) {
		ublkd_error("--metrics-interval applies to the metrics file: add --metrics-dir DIR");
		return -1;
	}
	if (cfg->metrics_dir) {
		const char *why = stat(cfg->metrics_dir, &st) < 0 ?
				  (errno == ENOENT ? "no such directory" : strerror(errno)) :
				  !S_ISDIR(st.st_mode) ? "not a directory" : NULL;

		if (why) {
			ublkd_error("--metrics-dir %s: %s; give an existing directory (e.g. "
				    "node_exporter's --collector.textfile.directory)",
				    cfg->metrics_dir, why);
			return -1;
		}
	}
	for (o = ops->options; o && o->name; o++) {
		if (!(o->flags & UBLKD_OPT_REQUIRED))
			continue;
		for (i = 0; i < cfg->nr_topts; i++)
			if (!strcmp(cfg->topts[i].name, o->name))
				break;
		if (i == cfg->nr_topts) {
			char key[64], *c;

			snprintf(key, sizeof(key), "%s", o->config_key ? o->config_key : o->name);
			for (c = key; *c; c++)
				if (*c == '-')
					*c = '_';
			if (o->short_name)
				ublkd_error("target %s needs -%c/--%s %s: add it (in a config "
					    "file: %s = ...;)", ops->name, o->short_name, o->name,
					    o->arg_name ? o->arg_name : "VALUE", key);
			else
				ublkd_error("target %s needs --%s %s: add it (in a config file: "
					    "%s = ...;)", ops->name, o->name,
					    o->arg_name ? o->arg_name : "VALUE", key);
			return -1;
		}
	}
	return 0;
}

/* Nothing but how to run (id, --recover, --ready-fd, -v) was asked for:
 * no device option that a recovery record would have to override. */
int options_only_meta(const struct dev_config *c)
{
	return !c->target && !c->nr_queues && !c->depth && !c->size && !c->max_io_bytes &&
	       c->data_mode == UBLKD_DATA_COPY && c->zc_force == ZC_NONE && !c->read_only &&
	       !c->need_get_data && !c->no_part_scan &&
	       !c->io_scheduler && c->recovery == RECOVERY_REISSUE && !c->owner_set &&
	       !c->metrics_dir && !c->metrics_interval && !c->nr_topts;
}

const char *options_recovery_name(enum recovery_mode r)
{
	static const char *const rec[] = {
		[RECOVERY_REISSUE] = "reissue", [RECOVERY_FAIL_IO] = "fail-io",
		[RECOVERY_OFF] = "off", [RECOVERY_ON] = "on",
	};

	return rec[r];
}

/* s as one shell word: as is when it has only safe characters, else in
 * '...' with each ' written '\'' (newlines and any byte survive '...'). */
static void print_word(FILE *f, const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789_-+=/.,:@%";

	if (s[0] && strspn(s, safe) == strlen(s)) {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* --check: the device cfg describes, as one ublkd command line. */
void options_print(FILE *f, const struct dev_config *cfg)
{
	int i;

	fputs("ublkd -t ", f);
	print_word(f, cfg->target);
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
		fprintf(f, " --need-get-data");
	if (cfg->read_only)
		fprintf(f, " --read-only");
	if (cfg->io_scheduler)
		fprintf(f, " --io-scheduler %s", cfg->io_scheduler);	/* [a-z0-9_-] */
	if (cfg->no_part_scan)
		fprintf(f, " --no-part-scan");
	if (cfg->metrics_dir) {
		fprintf(f, " --metrics-dir ");
		print_word(f, cfg->metrics_dir);
	}
	if (cfg->metrics_interval)
		fprintf(f, " --metrics-interval %u", cfg->metrics_interval);
	fprintf(f, " --recovery %s", options_recovery_name(cfg->recovery));
	if (cfg->owner_set) {
		fprintf(f, " --owner %u", (unsigned int)cfg->owner_uid);
		if (cfg->owner_gid != (gid_t)-1)
			fprintf(f, ":%u", (unsigned int)cfg->owner_gid);
	}
	for (i = 0; i < cfg->nr_topts; i++) {
		fprintf(f, " --%s", cfg->topts[i].name);
		if (cfg->topts[i].value) {
			fputc(' ', f);
			print_word(f, cfg->topts[i].value);
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
		free(cfg->topts[i].where);
	}
	free(cfg->topts);
	free(cfg->target);
	free(cfg->argv_line);
	free(cfg->io_scheduler);
	cfg->io_scheduler = NULL;
	free(cfg->metrics_dir);
	cfg->metrics_dir = NULL;
	free(cfg->config);
	cfg->config = NULL;
	free(cfg->path_base);
	cfg->path_base = NULL;
	for (i = 0; i < cfg->nr_backing; i++)
		free(cfg->backing[i].path);
	free(cfg->backing);
	cfg->backing = NULL;
	cfg->nr_backing = 0;
	cfg->topts = NULL;
	cfg->target = NULL;
	cfg->argv_line = NULL;
}
