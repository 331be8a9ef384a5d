/* SPDX-License-Identifier: MIT */
/*
 * loop - a ublk disk over a regular file or another block device.
 *
 * Setup (main thread): open the backing, decide direct or buffered I/O and
 * the block size, probe what discard/write-zeroes can do, fill the setup.
 *
 * Data path (queue threads): every request becomes SQEs on the queue's
 * io_uring, never a blocking call on the queue thread:
 *   READ/WRITE     ublkd_prep_rw() (so every data mode, zero copy too,
 *                  works unchanged) on the backing registered as each
 *                  queue's fixed file; a short transfer is resubmitted for
 *                  the rest, and no progress (EOF of a shrunk file) is EIO
 *   WRITE + FUA    the same with RWF_DSYNC
 *   FLUSH          fsync(IORING_FSYNC_DATASYNC)
 *   DISCARD        file: fallocate(PUNCH_HOLE|KEEP_SIZE);
 *                  block device: BLOCK_URING_CMD_DISCARD (Linux 6.12+),
 *                  else a BLKDISCARD ioctl
 *   WRITE_ZEROES   fallocate(PUNCH_HOLE) when unmapping is allowed, else
 *                  fallocate(ZERO_RANGE); where ZERO_RANGE is missing
 *                  (tmpfs) PUNCH_HOLE then a plain fallocate to keep the
 *                  range allocated
 *   --integrity    (with --metadata FILE) beside a READ's or WRITE's data,
 *                  its protection information tuples are read from or
 *                  written to FILE (metadata.c), in parallel; a FLUSH
 *                  syncs FILE too, a DISCARD or WRITE_ZEROES punches the
 *                  blocks' tuples out of it (zeroes: never written)
 * A failed backing operation completes the request with its -errno: the
 * application sees an I/O error on that request and the device keeps
 * serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <ublkd/target.h>
#include "metadata.h"

#ifndef BLOCK_URING_CMD_DISCARD
#define BLOCK_URING_CMD_DISCARD	_IO(0x12, 0)	/* <linux/blkdev.h>, Linux 6.12 */
#endif
#ifndef RAMFS_MAGIC
#define RAMFS_MAGIC		0x858458f6
#endif

#define MAX_DIO_ALIGN		4096U	/* larger alignments: buffered I/O */
#define MAX_RETRIES		16	/* -EAGAIN/-EINTR resubmissions per step */

/* What a target SQE was for (the cookie). */
enum step {
	STEP_RW = 1,
	STEP_FLUSH,
	STEP_DISCARD,		/* fallocate PUNCH_HOLE or block discard cmd */
	STEP_WZ_PUNCH,		/* write-zeroes, unmap allowed */
	STEP_WZ_ZERO,		/* write-zeroes, ZERO_RANGE */
	STEP_WZ_PUNCH_ALLOC,	/* NOUNMAP without ZERO_RANGE: punch ... */
	STEP_WZ_ALLOC,		/* ... then allocate again */
	STEP_MD,		/* --integrity: the request's metadata */
	STEP_MD_FLUSH,		/* --integrity: fsync of the metadata file */
	STEP_MD_PUNCH,		/* --integrity: discarded blocks' tuples */
};

struct loop {
	/* options */
	char	*path;
	uint64_t offset;
	int	 buffered;
	int	 shared;	/* --shared: others may serve the backing too */
	struct loop_md md;	/* --metadata (path), for --integrity */
	/* backing */
	int	 fd;
	int	 is_blk;
	int	 read_only;
	int	 direct;
	uint32_t lbs;
	uint64_t size;
	char	 note[512];	/* why buffered: said once the device is set up */
};

struct loop_queue {
	struct loop *lo;
	int	 no_zero_range;		/* fallocate ZERO_RANGE unsupported */
	int	 no_wz_punch;		/* block device: no unmapping zeroout */
	int	 no_discard_cmd;	/* no BLOCK_URING_CMD_DISCARD: ioctl */
	int	 errors_logged;
};

/* Per request, in io->priv. */
struct loop_io {
	uint32_t done;		/* bytes moved so far */
	uint16_t retries;
	uint8_t	 pending;	/* SQEs in flight: the data's, and with
				 * --integrity the metadata's beside it */
	int32_t	 err;		/* the first of their errors, or 0 */
};

/* ================================================================ setup */

static const struct ublkd_option loop_options[] = {
	{ .name = "file", .short_name = 'f', .has_arg = 1, .arg_name = "PATH",
	  .help = "backing regular file or block device (required)",
	  .type = UBLKD_OPT_PATH, .flags = UBLKD_OPT_BACKING | UBLKD_OPT_REQUIRED },
	{ .name = "offset", .short_name = 'o', .has_arg = 1, .arg_name = "BYTES",
	  .help = "start this far into the backing (multiple of 512; K/M/G)",
	  .type = UBLKD_OPT_SIZE },
	{ .name = "buffered", .help = "use the page cache instead of direct I/O",
	  .type = UBLKD_OPT_BOOL },
	{ .name = "buffered-io", .help = "the same as --buffered (ublksrv's --buffered_io)",
	  .type = UBLKD_OPT_BOOL },
	{ .name = "shared", .help = "allow other devices with --shared on the same backing",
	  .type = UBLKD_OPT_BOOL },
	{ .name = "metadata", .has_arg = 1, .arg_name = "FILE",
	  .help = "with --integrity: the blocks' protection information (an empty file is sized)",
	  .type = UBLKD_OPT_PATH, .flags = UBLKD_OPT_BACKING },
	{ .name = NULL },
};

static struct loop *loop_get(struct ublkd_target *t)
{
	struct loop *lo = ublkd_target_priv(t);

	if (!lo) {
		lo = calloc(1, sizeof(*lo));
		if (!lo)
			return NULL;
		lo->fd = -1;
		lo->md.fd = -1;
		ublkd_target_set_priv(t, lo);
	}
	return lo;
}

static void loop_free(struct ublkd_target *t)
{
	struct loop *lo = ublkd_target_priv(t);

	if (!lo)
		return;
	if (lo->fd >= 0)
		close(lo->fd);
	md_close(&lo->md);
	free(lo->path);
	free(lo);
	ublkd_target_set_priv(t, NULL);
}

static int loop_config(struct ublkd_target *t, const char *name, const char *value)
{
	struct loop *lo = loop_get(t);

	if (!lo) {
		ublkd_error("loop: out of memory");
		return -1;
	}
	if (!strcmp(name, "file")) {
		free(lo->path);
		lo->path = strdup(value);
		if (!lo->path) {
			ublkd_error("loop: out of memory");
			return -1;
		}
		return 0;
	}
	if (!strcmp(name, "offset")) {
		if (ublkd_parse_size(value, &lo->offset) < 0 || lo->offset % 512) {
			ublkd_error("invalid value '%s' for --offset: expected a byte count "
				    "that is a multiple of 512, such as 0, 4096 or 1M", value);
			return -1;
		}
		return 0;
	}
	if (!strcmp(name, "metadata")) {
		free(lo->md.path);
		lo->md.path = strdup(value);
		if (!lo->md.path) {
			ublkd_error("loop: out of memory");
			return -1;
		}
		return 0;
	}
	if (!strcmp(name, "shared")) {
		lo->shared = 1;
		return 0;
	}
	if (!strcmp(name, "buffered") || !strcmp(name, "buffered-io")) {
		lo->buffered = 1;
		return 0;
	}
	ublkd_error("loop: unknown option --%s; see 'ublk help -t loop'", name);
	return -1;
}

/* Open the backing with the right access mode; one-line errors. */
static int open_backing(struct loop *lo, int read_only)
{
	const char *p = lo->path;
	struct stat st;
	int fd, err;

	if (stat(p, &st) < 0) {
		err = errno;
		if (err == ENOENT)
			ublkd_error("loop: backing file %s does not exist: create it first "
				    "(e.g. truncate -s 1G %s) or fix the -f path", p, p);
		else if (err == EACCES)
			ublkd_error("loop: cannot reach backing file %s: permission denied: "
				    "run as a user who may open it, or fix the permissions", p);
		else
			ublkd_error("loop: cannot open backing file %s: %s: fix the -f path",
				    p, strerror(err));
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		ublkd_error("loop: %s is a directory: -f needs a regular file or a block "
			    "device", p);
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		ublkd_error("loop: %s is not a regular file or a block device: -f needs "
			    "one of those", p);
		return -1;
	}

	fd = open(p, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && !read_only && (errno == EROFS || errno == EACCES || errno == EPERM ||
				      errno == ETXTBSY)) {
		err = errno;
		fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0) {
			close(fd);
			ublkd_error("loop: %s is read-only (%s): add --read-only to export "
				    "it read-only, or make it writable", p, strerror(err));
			return -1;
		}
		errno = err;
	}
	if (fd < 0) {
		err = errno;
		if (err == EACCES || err == EPERM)
			ublkd_error("loop: cannot open %s: permission denied: run as a user "
				    "who may %s it, or fix its permissions", p,
				    read_only ? "read" : "read and write");
		else if (err == EBUSY)
			ublkd_error("loop: cannot open %s: the block device is in exclusive "
				    "use (mounted or held by another driver): release it first", p);
		else
			ublkd_error("loop: cannot open %s: %s", p, strerror(err));
		return -1;
	}
	/* O_NONBLOCK only guarded the open; I/O goes through io_uring. */
	if (fcntl(fd, F_SETFL, 0) < 0 || fstat(fd, &st) < 0 ||
	    (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
		ublkd_error("loop: %s changed while being opened: retry", p);
		close(fd);
		return -1;
	}
	lo->fd = fd;
	lo->is_blk = S_ISBLK(st.st_mode);
	return 0;
}

/* sysfs queue attribute of a block device (partitions: of the disk). */
static int blk_queue_attr(dev_t rdev, const char *attr, uint64_t *val)
{
	char path[128];
	unsigned long long v;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/%s",
		 major(rdev), minor(rdev), attr);
	f = fopen(path, "re");
	if (!f) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/../queue/%s",
			 major(rdev), minor(rdev), attr);
		f = fopen(path, "re");
	}
	if (!f)
		return -1;
	ok = fscanf(f, "%llu", &v) == 1;
	fclose(f);
	if (!ok)
		return -1;
	*val = v;
	return 0;
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Direct I/O alignment of a regular file opened with O_DIRECT: statx
 * STATX_DIOALIGN where the kernel and file system report it, else a
 * 512-byte O_DIRECT read decides between 512 and 4096.  0: no usable
 * direct I/O. */
static uint32_t file_dio_align(int fd)
{
	struct statx stx;
	uint32_t align = 0;
	void *buf;
	ssize_t n;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		if (!stx.stx_dio_offset_align || stx.stx_dio_mem_align > MAX_DIO_ALIGN)
			return 0;
		align = stx.stx_dio_offset_align;
		return align < 512 ? 512 : is_pow2(align) && align <= MAX_DIO_ALIGN ? align : 0;
	}
	if (posix_memalign(&buf, MAX_DIO_ALIGN, MAX_DIO_ALIGN))
		return 0;
	/* The file holds at least 512 bytes (checked before). */
	n = pread(fd, buf, 512, 0);
	if (n >= 0)
		align = 512;
	else if (errno == EINVAL && pread(fd, buf, MAX_DIO_ALIGN, 0) >= 0)
		align = MAX_DIO_ALIGN;
	free(buf);
	return align;
}

/* Switch the backing to O_DIRECT if it can do it; say why not once. */
static void choose_io_mode(struct loop *lo, uint32_t blk_lbs)
{
	const char *p = lo->path;
	struct statfs sfs;
	uint32_t align;

	lo->direct = 0;
	lo->lbs = lo->is_blk ? blk_lbs : 512;
	if (lo->buffered)
		return;
	if (!lo->is_blk && fstatfs(lo->fd, &sfs) == 0 &&
	    (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC)) {
		snprintf(lo->note, sizeof(lo->note), "loop: %s is on %s, which has no direct "
			 "I/O: using buffered I/O", p, sfs.f_type == TMPFS_MAGIC ? "tmpfs" : "ramfs");
		return;
	}
	if (fcntl(lo->fd, F_SETFL, O_DIRECT) < 0) {
		snprintf(lo->note, sizeof(lo->note), "loop: %s does not support direct I/O "
			 "(%s): using buffered I/O", p, strerror(errno));
		return;
	}
	align = lo->is_blk ? blk_lbs : file_dio_align(lo->fd);
	if (!align) {
		snprintf(lo->note, sizeof(lo->note), "loop: %s does not support usable direct "
			 "I/O: using buffered I/O", p);
	} else if (lo->offset % align) {
		snprintf(lo->note, sizeof(lo->note), "loop: --offset %" PRIu64 " is not a "
			 "multiple of the %u-byte direct I/O alignment of %s: using buffered I/O",
			 lo->offset, align, p);
	} else {
		lo->direct = 1;
		lo->lbs = align;
		return;
	}
	if (fcntl(lo->fd, F_SETFL, 0) < 0)
		ublkd_warn("loop: cannot clear O_DIRECT on %s: %s", p, strerror(errno));
}

/* Can the file punch holes?  Punching past its end changes nothing but
 * fails with EOPNOTSUPP where the file system has no hole punching. */
static int file_can_punch(int fd, uint64_t file_size)
{
	uint64_t past = (file_size + (1ULL << 20)) & ~((1ULL << 20) - 1);

	return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)past, 1 << 16) == 0;
}

/* --integrity wants a --metadata file, and --metadata --integrity. */
static int open_metadata(struct ublkd_target *t, struct loop *lo)
{
	unsigned int size = ublkd_target_metadata_size(t);

	if (!size && !lo->md.path)
		return 0;
	if (!size) {
		ublkd_error("loop: --metadata %s holds protection information, which the device "
			    "has only with --integrity: add --integrity t10dif (or ip, crc64), or "
			    "drop --metadata", lo->md.path);
		return -1;
	}
	if (!lo->md.path) {
		ublkd_error("loop: --integrity needs a file for the protection information: add "
			    "--metadata FILE (an empty file: ublkd sizes it)");
		return -1;
	}
	return md_open(&lo->md, size, lo->size / lo->lbs, lo->read_only, lo->shared);
}

static int loop_open(struct ublkd_target *t, struct ublkd_setup *s)
{
	struct loop *lo = loop_get(t);
	uint64_t backing_size, avail, v;
	uint32_t blk_lbs = 512, blk_pbs = 0;
	struct stat st;

	if (!lo) {
		ublkd_error("loop: out of memory");
		return -1;
	}
	if (!lo->path) {
		ublkd_error("the loop target needs a backing file: add -f PATH (a regular "
			    "file or a block device)");
		goto err;
	}
	lo->read_only = s->read_only;
	if (open_backing(lo, lo->read_only) < 0)
		goto err;
	/* Two devices writing one file through two page caches or queues
	 * corrupt it: one device per backing unless all say --shared. */
	if (ublkd_claim_file(lo->fd, lo->path, lo->shared) < 0)
		goto err;
	if (fstat(lo->fd, &st) < 0) {
		ublkd_error("loop: cannot stat %s: %s", lo->path, strerror(errno));
		goto err;
	}

	if (lo->is_blk) {
		int ssz = 0;
		unsigned int psz = 0;

		if (ioctl(lo->fd, BLKGETSIZE64, &backing_size) < 0 ||
		    ioctl(lo->fd, BLKSSZGET, &ssz) < 0) {
			ublkd_error("loop: cannot get the size of block device %s: %s",
				    lo->path, strerror(errno));
			goto err;
		}
		blk_lbs = ssz >= 512 && is_pow2((uint64_t)ssz) ? (uint32_t)ssz : 512;
		if (ioctl(lo->fd, BLKPBSZGET, &psz) == 0 && psz >= blk_lbs && is_pow2(psz))
			blk_pbs = psz;
	} else {
		backing_size = (uint64_t)st.st_size;
	}

	/* Sizes that cannot work whatever the block size. */
	if (backing_size == 0) {
		ublkd_error("loop: %s is empty: give it a size first (e.g. truncate -s 1G %s)",
			    lo->path, lo->path);
		goto err;
	}
	if (lo->offset >= backing_size) {
		ublkd_error("loop: --offset %" PRIu64 " is at or past the end of %s (%" PRIu64
			    " bytes): give an offset below %" PRIu64, lo->offset, lo->path,
			    backing_size, backing_size);
		goto err;
	}
	if (backing_size - lo->offset < 512) {
		ublkd_error("loop: %s has only %" PRIu64 " bytes%s: a backing needs at least "
			    "512 (one block); %s (e.g. truncate -s 1G %s)", lo->path,
			    backing_size - lo->offset, lo->offset ? " after --offset" : "",
			    lo->offset ? "lower --offset or grow it" : "grow it", lo->path);
		goto err;
	}

	choose_io_mode(lo, blk_lbs);

	avail = (backing_size - lo->offset) & ~(uint64_t)(lo->lbs - 1);
	if (avail == 0) {
		ublkd_error("loop: %s has only %" PRIu64 " bytes%s: less than one %u-byte "
			    "block of its direct I/O; grow it, or use --buffered", lo->path,
			    backing_size - lo->offset, lo->offset ? " after --offset" : "",
			    lo->lbs);
		goto err;
	}
	if (s->size_limit > avail) {
		ublkd_error("loop: -s %" PRIu64 " is larger than %s (%" PRIu64 " bytes%s): "
			    "give -s at most %" PRIu64 ", or grow the backing first",
			    s->size_limit, lo->path, avail, lo->offset ? " after --offset" : "",
			    avail);
		goto err;
	}
	if (s->size_limit % lo->lbs) {
		ublkd_error("loop: -s %" PRIu64 " is not a multiple of the %u-byte block size "
			    "of %s: round it", s->size_limit, lo->lbs, lo->path);
		goto err;
	}
	lo->size = s->size_limit ? s->size_limit : avail;
	if (open_metadata(t, lo) < 0)
		goto err;

	s->size = lo->size;
	s->logical_block_size = lo->lbs;
	s->physical_block_size = lo->is_blk && blk_pbs ? blk_pbs : lo->lbs;
	if (!lo->is_blk && is_pow2((uint64_t)st.st_blksize) && st.st_blksize > lo->lbs &&
	    st.st_blksize <= 4096)
		s->physical_block_size = (uint32_t)st.st_blksize;
	s->flags = UBLKD_PARAM_VOLATILE_CACHE | UBLKD_PARAM_FUA;
	if (lo->is_blk && blk_queue_attr(st.st_rdev, "rotational", &v) == 0 && v)
		s->flags |= UBLKD_PARAM_ROTATIONAL;

	if (!lo->read_only) {
		if (lo->is_blk) {
			/* fallocate(ZERO_RANGE) on a block device always works:
			 * the kernel writes zeroes where the device cannot. */
			s->flags |= UBLKD_PARAM_WRITE_ZEROES;
			if (blk_queue_attr(st.st_rdev, "discard_max_bytes", &v) == 0 && v) {
				s->flags |= UBLKD_PARAM_DISCARD;
				if (blk_queue_attr(st.st_rdev, "discard_granularity", &v) == 0 &&
				    is_pow2(v) && v >= lo->lbs && v <= (1U << 30) &&
				    lo->offset % v == 0)
					s->discard_granularity = (uint32_t)v;
			}
		} else if (file_can_punch(lo->fd, backing_size)) {
			s->flags |= UBLKD_PARAM_DISCARD | UBLKD_PARAM_WRITE_ZEROES;
			if (is_pow2((uint64_t)st.st_blksize) && st.st_blksize >= lo->lbs &&
			    st.st_blksize <= (1 << 20) && lo->offset % st.st_blksize == 0)
				s->discard_granularity = (uint32_t)st.st_blksize;
		}
	}
	if (lo->md.size && !lo->md.can_punch &&
	    (s->flags & (UBLKD_PARAM_DISCARD | UBLKD_PARAM_WRITE_ZEROES))) {
		/* A discarded block must lose its tuple with its data. */
		s->flags &= ~(UBLKD_PARAM_DISCARD | UBLKD_PARAM_WRITE_ZEROES);
		ublkd_info("loop: the metadata file %s cannot punch holes: discard and "
			   "write-zeroes are not offered", lo->md.path);
	}
	s->description = lo->path;
	if (lo->note[0])
		ublkd_info("%s", lo->note);
	if (!lo->read_only && !lo->is_blk && !(s->flags & UBLKD_PARAM_DISCARD))
		ublkd_info("loop: %s cannot punch holes: discard and write-zeroes are not "
			   "offered", lo->path);
	ublkd_debug("loop: %s: %s %s I/O, %" PRIu64 " bytes from offset %" PRIu64
		    ", block size %u%s%s", lo->path, lo->is_blk ? "block device," : "file,",
		    lo->direct ? "direct" : "buffered", lo->size, lo->offset, lo->lbs,
		    s->flags & UBLKD_PARAM_DISCARD ? ", discard" : "",
		    s->flags & UBLKD_PARAM_WRITE_ZEROES ? ", write-zeroes" : "");
	return 0;
err:
	/* release() frees what open() made (ublkd calls it last, whatever
	 * happened; close() only after an open() that succeeded). */
	return -1;
}

/* `ublk resize`: the size asked for, or what the backing holds now after
 * --offset (a file the user grew, a block device that grew). */
static int loop_new_size(struct ublkd_target *t, uint64_t *size)
{
	struct loop *lo = ublkd_target_priv(t);
	uint64_t backing_size, avail;
	struct stat st;

	if (lo->is_blk ? ioctl(lo->fd, BLKGETSIZE64, &backing_size) < 0 : fstat(lo->fd, &st) < 0) {
		ublkd_error("loop: cannot get the size of %s: %s", lo->path, strerror(errno));
		return -1;
	}
	if (!lo->is_blk)
		backing_size = (uint64_t)st.st_size;
	avail = backing_size > lo->offset ?
		(backing_size - lo->offset) & ~(uint64_t)(lo->lbs - 1) : 0;
	if (*size > avail || (!*size && !avail)) {
		ublkd_error("loop: %s holds %" PRIu64 " bytes%s, %s: grow it first (e.g. "
			    "truncate -s SIZE %s)%s", lo->path, avail,
			    lo->offset ? " after --offset" : "",
			    *size ? "less than the size asked for" : "not one block", lo->path,
			    *size ? ", or give a smaller -s" : "");
		return -1;
	}
	if (*size % lo->lbs) {
		ublkd_error("loop: -s %" PRIu64 " is not a multiple of the %u-byte block size "
			    "of %s: round it", *size, lo->lbs, lo->path);
		return -1;
	}
	if (!*size)
		*size = avail;
	/* New blocks need their (never-written) tuples before they are served. */
	if (lo->md.size && md_cover(&lo->md, *size / lo->lbs) < 0)
		return -1;
	return 0;
}

static int loop_flush(struct ublkd_target *t)
{
	struct loop *lo = ublkd_target_priv(t);

	if (!lo || lo->fd < 0 || lo->read_only)
		return 0;
	if (fdatasync(lo->fd) < 0) {
		ublkd_error("loop: cannot make %s durable (fdatasync): %s: data written "
			    "lately may be lost", lo->path, strerror(errno));
		return -1;
	}
	if (lo->md.size && fdatasync(lo->md.fd) < 0) {
		ublkd_error("loop: cannot make the metadata file %s durable (fdatasync): %s: "
			    "protection information written lately may be lost", lo->md.path,
			    strerror(errno));
		return -1;
	}
	return 0;
}

/* What it served: ublkd counts and logs that for every target. */
static void loop_close(struct ublkd_target *t)
{
	loop_free(t);
}

/* ================================================================ data path */

static int loop_queue_init(struct ublkd_queue *q)
{
	struct loop_queue *lq = calloc(1, sizeof(*lq));
	int ret;

	if (!lq)
		return -ENOMEM;
	lq->lo = ublkd_target_priv(ublkd_queue_target(q));
	ublkd_queue_set_priv(q, lq);
	/* Reads and writes then use a fixed file; without it they still work. */
	ret = ublkd_queue_register_file(q, lq->lo->fd);
	if (ret < 0)
		ublkd_debug("loop: queue %u: backing not registered with io_uring: %s",
			    ublkd_queue_id(q), strerror(-ret));
	return 0;
}

static void loop_queue_exit(struct ublkd_queue *q)
{
	struct loop_queue *lq = ublkd_queue_priv(q);

	if (!lq)
		return;
	free(lq);
	ublkd_queue_set_priv(q, NULL);
}

static void finish(struct ublkd_queue *q, struct loop_queue *lq, struct ublkd_io *io,
		   int res)
{
	/* ublkd counts the failures (ublk stat, the summary at stop). */
	if (res < 0 && !lq->errors_logged++)
		ublkd_warn("loop: %s: %s of %u bytes at offset %" PRIu64 " failed: %s "
			   "(reported as an I/O error; later failures on queue %u are "
			   "only counted)", lq->lo->path, ublkd_op_name(io->op), io->len,
			   io->offset, strerror(-res), ublkd_queue_id(q));
	ublkd_complete(q, io, res);
}

static void submit_rw(struct ublkd_queue *q, struct loop *lo, struct ublkd_io *io)
{
	struct loop_io *lio = io->priv;
	struct io_uring_sqe *sqe = ublkd_get_sqe(q);
	int flags = io->op == UBLKD_OP_WRITE && (io->flags & UBLKD_IO_FUA) ? RWF_DSYNC : 0;

	ublkd_prep_rw(q, io, sqe, (enum ublkd_op)io->op, lo->fd,
		      lo->offset + io->offset + lio->done, lio->done, io->len - lio->done,
		      flags);
	ublkd_sqe_set_data(sqe, io, STEP_RW);
}

/* --integrity: the request's tuples, beside its data (same FUA). */
static int submit_md(struct ublkd_queue *q, struct loop *lo, struct ublkd_io *io)
{
	struct io_uring_sqe *sqe;
	uint64_t off;
	uint32_t len;
	void *md = ublkd_io_metadata(q, io, &len, &off);

	if (!md)
		return 0;
	sqe = ublkd_get_sqe(q);
	if (io->op == UBLKD_OP_READ)
		io_uring_prep_read(sqe, lo->md.fd, md, len, off);
	else
		io_uring_prep_write(sqe, lo->md.fd, md, len, off);
	if (io->op == UBLKD_OP_WRITE && (io->flags & UBLKD_IO_FUA))
		sqe->rw_flags = RWF_DSYNC;
	ublkd_sqe_set_data(sqe, io, STEP_MD);
	return 1;
}

static void submit_flush(struct ublkd_queue *q, struct loop *lo, struct ublkd_io *io)
{
	struct io_uring_sqe *sqe = ublkd_get_sqe(q);

	io_uring_prep_fsync(sqe, lo->fd, IORING_FSYNC_DATASYNC);
	ublkd_sqe_set_data(sqe, io, STEP_FLUSH);
}

static void submit_md_flush(struct ublkd_queue *q, struct loop *lo, struct ublkd_io *io)
{
	struct io_uring_sqe *sqe = ublkd_get_sqe(q);

	io_uring_prep_fsync(sqe, lo->md.fd, IORING_FSYNC_DATASYNC);
	ublkd_sqe_set_data(sqe, io, STEP_MD_FLUSH);
}

/* --integrity: a DISCARD's or WRITE_ZEROES' blocks are never written again:
 * their tuples become zeroes, beside the data's own operation. */
static void submit_md_punch(struct ublkd_queue *q, struct loop *lo, struct ublkd_io *io)
{
	struct io_uring_sqe *sqe = ublkd_get_sqe(q);
	uint64_t off;
	uint32_t len;

	ublkd_io_metadata(q, io, &len, &off);
	io_uring_prep_fallocate(sqe, lo->md.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)off, len);
	ublkd_sqe_set_data(sqe, io, STEP_MD_PUNCH);
}

/* One of a request's parallel SQEs is done (err: its -errno, or 0); the
 * last finishes the request. */
static void part_done(struct ublkd_queue *q, struct loop_queue *lq, struct ublkd_io *io,
		      int err)
{
	struct loop_io *lio = io->priv;

	if (err && !lio->err)
		lio->err = err;
	if (--lio->pending)
		return;
	finish(q, lq, io, lio->err ? lio->err :
	       io->op == UBLKD_OP_READ || io->op == UBLKD_OP_WRITE ? (int)io->len : 0);
}

static void submit_fallocate(struct ublkd_queue *q, struct loop *lo, struct ublkd_io *io,
			     int mode, enum step step)
{
	struct io_uring_sqe *sqe = ublkd_get_sqe(q);

	io_uring_prep_fallocate(sqe, lo->fd, mode, (off_t)(lo->offset + io->offset), io->len);
	ublkd_sqe_set_data(sqe, io, step);
}

static void submit_discard(struct ublkd_queue *q, struct loop_queue *lq, struct ublkd_io *io)
{
	struct loop *lo = lq->lo;
	struct io_uring_sqe *sqe;

	if (!lo->is_blk) {
		submit_fallocate(q, lo, io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 STEP_DISCARD);
		return;
	}
	if (lq->no_discard_cmd) {
		/* Kernels before 6.12 have no asynchronous block discard. */
		uint64_t range[2] = { lo->offset + io->offset, io->len };

		part_done(q, lq, io, ioctl(lo->fd, BLKDISCARD, range) < 0 ? -errno : 0);
		return;
	}
	sqe = ublkd_get_sqe(q);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, lo->fd, NULL, 0, 0);
	sqe->cmd_op = BLOCK_URING_CMD_DISCARD;
	sqe->addr = lo->offset + io->offset;
	sqe->addr3 = io->len;
	ublkd_sqe_set_data(sqe, io, STEP_DISCARD);
}

static void submit_write_zeroes(struct ublkd_queue *q, struct loop_queue *lq,
				struct ublkd_io *io)
{
	struct loop *lo = lq->lo;

	if (!(io->flags & UBLKD_IO_NOUNMAP) && !lq->no_wz_punch)
		submit_fallocate(q, lo, io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 STEP_WZ_PUNCH);
	else if (!lq->no_zero_range)
		submit_fallocate(q, lo, io, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				 STEP_WZ_ZERO);
	else
		submit_fallocate(q, lo, io, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 STEP_WZ_PUNCH_ALLOC);
}

static void loop_queue_io(struct ublkd_queue *q, struct ublkd_io *io)
{
	struct loop_queue *lq = ublkd_queue_priv(q);
	struct loop *lo = lq->lo;
	struct loop_io *lio = io->priv;

	lio->done = 0;
	lio->retries = 0;
	lio->pending = 1;
	lio->err = 0;
	switch (io->op) {
	case UBLKD_OP_READ:
	case UBLKD_OP_WRITE:
		if (io->len == 0) {
			finish(q, lq, io, 0);
			return;
		}
		submit_rw(q, lo, io);
		if (lo->md.size && submit_md(q, lo, io))
			lio->pending++;
		return;
	case UBLKD_OP_FLUSH:
		submit_flush(q, lo, io);
		if (lo->md.size) {
			submit_md_flush(q, lo, io);
			lio->pending++;
		}
		return;
	case UBLKD_OP_DISCARD:
	case UBLKD_OP_WRITE_ZEROES:
		if (lo->read_only)
			break;
		if (lo->md.size) {
			lio->pending++;
			submit_md_punch(q, lo, io);
		}
		if (io->op == UBLKD_OP_DISCARD)
			submit_discard(q, lq, io);
		else
			submit_write_zeroes(q, lq, io);
		return;
	}
	finish(q, lq, io, lo->read_only ? -EROFS : -EOPNOTSUPP);
}

static int unsupported(int res)
{
	return res == -EOPNOTSUPP || res == -ENOTTY || res == -ENOSYS;
}

static void loop_io_done(struct ublkd_queue *q, struct ublkd_io *io, uint32_t cookie,
			 const struct io_uring_cqe *cqe)
{
	struct loop_queue *lq = ublkd_queue_priv(q);
	struct loop *lo = lq->lo;
	struct loop_io *lio;
	int res = cqe->res;

	if (!io)
		return;
	lio = io->priv;
	if ((res == -EAGAIN || res == -EINTR) && lio->retries < MAX_RETRIES) {
		lio->retries++;
		switch (cookie) {
		case STEP_RW:
			submit_rw(q, lo, io);
			return;
		case STEP_FLUSH:
			submit_flush(q, lo, io);
			return;
		case STEP_DISCARD:
			submit_discard(q, lq, io);
			return;
		case STEP_MD:
			submit_md(q, lo, io);
			return;
		case STEP_MD_FLUSH:
			submit_md_flush(q, lo, io);
			return;
		}
		/* Write-zeroes steps are fallocate, never -EAGAIN: fall through. */
	}
	lio->retries = 0;

	switch (cookie) {
	case STEP_RW:
		if (res < 0) {
			part_done(q, lq, io, res);
			return;
		}
		if (res == 0) {
			/* No progress: a read past the end of a file that shrank
			 * (or a device that refuses to move): never spin. */
			part_done(q, lq, io, -EIO);
			return;
		}
		lio->done += (uint32_t)res;
		if (lio->done < io->len) {
			submit_rw(q, lo, io);
			return;
		}
		part_done(q, lq, io, 0);
		return;
	case STEP_MD: {
		uint64_t off;
		uint32_t len;

		ublkd_io_metadata(q, io, &len, &off);
		/* Buffered I/O on a file sized at open: all of it, or an error. */
		part_done(q, lq, io, res < 0 ? res : (uint32_t)res == len ? 0 : -EIO);
		return;
	}
	case STEP_FLUSH:
	case STEP_MD_FLUSH:
		part_done(q, lq, io, res < 0 ? res : 0);
		return;
	case STEP_DISCARD:
		if (lo->is_blk && unsupported(res) && !lq->no_discard_cmd) {
			lq->no_discard_cmd = 1;
			submit_discard(q, lq, io);
			return;
		}
		part_done(q, lq, io, res < 0 ? res : 0);
		return;
	case STEP_WZ_PUNCH:
		if (unsupported(res)) {
			/* Block device without unmapping write-zeroes. */
			lq->no_wz_punch = 1;
			submit_write_zeroes(q, lq, io);
			return;
		}
		part_done(q, lq, io, res < 0 ? res : 0);
		return;
	case STEP_WZ_ZERO:
		if (unsupported(res)) {
			/* tmpfs and others: punch, then allocate again. */
			lq->no_zero_range = 1;
			submit_write_zeroes(q, lq, io);
			return;
		}
		part_done(q, lq, io, res < 0 ? res : 0);
		return;
	case STEP_WZ_PUNCH_ALLOC:
		if (res < 0) {
			part_done(q, lq, io, res);
			return;
		}
		submit_fallocate(q, lo, io, FALLOC_FL_KEEP_SIZE, STEP_WZ_ALLOC);
		return;
	case STEP_WZ_ALLOC:
		/* The range reads as zeroes already; keeping it allocated is
		 * best effort (a full file system must not fail the write). */
		part_done(q, lq, io, res < 0 && res != -ENOSPC ? res : 0);
		return;
	case STEP_MD_PUNCH:
		part_done(q, lq, io, res < 0 ? res : 0);
		return;
	}
	ublkd_warn("loop: unexpected completion (step %u)", cookie);
	finish(q, lq, io, -EIO);
}

static const struct ublkd_target_ops loop_ops = {
	.api_version	= UBLKD_TARGET_API_VERSION,
	.struct_size	= sizeof(struct ublkd_target_ops),
	.option_size	= sizeof(struct ublkd_option),
	.name		= "loop",
	.description	= "a disk over a regular file or a block device (like losetup)",
	.features	= UBLKD_TARGET_ZERO_COPY | UBLKD_TARGET_THREADS | UBLKD_TARGET_INTEGRITY,
	.io_priv_size	= sizeof(struct loop_io),
	.options	= loop_options,
	.config		= loop_config,
	.open		= loop_open,
	.flush		= loop_flush,
	.close		= loop_close,
	.release	= loop_free,
	.new_size	= loop_new_size,
	.queue_init	= loop_queue_init,
	.queue_exit	= loop_queue_exit,
	.queue_io	= loop_queue_io,
	.io_done	= loop_io_done,
};

UBLKD_REGISTER_TARGET(loop_ops)
