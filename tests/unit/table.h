/*
 * table.h - the case-table loader shared by the table-driven unit tests
 * (test_http.c, test_route.c, test_csv.c). A table is a text file of
 * "key: value" blocks with \xHH escapes; format in tests/unit/data/README.md.
 * Header-only on purpose: each test is one translation unit; everything
 * here is static.
 */
#ifndef STRIPELINK_TEST_TABLE_H
#define STRIPELINK_TEST_TABLE_H

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kv {
	char *key;
	char *value;   /* unescaped, NUL-terminated */
	size_t len;    /* bytes in value (it may hold NULs) */
	int line;
};

struct tcase {
	struct kv *kv;
	size_t n;
	int line;      /* first line of the case */
};

struct table {
	char path[512];
	struct tcase *cases;
	size_t n;
	int mismatches;
};

/* Decodes \\ \n \r \t \xHH; false on any other escape. */
static bool unescape(const char *s, char *out, size_t *len)
{
	size_t j = 0;
	for (; *s; s++) {
		if (*s != '\\') {
			out[j++] = *s;
			continue;
		}
		s++;
		switch (*s) {
		case '\\': out[j++] = '\\'; break;
		case 'n': out[j++] = '\n'; break;
		case 'r': out[j++] = '\r'; break;
		case 't': out[j++] = '\t'; break;
		case 'x': {
			unsigned v;
			if (!isxdigit((unsigned char)s[1]) || !isxdigit((unsigned char)s[2]) ||
			    sscanf(s + 1, "%2x", &v) != 1)
				return false;
			out[j++] = (char)v;
			s += 2;
			break;
		}
		default:
			return false;
		}
	}
	out[j] = '\0';
	*len = j;
	return true;
}

/* Loads data file name; fails the test when it is missing, malformed,
 * empty, or uses a key not in keys (a NULL-terminated list). */
static void table_load(struct table *t, const char *name, const char *const *keys)
{
	const char *dir = getenv("UNIT_DATA_DIR");
	snprintf(t->path, sizeof t->path, "%s/%s", dir && *dir ? dir : "tests/unit/data", name);
	t->cases = NULL;
	t->n = 0;
	t->mismatches = 0;
	FILE *f = fopen(t->path, "r");
	if (!f)
		fail_msg("cannot open %s: %s (run from the repository top or set UNIT_DATA_DIR)",
			 t->path, strerror(errno));
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int lineno = 0;
	struct tcase *cur = NULL;
	while ((got = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = '\0';
		if (got == 0) {
			cur = NULL;
			continue;
		}
		if (line[0] == '#')
			continue;
		char *colon = strchr(line, ':');
		if (!colon)
			fail_msg("%s:%d: expected \"key: value\"", t->path, lineno);
		*colon = '\0';
		bool known = false;
		for (const char *const *k = keys; *k; k++)
			known = known || strcmp(*k, line) == 0;
		if (!known)
			fail_msg("%s:%d: unknown key \"%s\"", t->path, lineno, line);
		char *value = colon[1] == ' ' ? colon + 2 : colon + 1;
		if (!cur) {
			t->cases = realloc(t->cases, (t->n + 1) * sizeof *t->cases);
			assert_non_null(t->cases);
			cur = &t->cases[t->n++];
			cur->kv = NULL;
			cur->n = 0;
			cur->line = lineno;
		}
		cur->kv = realloc(cur->kv, (cur->n + 1) * sizeof *cur->kv);
		assert_non_null(cur->kv);
		struct kv *kv = &cur->kv[cur->n++];
		kv->key = strdup(line);
		kv->value = malloc(strlen(value) + 1);
		kv->line = lineno;
		assert_non_null(kv->key);
		assert_non_null(kv->value);
		if (!unescape(value, kv->value, &kv->len))
			fail_msg("%s:%d: bad escape in \"%s\"", t->path, lineno, value);
	}
	free(line);
	fclose(f);
	if (t->n == 0)
		fail_msg("%s: no cases", t->path);
}

/* Frees the table; fails the test when any case mismatched. */
static void table_finish(struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		for (size_t j = 0; j < t->cases[i].n; j++) {
			free(t->cases[i].kv[j].key);
			free(t->cases[i].kv[j].value);
		}
		free(t->cases[i].kv);
	}
	free(t->cases);
	if (t->mismatches)
		fail_msg("%s: %d mismatch(es), listed above", t->path, t->mismatches);
}

/* First value of key in c, or NULL. */
static const struct kv *tcase_get(const struct tcase *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->kv[i].key, key) == 0)
			return &c->kv[i];
	return NULL;
}

/* Reports a mismatch at line of t and counts it. */
static void mismatch(struct table *t, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void mismatch(struct table *t, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	print_error("%s:%d: %s\n", t->path, line, msg);
	t->mismatches++;
}

/* Shows n bytes of s with escapes, in one of a few rotating buffers. */
static const char *show(const char *s, size_t n)
{
	static char bufs[4][512];
	static int next;
	char *out = bufs[next++ % 4];
	size_t j = 0;
	if (!s)
		return "(null)";
	for (size_t i = 0; i < n && j + 5 < sizeof bufs[0]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\')
			j += (size_t)sprintf(out + j, "\\\\");
		else if (c < 0x20 || c >= 0x7f)
			j += (size_t)sprintf(out + j, "\\x%02x", c);
		else
			out[j++] = (char)c;
	}
	out[j] = '\0';
	return out;
}

static const char *shows(const char *s)
{
	return show(s, s ? strlen(s) : 0);

#endif
