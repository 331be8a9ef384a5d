/* SPDX-License-Identifier: MIT */
/* parse.c - strict parsers for numbers and sizes given by users. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "parse.h"
#include <ublkd/target.h>

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "BKMGTP";
	unsigned long long v;
	const char *u;
	char *end;
	int shift;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (!*end) {
		*out = v;
		return 0;
	}
	u = strchr(units, toupper((unsigned char)*end));
	if (!u)
		return -1;
	end++;
	/* Accept K, KB, KiB (all 1024-based) and B alone. */
	if (*u != 'B' && (!strcasecmp(end, "iB") || !strcasecmp(end, "B")))
		end += strlen(end);
	if (*end)
		return -1;
	shift = 10 * (int)(u - units);
	if (shift && v > (~0ULL >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

int ublkd_parse_size(const char *s, uint64_t *out)
{
	return parse_size(s, out);
}

void format_size(uint64_t bytes, char *buf, int len)
{
	static const char *const names[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	int i = 0;

	while (i < 5 && bytes && !(bytes & 1023)) {
		bytes >>= 10;
		i++;
	}
	snprintf(buf, len, "%llu %s", (unsigned long long)bytes, names[i]);
}
