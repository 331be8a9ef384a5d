/* SPDX-License-Identifier: MIT */
/*
 * fuzz-options.c - ublkd's command line: argv vectors into
 * ublkd/options.c's options_parse() with the option table of the target
 * that -t names, then the target's own config() for its options, as
 * `ublkd ... --check` does.
 *
 * Input: one argument per line (argv[0] is "ublkd").  -t/--type names
 * the target: null, loop or nbd; without one (or with another) null's
 * table, which is empty, is used.
 */
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "daemon.h"

#define MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

/* -t NAME, -tNAME, --type NAME, --type=NAME: the first one, as ublkd
 * looks for it before it loads the target. */
static const char *type_of(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-t") || !strcmp(argv[i], "--type")) && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--type=", 7))
			return argv[i] + 7;
		if (!strncmp(argv[i], "-t", 2) && argv[i][2])
			return argv[i] + 2;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char arg0[] = "ublkd";
	char *text = fuzz_text(data, size), *argv[MAX_ARGS + 1], *p, *nl;
	const struct ublkd_target_ops *ops;
	struct ublkd_target t;
	struct dev_config cfg;
	int argc = 0;

	argv[argc++] = arg0;
	for (p = text; *p && argc < MAX_ARGS; p = nl + 1) {
		argv[argc++] = p;
		nl = strchr(p, '\n');
		if (!nl)
			break;
		*nl = 0;
	}
	argv[argc] = NULL;
	ops = fuzz_target(type_of(argc, argv));
	if (!ops)
		ops = fuzz_target("null");
	memset(&cfg, 0, sizeof(cfg));
	fuzz_getopt_reset();
	if (options_parse(&cfg, argc, argv, ops) == 0) {
		memset(&t, 0, sizeof(t));
		t.ops = ops;
		plugin_configure(&t, &cfg);
		if (ops->close)
			ops->close(&t);
	}
	options_free(&cfg);
	free(text);
	return 0;
}
