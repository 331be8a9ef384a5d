/* SPDX-License-Identifier: MIT */
/*
 * ctrl.c - the ublk control path.
 *
 * Every control command is an IORING_OP_URING_CMD on /dev/ublk-control,
 * on a ring with 128-byte SQEs, carrying a struct ublksrv_ctrl_cmd.  The
 * commands are synchronous from our side: submit one, wait for its CQE.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ctrl.h"
#include "log.h"
#include "uring-cmd.h"

int ctrl_open(struct ublk_ctrl *c)
{
	int ret;

	c->fd = open(UBLK_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (c->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			ublkd_error("%s not found: the ublk driver is not loaded; "
				    "run 'modprobe ublk_drv' (needs Linux 6.5+ with CONFIG_BLK_DEV_UBLK)",
				    UBLK_CONTROL_PATH);
		else if (ret == -EACCES || ret == -EPERM)
			ublkd_error("cannot open %s: permission denied; run as root",
				    UBLK_CONTROL_PATH);
		else
			ublkd_error("cannot open %s: %s", UBLK_CONTROL_PATH, strerror(-ret));
		return ret;
	}
	ret = io_uring_queue_init(4, &c->ring, IORING_SETUP_SQE128);
	if (ret < 0) {
		ublkd_error("cannot set up io_uring for %s: %s (is io_uring disabled? "
			    "check /proc/sys/kernel/io_uring_disabled)",
			    UBLK_CONTROL_PATH, strerror(-ret));
		close(c->fd);
		c->fd = -1;
		return ret;
	}
	return 0;
}

void ctrl_close(struct ublk_ctrl *c)
{
	if (c->fd < 0)
		return;
	io_uring_queue_exit(&c->ring);
	close(c->fd);
	c->fd = -1;
}

static int ctrl_cmd(struct ublk_ctrl *c, unsigned int op, uint32_t dev_id,
		    uint16_t q_id, void *buf, uint16_t len, uint64_t data0)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);
	struct ublksrv_ctrl_cmd *cmd;
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EBUSY;
	uring_cmd_prep(sqe, c->fd, op);
	cmd = uring_cmd_payload(sqe);
	cmd->dev_id = dev_id;
	cmd->queue_id = q_id;
	cmd->addr = (uint64_t)(uintptr_t)buf;
	cmd->len = len;
	cmd->data[0] = data0;

	ret = io_uring_submit_and_wait(&c->ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(&c->ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&c->ring, cqe);
	return ret;
}

/* The fused-command bit counts only with the opcode this ublkd sends: a
 * kernel built from an early version of the series has the bit but its
 * opcode is 58, which is another operation on mainline kernels. */
static int fused_opcode_supported(struct ublk_ctrl *c)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(&c->ring);
	int ok;

	if (!probe)
		return 0;
	ok = io_uring_opcode_supported(probe, IORING_OP_FUSED_CMD_UBLKD);
	io_uring_free_probe(probe);
	return ok;
}

int ctrl_get_features(struct ublk_ctrl *c, uint64_t *features)
{
	int ret = ctrl_cmd(c, UBLK_U_CMD_GET_FEATURES, 0, (uint16_t)-1,
			   features, sizeof(*features), 0);

	if (ret == 0 && (*features & UBLK_F_FUSED_ZERO_COPY) && !fused_opcode_supported(c))
		*features &= ~UBLK_F_FUSED_ZERO_COPY;
	return ret;
}

int ctrl_add_dev(struct ublk_ctrl *c, struct ublksrv_ctrl_dev_info *info)
{
	return ctrl_cmd(c, UBLK_U_CMD_ADD_DEV, info->dev_id, (uint16_t)-1,
			info, sizeof(*info), 0);
}

int ctrl_del_dev(struct ublk_ctrl *c, uint32_t dev_id)
{
	return ctrl_cmd(c, UBLK_U_CMD_DEL_DEV, dev_id, (uint16_t)-1, NULL, 0, 0);
}

/* TRY_STOP_DEV (Linux 7.0, UBLK_F_SAFE_STOP_DEV): stop the device only if
 * nobody has the block device open (-EBUSY otherwise); from then on no one
 * can open it. */
int ctrl_try_stop_dev(struct ublk_ctrl *c, uint32_t dev_id)
{
	return ctrl_cmd(c, UBLK_U_CMD_TRY_STOP_DEV, dev_id, (uint16_t)-1, NULL, 0, 0);
}

/* UPDATE_SIZE (UBLK_F_UPDATE_SIZE): the live disk's capacity becomes
 * sectors (512-byte units), visible to the block layer at once. */
int ctrl_update_size(struct ublk_ctrl *c, uint32_t dev_id, uint64_t sectors)
{
	return ctrl_cmd(c, UBLK_U_CMD_UPDATE_SIZE, dev_id, (uint16_t)-1, NULL, 0, sectors);
}

/* QUIESCE_DEV (Linux 6.16, a device added with UBLK_F_QUIESCE): the kernel
 * stops dispatching requests to the daemon (it queues them for the next
 * one), waits up to timeout_ms (0: forever) until every queue has an idle
 * fetch command, then completes those with UBLK_IO_RES_ABORT.  -EBUSY:
 * not idle in time; the device then hands out nothing more until a new
 * daemon recovers it. */
int ctrl_quiesce_dev(struct ublk_ctrl *c, uint32_t dev_id, uint64_t timeout_ms)
{
	return ctrl_cmd(c, UBLK_U_CMD_QUIESCE_DEV, dev_id, (uint16_t)-1, NULL, 0, timeout_ms);
}

/* DEL_DEV waits until the last opener of the disk closes it, which may be
 * never (a mounted file system, an open fd): DEL_DEV_ASYNC (Linux 6.9)
 * removes the device at once and frees its id on that last close.  Then
 * wait up to timeout_ms for the id to be freed, so that an immediate
 * 'add -n ID' finds it free.  0: freed; -EBUSY: still held (the id is
 * freed when it is closed); other -errno: DEL_DEV failed. */
int ctrl_release_dev(struct ublk_ctrl *c, uint32_t dev_id, int timeout_ms)
{
	struct ublksrv_ctrl_dev_info info;
	int ret = ctrl_cmd(c, UBLK_U_CMD_DEL_DEV_ASYNC, dev_id, (uint16_t)-1, NULL, 0, 0);

	if (ret == -EOPNOTSUPP || ret == -EINVAL)
		ret = ctrl_del_dev(c, dev_id);	/* before 6.9: the waiting one */
	if (ret < 0)
		return ret;
	for (; timeout_ms > 0; timeout_ms -= 10) {
		if (ctrl_get_info(c, dev_id, &info) == -ENODEV)
			return 0;
		usleep(10000);
	}
	return ctrl_get_info(c, dev_id, &info) == -ENODEV ? 0 : -EBUSY;
}

int ctrl_start_dev(struct ublk_ctrl *c, uint32_t dev_id, int32_t pid)
{
	return ctrl_cmd(c, UBLK_U_CMD_START_DEV, dev_id, (uint16_t)-1, NULL, 0,
			(uint64_t)pid);
}

int ctrl_stop_dev(struct ublk_ctrl *c, uint32_t dev_id)
{
	return ctrl_cmd(c, UBLK_U_CMD_STOP_DEV, dev_id, (uint16_t)-1, NULL, 0, 0);
}

/* REG_BUF (Linux 7.1, a device added with UBLK_F_SHMEM_ZC): pin len bytes
 * of shared memory at addr for shared-memory zero copy.  The index the
 * kernel gave it (>= 0), or -errno.  Before START_DEV: afterwards the
 * kernel freezes the queue to register, which waits for every request
 * in flight (forever during a recovery: no daemon serves them). */
int ctrl_reg_buf(struct ublk_ctrl *c, uint32_t dev_id, void *addr, uint64_t len)
{
	struct ublk_shmem_buf_reg reg = {
		.addr = (uint64_t)(uintptr_t)addr,
		.len = len,
	};

	return ctrl_cmd(c, UBLK_U_CMD_REG_BUF, dev_id, (uint16_t)-1, &reg, sizeof(reg), 0);
}

int ctrl_set_params(struct ublk_ctrl *c, uint32_t dev_id, struct ublk_params *p)
{
	p->len = sizeof(*p);
	return ctrl_cmd(c, UBLK_U_CMD_SET_PARAMS, dev_id, (uint16_t)-1, p,
			sizeof(*p), 0);
}

int ctrl_get_params(struct ublk_ctrl *c, uint32_t dev_id, struct ublk_params *p)
{
	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	return ctrl_cmd(c, UBLK_U_CMD_GET_PARAMS, dev_id, (uint16_t)-1, p,
			sizeof(*p), 0);
}

int ctrl_get_info(struct ublk_ctrl *c, uint32_t dev_id,
		  struct ublksrv_ctrl_dev_info *info)
{
	memset(info, 0, sizeof(*info));
	return ctrl_cmd(c, UBLK_U_CMD_GET_DEV_INFO, dev_id, (uint16_t)-1, info,
			sizeof(*info), 0);
}

int ctrl_get_affinity(struct ublk_ctrl *c, uint32_t dev_id, uint16_t q,
		      cpu_set_t *set)
{
	CPU_ZERO(set);
	return ctrl_cmd(c, UBLK_U_CMD_GET_QUEUE_AFFINITY, dev_id, q, set,
			sizeof(*set), 0);
}

int ctrl_start_recovery(struct ublk_ctrl *c, uint32_t dev_id)
{
	return ctrl_cmd(c, UBLK_U_CMD_START_USER_RECOVERY, dev_id, (uint16_t)-1,
			NULL, 0, 0);
}

int ctrl_end_recovery(struct ublk_ctrl *c, uint32_t dev_id, int32_t pid)
{
	return ctrl_cmd(c, UBLK_U_CMD_END_USER_RECOVERY, dev_id, (uint16_t)-1,
			NULL, 0, (uint64_t)pid);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int ctrl_list_ids(uint32_t *ids, int max)
{
	DIR *d = opendir("/sys/class/ublk-char");
	struct dirent *e;
	unsigned int id;
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) && n < max)
		if (sscanf(e->d_name, "ublkc%u", &id) == 1)
			ids[n++] = id;
	closedir(d);
	qsort(ids, n, sizeof(*ids), cmp_u32);
	return n;
}

const char *ctrl_state_name(unsigned int state)
{
	static const char *const names[] = { "dead", "live", "quiesced", "fail_io" };

	return state < 4 ? names[state] : "unknown";
}
