/* SPDX-License-Identifier: MIT */
/* runstate.c - /run/ublkd: what running daemons serve (<id>.state) and how
 * to recover them (<id>.conf, the recovery record); both libconfig files,
 * read back with libconfig. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "runstate.h"

const char *runstate_dir(void)
{
	const char *d = getenv("UBLKD_RUNDIR");

	return d && *d ? d : RUNSTATEDIR;
}

void runstate_path(uint32_t dev_id, const char *ext, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%u.%s", runstate_dir(), dev_id, ext);
}

/*
 * The state directory must be ublkd's own: a real directory (not a
 * symlink) of its user that nobody else may write, or another user could
 * plant or swap the files `ublk del` and `ublk recover` act on.  Otherwise
 * no state is written (one warning) and `ublk list` shows less.
 */
int runstate_dir_check(void)
{
	static int warned;
	const char *d = runstate_dir();
	struct stat st;

	if (mkdir(d, 0755) < 0 && errno != EEXIST)
		return -1;
	if (lstat(d, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode) && st.st_uid == geteuid() && !(st.st_mode & 022))
		return 0;
	if (!warned++)
		ublkd_warn("not writing state files in %s: it is %s; remove it, or make it a "
			   "directory of uid %u that only its owner may write (chmod 755)", d,
			   !S_ISDIR(st.st_mode) ? "not a directory (a symlink?)" :
			   st.st_uid != geteuid() ? "owned by another user" :
			   "writable by others", (unsigned int)geteuid());
	errno = EPERM;
	return -1;
}

FILE *runstate_create(uint32_t dev_id, const char *ext, char *tmp, size_t len)
{
	FILE *f;
	int fd;

	if (runstate_dir_check() < 0)
		return NULL;
	snprintf(tmp, len, "%s/.%u.%s.XXXXXX", runstate_dir(), dev_id, ext);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return NULL;
	fchmod(fd, 0644);
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
	}
	return f;
}

int runstate_commit(uint32_t dev_id, const char *ext, FILE *f, const char *tmp)
{
	char path[256];
	int ret = 0;

	if (fflush(f) || fsync(fileno(f)))
		ret = -errno;
	fclose(f);
	runstate_path(dev_id, ext, path, sizeof(path));
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

char *runstate_read(uint32_t dev_id)
{
	char path[256], *buf = NULL;
	size_t len = 0;
	FILE *f, *m;

	runstate_path(dev_id, "state", path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return NULL;
	m = open_memstream(&buf, &len);
	if (m) {
		char chunk[4096];
		size_t n;

		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			fwrite(chunk, 1, n, m);
		fclose(m);
	}
	fclose(f);
	return buf;
}

int runstate_add_string(config_setting_t *g, const char *key, const char *val)
{
	config_setting_t *s = config_setting_add(g, key, CONFIG_TYPE_STRING);

	return s && config_setting_set_string(s, val) == CONFIG_TRUE ? 0 : -1;
}

int runstate_add_int(config_setting_t *g, const char *key, int64_t val)
{
	config_setting_t *s = config_setting_add(g, key, CONFIG_TYPE_INT64);

	return s && config_setting_set_int64(s, val) == CONFIG_TRUE ? 0 : -1;
}

int runstate_add_bool(config_setting_t *g, const char *key, int val)
{
	config_setting_t *s = config_setting_add(g, key, CONFIG_TYPE_BOOL);

	return s && config_setting_set_bool(s, !!val) == CONFIG_TRUE ? 0 : -1;
}

int runstate_write(uint32_t dev_id, const char *ext, const char *header, config_t *c)
{
	char tmp[4200];
	FILE *f;

	f = runstate_create(dev_id, ext, tmp, sizeof(tmp));
	if (!f)
		return -errno;
	if (header)
		fputs(header, f);
	config_write(c, f);
	return runstate_commit(dev_id, ext, f, tmp);
}

/* One top-level setting of a state file's text. */
static int lookup(config_t *c, const char *text, const char *key, config_setting_t **s)
{
	config_init(c);
	if (config_read_string(c, text) != CONFIG_TRUE) {
		config_destroy(c);
		return -1;
	}
	*s = config_setting_get_member(config_root_setting(c), key);
	if (!*s) {
		config_destroy(c);
		return -1;
	}
	return 0;
}

int runstate_lookup_int(const char *text, const char *key, int64_t *out)
{
	config_setting_t *s;
	config_t c;
	int ret = -1;

	if (lookup(&c, text, key, &s) < 0)
		return -1;
	if (config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64) {
		*out = config_setting_get_int64(s);
		ret = 0;
	}
	config_destroy(&c);
	return ret;
}

int runstate_lookup_string(const char *text, const char *key, char *buf, size_t len)
{
	config_setting_t *s;
	config_t c;
	int ret = -1;

	if (lookup(&c, text, key, &s) < 0)
		return -1;
	if (config_setting_type(s) == CONFIG_TYPE_STRING && len) {
		snprintf(buf, len, "%s", config_setting_get_string(s));
		ret = 0;
	}
	config_destroy(&c);
	return ret;
}

void runstate_remove(uint32_t dev_id)
{
	char path[256], name[RUNSTATE_NAME_MAX + 1];

	if (runstate_record_name(dev_id, name, sizeof(name)) == 0)
		runstate_name_forget(name);
	runstate_path(dev_id, "state", path, sizeof(path));
	unlink(path);
	runstate_path(dev_id, "conf", path, sizeof(path));
	unlink(path);
	runstate_path(dev_id, "sock", path, sizeof(path));
	unlink(path);
	runstate_path(dev_id, "stats", path, sizeof(path));
	unlink(path);
	runstate_remove_temps(dev_id);
}

const char *runstate_name_problem(const char *name)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789._-";
	size_t len = strlen(name);

	if (!len)
		return "it is empty";
	if (len > RUNSTATE_NAME_MAX)
		return "it is longer than 64 characters";
	if (strspn(name, ok) != len)
		return "it has a character other than A-Z a-z 0-9 . _ -";
	if (name[0] == '-')
		return "it starts with '-'";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "'.' and '..' name directories";
	return NULL;
}

int runstate_record_name(uint32_t dev_id, char *buf, size_t len)
{
	char path[256];
	const char *name;
	config_t c;
	int ret = -1;

	runstate_path(dev_id, "conf", path, sizeof(path));
	config_init(&c);
	if (config_read_file(&c, path) == CONFIG_TRUE &&
	    config_lookup_string(&c, "name", &name) == CONFIG_TRUE &&
	    !runstate_name_problem(name) && strlen(name) < len) {
		snprintf(buf, len, "%s", name);
		ret = 0;
	}
	config_destroy(&c);
	return ret;
}

void runstate_name_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/names/%s", runstate_dir(), name);
}

/* Only a lock file no one holds may go: unlinking a held one would let a
 * second daemon lock a new file of the same name (ublkd/names.c). */
void runstate_name_forget(const char *name)
{
	char path[4200], *slash;
	int fd;

	runstate_name_path(name, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			unlink(path);
		close(fd);
	}
	slash = strrchr(path, '/');
	*slash = 0;
	rmdir(path);	/* fails while other names are held: kept */
}

/* The temporary files of runstate_create() a daemon killed mid-write left. */
void runstate_remove_temps(uint32_t dev_id)
{
	char pattern[256];
	glob_t g;
	size_t i;

	snprintf(pattern, sizeof(pattern), "%s/.%u.*.??????", runstate_dir(), dev_id);
	if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++)
		unlink(g.gl_pathv[i]);
	globfree(&g);
}
