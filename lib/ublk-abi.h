/* SPDX-License-Identifier: MIT */
/*
 * ublk-abi.h - the ublk kernel interface, as ublkd uses it.
 *
 * Written for ublkd from the ABI facts (numbers, sizes, layouts) of the
 * Linux ublk driver.  Everything here is fixed ABI: change nothing without
 * checking it against a real kernel in the test VM.
 */
#ifndef UBLKD_UBLK_ABI_H
#define UBLKD_UBLK_ABI_H

#include <stdint.h>
#include <sys/ioctl.h>
#include <errno.h>

/* Device nodes */
#define UBLK_CONTROL_PATH	"/dev/ublk-control"
#define UBLK_CHAR_FMT		"/dev/ublkc%u"
#define UBLK_BLOCK_FMT		"/dev/ublkb%u"

/* ---- Feature bits (dev_info.flags; GET_FEATURES reports the kernel's set) */
#define UBLK_F_SUPPORT_ZERO_COPY	(1ULL << 0)
#define UBLK_F_URING_CMD_COMP_IN_TASK	(1ULL << 1)
#define UBLK_F_NEED_GET_DATA		(1ULL << 2)
#define UBLK_F_USER_RECOVERY		(1ULL << 3)
#define UBLK_F_USER_RECOVERY_REISSUE	(1ULL << 4)
#define UBLK_F_UNPRIVILEGED_DEV		(1ULL << 5)
#define UBLK_F_CMD_IOCTL_ENCODE		(1ULL << 6)
#define UBLK_F_USER_COPY		(1ULL << 7)
#define UBLK_F_ZONED			(1ULL << 8)
#define UBLK_F_USER_RECOVERY_FAIL_IO	(1ULL << 9)
#define UBLK_F_UPDATE_SIZE		(1ULL << 10)
#define UBLK_F_AUTO_BUF_REG		(1ULL << 11)
#define UBLK_F_QUIESCE			(1ULL << 12)
#define UBLK_F_PER_IO_DAEMON		(1ULL << 13)
#define UBLK_F_BUF_REG_OFF_DAEMON	(1ULL << 14)
#define UBLK_F_BATCH_IO			(1ULL << 15)
#define UBLK_F_INTEGRITY		(1ULL << 16)
#define UBLK_F_SAFE_STOP_DEV		(1ULL << 17)
#define UBLK_F_NO_AUTO_PART_SCAN	(1ULL << 18)
#define UBLK_F_SHMEM_ZC			(1ULL << 19)
#define UBLK_F_IO_DESC_SIZE		(1ULL << 20)
/* Not mainline: ublkd's kernel/ series for 6.12 (zero copy through io_uring
 * fused commands).  Its opcode is 255, the last 8-bit io_uring opcode, which
 * mainline (numbering from 0 in sequence) would reach last; early builds of
 * the series used 58, mainline's IORING_OP_RECV_ZC since 6.15, so
 * ctrl_get_features() reports the bit only when io_uring's probe also
 * lists opcode 255. */
#define UBLK_F_FUSED_ZERO_COPY		(1ULL << 48)
#define IORING_OP_FUSED_CMD_UBLKD	255

/* ---- Structures (little endian, natural alignment) ---- */

/* Payload of every control command, carried in sqe->cmd. */
struct ublksrv_ctrl_cmd {
	uint32_t dev_id;	/* target device; (uint32_t)-1 lets ADD_DEV pick */
	uint16_t queue_id;	/* (uint16_t)-1 when not about a queue */
	uint16_t len;		/* bytes at addr */
	uint64_t addr;		/* in/out buffer */
	uint64_t data[1];	/* inline argument */
	uint16_t dev_path_len;	/* unprivileged devices and GET_DEV_INFO2 */
	uint16_t pad;
	uint32_t reserved;
};

struct ublksrv_ctrl_dev_info {
	uint16_t nr_hw_queues;
	uint16_t queue_depth;
	uint16_t state;		/* UBLK_S_DEV_* */
	uint16_t pad0;		/* io_desc_size from 7.3 with IO_DESC_SIZE */
	uint32_t max_io_buf_bytes;
	uint32_t dev_id;
	int32_t  ublksrv_pid;
	uint32_t pad1;
	uint64_t flags;		/* UBLK_F_* */
	uint64_t ublksrv_flags;	/* opaque to the kernel: ours */
	uint32_t owner_uid;
	uint32_t owner_gid;
	uint64_t reserved1;
	uint64_t reserved2;
};

/* One per tag, in the read-only array the server mmaps per queue. */
struct ublksrv_io_desc {
	uint32_t op_flags;	/* op in bits 0-7, UBLK_IO_F_* above */
	uint32_t nr_sectors;	/* nr_zones for REPORT_ZONES */
	uint64_t start_sector;
	uint64_t addr;		/* server buffer address (copy mode) */
};

/* Payload of every I/O command, carried in sqe->cmd. */
struct ublksrv_io_cmd {
	uint16_t q_id;
	uint16_t tag;
	int32_t  result;	/* COMMIT: bytes done or -errno */
	uint64_t addr;		/* FETCH: buffer; REGISTER: buffer-table index */
};

/* Batch I/O (UBLK_F_BATCH_IO, Linux 7.0+): PREP_IO_CMDS and
 * COMMIT_IO_CMDS carry this header in sqe->cmd and an array of nr_elem
 * elements of elem_bytes each at sqe->addr.  An element is the header
 * below, then (flag HAS_BUF_ADDR, copy mode) the tag's buffer address.
 * FETCH_IO_CMDS is multishot: each completion fills a buffer of the
 * ring's provided-buffer group sqe->buf_group with 16-bit tags. */
struct ublk_batch_io {
	uint16_t q_id;
	uint16_t flags;		/* UBLK_BATCH_F_* */
	uint16_t nr_elem;
	uint8_t  elem_bytes;	/* 8, 16 with HAS_BUF_ADDR; FETCH: 2 */
	uint8_t  reserved;
	uint64_t reserved2;
};
#define UBLK_BATCH_F_HAS_ZONE_LBA		(1U << 0)
#define UBLK_BATCH_F_HAS_BUF_ADDR		(1U << 1)
#define UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK	(1U << 2)

struct ublk_elem_header {
	uint16_t tag;
	uint16_t buf_index;	/* AUTO_BUF_REG: the buffer-table slot */
	int32_t  result;	/* COMMIT: bytes done or -errno */
};

/* AUTO_BUF_REG: packed into sqe->addr of FETCH/COMMIT_AND_FETCH. */
#define UBLK_AUTO_BUF_REG_FALLBACK	(1U << 0)
static inline uint64_t ublk_auto_buf_reg_addr(uint16_t index, uint8_t flags)
{
	return (uint64_t)index | (uint64_t)flags << 16;
}

/* Device parameters (SET_PARAMS / GET_PARAMS). */
#define UBLK_ATTR_READ_ONLY		(1U << 0)
#define UBLK_ATTR_ROTATIONAL		(1U << 1)
#define UBLK_ATTR_VOLATILE_CACHE	(1U << 2)
#define UBLK_ATTR_FUA			(1U << 3)

struct ublk_param_basic {
	uint32_t attrs;
	uint8_t  logical_bs_shift;
	uint8_t  physical_bs_shift;
	uint8_t  io_opt_shift;
	uint8_t  io_min_shift;
	uint32_t max_sectors;
	uint32_t chunk_sectors;
	uint64_t dev_sectors;
	uint64_t virt_boundary_mask;
};

struct ublk_param_discard {
	uint32_t discard_alignment;
	uint32_t discard_granularity;
	uint32_t max_discard_sectors;
	uint32_t max_write_zeroes_sectors;
	uint16_t max_discard_segments;
	uint16_t reserved0;
};

struct ublk_param_devt {	/* read only, valid once started */
	uint32_t char_major;
	uint32_t char_minor;
	uint32_t disk_major;
	uint32_t disk_minor;
};

struct ublk_param_zoned {
	uint32_t max_open_zones;
	uint32_t max_active_zones;
	uint32_t max_zone_append_sectors;
	uint8_t  reserved[20];
};

struct ublk_param_dma_align {
	uint32_t alignment;
	uint8_t  pad[4];
};

struct ublk_param_segment {
	uint64_t seg_boundary_mask;
	uint32_t max_segment_size;
	uint16_t max_segments;
	uint8_t  pad[2];
};

struct ublk_param_integrity {
	uint32_t flags;
	uint16_t max_integrity_segments;
	uint8_t  interval_exp;
	uint8_t  metadata_size;
	uint8_t  pi_offset;
	uint8_t  csum_type;
	uint8_t  tag_size;
	uint8_t  pad[5];
};

/* ublk_param_integrity.flags and .csum_type: <linux/fs.h>'s logical block
 * metadata constants (Linux 6.17; older headers lack them). */
#define UBLK_LBMD_PI_CAP_INTEGRITY	(1U << 0)	/* LBMD_PI_CAP_INTEGRITY */
#define UBLK_LBMD_PI_CAP_REFTAG		(1U << 1)	/* LBMD_PI_CAP_REFTAG */
#define UBLK_LBMD_PI_CSUM_IP		1		/* LBMD_PI_CSUM_IP */
#define UBLK_LBMD_PI_CSUM_CRC16_T10DIF	2		/* LBMD_PI_CSUM_CRC16_T10DIF */
#define UBLK_LBMD_PI_CSUM_CRC64_NVME	4		/* LBMD_PI_CSUM_CRC64_NVME */

#define UBLK_PARAM_TYPE_BASIC		(1U << 0)
#define UBLK_PARAM_TYPE_DISCARD		(1U << 1)
#define UBLK_PARAM_TYPE_DEVT		(1U << 2)
#define UBLK_PARAM_TYPE_ZONED		(1U << 3)
#define UBLK_PARAM_TYPE_DMA_ALIGN	(1U << 4)
#define UBLK_PARAM_TYPE_SEGMENT		(1U << 5)
#define UBLK_PARAM_TYPE_INTEGRITY	(1U << 6)

struct ublk_params {
	uint32_t len;		/* bytes of this struct the caller knows */
	uint32_t types;		/* UBLK_PARAM_TYPE_* present */
	struct ublk_param_basic		basic;
	struct ublk_param_discard	discard;
	struct ublk_param_devt		devt;
	struct ublk_param_zoned		zoned;
	struct ublk_param_dma_align	dma;
	struct ublk_param_segment	seg;
	struct ublk_param_integrity	integrity;
};

/* ---- Command numbers ---- */
#define UBLK_CMD_GET_QUEUE_AFFINITY	0x01
#define UBLK_CMD_GET_DEV_INFO		0x02
#define UBLK_CMD_ADD_DEV		0x04
#define UBLK_CMD_DEL_DEV		0x05
#define UBLK_CMD_START_DEV		0x06
#define UBLK_CMD_STOP_DEV		0x07
#define UBLK_CMD_SET_PARAMS		0x08
#define UBLK_CMD_GET_PARAMS		0x09
#define UBLK_CMD_START_USER_RECOVERY	0x10
#define UBLK_CMD_END_USER_RECOVERY	0x11
#define UBLK_CMD_GET_DEV_INFO2		0x12
#define UBLK_CMD_GET_FEATURES		0x13
#define UBLK_CMD_DEL_DEV_ASYNC		0x14
#define UBLK_CMD_UPDATE_SIZE		0x15
#define UBLK_CMD_QUIESCE_DEV		0x16
#define UBLK_CMD_TRY_STOP_DEV		0x17
#define UBLK_CMD_REG_BUF		0x18	/* UBLK_F_SHMEM_ZC (7.1) */
#define UBLK_CMD_UNREG_BUF		0x19

#define UBLK_IO_FETCH_REQ		0x20
#define UBLK_IO_COMMIT_AND_FETCH_REQ	0x21
#define UBLK_IO_NEED_GET_DATA		0x22
#define UBLK_IO_REGISTER_IO_BUF		0x23
#define UBLK_IO_UNREGISTER_IO_BUF	0x24
#define UBLK_IO_PREP_IO_CMDS		0x25	/* batch I/O */
#define UBLK_IO_COMMIT_IO_CMDS		0x26
#define UBLK_IO_FETCH_IO_CMDS		0x27
#define UBLK_IO_FUSED_SUBMIT_IO		0x30	/* kernel/ series */

/* ioctl encoding ('u', nr, payload type), always used: every kernel with
 * GET_FEATURES (6.5+) understands it. */
#define UBLK_U_CTRL_R(nr)	_IOR('u', (nr), struct ublksrv_ctrl_cmd)
#define UBLK_U_CTRL_RW(nr)	_IOWR('u', (nr), struct ublksrv_ctrl_cmd)
#define UBLK_U_IO(nr)		_IOWR('u', (nr), struct ublksrv_io_cmd)
#define UBLK_U_BATCH(nr)	_IOWR('u', (nr), struct ublk_batch_io)

#define UBLK_U_CMD_GET_QUEUE_AFFINITY	UBLK_U_CTRL_R(UBLK_CMD_GET_QUEUE_AFFINITY)
#define UBLK_U_CMD_GET_DEV_INFO		UBLK_U_CTRL_R(UBLK_CMD_GET_DEV_INFO)
#define UBLK_U_CMD_ADD_DEV		UBLK_U_CTRL_RW(UBLK_CMD_ADD_DEV)
#define UBLK_U_CMD_DEL_DEV		UBLK_U_CTRL_RW(UBLK_CMD_DEL_DEV)
#define UBLK_U_CMD_START_DEV		UBLK_U_CTRL_RW(UBLK_CMD_START_DEV)
#define UBLK_U_CMD_STOP_DEV		UBLK_U_CTRL_RW(UBLK_CMD_STOP_DEV)
#define UBLK_U_CMD_SET_PARAMS		UBLK_U_CTRL_RW(UBLK_CMD_SET_PARAMS)
#define UBLK_U_CMD_GET_PARAMS		UBLK_U_CTRL_R(UBLK_CMD_GET_PARAMS)
#define UBLK_U_CMD_START_USER_RECOVERY	UBLK_U_CTRL_RW(UBLK_CMD_START_USER_RECOVERY)
#define UBLK_U_CMD_END_USER_RECOVERY	UBLK_U_CTRL_RW(UBLK_CMD_END_USER_RECOVERY)
#define UBLK_U_CMD_GET_DEV_INFO2	UBLK_U_CTRL_R(UBLK_CMD_GET_DEV_INFO2)
#define UBLK_U_CMD_GET_FEATURES		UBLK_U_CTRL_R(UBLK_CMD_GET_FEATURES)
#define UBLK_U_CMD_DEL_DEV_ASYNC	UBLK_U_CTRL_R(UBLK_CMD_DEL_DEV_ASYNC)
#define UBLK_U_CMD_UPDATE_SIZE		UBLK_U_CTRL_RW(UBLK_CMD_UPDATE_SIZE)
#define UBLK_U_CMD_QUIESCE_DEV		UBLK_U_CTRL_RW(UBLK_CMD_QUIESCE_DEV)
#define UBLK_U_CMD_TRY_STOP_DEV		UBLK_U_CTRL_RW(UBLK_CMD_TRY_STOP_DEV)
#define UBLK_U_CMD_REG_BUF		UBLK_U_CTRL_RW(UBLK_CMD_REG_BUF)
#define UBLK_U_CMD_UNREG_BUF		UBLK_U_CTRL_RW(UBLK_CMD_UNREG_BUF)

#define UBLK_U_IO_FETCH_REQ		UBLK_U_IO(UBLK_IO_FETCH_REQ)
#define UBLK_U_IO_COMMIT_AND_FETCH_REQ	UBLK_U_IO(UBLK_IO_COMMIT_AND_FETCH_REQ)
#define UBLK_U_IO_NEED_GET_DATA		UBLK_U_IO(UBLK_IO_NEED_GET_DATA)
#define UBLK_U_IO_REGISTER_IO_BUF	UBLK_U_IO(UBLK_IO_REGISTER_IO_BUF)
#define UBLK_U_IO_UNREGISTER_IO_BUF	UBLK_U_IO(UBLK_IO_UNREGISTER_IO_BUF)
#define UBLK_U_IO_PREP_IO_CMDS		UBLK_U_BATCH(UBLK_IO_PREP_IO_CMDS)
#define UBLK_U_IO_COMMIT_IO_CMDS	UBLK_U_BATCH(UBLK_IO_COMMIT_IO_CMDS)
#define UBLK_U_IO_FETCH_IO_CMDS		UBLK_U_BATCH(UBLK_IO_FETCH_IO_CMDS)
#define UBLK_U_IO_FUSED_SUBMIT_IO	UBLK_U_IO(UBLK_IO_FUSED_SUBMIT_IO)

/* I/O command results */
#define UBLK_IO_RES_OK			0
#define UBLK_IO_RES_NEED_GET_DATA	1
#define UBLK_IO_RES_ABORT		(-ENODEV)

/* Device states */
#define UBLK_S_DEV_DEAD		0
#define UBLK_S_DEV_LIVE		1
#define UBLK_S_DEV_QUIESCED	2
#define UBLK_S_DEV_FAIL_IO	3

/* Request ops (desc.op_flags & 0xff) */
#define UBLK_IO_OP_READ		0
#define UBLK_IO_OP_WRITE	1
#define UBLK_IO_OP_FLUSH	2
#define UBLK_IO_OP_DISCARD	3
#define UBLK_IO_OP_WRITE_SAME	4
#define UBLK_IO_OP_WRITE_ZEROES	5
#define UBLK_IO_OP_ZONE_OPEN	10
#define UBLK_IO_OP_ZONE_CLOSE	11
#define UBLK_IO_OP_ZONE_FINISH	12
#define UBLK_IO_OP_ZONE_APPEND	13
#define UBLK_IO_OP_ZONE_RESET_ALL 14
#define UBLK_IO_OP_ZONE_RESET	15
#define UBLK_IO_OP_REPORT_ZONES	18

/* Request flags (desc.op_flags, full-word bit positions) */
#define UBLK_IO_F_FAILFAST_DEV		(1U << 8)
#define UBLK_IO_F_FAILFAST_TRANSPORT	(1U << 9)
#define UBLK_IO_F_FAILFAST_DRIVER	(1U << 10)
#define UBLK_IO_F_META			(1U << 11)
#define UBLK_IO_F_FUA			(1U << 13)
#define UBLK_IO_F_NOUNMAP		(1U << 15)
#define UBLK_IO_F_SWAP			(1U << 16)
#define UBLK_IO_F_NEED_REG_BUF		(1U << 17)
#define UBLK_IO_F_INTEGRITY		(1U << 18)
#define UBLK_IO_F_SHMEM_ZC		(1U << 19)

static inline unsigned int ublk_desc_op(const struct ublksrv_io_desc *d)
{
	return d->op_flags & 0xff;
}

/* mmap layout of /dev/ublkcN: queue q's descriptor array starts at
 * q * (bytes for the deepest possible queue, page rounded). */
#define UBLKSRV_CMD_BUF_OFFSET	0ULL
#define UBLK_MAX_QUEUE_DEPTH	4096
#define UBLK_MAX_NR_QUEUES	4096

/* User-copy window: pread/pwrite on /dev/ublkcN at
 * UBLKSRV_IO_BUF_OFFSET + (qid << 41 | tag << 25 | byte offset): the
 * kernel subtracts the base, and tag << 25 reaches bit 31 from tag 64 on. */
#define UBLKSRV_IO_BUF_OFFSET	0x80000000ULL
#define UBLK_IO_BUF_BITS	25
#define UBLK_TAG_OFF		UBLK_IO_BUF_BITS
#define UBLK_TAG_BITS		16
#define UBLK_QID_OFF		(UBLK_TAG_OFF + UBLK_TAG_BITS)

static inline uint64_t ublk_user_copy_offset(unsigned int q, unsigned int tag,
					     uint32_t off)
{
	return UBLKSRV_IO_BUF_OFFSET + ((uint64_t)q << UBLK_QID_OFF |
	       (uint64_t)tag << UBLK_TAG_OFF | off);
}

/* UBLK_F_INTEGRITY (7.0): the same window with this bit set moves the
 * request's integrity buffer (its metadata) instead of its data. */
#define UBLKSRV_IO_INTEGRITY_FLAG	(1ULL << 62)

/* Shared-memory zero copy (UBLK_F_SHMEM_ZC, 7.1): REG_BUF pins a range of
 * the server's shared memory (ctrl_cmd.addr points to this struct) and
 * returns its index.  A request whose pages all lie in one registered
 * range arrives with UBLK_IO_F_SHMEM_ZC, and its descriptor's addr is
 * that range's index (bits 32-47) and the byte offset in it (bits 0-31):
 * the kernel copies nothing, the data is in the server's mapping. */
struct ublk_shmem_buf_reg {
	uint64_t addr;		/* page aligned */
	uint64_t len;		/* page aligned, 4 GiB at most */
	uint32_t flags;		/* UBLK_SHMEM_BUF_READ_ONLY */
	uint32_t reserved;
};
#define UBLK_SHMEM_BUF_READ_ONLY	(1U << 0)
#define UBLK_SHMEM_BUF_MAX		(1ULL << 32)

static inline unsigned int ublk_shmem_index(uint64_t addr)
{
	return (addr >> 32) & 0xffff;
}

static inline uint32_t ublk_shmem_offset(uint64_t addr)
{
	return (uint32_t)addr;
}

/* Static layout checks: these sizes are ABI. */
_Static_assert(sizeof(struct ublk_shmem_buf_reg) == 24, "shmem_buf_reg is 24 bytes");
_Static_assert(sizeof(struct ublksrv_ctrl_cmd) == 32, "ctrl_cmd is 32 bytes");
_Static_assert(sizeof(struct ublksrv_ctrl_dev_info) == 64, "dev_info is 64 bytes");
_Static_assert(sizeof(struct ublksrv_io_desc) == 24, "io_desc is 24 bytes");
_Static_assert(sizeof(struct ublksrv_io_cmd) == 16, "io_cmd is 16 bytes");
_Static_assert(sizeof(struct ublk_batch_io) == 16, "batch_io is 16 bytes");
_Static_assert(sizeof(struct ublk_elem_header) == 8, "elem_header is 8 bytes");
_Static_assert(sizeof(struct ublk_param_basic) == 32, "basic is 32 bytes");
_Static_assert(sizeof(struct ublk_param_discard) == 20, "discard is 20 bytes");

#endif /* UBLKD_UBLK_ABI_H */
