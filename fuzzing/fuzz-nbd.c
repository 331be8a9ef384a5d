/* SPDX-License-Identifier: MIT */
/*
 * fuzz-nbd.c - the nbd target's options: its config() callback with each
 * option (URI, host, port, Unix socket, export name, TLS keys and
 * certificates, timeout), then open()'s checks of how they combine, up to
 * the point where it would connect (every libnbd connect call fails at
 * once here: common.c).
 *
 * Input: one option per line, "NAME VALUE" or "NAME" for a switch, NAME
 * as in the target's option table ("uri nbds://host/disk", "tls").  Lines
 * naming no option of the target are skipped: ublkd never passes those.
 */
#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "daemon.h"

static const struct ublkd_target_ops *ops;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	ops = fuzz_target("nbd");
	return 0;
}

static const struct ublkd_option *find_option(const char *name)
{
	const struct ublkd_option *o;

	for (o = ops->options; o && o->name; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

/* Apply each line's option; -1 when config() refused one. */
static int configure(struct ublkd_target *t, char *text)
{
	const struct ublkd_option *o;
	char *line, *next, *value;

	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		value = strchr(line, ' ');
		if (value)
			*value++ = 0;
		o = find_option(line);
		if (!o)
			continue;
		/* A switch gets NULL, an option with a value a string
		 * (possibly empty), as from the command line. */
		if (ops->config(t, o->name, o->has_arg ? (value ? value : "") : NULL) < 0)
			return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	struct ublkd_target t;
	struct ublkd_setup setup;

	memset(&t, 0, sizeof(t));
	t.ops = ops;
	if (configure(&t, text) == 0) {
		memset(&setup, 0, sizeof(setup));
		setup.nr_queues = 1;
		setup.queue_depth = 128;
		plugin_open(&t, &setup);
	}
	/* As ublkd does: close() iff open() succeeded, then release(). */
	plugin_release(&t);
	free(text);
	return 0;
}
