/* SPDX-License-Identifier: MIT */
/* unit.h - a minimal check macro for host unit tests. */
#ifndef UBLKD_UNIT_H
#define UBLKD_UNIT_H

#include <stdio.h>
#include <stdlib.h>

static int unit_failures, unit_checks;

#define CHECK(cond) do {						\
		unit_checks++;						\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: check failed: %s\n",	\
				__FILE__, __LINE__, #cond);		\
			unit_failures++;				\
		}							\
	} while (0)

static inline int unit_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}

#endif
