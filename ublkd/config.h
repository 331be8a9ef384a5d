/* SPDX-License-Identifier: MIT */
/*
 * config.h - device config files: SYSCONFDIR/ublkd/NAME.conf, one device
 * each, in libconfig syntax; see ublkd.conf(5).
 *
 * (Not to be confused with the build's config.h, which every file gets
 * through -include; include this one as "config.h" from ublkd/ only.)
 */
#ifndef UBLKD_CONFIG_FILE_H
#define UBLKD_CONFIG_FILE_H

#include <stddef.h>
#include "daemon.h"

/* The value of the "target" key of FILE (so the caller can load the plugin
 * first), to be freed; NULL after printing "FILE:LINE: ..." or "FILE: ..."
 * on error. */
char *config_read_target(const char *path);

/* Fill cfg from FILE, key by key in file order, each exactly as its
 * command-line option would (through options_apply_*()): generic keys set
 * cfg's fields, the target's options are appended to cfg->topts (a false
 * switch is not added); the target validates those later.  Unknown keys,
 * wrong types, missing required keys and out-of-range values print one
 * line "FILE:LINE: key 'K': problem; fix" and return -1; 0 on success. */
int config_load(struct dev_config *cfg, const char *path,
		const struct ublkd_target_ops *ops);

/* Where `ublkd NAME` (ublkd@NAME.service) looks first for NAME.conf,
 * whatever the prefix; SYSCONFDIR/ublkd second.  See ublkd.conf(5). */
#define CONFDIR_ETC "/etc/ublkd"

/* "NAME" -> $UBLKD_CONFDIR/NAME.conf when that is set (tests), else
 * /etc/ublkd/NAME.conf, else SYSCONFDIR/ublkd/NAME.conf if only that exists. */
void config_path_for_name(const char *name, char *buf, size_t len);

#endif
