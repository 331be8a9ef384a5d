/* SPDX-License-Identifier: MIT */
/*
 * upgrade.c - `ublk upgrade -n ID`: replace the running ublkd of a live
 * device with the installed one (a new version, a new plugin), without an
 * I/O error; applications see a pause.
 *
 *   1. check: the device is served by a running ublkd and was added with
 *      --recovery=reissue, and the new ublkd accepts its recovery record
 *      (`ublkd --recover -n ID --check`); else nothing is touched;
 *   2. the old daemon quiesces the device and leaves it (handover.c), or,
 *      where the kernel or the device lacks UBLK_F_QUIESCE (Linux 6.16+),
 *      it is killed: crash recovery, the requests in flight reissued;
 *   3. a new ublkd takes the device over as after a crash: `ublkd
 *      --recover -n ID` started from here, or, for a device of
 *      ublkd@NAME.service, systemd's restart (the old daemon exits 4), so
 *      that the new daemon is the unit's main process.
 * Before step 2 it marks the device's statistics file, so that the new
 * daemon counts an upgrade there, not a recovery (ublk stat).
 * The pause is from step 2 to the device being live again.  If the new
 * daemon fails in step 3 the device waits, its I/O held, for `ublk
 * recover` (or a restart of the unit).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <systemd/sd-login.h>
#include "cli.h"
#include "ctrl.h"
#include "log.h"
#include "runstate.h"
#include "stats-file.h"
#include "ublk-features.h"

/* How long the old daemon may take to leave: the kernel's wait for idle
 * tags and the target's drain (handover.c, 10 s each), and its flush. */
#define LEAVE_LIMIT_MS	30000
/* How long the new daemon may take to make the device live. */
#define START_LIMIT_MS	60000
/* How long `ublkd --check` may take. */
#define CHECK_LIMIT_MS	30000

/* Wait for child pid up to ms; on time out kill it.  Its wait status. */
static int wait_child(pid_t pid, int ms)
{
	int status = 0;

	for (; ms > 0; ms -= 20) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

/* Run ublkd with args, its stdout to /dev/null and ready_fd (or -1) as
 * fd 3, in a session of its own (a daemon outlives us).  The pid or -1. */
static pid_t run_ublkd(char **args, int ready_fd)
{
	const char *ublkd = find_ublkd();
	pid_t pid = fork();
	int null;

	if (pid != 0)
		return pid;
	null = open("/dev/null", O_RDWR);
	setsid();
	dup2(null, 0);
	dup2(null, 1);
	if (ready_fd == 3)
		fcntl(3, F_SETFD, 0);	/* keep it across exec */
	else if (ready_fd >= 0)
		dup2(ready_fd, 3);
	execv(ublkd, args);
	ublkd_error("cannot run %s: %s (is ublkd installed?)", ublkd, strerror(errno));
	_exit(127);
}

/* Step 1's check: the new ublkd accepts the device's recovery record. */
static int new_ublkd_accepts(uint32_t id, pid_t old)
{
	char idbuf[16], *args[] = { (char *)"ublkd", (char *)"--recover", (char *)"-n", idbuf,
				    (char *)"--check", NULL };
	pid_t pid;
	int status;

	snprintf(idbuf, sizeof(idbuf), "%u", id);
	pid = run_ublkd(args, -1);
	if (pid < 0) {
		ublkd_error("fork: %s", strerror(errno));
		return 0;
	}
	status = wait_child(pid, CHECK_LIMIT_MS);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	ublkd_error("the new ublkd (%s) cannot take device %u over ('ublkd --recover -n %u "
		    "--check' %s %d): nothing was changed, pid %d still serves " UBLK_BLOCK_FMT,
		    find_ublkd(), id, id, WIFEXITED(status) ? "exited" : "died of signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), old, id);
	return 0;
}

/* The ublkd@NAME.service pid runs in (libsystemd reads its cgroup), in
 * unit; 0 if none. */
static int systemd_unit(pid_t pid, char *unit, size_t len)
{
	static const char prefix[] = "ublkd@", suffix[] = ".service";
	char *name = NULL;
	size_t n;
	int found;

	if (sd_pid_get_unit(pid, &name) < 0)
		return 0;
	n = strlen(name);
	found = n > strlen(prefix) + strlen(suffix) && !strncmp(name, prefix, strlen(prefix)) &&
		!strcmp(name + n - strlen(suffix), suffix);
	if (found)
		snprintf(unit, len, "%s", name);
	free(name);
	return found;
}

/* Has pid exited (a zombie counts) within ms? */
static int gone(pid_t pid, int ms)
{
	char path[64], line[256], *p;
	FILE *f;

	for (; ms > 0; ms -= 10) {
		if (!ublkd_alive(pid))
			return 1;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		f = fopen(path, "re");
		p = f && fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
		if (f)
			fclose(f);
		if (p && p[1] == ' ' && p[2] == 'Z')
			return 1;
		usleep(10000);
	}
	return 0;
}

/* Step 3 from here: `ublkd --recover -n ID`, as `ublk recover` runs it.
 * Its pid once the device is live, else 0 (it is stopped: a failed
 * recovery leaves the device waiting). */
static pid_t start_new(uint32_t id)
{
	char idbuf[16], buf[32], *args[] = { (char *)"ublkd", (char *)"--ready-fd=3",
					     (char *)"--recover", (char *)"-n", idbuf, NULL };
	struct pollfd pfd = { .events = POLLIN };
	int p[2], ret;
	pid_t pid;

	snprintf(idbuf, sizeof(idbuf), "%u", id);
	if (pipe2(p, O_CLOEXEC) < 0)
		return 0;
	pid = run_ublkd(args, p[1]);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return 0;
	}
	pfd.fd = p[0];
	while ((ret = poll(&pfd, 1, START_LIMIT_MS)) < 0 && errno == EINTR)
		;
	ret = ret > 0 ? (int)read(p[0], buf, sizeof(buf) - 1) : -1;
	close(p[0]);
	if (ret > 0)
		return pid;
	if (ret < 0) {	/* still not live: stop it */
		ublkd_error("the new ublkd (pid %d) did not make " UBLK_BLOCK_FMT " live within %d s: "
			    "stopped it", pid, id, START_LIMIT_MS / 1000);
		kill(pid, SIGTERM);
	}
	wait_child(pid, 3000);
	return 0;
}

/* Step 3 by systemd: wait until a daemon other than old serves the device. */
static pid_t wait_live(struct ublk_ctrl *c, uint32_t id, pid_t old)
{
	struct ublksrv_ctrl_dev_info info;
	int ms;

	for (ms = 0; ms < START_LIMIT_MS; ms += 10) {
		if (ctrl_get_info(c, id, &info) == 0 && info.state == UBLK_S_DEV_LIVE &&
		    info.ublksrv_pid != old && ublkd_alive(info.ublksrv_pid))
			return info.ublksrv_pid;
		usleep(10000);
	}
	return 0;
}

/* Why the crash path, not the quiesce: one line, or NULL. */
static const char *no_quiesce(uint64_t features, uint64_t flags, char *buf, size_t len)
{
	struct utsname u;

	if (flags & UBLK_F_QUIESCE)
		return NULL;
	uname(&u);
	if (flags & UBLK_F_BATCH_IO)
		snprintf(buf, len, "the device uses batch I/O, which ublkd does not quiesce "
			 "(the kernel fails requests until the next daemon)");
	else if (!(features & UBLK_F_QUIESCE))
		snprintf(buf, len, "this kernel (%s) has no UBLK_F_QUIESCE (Linux %s+)", u.release,
			 feature_since(UBLK_F_QUIESCE));
	else
		snprintf(buf, len, "the device was added without UBLK_F_QUIESCE (by an older "
			 "ublkd)");
	return buf;
}

static const char *recovery_of(uint64_t flags)
{
	if (flags & UBLK_F_USER_RECOVERY_FAIL_IO)
		return "fail-io";
	if (flags & UBLK_F_USER_RECOVERY_REISSUE)
		return "reissue";
	return flags & UBLK_F_USER_RECOVERY ? "on" : "off";
}

int cmd_upgrade(int argc, char **argv)
{
	struct ublksrv_ctrl_dev_info info;
	char unit[256] = "", why[256], ans[512], *state;
	uint64_t features = 0;
	struct ublk_ctrl c;
	int64_t t0, t1;
	pid_t old, new;
	uint32_t id;
	int opt;

	if ((opt = getopt(argc, argv, "n:")) != 'n' || optind < argc) {
		ublkd_error("usage: ublk upgrade -n ID");
		return 1;
	}
	if (parse_id(optarg, &id))
		return 1;
	if (ctrl_open(&c) < 0)
		return 1;
	ctrl_get_features(&c, &features);
	if (!dev_exists(id) || ctrl_get_info(&c, id, &info) < 0) {
		ublkd_error("no ublk device %u (see 'ublk list')", id);
		goto fail;
	}
	state = runstate_read(id);
	old = state_pid(state);
	free(state);
	if (!ublkd_alive(old)) {
		ublkd_error("device %u has no running ublkd: 'ublk recover -n %u' starts the "
			    "installed one", id, id);
		goto fail;
	}
	if (!(info.flags & UBLK_F_USER_RECOVERY_REISSUE)) {
		ublkd_error("device %u was added with --recovery=%s: its I/O would fail while its "
			    "ublkd is replaced; only a device added with --recovery=reissue (the "
			    "default) can be upgraded live", id, recovery_of(info.flags));
		goto fail;
	}
	if (!new_ublkd_accepts(id, old))
		goto fail;
	systemd_unit(old, unit, sizeof(unit));
	/* The next daemon counts an upgrade, not a recovery (ublk stat); no
	 * statistics file (an older daemon's device): nothing to count in. */
	stats_mark_upgrading(id, 1);

	t0 = now_ms();
	if (no_quiesce(features, info.flags, why, sizeof(why))) {
		ublkd_info("%s: upgrading " UBLK_BLOCK_FMT " through crash recovery (its ublkd is "
			   "killed; the new one gets the requests in flight again)", why, id);
		kill(old, SIGKILL);
	} else {
		if (ask_daemon(id, old, "upgrade", ans, sizeof(ans)))
			goto unmark;
		if (!strncmp(ans, "ok crash ", 9))
			ublkd_info("the ublkd of device %u could not quiesce it (%s): upgrading "
				   UBLK_BLOCK_FMT " through crash recovery", id, ans + 9, id);
		else if (strcmp(ans, "ok quiesced")) {
			ublkd_error("unexpected answer from the ublkd of device %u: '%.80s': use the "
				    "ublk of the same version", id, ans);
			goto unmark;
		}
	}
	if (!gone(old, LEAVE_LIMIT_MS)) {
		/* Quiesced or not, the kernel reissues what it still holds. */
		ublkd_warn("ublkd pid %d did not leave device %u within %d s: killed it", old, id,
			   LEAVE_LIMIT_MS / 1000);
		kill(old, SIGKILL);
		gone(old, 5000);
	}
	new = unit[0] ? wait_live(&c, id, old) : start_new(id);
	t1 = now_ms();
	if (!new) {
		if (unit[0])
			ublkd_error("%s did not bring " UBLK_BLOCK_FMT " back within %d s (see "
				    "'journalctl -u %s'): the device waits, its I/O held; fix that "
				    "and run 'systemctl restart %s', or 'ublk del -n %u'", unit, id,
				    START_LIMIT_MS / 1000, unit, unit, id);
		else
			ublkd_error("the new ublkd could not take " UBLK_BLOCK_FMT " over (see above): "
				    "the device waits, its I/O held; fix that and run 'ublk recover "
				    "-n %u', or 'ublk del -n %u'", id, id, id);
		goto fail;
	}
	ctrl_close(&c);
	printf("upgraded " UBLK_BLOCK_FMT " in %.2f s (ublkd pid %d -> %d%s%s)\n", id,
	       (t1 - t0) / 1000.0, old, new, unit[0] ? ", " : "", unit);
	return 0;
unmark:
	/* The old daemon did not leave: no takeover follows. */
	stats_mark_upgrading(id, 0);
fail:
	/* A new daemon that failed leaves the mark: the `ublk recover` that
	 * finishes this upgrade counts as one. */
	ctrl_close(&c);
	return 1;
}
