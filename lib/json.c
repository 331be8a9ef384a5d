/* SPDX-License-Identifier: MIT */
/* json.c - a small streaming JSON writer (compact output, escaped strings). */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

void json_init(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (c < 0x20)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

/* Separator and key before a new member at the current level. */
static void member(struct json *j, const char *key)
{
	if (j->count[j->depth]++)
		fputc(',', j->f);
	if (key) {
		put_string(j->f, key);
		fputc(':', j->f);
	}
}

static void open_level(struct json *j, const char *key, char c)
{
	member(j, key);
	fputc(c, j->f);
	if (j->depth < JSON_MAX_DEPTH - 1)
		j->count[++j->depth] = 0;
}

void json_open_object(struct json *j, const char *key) { open_level(j, key, '{'); }
void json_open_array(struct json *j, const char *key)  { open_level(j, key, '['); }

static void close_level(struct json *j, char c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

void json_close_object(struct json *j) { close_level(j, '}'); }
void json_close_array(struct json *j)  { close_level(j, ']'); }

void json_string(struct json *j, const char *key, const char *val)
{
	member(j, key);
	if (val)
		put_string(j->f, val);
	else
		fputs("null", j->f);
}

void json_int(struct json *j, const char *key, int64_t val)
{
	member(j, key);
	fprintf(j->f, "%" PRId64, val);
}

void json_uint(struct json *j, const char *key, uint64_t val)
{
	member(j, key);
	fprintf(j->f, "%" PRIu64, val);
}

void json_bool(struct json *j, const char *key, int val)
{
	member(j, key);
	fputs(val ? "true" : "false", j->f);
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}

/* Find "key": at nesting depth 1 and return a pointer to its value. */
static const char *find_member(const char *text, const char *key)
{
	size_t klen = strlen(key);
	int depth = 0, in_str = 0;
	const char *p;

	for (p = text; *p; p++) {
		if (in_str) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_str = 0;
			continue;
		}
		if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			depth--;
		} else if (*p == '"') {
			if (depth == 1 && !strncmp(p + 1, key, klen) &&
			    p[1 + klen] == '"' && p[2 + klen] == ':')
				return p + klen + 3;
			in_str = 1;
		}
	}
	return NULL;
}

int json_lookup_int(const char *text, const char *key, int64_t *out)
{
	const char *v = find_member(text, key);
	char *end;

	if (!v || !(isdigit((unsigned char)*v) || *v == '-'))
		return -1;
	*out = strtoll(v, &end, 10);
	return end == v ? -1 : 0;
}

int json_lookup_string(const char *text, const char *key, char *buf, size_t len)
{
	const char *v = find_member(text, key);
	size_t n = 0;

	if (!v || *v != '"' || !len)
		return -1;
	for (v++; *v && *v != '"'; v++) {
		if (*v == '\\' && v[1])
			v++;	/* keeps the escaped char; enough for our files */
		if (n + 1 < len)
			buf[n++] = *v;
	}
	buf[n] = 0;
	return *v == '"' ? 0 : -1;
}
