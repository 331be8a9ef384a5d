/* SPDX-License-Identifier: MIT */
/*
 * plugin-stubs.c - the data-path services of <ublkd/target.h> for
 * config-test, which dlopen()s the real plugins to check the example
 * configs against their option tables but never serves I/O.  A plugin
 * linked with -z now (bindnow hardening, as in the Debian package build)
 * must find every symbol it imports at dlopen() time, so config-test
 * exports these (with the log and parse services of lib/) like ublkd
 * does.  None is ever called: each one aborts.
 */
#include <stdlib.h>
#include <ublkd/target.h>

void ublkd_target_set_priv(struct ublkd_target *t, void *priv) { abort(); }
void *ublkd_target_priv(const struct ublkd_target *t) { abort(); }
struct ublkd_target *ublkd_queue_target(const struct ublkd_queue *q) { abort(); }
void ublkd_queue_set_priv(struct ublkd_queue *q, void *priv) { abort(); }
void *ublkd_queue_priv(const struct ublkd_queue *q) { abort(); }
unsigned int ublkd_queue_id(const struct ublkd_queue *q) { abort(); }
enum ublkd_data_mode ublkd_queue_data_mode(const struct ublkd_queue *q) { abort(); }
struct io_uring_sqe *ublkd_get_sqe(struct ublkd_queue *q) { abort(); }
void ublkd_sqe_set_data(struct io_uring_sqe *sqe, struct ublkd_io *io, uint32_t cookie) { abort(); }
void ublkd_prep_rw(struct ublkd_queue *q, struct ublkd_io *io, struct io_uring_sqe *sqe,
		   enum ublkd_op op, int fd, uint64_t file_off, uint32_t buf_off,
		   uint32_t len, int rw_flags) { abort(); }
void ublkd_complete(struct ublkd_queue *q, struct ublkd_io *io, int result) { abort(); }
void ublkd_count_reconnect(struct ublkd_target *t) { abort(); }
int ublkd_claim_file(int fd, const char *path, int shared) { abort(); }
const char *ublkd_op_name(unsigned int op) { abort(); }
int ublkd_queue_register_file(struct ublkd_queue *q, int fd) { abort(); }
unsigned int ublkd_target_metadata_size(const struct ublkd_target *t) { abort(); }
void *ublkd_io_metadata(const struct ublkd_queue *q, const struct ublkd_io *io, uint32_t *len,
			uint64_t *offset) { abort(); }
