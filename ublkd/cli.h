/* SPDX-License-Identifier: MIT */
/* cli.h - what cli.c shares with the other files of `ublk` (upgrade.c). */
#ifndef UBLKD_CLI_H
#define UBLKD_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ublkd: $UBLKD_PATH, else next to this program, else the installed one. */
const char *find_ublkd(void);
/* The daemon pid of a runtime state file's text (NULL: none), or 0. */
pid_t state_pid(const char *state);
/* Is pid a running ublkd? */
int ublkd_alive(pid_t pid);
/* Does ublk device id exist? */
int dev_exists(uint32_t id);
int64_t now_ms(void);
/* A device id from the command line; -1 after one line. */
int parse_id(const char *s, uint32_t *id);
/* One request to device id's daemon, its answer in ans; 0, or 1 after
 * one line. */
int ask_daemon(uint32_t id, pid_t pid, const char *req, char *ans, size_t len);

/* upgrade.c */
int cmd_upgrade(int argc, char **argv);

#endif
