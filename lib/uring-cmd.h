/* SPDX-License-Identifier: MIT */
/*
 * uring-cmd.h - io_uring helpers that Debian 12's liburing 2.3 lacks.
 * Small and inline: liburing itself is not vendored.
 */
#ifndef UBLKD_URING_CMD_H
#define UBLKD_URING_CMD_H

#include <string.h>
#include <liburing.h>

/* Newer ring setup flags, by number, for older headers. */
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER	(1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN	(1U << 13)
#endif

/* A uring command SQE on a ring set up with IORING_SETUP_SQE128: both
 * 64-byte halves are cleared; the payload goes to uring_cmd_payload(). */
static inline void uring_cmd_prep(struct io_uring_sqe *sqe, int fd,
				  unsigned int cmd_op)
{
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = cmd_op;
}

static inline void *uring_cmd_payload(struct io_uring_sqe *sqe)
{
	return sqe->cmd;
}

#endif
