/* SPDX-License-Identifier: MIT */
/* plugin.c - loading target plugins (shared objects) with dlopen. */
#include <dirent.h>
#include <stddef.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"

static const char *plugin_dir(void)
{
	const char *d = getenv("UBLKD_PLUGIN_DIR");

	return d && *d ? d : PLUGINDIR;
}

/* "null, loop, nbd": the .so files in the plugin directory. */
static void list_available(char *buf, size_t len)
{
	DIR *d = opendir(plugin_dir());
	struct dirent *e;
	size_t n = 0;

	buf[0] = 0;
	if (!d)
		return;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);

		if (l < 4 || strcmp(e->d_name + l - 3, ".so"))
			continue;
		n += snprintf(buf + n, n < len ? len - n : 0, "%s%.*s",
			      n ? ", " : "", (int)(l - 3), e->d_name);
	}
	closedir(d);
}

/* API 1 as first released: the size of its ops (up to queue_idle) and of
 * its options (name to help). */
#define UBLKD_OPS_SIZE_V1	offsetof(struct ublkd_target_ops, option_size)
#define UBLKD_OPTION_SIZE_V1	offsetof(struct ublkd_option, type)

/* The plugin's option table in this ublkd's layout: each entry is read
 * with the plugin's stride (option_size) and zero-filled past it, so that
 * the rest of ublkd reads one layout. */
static int copy_options(struct ublkd_target *t, const char *path)
{
	const struct ublkd_option *o;
	size_t stride = t->ops_copy.option_size, n = 0, i;
	const char *p = (const char *)t->ops_copy.options;

	if (!stride)
		stride = UBLKD_OPTION_SIZE_V1;
	if (stride < UBLKD_OPTION_SIZE_V1) {
		ublkd_error("%s has a struct ublkd_option of %zu bytes, fewer than API 1's %zu: "
			    "fix the plugin's option_size", path, stride,
			    (size_t)UBLKD_OPTION_SIZE_V1);
		return -1;
	}
	for (; p && ((const struct ublkd_option *)(p + n * stride))->name; n++)
		;
	t->options = calloc(n + 1, sizeof(*t->options));
	if (!t->options) {
		ublkd_error("out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		o = (const struct ublkd_option *)(p + i * stride);
		memcpy(&t->options[i], o, stride < sizeof(*o) ? stride : sizeof(*o));
	}
	t->ops_copy.options = t->options;
	t->ops_copy.option_size = sizeof(*t->options);
	return 0;
}

/*
 * ublkd runs as root: a file it runs code from (a plugin) or takes its
 * settings from (a config file, which may name a plugin) must not be one
 * that another user could have written.  Refused: a file, or the directory
 * holding it, writable by group or others (a directory with the sticky bit,
 * like /tmp, protects files it holds from others); with check_owner, a
 * file owned by anyone but root or ublkd's own user.  Symlinks are
 * resolved first, so the checks apply to the file itself.  0, or -1 after
 * one line naming the fix.
 */
int file_trusted(const char *path, const char *what, int check_owner)
{
	char *real = realpath(path, NULL), *slash;
	struct stat st, dst;
	int ret = -1;

	if (!real || stat(real, &st) < 0) {
		free(real);
		return 0;	/* missing: the caller's open says so */
	}
	slash = strrchr(real, '/');
	*slash = 0;
	if (stat(*real ? real : "/", &dst) < 0)
		goto out_ok;
	*slash = '/';
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		ublkd_error("refusing %s %s: it is writable by %s (mode %04o), and ublkd uses "
			    "it as root: chmod go-w %s", what, real,
			    st.st_mode & S_IWOTH ? "others" : "its group",
			    (unsigned int)(st.st_mode & 07777), real);
		goto out;
	}
	if ((dst.st_mode & (S_IWGRP | S_IWOTH)) && !(dst.st_mode & S_ISVTX)) {
		*slash = 0;
		ublkd_error("refusing %s in %s: the directory is writable by %s (mode %04o), so "
			    "the file can be replaced: chmod go-w %s, or move the file", what,
			    real, dst.st_mode & S_IWOTH ? "others" : "its group",
			    (unsigned int)(dst.st_mode & 07777), real);
		goto out;
	}
	if (check_owner && st.st_uid != 0 && st.st_uid != geteuid()) {
		ublkd_error("refusing %s %s: it belongs to uid %u, not root (or uid %u, who runs "
			    "ublkd): chown root %s", what, real, (unsigned int)st.st_uid,
			    (unsigned int)geteuid(), real);
		goto out;
	}
out_ok:
	ret = 0;
out:
	free(real);
	return ret;
}

int plugin_load(struct ublkd_target *t, const char *name)
{
	const struct ublkd_target_ops *(*entry)(void), *ops;
	char path[4096], avail[512];

	if (strchr(name, '/')) {
		snprintf(path, sizeof(path), "%s", name);
		if (file_trusted(path, "target plugin", 1) < 0)
			return -EPERM;
	} else {
		snprintf(path, sizeof(path), "%s/%s.so", plugin_dir(), name);
		if (access(path, F_OK) < 0) {
			list_available(avail, sizeof(avail));
			ublkd_error("unknown target '%s': no %s.so in %s (available: %s)",
				    name, name, plugin_dir(), avail[0] ? avail : "none");
			return -ENOENT;
		}
		if (file_trusted(path, "target plugin", 0) < 0)
			return -EPERM;
	}
	t->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!t->dl) {
		ublkd_error("cannot load target plugin %s: %s", path, dlerror());
		return -ENOENT;
	}
	*(void **)&entry = dlsym(t->dl, UBLKD_TARGET_ENTRY);
	if (!entry) {
		ublkd_error("%s is not a ublkd target: it has no %s(); build it with "
			    "UBLKD_REGISTER_TARGET from <ublkd/target.h>", path, UBLKD_TARGET_ENTRY);
		goto err;
	}
	ops = entry();
	if (!ops || ops->api_version != UBLKD_TARGET_API_VERSION) {
		ublkd_error("%s was built for target API version %u, this ublkd speaks "
			    "version %u: rebuild the plugin against this ublkd's <ublkd/target.h>",
			    path, ops ? ops->api_version : 0, UBLKD_TARGET_API_VERSION);
		goto err;
	}
	if (ops->struct_size < UBLKD_OPS_SIZE_V1 || ops->struct_size > sizeof(t->ops_copy)) {
		ublkd_error("%s has a struct ublkd_target_ops of %u bytes, this ublkd knows "
			    "%zu to %zu: rebuild the plugin against this ublkd's <ublkd/target.h>",
			    path, ops->struct_size, (size_t)UBLKD_OPS_SIZE_V1, sizeof(t->ops_copy));
		goto err;
	}
	/* An older plugin's structure is shorter: what it lacks reads as 0. */
	memset(&t->ops_copy, 0, sizeof(t->ops_copy));
	memcpy(&t->ops_copy, ops, ops->struct_size);
	t->ops = &t->ops_copy;
	if (!t->ops->name || !t->ops->open || !t->ops->queue_io) {
		ublkd_error("%s is an incomplete ublkd target (needs name, open and "
			    "queue_io): fix the plugin", path);
		goto err;
	}
	if (copy_options(t, path) < 0)
		goto err;
	return 0;
err:
	dlclose(t->dl);
	t->dl = NULL;
	t->ops = NULL;
	free(t->options);
	t->options = NULL;
	return -EINVAL;
}

/*
 * The lifecycle rule, kept here and nowhere else: close() if and only if
 * open() succeeded, at most once; release() once, last, whatever happened.
 */
int plugin_open(struct ublkd_target *t, struct ublkd_setup *s)
{
	if (t->ops->open(t, s) < 0)
		return -1;
	t->opened = 1;
	return 0;
}

void plugin_close(struct ublkd_target *t)
{
	if (t->opened && t->ops->close)
		t->ops->close(t);
	t->opened = 0;
}

/* The end of a target's life short of dlclose(): close() if open, then
 * release().  The fuzzing harnesses end each input with it. */
void plugin_release(struct ublkd_target *t)
{
	plugin_close(t);
	if (t->ops->release)
		t->ops->release(t);
}

void plugin_unload(struct ublkd_target *t)
{
	if (t->ops)
		plugin_release(t);
	if (t->dl && !getenv("UBLKD_KEEP_PLUGINS"))	/* keep for leak reports */
		dlclose(t->dl);
	t->dl = NULL;
	free(t->options);
	t->options = NULL;
	t->ops_copy.options = NULL;
}

int plugin_configure(struct ublkd_target *t, const struct dev_config *cfg)
{
	int i, ret;

	for (i = 0; i < cfg->nr_topts; i++) {
		if (!t->ops->config) {
			ublkd_error("target %s takes no options", t->ops->name);
			return -1;
		}
		log_set_context(cfg->topts[i].where);
		ret = t->ops->config(t, cfg->topts[i].name, cfg->topts[i].value);
		log_set_context(NULL);
		if (ret < 0)
			return -1;
	}
	/* the target's own combinations: the same for --check as for a start */
	if (t->ops->check && t->ops->check(t) < 0)
		return -1;
	return 0;
}
