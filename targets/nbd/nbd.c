/* SPDX-License-Identifier: MIT */
/*
 * nbd - a remote NBD export (nbdkit, qemu-nbd, nbd-server, ...) as a ublk
 * disk, with libnbd speaking the protocol.
 *
 * Connections: open() connects on the main thread to learn the export's
 * size, flags and block sizes, then makes every other queue's connection
 * too, all within one --timeout (one NBD connection per queue; more than one
 * queue only when the server advertises multi-conn); queue_init() takes
 * them over.  TLS is required or off, never optional (the policy is above
 * check_options()).
 *
 * Event loop: libnbd's asynchronous API, driven from the queue thread.
 * The socket is watched by one-shot IORING_OP_POLL_ADD SQEs on the queue's
 * ring (POLLIN while connected, POLLOUT while libnbd has bytes to send, as
 * nbd_aio_get_direction() says); their CQEs call nbd_aio_notify_read/write.
 * libnbd's completion callbacks only move requests to a "done" list
 * (callbacks may not call libnbd); queue_idle() then completes or retries
 * them, re-issues waiting requests and re-arms the polls and the timer.
 *
 * Failure: every request has a deadline (arrival + --timeout).  When the
 * connection dies, libnbd fails its commands with ENOTCONN; such requests
 * wait in "pending" and are sent again once the queue has reconnected
 * (backoff 0.1 s doubling to 2 s), or fail with EIO at their deadline.  A
 * server that stops answering is treated as gone once a request passes its
 * deadline and nothing at all has come back for --timeout (a server that
 * answers is slow, not gone: deep queues wait their turn), or once a request
 * has waited LOST_AFTER timeouts: the connection is dropped (libnbd then lets
 * go of the buffers) and re-opened.  One IORING_OP_TIMEOUT at a time drives
 * all of this.
 * Only time the daemon ran counts: a timer that fires well after its due
 * time means this process did not run (a starved or paused VM, SIGSTOP),
 * and every deadline moves on by that much (see forgive_stall()).
 *
 * Data: libnbd reads and writes the socket itself, so data is in io->buf
 * (copy and user copy modes); zero copy is impossible and not offered.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <libnbd.h>
#include <ublkd/target.h>

#define DEFAULT_TIMEOUT_S	30
#define MAX_TIMEOUT_S		86400
#define MAX_REQUEST		(32U << 20)	/* the largest read/write any server takes */
#define DEFAULT_MAX_IO		(512U << 10)	/* ublkd's default largest request */
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		2000
#define CONNECT_MAX_MS		10000		/* one reconnect attempt, at most */
#define TICK_MAX_MS		1000
#define STALL_MIN_MS		1000		/* a timer this late: we did not run */
#define LOST_AFTER		4		/* x --timeout: a reply that never comes */
#define MAX_QUEUES		64		/* ublkd's limit on -q */
#define NS_PER_MS		1000000ULL
#define NS_PER_S		1000000000ULL

/* ================================================================ the target */

enum { ST_RETRY, ST_RECONNECT, ST_STALL, NR_ST };

struct nbd_target {
	/* Options. */
	char *uri, *host, *port, *unix_path, *export_name;
	char *tls_psk_file, *tls_certificates, *tls_username;
	bool tls;
	unsigned int timeout_s;

	/* What the server told open(). */
	char *desc;
	uint64_t export_size;
	uint32_t lbs;		/* the device's logical block size */
	uint32_t max_req;	/* largest read/write per NBD command */
	bool read_only, can_flush, can_fua, can_trim, can_zero, multi_conn;

	/* open()'s connection: queue 0 serves on it; it comes back at
	 * queue 0's exit for flush() and close().  spare[q]: queue q's
	 * connection, made by open() too (see nt_open). */
	struct nbd_handle *h0;
	struct nbd_handle *spare[MAX_QUEUES];

	/* Summed from the queues at their exit: what only this target has
	 * (ublkd counts requests by op, failures and latency for every one). */
	uint64_t stats[NR_ST];
	int dirty;		/* written since the last flush */
};


static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* libnbd's last error without its "nbd_function: " context prefix. */
static const char *nbd_why(void)
{
	const char *e = nbd_get_error(), *p;

	if (!e || !*e)
		return "unknown error";
	if (!strncmp(e, "nbd_", 4)) {
		p = strstr(e, ": ");
		if (p && p[2] && strcspn(e, " ") == (size_t)(p - e) + 1)
			return p + 2;
	}
	return e;
}

/* ================================================================ options */

static void free_target(struct ublkd_target *t);

static const struct ublkd_option nt_options[] = {
	/* (designated: struct ublkd_option grew; PATH values come absolute) */
	{ .name = "uri", .has_arg = 1, .arg_name = "URI",
	  .help = "nbd://HOST[:PORT]/EXPORT, nbd+unix:///EXPORT?socket=PATH, nbds://..." },
	{ .name = "host", .has_arg = 1, .arg_name = "HOST",
	  .help = "server name or address (instead of --uri)" },
	{ .name = "port", .has_arg = 1, .arg_name = "PORT",
	  .help = "server TCP port with --host (default 10809)" },
	{ .name = "unix", .has_arg = 1, .arg_name = "PATH", .type = UBLKD_OPT_PATH,
	  .help = "server Unix socket (instead of --uri or --host)" },
	{ .name = "export-name", .has_arg = 1, .arg_name = "NAME",
	  .help = "export name with --host or --unix (default \"\")" },
	{ .name = "tls", .type = UBLKD_OPT_BOOL,
	  .help = "require TLS with --host or --unix (a URI: nbds://); never falls back "
		  "to plaintext" },
	{ .name = "tls-psk-file", .has_arg = 1, .arg_name = "FILE", .type = UBLKD_OPT_PATH,
	  .help = "TLS pre-shared keys (psktool format); requires TLS (refused with nbd://)" },
	{ .name = "tls-certificates", .has_arg = 1, .arg_name = "DIR", .type = UBLKD_OPT_PATH,
	  .help = "TLS certificates (ca-cert.pem, client-*.pem); requires TLS (refused "
		  "with nbd://)" },
	{ .name = "tls-username", .has_arg = 1, .arg_name = "NAME",
	  .help = "TLS user name (default: the URI's, else the login name); requires TLS" },
	{ .name = "timeout", .has_arg = 1, .arg_name = "SECONDS",
	  .help = "how long I/O waits for an unreachable server before EIO (default 30)" },
	{ .name = NULL },
};

static struct nbd_target *get_target(struct ublkd_target *t)
{
	struct nbd_target *nt = ublkd_target_priv(t);

	if (!nt) {
		nt = calloc(1, sizeof(*nt));
		if (!nt)
			return NULL;
		nt->timeout_s = DEFAULT_TIMEOUT_S;
		ublkd_target_set_priv(t, nt);
	}
	return nt;
}

static int set_str(char **dst, const char *name, const char *value)
{
	if (!value || !*value) {
		ublkd_error("nbd: --%s needs a non-empty value", name);
		return -1;
	}
	free(*dst);
	*dst = strdup(value);
	return *dst ? 0 : -1;
}

static int config_one(struct ublkd_target *t, const char *name, const char *value)
{
	struct nbd_target *nt = get_target(t);
	char *end;
	unsigned long v;

	if (!nt)
		return -1;
	if (!strcmp(name, "uri"))
		return set_str(&nt->uri, name, value);
	if (!strcmp(name, "host"))
		return set_str(&nt->host, name, value);
	if (!strcmp(name, "unix"))
		return set_str(&nt->unix_path, name, value);
	if (!strcmp(name, "tls-psk-file"))
		return set_str(&nt->tls_psk_file, name, value);
	if (!strcmp(name, "tls-certificates"))
		return set_str(&nt->tls_certificates, name, value);
	if (!strcmp(name, "tls-username"))
		return set_str(&nt->tls_username, name, value);
	if (!strcmp(name, "export-name")) {
		free(nt->export_name);	/* "" is a valid export name */
		nt->export_name = strdup(value);
		return nt->export_name ? 0 : -1;
	}
	if (!strcmp(name, "tls")) {
		nt->tls = true;
		return 0;
	}
	if (!strcmp(name, "port")) {
		errno = 0;
		v = strtoul(value, &end, 10);
		if (errno || end == value || *end || v < 1 || v > 65535) {
			ublkd_error("nbd: invalid value '%s' for --port: expected a TCP port "
				    "from 1 to 65535", value);
			return -1;
		}
		return set_str(&nt->port, name, value);
	}
	if (!strcmp(name, "timeout")) {
		errno = 0;
		v = strtoul(value, &end, 10);
		if (errno || end == value || *end || v < 1 || v > MAX_TIMEOUT_S) {
			ublkd_error("nbd: invalid value '%s' for --timeout: expected seconds "
				    "from 1 to %u", value, MAX_TIMEOUT_S);
			return -1;
		}
		nt->timeout_s = v;
		return 0;
	}
	ublkd_error("nbd: unknown option --%s", name);
	return -1;
}

static int nt_config(struct ublkd_target *t, const char *name, const char *value)
{
	/* On failure, release() frees what config() made. */
	return config_one(t, name, value);
}

/* ---------------------------------------------------------------- TLS policy
 *
 * TLS is never optional: any TLS option makes it required (libnbd's
 * LIBNBD_TLS_REQUIRE, and nbd_get_tls_negotiated() checked on every
 * connection), or it is refused.  With --uri the scheme decides: nbds://
 * requires TLS; nbd:// with anything that only means something under TLS
 * (a key, certificates, a user name, --tls) is refused, since libnbd would
 * connect in plaintext.  The table is in ublkd-nbd(8), TLS.
 */

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decode [p, end) into buf, as libnbd decodes query parameters. */
static void uri_decode(const char *p, const char *end, char *buf, size_t len)
{
	size_t n = 0;

	for (; p < end && n + 1 < len; p++) {
		if (*p == '%' && p + 2 < end && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			buf[n++] = (char)(hexval(p[1]) << 4 | hexval(p[2]));
			p += 2;
		} else {
			buf[n++] = *p;
		}
	}
	buf[n] = 0;
}

/* Does the URI's query have a parameter whose name starts with prefix?
 * Its decoded name goes to name[], its value to value[] (if not NULL). */
static bool uri_query(const char *uri, const char *prefix, char *name, size_t len,
		      char *value, size_t vlen)
{
	const char *q = strchr(uri, '?'), *end, *eq;

	if (!q)
		return false;
	for (q++; *q && *q != '#'; q = end + (*end == '&' || *end == ';')) {
		end = q + strcspn(q, "&;#");
		eq = memchr(q, '=', end - q);
		uri_decode(q, eq ? eq : end, name, len);
		if (!strncasecmp(name, prefix, strlen(prefix))) {
			if (value)
				uri_decode(eq ? eq + 1 : end, end, value, vlen);
			return true;
		}
	}
	return false;
}

static bool uri_query_has(const char *uri, const char *prefix, char *name, size_t len)
{
	return uri_query(uri, prefix, name, len, NULL, 0);
}

/* A file of TLS secrets must be readable by its owner alone, as ssh wants
 * of a private key: ublkd runs as root, and refuses rather than leak. */
static int secret_private(const char *path, const char *what)
{
	struct stat st;

	if (stat(path, &st) < 0 || !(st.st_mode & 077))
		return 0;	/* missing: libnbd's connect says so */
	ublkd_error("nbd: %s %s is open to %s (mode %04o): chmod 600 %s (it holds secret "
		    "keys)", what, path, st.st_mode & 007 ? "others" : "its group",
		    (unsigned int)(st.st_mode & 07777), path);
	return -1;
}

/* Every key file the options or the URI name. */
static int secrets_private(const struct nbd_target *nt)
{
	char name[64], value[4096], key[4200];

	if (nt->tls_psk_file && secret_private(nt->tls_psk_file, "the PSK file") < 0)
		return -1;
	if (nt->uri && uri_query(nt->uri, "tls-psk-file", name, sizeof(name), value,
				 sizeof(value)) && secret_private(value, "the PSK file") < 0)
		return -1;
	if (nt->tls_certificates) {
		snprintf(key, sizeof(key), "%s/client-key.pem", nt->tls_certificates);
		if (secret_private(key, "the client key") < 0)
			return -1;
	}
	if (nt->uri && uri_query(nt->uri, "tls-certificates", name, sizeof(name), value,
				 sizeof(value))) {
		snprintf(key, sizeof(key), "%s/client-key.pem", value);
		if (secret_private(key, "the client key") < 0)
			return -1;
	}
	return 0;
}

/* USER@ in the URI's authority: a TLS (PSK) user name. */
static bool uri_has_user(const char *uri)
{
	const char *a = strstr(uri, "://");

	if (!a)
		return false;
	a += 3;
	return memchr(a, '@', strcspn(a, "/?#")) != NULL;
}

/* Decide nt->tls for a URI, or refuse a combination that would not use
 * TLS although it names TLS settings. */
static int uri_tls_policy(struct nbd_target *nt)
{
	const char *u = nt->uri;
	bool scheme_tls = !strncasecmp(u, "nbds", 4);
	size_t slen = strcspn(u, ":");
	const char *opt = nt->tls ? "tls" : nt->tls_psk_file ? "tls-psk-file" :
			  nt->tls_certificates ? "tls-certificates" :
			  nt->tls_username ? "tls-username" : NULL;
	char q[64];

	if (!scheme_tls) {
		/* nbd+unix:// -> nbds+unix:// */
		int head = slen >= 3 ? 3 : (int)slen;

		if (opt) {
			ublkd_error("nbd: --%s with an %.*s:// URI, which does not use TLS: use "
				    "%.*ss%.*s:// (TLS required) or drop --%s", opt, (int)slen, u,
				    head, u, (int)slen - head, u + head, opt);
			return -1;
		}
		if (uri_query_has(u, "tls", q, sizeof(q))) {
			ublkd_error("nbd: %s= in an %.*s:// URI, which does not use TLS: use "
				    "%.*ss%.*s:// (TLS required) or drop %s=", q, (int)slen, u,
				    head, u, (int)slen - head, u + head, q);
			return -1;
		}
		if (uri_has_user(u)) {
			ublkd_error("nbd: a user name (USER@) in an %.*s:// URI is only for TLS, "
				    "which %.*s:// does not use: use %.*ss%.*s:// or drop the user "
				    "name", (int)slen, u, (int)slen, u, head, u, (int)slen - head,
				    u + head);
			return -1;
		}
		return 0;
	}
	/* Both the option and the URI would set it, and libnbd would let the
	 * URI win quietly: say which one counts. */
	if ((nt->tls_psk_file && uri_query_has(u, "tls-psk-file", q, sizeof(q))) ||
	    (nt->tls_certificates && uri_query_has(u, "tls-certificates", q, sizeof(q)))) {
		ublkd_error("nbd: %s is given twice, by --%s and in the URI: keep one", q, q);
		return -1;
	}
	if (nt->tls_username && uri_has_user(u)) {
		ublkd_error("nbd: the TLS user name is given twice, by --tls-username and in the "
			    "URI (USER@): keep one");
		return -1;
	}
	nt->tls = true;
	return 0;
}

/* Which server, and a one-line description of it for `ublk list`. */
static int check_options(struct nbd_target *nt)
{
	const char *exp = nt->export_name ? nt->export_name : "";
	bool tls = nt->tls || nt->tls_psk_file || nt->tls_certificates || nt->tls_username;
	int n;

	if (nt->uri) {
		if (nt->host || nt->port || nt->unix_path || nt->export_name) {
			ublkd_error("nbd: --uri cannot be combined with --host, --port, --unix or "
				    "--export-name: put them in the URI");
			return -1;
		}
		if (uri_tls_policy(nt) < 0 || secrets_private(nt) < 0)
			return -1;
		nt->desc = strdup(nt->uri);
		return nt->desc ? 0 : -1;
	}
	if (!nt->host && !nt->unix_path) {
		ublkd_error("nbd: no server given: use --uri nbd://HOST[:PORT]/EXPORT (or "
			    "nbd+unix:///EXPORT?socket=PATH), or --host/--unix");
		return -1;
	}
	if (nt->host && nt->unix_path) {
		ublkd_error("nbd: --host and --unix exclude each other: give one");
		return -1;
	}
	if (nt->port && !nt->host) {
		ublkd_error("nbd: --port goes with --host, not --unix");
		return -1;
	}
	nt->tls = tls;
	if (secrets_private(nt) < 0)
		return -1;
	if (nt->host) {
		int v6 = strchr(nt->host, ':') != NULL;

		n = asprintf(&nt->desc, "nbd%s://%s%s%s:%s/%s", tls ? "s" : "", v6 ? "[" : "",
			     nt->host, v6 ? "]" : "", nt->port ? nt->port : "10809", exp);
	} else {
		n = asprintf(&nt->desc, "nbd%s+unix:///%s?socket=%s", tls ? "s" : "", exp,
			     nt->unix_path);
	}
	if (n < 0) {
		nt->desc = NULL;
		return -1;
	}
	return 0;
}

/* ublkd's check(): the same refusals for --check as for a start. */
static int nt_check(struct ublkd_target *t)
{
	struct nbd_target *nt = get_target(t);

	return nt && (nt->desc || check_options(nt) == 0) ? 0 : -1;
}

/* ================================================================ connecting */

/* A handle set up for this target's server, not yet connected. */
static struct nbd_handle *new_handle(const struct nbd_target *nt)
{
	struct nbd_handle *h = nbd_create();

	if (!h)
		return NULL;
	nbd_set_handle_name(h, "ublkd-nbd");
	/* Failed reads return EIO: zeroing every read buffer first is waste. */
	nbd_set_pread_initialize(h, false);
	/* TLS required or off, never "if the server offers it" (see the TLS
	 * policy above); a URI must agree, and may then name a PSK file. */
	if (nbd_set_tls(h, nt->tls ? LIBNBD_TLS_REQUIRE : LIBNBD_TLS_DISABLE) < 0)
		goto err;
	if (nt->uri && (nbd_set_uri_allow_tls(h, nt->tls ? LIBNBD_TLS_REQUIRE :
					      LIBNBD_TLS_DISABLE) < 0 ||
			nbd_set_uri_allow_local_file(h, nt->tls) < 0))
		goto err;
	if ((nt->tls_psk_file && nbd_set_tls_psk_file(h, nt->tls_psk_file) < 0) ||
	    (nt->tls_certificates && nbd_set_tls_certificates(h, nt->tls_certificates) < 0) ||
	    (nt->tls_username && nbd_set_tls_username(h, nt->tls_username) < 0))
		goto err;
	if (!nt->uri) {
		if (nbd_set_export_name(h, nt->export_name ? nt->export_name : "") < 0)
			goto err;
	}
	return h;
err:
	nbd_close(h);	/* keeps the thread's error message */
	return NULL;
}

static int start_connect(const struct nbd_target *nt, struct nbd_handle *h)
{
	if (nt->uri)
		return nbd_aio_connect_uri(h, nt->uri);
	if (nt->unix_path)
		return nbd_aio_connect_unix(h, nt->unix_path);
	return nbd_aio_connect_tcp(h, nt->host, nt->port ? nt->port : "10809");
}

/* Drive h with poll(2) until done(h, arg) says 1 (0 returned) or -1, the
 * handle dies, or the deadline passes (-1; *why explains).  For the main
 * thread and queue setup, where nothing else has to run meanwhile. */
static int run_sync(struct nbd_handle *h, int (*done)(struct nbd_handle *, void *),
		    void *arg, uint64_t deadline, const char **why)
{
	for (;;) {
		struct pollfd pfd;
		uint64_t now;
		int r, dir;

		r = done(h, arg);
		if (r)
			return r > 0 ? 0 : (*why = nbd_why(), -1);
		if (nbd_aio_is_dead(h) || nbd_aio_is_closed(h)) {
			*why = nbd_why();
			return -1;
		}
		now = now_ns();
		if (now >= deadline) {
			*why = NULL;	/* the caller says "timed out" */
			return -1;
		}
		dir = nbd_aio_get_direction(h);
		pfd.fd = nbd_aio_get_fd(h);
		pfd.events = (dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
			     (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0);
		if (pfd.fd < 0 || !pfd.events) {
			*why = "the connection stalled";
			return -1;
		}
		r = poll(&pfd, 1, (int)((deadline - now + NS_PER_MS - 1) / NS_PER_MS));
		if (r < 0 && errno != EINTR) {
			*why = strerror(errno);
			return -1;
		}
		if (r <= 0)
			continue;
		if ((dir & LIBNBD_AIO_DIRECTION_READ) && (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			nbd_aio_notify_read(h);
		else if (dir & LIBNBD_AIO_DIRECTION_WRITE)
			nbd_aio_notify_write(h);
	}
}

static int is_ready(struct nbd_handle *h, void *arg)
{
	(void)arg;
	return nbd_aio_is_ready(h);
}

static int is_completed(struct nbd_handle *h, void *arg)
{
	return nbd_aio_command_completed(h, *(int64_t *)arg);
}

static int is_closed(struct nbd_handle *h, void *arg)
{
	(void)arg;
	return nbd_aio_is_closed(h);
}

/* NULL if h may carry data: with TLS required, only when TLS was
 * negotiated (libnbd should have refused otherwise; this is the check
 * that does not depend on it). */
static const char *tls_refused(const struct nbd_target *nt, struct nbd_handle *h)
{
	if (!nt->tls || nbd_get_tls_negotiated(h) == 1)
		return NULL;
	return "the connection is not encrypted although TLS is required (not using it)";
}

/* A connected handle, or NULL with *why set (a static string, or libnbd's
 * thread-local message: use it before the next libnbd call). */
static struct nbd_handle *connect_until(const struct nbd_target *nt, uint64_t deadline,
					const char **why)
{
	struct nbd_handle *h = new_handle(nt);

	if (!h) {
		*why = nbd_why();
		return NULL;
	}
	if (start_connect(nt, h) < 0) {
		*why = nbd_why();
		goto err;
	}
	if (run_sync(h, is_ready, NULL, deadline, why) < 0) {
		if (!*why)
			*why = "timed out";
		goto err;
	}
	*why = tls_refused(nt, h);
	if (*why)
		goto err;
	return h;
err:
	nbd_close(h);
	return NULL;
}

static struct nbd_handle *connect_sync(const struct nbd_target *nt, unsigned int timeout_ms,
				       const char **why)
{
	return connect_until(nt, now_ns() + timeout_ms * NS_PER_MS, why);
}

/* A hint for the usual causes of a failed connect. */
static const char *connect_hint(const struct nbd_target *nt, const char *why)
{
	if (strstr(why, "requires TLS"))
		return "; use nbds:// (or --tls with a key or certificates)";
	if (strstr(why, "refused TLS") || strstr(why, "not encrypted"))
		return "; the server does not offer TLS: enable it there (ublkd never "
		       "falls back to plaintext)";
	if (strstr(why, "opt_go") || strstr(why, "export"))
		return "; check the export name (nbdinfo --list URI lists them)";
	if (nt->tls || (nt->uri && !strncmp(nt->uri, "nbds", 4)) || strstr(why, "TLS") ||
	    strstr(why, "gnutls") || strstr(why, "tls"))
		return "; check the TLS key or certificates and the user name";
	if (strstr(why, "refused") || strstr(why, "No such file"))
		return "; is the NBD server running there?";
	if (strstr(why, "timed out"))
		return "; is the server reachable? (--timeout sets the limit)";
	return "";
}

/* Ask the server to close (NBD_CMD_DISC), wait a moment, free the handle. */
static void disconnect(struct nbd_handle *h, unsigned int wait_ms)
{
	const char *why;

	if (!h)
		return;
	if (nbd_aio_is_ready(h) && nbd_aio_in_flight(h) == 0 &&
	    nbd_aio_disconnect(h, 0) == 0)
		run_sync(h, is_closed, NULL, now_ns() + wait_ms * NS_PER_MS, &why);
	nbd_close(h);
}

/* ================================================================ open/close */

static int nt_open(struct ublkd_target *t, struct ublkd_setup *s)
{
	struct nbd_target *nt = get_target(t);
	uint64_t deadline = now_ns() + nt->timeout_s * NS_PER_S;
	struct nbd_handle *h;
	int64_t size, bmin, bpref, bmax;
	uint32_t lbs, pbs;
	const char *why;
	unsigned int q;

	if (!nt)
		return -1;
	if (!nt->desc && check_options(nt) < 0)
		goto err_free;
	h = connect_until(nt, deadline, &why);
	if (!h) {
		ublkd_error("nbd: cannot connect to %s: %s%s", nt->desc, why,
			    connect_hint(nt, why));
		goto err_free;
	}

	size = nbd_get_size(h);
	bmin = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	bpref = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
	bmax = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	if (size < 0 || bmin < 0 || bpref < 0 || bmax < 0) {
		ublkd_error("nbd: %s: cannot read the export's size: %s", nt->desc, nbd_why());
		goto err;
	}
	nt->read_only = nbd_is_read_only(h) == 1;
	nt->can_flush = nbd_can_flush(h) == 1;
	nt->can_fua = nbd_can_fua(h) == 1;
	nt->can_trim = nbd_can_trim(h) == 1;
	nt->can_zero = nbd_can_zero(h) == 1;
	nt->multi_conn = nbd_can_multi_conn(h) == 1;

	/* Block sizes: the server's minimum is the logical block (512 at
	 * least, the page size at most: ublk's limits); its preferred size
	 * the physical block. */
	lbs = bmin > 512 ? (uint32_t)bmin : 512;
	if (lbs > 4096) {
		ublkd_error("nbd: %s needs requests aligned to %" PRId64 " bytes; a ublk "
			    "device's block size is 4096 at most", nt->desc, bmin);
		goto err;
	}
	pbs = bpref > lbs ? (uint32_t)(bpref < 65536 ? bpref : 65536) : lbs;
	nt->max_req = bmax > 0 && bmax < MAX_REQUEST ? (uint32_t)bmax : MAX_REQUEST;
	nt->max_req &= ~(lbs - 1);
	if (!nt->max_req)
		nt->max_req = lbs;

	nt->export_size = (uint64_t)size;
	s->size = nt->export_size;
	if (s->size_limit) {
		if (s->size_limit > nt->export_size) {
			ublkd_error("nbd: -s/--size %" PRIu64 " is larger than the export %s "
				    "(%" PRIu64 " bytes): drop -s or give a smaller size",
				    s->size_limit, nt->desc, nt->export_size);
			goto err;
		}
		s->size = s->size_limit;
	}
	if (s->size % lbs)
		ublkd_info("nbd: %s: serving %" PRIu64 " of %" PRIu64 " bytes (whole "
			   "%u-byte blocks)", nt->desc, s->size - s->size % lbs, s->size, lbs);
	s->size -= s->size % lbs;
	if (s->size == 0) {
		ublkd_error("nbd: the export %s is empty (%" PRIu64 " bytes): nothing to "
			    "serve; check the export name and the server", nt->desc,
			    nt->export_size);
		goto err;
	}
	s->logical_block_size = lbs;
	s->physical_block_size = pbs;
	nt->lbs = lbs;
	if (bmax > 0 && bmax < DEFAULT_MAX_IO)
		s->max_io_bytes = bmax >= 4096 ? (uint32_t)bmax & ~4095U : 4096;
	s->discard_granularity = pbs;

	if (nt->read_only || s->read_only)
		s->flags |= UBLKD_PARAM_READ_ONLY;
	if (nbd_is_rotational(h) == 1)
		s->flags |= UBLKD_PARAM_ROTATIONAL;
	if (nt->can_flush)
		s->flags |= UBLKD_PARAM_VOLATILE_CACHE;
	if (nt->can_flush && nt->can_fua)
		s->flags |= UBLKD_PARAM_FUA;
	if (!(s->flags & UBLKD_PARAM_READ_ONLY)) {
		if (nt->can_trim)
			s->flags |= UBLKD_PARAM_DISCARD;
		if (nt->can_zero)
			s->flags |= UBLKD_PARAM_WRITE_ZEROES;
	}
	if (s->nr_queues > 1 && !nt->multi_conn) {
		ublkd_info("nbd: %s does not advertise multi-conn: serving with 1 queue "
			   "(one connection) instead of %u, so that flushes cover every "
			   "write", nt->desc, s->nr_queues);
		s->nr_queues = 1;
	}
	s->description = nt->desc;
	nt->h0 = h;
	/* Every queue's connection now, within the same --timeout: once the
	 * device exists, setting up its queues never waits for the network,
	 * so a stop signal is never stuck behind a server that hangs. */
	for (q = 1; q < s->nr_queues && q < MAX_QUEUES; q++) {
		nt->spare[q] = connect_until(nt, deadline, &why);
		if (!nt->spare[q]) {
			ublkd_error("nbd: queue %u: cannot connect to %s: %s%s", q, nt->desc,
				    why, connect_hint(nt, why));
			goto err_free;	/* release() frees h0 and the spares */
		}
		if (nbd_get_size(nt->spare[q]) != (int64_t)nt->export_size) {
			ublkd_error("nbd: queue %u: %s changed size between connections", q,
				    nt->desc);
			goto err_free;
		}
	}
	ublkd_debug("nbd: %s: %" PRIu64 " bytes, blocks %" PRId64 "/%" PRId64 "/%" PRId64
		    ", %s%s%s%s%s%s, %s", nt->desc, nt->export_size, bmin, bpref, bmax,
		    nt->read_only ? "read-only" : "read-write",
		    nt->can_flush ? ", flush" : "", nt->can_fua ? ", fua" : "",
		    nt->can_trim ? ", trim" : "", nt->can_zero ? ", zero" : "",
		    nt->multi_conn ? ", multi-conn" : "",
		    nbd_get_tls_negotiated(h) == 1 ? "TLS" : "no TLS");
	return 0;
err:
	nbd_close(h);
err_free:
	/* release() frees the rest, h0 and the spares included (ublkd calls
	 * it last, whatever happened; close() only after an open() that
	 * succeeded). */
	return -1;
}

static void free_target(struct ublkd_target *t)
{
	struct nbd_target *nt = ublkd_target_priv(t);
	unsigned int q;

	if (!nt)
		return;
	if (nt->h0)
		disconnect(nt->h0, 1000);
	for (q = 0; q < MAX_QUEUES; q++)
		if (nt->spare[q])
			disconnect(nt->spare[q], 1000);
	free(nt->uri);
	free(nt->host);
	free(nt->port);
	free(nt->unix_path);
	free(nt->export_name);
	free(nt->tls_psk_file);
	free(nt->tls_certificates);
	free(nt->tls_username);
	free(nt->desc);
	free(nt);
	ublkd_target_set_priv(t, NULL);
}

/* Written data durable before the device goes away: one NBD flush (with
 * multi-conn it covers every connection's completed writes). */
static int nt_flush(struct ublkd_target *t)
{
	struct nbd_target *nt = ublkd_target_priv(t);
	unsigned int ms;
	const char *why;
	int64_t cookie;

	if (!nt || !nt->can_flush || !__atomic_load_n(&nt->dirty, __ATOMIC_RELAXED))
		return 0;
	ms = nt->timeout_s < 10 ? nt->timeout_s * 1000 : 10000;
	if (!nt->h0 || !nbd_aio_is_ready(nt->h0)) {
		if (nt->h0)
			nbd_close(nt->h0);
		nt->h0 = connect_sync(nt, ms, &why);
		if (!nt->h0)
			goto err;
	}
	cookie = nbd_aio_flush(nt->h0, NBD_NULL_COMPLETION, 0);
	if (cookie < 0) {
		why = nbd_why();
		goto err;
	}
	if (run_sync(nt->h0, is_completed, &cookie, now_ns() + ms * NS_PER_MS, &why) < 0) {
		if (!why)
			why = "timed out";
		goto err;
	}
	nt->dirty = 0;
	return 0;
err:
	ublkd_error("nbd: cannot make the data written to %s durable (flush): %s; "
		    "it may be lost if the server crashes", nt->desc, why);
	return -1;
}

static void nt_close(struct ublkd_target *t)
{
	struct nbd_target *nt = ublkd_target_priv(t);
	const uint64_t *n;

	if (!nt)
		return;
	/* ublkd logs what was served; this, what only nbd has. */
	n = nt->stats;
	if (n[ST_RETRY] + n[ST_RECONNECT] + n[ST_STALL])
		ublkd_info("nbd: %s: %" PRIu64 " requests retried, %" PRIu64 " reconnects, %"
			   PRIu64 " stalls of this process forgiven", nt->desc, n[ST_RETRY],
			   n[ST_RECONNECT], n[ST_STALL]);
	free_target(t);
}

/* ================================================================ queues */

struct link {
	struct link *prev, *next;
};

static void list_init(struct link *l) { l->prev = l->next = l; }
static bool list_empty(const struct link *l) { return l->next == l; }

static void list_del(struct link *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

static void list_add_tail(struct link *l, struct link *e)
{
	e->prev = l->prev;
	e->next = l;
	l->prev->next = e;
	l->prev = e;
}

enum conn_state { C_DOWN, C_CONNECTING, C_READY };

struct nbd_queue;

/* Per request (io->priv). */
struct nreq {
	struct link link;	/* in pending, inflight or done */
	struct nbd_queue *nq;
	struct ublkd_io *io;
	uint64_t deadline;	/* fails with EIO after this (see tick()) */
	uint64_t last_chance;	/* arrival + LOST_AFTER x --timeout: never later */
	uint32_t refs;		/* NBD commands outstanding, +1 while issuing */
	int err;		/* first error (positive errno) */
	bool fast;		/* fail if the next connect attempt fails */
};

/* SQE cookies: kind in bits 0-1, a sequence number above. */
enum { K_IGNORE, K_POLL_IN, K_POLL_OUT, K_TIMER };
#define COOKIE(kind, seq)	((uint32_t)(seq) << 2 | (kind))
#define NR_TS			4

struct nbd_queue {
	struct ublkd_queue *q;
	struct nbd_target *nt;
	unsigned int id;
	struct nbd_handle *h;
	enum conn_state state;

	struct { bool armed; uint32_t seq; uint64_t ud; } poll[2];	/* IN, OUT */
	bool repoll;		/* connecting: the socket may have changed */
	uint32_t seq;

	uint64_t timer_due;	/* 0: no timer armed */
	uint32_t timer_seq;
	struct __kernel_timespec ts[NR_TS];

	uint64_t connect_deadline, next_connect, down_since;
	uint64_t last_reply;	/* when the server last answered (or we connected) */
	bool heard;		/* a reply since last_reply was taken */
	unsigned int backoff_ms;
	bool told_failing;

	struct link pending, inflight, done;
	uint64_t stats[NR_ST];
	bool dirty, error_logged;
};

static void arm_poll(struct nbd_queue *nq, int w, int fd)
{
	struct io_uring_sqe *sqe = ublkd_get_sqe(nq->q);

	io_uring_prep_poll_add(sqe, fd, w ? POLLOUT : POLLIN);
	nq->poll[w].seq = ++nq->seq & 0x3fffffff;
	ublkd_sqe_set_data(sqe, NULL, COOKIE(w ? K_POLL_OUT : K_POLL_IN, nq->poll[w].seq));
	nq->poll[w].ud = sqe->user_data;
	nq->poll[w].armed = true;
}

/* A poll holds the socket's file: cancel it before libnbd closes the fd
 * or the socket would linger until the poll fires. */
static void cancel_polls(struct nbd_queue *nq)
{
	int w;

	for (w = 0; w < 2; w++) {
		struct io_uring_sqe *sqe;

		if (!nq->poll[w].armed)
			continue;
		sqe = ublkd_get_sqe(nq->q);
		io_uring_prep_cancel64(sqe, nq->poll[w].ud, 0);
		ublkd_sqe_set_data(sqe, NULL, COOKIE(K_IGNORE, 0));
		nq->poll[w].armed = false;
	}
}

/* Watch the socket the way libnbd wants it watched. */
static void sync_polls(struct nbd_queue *nq)
{
	int fd, dir;

	if (!nq->h || nq->state == C_DOWN) {
		cancel_polls(nq);
		return;
	}
	if (nq->repoll) {
		cancel_polls(nq);
		nq->repoll = false;
	}
	fd = nbd_aio_get_fd(nq->h);
	dir = nbd_aio_get_direction(nq->h);
	if (fd < 0)
		return;
	if ((dir & LIBNBD_AIO_DIRECTION_READ) && !nq->poll[0].armed)
		arm_poll(nq, 0, fd);
	if ((dir & LIBNBD_AIO_DIRECTION_WRITE) && !nq->poll[1].armed)
		arm_poll(nq, 1, fd);
}

static void arm_timer(struct nbd_queue *nq, uint64_t now, uint64_t due)
{
	struct io_uring_sqe *sqe = ublkd_get_sqe(nq->q);
	struct __kernel_timespec *ts;
	uint64_t d = due > now ? due - now : 0;

	if (d < NS_PER_MS)
		d = NS_PER_MS;
	if (d > TICK_MAX_MS * NS_PER_MS)
		d = TICK_MAX_MS * NS_PER_MS;
	nq->timer_seq = ++nq->seq & 0x3fffffff;
	/* The kernel reads ts when the SQE is submitted: one slot per
	 * timer, rotating, so re-arming before a submit is harmless. */
	ts = &nq->ts[nq->timer_seq % NR_TS];
	ts->tv_sec = d / NS_PER_S;
	ts->tv_nsec = d % NS_PER_S;
	io_uring_prep_timeout(sqe, ts, 0, 0);
	ublkd_sqe_set_data(sqe, NULL, COOKIE(K_TIMER, nq->timer_seq));
	nq->timer_due = now + d;
}

/* When the queue next has to look at the clock, or 0 for never. */
static uint64_t next_event(struct nbd_queue *nq)
{
	uint64_t due = UINT64_MAX;
	struct link *l;

	if (nq->state == C_DOWN)
		due = nq->next_connect;
	else if (nq->state == C_CONNECTING)
		due = nq->connect_deadline;
	for (l = nq->pending.next; l != &nq->pending; l = l->next)
		if (((struct nreq *)l)->deadline < due)
			due = ((struct nreq *)l)->deadline;
	for (l = nq->inflight.next; l != &nq->inflight; l = l->next)
		if (((struct nreq *)l)->deadline < due)
			due = ((struct nreq *)l)->deadline;
	return due == UINT64_MAX ? 0 : due;
}

static void update_timer(struct nbd_queue *nq)
{
	uint64_t due, now;

	if (nq->state == C_READY && list_empty(&nq->pending) && list_empty(&nq->inflight))
		return;
	if (nq->timer_due && nq->state == C_READY)
		return;		/* deadlines are >= 1 s away: the tick will do */
	due = next_event(nq);
	if (!due)
		return;
	now = now_ns();
	if (nq->timer_due && nq->timer_due <= due + NS_PER_MS)
		return;		/* the armed timer comes first anyway */
	arm_timer(nq, now, due);
}

static void finish(struct nbd_queue *nq, struct nreq *r, int res)
{
	struct ublkd_io *io = r->io;

	list_del(&r->link);
	if (res >= 0) {
		if (io->op == UBLKD_OP_FLUSH)
			nq->dirty = false;
		else if (io->op != UBLKD_OP_READ)
			nq->dirty = true;
	}
	ublkd_complete(nq->q, io, res);
}

/* A request failed for good. */
static void fail(struct nbd_queue *nq, struct nreq *r, int err, const char *why)
{
	struct ublkd_io *io = r->io;

	if (!nq->error_logged) {
		nq->error_logged = true;
		ublkd_warn("nbd: %s: %s of %u bytes at offset %" PRIu64 " failed: %s (reported "
			   "as an I/O error; later failures on queue %u are only counted)",
			   nq->nt->desc, ublkd_op_name(io->op), io->len, io->offset,
			   why ? why : strerror(err), nq->id);
	}
	finish(nq, r, err == ENOSPC ? -ENOSPC : -EIO);
}

static void put_ref(struct nreq *r)
{
	if (--r->refs == 0) {
		list_del(&r->link);
		list_add_tail(&r->nq->done, &r->link);
	}
}

/* libnbd's completion callback: it may not call libnbd, so only record. */
static int on_reply(void *user_data, int *error)
{
	struct nreq *r = user_data;

	if (*error && !r->err)
		r->err = *error;
	r->nq->heard = true;
	put_ref(r);
	return 1;	/* retire the command */
}

static bool handle_gone(struct nbd_handle *h)
{
	return nbd_aio_is_dead(h) || nbd_aio_is_closed(h);
}

/* Send r as one or more NBD commands on the ready connection. */
static void issue(struct nbd_queue *nq, struct nreq *r)
{
	struct nbd_target *nt = nq->nt;
	struct ublkd_io *io = r->io;
	struct nbd_handle *h = nq->h;
	nbd_completion_callback cb = { .callback = on_reply, .user_data = r };
	uint32_t fua = (io->flags & UBLKD_IO_FUA) && nt->can_fua ? LIBNBD_CMD_FLAG_FUA : 0;
	uint32_t off = 0, n;
	int64_t c = 0;

	r->err = 0;
	r->refs = 1;
	list_add_tail(&nq->inflight, &r->link);
	if (handle_gone(h)) {
		/* Died since the last look (keep libnbd's message for the log). */
		r->err = ENOTCONN;
		put_ref(r);
		return;
	}
	switch (io->op) {
	case UBLKD_OP_READ:
	case UBLKD_OP_WRITE:
		for (; off < io->len && c >= 0; off += n) {
			n = io->len - off < nt->max_req ? io->len - off : nt->max_req;
			r->refs++;
			if (io->op == UBLKD_OP_READ)
				c = nbd_aio_pread(h, (char *)io->buf + off, n, io->offset + off,
						  cb, 0);
			else
				c = nbd_aio_pwrite(h, (char *)io->buf + off, n, io->offset + off,
						   cb, fua);
		}
		break;
	case UBLKD_OP_FLUSH:
		r->refs++;
		c = nbd_aio_flush(h, cb, 0);
		break;
	case UBLKD_OP_DISCARD:
		r->refs++;
		c = nbd_aio_trim(h, io->len, io->offset, cb, fua);
		break;
	case UBLKD_OP_WRITE_ZEROES:
		r->refs++;
		c = nbd_aio_zero(h, io->len, io->offset, cb, fua |
				 (io->flags & UBLKD_IO_NOUNMAP ? LIBNBD_CMD_FLAG_NO_HOLE : 0));
		break;
	default:
		r->refs++;
		c = -1;
		break;
	}
	if (c < 0) {
		/* Not queued: its callback will not run.  A dead connection
		 * means retry; anything else (bounds, alignment) is final. */
		r->refs--;
		if (!r->err) {
			if (handle_gone(h)) {
				r->err = ENOTCONN;
			} else {
				int e = nbd_get_errno();

				ublkd_debug("nbd: queue %u: cannot send %s: %s", nq->id,
					    ublkd_op_name(io->op), nbd_why());
				r->err = e > 0 && e != ENOTCONN && e != ESHUTDOWN ? e : EIO;
			}
		}
	}
	put_ref(r);
}

static bool retryable(int err)
{
	return err == ENOTCONN || err == ESHUTDOWN;
}

/* Complete, retry or fail what libnbd finished. */
static void process_done(struct nbd_queue *nq)
{
	while (!list_empty(&nq->done)) {
		struct nreq *r = (struct nreq *)nq->done.next;
		struct ublkd_io *io = r->io;

		if (!r->err) {
			finish(nq, r, io->op == UBLKD_OP_READ || io->op == UBLKD_OP_WRITE ?
				      (int)io->len : 0);
		} else if (retryable(r->err) && now_ns() < r->deadline) {
			nq->stats[ST_RETRY]++;
			list_del(&r->link);
			list_add_tail(&nq->pending, &r->link);
		} else if (retryable(r->err)) {
			fail(nq, r, EIO, "the server is unreachable");
		} else {
			fail(nq, r, r->err, NULL);
		}
	}
}

/* The connection is gone (or we drop it): every request on it goes to
 * done as ENOTCONN, to be retried on the next connection. */
static void drop_connection(struct nbd_queue *nq)
{
	cancel_polls(nq);
	if (nq->h)
		nbd_close(nq->h);	/* runs no completion callback */
	nq->h = NULL;
	while (!list_empty(&nq->inflight)) {
		struct nreq *r = (struct nreq *)nq->inflight.next;

		r->err = ENOTCONN;
		r->refs = 0;
		list_del(&r->link);
		list_add_tail(&nq->done, &r->link);
	}
}

static void conn_lost(struct nbd_queue *nq, const char *why)
{
	uint64_t now = now_ns();

	ublkd_warn("nbd: queue %u: lost the connection to %s: %s; reconnecting (I/O "
		   "waits up to %u s)", nq->id, nq->nt->desc, why, nq->nt->timeout_s);
	drop_connection(nq);
	nq->state = C_DOWN;
	nq->down_since = now;
	nq->next_connect = now;
	nq->backoff_ms = BACKOFF_MIN_MS;
	nq->told_failing = false;
}

static void connect_failed(struct nbd_queue *nq, const char *why)
{
	uint64_t now = now_ns();
	struct link *l, *next;

	ublkd_debug("nbd: queue %u: reconnecting to %s failed: %s; next try in %u ms",
		    nq->id, nq->nt->desc, why, nq->backoff_ms);
	drop_connection(nq);
	for (l = nq->pending.next; l != &nq->pending; l = next) {
		next = l->next;
		if (((struct nreq *)l)->fast)
			fail(nq, (struct nreq *)l, EIO, "the server is unreachable");
	}
	nq->state = C_DOWN;
	nq->next_connect = now + nq->backoff_ms * NS_PER_MS;
	nq->backoff_ms = nq->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : nq->backoff_ms * 2;
}

static void start_reconnect(struct nbd_queue *nq)
{
	const struct nbd_target *nt = nq->nt;
	unsigned int ms = nt->timeout_s * 1000 < CONNECT_MAX_MS ? nt->timeout_s * 1000 :
			  CONNECT_MAX_MS;

	nq->h = new_handle(nt);
	if (!nq->h) {
		connect_failed(nq, nbd_why());
		return;
	}
	nq->state = C_CONNECTING;
	nq->connect_deadline = now_ns() + ms * NS_PER_MS;
	nq->repoll = true;
	if (start_connect(nt, nq->h) < 0)
		connect_failed(nq, nbd_why());
}

static void connected(struct nbd_queue *nq)
{
	int64_t size = nbd_get_size(nq->h);
	const char *why = tls_refused(nq->nt, nq->h);

	if (why) {
		ublkd_warn("nbd: queue %u: %s: %s", nq->id, nq->nt->desc, why);
		connect_failed(nq, why);
		return;
	}

	if (size != (int64_t)nq->nt->export_size) {
		ublkd_warn("nbd: queue %u: %s now has %" PRId64 " bytes, not %" PRIu64
			   ": not using it", nq->id, nq->nt->desc, size, nq->nt->export_size);
		connect_failed(nq, "the export changed size");
		return;
	}
	nq->state = C_READY;
	nq->last_reply = now_ns();
	nq->backoff_ms = BACKOFF_MIN_MS;
	nq->stats[ST_RECONNECT]++;
	ublkd_count_reconnect(ublkd_queue_target(nq->q));	/* ublk stat's reconnects */
	ublkd_info("nbd: queue %u: reconnected to %s after %.1f s", nq->id, nq->nt->desc,
		   (double)(now_ns() - nq->down_since) / NS_PER_S);
	nq->down_since = 0;
}

/* The timer came late by `late` ns: this process did not run (a starved or
 * paused VM, SIGSTOP), and so neither heard the server nor let it hear us.
 * That time is not the server's: every deadline moves on by it, so that a
 * stall of the client is never reported as an unreachable server. */
static void forgive_stall(struct nbd_queue *nq, uint64_t late)
{
	struct link *l;

	for (l = nq->pending.next; l != &nq->pending; l = l->next) {
		((struct nreq *)l)->deadline += late;
		((struct nreq *)l)->last_chance += late;
	}
	for (l = nq->inflight.next; l != &nq->inflight; l = l->next) {
		((struct nreq *)l)->deadline += late;
		((struct nreq *)l)->last_chance += late;
	}
	nq->last_reply += late;
	if (nq->state == C_CONNECTING)
		nq->connect_deadline += late;
	if (nq->down_since)
		nq->down_since += late;
	nq->stats[ST_STALL]++;
	ublkd_info("nbd: queue %u: this process did not run for %.1f s (machine overloaded, "
		   "or stopped): the server's --timeout does not count that time", nq->id,
		   (double)late / NS_PER_S);
}

/* Did the server answer since the last look?  (on_reply() only sets
 * nq->heard: no clock read per reply.) */
static void note_replies(struct nbd_queue *nq)
{
	if (nq->heard) {
		nq->heard = false;
		nq->last_reply = now_ns();
	}
}

/* The timer: deadlines, hung servers, slow connects. */
static void tick(struct nbd_queue *nq, uint64_t due)
{
	uint64_t now = now_ns();
	struct link *l, *next;

	note_replies(nq);
	if (now > due + STALL_MIN_MS * NS_PER_MS)
		forgive_stall(nq, now - due);

	for (l = nq->pending.next; l != &nq->pending; l = next) {
		struct nreq *r = (struct nreq *)l;

		next = l->next;
		if (now < r->deadline)
			continue;
		if (!nq->told_failing) {
			nq->told_failing = true;
			ublkd_warn("nbd: queue %u: %s unreachable for %u s: failing I/O with "
				   "EIO until it is back", nq->id, nq->nt->desc,
				   nq->nt->timeout_s);
		}
		finish(nq, r, -EIO);
	}
	if (nq->state == C_READY) {
		/* A server that answers is slow, not gone: behind a deep queue a
		 * request may wait longer than --timeout for its turn.  Only when
		 * nothing has come back for --timeout (or a request has waited
		 * LOST_AFTER timeouts: its reply was lost) is the connection dead. */
		uint64_t quiet_until = nq->last_reply + nq->nt->timeout_s * NS_PER_S;

		for (l = nq->inflight.next; l != &nq->inflight; l = l->next) {
			struct nreq *r = (struct nreq *)l;

			if (now < r->deadline)
				continue;
			if (now < quiet_until && quiet_until < r->last_chance) {
				r->deadline = quiet_until;
				continue;
			}
			conn_lost(nq, now < quiet_until ? "one request had no reply though others "
				  "did (a lost reply)" : "no reply within the timeout");
			break;
		}
	} else if (nq->state == C_CONNECTING && now >= nq->connect_deadline) {
		connect_failed(nq, "timed out");
	}
}

/* Has libnbd given up on the connection?  Say so while its message is
 * fresh. */
static bool check_handle(struct nbd_queue *nq)
{
	if (!nq->h || nq->state == C_DOWN || !handle_gone(nq->h))
		return false;
	if (nq->state == C_READY)
		conn_lost(nq, nbd_why());
	else
		connect_failed(nq, nbd_why());
	return true;
}

static void queue_idle(struct ublkd_queue *q)
{
	struct nbd_queue *nq = ublkd_queue_priv(q);
	int rounds;

	note_replies(nq);
	for (rounds = 0; rounds < 64; rounds++) {
		process_done(nq);
		if (check_handle(nq))
			continue;
		if (nq->state == C_CONNECTING && nbd_aio_is_ready(nq->h)) {
			connected(nq);
			continue;
		}
		if (nq->state == C_DOWN && now_ns() >= nq->next_connect) {
			start_reconnect(nq);
			continue;
		}
		if (nq->state == C_READY && !list_empty(&nq->pending)) {
			while (!list_empty(&nq->pending)) {
				struct nreq *r = (struct nreq *)nq->pending.next;

				list_del(&r->link);
				issue(nq, r);
			}
			continue;
		}
		if (list_empty(&nq->done))
			break;
	}
	sync_polls(nq);
	update_timer(nq);
}

static void queue_io(struct ublkd_queue *q, struct ublkd_io *io)
{
	struct nbd_queue *nq = ublkd_queue_priv(q);
	struct nreq *r = io->priv;
	uint64_t now = now_ns();

	r->nq = nq;
	r->io = io;
	r->deadline = now + nq->nt->timeout_s * NS_PER_S;
	r->last_chance = now + LOST_AFTER * nq->nt->timeout_s * NS_PER_S;
	r->fast = false;
	list_init(&r->link);
	if (io->op == UBLKD_OP_FLUSH && !nq->nt->can_flush) {
		finish(nq, r, 0);
		return;
	}
	if (nq->state == C_READY) {
		issue(nq, r);
		return;
	}
	/* Down for the whole timeout already: do not wait another timeout,
	 * try the server once more now and fail if that fails. */
	if (nq->down_since && now - nq->down_since >= nq->nt->timeout_s * NS_PER_S) {
		r->fast = true;
		if (nq->state == C_DOWN)
			nq->next_connect = now;
	}
	list_add_tail(&nq->pending, &r->link);
}

static void io_done(struct ublkd_queue *q, struct ublkd_io *io, uint32_t cookie,
		    const struct io_uring_cqe *cqe)
{
	struct nbd_queue *nq = ublkd_queue_priv(q);
	uint32_t kind = cookie & 3, seq = cookie >> 2;
	int w, dir, res = cqe->res;
	uint64_t due;

	(void)io;
	switch (kind) {
	case K_TIMER:
		if (seq != nq->timer_seq)
			return;		/* an earlier timer, superseded */
		due = nq->timer_due;
		nq->timer_due = 0;
		tick(nq, due);
		return;
	case K_POLL_IN:
	case K_POLL_OUT:
		w = kind == K_POLL_OUT;
		if (!nq->poll[w].armed || seq != nq->poll[w].seq)
			return;		/* cancelled, or for an older socket */
		nq->poll[w].armed = false;
		if (!nq->h || res < 0)
			return;
		dir = nbd_aio_get_direction(nq->h);
		if (nq->state == C_CONNECTING)
			nq->repoll = true;
		if (w == 0 && (dir & LIBNBD_AIO_DIRECTION_READ))
			nbd_aio_notify_read(nq->h);
		else if (w == 1 && (dir & LIBNBD_AIO_DIRECTION_WRITE))
			nbd_aio_notify_write(nq->h);
		else if (res & (POLLERR | POLLHUP)) {
			if (dir & LIBNBD_AIO_DIRECTION_READ)
				nbd_aio_notify_read(nq->h);
			else if (dir & LIBNBD_AIO_DIRECTION_WRITE)
				nbd_aio_notify_write(nq->h);
		}
		check_handle(nq);
		return;
	}
}

static int queue_init(struct ublkd_queue *q)
{
	struct nbd_target *nt = ublkd_target_priv(ublkd_queue_target(q));
	struct nbd_queue *nq = calloc(1, sizeof(*nq));
	const char *why;

	if (!nq)
		return -ENOMEM;
	nq->q = q;
	nq->nt = nt;
	nq->id = ublkd_queue_id(q);
	nq->backoff_ms = BACKOFF_MIN_MS;
	list_init(&nq->pending);
	list_init(&nq->inflight);
	list_init(&nq->done);
	if (nq->id == 0 && nt->h0) {
		nq->h = nt->h0;
		nt->h0 = NULL;
	} else if (nq->id < MAX_QUEUES && nt->spare[nq->id]) {
		nq->h = nt->spare[nq->id];
		nt->spare[nq->id] = NULL;
	} else {
		/* A recovered device may have more queues than open() knew. */
		nq->h = connect_sync(nt, nt->timeout_s * 1000, &why);
		if (!nq->h) {
			ublkd_error("nbd: queue %u: cannot connect to %s: %s%s", nq->id,
				    nt->desc, why, connect_hint(nt, why));
			free(nq);
			return -EIO;
		}
		if (nbd_get_size(nq->h) != (int64_t)nt->export_size) {
			ublkd_error("nbd: queue %u: %s changed size between connections", nq->id,
				    nt->desc);
			nbd_close(nq->h);
			free(nq);
			return -EIO;
		}
	}
	nq->state = C_READY;
	nq->last_reply = now_ns();
	ublkd_queue_set_priv(q, nq);
	return 0;
}

static void queue_exit(struct ublkd_queue *q)
{
	struct nbd_queue *nq = ublkd_queue_priv(q);
	struct nbd_target *nt;
	int i;

	if (!nq)
		return;
	nt = nq->nt;
	/* The ring goes away with the queue, and with it the polls.  Queue
	 * 0's connection serves flush() and close(), unless commands are
	 * still on it (the kernel aborted them): their buffers go away with
	 * the queue, so libnbd must not see their replies. */
	if (nq->h) {
		if (nq->id == 0 && nq->state == C_READY && !handle_gone(nq->h) &&
		    list_empty(&nq->inflight) && nbd_aio_in_flight(nq->h) == 0)
			nt->h0 = nq->h;
		else
			disconnect(nq->h, 1000);
	}
	for (i = 0; i < NR_ST; i++)
		__atomic_fetch_add(&nt->stats[i], nq->stats[i], __ATOMIC_RELAXED);
	if (nq->dirty)
		__atomic_store_n(&nt->dirty, 1, __ATOMIC_RELAXED);
	free(nq);
	ublkd_queue_set_priv(q, NULL);
}

/* `ublk resize`: libnbd reads the export's size once, when it connects,
 * and refuses requests past it; every queue's connection checks that the
 * export still has that size.  So a device can shrink, or grow back, up
 * to the size at connect time; following an export the server grew takes
 * a new device. */
static int nt_new_size(struct ublkd_target *t, uint64_t *size)
{
	struct nbd_target *nt = ublkd_target_priv(t);

	if (!*size) {
		ublkd_error("nbd: the export's size is read once, at connect (libnbd cannot read "
			    "it again): give -s SIZE, at most %" PRIu64 " bytes; for an export the "
			    "server grew, delete the device and add it again", nt->export_size);
		return -1;
	}
	if (*size > nt->export_size) {
		ublkd_error("nbd: -s %" PRIu64 " is larger than the export %s (%" PRIu64 " bytes "
			    "at connect): give a smaller -s; for an export the server grew, "
			    "delete the device and add it again", *size, nt->desc, nt->export_size);
		return -1;
	}
	if (*size % nt->lbs) {
		ublkd_error("nbd: -s %" PRIu64 " is not a multiple of the %u-byte block size "
			    "of %s: round it", *size, nt->lbs, nt->desc);
		return -1;
	}
	return 0;
}

static const struct ublkd_target_ops nt_ops = {
	.api_version	= UBLKD_TARGET_API_VERSION,
	.struct_size	= sizeof(struct ublkd_target_ops),
	.option_size	= sizeof(struct ublkd_option),
	.name		= "nbd",
	.description	= "a remote NBD export (nbdkit, qemu-nbd, nbd-server) through libnbd",
	.io_priv_size	= sizeof(struct nreq),
	.options	= nt_options,
	.config		= nt_config,
	.open		= nt_open,
	.flush		= nt_flush,
	.close		= nt_close,
	.check		= nt_check,
	.release	= free_target,
	.new_size	= nt_new_size,
	.queue_init	= queue_init,
	.queue_exit	= queue_exit,
	.queue_io	= queue_io,
	.io_done	= io_done,
	.queue_idle	= queue_idle,
};

UBLKD_REGISTER_TARGET(nt_ops)
