/* SPDX-License-Identifier: MIT */
/* runstate.h - /run/ublkd/<id>.json: what a running daemon serves. */
#ifndef UBLKD_RUNSTATE_H
#define UBLKD_RUNSTATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The directory: $UBLKD_RUNDIR or /run/ublkd. */
const char *runstate_dir(void);
void runstate_path(uint32_t dev_id, const char *ext, char *buf, size_t len);
/* Open a temporary file to write the state into; runstate_commit()
 * renames it into place atomically. */
int runstate_dir_check(void);
FILE *runstate_create(uint32_t dev_id, char *tmp, size_t len);
int runstate_commit(uint32_t dev_id, FILE *f, const char *tmp);
/* The file's text (malloc'd, caller frees) or NULL when absent. */
char *runstate_read(uint32_t dev_id);
/* Remove the state and saved-options files of a device. */
void runstate_remove(uint32_t dev_id);

#endif
