/* SPDX-License-Identifier: MIT */
/*
 * runstate-test.c - the state files in /run/ublkd are read back exactly as
 * written: every byte of a string (quotes, backslash, control characters,
 * a non-UTF-8 byte, a 5000-byte value) and 64-bit integers, through the
 * libconfig writer and reader (lib/runstate.c); device names' rule and
 * the recovery record's name.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "runstate.h"
#include "unit.h"

int main(void)
{
	static const char awkward[] = "a 'quoted' \"name\"\n\twith \\ \001 \377 end";
	char dir[] = "/tmp/runstate-test.XXXXXX", buf[8192], big[5001], *text;
	config_setting_t *r;
	int64_t v;
	config_t c;

	if (!mkdtemp(dir))
		return 2;
	setenv("UBLKD_RUNDIR", dir, 1);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	big[100] = '\n';

	config_init(&c);
	r = config_root_setting(&c);
	CHECK(runstate_add_string(r, "description", awkward) == 0);
	CHECK(runstate_add_string(r, "options", big) == 0);
	CHECK(runstate_add_int(r, "pid", 12345) == 0);
	CHECK(runstate_add_int(r, "flags", (int64_t)0x8000000000000001ULL) == 0);
	CHECK(runstate_add_bool(r, "read_only", 1) == 0);
	CHECK(runstate_write(7, "state", "# a comment\n", &c) == 0);
	config_destroy(&c);

	text = runstate_read(7);
	CHECK(text != NULL);
	CHECK(runstate_lookup_string(text, "description", buf, sizeof(buf)) == 0 &&
	      !strcmp(buf, awkward));
	CHECK(runstate_lookup_string(text, "options", buf, sizeof(buf)) == 0 &&
	      !strcmp(buf, big));
	CHECK(runstate_lookup_int(text, "pid", &v) == 0 && v == 12345);
	CHECK(runstate_lookup_int(text, "flags", &v) == 0 &&
	      (uint64_t)v == 0x8000000000000001ULL);
	/* wrong type, missing key, cut to the buffer */
	CHECK(runstate_lookup_int(text, "description", &v) < 0);
	CHECK(runstate_lookup_string(text, "pid", buf, sizeof(buf)) < 0);
	CHECK(runstate_lookup_string(text, "missing", buf, sizeof(buf)) < 0);
	CHECK(runstate_lookup_string(text, "description", buf, 4) == 0 && !strcmp(buf, "a '"));
	CHECK(runstate_lookup_int("not ( a config", "pid", &v) < 0);
	free(text);

	/* device names (--name): the one rule, and the record's name */
	CHECK(runstate_name_problem("data") == NULL);
	CHECK(runstate_name_problem("A.b_c-9") == NULL);
	CHECK(runstate_name_problem(".hidden") == NULL);
	CHECK(runstate_name_problem("") != NULL);
	CHECK(runstate_name_problem(".") != NULL);
	CHECK(runstate_name_problem("..") != NULL);
	CHECK(runstate_name_problem("-x") != NULL);
	CHECK(runstate_name_problem("a/b") != NULL);
	CHECK(runstate_name_problem("a b") != NULL);
	CHECK(runstate_name_problem("caf\303\251") != NULL);
	memset(buf, 'n', 65);
	buf[64] = 0;
	CHECK(runstate_name_problem(buf) == NULL);
	buf[64] = 'n';
	buf[65] = 0;
	CHECK(runstate_name_problem(buf) != NULL);
	config_init(&c);
	r = config_root_setting(&c);
	CHECK(runstate_add_string(r, "name", "disk-1") == 0);
	CHECK(runstate_write(7, "conf", NULL, &c) == 0);
	config_destroy(&c);
	CHECK(runstate_record_name(7, buf, sizeof(buf)) == 0 && !strcmp(buf, "disk-1"));
	CHECK(runstate_record_name(7, buf, 6) < 0);	/* does not fit */
	CHECK(runstate_record_name(8, buf, sizeof(buf)) < 0);	/* no record */
	config_init(&c);
	r = config_root_setting(&c);
	CHECK(runstate_add_string(r, "name", "../etc") == 0);
	CHECK(runstate_write(7, "conf", NULL, &c) == 0);
	config_destroy(&c);
	CHECK(runstate_record_name(7, buf, sizeof(buf)) < 0);	/* not a name */

	runstate_remove(7);
	CHECK(runstate_read(7) == NULL);
	rmdir(dir);
	return unit_done("runstate-test");
}
