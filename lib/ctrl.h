/* SPDX-License-Identifier: MIT */
/* ctrl.h - the ublk control path: commands to /dev/ublk-control. */
#ifndef UBLKD_CTRL_H
#define UBLKD_CTRL_H

#include <sched.h>
#include <stdint.h>
#include <liburing.h>
#include "ublk-abi.h"

struct ublk_ctrl {
	int fd;
	struct io_uring ring;
};

/* Open /dev/ublk-control.  On failure prints one line naming the cause
 * and the fix, and returns -errno. */
int ctrl_open(struct ublk_ctrl *c);
void ctrl_close(struct ublk_ctrl *c);

/* Each returns the command's result: >= 0 on success, -errno on failure.
 * None prints anything. */
int ctrl_get_features(struct ublk_ctrl *c, uint64_t *features);
int ctrl_add_dev(struct ublk_ctrl *c, struct ublksrv_ctrl_dev_info *info);
int ctrl_del_dev(struct ublk_ctrl *c, uint32_t dev_id);
int ctrl_start_dev(struct ublk_ctrl *c, uint32_t dev_id, int32_t pid);
int ctrl_stop_dev(struct ublk_ctrl *c, uint32_t dev_id);
int ctrl_try_stop_dev(struct ublk_ctrl *c, uint32_t dev_id);
int ctrl_update_size(struct ublk_ctrl *c, uint32_t dev_id, uint64_t sectors);
int ctrl_quiesce_dev(struct ublk_ctrl *c, uint32_t dev_id, uint64_t timeout_ms);
int ctrl_release_dev(struct ublk_ctrl *c, uint32_t dev_id, int timeout_ms);
int ctrl_reg_buf(struct ublk_ctrl *c, uint32_t dev_id, void *addr, uint64_t len);
int ctrl_set_params(struct ublk_ctrl *c, uint32_t dev_id, struct ublk_params *p);
int ctrl_get_params(struct ublk_ctrl *c, uint32_t dev_id, struct ublk_params *p);
int ctrl_get_info(struct ublk_ctrl *c, uint32_t dev_id, struct ublksrv_ctrl_dev_info *info);
int ctrl_get_affinity(struct ublk_ctrl *c, uint32_t dev_id, uint16_t q, cpu_set_t *set);
int ctrl_start_recovery(struct ublk_ctrl *c, uint32_t dev_id);
int ctrl_end_recovery(struct ublk_ctrl *c, uint32_t dev_id, int32_t pid);

/* Ids of all ublk devices (from /sys/class/ublk-char-device); returns the
 * count (at most max) or -errno. */
int ctrl_list_ids(uint32_t *ids, int max);
const char *ctrl_state_name(unsigned int state);

#endif
