/* SPDX-License-Identifier: MIT */
/*
 * control.c - requests to a running daemon: /run/ublkd/<id>.sock.
 *
 * `ublk resize` asks the daemon rather than the kernel, because only the
 * daemon's target knows what size it can serve, and only the daemon keeps
 * the recovery record that must follow; `ublk upgrade`, because only the
 * daemon can tell its queues' aborted fetches from a stop.  One request
 * per connection, one
 * SOCK_SEQPACKET message each way, from root (or the daemon's own user)
 * only; the main thread answers it between its other duties:
 *
 *   request: "resize SIZE FORCE"    SIZE in bytes, 0 = the target's own;
 *                                   FORCE 0 or 1 (allow shrinking)
 *   answer:  "ok OLD NEW"           sizes in bytes
 *            "error MESSAGE"        one line naming the cause and the fix
 *
 *   request: "upgrade"              quiesce and leave the device to a new
 *                                   ublkd (handover.c; `ublk upgrade`)
 *   answer:  "ok quiesced"          the daemon exits once its target holds
 *                                   nothing; the device waits
 *            "ok crash REASON"      no quiesce: the daemon exits at once
 *
 * The socket lives in the state directory (runstate_dir_check(): root's,
 * not writable by others), so no other user can stand in for the daemon.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"
#include "runstate.h"

/* Listen on <id>.sock; -1 (after a warning) when it cannot be made: the
 * device still serves, only requests are unavailable. */
int control_open(uint32_t dev_id)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (runstate_dir_check() < 0)
		return -1;	/* warned there */
	runstate_path(dev_id, "sock", sa.sun_path, sizeof(sa.sun_path));
	unlink(sa.sun_path);	/* of a predecessor that was killed */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sa.sun_path, 0600) < 0 || listen(fd, 4) < 0) {
		ublkd_warn("cannot listen on %s: %s: 'ublk resize' will not reach this daemon",
			   sa.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void answer(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void answer(int fd, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0)
		ublkd_warn("cannot answer a request: %s", strerror(errno));
}

/* Serve one waiting connection, if any. */
void control_handle(struct ublkd_dev *dev, int lfd)
{
	struct timeval tv = { .tv_sec = 5 };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char req[128], msg[8192];
	uint64_t size, old;
	int fd, force, n, end = 0;
	ssize_t got;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* A client that connects and says nothing must not stall the daemon. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		answer(fd, "error only root may send requests to ublkd: run ublk as root");
		goto out;
	}
	got = recv(fd, req, sizeof(req) - 1, 0);
	if (got <= 0)
		goto out;
	req[got] = 0;
	if (!strcmp(req, "upgrade")) {
		device_handover(dev, msg, sizeof(msg));
		answer(fd, "%s", msg);
		goto out;
	}
	if (sscanf(req, "resize %" SCNu64 " %d%n", &size, &force, &end) != 2 ||
	    (size_t)end != strlen(req) || (force != 0 && force != 1)) {
		answer(fd, "error ublkd does not understand the request '%.64s': use the ublk "
		       "of the same version", req);
		goto out;
	}
	log_capture(msg, sizeof(msg));
	n = device_resize(dev, size, force, &old);
	log_capture(NULL, 0);
	if (n < 0)
		answer(fd, "error %s", msg[0] ? msg : "the resize failed; see the system log");
	else
		answer(fd, "ok %" PRIu64 " %" PRIu64, old, dev->target.setup.size);
out:
	close(fd);
}
