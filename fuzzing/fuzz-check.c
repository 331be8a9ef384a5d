/* SPDX-License-Identifier: MIT */
/*
 * fuzz-check.c - `ublkd ... --check` prints the device's settings as one
 * shell command line (ublkd/options.c's options_print()); given back to
 * ublkd, that line must describe the same device.  Parses a command line
 * (as fuzz-options does), prints it, splits the printed line as a POSIX
 * shell would, parses and prints that again, and aborts when the two
 * printed lines differ or the second parse fails.  (A harness of its own:
 * options_print() may change without the parser changing.)
 *
 * Input: one argument per line, as for fuzz-options.
 */
#include <stdio.h>
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

/* Split line into words in place as sh does for words made of plain
 * characters, '...' and backslash escapes (all options_print() may
 * write); -1 for anything else or too many words. */
static int shell_split(char *line, char **words, int max)
{
	char *in = line, *out = line;
	int n = 0, in_word = 0;

	for (; *in; in++) {
		if (*in == ' ' || *in == '\n') {
			if (in_word) {
				*out++ = 0;
				in_word = 0;
			}
			continue;
		}
		if (!in_word) {
			if (n == max)
				return -1;
			words[n++] = out;
			in_word = 1;
		}
		if (*in == '\'') {
			while (*++in && *in != '\'')
				*out++ = *in;
			if (!*in)
				return -1;	/* unterminated quote */
		} else if (*in == '\\') {
			if (!*++in)
				return -1;
			*out++ = *in;
		} else if (strchr("\"$`;&|<>(){}*?[]#~\t", *in)) {
			return -1;		/* would mean something to sh */
		} else {
			*out++ = *in;
		}
	}
	if (in_word)
		*out = 0;
	words[n] = NULL;
	return n;
}

/* The --check line of argv, malloc'd, or NULL when argv is refused. */
static char *check_line(const struct ublkd_target_ops *ops, int argc, char **argv)
{
	struct dev_config cfg;
	char *line = NULL;
	size_t len;
	FILE *f;

	memset(&cfg, 0, sizeof(cfg));
	fuzz_getopt_reset();
	/* ublkd finds -t before it parses (options_find_type()) and loads
	 * that target: a line without one, or naming another, never gets
	 * here. */
	if (options_parse(&cfg, argc, argv, ops) == 0 && cfg.target &&
	    !strcmp(cfg.target, ops->name)) {
		f = open_memstream(&line, &len);
		if (!f)
			abort();
		options_print(f, &cfg);
		fclose(f);
	}
	options_free(&cfg);
	return line;
}

static void fail(const char *what, const char *first, const char *second)
{
	fprintf(stderr, "fuzz-check: %s\n  printed: %s  then: %s\n", what, first,
		second ? second : "(refused)\n");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *argv[MAX_ARGS + 1], *words[MAX_ARGS + 64];
	int argc = fuzz_argv(text, argv, MAX_ARGS), n;
	const struct ublkd_target_ops *ops = fuzz_argv_target(argc, argv);
	char *first, *split, *second;

	first = check_line(ops, argc, argv);
	if (!first)
		goto out;
	split = strdup(first);
	if (!split)
		abort();
	n = shell_split(split, words, MAX_ARGS + 63);
	if (n < 2)
		fail("the line is no shell command line", first, NULL);
	second = check_line(ops, n, words);	/* words[0] is "ublkd" */
	if (!second || strcmp(first, second))
		fail("the line does not parse back to itself", first, second);
	free(second);
	free(split);
	free(first);
out:
	free(text);
	return 0;
}
