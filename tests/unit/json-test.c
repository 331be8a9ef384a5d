/* SPDX-License-Identifier: MIT */
/* json-test.c - the JSON writer's output, and lookups in what it wrote. */
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

int main(void)
{
	char *out = render(doc), s[64];
	int64_t v;

	CHECK(!strcmp(out, "{\"id\":3,\"pid\":-1,\"name\":\"a \\\"quoted\\\"\\\\ line\\n\\ttab\\u0001\","
		      "\"ro\":true,\"none\":null,\"list\":[\"x\",{\"id\":99}],"
		      "\"after\":18446744073709551615}\n"));
	/* Lookups see top-level members only. */
	CHECK(json_lookup_int(out, "id", &v) == 0 && v == 3);
	CHECK(json_lookup_int(out, "pid", &v) == 0 && v == -1);
	CHECK(json_lookup_int(out, "missing", &v) < 0);
	CHECK(json_lookup_int(out, "name", &v) < 0);
	CHECK(json_lookup_string(out, "name", s, sizeof(s)) == 0 &&
	      !strcmp(s, "a \"quoted\"\\ linenttabu0001"));
	CHECK(json_lookup_string(out, "id", s, sizeof(s)) < 0);
	free(out);

	out = render(empty);
	CHECK(!strcmp(out, "[]\n"));
	free(out);
	return unit_done("json-test");
}
