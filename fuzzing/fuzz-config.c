/* SPDX-License-Identifier: MIT */
/*
 * fuzz-config.c - device config files (ublkd.conf(5)) as ublkd reads
 * them: libconfig's parser, then ublkd/config.c's config_load() checking
 * every key and value, then the target's own config() for its keys, as
 * `ublkd --config FILE --check` does.
 *
 * Input: the file's text.  The target it names (null, loop or nbd) gives
 * the option table; a file that names no such target (or does not parse)
 * is read with null's, which has none.  The file may @include "inc.conf",
 * which holds a few keys.
 */
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "config.h"
#include "daemon.h"

#define CONF "dev.conf"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char inc[] = "queues = 2;\nsize = \"1G\";\nread_only = true;\n";

	fuzz_init();
	fuzz_write_file("inc.conf", inc, sizeof(inc) - 1);
	return 0;
}

/* The target the file names, the way ublkd finds it before loading it. */
static const struct ublkd_target_ops *file_target(const char *text)
{
	const struct ublkd_target_ops *ops = NULL;
	const char *name;
	config_t c;

	config_init(&c);
	if (config_read_string(&c, text) == CONFIG_TRUE &&
	    config_lookup_string(&c, "target", &name) == CONFIG_TRUE)
		ops = fuzz_target(name);
	config_destroy(&c);
	return ops;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ublkd_target_ops *ops;
	struct ublkd_target t;
	struct dev_config cfg;
	char *text = fuzz_text(data, size);

	/* An @include naming a path could read any file of this machine (a
	 * FIFO, /dev/zero): includes stay in the scratch directory. */
	if (strstr(text, "@include") && strchr(text, '/'))
		goto out;
	ops = file_target(text);
	if (!ops)
		ops = fuzz_target("null");
	/* The text up to its first NUL, as checked above. */
	fuzz_write_file(CONF, text, strlen(text));
	memset(&cfg, 0, sizeof(cfg));
	if (config_load(&cfg, CONF, ops) == 0) {
		memset(&t, 0, sizeof(t));
		t.ops = ops;
		plugin_configure(&t, &cfg);
		plugin_release(&t);	/* as ublkd does, whatever configure did */
	}
	options_free(&cfg);
out:
	free(text);
	return 0;
}
