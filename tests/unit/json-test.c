/* SPDX-License-Identifier: MIT */
/* json-test.c - the JSON writer's output. */
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
	char *out = render(doc);

	CHECK(!strcmp(out, "{\"id\":3,\"pid\":-1,\"name\":\"a \\\"quoted\\\"\\\\ line\\n\\ttab\\u0001\","
		      "\"ro\":true,\"none\":null,\"list\":[\"x\",{\"id\":99}],"
		      "\"after\":18446744073709551615}\n"));
	free(out);

	out = render(empty);
	CHECK(!strcmp(out, "[]\n"));
	free(out);
	return unit_done("json-test");
}
