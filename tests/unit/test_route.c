/*
 * test_route.c - unit tests for src/route.c against the real route table
 * in src/routes.c: matching (404, 405 with Allow, ":name" captures, HEAD
 * as GET), the key validators and route_validate(), and the table's own
 * consistency.
 *
 * The cases are tables in tests/unit/data/route_*.txt (format in
 * tests/unit/data/README.md).
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

#include "arena.h"
#include "err.h"
#include "http.h"
#include "route.h"

#include "table.h"

}


/* ---- helpers ---- */

static const char *const method_names[HTTP_METHOD__MAX] = {
	[HTTP_GET] = "GET", [HTTP_HEAD] = "HEAD", [HTTP_POST] = "POST",
	[HTTP_PUT] = "PUT", [HTTP_DELETE] = "DELETE", [HTTP_OTHER] = "OTHER",
};

static const char *const match_names[] = {
	[ROUTE_FOUND] = "found", [ROUTE_NOT_FOUND] = "not_found",
	[ROUTE_WRONG_METHOD] = "wrong_method",
};

/* Parses a request for method and path (and an optional query and
 * urlencoded body) from the arena; fails the test when it does not parse. */
static void make_request(struct http_request *r, struct arena *a, const char *method,
			 const char *path, const char *query, const char *form)
{
	char *envp[6];
	size_t n = 0;
	envp[n++] = arena_printf(a, "REQUEST_METHOD=%s", method);
	envp[n++] = arena_printf(a, "DOCUMENT_URI=%s", path);
	if (query)
		envp[n++] = arena_printf(a, "QUERY_STRING=%s", query);
	if (form)
		envp[n++] = "CONTENT_TYPE=application/x-www-form-urlencoded";
	envp[n] = NULL;
	sl_err e = http_request_parse(r, a, envp, (const unsigned char *)(form ? form : ""),
				      form ? strlen(form) : 0);
	if (e)
		fail_msg("%s %s ?%s: request does not parse: %s", method, path,
			 query ? query : "", err_name(e));
}

/* ---- tables ---- */

static void test_match_table(void **state)
{
	(void)state;
	static const char *const keys[] = {
		"case", "method", "path", "expect", "pattern", "route_method", "param", "allow", NULL,
	};
	struct table t;
	table_load(&t, "route_match.txt", keys);
	for (size_t i = 0; i < t.n; i++) {
		const struct tcase *c = &t.cases[i];
		const struct kv *method = tcase_get(c, "method"), *path = tcase_get(c, "path");
		const struct kv *expect = tcase_get(c, "expect");
		if (!method || !path || !expect) {
			mismatch(&t, c->line, "a case needs method, path and expect");
			continue;
		}
		struct arena *a = arena_new();
		struct http_request r;
		make_request(&r, a, method->value, path->value, NULL, NULL);
		const struct route *route = NULL;
		const char *allow = NULL;
		enum route_match_result m = route_match(&r, &route, &allow);
		const char *label = arena_printf(a, "%s %s", method->value, shows(path->value));
		if (strcmp(match_names[m], expect->value) != 0) {
			mismatch(&t, c->line, "%s: got %s, expected %s", label, match_names[m],
				 expect->value);
			arena_free(a);
			continue;
		}
		if (m == ROUTE_FOUND) {
			const struct kv *pattern = tcase_get(c, "pattern");
			const struct kv *rm = tcase_get(c, "route_method");
			const char *want_method = rm ? rm->value : method->value;
			if (!route)
				mismatch(&t, c->line, "%s: found but no route", label);
			else if (pattern && strcmp(route->pattern, pattern->value) != 0)
				mismatch(&t, c->line, "%s: matched %s, expected %s", label,
					 route->pattern, pattern->value);
			else if (strcmp(method_names[route->method], want_method) != 0)
				mismatch(&t, c->line, "%s: matched a %s route, expected %s", label,
					 method_names[route->method], want_method);
			size_t n = 0;
			for (size_t k = 0; k < c->n; k++) {
				if (strcmp(c->kv[k].key, "param") != 0)
					continue;
				if (n >= 2 || !r.params[n] || strcmp(r.params[n], c->kv[k].value) != 0)
					mismatch(&t, c->line, "%s: param %zu is %s, expected %s", label, n,
						 n < 2 ? shows(r.params[n]) : "(none)", c->kv[k].value);
				n++;
			}
			for (; n < 2; n++)
				if (r.params[n])
					mismatch(&t, c->line, "%s: unexpected param %zu %s", label, n,
						 r.params[n]);
		} else if (m == ROUTE_WRONG_METHOD) {
			const struct kv *want = tcase_get(c, "allow");
			if (!allow || !want || strcmp(allow, want->value) != 0)
				mismatch(&t, c->line, "%s: Allow %s, expected %s", label, shows(allow),
					 want ? want->value : "(no allow: line)");
		}
		arena_free(a);
	}
	table_finish(&t);
}

static void test_validate_table(void **state)
{
	(void)state;
	static const char *const keys[] = {"case", "method", "path", "query", "form", "bad_key", NULL};
	struct table t;
	table_load(&t, "route_validate.txt", keys);
	for (size_t i = 0; i < t.n; i++) {
		const struct tcase *c = &t.cases[i];
		const struct kv *method = tcase_get(c, "method"), *path = tcase_get(c, "path");
		const struct kv *query = tcase_get(c, "query"), *form = tcase_get(c, "form");
		const struct kv *bad = tcase_get(c, "bad_key");
		if (!method || !path || !bad) {
			mismatch(&t, c->line, "a case needs method, path and bad_key");
			continue;
		}
		struct arena *a = arena_new();
		struct http_request r;
		make_request(&r, a, method->value, path->value, query ? query->value : NULL,
			     form ? form->value : NULL);
		const struct route *route = NULL;
		const char *allow = NULL;
		if (route_match(&r, &route, &allow) != ROUTE_FOUND) {
			mismatch(&t, c->line, "%s %s: no route", method->value, path->value);
			arena_free(a);
			continue;
		}
		const char *got = route_validate(route, &r);
		const char *want = strcmp(bad->value, "none") == 0 ? NULL : bad->value;
		if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0))
			mismatch(&t, c->line, "route_validate named %s, expected %s",
				 got ? got : "none", bad->value);
		arena_free(a);
	}
	table_finish(&t);
}

static const struct {
	const char *name;
	enum key_type type;
} key_types[] = {
	{"LINE", KEY_LINE}, {"TEXT", KEY_TEXT}, {"INT", KEY_INT}, {"SLUG", KEY_SLUG},
};
_Static_assert(sizeof key_types / sizeof key_types[0] == KEY__MAX,
	       "every key type needs a name here and cases in route_keys.txt");

static void test_key_table(void **state)
{
	(void)state;
	static const char *const keys[] = {"yes", "no", NULL};
	struct table t;
	bool seen[KEY__MAX] = {false};
	table_load(&t, "route_keys.txt", keys);
	for (size_t i = 0; i < t.n; i++) {
		for (size_t k = 0; k < t.cases[i].n; k++) {
			const struct kv *kv = &t.cases[i].kv[k];
			char type[16];
			unsigned long max;
			int used = 0;
			if (sscanf(kv->value, "%15s %lu%n", type, &max, &used) != 2) {
				mismatch(&t, kv->line, "expected \"TYPE MAX value\"");
				continue;
			}
			const char *value = kv->value + used;
			if (*value == ' ')
				value++;
			size_t ti = 0;
			while (ti < KEY__MAX && strcmp(key_types[ti].name, type) != 0)
				ti++;
			if (ti == KEY__MAX) {
				mismatch(&t, kv->line, "unknown key type %s", type);
				continue;
			}
			seen[key_types[ti].type] = true;
			bool want = strcmp(kv->key, "yes") == 0;
			if (route_key_valid(key_types[ti].type, max, value) != want)
				mismatch(&t, kv->line, "route_key_valid(%s, %lu, \"%s\") should be %s",
					 type, max, shows(value), want ? "true" : "false");
		}
	}
	for (size_t ti = 0; ti < KEY__MAX; ti++)
		if (!seen[ti])
			mismatch(&t, 0, "no cases for key type %s", key_types[ti].name);
	table_finish(&t);
}

/* ---- the table itself ---- */

/* Every row is well-formed, and a request for its own pattern (":x" as
 * "1") with its own method finds that very row. */
static void test_table_consistent(void **state)
{
	(void)state;
	assert_true(route_count > 0);
	for (size_t i = 0; i < route_count; i++) {
		const struct route *row = &route_table[i];
		assert_non_null(row->handler);
		assert_non_null(row->pattern);
		assert_int_equal(row->pattern[0], '/');
		assert_true(row->method == HTTP_GET || row->method == HTTP_POST ||
			    row->method == HTTP_PUT || row->method == HTTP_DELETE);
		/* state-changing routes carry a CSRF token */
		if (row->method == HTTP_POST && row->auth == AUTH_ADMIN)
			assert_true(row->csrf);
		for (const struct form_key *k = row->keys; k && k->name; k++) {
			assert_true(k->type < KEY__MAX);
			assert_true(k->max_len > 0);
		}
		for (size_t j = 0; j < i; j++)
			if (route_table[j].method == row->method &&
			    strcmp(route_table[j].pattern, row->pattern) == 0)
				fail_msg("rows %zu and %zu are both %s %s", j, i,
					 method_names[row->method], row->pattern);

		struct arena *a = arena_new();
		struct buf path = BUF_INIT;
		for (const char *p = row->pattern; *p;) {
			if (*p == ':') {
				buf_putc(&path, '1');
				while (*p && *p != '/')
					p++;
			} else {
				buf_putc(&path, *p++);
			}
		}
		struct http_request r;
		make_request(&r, a, method_names[row->method], buf_cstr(&path), NULL, NULL);
		const struct route *got = NULL;
		const char *allow = NULL;
		enum route_match_result m = route_match(&r, &got, &allow);
		if (m != ROUTE_FOUND || got != row)
			fail_msg("%s %s does not find its own row %zu", method_names[row->method],
				 buf_cstr(&path), i);
		if (strchr(row->pattern, ':'))
			assert_string_equal(r.params[0], "1");
		buf_free(&path);
		arena_free(a);
	}
}

/* A failed match leaves the request's params alone and a wrong method
 * names the Allow list only. */
static void test_match_outputs(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	struct http_request r;
	const struct route *route = NULL;
	const char *allow = "untouched";
	make_request(&r, a, "GET", "/nope", NULL, NULL);
	assert_int_equal(route_match(&r, &route, &allow), ROUTE_NOT_FOUND);
	assert_null(route);
	assert_string_equal(allow, "untouched");
	assert_null(r.params[0]);

	make_request(&r, a, "GET", "/fields/9/delete", NULL, NULL);
	assert_int_equal(route_match(&r, &route, &allow), ROUTE_WRONG_METHOD);
	assert_null(route);
	assert_string_equal(allow, "POST");
	assert_null(r.params[0]);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_validate_table),
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_table_consistent),
		cmocka_unit_test(test_match_outputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
