/* SPDX-License-Identifier: MIT */
/* json-test.c - the JSON writer's output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "unit.h"

static char *render(void (*fn)(struct json *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	json_init(&j, f);
	fn(&j);
	fclose(f);
	return buf;
}

static void doc(struct json *j)
{
	json_open_object(j, NULL);
	json_uint(j, "id", 3);
	json_int(j, "pid", -1);
	json_string(j, "name", "a \"quoted\"\\ line\n\ttab\x01");
	json_bool(j, "ro", 1);
	json_string(j, "none", NULL);
	json_open_array(j, "list");
	json_string(j, NULL, "x");
	json_open_object(j, NULL);
	json_uint(j, "id", 99);
	json_close_object(j);
	json_close_array(j);
	json_uint(j, "after", 18446744073709551615ULL);
	json_close_object(j);
	json_end(j);
}

static void empty(struct json *j)
{
	json_open_array(j, NULL);
	json_close_array(j);
	json_end(j);
}

static const char *one;

static void single(struct json *j)
{
	json_string(j, NULL, one);
}

/* One string in, its JSON out. */
static int renders(const char *in, const char *want)
{
	char *out;
	int ok;

	one = in;
	out = render(single);
	ok = !strcmp(out, want);
	if (!ok)
		fprintf(stderr, "json-test: %s: got %s, want %s\n", in, out, want);
	free(out);
	return ok;
}

/* Every control character and DEL escaped; well-formed UTF-8 copied; every
 * byte that is not part of it written as \u00XX of the byte. */
static void check_bytes(void)
{
	char in[2] = "", want[16];
	int c;

	for (c = 1; c < 0x20; c++) {
		in[0] = (char)c;
		snprintf(want, sizeof(want), c == '\n' ? "\"\\n\"" : c == '\t' ? "\"\\t\"" :
			 c == '\r' ? "\"\\r\"" : "\"\\u%04x\"", c);
		CHECK(renders(in, want));
	}
	CHECK(renders("\x7f", "\"\\u007f\""));
	CHECK(renders("/srv/\377disk", "\"/srv/\\u00ffdisk\""));
	CHECK(renders("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe\""));
	/* overlong, surrogate, past U+10FFFF, cut short, lone continuation */
	CHECK(renders("\xc0\x80", "\"\\u00c0\\u0080\""));
	CHECK(renders("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\""));
	CHECK(renders("\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\""));
	CHECK(renders("\xe2\x82", "\"\\u00e2\\u0082\""));
	CHECK(renders("\x80x", "\"\\u0080x\""));
	CHECK(renders("\x01\377\n\xc3\xa9\"", "\"\\u0001\\u00ff\\n\xc3\xa9\\\"\""));
}

/* No length cap: a 5000-byte path comes out whole. */
static void check_long(void)
{
	char in[5001], *want = malloc(5003);

	memset(in, 'a', 5000);
	in[5000] = 0;
	snprintf(want, 5003, "\"%s\"", in);
	CHECK(renders(in, want));
	free(want);
}

int main(void)
{
	char *out = render(doc);

	CHECK(!strcmp(out, "{\"id\":3,\"pid\":-1,\"name\":\"a \\\"quoted\\\"\\\\ line\\n\\ttab\\u0001\","
		      "\"ro\":true,\"none\":null,\"list\":[\"x\",{\"id\":99}],"
		      "\"after\":18446744073709551615}\n"));
	free(out);

	check_bytes();
	check_long();

	out = render(empty);
	CHECK(!strcmp(out, "[]\n"));
	free(out);
	return unit_done("json-test");
}
