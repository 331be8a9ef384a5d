/* SPDX-License-Identifier: MIT */
/* runstate.h - /run/ublkd: <id>.state, what a running daemon serves, and
 * <id>.conf, its recovery record (libconfig files); <id>.sock, where the
 * daemon takes requests such as `ublk resize`; <id>.stats, its counters
 * (stats-file.h). */
#ifndef UBLKD_RUNSTATE_H
#define UBLKD_RUNSTATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <libconfig.h>

/* The directory: $UBLKD_RUNDIR or /run/ublkd. */
const char *runstate_dir(void);
void runstate_path(uint32_t dev_id, const char *ext, char *buf, size_t len);
/* Open a temporary file to write the state into; runstate_commit()
 * renames it into place atomically. */
int runstate_dir_check(void);
FILE *runstate_create(uint32_t dev_id, const char *ext, char *tmp, size_t len);
int runstate_commit(uint32_t dev_id, const char *ext, FILE *f, const char *tmp);
/* Add a setting KEY = VAL to group g; 0 or -1 (out of memory). */
int runstate_add_string(config_setting_t *g, const char *key, const char *val);
int runstate_add_int(config_setting_t *g, const char *key, int64_t val);
int runstate_add_bool(config_setting_t *g, const char *key, int val);
/* Write c (after the comment lines header) as <id>.<ext>, atomically;
 * 0 or -errno. */
int runstate_write(uint32_t dev_id, const char *ext, const char *header, config_t *c);
/* The state file's text (malloc'd, caller frees) or NULL when absent. */
char *runstate_read(uint32_t dev_id);
/* A top-level setting of that text, read with libconfig (escapes and
 * every byte kept); 0 when found with that type, -1 otherwise.  A string
 * longer than len is cut to len - 1 bytes. */
int runstate_lookup_int(const char *text, const char *key, int64_t *out);
int runstate_lookup_string(const char *text, const char *key, char *buf, size_t len);
/* Remove the state file, the recovery record, the control socket
 * (<id>.sock, ublkd/control.c) and the statistics (<id>.stats,
 * lib/stats-file.h) of a device, and the lock file of its name (the
 * record's) unless a daemon holds it. */
void runstate_remove(uint32_t dev_id);

/* A device's NAME (--name; /dev/disk/by-ublk/NAME): 1 to RUNSTATE_NAME_MAX
 * of [A-Za-z0-9._-], not starting with '-', not "." or "..".  NULL when
 * name is one, else what is wrong with it, for a message. */
#define RUNSTATE_NAME_MAX 64
const char *runstate_name_problem(const char *name);
/* The name in device dev_id's recovery record (<id>.conf), into buf; 0, or
 * -1 when it has none (or no record, or a name that is none). */
int runstate_record_name(uint32_t dev_id, char *buf, size_t len);
/* <rundir>/names/NAME, where a running daemon holds its name with a lock
 * (ublkd/names.c). */
void runstate_name_path(const char *name, char *buf, size_t len);
/* Remove the lock file of name unless a daemon holds it, and <rundir>/names
 * when that leaves it empty. */
void runstate_name_forget(const char *name);
void runstate_remove_temps(uint32_t dev_id);

#endif
