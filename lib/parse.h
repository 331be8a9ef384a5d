/* SPDX-License-Identifier: MIT */
/* parse.h - strict parsers for numbers and sizes given by users. */
#ifndef UBLKD_PARSE_H
#define UBLKD_PARSE_H

#include <stdint.h>

/* "4096", "512K", "512KiB", "10M", "1G", "2T" (powers of 1024), or
 * "4096B"; 0 on success, -1 on anything else (empty, junk, overflow). */
int parse_size(const char *s, uint64_t *out);
/* Decimal unsigned integer in [min, max]; 0 on success, -1 otherwise. */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Human form of a size: "1 GiB", "512 KiB", "1000 B" (exact only). */
void format_size(uint64_t bytes, char *buf, int len);

#endif
