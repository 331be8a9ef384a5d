/* SPDX-License-Identifier: MIT */
/*
 * common.h - what every libFuzzer harness of fuzzing/ shares.
 *
 * A harness is one file fuzzing/fuzz-NAME.c defining LLVMFuzzerTestOneInput()
 * (and calling fuzz_init() from LLVMFuzzerInitialize()); it is linked with
 * common.c and ublkd's own sources, built by clang (fuzzing/fuzz.mk).
 */
#ifndef UBLKD_FUZZ_COMMON_H
#define UBLKD_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <ublkd/target.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Make a private scratch directory (under $TMPDIR) the current directory
 * and point every path ublkd reads from the environment into it or into
 * the fuzz build: UBLKD_RUNDIR, UBLKD_CONFDIR, UBLKD_PLUGIN_DIR.  Exits
 * on failure.  Returns the directory. */
const char *fuzz_init(void);

/* data as a NUL-terminated string (malloc'd; a NUL inside ends it). */
char *fuzz_text(const uint8_t *data, size_t size);

/* Replace the file at path (relative to the scratch directory) with
 * data; exits on failure. */
void fuzz_write_file(const char *path, const void *data, size_t size);

/* The ops of target "null", "loop" or "nbd", dlopen'ed once from the fuzz
 * build's own plugins; NULL for any other name (a path could name any
 * shared object of this machine). */
const struct ublkd_target_ops *fuzz_target(const char *name);

/* Split text (modified) into argv[1..] at newlines, argv[0] being
 * "ublkd", at most max entries plus a NULL; returns argc. */
int fuzz_argv(char *text, char **argv, int max);

/* The target -t NAME, -tNAME, --type NAME, --type=NAME names (the first),
 * as ublkd finds it before loading it: fuzz_target() of it, or null's. */
const struct ublkd_target_ops *fuzz_argv_target(int argc, char **argv);

/* Forget getopt's state (a previous parse may have stopped inside a
 * cluster of short options whose argv is gone). */
void fuzz_getopt_reset(void);

#endif
