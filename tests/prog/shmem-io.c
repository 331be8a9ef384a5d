/* SPDX-License-Identifier: MIT */
/*
 * shmem-io - the client side of --shmem for tests/core/230-shmem.sh: an
 * application whose I/O buffers live in a shared-memory file.
 *
 *   shmem-io [--own] write|verify|read SHM DEV SEED COUNT [BASE]
 *
 * COUNT chunks of 4K to 512K, chunk i at byte BASE + i * 512K of DEV, each
 * moved with one O_DIRECT pwrite/pread whose buffer is at a random page
 * of SHM's mapping (writes in its first half, reads in its second), or
 * with --own in memory of its own.  write fills chunk i with a pattern of
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

int main(int argc, char **argv)
{
	int own = argc > 1 && !strcmp(argv[1], "--own");
	const char *mode, *shm, *dev;
	char *map, *want, *buf;
	uint64_t seed, rnd, base, at;
	unsigned int count, i;
	size_t half, len, woff, roff;
	struct stat st;
	int sfd, dfd;
	ssize_t n;

	if (argc != 6 + own && argc != 7 + own) {
		fprintf(stderr, "usage: shmem-io [--own] write|verify|read SHM DEV SEED COUNT "
			"[BASE]\n");
		return 2;
	}
	mode = argv[1 + own];
	shm = argv[2 + own];
	dev = argv[3 + own];
	seed = strtoull(argv[4 + own], NULL, 0);
	count = (unsigned int)strtoul(argv[5 + own], NULL, 0);
	base = argc > 6 + own ? strtoull(argv[6 + own], NULL, 0) : 0;

	sfd = open(shm, O_RDWR);
	if (sfd < 0 || fstat(sfd, &st) < 0 || st.st_size < 2 * CHUNK_MAX) {
		fprintf(stderr, "shmem-io: %s: %s\n", shm,
			sfd < 0 ? strerror(errno) : "smaller than 1 MiB");
		return 1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	dfd = open(dev, O_RDWR | O_DIRECT);
	want = malloc(CHUNK_MAX);
	if (map == MAP_FAILED || dfd < 0 || !want) {
		fprintf(stderr, "shmem-io: cannot map %s or open %s: %s\n", shm, dev,
			strerror(errno));
		return 1;
	}
	if (own && posix_memalign((void **)&map, PAGE, (size_t)st.st_size)) {
		fprintf(stderr, "shmem-io: out of memory\n");
		return 1;
	}
	half = (size_t)st.st_size / 2 / PAGE * PAGE;
	rnd = seed;
	for (i = 0; i < count; i++) {
		len = (size_t)(next(&rnd) % (CHUNK_MAX / PAGE) + 1) * PAGE;
		woff = next(&rnd) % ((half - len) / PAGE + 1) * PAGE;
		roff = half + next(&rnd) % ((half - len) / PAGE + 1) * PAGE;
		at = base + (uint64_t)i * CHUNK_MAX;
		if (!strcmp(mode, "write")) {
			buf = map + woff;
			pattern(seed, i, buf, len);
			n = pwrite(dfd, buf, len, (off_t)at);
		} else {
			buf = map + roff;
			memset(buf, 0xa5, len);
			n = pread(dfd, buf, len, (off_t)at);
		}
		if (n != (ssize_t)len) {
			fprintf(stderr, "shmem-io: %s of chunk %u (%zu bytes at %llu): %s\n", mode,
				i, len, (unsigned long long)at, n < 0 ? strerror(errno) : "short");
			return 1;
		}
		if (!strcmp(mode, "verify")) {
			pattern(seed, i, want, len);
			if (memcmp(buf, want, len)) {
				fprintf(stderr, "shmem-io: chunk %u (%zu bytes at %llu) differs from "
					"what was written\n", i, len, (unsigned long long)at);
				return 1;
			}
		}
	}
	return 0;
}
