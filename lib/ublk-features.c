/* SPDX-License-Identifier: MIT */
/* features.c - names and first kernels of the ublk feature bits. */
#include <stddef.h>
#include "ublk-abi.h"
#include "ublk-features.h"

const struct ublk_feature ublk_features[] = {
	{ 0,  "SUPPORT_ZERO_COPY", "6.15", "zero copy through registered buffers" },
	{ 1,  "URING_CMD_COMP_IN_TASK", "6.0", "completions always in task work" },
	{ 2,  "NEED_GET_DATA", "6.0", "server supplies write buffers on demand" },
	{ 3,  "USER_RECOVERY", "6.1", "device survives server death" },
	{ 4,  "USER_RECOVERY_REISSUE", "6.1", "in-flight I/O reissued after recovery" },
	{ 5,  "UNPRIVILEGED_DEV", "6.3", "devices owned by unprivileged users" },
	{ 6,  "CMD_IOCTL_ENCODE", "6.4", "ioctl-encoded commands" },
	{ 7,  "USER_COPY", "6.5", "server copies data with pread/pwrite" },
	{ 8,  "ZONED", "6.6", "zoned block devices" },
	{ 9,  "USER_RECOVERY_FAIL_IO", "6.13", "fail I/O while no server runs" },
	{ 10, "UPDATE_SIZE", "6.16", "resize a live device: ublk resize" },
	{ 11, "AUTO_BUF_REG", "6.16", "zero copy with automatic buffer registration" },
	{ 12, "QUIESCE", "6.16", "quiesce a device for server upgrade: ublk upgrade" },
	{ 13, "PER_IO_DAEMON", "6.16", "any thread may serve any tag" },
	{ 14, "BUF_REG_OFF_DAEMON", "6.17", "register buffers from any thread" },
	{ 15, "BATCH_IO", "7.0", "batched fetch and commit" },
	{ 16, "INTEGRITY", "7.0", "integrity metadata" },
	{ 17, "SAFE_STOP_DEV", "7.0", "stop only when unused" },
	{ 18, "NO_AUTO_PART_SCAN", "7.0", "no partition scan at start: ublk add --no-part-scan" },
	{ 19, "SHMEM_ZC", "7.1", "shared-memory zero copy" },
	{ 20, "IO_DESC_SIZE", "7.3", "extensible I/O descriptors" },
	{ 48, "FUSED_ZERO_COPY", "6.12+kernel/", "zero copy through io_uring fused commands "
	  "(ublkd's kernel/ series)" },
	{ -1, NULL, NULL, NULL },
};

const struct ublk_feature *feature_by_bit(int bit)
{
	const struct ublk_feature *f;

	for (f = ublk_features; f->name; f++)
		if (f->bit == bit)
			return f;
	return NULL;
}

static const struct ublk_feature *lowest(uint64_t mask)
{
	return mask ? feature_by_bit(__builtin_ctzll(mask)) : NULL;
}

const char *feature_since(uint64_t mask)
{
	const struct ublk_feature *f = lowest(mask);

	return f ? f->since : "?";
}

const char *feature_name(uint64_t mask)
{
	const struct ublk_feature *f = lowest(mask);

	return f ? f->name : "?";
}

const char *const ublk_pi_names[] = { "t10dif", "ip", "crc64", NULL };
const uint8_t ublk_pi_csum[] = {
	UBLK_LBMD_PI_CSUM_CRC16_T10DIF, UBLK_LBMD_PI_CSUM_IP, UBLK_LBMD_PI_CSUM_CRC64_NVME
};

const char *ublk_pi_name(uint8_t csum)
{
	int i;

	for (i = 0; ublk_pi_names[i]; i++)
		if (ublk_pi_csum[i] == csum)
			return ublk_pi_names[i];
	return NULL;
}
