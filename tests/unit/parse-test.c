/* SPDX-License-Identifier: MIT */
/* parse-test.c - sizes and numbers as users type them. */
#include <string.h>
#include "parse.h"
#include "unit.h"

static uint64_t size_of(const char *s, int *ok)
{
	uint64_t v = 0;

	*ok = parse_size(s, &v) == 0;
	return v;
}

int main(void)
{
	char buf[32];
	uint64_t v;
	int ok;

	CHECK(size_of("4096", &ok) == 4096 && ok);
	CHECK(size_of("512K", &ok) == 512 * 1024 && ok);
	CHECK(size_of("512k", &ok) == 512 * 1024 && ok);
	CHECK(size_of("512KiB", &ok) == 512 * 1024 && ok);
	CHECK(size_of("10M", &ok) == 10ULL << 20 && ok);
	CHECK(size_of("1G", &ok) == 1ULL << 30 && ok);
	CHECK(size_of("2T", &ok) == 2ULL << 40 && ok);
	CHECK(size_of("100B", &ok) == 100 && ok);
	CHECK(size_of("0", &ok) == 0 && ok);
	size_of("", &ok);		CHECK(!ok);
	size_of("-1", &ok);		CHECK(!ok);
	size_of("1X", &ok);		CHECK(!ok);
	size_of("1GG", &ok);		CHECK(!ok);
	size_of("G", &ok);		CHECK(!ok);
	size_of(" 1", &ok);		CHECK(!ok);
	size_of("99999999999999999999", &ok);	CHECK(!ok);
	size_of("16777216T", &ok);	CHECK(!ok);	/* 2^64: overflow */
	size_of("16777215T", &ok);	CHECK(ok);

	CHECK(parse_uint("128", 1, 4096, &v) == 0 && v == 128);
	CHECK(parse_uint("0", 1, 4096, &v) < 0);
	CHECK(parse_uint("4097", 1, 4096, &v) < 0);
	CHECK(parse_uint("12a", 1, 4096, &v) < 0);
	CHECK(parse_uint("", 1, 4096, &v) < 0);
	CHECK(parse_uint("-5", 0, 4096, &v) < 0);
	CHECK(parse_uint(NULL, 0, 4096, &v) < 0);

	format_size(1ULL << 30, buf, sizeof(buf));
	CHECK(!strcmp(buf, "1 GiB"));
	format_size(1536 * 1024, buf, sizeof(buf));
	CHECK(!strcmp(buf, "1536 KiB"));
	format_size(1000, buf, sizeof(buf));
	CHECK(!strcmp(buf, "1000 B"));
	format_size(0, buf, sizeof(buf));
	CHECK(!strcmp(buf, "0 B"));
	return unit_done("parse-test");
}
