/* SPDX-License-Identifier: MIT */
/*
 * fuzz-runstate.c - the runtime state reader: $UBLKD_RUNDIR/ID.state (a
 * libconfig file) read by lib/runstate.c's runstate_read() and picked
 * apart by runstate_lookup_int() and runstate_lookup_string(), as `ublk
 * list` and `ublk del` do.  (A separate harness: the state's
 * format may change without the other parsers changing.)
 *
 * Input: the file's contents.
 */
#include <stdlib.h>
#include "common.h"
#include "runstate.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The keys ublk and ublkd look up (ublkd/cli.c's). */
	static const char *const ints[] = { "pid", "id", "bytes_copied", "flags", "size",
					    "queues", "depth" };
	static const char *const strings[] = { "config", "target", "description",
					       "copy_mode", "zero_copy_mechanism",
					       "options", "recovery" };
	/* Buffers as small as one byte: a value longer than the buffer is
	 * cut, never written past it. */
	static const size_t lens[] = { 1, 2, 16, 4096 };
	char *state, *buf;
	int64_t v;
	size_t i, j;

	fuzz_write_file("0.state", data, size);
	state = runstate_read(0);
	if (!state)
		abort();	/* the file is there: it must read */
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		runstate_lookup_int(state, ints[i], &v);
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			/* Exactly lens[j] bytes, so that ASan sees an overrun. */
			buf = malloc(lens[j]);
			if (!buf)
				abort();
			runstate_lookup_string(state, strings[i], buf, lens[j]);
			free(buf);
		}
	}
	free(state);
	return 0;
}
