/* SPDX-License-Identifier: MIT */
/* json.h - a small streaming JSON writer (`ublk list --json`, `features --json`,
 * `stat --json`). */
#ifndef UBLKD_JSON_H
#define UBLKD_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *f;
	int depth;
	int count[JSON_MAX_DEPTH];	/* members written at each level */
};

void json_init(struct json *j, FILE *f);
/* key is NULL inside arrays and for the top-level value. */
void json_open_object(struct json *j, const char *key);
void json_close_object(struct json *j);
void json_open_array(struct json *j, const char *key);
void json_close_array(struct json *j);
void json_string(struct json *j, const char *key, const char *val);
void json_int(struct json *j, const char *key, int64_t val);
void json_uint(struct json *j, const char *key, uint64_t val);
void json_bool(struct json *j, const char *key, int val);
/* A number with 6 significant digits; null if not finite. */
void json_double(struct json *j, const char *key, double val);
/* Finish: newline after the top-level value. */
void json_end(struct json *j);

#endif
