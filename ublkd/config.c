/* SPDX-License-Identifier: MIT */
/*
 * config.c - device config files (ublkd.conf(5)).
 *
 * One libconfig file per device.  Its keys are those of the generic
 * options (their config keys in option-table.c) and of the target's own
 * (their names in the target's ublkd_option table).  Each value is turned
 * into the string the command line would carry and handed to
 * options_apply_*(), so a key is checked by the very code that checks its
 * option; this file only adds the file, the line and the key to what went
 * wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "option-table.h"

/* What a key's value may be. */
enum kind {
	K_STRING,	/* a string */
	K_INT,		/* an integer */
	K_VALUE,	/* a string or an integer: sizes, target option values */
	K_BOOL,		/* true or false: switches */
};

/* Key names compare with '-' and '_' alike: export_name == export-name. */
static int same_key(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;

		if (x != y)
			return 0;
	}
	return *a == *b;
}

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:	 return "a group { ... }";
	case CONFIG_TYPE_ARRAY:	 return "an array [ ... ]";
	case CONFIG_TYPE_LIST:	 return "a list ( ... )";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:	 return "an integer";
	case CONFIG_TYPE_FLOAT:	 return "a decimal number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL:	 return "true/false";
	}
	return "nothing";
}

static const char *kind_name(enum kind k)
{
	switch (k) {
	case K_STRING:	return "a string in double quotes";
	case K_INT:	return "an integer";
	case K_VALUE:	return "a string or an integer";
	case K_BOOL:	return "true or false";
	}
	return "?";
}

/* What a key's value may be, from its option's type.  A target's INT and
 * STRING values may be written either way (plugins declared no types
 * before ublkd 0.2); the generic ones have one form. */
static enum kind kind_of(const struct ublkd_option *o, int generic)
{
	if (!o->has_arg)
		return K_BOOL;
	switch (o->type) {
	case UBLKD_OPT_SIZE:
		return K_VALUE;
	case UBLKD_OPT_PATH:
	case UBLKD_OPT_ENUM:
		return K_STRING;
	case UBLKD_OPT_INT:
		return generic ? K_INT : K_VALUE;
	default:
		return generic ? K_STRING : K_VALUE;
	}
}

/* The file a setting or an error is in: path itself, or a file it
 * @includes, which libconfig names relative to path's directory. */
static const char *file_of(const char *path, const char *file, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (!file || !strcmp(file, path))
		return path;
	if (file[0] == '/' || !slash)
		return file;
	snprintf(buf, len, "%.*s/%s", (int)(slash - path), path, file);
	return buf;
}

/* "FILE:LINE: key 'K': ..." for setting s. */
static void key_error(const char *path, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void key_error(const char *path, const config_setting_t *s, const char *fmt, ...)
{
	char msg[768], buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ublkd_error("%s:%u: key '%s': %s",
		    file_of(path, config_setting_source_file(s), buf, sizeof(buf)),
		    config_setting_source_line(s), config_setting_name(s), msg);
}

/* Parse path into c; 0, or -1 after one line naming the file (and line). */
static int read_file(config_t *c, const char *path)
{
	char dir[4096], *slash;
	struct stat st;
	FILE *f;
	int ok;

	f = fopen(path, "r");
	if (!f) {
		ublkd_error("%s: cannot open: %s; %s", path, strerror(errno),
			    errno == ENOENT ? "create it (examples: ublkd.conf(5))"
					    : "check its permissions");
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		ublkd_error("%s: not a regular file; give a device config file", path);
		fclose(f);
		return -1;
	}
	config_init(c);
	/* @include "x.conf" is relative to the including file's directory. */
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		config_set_include_dir(c, dir[0] ? dir : "/");
	}
	ok = config_read(c, f);
	fclose(f);
	if (ok != CONFIG_TRUE) {
		ublkd_error("%s:%d: %s; see ublkd.conf(5) for the syntax (key = value;)",
			    file_of(path, config_error_file(c), dir, sizeof(dir)),
			    config_error_line(c), config_error_text(c));
		config_destroy(c);
		return -1;
	}
	return 0;
}

static const char *missing_target_fix =
	"add a line like target = \"loop\"; (null, loop, nbd, or a plugin's path)";

char *config_read_target(const char *path)
{
	config_setting_t *s;
	char *name = NULL;
	config_t c;

	if (read_file(&c, path) < 0)
		return NULL;
	s = config_setting_get_member(config_root_setting(&c), "target");
	if (!s)
		ublkd_error("%s: key 'target' is missing; %s", path, missing_target_fix);
	else if (config_setting_type(s) != CONFIG_TYPE_STRING)
		key_error(path, s, "expected a string, got %s; write target = \"loop\";",
			  type_name(config_setting_type(s)));
	else if (!config_setting_get_string(s)[0])
		key_error(path, s, "empty; %s", missing_target_fix);
	else if (!(name = strdup(config_setting_get_string(s))))
		ublkd_error("%s: out of memory", path);
	config_destroy(&c);
	return name;
}

/* The target's option keys, "file, offset, buffered", for messages. */
static void list_options(const struct ublkd_target_ops *ops, char *buf, size_t len)
{
	const struct ublkd_option *o;
	char key[64];
	size_t n = 0;

	buf[0] = 0;
	for (o = ops->options; o && o->name && n < len; o++)
		n += snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
			      option_key(o, key, sizeof(key)));
}

/* The target's option whose key (its config_key, else its name) is name;
 * NULL if none. */
static const struct ublkd_option *target_option(const struct ublkd_target_ops *ops,
						const char *name)
{
	const struct ublkd_option *o;
	char key[64];

	for (o = ops->options; o && o->name; o++)
		if (same_key(option_key(o, key, sizeof(key)), name))
			return o;
	return NULL;
}

/*
 * libconfig 1.5 reads an integer without an L suffix with atoi(): 3000000000
 * silently becomes -1294967296.  Find the number as written (on s's line,
 * after "NAME =" or "NAME:") and refuse one that does not fit in 32 bits.
 * 0 when it fits or cannot be found, -1 after a message.
 */
static int check_int32(const char *path, const config_setting_t *s)
{
	const char *name = config_setting_name(s);
	unsigned int line = config_setting_source_line(s), n = 0;
	size_t len = strlen(name);
	char text[4096], buf[4096], *p, *end;
	long long v;
	FILE *f;

	if (config_setting_type(s) != CONFIG_TYPE_INT ||
	    !(f = fopen(file_of(path, config_setting_source_file(s), buf, sizeof(buf)), "r")))
		return 0;
	while (fgets(text, sizeof(text), f) && ++n < line)
		;
	fclose(f);
	if (n != line)
		return 0;
	for (p = text; (p = strstr(p, name)); p += len) {
		if (p > text && (p[-1] == '_' || p[-1] == '-' || isalnum((unsigned char)p[-1])))
			continue;
		end = p + len;
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end != '=' && *end != ':')
			continue;
		for (p = end + 1; *p == ' ' || *p == '\t'; p++)
			;
		errno = 0;
		v = strtoll(p, &end, 0);
		if (errno == ERANGE || v > INT32_MAX || v < INT32_MIN) {
			key_error(path, s, "%.*s does not fit in a plain (32-bit) integer; write it as "
				  "a string (\"%.*s\") or with an L suffix (%.*sL)",
				  (int)(end - p), p, (int)(end - p), p, (int)(end - p), p);
			return -1;
		}
		return 0;
	}
	return 0;
}

/* The value of s as the command line would carry it, checked against the
 * kind; 0, 1 for a false switch (nothing to set), -1 after a message. */
static int value_string(const char *path, config_setting_t *s, enum kind kind,
			const char *example, char *buf, size_t len, const char **value)
{
	int type = config_setting_type(s);

	switch (type) {
	case CONFIG_TYPE_STRING:
		if (kind == K_STRING || kind == K_VALUE) {
			*value = config_setting_get_string(s);
			return 0;
		}
		break;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		if (kind == K_INT || kind == K_VALUE) {
			if (check_int32(path, s) < 0)
				return -1;
			snprintf(buf, len, "%lld", config_setting_get_int64(s));
			*value = buf;
			return 0;
		}
		break;
	case CONFIG_TYPE_BOOL:
		if (kind == K_BOOL) {
			*value = NULL;
			return config_setting_get_bool(s) ? 0 : 1;
		}
		break;
	}
	key_error(path, s, "expected %s, got %s; write %s", kind_name(kind),
		  type_name(type), example);
	return -1;
}

/* Apply one option (generic g, else target option o), with a message
 * naming the key. */
static int apply(struct dev_config *cfg, const char *path, config_setting_t *s,
		 const struct gopt *g, const struct ublkd_option *o, const char *value)
{
	const char *want = NULL;
	int n = cfg->nr_topts, ret;
	char buf[4096];

	ret = g ? options_apply_generic(cfg, g, value, &want) :
		  options_apply_target(cfg, o, value, &want);
	if (ret == 0) {
		/* A target option: the target checks it later, and its message
		 * then starts with where it came from. */
		if (cfg->nr_topts > n &&
		    asprintf(&cfg->topts[n].where, "%s:%u: key '%s': ",
			     file_of(path, config_setting_source_file(s), buf, sizeof(buf)),
			     config_setting_source_line(s), config_setting_name(s)) < 0)
			cfg->topts[n].where = NULL;
		return 0;
	}
	if (ret == -1)
		key_error(path, s, "invalid value '%s'; expected %s", value ? value : "",
			  want);
	return -1;	/* -2: reported */
}

/* recovery_record = { config = "..."; backing = ( { path = "..."; dev = 1L;
 * ino = 2L; size = 3L; [resizable = true;] }, ... ); };  what ublkd writes into a device's
 * recovery record (device.c) besides the option keys. */
static int load_record(struct dev_config *cfg, const char *path, config_setting_t *rec)
{
	config_setting_t *list, *b, *s;
	const char *str;
	int i, n;

	if (!config_setting_is_group(rec)) {
		key_error(path, rec, "expected a group { ... }; it is written by ublkd, "
			  "see ublkd.conf(5)");
		return -1;
	}
	if (config_setting_lookup_string(rec, "config", &str) == CONFIG_TRUE && str[0]) {
		free(cfg->config);
		if (!(cfg->config = strdup(str)))
			return -1;
	}
	list = config_setting_get_member(rec, "backing");
	n = list ? config_setting_length(list) : 0;
	if (list && !config_setting_is_list(list)) {
		key_error(path, list, "expected a list ( { path = ...; dev = ...; ino = ...; "
			  "size = ...; } )");
		return -1;
	}
	cfg->backing = calloc(n ? n : 1, sizeof(*cfg->backing));
	if (!cfg->backing)
		return -1;
	for (i = 0; i < n; i++) {
		struct backing_id *id = &cfg->backing[i];
		long long dev, ino, size;

		b = config_setting_get_elem(list, i);
		if (config_setting_lookup_string(b, "path", &str) != CONFIG_TRUE ||
		    str[0] != '/' ||
		    config_setting_lookup_int64(b, "dev", &dev) != CONFIG_TRUE ||
		    config_setting_lookup_int64(b, "ino", &ino) != CONFIG_TRUE ||
		    config_setting_lookup_int64(b, "size", &size) != CONFIG_TRUE) {
			s = b;
			key_error(path, s, "a backing entry needs path (absolute), dev, ino and "
				  "size; it is written by ublkd, do not edit it");
			return -1;
		}
		if (!(id->path = strdup(str)))
			return -1;
		id->dev = dev;
		id->ino = ino;
		id->size = size;
		if (config_setting_lookup_bool(b, "resizable", &id->resizable) != CONFIG_TRUE)
			id->resizable = 0;
		cfg->nr_backing++;
	}
	return 0;
}

/* The directory of config file path, absolute: relative PATH values in the
 * file are relative to it. */
static char *file_dir(const char *path)
{
	char *abs = realpath(path, NULL), *slash;

	if (!abs)
		return NULL;
	slash = strrchr(abs, '/');
	if (slash == abs)
		slash[1] = 0;
	else
		*slash = 0;
	return abs;
}

int config_load(struct dev_config *cfg, const char *path,
		const struct ublkd_target_ops *ops)
{
	config_setting_t *root, *s, *prev;
	int i, j, n, ret = -1, copy_line = 0;
	const char *copy_key = NULL;
	config_t c;

	if (read_file(&c, path) < 0)
		return -1;
	free(cfg->path_base);
	cfg->path_base = file_dir(path);
	if (!cfg->path_base) {
		ublkd_error("%s: cannot find its directory: %s", path, strerror(errno));
		goto out;
	}
	root = config_root_setting(&c);
	n = config_setting_length(root);
	if (!config_setting_get_member(root, "target")) {
		ublkd_error("%s: key 'target' is missing; %s", path, missing_target_fix);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const struct ublkd_option *o = NULL;
		const struct gopt *g;
		const char *name, *value;
		char buf[32], example[96];
		enum kind kind;
		int r;

		s = config_setting_get_elem(root, i);
		name = config_setting_name(s);
		if (!strcmp(name, "recovery_record")) {
			if (load_record(cfg, path, s) < 0)
				goto out;
			continue;
		}
		/* The same key twice, spelled with '-' once and '_' once
		 * (libconfig itself refuses exact duplicates). */
		for (j = 0; j < i; j++) {
			prev = config_setting_get_elem(root, j);
			if (same_key(config_setting_name(prev), name)) {
				key_error(path, s, "also given on line %u as '%s'; keep one",
					  config_setting_source_line(prev),
					  config_setting_name(prev));
				goto out;
			}
		}
		g = gopt_by_key(name);
		o = g ? &g->o : target_option(ops, name);
		if (!o) {
			char list[256];

			list_options(ops, list, sizeof(list));
			if (list[0])
				key_error(path, s, "unknown; the keys are those of ublkd.conf(5) "
					  "and target %s's: %s", ops->name, list);
			else
				key_error(path, s, "unknown; the keys are those of ublkd.conf(5) "
					  "(target %s has no options of its own)", ops->name);
			goto out;
		}
		kind = kind_of(o, g != NULL);
		if (!o->has_arg)
			snprintf(example, sizeof(example), "%s = true;", name);
		else if (g)
			snprintf(example, sizeof(example), "%s = %s;", name, g->example);
		else
			snprintf(example, sizeof(example), "%s = \"%s\";", name,
				 o->arg_name ? o->arg_name : "VALUE");
		r = value_string(path, s, kind, example, buf, sizeof(buf), &value);
		if (r < 0)
			goto out;
		if (r > 0)
			continue;	/* a false switch */
		if (kind == K_STRING && !value[0]) {
			key_error(path, s, "empty; write %s", example);
			goto out;
		}
		/* The command line lets the last of --copy/--zero-copy/--user-copy
		 * win; a file saying two is a mistake. */
		if (g && (!strcmp(g->o.name, "zero-copy") || !strcmp(g->o.name, "user-copy") ||
			  !strcmp(g->o.name, "copy"))) {
			if (copy_key) {
				key_error(path, s, "conflicts with %s = true on line %d; "
					  "choose one data mode", copy_key, copy_line);
				goto out;
			}
			copy_key = name;
			copy_line = config_setting_source_line(s);
		}
		if (apply(cfg, path, s, g, o, value) < 0)
			goto out;
	}
	ret = 0;
out:
	/* the command line's relative paths are relative to the cwd */
	free(cfg->path_base);
	cfg->path_base = NULL;
	config_destroy(&c);
	return ret;
}

/*
 * NAME.conf: in $UBLKD_CONFDIR if set; else in /etc/ublkd, where the README,
 * ublkd.conf(5) and every distribution put it, whatever prefix ublkd was
 * built for; else in SYSCONFDIR/ublkd (/usr/local/etc/ublkd for the default
 * prefix) when it is there.  A missing file is reported at /etc/ublkd.
 */
void config_path_for_name(const char *name, char *buf, size_t len)
{
	const char *dir = getenv("UBLKD_CONFDIR");

	if (dir && dir[0]) {
		snprintf(buf, len, "%s/%s.conf", dir, name);
		return;
	}
	snprintf(buf, len, "%s/ublkd/%s.conf", SYSCONFDIR, name);
	if (access(buf, F_OK) == 0) {
		char etc[4096];

		snprintf(etc, sizeof(etc), CONFDIR_ETC "/%s.conf", name);
		if (access(etc, F_OK) < 0)
			return;	/* only in SYSCONFDIR */
	}
	snprintf(buf, len, CONFDIR_ETC "/%s.conf", name);
}
