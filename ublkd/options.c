/* SPDX-License-Identifier: MIT */
/*
 * options.c - ublkd's command line: the generic options (the table of
 * option-table.c) plus the target's own (its ublkd_option table), into a
 * struct dev_config; the checks every option's value goes through, from
 * the command line and config files alike; and what is printed from the
 * table (--help, --check, --list-options).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"
#include "option-table.h"
#include "parse.h"

/* getopt codes: a short option is its character; a generic long option
 * GENERIC_BASE + its index in generic_options[]; a target's long option
 * TARGET_BASE + its index (| ALT_SPELLING for its '_' spelling). */
enum { GENERIC_BASE = 256, TARGET_BASE = 1000, ALT_SPELLING = 0x10000 };

/* What the last refused value should have been; a message's "expected". */
static char want_buf[256];

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

/* "a, b or c": the choices of an ENUM option. */
static void list_choices(const struct ublkd_option *o, char *buf, size_t len)
{
	const char *const *c;
	size_t n = 0;

	buf[0] = 0;
	for (c = o->choices; c && *c && n < len; c++)
		n += snprintf(buf + n, len - n, "%s%s", c == o->choices ? "" : c[1] ? ", " : " or ",
			      *c);
}

/* What a value of o must be, for messages; what: the generic option's
 * words for it (option-table.h), NULL for a target's. */
static const char *expectation(const struct ublkd_option *o, const char *what)
{
	switch (o->type) {
	case UBLKD_OPT_INT:
		snprintf(want_buf, sizeof(want_buf), "%s from %lld to %lld",
			 what ? what : "an integer", (long long)o->min,
			 (long long)(o->max > 0 ? o->max : INT64_MAX));
		break;
	case UBLKD_OPT_SIZE:
		snprintf(want_buf, sizeof(want_buf), "%s", what ? what :
			 o->max > o->min ? "a size such as 4096, 512K or 1G within the "
			 "option's range" : "a size such as 4096, 512K or 1G");
		break;
	case UBLKD_OPT_ENUM:
		list_choices(o, want_buf, sizeof(want_buf));
		break;
	case UBLKD_OPT_PATH:
		snprintf(want_buf, sizeof(want_buf), "%s", what ? what : "a file name");
		break;
	default:
		snprintf(want_buf, sizeof(want_buf), "%s", what ? what : "a value");
		break;
	}
	return want_buf;
}

/*
 * A value checked against its option's declared type (range, choices), the
 * same for generic and target options.  0, with *abs the value made
 * absolute (malloc'd) for a PATH, else NULL; -1 when it does not fit, -2
 * after a message.
 */
static int check_value(const struct dev_config *cfg, const struct ublkd_option *o,
		       const char *value, char **abs)
{
	const char *const *c;
	uint64_t v;

	*abs = NULL;
	if (!o->has_arg)
		return 0;
	switch (o->type) {
	case UBLKD_OPT_INT:
		return parse_uint(value, o->min > 0 ? (uint64_t)o->min : 0,
				  o->max > 0 ? (uint64_t)o->max : UINT64_MAX, &v) ? -1 : 0;
	case UBLKD_OPT_SIZE:
		return parse_size(value, &v) || (o->max > o->min &&
		       (v < (uint64_t)o->min || v > (uint64_t)o->max)) ? -1 : 0;
	case UBLKD_OPT_ENUM:
		for (c = o->choices; c && *c; c++)
			if (!strcmp(*c, value))
				return 0;
		return -1;
	case UBLKD_OPT_PATH:
		if (!value[0])
			return -1;
		*abs = options_absolute(cfg->path_base, value);
		if (*abs)
			return 0;
		ublkd_error("cannot make %s absolute: %s", value, strerror(errno));
		return -2;
	default:
		return 0;
	}
}

int options_apply_generic(struct dev_config *cfg, const struct gopt *g, const char *value,
			  const char **want)
{
	char *abs;
	int ret;

	*want = NULL;
	ret = check_value(cfg, &g->o, value, &abs);
	if (ret == 0) {
		ret = g->set(cfg, abs ? abs : g->o.has_arg ? value : NULL, want);
		free(abs);
	}
	if (ret == -1 && !*want)
		*want = expectation(&g->o, g->what);
	return ret;
}

int options_apply_target(struct dev_config *cfg, const struct ublkd_option *o,
			 const char *value, const char **want)
{
	struct target_opt *t;
	char *v = NULL;
	int ret;

	*want = NULL;
	ret = check_value(cfg, o, value, &v);
	if (ret == -1)
		*want = expectation(o, NULL);
	if (ret < 0)
		return ret;
	if (o->has_arg && !v && !(v = strdup(value)))
		goto oom;
	t = realloc(cfg->topts, (cfg->nr_topts + 1) * sizeof(*t));
	if (!t)
		goto oom;
	cfg->topts = t;
	t[cfg->nr_topts].name = strdup(o->name);
	t[cfg->nr_topts].value = v;
	t[cfg->nr_topts].where = NULL;
	cfg->nr_topts++;
	return 0;
oom:
	free(v);
	ublkd_error("out of memory");
	return -2;
}

/* getopt's tables: the generic options (all but GOPT_EARLY), then the
 * target's, each long name also in its '_' spelling (ublksrv's style). */
static int build_tables(const struct ublkd_target_ops *ops, struct option **lopts,
			char *sopts, size_t slen)
{
	const struct ublkd_option *o;
	size_t n = 0, i = 0, g;
	struct option *l;
	char *p = sopts;

	for (o = ops->options; o && o->name; o++)
		n++;
	l = calloc(2 * nr_generic_options + 2 * n + 1, sizeof(*l));
	if (!l)
		return -1;
	*p++ = '+';	/* options end at the first non-option */
	for (g = 0; g < nr_generic_options; g++) {
		const struct gopt *e = &generic_options[g];
		int has_arg = e->o.has_arg ? required_argument : no_argument;

		if (e->flags & GOPT_EARLY)
			continue;
		if (e->o.name)
			l[i++] = (struct option){ e->o.name, has_arg, NULL, GENERIC_BASE + (int)g };
		if (e->alias)
			l[i++] = (struct option){ e->alias, has_arg, NULL, GENERIC_BASE + (int)g };
		if (e->o.short_name && (size_t)(p - sopts) + 3 < slen) {
			*p++ = e->o.short_name;
			if (e->o.has_arg)
				*p++ = ':';
		}
	}
	for (o = ops->options; o && o->name; o++) {
		int code = TARGET_BASE + (int)(o - ops->options);
		int has_arg = o->has_arg ? required_argument : no_argument;
		char *alt;

		l[i++] = (struct option){ o->name, has_arg, NULL, code };
		if (strchr(o->name, '-') && (alt = strdup(o->name))) {
			for (char *c = alt; *c; c++)
				if (*c == '-')
					*c = '_';
			l[i++] = (struct option){ alt, has_arg, NULL, code | ALT_SPELLING };
		}
		if (o->short_name && !gopt_by_short(o->short_name) &&
		    (size_t)(p - sopts) + 3 < slen) {
			*p++ = o->short_name;
			if (o->has_arg)
				*p++ = ':';
		}
	}
	*p = 0;
	*lopts = l;
	return 0;
}

static void free_tables(struct option *l)
{
	struct option *o;

	for (o = l; o->name; o++)
		if (o->val & ALT_SPELLING)
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

/* One option from getopt: 0, or -1 after one line. */
static int apply_cli(struct dev_config *cfg, const struct ublkd_target_ops *ops, int c,
		     const char *arg)
{
	const struct ublkd_option *o = NULL;
	const struct gopt *g = NULL;
	const char *want;
	char name[80];
	int ret;

	if ((c & 0xffff) >= TARGET_BASE)
		o = &ops->options[(c & 0xffff) - TARGET_BASE];
	else if (c >= GENERIC_BASE)
		g = &generic_options[c - GENERIC_BASE];
	else if (!(g = gopt_by_short(c)))
		o = short_to_target(ops, c);
	if (g) {
		o = &g->o;
		ret = options_apply_generic(cfg, g, arg, &want);
	} else {
		ret = options_apply_target(cfg, o, o->has_arg ? arg : NULL, &want);
	}
	if (ret == -1)
		ublkd_error("invalid value '%s' for %s: expected %s", arg ? arg : "",
			    option_display(o, name, sizeof(name)), want);
	return ret < 0 ? -1 : 0;	/* -2: reported */
}

int options_parse(struct dev_config *cfg, int argc, char **argv,
		  const struct ublkd_target_ops *ops)
{
	struct option *lopts;
	char sopts[160];
	int c, idx, ret = 0;

	if (build_tables(ops, &lopts, sopts, sizeof(sopts)))
		return -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, sopts, lopts, &idx)) != -1) {
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
		if (apply_cli(cfg, ops, c, optarg) < 0) {
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

/*
 * The value of generic option g as the command line gives it, the last
 * time, without parsing (before the target, which brings its own options,
 * is loaded): "--name V", "--name=V", "-x V", "-xV"; "" for a switch.
 * first: the first time instead.  NULL when not given.
 */
static const char *find_option(int argc, char **argv, const struct gopt *g, int first)
{
	size_t len = g->o.name ? strlen(g->o.name) : 0;
	const char *found = NULL, *a;
	int i;

	for (i = 1; i < argc && !(first && found); i++) {
		a = argv[i];
		if (len && !strncmp(a, "--", 2) && !strncmp(a + 2, g->o.name, len)) {
			if (!a[len + 2] && !g->o.has_arg)
				found = "";
			else if (!a[len + 2] && i + 1 < argc)
				found = argv[++i];
			else if (a[len + 2] == '=' && g->o.has_arg)
				found = a + len + 3;
		} else if (g->o.short_name && a[0] == '-' && a[1] == g->o.short_name) {
			if (!g->o.has_arg && !a[2])
				found = "";
			else if (g->o.has_arg && a[2])
				found = a + 2;
			else if (g->o.has_arg && i + 1 < argc)
				found = argv[++i];
		}
	}
	return found;
}

/* The generic option whose long name is name (it must be in the table). */
static const struct gopt *gopt_named(const char *name)
{
	size_t i;

	for (i = 0; i < nr_generic_options; i++)
		if (generic_options[i].o.name && !strcmp(generic_options[i].o.name, name))
			return &generic_options[i];
	abort();
}

/* The value of --config, found before the target is loaded. */
const char *options_find_config(int argc, char **argv)
{
	return find_option(argc, argv, gopt_named("config"), 1);
}

/* --recover given?  Then *id is -n's value (-1 when absent). */
int options_find_recover(int argc, char **argv, int *id)
{
	const char *n = find_option(argc, argv, gopt_named("number"), 0);
	uint64_t v;

	*id = n && !parse_uint(n, 0, 0x7fffffff, &v) ? (int)v : -1;
	return find_option(argc, argv, gopt_named("recover"), 0) != NULL;
}

/* The value of -t/--type, found before the target is loaded. */
const char *options_find_type(int argc, char **argv)
{
	return find_option(argc, argv, gopt_named("type"), 1);
}

/* -h/--help or -V/--version anywhere (GOPT_EARLY): its short name, else 0. */
int options_find_early(int argc, char **argv)
{
	size_t g;
	int i;

	for (i = 1; i < argc; i++)
		for (g = 0; g < nr_generic_options; g++) {
			const struct ublkd_option *o = &generic_options[g].o;

			if ((generic_options[g].flags & GOPT_EARLY) &&
			    ((argv[i][0] == '-' && argv[i][1] == o->short_name && !argv[i][2]) ||
			     (!strncmp(argv[i], "--", 2) && !strcmp(argv[i] + 2, o->name))))
				return o->short_name;
		}
	return 0;
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
	if (cfg->nr_threads > 1 && !(ops->features & UBLKD_TARGET_THREADS)) {
		ublkd_error("target %s cannot serve one queue from several threads (--threads "
			    "%u): drop --threads, or give it more queues (-q)", ops->name,
			    cfg->nr_threads);
		return -1;
	}
	if (cfg->nr_threads > 1 && cfg->depth && cfg->nr_threads > cfg->depth) {
		ublkd_error("--threads %u is more than the queue depth %u: each thread serves "
			    "its share of the tags; lower --threads or raise --depth",
			    cfg->nr_threads, cfg->depth);
		return -1;
	}
	if (cfg->batch_io > 0 && cfg->nr_threads > 1) {
		ublkd_error("--batch-io and --threads %u cannot be combined: the kernel has no "
			    "per-I/O daemons with batch I/O; drop one", cfg->nr_threads);
		return -1;
	}
	if (cfg->batch_io > 0 && cfg->need_get_data) {
		ublkd_error("--batch-io and -g 1 (NEED_GET_DATA) cannot be combined: batch I/O "
			    "has no NEED_GET_DATA; drop one");
		return -1;
	}
	if (cfg->batch_io > 0 && cfg->depth == 1) {
		ublkd_error("--batch-io needs a queue depth of 2 or more (the kernel refuses "
			    "depth 1 with batch I/O): raise --depth, or drop --batch-io");
		return -1;
	}
	if (cfg->shmem && cfg->data_mode_set && cfg->data_mode == UBLKD_DATA_ZERO_COPY) {
		ublkd_error("--shmem and --zero-copy cannot be combined: under zero copy the "
			    "target never touches the data, so there is no copy to save; drop one");
		return -1;
	}
	if (cfg->shmem && cfg->need_get_data) {
		ublkd_error("--shmem and -g 1 (NEED_GET_DATA) cannot be combined: a write's "
			    "data is already in the shared memory; drop one");
		return -1;
	}
	if (cfg->shmem && shmem_check(cfg->shmem) < 0)
		return -1;
	/* The kernel hands a request's protection information only through
	 * the user-copy window of /dev/ublkcN. */
	if (cfg->integrity && cfg->data_mode_set && cfg->data_mode != UBLKD_DATA_USER_COPY) {
		ublkd_error("--integrity needs the user copy mode (the kernel passes protection "
			    "information only through pread/pwrite on /dev/ublkcN): drop %s, or "
			    "give --user-copy", cfg->data_mode == UBLKD_DATA_COPY ? "--copy" :
			    "--zero-copy");
		return -1;
	}
	if (cfg->integrity && cfg->need_get_data) {
		ublkd_error("--integrity and -g 1 (NEED_GET_DATA) cannot be combined: -g 1 is "
			    "a copy-mode feature and --integrity needs user copy; drop one");
		return -1;
	}
	if (cfg->integrity && cfg->shmem) {
		ublkd_error("--integrity and --shmem cannot be combined: ublkd does not serve "
			    "protected requests in place; drop one");
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
			char key[64], name[80];

			ublkd_error("target %s needs %s %s: add it (in a config file: %s = ...;)",
				    ops->name, option_display(o, name, sizeof(name)),
				    o->arg_name ? o->arg_name : "VALUE",
				    option_key(o, key, sizeof(key)));
			return -1;
		}
	}
	return 0;
}

/* Nothing but how to run (GOPT_META: the id, --recover, --ready-fd, -v)
 * was asked for: no device option that a recovery record would have to
 * override. */
int options_only_meta(const struct dev_config *c)
{
	char buf[64];
	size_t g;

	for (g = 0; g < nr_generic_options; g++) {
		const struct gopt *e = &generic_options[g];

		if (e->get && !(e->flags & GOPT_META) && e->get(c, buf, sizeof(buf)))
			return 0;
	}
	return !c->nr_topts;
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

/*
 * The value of GOPT_RECORD option g in cfg, as --check and the recovery
 * record write it: NULL when not set (GOPT_ALWAYS: the default).
 */
const char *options_value(const struct gopt *g, const struct dev_config *cfg, char *buf,
			  size_t len)
{
	const char *v = g->get(cfg, buf, len);

	return v ? v : g->flags & GOPT_ALWAYS ? g->def : NULL;
}

/* --check: the device cfg describes, as one ublkd command line.  A valued
 * option by its short name when it has one (ublksrv's spelling), others by
 * their long name. */
void options_print(FILE *f, const struct dev_config *cfg)
{
	char buf[64];
	size_t g;
	int i;

	fputs("ublkd", f);
	for (g = 0; g < nr_generic_options; g++) {
		const struct gopt *e = &generic_options[g];
		const char *v;

		if (!(e->flags & GOPT_RECORD) || !(v = options_value(e, cfg, buf, sizeof(buf))))
			continue;
		if (e->o.has_arg && e->o.short_name)
			fprintf(f, " -%c ", e->o.short_name);
		else
			fprintf(f, " --%s%s", e->o.name, e->o.has_arg ? " " : "");
		if (e->o.has_arg)
			print_word(f, v);
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

/* --help: the generic options, two columns, continuation lines indented. */
void options_help(FILE *f)
{
	char left[64];
	size_t g;

	for (g = 0; g < nr_generic_options; g++) {
		const struct ublkd_option *o = &generic_options[g].o;
		const char *def = generic_options[g].def, *h = o->help, *nl;
		int n = 0;

		if (o->short_name)
			n += snprintf(left, sizeof(left), "-%c%s", o->short_name,
				      o->name ? ", " : "");
		else
			n += snprintf(left, sizeof(left), "    ");
		if (o->name)
			n += snprintf(left + n, sizeof(left) - n, "--%s", o->name);
		if (o->has_arg)
			snprintf(left + n, sizeof(left) - n, " %s", o->arg_name);
		fprintf(f, "  %-22s ", left);
		while ((nl = strchr(h, '\n'))) {
			fprintf(f, "%.*s\n  %-22s ", (int)(nl - h), h, "");
			h = nl + 1;
		}
		fprintf(f, "%s", h);
		if (o->type == UBLKD_OPT_INT)
			fprintf(f, ", %lld-%lld", (long long)o->min, (long long)o->max);
		if (def)
			fprintf(f, " (default: %s)", def);
		fputc('\n', f);
	}
}

/*
 * --list-options (hidden): the table for tests/host/man-options.sh, one
 * fact per line:
 *   cli -x | cli --name [add]  a command-line spelling ("add": an option
 *                              of `ublk add` too, not GOPT_NO_ADD)
 *   key NAME TYPE [MIN MAX | CHOICE...]   a config-file key
 */
void options_list(FILE *f)
{
	static const char *const types[] = {
		[UBLKD_OPT_STRING] = "string", [UBLKD_OPT_BOOL] = "true/false",
		[UBLKD_OPT_INT] = "integer", [UBLKD_OPT_SIZE] = "size",
		[UBLKD_OPT_ENUM] = "string", [UBLKD_OPT_PATH] = "string",
	};
	char key[64];
	size_t g;

	for (g = 0; g < nr_generic_options; g++) {
		const struct gopt *e = &generic_options[g];
		const struct ublkd_option *o = &e->o;
		const char *add = e->flags & GOPT_NO_ADD ? "" : " add";
		const char *const *c;

		if (o->short_name)
			fprintf(f, "cli -%c%s\n", o->short_name, add);
		if (o->name)
			fprintf(f, "cli --%s%s\n", o->name, add);
		if (e->alias)
			fprintf(f, "cli --%s%s\n", e->alias, add);
		if (e->flags & GOPT_CLI_ONLY)
			continue;
		fprintf(f, "key %s %s", option_key(o, key, sizeof(key)), types[o->type]);
		if (o->type == UBLKD_OPT_INT)
			fprintf(f, " %lld %lld", (long long)o->min, (long long)o->max);
		for (c = o->choices; c && *c; c++)
			fprintf(f, " %s", *c);
		fputc('\n', f);
	}
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
	free(cfg->name);
	cfg->name = NULL;
	free(cfg->argv_line);
	free(cfg->io_scheduler);
	cfg->io_scheduler = NULL;
	free(cfg->metrics_dir);
	cfg->metrics_dir = NULL;
	free(cfg->shmem);
	cfg->shmem = NULL;
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
