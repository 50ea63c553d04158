/*
 * test_csv.c - unit tests for src/csv.c: RFC 4180 quoting and formula
 * neutralization. The cases are rows in tests/unit/data/csv_rows.txt
 * (format in tests/unit/data/README.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "csv.h"

/* ---- case tables (same loader in test_http.c and test_route.c) ---- */

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
}


static void test_row_table(void **state)
{
	(void)state;
	static const char *const keys[] = {"case", "cell", "null", "row", NULL};
	struct table t;
	table_load(&t, "csv_rows.txt", keys);
	for (size_t i = 0; i < t.n; i++) {
		const struct tcase *c = &t.cases[i];
		const struct kv *row = tcase_get(c, "row");
		if (!row) {
			mismatch(&t, c->line, "a case needs row:");
			continue;
		}
		struct buf out = BUF_INIT;
		bool first = true;
		for (size_t k = 0; k < c->n; k++) {
			if (strcmp(c->kv[k].key, "cell") == 0)
				csv_cell(&out, c->kv[k].value, first);
			else if (strcmp(c->kv[k].key, "null") == 0)
				csv_cell(&out, NULL, first);
			else
				continue;
			first = false;
		}
		csv_end_row(&out);
		if (out.len != row->len || memcmp(out.data, row->value, row->len) != 0)
			mismatch(&t, c->line, "got %s, expected %s", show(out.data, out.len),
				 show(row->value, row->len));
		buf_free(&out);
	}
	table_finish(&t);
}

/* Parses one RFC 4180 row (without its CRLF) into at most max cells;
 * returns how many, or -1 when the row is malformed. */
static int parse_row(const char *s, size_t n, char cells[][256], int max)
{
	int count = 0;
	size_t i = 0;
	for (;;) {
		if (count == max)
			return -1;
		size_t j = 0;
		if (i < n && s[i] == '"') {
			i++;
			for (;;) {
				if (i >= n)
					return -1;
				if (s[i] == '"') {
					if (i + 1 < n && s[i + 1] == '"') {
						cells[count][j++] = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				cells[count][j++] = s[i++];
			}
		} else {
			while (i < n && s[i] != ',') {
				if (s[i] == '"' || s[i] == '\r' || s[i] == '\n')
					return -1;
				cells[count][j++] = s[i++];
			}
		}
		cells[count++][j] = '\0';
		if (i == n)
			return count;
		if (s[i] != ',')
			return -1;
		i++;
	}
}

/* Whatever goes in comes back out of a CSV reader, with an apostrophe in
 * front exactly when the cell starts like a formula. */
static void test_round_trip(void **state)
{
	(void)state;
	static const char *const values[] = {
		"", "plain", "a,b", "\"", "\"\"", ",", "\r\n", "=1", "+", "-", "@", "\t",
		"\r", "'", "a\"b,c\nd", "=\"x\",\"y\"", "caf\xc3\xa9", " =1", "1-2",
	};
	const size_t n = sizeof values / sizeof values[0];
	struct buf out = BUF_INIT;
	for (size_t i = 0; i < n; i++)
		csv_cell(&out, values[i], i == 0);
	char cells[32][256];
	int got = parse_row(out.data, out.len, cells, 32);
	assert_int_equal(got, (int)n);
	for (size_t i = 0; i < n; i++) {
		bool formula = values[i][0] && strchr("=+-@\t\r", values[i][0]);
		char want[256];
		snprintf(want, sizeof want, "%s%s", formula ? "'" : "", values[i]);
		if (strcmp(cells[i], want) != 0)
			fail_msg("cell %zu: %s came back as %s", i, shows(values[i]), shows(cells[i]));
	}
	buf_free(&out);
}

/* Rows follow one another in the same buffer. */
static void test_two_rows(void **state)
{
	(void)state;
	struct buf out = BUF_INIT;
	csv_cell(&out, "a", true);
	csv_cell(&out, "b", false);
	csv_end_row(&out);
	csv_cell(&out, "=c", true);
	csv_cell(&out, NULL, false);
	csv_end_row(&out);
	assert_string_equal(buf_cstr(&out), "a,b\r\n\"'=c\",\r\n");
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row_table),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_two_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
