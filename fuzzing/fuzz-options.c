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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *argv[MAX_ARGS + 1];
	int argc = fuzz_argv(text, argv, MAX_ARGS);
	const struct ublkd_target_ops *ops = fuzz_argv_target(argc, argv);
	struct ublkd_target t;
	struct dev_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	fuzz_getopt_reset();
	if (options_parse(&cfg, argc, argv, ops) == 0) {
		memset(&t, 0, sizeof(t));
		t.ops = ops;
		plugin_configure(&t, &cfg);
		plugin_release(&t);	/* as ublkd does, whatever configure did */
	}
	options_free(&cfg);
	free(text);
	return 0;
}
