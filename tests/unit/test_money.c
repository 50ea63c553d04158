/*
 * test_money.c - unit tests for the currency table and money formatting in
 * src/catalog.c. The cases are rows in tests/unit/data/money.txt.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

#include "table.h"

}  /* closes shows() in table.h, as the other table-driven tests do */

static void test_money_table(void **state)
{
	(void)state;
	static const char *const keys[] = {"minor", "currency", "expect", NULL};
	struct table t;
	table_load(&t, "money.txt", keys);
	for (size_t i = 0; i < t.n; i++) {
		const struct tcase *c = &t.cases[i];
		const struct kv *minor = tcase_get(c, "minor");
		const struct kv *cur = tcase_get(c, "currency");
		const struct kv *expect = tcase_get(c, "expect");
		if (!minor || !expect) {
			mismatch(&t, c->line, "a case needs minor: and expect:");
			continue;
		}
		errno = 0;
		char *end;
		long long v = strtoll(minor->value, &end, 10);
		if (errno || *end) {
			mismatch(&t, c->line, "minor: %s is not an integer", minor->value);
			continue;
		}
		char out[CATALOG_MONEY_MAX];
		catalog_money_format(out, v, cur ? cur->value : NULL);
		if (strcmp(out, expect->value) != 0)
			mismatch(&t, c->line, "got %s, expected %s", shows(out),
				 shows(expect->value));
	}
	table_finish(&t);
}

static void test_decimals(void **state)
{
	(void)state;
	static const char *const zero[] = {
		"jpy", "krw", "vnd", "clp", "isk", "ugx", "xaf", "xof", "bif",
		"djf", "gnf", "kmf", "mga", "pyg", "rwf", "vuv", "xpf",
	};
	static const char *const three[] = {"bhd", "jod", "kwd", "omr", "tnd"};
	for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
		assert_int_equal(catalog_currency_decimals(zero[i]), 0);
	for (size_t i = 0; i < sizeof three / sizeof three[0]; i++)
		assert_int_equal(catalog_currency_decimals(three[i]), 3);
	assert_int_equal(catalog_currency_decimals("usd"), 2);
	assert_int_equal(catalog_currency_decimals("KWD"), 3);
	assert_int_equal(catalog_currency_decimals("jp"), 2);
	assert_int_equal(catalog_currency_decimals("jpyy"), 2);
	assert_int_equal(catalog_currency_decimals(""), 2);
	assert_int_equal(catalog_currency_decimals(NULL), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_money_table),
		cmocka_unit_test(test_decimals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
