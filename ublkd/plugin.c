/* SPDX-License-Identifier: MIT */
/* plugin.c - loading target plugins (shared objects) with dlopen. */
#include <dirent.h>
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
	const struct ublkd_target_ops *(*entry)(void);
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
	t->ops = entry();
	if (!t->ops || t->ops->api_version != UBLKD_TARGET_API_VERSION) {
		ublkd_error("%s was built for target API version %u, this ublkd speaks "
			    "version %u: rebuild the plugin against this ublkd's <ublkd/target.h>",
			    path, t->ops ? t->ops->api_version : 0, UBLKD_TARGET_API_VERSION);
		goto err;
	}
	if (t->ops->struct_size != sizeof(*t->ops)) {
		ublkd_error("%s has a struct ublkd_target_ops of %u bytes, this ublkd's is %zu: "
			    "rebuild the plugin against this ublkd's <ublkd/target.h>",
			    path, t->ops->struct_size, sizeof(*t->ops));
		goto err;
	}
	if (!t->ops->name || !t->ops->open || !t->ops->queue_io) {
		ublkd_error("%s is an incomplete ublkd target (needs name, open and "
			    "queue_io): fix the plugin", path);
		goto err;
	}
	return 0;
err:
	dlclose(t->dl);
	t->dl = NULL;
	t->ops = NULL;
	return -EINVAL;
}

void plugin_unload(struct ublkd_target *t)
{
	if (t->dl && !getenv("UBLKD_KEEP_PLUGINS"))	/* keep for leak reports */
		dlclose(t->dl);
	t->dl = NULL;
}

int plugin_configure(struct ublkd_target *t, const struct dev_config *cfg)
{
	int i;

	for (i = 0; i < cfg->nr_topts; i++) {
		if (!t->ops->config) {
			ublkd_error("target %s takes no options", t->ops->name);
			return -1;
		}
		if (t->ops->config(t, cfg->topts[i].name, cfg->topts[i].value) < 0)
			return -1;
	}
	return 0;
}
