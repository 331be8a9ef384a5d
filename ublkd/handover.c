/* SPDX-License-Identifier: MIT */
/*
 * handover.c - the running daemon's half of `ublk upgrade`: leave the
 * device to a new ublkd without an I/O error.
 *
 * Asked through the control socket ("upgrade", control.c), the daemon
 * quiesces its device (QUIESCE_DEV: Linux 6.16+, a device added with
 * UBLK_F_QUIESCE): the kernel dispatches no more requests to it (it
 * queues them for the next daemon) and completes its idle fetch commands
 * with ABORT; requests the target holds still complete normally.  Then
 * the daemon leaves without stopping the device: the queues exit once the
 * target holds nothing, the target flushes and closes, and the last close
 * of /dev/ublkcN leaves the device QUIESCED, waiting for the next daemon,
 * which takes it over as after a crash (START/END_USER_RECOVERY) and gets
 * the queued requests.
 *
 * The daemon sends QUIESCE_DEV, not `ublk`: its fetches come back
 * aborted, which it would otherwise take for the kernel stopping the
 * device, and delete it.  Where QUIESCE_DEV fails (or the device was
 * added without UBLK_F_QUIESCE) the daemon leaves as if it crashed: the
 * kernel takes back the requests in flight and, with --recovery=reissue,
 * issues them again to the next daemon; `ublk upgrade` checks that mode.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "daemon.h"
#include "log.h"

/* How long the kernel may wait for an idle tag on every queue: a target
 * that holds a whole queue's requests longer is not waited for. */
#define HANDOVER_QUIESCE_MS	10000
/* How long the target may take to finish the requests it holds; after
 * that the daemon leaves them to be reissued to the next one. */
#define HANDOVER_DRAIN_MS	10000

void device_handover(struct ublkd_dev *dev, char *ans, size_t len)
{
	uint32_t id = dev->info.dev_id;
	int ret = ctrl_quiesce_dev(&dev->ctrl, id, HANDOVER_QUIESCE_MS);

	if (ret == 0) {
		ublkd_info("quiesced " UBLK_BLOCK_FMT " for a new ublkd (ublk upgrade): leaving "
			   "it to that daemon", id);
		dev->handover = HANDOVER_QUIESCED;
		snprintf(ans, len, "ok quiesced");
		return;
	}
	/* -EBUSY leaves the device dispatching nothing: leave in any case. */
	ublkd_warn("cannot quiesce " UBLK_BLOCK_FMT " (QUIESCE_DEV: %s): leaving it as after a "
		   "crash; the requests in flight are reissued to the new ublkd", id,
		   strerror(-ret));
	dev->handover = HANDOVER_CRASH;
	snprintf(ans, len, "ok crash QUIESCE_DEV: %s", strerror(-ret));
}

/* Wait until every queue thread has exited, at most ms; 1 if they did. */
static int queues_exited(struct ublkd_dev *dev, int ms)
{
	struct pollfd pfd = { .fd = dev->exit_efd, .events = POLLIN };
	unsigned int exited = 0;
	uint64_t n;

	for (; exited < dev->nr_workers && ms > 0; ms -= 100) {
		if (poll(&pfd, 1, 100) == 1 && read(dev->exit_efd, &n, sizeof(n)) == sizeof(n))
			exited += n;
	}
	return exited >= dev->nr_workers;
}

/* After serve() returned for a handover: let go of the device, leaving
 * it (and its recovery record) for the next daemon.  The exit status. */
int device_leave(struct ublkd_dev *dev)
{
	unsigned int q;
	int status = UBLKD_EXIT_HANDOVER;

	/* Without quiesce the kernel still dispatches requests: only a
	 * crash's abrupt exit hands them back for reissue. */
	if (dev->handover == HANDOVER_CRASH)
		_exit(UBLKD_EXIT_HANDOVER);
	for (q = 0; q < dev->nr_workers; q++)
		queue_request_stop(&dev->queues[q]);
	if (!queues_exited(dev, HANDOVER_DRAIN_MS)) {
		ublkd_warn("target %s still holds requests %d s after the quiesce: leaving them "
			   "to be reissued to the new ublkd", dev->target.ops->name,
			   HANDOVER_DRAIN_MS / 1000);
		_exit(UBLKD_EXIT_HANDOVER);
	}
	for (q = 0; q < dev->nr_workers; q++)
		queue_join(&dev->queues[q]);
	/* What was written reaches stable storage before the new daemon
	 * opens the backing (it may be another process on another host). */
	if (dev->target.ops->flush && dev->target.ops->flush(&dev->target) < 0)
		ublkd_warn("target %s could not flush before the handover", dev->target.ops->name);
	device_delete(dev, 0);	/* closes /dev/ublkcN: the device waits */
	ublkd_info("left " UBLK_BLOCK_FMT " to a new ublkd", dev->info.dev_id);
	return status;
}
