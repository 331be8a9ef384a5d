/* SPDX-License-Identifier: MIT */
/* holders.h - who holds /dev/ublkbN open (mounts, dm/md, swap, processes). */
#ifndef UBLKD_HOLDERS_H
#define UBLKD_HOLDERS_H

#include <stddef.h>
#include <stdint.h>

/* Describe in buf, on one line, what holds /dev/ublkbID or one of its
 * partitions open ("mounted on /mnt, open by dd (pid 42)"); returns how
 * many holders were found (0: none visible from this mount and pid
 * namespace). */
int holders_describe(uint32_t id, char *buf, size_t len);

#endif
