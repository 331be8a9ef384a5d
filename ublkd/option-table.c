/* SPDX-License-Identifier: MIT */
/*
 * option-table.c - THE list of ublkd's generic options (see
 * option-table.h for what is made from it).  To add an option: one entry
 * in generic_options[] (and its set/get functions above it), then its
 * paragraph in ublkd(8) and, with a config key, in ublkd.conf(5);
 * tests/host/man-options.sh fails until the pages have it.
 *
 * The order of the table is the order of `ublkd --help`, of the --check
 * line and of the recovery record.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "option-table.h"
#include "log.h"
#include "parse.h"
#include "runstate.h"
#include "ublk-features.h"

/* ---- How each value lands in struct dev_config, and is read back ---- */

static int set_target(struct dev_config *cfg, const char *v, const char **want)
{
	free(cfg->target);
	/* a plugin named by its path: absolute, like every path */
	cfg->target = strchr(v, '/') ? options_absolute(cfg->path_base, v) : strdup(v);
	if (cfg->target)
		return 0;
	ublkd_error("out of memory");
	return -2;
}

static const char *get_target(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->target;
}

static int set_number(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->dev_id = atoi(v);	/* checked: 0 to INT32_MAX */
	return 0;
}

static const char *get_number(const struct dev_config *cfg, char *buf, size_t len)
{
	if (cfg->dev_id < 0)
		return NULL;
	snprintf(buf, len, "%d", cfg->dev_id);
	return buf;
}

/* --name: checked here, not by type (a STRING); the one rule for names is
 * runstate_name_problem()'s, which `ublk udev-name` applies too. */
/* *dst = a copy of v: 0, or -2 after saying so (out of memory). */
static int replace_str(char **dst, const char *v)
{
	char *copy = strdup(v);

	if (!copy) {
		ublkd_error("out of memory");
		return -2;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

static int set_name(struct dev_config *cfg, const char *v, const char **want)
{
	static char why[160];
	const char *problem = runstate_name_problem(v);

	if (problem) {
		snprintf(why, sizeof(why), "a name of 1 to %d characters A-Z a-z 0-9 . _ - "
			 "that does not start with '-' and is not '.' or '..' (%s)",
			 RUNSTATE_NAME_MAX, problem);
		*want = why;
		return -1;
	}
	return replace_str(&cfg->name, v);
}

static const char *get_name(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->name;	/* [A-Za-z0-9._-]: one shell word */
}

static int set_queues(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->nr_queues = strtoul(v, NULL, 10);
	return 0;
}

static const char *get_queues(const struct dev_config *cfg, char *buf, size_t len)
{
	if (!cfg->nr_queues)
		return NULL;
	snprintf(buf, len, "%u", cfg->nr_queues);
	return buf;
}

static int set_threads(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->nr_threads = strtoul(v, NULL, 10);
	return 0;
}

static const char *get_threads(const struct dev_config *cfg, char *buf, size_t len)
{
	if (cfg->nr_threads <= 1)
		return NULL;
	snprintf(buf, len, "%u", cfg->nr_threads);
	return buf;
}

static int set_depth(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->depth = strtoul(v, NULL, 10);
	return 0;
}

static const char *get_depth(const struct dev_config *cfg, char *buf, size_t len)
{
	if (!cfg->depth)
		return NULL;
	snprintf(buf, len, "%u", cfg->depth);
	return buf;
}

static int set_size(struct dev_config *cfg, const char *v, const char **want)
{
	uint64_t n;

	parse_size(v, &n);	/* checked: a size above 0 */
	if (n % 512) {
		*want = "a multiple of 512 bytes";
		return -1;
	}
	cfg->size = n;
	return 0;
}

static const char *get_size(const struct dev_config *cfg, char *buf, size_t len)
{
	if (!cfg->size)
		return NULL;
	snprintf(buf, len, "%llu", (unsigned long long)cfg->size);
	return buf;
}

static int set_max_io(struct dev_config *cfg, const char *v, const char **want)
{
	uint64_t n;

	parse_size(v, &n);	/* checked: 4K to 32M */
	if (n % 4096)
		return -1;
	cfg->max_io_bytes = n;
	return 0;
}

static const char *get_max_io(const struct dev_config *cfg, char *buf, size_t len)
{
	if (!cfg->max_io_bytes)
		return NULL;
	snprintf(buf, len, "%u", cfg->max_io_bytes);
	return buf;
}

static int set_zero_copy(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->data_mode = UBLKD_DATA_ZERO_COPY;
	cfg->data_mode_set = 1;
	return 0;
}

static const char *get_zero_copy(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->data_mode == UBLKD_DATA_ZERO_COPY ? "" : NULL;
}

static int set_user_copy(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->data_mode = UBLKD_DATA_USER_COPY;
	cfg->data_mode_set = 1;
	return 0;
}

/* --copy: asked for, so no default (zero copy where it helps) replaces it. */
static int set_copy(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->data_mode = UBLKD_DATA_COPY;
	cfg->data_mode_set = 1;
	return 0;
}

static const char *get_copy(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->data_mode == UBLKD_DATA_COPY && cfg->data_mode_set ? "" : NULL;
}

static const char *get_user_copy(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->data_mode == UBLKD_DATA_USER_COPY ? "" : NULL;
}

/* An ENUM option's value: its index in choices (checked before set). */
static int choice(const char *const *choices, const char *v)
{
	int i;

	for (i = 0; choices[i] && strcmp(choices[i], v); i++)
		;
	return i;
}

static const char *const zc_choices[] = { "auto", "register", "fused", NULL };
static const enum zc_mech zc_values[] = { ZC_AUTO, ZC_REGISTER, ZC_FUSED };

static int set_zc_mechanism(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->zc_force = zc_values[choice(zc_choices, v)];
	return 0;
}

static const char *get_zc_mechanism(const struct dev_config *cfg, char *buf, size_t len)
{
	size_t i;

	for (i = 0; zc_choices[i]; i++)
		if (zc_values[i] == cfg->zc_force)
			return zc_choices[i];
	return NULL;	/* ZC_NONE: the best the kernel has */
}

/* --integrity: a name of ublk_pi_names (lib/ublk-features.c); cfg->integrity
 * is its csum_type, 0 for none. */
static int set_integrity(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->integrity = ublk_pi_csum[choice(ublk_pi_names, v)];
	return 0;
}

static const char *get_integrity(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->integrity ? ublk_pi_name(cfg->integrity) : NULL;
}

static int set_need_get_data(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->need_get_data = 1;
	return 0;
}

static const char *get_need_get_data(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->need_get_data ? "" : NULL;
}

static const char *const zero_one[] = { "0", "1", NULL };

/* ublksrv's -g 0|1: NEED_GET_DATA off (its default) or on. */
static int set_g(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->need_get_data = v[0] == '1';
	return 0;
}

/* ublksrv's -u 0|1, UBLK_F_URING_CMD_COMP_IN_TASK: since Linux 6.x the
 * kernel completes uring commands in task context anyway, so both values
 * mean the same.  Not user copy (--user-copy). */
static int set_u(struct dev_config *cfg, const char *v, const char **want)
{
	return 0;
}

/* Batch I/O: -b asks for it (refused where the kernel lacks it),
 * --no-batch-io says so for the per-tag commands, the default. */
static int set_batch_io(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->batch_io = 1;
	return 0;
}

static const char *get_batch_io(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->batch_io > 0 ? "" : NULL;
}

static int set_no_batch_io(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->batch_io = -1;
	return 0;
}

static const char *get_no_batch_io(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->batch_io < 0 ? "" : NULL;
}

static int set_read_only(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->read_only = 1;
	return 0;
}

static const char *get_read_only(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->read_only ? "" : NULL;
}

static int set_io_scheduler(struct dev_config *cfg, const char *v, const char **want)
{
	if (!*v || strlen(v) > 31 ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(v))
		return -1;
	return replace_str(&cfg->io_scheduler, v);
}

static const char *get_io_scheduler(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->io_scheduler;	/* [a-z0-9_-]: one shell word */
}

static int set_shmem(struct dev_config *cfg, const char *v, const char **want)
{
	return replace_str(&cfg->shmem, v);	/* v: made absolute (UBLKD_OPT_PATH) */
}

static const char *get_shmem(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->shmem;
}

static int set_metrics_dir(struct dev_config *cfg, const char *v, const char **want)
{
	char *d = strdup(v);	/* v: made absolute (UBLKD_OPT_PATH) */

	if (!d) {
		ublkd_error("out of memory");
		return -2;
	}
	free(cfg->metrics_dir);
	cfg->metrics_dir = d;
	return 0;
}

static const char *get_metrics_dir(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->metrics_dir;
}

static int set_metrics_interval(struct dev_config *cfg, const char *v, const char **want)
{
	uint64_t n;

	parse_uint(v, 1, 3600, &n);	/* checked: 1 to 3600 */
	cfg->metrics_interval = (unsigned int)n;
	return 0;
}

static const char *get_metrics_interval(const struct dev_config *cfg, char *buf, size_t len)
{
	if (!cfg->metrics_interval)
		return NULL;
	snprintf(buf, len, "%u", cfg->metrics_interval);
	return buf;
}

static int set_no_part_scan(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->no_part_scan = 1;
	return 0;
}

static const char *get_no_part_scan(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->no_part_scan ? "" : NULL;
}

static const char *const recovery_choices[] = { "reissue", "on", "fail-io", "off", NULL };
static const enum recovery_mode recovery_values[] = {
	RECOVERY_REISSUE, RECOVERY_ON, RECOVERY_FAIL_IO, RECOVERY_OFF,
};

static int set_recovery(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->recovery = recovery_values[choice(recovery_choices, v)];
	return 0;
}

/* NULL for the default, reissue (GOPT_ALWAYS writes it out). */
static const char *get_recovery(const struct dev_config *cfg, char *buf, size_t len)
{
	return cfg->recovery == RECOVERY_REISSUE ? NULL : options_recovery_name(cfg->recovery);
}

const char *options_recovery_name(enum recovery_mode r)
{
	size_t i;

	for (i = 0; recovery_choices[i]; i++)
		if (recovery_values[i] == r)
			return recovery_choices[i];
	return "?";
}

/* ublksrv's -r 0|1: recovery off, or back on. */
static int set_r(struct dev_config *cfg, const char *v, const char **want)
{
	if (v[0] == '0')
		cfg->recovery = RECOVERY_OFF;
	else if (cfg->recovery == RECOVERY_OFF)
		cfg->recovery = RECOVERY_REISSUE;
	return 0;
}

/* ublksrv's -i 0|1: reissue in-flight I/O at recovery or not. */
static int set_i(struct dev_config *cfg, const char *v, const char **want)
{
	if (v[0] == '0' && cfg->recovery == RECOVERY_REISSUE)
		cfg->recovery = RECOVERY_ON;
	else if (v[0] == '1' && cfg->recovery == RECOVERY_ON)
		cfg->recovery = RECOVERY_REISSUE;
	return 0;
}

/* ublksrv's -e 0|1: fail I/O while no daemon runs. */
static int set_e(struct dev_config *cfg, const char *v, const char **want)
{
	if (v[0] == '1')
		cfg->recovery = RECOVERY_FAIL_IO;
	return 0;
}

/* "USER" or "USER:GROUP", names or numbers; gid -1 keeps the group. */
static int parse_owner(const char *arg, uid_t *uid, gid_t *gid)
{
	char user[256], *group;
	struct passwd *pw;
	struct group *gr;
	uint64_t v;

	if (snprintf(user, sizeof(user), "%s", arg) >= (int)sizeof(user) || !user[0])
		return -1;
	group = strchr(user, ':');
	if (group)
		*group++ = 0;
	if ((pw = getpwnam(user)))
		*uid = pw->pw_uid;
	else if (!parse_uint(user, 0, 0xfffffffe, &v))
		*uid = v;
	else
		return -1;
	*gid = (gid_t)-1;
	if (!group)
		return 0;
	if ((gr = getgrnam(group)))
		*gid = gr->gr_gid;
	else if (!parse_uint(group, 0, 0xfffffffe, &v))
		*gid = v;
	else
		return -1;
	return 0;
}

static int set_owner(struct dev_config *cfg, const char *v, const char **want)
{
	if (parse_owner(v, &cfg->owner_uid, &cfg->owner_gid))
		return -1;
	cfg->owner_set = 1;
	return 0;
}

static const char *get_owner(const struct dev_config *cfg, char *buf, size_t len)
{
	if (!cfg->owner_set)
		return NULL;
	if (cfg->owner_gid != (gid_t)-1)
		snprintf(buf, len, "%u:%u", (unsigned int)cfg->owner_uid,
			 (unsigned int)cfg->owner_gid);
	else
		snprintf(buf, len, "%u", (unsigned int)cfg->owner_uid);
	return buf;
}

static int set_recover(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->recover = 1;
	return 0;
}

static int set_ready_fd(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->ready_fd = atoi(v);	/* checked: 3 to 1023 */
	return 0;
}

static int set_check(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->check = 1;
	return 0;
}

static int set_verbose(struct dev_config *cfg, const char *v, const char **want)
{
	cfg->verbose++;
	return 0;
}

/* --config (read by main() before the target is loaded), --foreground
 * (ublkd always runs in the foreground), -h and -V (main() again). */
static int set_nothing(struct dev_config *cfg, const char *v, const char **want)
{
	return 0;
}

/* ---- The table ---- */

/*
 * o.type BOOL is a switch (has_arg 0); every other type takes a value.
 * o.config_key NULL: the long name with '-' written '_'.
 */
const struct gopt generic_options[] = {
	{ .o = { .name = "type", .short_name = 't', .has_arg = 1, .type = UBLKD_OPT_STRING,
		 .arg_name = "TYPE", .config_key = "target",
		 .help = "target: null, loop, nbd, or a path to a plugin .so" },
	  .example = "\"loop\"", .flags = GOPT_RECORD, .set = set_target, .get = get_target },
	{ .o = { .name = "config", .has_arg = 1, .type = UBLKD_OPT_PATH, .arg_name = "FILE",
		 .help = "read the device's settings from FILE; see ublkd.conf(5)" },
	  .flags = GOPT_CLI_ONLY | GOPT_META, .set = set_nothing },
	{ .o = { .name = "check", .type = UBLKD_OPT_BOOL,
		 .help = "check the settings, print them as options, and exit" },
	  .flags = GOPT_CLI_ONLY | GOPT_META, .set = set_check },
	{ .o = { .name = "number", .short_name = 'n', .has_arg = 1, .type = UBLKD_OPT_INT,
		 .arg_name = "ID", .min = 0, .max = INT32_MAX, .config_key = "id",
		 .help = "device id" },
	  .def = "the kernel picks one", .what = "a device id", .example = "3",
	  .flags = GOPT_RECORD | GOPT_META, .set = set_number, .get = get_number },
	{ .o = { .name = "name", .has_arg = 1, .type = UBLKD_OPT_STRING, .arg_name = "NAME",
		 .help = "the device's name, unique: udev links /dev/disk/by-ublk/NAME" },
	  .def = "ublkd NAME: NAME; else none", .example = "\"data\"",
	  .what = "a name of 1 to 64 characters A-Z a-z 0-9 . _ -",
	  .flags = GOPT_RECORD, .set = set_name, .get = get_name },
	{ .o = { .name = "queues", .short_name = 'q', .has_arg = 1, .type = UBLKD_OPT_INT,
		 .arg_name = "N", .min = 1, .max = MAX_QUEUES, .help = "hardware queues" },
	  .def = "CPUs, at most 4", .what = "a queue count", .example = "2",
	  .flags = GOPT_RECORD, .set = set_queues, .get = get_queues },
	{ .o = { .name = "depth", .short_name = 'd', .has_arg = 1, .type = UBLKD_OPT_INT,
		 .arg_name = "N", .min = 1, .max = UBLK_MAX_QUEUE_DEPTH, .help = "queue depth" },
	  .def = "128", .what = "a queue depth", .example = "128",
	  .flags = GOPT_RECORD, .set = set_depth, .get = get_depth },
	{ .o = { .name = "threads", .has_arg = 1, .type = UBLKD_OPT_INT, .arg_name = "N",
		 .min = 1, .max = MAX_THREADS,
		 .help = "threads serving each queue, each with its own io_uring\n"
			 "and 1/N of the tags (Linux 6.16+)" },
	  .def = "1", .what = "a thread count", .example = "2",
	  .flags = GOPT_RECORD, .set = set_threads, .get = get_threads },
	{ .o = { .name = "size", .short_name = 's', .has_arg = 1, .type = UBLKD_OPT_SIZE,
		 .arg_name = "SIZE", .min = 1, .max = INT64_MAX,
		 .help = "device size, a multiple of 512" },
	  .def = "the target's", .what = "a size above 0 such as 1G, 512M, 4096",
	  .example = "\"10G\"", .flags = GOPT_RECORD, .set = set_size, .get = get_size },
	{ .o = { .name = "max-io", .has_arg = 1, .type = UBLKD_OPT_SIZE, .arg_name = "SIZE",
		 .min = 4096, .max = 32 << 20, .config_key = "max_io",
		 .help = "largest request, 4K-32M" },
	  .alias = "max_io_buf_bytes", .def = "512K", .what = "4K to 32M in multiples of 4K",
	  .example = "\"512K\"", .flags = GOPT_RECORD, .set = set_max_io, .get = get_max_io },
	{ .o = { .name = "zero-copy", .short_name = 'z', .type = UBLKD_OPT_BOOL,
		 .help = "lend request pages to the target's I/O (Linux 6.15+)" },
	  .alias = "zerocopy", .flags = GOPT_RECORD, .set = set_zero_copy, .get = get_zero_copy },
	{ .o = { .name = "user-copy", .type = UBLKD_OPT_BOOL,
		 .help = "copy with pread/pwrite on /dev/ublkcN" },
	  .alias = "usercopy", .flags = GOPT_RECORD, .set = set_user_copy, .get = get_user_copy },
	{ .o = { .name = "copy", .type = UBLKD_OPT_BOOL,
		 .help = "the kernel copies to and from ublkd's buffers (without\n"
			 "--copy, -z, --user-copy: zero copy for a target that\n"
			 "moves data where the kernel has it, else copy)" },
	  .flags = GOPT_RECORD, .set = set_copy, .get = get_copy },
	{ .o = { .name = "zc-mechanism", .has_arg = 1, .type = UBLKD_OPT_ENUM, .arg_name = "M",
		 .choices = zc_choices, .help = "with --zero-copy: auto, register or\nfused" },
	  .def = "the best the kernel has", .example = "\"auto\"", .flags = GOPT_RECORD,
	  .set = set_zc_mechanism, .get = get_zc_mechanism },
	{ .o = { .name = "shmem", .has_arg = 1, .type = UBLKD_OPT_PATH, .arg_name = "FILE",
		 .help = "requests whose pages lie in the shared memory FILE\n"
			 "(hugetlbfs, tmpfs) are served in place, not copied\n"
			 "(UBLK_F_SHMEM_ZC, Linux 7.1+; copy and user copy)" },
	  .what = "a file on hugetlbfs or tmpfs of one page to 4 GiB",
	  .example = "\"/dev/shm/app-buffers\"",
	  .flags = GOPT_RECORD, .set = set_shmem, .get = get_shmem },
	{ .o = { .name = "integrity", .has_arg = 1, .type = UBLKD_OPT_ENUM, .arg_name = "PI",
		 .choices = ublk_pi_names,
		 .help = "protection information on every block, generated\n"
			 "and checked by the kernel: t10dif, ip or crc64; the\n"
			 "target stores it (loop: --metadata FILE; user copy,\n"
			 "UBLK_F_INTEGRITY, Linux 7.0+)" },
	  .example = "\"t10dif\"", .flags = GOPT_RECORD, .set = set_integrity,
	  .get = get_integrity },
	{ .o = { .name = "need-get-data", .type = UBLKD_OPT_BOOL,
		 .help = "fetch a write's data after the request (Linux 6.0+)" },
	  .flags = GOPT_RECORD, .set = set_need_get_data, .get = get_need_get_data },
	{ .o = { .short_name = 'g', .has_arg = 1, .type = UBLKD_OPT_ENUM, .arg_name = "0|1",
		 .choices = zero_one, .help = "ublksrv's -g: 1 is --need-get-data" },
	  .flags = GOPT_CLI_ONLY, .set = set_g },
	{ .o = { .short_name = 'u', .has_arg = 1, .type = UBLKD_OPT_ENUM, .arg_name = "0|1",
		 .choices = zero_one, .help = "ublksrv's complete-in-task: accepted, no effect" },
	  .flags = GOPT_CLI_ONLY, .set = set_u },
	{ .o = { .name = "batch-io", .short_name = 'b', .type = UBLKD_OPT_BOOL,
		 .help = "fetch and commit requests in batches, not one command\n"
			 "per tag (UBLK_F_BATCH_IO, Linux 7.0+)" },
	  .flags = GOPT_RECORD, .set = set_batch_io, .get = get_batch_io },
	{ .o = { .name = "no-batch-io", .type = UBLKD_OPT_BOOL,
		 .help = "one fetch and one commit command per tag, even where\n"
			 "the kernel has batch I/O" },
	  .flags = GOPT_RECORD, .set = set_no_batch_io, .get = get_no_batch_io },
	{ .o = { .name = "read-only", .type = UBLKD_OPT_BOOL,
		 .help = "export the device read-only" },
	  .alias = "read_only", .flags = GOPT_RECORD, .set = set_read_only, .get = get_read_only },
	{ .o = { .name = "io-scheduler", .has_arg = 1, .type = UBLKD_OPT_STRING, .arg_name = "S",
		 .help = "the block device's I/O scheduler; 'keep': the kernel's\n"
			 "choice" },
	  .def = "none, as the kernel's loop driver", .example = "\"none\"",
	  .what = "an I/O scheduler name such as none, mq-deadline, kyber, bfq, or 'keep'",
	  .flags = GOPT_RECORD, .set = set_io_scheduler, .get = get_io_scheduler },
	{ .o = { .name = "no-part-scan", .type = UBLKD_OPT_BOOL,
		 .help = "the kernel does not read the partition table at start\n"
			 "(Linux 7.0+); partprobe still can" },
	  .flags = GOPT_RECORD, .set = set_no_part_scan, .get = get_no_part_scan },
	{ .o = { .name = "metrics-dir", .has_arg = 1, .type = UBLKD_OPT_PATH, .arg_name = "DIR",
		 .help = "write the metrics to DIR/ublkd_ID.prom (node_exporter's\n"
			 "textfile collector), atomically, every interval" },
	  .what = "an existing directory", .example = "\"/var/lib/prometheus/node-exporter\"",
	  .flags = GOPT_RECORD, .set = set_metrics_dir, .get = get_metrics_dir },
	{ .o = { .name = "metrics-interval", .has_arg = 1, .type = UBLKD_OPT_INT, .arg_name = "S",
		 .min = 1, .max = 3600, .help = "seconds between those writes" },
	  .def = "15", .what = "seconds", .example = "15",
	  .flags = GOPT_RECORD, .set = set_metrics_interval, .get = get_metrics_interval },
	{ .o = { .name = "recovery", .has_arg = 1, .type = UBLKD_OPT_ENUM, .arg_name = "MODE",
		 .choices = recovery_choices,
		 .help = "if ublkd dies: reissue (the device waits and in-flight\n"
			 "I/O is reissued), on (in-flight I/O fails), fail-io (all\n"
			 "I/O fails until a daemon returns), off" },
	  .def = "reissue", .example = "\"reissue\"", .flags = GOPT_RECORD | GOPT_ALWAYS,
	  .set = set_recovery, .get = get_recovery },
	{ .o = { .short_name = 'r', .has_arg = 1, .type = UBLKD_OPT_ENUM, .arg_name = "0|1",
		 .choices = zero_one, .help = "ublksrv's -r: 0 is --recovery off" },
	  .flags = GOPT_CLI_ONLY, .set = set_r },
	{ .o = { .short_name = 'i', .has_arg = 1, .type = UBLKD_OPT_ENUM, .arg_name = "0|1",
		 .choices = zero_one, .help = "ublksrv's -i: 0 is --recovery on" },
	  .flags = GOPT_CLI_ONLY, .set = set_i },
	{ .o = { .short_name = 'e', .has_arg = 1, .type = UBLKD_OPT_ENUM, .arg_name = "0|1",
		 .choices = zero_one, .help = "ublksrv's -e: 1 is --recovery fail-io" },
	  .flags = GOPT_CLI_ONLY, .set = set_e },
	{ .o = { .name = "owner", .has_arg = 1, .type = UBLKD_OPT_STRING,
		 .arg_name = "USER[:GROUP]", .help = "give /dev/ublkbN to USER (and GROUP) once live" },
	  .what = "USER or USER:GROUP, an existing user and group", .example = "\"alice:disk\"",
	  .flags = GOPT_RECORD, .set = set_owner, .get = get_owner },
	{ .o = { .name = "recover", .type = UBLKD_OPT_BOOL,
		 .help = "take over device -n ID whose daemon died" },
	  .flags = GOPT_CLI_ONLY | GOPT_META, .set = set_recover },
	{ .o = { .name = "ready-fd", .has_arg = 1, .type = UBLKD_OPT_INT, .arg_name = "FD",
		 .min = 3, .max = 1023,
		 .help = "write the device id to FD when live, then detach logs" },
	  .what = "a file descriptor number", .flags = GOPT_CLI_ONLY | GOPT_META | GOPT_NO_ADD,
	  .set = set_ready_fd },
	{ .o = { .name = "foreground", .type = UBLKD_OPT_BOOL,
		 .help = "accepted, no effect: ublkd never forks" },
	  .flags = GOPT_CLI_ONLY | GOPT_META, .set = set_nothing },
	{ .o = { .name = "verbose", .short_name = 'v', .type = UBLKD_OPT_BOOL,
		 .help = "more messages" },
	  .flags = GOPT_CLI_ONLY | GOPT_META, .set = set_verbose },
	{ .o = { .name = "help", .short_name = 'h', .type = UBLKD_OPT_BOOL,
		 .help = "this help;  ublk help -t TYPE lists target options" },
	  .flags = GOPT_CLI_ONLY | GOPT_META | GOPT_EARLY, .set = set_nothing },
	{ .o = { .name = "version", .short_name = 'V', .type = UBLKD_OPT_BOOL,
		 .help = "print the version" },
	  .flags = GOPT_CLI_ONLY | GOPT_META | GOPT_EARLY | GOPT_NO_ADD, .set = set_nothing },
};
const size_t nr_generic_options = sizeof(generic_options) / sizeof(generic_options[0]);

/* ---- Lookups ---- */

const char *option_key(const struct ublkd_option *o, char *buf, size_t len)
{
	char *c;

	snprintf(buf, len, "%s", o->config_key ? o->config_key : o->name ? o->name : "");
	for (c = buf; *c; c++)
		if (*c == '-')
			*c = '_';
	return buf;
}

const struct gopt *gopt_by_key(const char *key)
{
	char want[64], have[64];
	size_t i;

	option_key(&(struct ublkd_option){ .name = key }, want, sizeof(want));
	for (i = 0; i < nr_generic_options; i++) {
		const struct gopt *g = &generic_options[i];

		if (!(g->flags & GOPT_CLI_ONLY) &&
		    !strcmp(option_key(&g->o, have, sizeof(have)), want))
			return g;
	}
	return NULL;
}

const struct gopt *gopt_by_short(int c)
{
	size_t i;

	for (i = 0; i < nr_generic_options; i++)
		if (generic_options[i].o.short_name == c && c)
			return &generic_options[i];
	return NULL;
}

const char *option_display(const struct ublkd_option *o, char *buf, size_t len)
{
	if (o->short_name && o->name)
		snprintf(buf, len, "-%c/--%s", o->short_name, o->name);
	else if (o->name)
		snprintf(buf, len, "--%s", o->name);
	else
		snprintf(buf, len, "-%c", o->short_name);
	return buf;
}
