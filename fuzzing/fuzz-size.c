/* SPDX-License-Identifier: MIT */
/*
 * fuzz-size.c - sizes and numbers as users write them (-s 10G, --max-io
 * 512K, -q 2, a target's --offset 1M): lib/parse.c's parse_size(),
 * parse_uint() and the plugin API's ublkd_parse_size().
 *
 * Input: the string itself.  Beyond memory errors and undefined
 * behaviour, a value that is accepted must be right: within the range
 * asked for, and the same whichever parser reads a plain number.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "common.h"
#include "parse.h"

/* The ranges ublkd asks parse_uint() for. */
static const struct { uint64_t min, max; } ranges[] = {
	{ 0, 0x7fffffff },	/* -n */
	{ 1, 64 },		/* -q */
	{ 1, 4096 },		/* -d */
	{ 3, 1023 },		/* --ready-fd */
	{ 0, 0xfffffffe },	/* --owner's numeric ids */
	{ 0, UINT64_MAX },
};

static void check(int ok, const char *what, const char *s)
{
	if (!ok) {
		fprintf(stderr, "fuzz-size: %s for \"%s\"\n", what, s);
		abort();
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_text(data, size), again[32];
	uint64_t v, w, plain;
	int plain_ok;
	size_t i;

	plain_ok = parse_uint(s, 0, UINT64_MAX, &plain) == 0;
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		if (parse_uint(s, ranges[i].min, ranges[i].max, &v) < 0)
			continue;
		check(v >= ranges[i].min && v <= ranges[i].max, "parse_uint out of range", s);
		check(plain_ok && v == plain, "parse_uint depends on the range", s);
	}
	if (parse_size(s, &v) == 0) {
		/* The value in bytes reads back as itself. */
		snprintf(again, sizeof(again), "%" PRIu64, v);
		check(parse_size(again, &w) == 0 && w == v, "parse_size of its own value", s);
		check(ublkd_parse_size(s, &w) == 0 && w == v, "ublkd_parse_size differs", s);
	} else {
		check(ublkd_parse_size(s, &w) < 0, "ublkd_parse_size differs", s);
	}
	/* A plain number is a size in bytes. */
	if (plain_ok)
		check(parse_size(s, &v) == 0 && v == plain, "plain number as a size", s);
	free(s);
	return 0;
}
