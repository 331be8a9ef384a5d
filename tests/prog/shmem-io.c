/* SPDX-License-Identifier: MIT */
/*
 * shmem-io - the client side of --shmem for tests/core/230-shmem.sh: an
 * application whose I/O buffers live in a shared-memory file.
 *
 *   shmem-io [--own] [--misalign] write|verify|read SHM DEV SEED COUNT [BASE]
 *
 * COUNT chunks of 4K to 512K, chunk i at byte BASE + i * 512K of DEV, each
 * moved with one O_DIRECT pwrite/pread whose buffer is at a random page
 * of SHM's mapping (writes in its first half, reads in its second), or
 * with --own in memory of its own; with --misalign 512 bytes into a page
 * (direct I/O allows it; ublkd copies such data through its own buffer).  write fills chunk i with a pattern of
 * SEED and i; verify reads it back and compares; read only reads.  Exit 0,
 * or 1 after one line saying what differed or failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_MAX	(512 * 1024)
#define PAGE		4096

static uint64_t next(uint64_t *s)	/* splitmix64 */
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void pattern(uint64_t seed, unsigned int i, char *buf, size_t len)
{
	uint64_t s = seed * 1000003 + i, v;
	size_t off;

	for (off = 0; off < len; off += sizeof(v)) {
		v = next(&s);
		memcpy(buf + off, &v, sizeof(v));
	}
}

/* COUNT chunks between mem (size bytes) and dfd: 0, or 1 after one line. */
static int move_chunks(char *mem, size_t size, int dfd, const char *mode, uint64_t seed,
		       unsigned int count, uint64_t base, size_t skew)
{
	size_t half = size / 2 / PAGE * PAGE - PAGE, len, woff, roff;
	char *want = malloc(CHUNK_MAX), *buf;
	uint64_t rnd = seed, at;
	unsigned int i;
	int rc = 1;
	ssize_t n;

	if (!want) {
		fprintf(stderr, "shmem-io: out of memory\n");
		return 1;
	}
	for (i = 0; i < count; i++) {
		len = (size_t)(next(&rnd) % (CHUNK_MAX / PAGE) + 1) * PAGE;
		woff = next(&rnd) % ((half - len) / PAGE + 1) * PAGE + skew;
		roff = half + PAGE + next(&rnd) % ((half - len) / PAGE + 1) * PAGE + skew;
		at = base + (uint64_t)i * CHUNK_MAX;
		if (!strcmp(mode, "write")) {
			buf = mem + woff;
			pattern(seed, i, buf, len);
			n = pwrite(dfd, buf, len, (off_t)at);
		} else {
			buf = mem + roff;
			memset(buf, 0xa5, len);
			n = pread(dfd, buf, len, (off_t)at);
		}
		if (n != (ssize_t)len) {
			fprintf(stderr, "shmem-io: %s of chunk %u (%zu bytes at %llu): %s\n", mode,
				i, len, (unsigned long long)at, n < 0 ? strerror(errno) : "short");
			goto out;
		}
		if (!strcmp(mode, "verify")) {
			pattern(seed, i, want, len);
			if (memcmp(buf, want, len)) {
				fprintf(stderr, "shmem-io: chunk %u (%zu bytes at %llu) differs from "
					"what was written\n", i, len, (unsigned long long)at);
				goto out;
			}
		}
	}
	rc = 0;
out:
	free(want);
	return rc;
}

int main(int argc, char **argv)
{
	int own = 0, misalign = 0, a = 1;
	const char *mode, *shm, *dev;
	void *map = MAP_FAILED, *mem = NULL;
	uint64_t seed, base;
	unsigned int count;
	struct stat st;
	int sfd, dfd = -1, rc = 1;

	for (; a < argc && !strncmp(argv[a], "--", 2); a++) {
		if (!strcmp(argv[a], "--own"))
			own = 1;
		else if (!strcmp(argv[a], "--misalign"))
			misalign = 1;
		else
			break;
	}
	if (argc - a != 5 && argc - a != 6) {
		fprintf(stderr, "usage: shmem-io [--own] [--misalign] write|verify|read SHM DEV "
			"SEED COUNT [BASE]\n");
		return 2;
	}
	mode = argv[a];
	shm = argv[a + 1];
	dev = argv[a + 2];
	seed = strtoull(argv[a + 3], NULL, 0);
	count = (unsigned int)strtoul(argv[a + 4], NULL, 0);
	base = argc - a == 6 ? strtoull(argv[a + 5], NULL, 0) : 0;

	sfd = open(shm, O_RDWR);
	if (sfd < 0 || fstat(sfd, &st) < 0 || st.st_size < 2 * (CHUNK_MAX + 2 * PAGE)) {
		fprintf(stderr, "shmem-io: %s: %s\n", shm,
			sfd < 0 ? strerror(errno) : "smaller than 1 MiB and 16 KiB");
		goto out;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	dfd = open(dev, O_RDWR | O_DIRECT);
	if (map == MAP_FAILED || dfd < 0) {
		fprintf(stderr, "shmem-io: cannot map %s or open %s: %s\n", shm, dev,
			strerror(errno));
		goto out;
	}
	if (own && posix_memalign(&mem, PAGE, (size_t)st.st_size)) {
		fprintf(stderr, "shmem-io: out of memory\n");
		goto out;
	}
	rc = move_chunks(own ? mem : map, (size_t)st.st_size, dfd, mode, seed, count, base,
			 misalign ? 512 : 0);
out:
	free(mem);
	if (map != MAP_FAILED)
		munmap(map, (size_t)st.st_size);
	if (dfd >= 0)
		close(dfd);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
