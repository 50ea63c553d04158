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

#include "table.h"

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
