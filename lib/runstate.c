/* SPDX-License-Identifier: MIT */
/* runstate.c - /run/ublkd/<id>.json: what a running daemon serves. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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

FILE *runstate_create(uint32_t dev_id, char *tmp, size_t len)
{
	FILE *f;
	int fd;

	if (runstate_dir_check() < 0)
		return NULL;
	snprintf(tmp, len, "%s/.%u.json.XXXXXX", runstate_dir(), dev_id);
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

int runstate_commit(uint32_t dev_id, FILE *f, const char *tmp)
{
	char path[256];
	int ret = 0;

	if (fflush(f) || fsync(fileno(f)))
		ret = -errno;
	fclose(f);
	runstate_path(dev_id, "json", path, sizeof(path));
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

char *runstate_read(uint32_t dev_id)
{
	char path[256], *buf;
	size_t n;
	FILE *f;

	runstate_path(dev_id, "json", path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return NULL;
	buf = calloc(1, 65536);
	if (buf) {
		n = fread(buf, 1, 65535, f);
		buf[n] = 0;
	}
	fclose(f);
	return buf;
}

void runstate_remove(uint32_t dev_id)
{
	char path[256];

	runstate_path(dev_id, "json", path, sizeof(path));
	unlink(path);
	runstate_path(dev_id, "args", path, sizeof(path));
	unlink(path);
}
