/* SPDX-License-Identifier: MIT */
/* cli-stat.h - `ublk stat` (cli-stat.c), called from cli.c. */
#ifndef UBLKD_CLI_STAT_H
#define UBLKD_CLI_STAT_H

int cmd_stat(int argc, char **argv);

#endif
