/* SPDX-License-Identifier: MIT */
/*
 * config-test.c - device config files (ublkd/config.c): every key read
 * into the right field, every mistake refused with one line naming the
 * file, the line and the key; and the shipped conf/NAME.conf files read with the
 * real targets' option tables.  Also the generic option table
 * (ublkd/option-table.c) everything is made from: its entries are
 * consistent, and what it derives (options_only_meta(), the --check line)
 * follows each entry.
 *
 * Environment: UBLKD_SRCDIR (conf/), UBLKD_BUILDDIR (plugins/); both set
 * by tests/run, with the build's paths as defaults.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include "../../ublkd/config.h"
#include "../../ublkd/option-table.h"
#include "log.h"
#include "unit.h"

#ifndef TEST_SRCDIR
#define TEST_SRCDIR "."
#endif
#ifndef TEST_BUILDDIR
#define TEST_BUILDDIR "."
#endif

/* A target with one option of every shape. */
static const char *const fake_modes[] = { "fast", "safe", NULL };
static const struct ublkd_option fake_options[] = {
	{ .name = "file", .short_name = 'f', .has_arg = 1, .arg_name = "PATH",
	  .help = "backing file" },
	{ .name = "offset", .has_arg = 1, .arg_name = "BYTES", .help = "offset" },
	{ .name = "buffered", .help = "a switch" },
	{ .name = "export-name", .has_arg = 1, .arg_name = "NAME", .help = "a two-word option" },
	{ .name = "tls", .help = "another switch" },
	/* typed: checked (with file:line) before the target sees them */
	{ .name = "image", .has_arg = 1, .arg_name = "PATH", .help = "a path",
	  .type = UBLKD_OPT_PATH },
	{ .name = "level", .has_arg = 1, .arg_name = "N", .help = "an integer",
	  .type = UBLKD_OPT_INT, .min = 1, .max = 8 },
	{ .name = "chunk", .has_arg = 1, .arg_name = "SIZE", .help = "a size",
	  .type = UBLKD_OPT_SIZE },
	{ .name = "mode", .has_arg = 1, .arg_name = "M", .help = "an enum",
	  .type = UBLKD_OPT_ENUM, .choices = fake_modes },
	/* a key of its own (ublkd-target(3)): "cache = ...;", not cache_mode */
	{ .name = "cache-mode", .has_arg = 1, .arg_name = "C", .help = "a config_key",
	  .config_key = "cache" },
	{ .name = NULL },
};
static const struct ublkd_target_ops fake_ops = {
	.api_version = UBLKD_TARGET_API_VERSION,
	.struct_size = sizeof(struct ublkd_target_ops),
	.option_size = sizeof(struct ublkd_option),
	.name = "fake",
	.options = fake_options,
};
static const struct ublkd_target_ops bare_ops = {
	.api_version = UBLKD_TARGET_API_VERSION,
	.struct_size = sizeof(struct ublkd_target_ops),
	.name = "bare",
};

static char dir[] = "/tmp/config-test.XXXXXX";
static char path[256];
static char err[4096];		/* what the last call printed on stderr */

static const char *write_conf(const char *name, const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

/* stderr into err[] while the calls between begin and end run. */
static int saved_stderr = -1;
static FILE *capture;

static void capture_begin(void)
{
	fflush(stderr);
	capture = tmpfile();
	saved_stderr = dup(2);
	dup2(fileno(capture), 2);
}

static void capture_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(capture);
	n = fread(err, 1, sizeof(err) - 1, capture);
	err[n] = 0;
	fclose(capture);
}

static int nr_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void cfg_init(struct dev_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dev_id = -1;
	cfg->ready_fd = -1;
}

/* Load text with ops; the return value, stderr in err[]. */
static int load(const char *text, const struct ublkd_target_ops *ops, struct dev_config *cfg)
{
	int ret;

	write_conf("t.conf", text);
	cfg_init(cfg);
	capture_begin();
	ret = config_load(cfg, path, ops);
	capture_end();
	return ret;
}

/*
 * text must be refused with exactly one line
 *   "ublkd: DIR/t.conf:LINE: key 'KEY': ...FIX..."
 * (LINE 0: "ublkd: DIR/t.conf: ..." with no line number).
 */
static int failures_before;
static void refused_at(int src_line, const char *text, int line, const char *key,
		       const char *fix)
{
	struct dev_config cfg;
	char want[512];
	int ret = load(text, &fake_ops, &cfg);

	failures_before = unit_failures;
	CHECK(ret == -1);
	CHECK(nr_lines(err) == 1);
	if (line)
		snprintf(want, sizeof(want), "ublkd: %s:%d: key '%s': ", path, line, key);
	else
		snprintf(want, sizeof(want), "ublkd: %s: key '%s'", path, key);
	CHECK(!strncmp(err, want, strlen(want)));
	CHECK(strstr(err, fix) != NULL);
	if (unit_failures != failures_before)
		fprintf(stderr, "  (config-test.c:%d) for:\n%s  got: %s  want: %s...%s...\n",
			src_line, text, err, want, fix);
	options_free(&cfg);
}
#define REFUSED(text, line, key, fix) refused_at(__LINE__, text, line, key, fix)

static const char *topt(const struct dev_config *cfg, int i, const char *name)
{
	if (i >= cfg->nr_topts || strcmp(cfg->topts[i].name, name))
		return "(missing)";
	return cfg->topts[i].value ? cfg->topts[i].value : "(switch)";
}

static void test_valid(void)
{
	struct dev_config cfg;

	/* Every generic key, and target options of every shape, in order. */
	CHECK(load("# a comment\n"
		   "target = \"fake\";\n"
		   "id = 7;\n"
		   "queues = 4;\n"
		   "depth = 256;\n"
		   "size = \"10G\";\n"
		   "max_io = \"1M\";\n"
		   "zero_copy = true;\n"
		   "zc_mechanism = \"register\";\n"
		   "read_only = true;\n"
		   "recovery = \"fail-io\";\n"
		   "owner = \"root:root\";\n"
		   "no_part_scan = true;\n"
		   "metrics_dir = \"prom\";\n"
		   "metrics_interval = 30;\n"
		   "file = \"/srv/disk.img\";\n"
		   "offset = 4096;\n"
		   "buffered = true;\n"
		   "tls = false;\n"
		   "export_name = \"my disk\";\n", &fake_ops, &cfg) == 0);
	CHECK(err[0] == 0);
	CHECK(cfg.target && !strcmp(cfg.target, "fake"));
	CHECK(cfg.dev_id == 7);
	CHECK(cfg.nr_queues == 4);
	CHECK(cfg.depth == 256);
	CHECK(cfg.size == 10ULL << 30);
	CHECK(cfg.max_io_bytes == 1U << 20);
	CHECK(cfg.data_mode == UBLKD_DATA_ZERO_COPY);
	CHECK(cfg.zc_force == ZC_REGISTER);
	CHECK(cfg.read_only == 1);
	CHECK(cfg.recovery == RECOVERY_FAIL_IO);
	CHECK(cfg.owner_set && cfg.owner_uid == 0 && cfg.owner_gid == 0);
	CHECK(cfg.no_part_scan == 1);
	/* Relative to the file's directory, as every path. */
	CHECK(cfg.metrics_dir && cfg.metrics_dir[0] == '/' &&
	      !strcmp(cfg.metrics_dir + strlen(cfg.metrics_dir) - 5, "/prom"));
	CHECK(cfg.metrics_interval == 30);
	/* tls = false adds nothing; export_name is the option export-name. */
	CHECK(cfg.nr_topts == 4);
	CHECK(!strcmp(topt(&cfg, 0, "file"), "/srv/disk.img"));
	CHECK(!strcmp(topt(&cfg, 1, "offset"), "4096"));
	CHECK(!strcmp(topt(&cfg, 2, "buffered"), "(switch)"));
	CHECK(!strcmp(topt(&cfg, 3, "export-name"), "my disk"));
	options_free(&cfg);

	/* Only the target: everything else keeps its default. */
	CHECK(load("target = \"fake\";\n", &fake_ops, &cfg) == 0);
	CHECK(err[0] == 0);
	CHECK(cfg.dev_id == -1 && cfg.nr_queues == 0 && cfg.depth == 0 && cfg.size == 0);
	CHECK(cfg.max_io_bytes == 0 && cfg.data_mode == UBLKD_DATA_COPY);
	CHECK(cfg.zc_force == ZC_NONE && !cfg.read_only && !cfg.owner_set);
	CHECK(cfg.recovery == RECOVERY_REISSUE && !cfg.no_part_scan);
	CHECK(cfg.nr_topts == 0);
	options_free(&cfg);

	/* Other spellings and forms: '-' in names, sizes as integers
	 * (64-bit with L), user copy, switches off, "user" without group,
	 * "group" syntax free of semicolons and with ':' assignment. */
	CHECK(load("target: \"fake\"\n"
		   "size = 4294967296L\n"
		   "max-io = 65536\n"
		   "user_copy = true\n"
		   "read-only = false\n"
		   "no-part-scan = false\n"
		   "zero_copy = false\n"
		   "recovery = \"on\"\n"
		   "owner = \"root\"\n"
		   "export-name = \"x\"\n"
		   "zc-mechanism = \"auto\"\n", &fake_ops, &cfg) == 0);
	CHECK(err[0] == 0);
	CHECK(cfg.size == 4ULL << 30);
	CHECK(cfg.max_io_bytes == 65536);
	CHECK(cfg.data_mode == UBLKD_DATA_USER_COPY);
	CHECK(cfg.read_only == 0 && cfg.no_part_scan == 0);
	CHECK(cfg.recovery == RECOVERY_ON);
	CHECK(cfg.owner_set && cfg.owner_uid == 0 && cfg.owner_gid == (gid_t)-1);
	CHECK(cfg.zc_force == ZC_AUTO);
	CHECK(cfg.nr_topts == 1 && !strcmp(topt(&cfg, 0, "export-name"), "x"));
	options_free(&cfg);

	/* copy = true asks for copy mode: no default mode is chosen. */
	CHECK(load("target = \"fake\";\ncopy = true;\n", &fake_ops, &cfg) == 0);
	CHECK(err[0] == 0);
	CHECK(cfg.data_mode == UBLKD_DATA_COPY && cfg.data_mode_set);
	options_free(&cfg);
	CHECK(load("target = \"fake\";\n", &fake_ops, &cfg) == 0);
	CHECK(cfg.data_mode == UBLKD_DATA_COPY && !cfg.data_mode_set);
	options_free(&cfg);

	/* Range edges that are fine. */
	CHECK(load("target = \"fake\"; id = 0; queues = 64; depth = 4096; size = 512;\n"
		   "max_io = \"32M\"; recovery = \"off\";\n", &fake_ops, &cfg) == 0);
	CHECK(cfg.recovery == RECOVERY_OFF);
	CHECK(cfg.dev_id == 0 && cfg.nr_queues == 64 && cfg.depth == 4096);
	CHECK(cfg.size == 512 && cfg.max_io_bytes == 32U << 20);
	options_free(&cfg);
	CHECK(load("target = \"fake\"; queues = 1; depth = 1; max_io = 4096;\n",
		   &fake_ops, &cfg) == 0);
	CHECK(cfg.nr_queues == 1 && cfg.depth == 1 && cfg.max_io_bytes == 4096);
	options_free(&cfg);

	/* A target without options, and a path as the target. */
	CHECK(load("target = \"/usr/lib/x/bare.so\";\nqueues = 2;\n", &bare_ops, &cfg) == 0);
	CHECK(!strcmp(cfg.target, "/usr/lib/x/bare.so") && cfg.nr_queues == 2);
	options_free(&cfg);

	/* @include, relative to the including file. */
	write_conf("common.inc", "queues = 3;\ndepth = 32;\n");
	CHECK(load("target = \"fake\";\n@include \"common.inc\"\nfile = \"/x\";\n",
		   &fake_ops, &cfg) == 0);
	CHECK(cfg.nr_queues == 3 && cfg.depth == 32 && cfg.nr_topts == 1);
	options_free(&cfg);
}

/* Typed target options: a PATH is made absolute against the file's
 * directory; INT, SIZE and ENUM values are checked with the file's line. */
static void test_typed(void)
{
	struct dev_config cfg;
	char want[512];

	CHECK(load("target = \"fake\";\nimage = \"sub/x.img\";\nlevel = 3;\n"
		   "chunk = \"64K\";\nmode = \"safe\";\n", &fake_ops, &cfg) == 0);
	snprintf(want, sizeof(want), "%s/sub/x.img", dir);
	CHECK(!strcmp(topt(&cfg, 0, "image"), want));
	CHECK(!strcmp(topt(&cfg, 1, "level"), "3"));
	CHECK(!strcmp(topt(&cfg, 2, "chunk"), "64K"));
	CHECK(!strcmp(topt(&cfg, 3, "mode"), "safe"));
	CHECK(cfg.path_base == NULL);	/* the command line's base: the cwd */
	options_free(&cfg);
	/* config_key: the target option's key (it was read as unknown) */
	CHECK(load("target = \"fake\";\ncache = \"wb\";\n", &fake_ops, &cfg) == 0);
	CHECK(!strcmp(topt(&cfg, 0, "cache-mode"), "wb"));
	options_free(&cfg);
	CHECK(load("target = \"fake\";\nimage = \"/abs/y\";\n", &fake_ops, &cfg) == 0);
	CHECK(!strcmp(topt(&cfg, 0, "image"), "/abs/y"));
	options_free(&cfg);
	REFUSED("target = \"fake\";\n\nlevel = 9;\n", 3, "level",
		"invalid value '9'; expected an integer from 1 to 8");
	REFUSED("target = \"fake\";\nlevel = \"x\";\n", 2, "level", "expected an integer");
	REFUSED("target = \"fake\";\nchunk = \"7Q\";\n", 2, "chunk",
		"invalid value '7Q'; expected a size such as 4096, 512K or 1G");
	REFUSED("target = \"fake\";\nmode = \"slow\";\n", 2, "mode",
		"invalid value 'slow'; expected fast or safe");
	REFUSED("target = \"fake\";\nmode = 1;\n", 2, "mode", "expected a string");
	REFUSED("target = \"fake\";\nimage = \"\";\n", 2, "image", "empty");
}

static void test_wrong_types(void)
{
	REFUSED("target = 5;\n", 1, "target", "write target = \"loop\";");
	REFUSED("target = \"fake\";\nid = \"7\";\n", 2, "id", "expected an integer, got a string");
	REFUSED("target = \"fake\";\nqueues = \"4\";\n", 2, "queues", "write queues = 2;");
	REFUSED("target = \"fake\";\ndepth = true;\n", 2, "depth", "expected an integer, got true/false");
	REFUSED("target = \"fake\";\nsize = 1.5;\n", 2, "size", "got a decimal number; write size = \"10G\";");
	REFUSED("target = \"fake\";\nmax_io = false;\n", 2, "max_io", "expected a string or an integer");
	REFUSED("target = \"fake\";\nzero_copy = 1;\n", 2, "zero_copy", "expected true or false, got an integer");
	REFUSED("target = \"fake\";\nuser_copy = \"yes\";\n", 2, "user_copy", "write user_copy = true;");
	REFUSED("target = \"fake\";\nzc_mechanism = 1;\n", 2, "zc_mechanism", "expected a string");
	REFUSED("target = \"fake\";\nread_only = \"true\";\n", 2, "read_only", "expected true or false");
	REFUSED("target = \"fake\";\nrecovery = true;\n", 2, "recovery", "write recovery = \"reissue\";");
	REFUSED("target = \"fake\";\nowner = 0;\n", 2, "owner", "expected a string");
	REFUSED("target = \"fake\";\n\nfile = true;\n", 3, "file", "expected a string or an integer, got true/false; write file = \"PATH\";");
	REFUSED("target = \"fake\";\nbuffered = \"yes\";\n", 2, "buffered", "expected true or false, got a string; write buffered = true;");
	REFUSED("target = \"fake\";\nexport_name = 1.0;\n", 2, "export_name", "got a decimal number");
	REFUSED("target = \"fake\";\nqueues = { a = 1; };\n", 2, "queues", "got a group");
	REFUSED("target = \"fake\";\nfile = [ \"a\", \"b\" ];\n", 2, "file", "got an array");
	REFUSED("target = \"fake\";\nfile = ( \"a\", 1 );\n", 2, "file", "got a list");
}

static void test_unknown_and_missing(void)
{
	REFUSED("target = \"fake\";\nqeues = 4;\n", 2, "qeues",
		"unknown; the keys are those of ublkd.conf(5) and target fake's: "
		"file, offset, buffered, export_name, tls, image, level, chunk, mode, cache");
	/* a target option with a config_key is known by that key only (the
	 * recovery record writes it so) */
	REFUSED("target = \"fake\";\ncache_mode = \"x\";\n", 2, "cache_mode", "unknown");
	REFUSED("target = \"fake\";\n\n\nverbose = true;\n", 4, "verbose", "unknown");
	REFUSED("target = \"fake\";\nready_fd = 3;\n", 2, "ready_fd", "unknown");
	REFUSED("target = \"fake\";\ntype = \"fake\";\n", 2, "type", "unknown");
	REFUSED("queues = 4;\n", 0, "target", "is missing; add a line like target = \"loop\";");
	REFUSED("target = \"\";\n", 1, "target", "empty");
	REFUSED("target = \"fake\";\nzc_mechanism = \"\";\n", 2, "zc_mechanism", "empty; write zc_mechanism = \"auto\";");
}

static void test_out_of_range(void)
{
	REFUSED("target = \"fake\";\nid = -1;\n", 2, "id", "invalid value '-1'; expected a device id from 0 to 2147483647");
	REFUSED("target = \"fake\";\nqueues = 0;\n", 2, "queues", "invalid value '0'; expected a queue count from 1 to 64");
	REFUSED("target = \"fake\";\nqueues = 65;\n", 2, "queues", "expected a queue count from 1 to 64");
	REFUSED("target = \"fake\";\ndepth = 0;\n", 2, "depth", "expected a queue depth from 1 to 4096");
	REFUSED("target = \"fake\";\ndepth = 4097;\n", 2, "depth", "invalid value '4097'");
	REFUSED("target = \"fake\";\nsize = 0;\n", 2, "size", "expected a size above 0 such as 1G");
	REFUSED("target = \"fake\";\nsize = \"12Q\";\n", 2, "size", "invalid value '12Q'");
	REFUSED("target = \"fake\";\nsize = 1000;\n", 2, "size", "expected a multiple of 512 bytes");
	REFUSED("target = \"fake\";\nsize = -512;\n", 2, "size", "invalid value '-512'");
	REFUSED("target = \"fake\";\nmax_io = \"2K\";\n", 2, "max_io", "expected 4K to 32M in multiples of 4K");
	REFUSED("target = \"fake\";\nmax_io = \"64M\";\n", 2, "max_io", "4K to 32M");
	REFUSED("target = \"fake\";\nmax_io = 5000;\n", 2, "max_io", "4K to 32M");
	REFUSED("target = \"fake\";\nzc_mechanism = \"magic\";\n", 2, "zc_mechanism", "invalid value 'magic'; expected auto, ");
	REFUSED("target = \"fake\";\nrecovery = \"maybe\";\n", 2, "recovery", "invalid value 'maybe'; expected reissue, ");
	REFUSED("target = \"fake\";\nowner = \"no-such-user-xyz\";\n", 2, "owner", "an existing user and group");
	REFUSED("target = \"fake\";\nowner = \"root:no-such-group-xyz\";\n", 2, "owner", "invalid value 'root:no-such-group-xyz'");
	/* libconfig 1.5 would wrap these to 32 bits without a word. */
	REFUSED("target = \"fake\";\nsize = 3000000000;\n", 2, "size",
		"3000000000 does not fit in a plain (32-bit) integer; write it as a string (\"3000000000\") or with an L suffix");
	REFUSED("target = \"fake\";\n  size=5000000000 ;\n", 2, "size", "(5000000000L)");
	REFUSED("target = \"fake\";\nid = 4294967296;\n", 2, "id", "does not fit");
	/* Two data modes; one key in two spellings. */
	REFUSED("target = \"fake\";\nzero_copy = true;\nuser_copy = true;\n", 3, "user_copy",
		"conflicts with zero_copy = true on line 2; choose one data mode");
	REFUSED("target = \"fake\";\nuser_copy = true;\ncopy = true;\n", 3, "copy",
		"conflicts with user_copy = true on line 2; choose one data mode");
	REFUSED("target = \"fake\";\nmax-io = \"4K\";\nmax_io = \"8K\";\n", 3, "max_io",
		"also given on line 2 as 'max-io'; keep one");
	REFUSED("target = \"fake\";\nexport_name = \"a\";\n\nexport-name = \"b\";\n", 4, "export-name",
		"also given on line 2 as 'export_name'");
}

/* "FILE:LINE: TEXT; ..." for what libconfig itself refuses. */
static void syntax_error(int src_line, const char *text, int line, const char *what)
{
	struct dev_config cfg;
	char want[512];
	char *t;

	snprintf(want, sizeof(want), "ublkd: %s/t.conf:%d: %s; see ublkd.conf(5)", dir, line, what);
	failures_before = unit_failures;
	CHECK(load(text, &fake_ops, &cfg) == -1);
	CHECK(nr_lines(err) == 1 && !strncmp(err, want, strlen(want)));
	options_free(&cfg);
	write_conf("t.conf", text);
	capture_begin();
	t = config_read_target(path);
	capture_end();
	CHECK(!t && nr_lines(err) == 1 && !strncmp(err, want, strlen(want)));
	if (unit_failures != failures_before)
		fprintf(stderr, "  (config-test.c:%d) got: %s  want: %s\n", src_line, err, want);
}

static void test_syntax(void)
{
	syntax_error(__LINE__, "target = \"fake\";\nqueues = 4;\nqueues = 5;\n", 3,
		     "duplicate setting name");
	syntax_error(__LINE__, "target = \"fake\";\n\nqueues == 4;\n", 3, "syntax error");
	syntax_error(__LINE__, "target = \"fake;\n", 2, "syntax error");
	syntax_error(__LINE__, "target = \"fake\";\n@include \"no-such.inc\"\n", 2,
		     "cannot open include file");
}

static void test_read_target(void)
{
	char *t, want[512];

	write_conf("t.conf", "# c\nqueues = 1;\ntarget = \"loop\";\nbogus = 1;\n");
	capture_begin();
	t = config_read_target(path);
	capture_end();
	CHECK(t && !strcmp(t, "loop") && !err[0]);	/* other keys: config_load's job */
	free(t);

	write_conf("t.conf", "queues = 1;\n");
	capture_begin();
	t = config_read_target(path);
	capture_end();
	snprintf(want, sizeof(want), "ublkd: %s: key 'target' is missing; add a line like", path);
	CHECK(!t && nr_lines(err) == 1 && !strncmp(err, want, strlen(want)));

	write_conf("t.conf", "queues = 1;\n\ntarget = [ \"x\" ];\n");
	capture_begin();
	t = config_read_target(path);
	capture_end();
	snprintf(want, sizeof(want), "ublkd: %s:3: key 'target': expected a string, got an array", path);
	CHECK(!t && nr_lines(err) == 1 && !strncmp(err, want, strlen(want)));

	snprintf(path, sizeof(path), "%s/no-such.conf", dir);
	capture_begin();
	t = config_read_target(path);
	capture_end();
	snprintf(want, sizeof(want), "ublkd: %s: cannot open: No such file or directory; create it", path);
	CHECK(!t && nr_lines(err) == 1 && !strncmp(err, want, strlen(want)));

	capture_begin();
	t = config_read_target(dir);
	capture_end();
	snprintf(want, sizeof(want), "ublkd: %s: not a regular file", dir);
	CHECK(!t && nr_lines(err) == 1 && !strncmp(err, want, strlen(want)));

	/* An error inside an @include'd file names that file. */
	{
		struct dev_config cfg;

		write_conf("bad.inc", "\n\nqueues = 99;\n");
		CHECK(load("target = \"fake\";\n@include \"bad.inc\"\n", &fake_ops, &cfg) == -1);
		snprintf(want, sizeof(want), "ublkd: %s/bad.inc:3: key 'queues': invalid value '99'", dir);
		CHECK(nr_lines(err) == 1 && !strncmp(err, want, strlen(want)));
		options_free(&cfg);
		write_conf("bad.inc", "queues = 2;\ndepth == 3;\n");
		CHECK(load("target = \"fake\";\n@include \"bad.inc\"\n", &fake_ops, &cfg) == -1);
		snprintf(want, sizeof(want), "ublkd: %s/bad.inc:2: syntax error", dir);
		CHECK(nr_lines(err) == 1 && !strncmp(err, want, strlen(want)));
		options_free(&cfg);
	}
}

static void test_path_for_name(void)
{
	char buf[256];

	/* A file that is nowhere is looked for (and reported) in /etc/ublkd,
	 * whatever SYSCONFDIR the build has (the README's steps). */
	unsetenv("UBLKD_CONFDIR");
	config_path_for_name("ublkd-unit-nowhere", buf, sizeof(buf));
	CHECK(!strcmp(buf, "/etc/ublkd/ublkd-unit-nowhere.conf"));
	setenv("UBLKD_CONFDIR", "/tmp/x", 1);
	config_path_for_name("disk-a", buf, sizeof(buf));
	CHECK(!strcmp(buf, "/tmp/x/disk-a.conf"));
	setenv("UBLKD_CONFDIR", "", 1);
	config_path_for_name("ublkd-unit-nowhere", buf, sizeof(buf));
	CHECK(!strcmp(buf, "/etc/ublkd/ublkd-unit-nowhere.conf"));
	unsetenv("UBLKD_CONFDIR");
}

/*
 * The shipped examples, read with the real plugins' option tables: every
 * conf/NAME.conf must load, for target NAME, both as shipped and with its
 * commented-out keys enabled (the owner example's user replaced by root,
 * user_copy dropped since zero_copy is enabled too).
 */
static void test_shipped(void)
{
	const char *src = getenv("UBLKD_SRCDIR"), *build = getenv("UBLKD_BUILDDIR");
	char confdir[512], so[768], conf[768], cmd[2048];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(confdir, sizeof(confdir), "%s/conf", src ? src : TEST_SRCDIR);
	d = opendir(confdir);
	CHECK(d != NULL);
	while (d && (e = readdir(d))) {
		const struct ublkd_target_ops *(*entry)(void);
		const struct ublkd_target_ops *ops;
		size_t l = strlen(e->d_name);
		struct dev_config cfg;
		char *target;
		void *dl;
		int v;

		if (l < 6 || strcmp(e->d_name + l - 5, ".conf"))
			continue;
		snprintf(conf, sizeof(conf), "%s/%s", confdir, e->d_name);
		snprintf(so, sizeof(so), "%s/plugins/%.*s.so", build ? build : TEST_BUILDDIR,
			 (int)(l - 5), e->d_name);
		/* Lazy: the plugin's calls into ublkd are never made here. */
		dl = dlopen(so, RTLD_LAZY | RTLD_LOCAL);
		if (!dl) {
			printf("config-test: %s not checked: %s\n", e->d_name, dlerror());
			continue;
		}
		entry = (const struct ublkd_target_ops *(*)(void))dlsym(dl, UBLKD_TARGET_ENTRY);
		CHECK(entry != NULL);
		ops = entry ? entry() : NULL;
		for (v = 0; ops && v < 2; v++) {
			if (v == 1) {
				snprintf(cmd, sizeof(cmd), "sed -e 's/^#\\([a-z_]* =\\)/\\1/' "
					 "-e '/^user_copy/d' -e '/^copy =/d' -e 's/alice/root/; s/:disk\"/:root\"/' "
					 "'%s' >'%s/all.conf'", conf, dir);
				CHECK(system(cmd) == 0);
				snprintf(conf, sizeof(conf), "%s/all.conf", dir);
			}
			capture_begin();
			target = config_read_target(conf);
			cfg_init(&cfg);
			CHECK(config_load(&cfg, conf, ops) == 0);
			capture_end();
			CHECK(target && !strncmp(target, e->d_name, l - 5) && !target[l - 5]);
			CHECK(!err[0]);
			if (err[0])
				fprintf(stderr, "  %s (%s): %s", e->d_name, v ? "all keys" : "as shipped", err);
			free(target);
			options_free(&cfg);
		}
		dlclose(dl);
		n++;
	}
	if (d)
		closedir(d);
	CHECK(n >= 3);	/* null, loop, nbd */
}

/* The table itself: names, short names and keys unique; what each kind of
 * entry needs is there. */
static void test_table_consistent(void)
{
	char k1[64], k2[64];
	size_t i, j;

	CHECK(nr_generic_options >= 20);
	for (i = 0; i < nr_generic_options; i++) {
		const struct gopt *a = &generic_options[i];

		failures_before = unit_failures;
		CHECK(a->o.name || a->o.short_name);
		CHECK(a->o.help && a->set);
		CHECK(!a->o.has_arg == (a->o.type == UBLKD_OPT_BOOL));
		CHECK(!a->o.has_arg || a->o.arg_name);
		CHECK(a->o.type != UBLKD_OPT_ENUM || a->o.choices);
		/* a device setting is read back, and has a key to be recorded */
		CHECK(!(a->flags & GOPT_RECORD) || (a->get && !(a->flags & GOPT_CLI_ONLY)));
		CHECK(!(a->flags & GOPT_ALWAYS) || a->def);
		/* a key with a value gives an example for messages */
		CHECK((a->flags & GOPT_CLI_ONLY) || !a->o.has_arg || a->example);
		CHECK((a->flags & GOPT_CLI_ONLY) || a->o.name);
		for (j = i + 1; j < nr_generic_options; j++) {
			const struct gopt *b = &generic_options[j];

			CHECK(!a->o.short_name || a->o.short_name != b->o.short_name);
			CHECK(!a->o.name || !b->o.name || strcmp(a->o.name, b->o.name));
			CHECK(!a->alias || !b->alias || strcmp(a->alias, b->alias));
			CHECK(!a->o.name || !b->alias || strcmp(a->o.name, b->alias));
			CHECK(!a->alias || !b->o.name || strcmp(a->alias, b->o.name));
			CHECK((a->flags & GOPT_CLI_ONLY) || (b->flags & GOPT_CLI_ONLY) ||
			      strcmp(option_key(&a->o, k1, sizeof(k1)),
				     option_key(&b->o, k2, sizeof(k2))));
		}
		if (!(a->flags & GOPT_CLI_ONLY))
			CHECK(gopt_by_key(option_key(&a->o, k1, sizeof(k1))) == a);
		if (unit_failures != failures_before)
			fprintf(stderr, "  in the entry of %s%c\n", a->o.name ? a->o.name : "-",
				a->o.name ? ' ' : a->o.short_name);
	}
}

/* Each device setting, given with its example value, is a device option
 * (not "only meta", so --recover refuses it), read back, and printed by
 * --check; each GOPT_META option is allowed with --recover. */
static void test_table_derived(void)
{
	char buf[64], line[512];
	size_t i;

	for (i = 0; i < nr_generic_options; i++) {
		const struct gopt *g = &generic_options[i];
		char value[64], spelled[160];
		const char *want, *v;
		struct dev_config cfg;
		FILE *f;

		if (!g->get || !g->example)
			continue;
		failures_before = unit_failures;
		/* the example as the command line would carry it */
		snprintf(value, sizeof(value), "%s", g->example[0] == '"' ? g->example + 1 :
			 g->example);
		if (value[0] && value[strlen(value) - 1] == '"')
			value[strlen(value) - 1] = 0;
		if (!strcmp(g->o.name, "owner"))
			snprintf(value, sizeof(value), "0:0");	/* alice may not exist */
		cfg_init(&cfg);
		CHECK(options_apply_generic(&cfg, g, value, &want) == 0);
		/* a default (--recovery reissue) asks for nothing else */
		if (!g->def || strcmp(value, g->def))
			CHECK(options_only_meta(&cfg) == !!(g->flags & GOPT_META));
		v = options_value(g, &cfg, buf, sizeof(buf));
		CHECK(v != NULL);
		f = fmemopen(line, sizeof(line), "w");
		CHECK(f != NULL);
		if (!cfg.target)
			cfg.target = strdup("fake");
		if (f) {
			options_print(f, &cfg);
			fclose(f);
		}
		if (g->o.short_name)
			snprintf(spelled, sizeof(spelled), " -%c %s", g->o.short_name, v ? v : "");
		else
			snprintf(spelled, sizeof(spelled), " --%s %s", g->o.name, v ? v : "");
		CHECK(strstr(line, spelled) != NULL);
		if (unit_failures != failures_before)
			fprintf(stderr, "  for %s = %s: printed '%s', want '%s'\n", g->o.name, value,
				line, spelled);
		options_free(&cfg);
	}
	/* switches: on, they are device options and printed */
	for (i = 0; i < nr_generic_options; i++) {
		const struct gopt *g = &generic_options[i];
		struct dev_config cfg;
		const char *want;

		if (!g->get || g->o.has_arg)
			continue;
		cfg_init(&cfg);
		CHECK(options_only_meta(&cfg));
		CHECK(options_apply_generic(&cfg, g, NULL, &want) == 0);
		CHECK(!options_only_meta(&cfg));
		CHECK(options_value(g, &cfg, buf, sizeof(buf)) != NULL);
		options_free(&cfg);
	}
}

/* --help names every option of the table (it once left out -b, -r, -i,
 * -e and --foreground), each with its value's name. */
static void test_help(void)
{
	static char text[16384];
	char want[80];
	size_t i;
	FILE *f = fmemopen(text, sizeof(text), "w");

	CHECK(f != NULL);
	if (!f)
		return;
	options_help(f);
	fclose(f);
	for (i = 0; i < nr_generic_options; i++) {
		const struct ublkd_option *o = &generic_options[i].o;

		if (o->short_name)
			snprintf(want, sizeof(want), "  -%c%s", o->short_name, o->name ? ", --" :
				 o->has_arg ? " " : "");
		else
			snprintf(want, sizeof(want), "      --%s", o->name);
		CHECK(strstr(text, want) != NULL);
		if (o->has_arg) {
			snprintf(want, sizeof(want), "%s %s ", o->name ? o->name : "",
				 o->arg_name);
			CHECK(strstr(text, o->name ? want : want + 1) != NULL);
		}
		if (!strstr(text, want))
			fprintf(stderr, "  --help lacks '%s':\n%s", want, text);
	}
}

/* The command line's messages for typed values come from the same checks
 * for generic and target options. */
static void test_cli_messages(void)
{
	static const struct {
		const char *arg, *value, *msg;
	} cases[] = {
		{ "-q", "65", "ublkd: invalid value '65' for -q/--queues: expected a queue count from 1 to 64\n" },
		{ "--recovery", "maybe", "ublkd: invalid value 'maybe' for --recovery: expected reissue, on, fail-io or off\n" },
		{ "-u", "2", "ublkd: invalid value '2' for -u: expected 0 or 1\n" },
		{ "--ready-fd", "2", "ublkd: invalid value '2' for --ready-fd: expected a file descriptor number from 3 to 1023\n" },
		{ "--max-io", "5000", "ublkd: invalid value '5000' for --max-io: expected 4K to 32M in multiples of 4K\n" },
		{ "--level", "9", "ublkd: invalid value '9' for --level: expected an integer from 1 to 8\n" },
		{ "--mode", "slow", "ublkd: invalid value 'slow' for --mode: expected fast or safe\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = { "ublkd", "-t", "fake", (char *)cases[i].arg,
				 (char *)cases[i].value, NULL };
		struct dev_config cfg;
		int ret;

		cfg_init(&cfg);
		capture_begin();
		ret = options_parse(&cfg, cases[i].value ? 5 : 4, argv, &fake_ops);
		capture_end();
		CHECK(ret == -1 && !strcmp(err, cases[i].msg));
		if (ret != -1 || strcmp(err, cases[i].msg))
			fprintf(stderr, "  %s %s: got '%s'\n", cases[i].arg,
				cases[i].value ? cases[i].value : "", err);
		options_free(&cfg);
	}
}

int main(void)
{
	char cmd[128];

	log_init("ublkd", LOG_LVL_INFO);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	test_valid();
	test_typed();
	test_wrong_types();
	test_unknown_and_missing();
	test_out_of_range();
	test_syntax();
	test_read_target();
	test_path_for_name();
	test_shipped();
	test_table_consistent();
	test_table_derived();
	test_help();
	test_cli_messages();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return unit_done("config-test");
}
