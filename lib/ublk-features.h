/* SPDX-License-Identifier: MIT */
/* features.h - names and first kernels of the ublk feature bits. */
#ifndef UBLKD_FEATURES_H
#define UBLKD_FEATURES_H

#include <stdint.h>

struct ublk_feature {
	int bit;
	const char *name;	/* as in the UAPI, without UBLK_F_ */
	const char *since;	/* first mainline kernel that has it */
	const char *what;	/* one line */
};

/* Terminated by an entry with name NULL. */
extern const struct ublk_feature ublk_features[];
const struct ublk_feature *feature_by_bit(int bit);
/* "6.15" for a mask's lowest known bit, "?" when unknown. */
const char *feature_since(uint64_t mask);
const char *feature_name(uint64_t mask);

/* Protection information formats (ublkd --integrity, ublk_param_integrity's
 * csum_type): the names, NULL-terminated, and their csum_type values in the
 * same order.  One table for the option, `ublk list` and the messages. */
extern const char *const ublk_pi_names[];
extern const uint8_t ublk_pi_csum[];
/* "t10dif" for UBLK_LBMD_PI_CSUM_CRC16_T10DIF, ...; NULL when unknown. */
const char *ublk_pi_name(uint8_t csum);

#endif
