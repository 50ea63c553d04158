/*
 * test_http.c - unit tests for src/http.c: percent-decoding, urlencoded
 * forms, cookies, the CGI request parser and its limits, response heads,
 * local redirect targets and URL encoding.
 *
 * Most cases are tables in tests/unit/data/http_*.txt (format in
 * tests/unit/data/README.md); this file holds their runners and the
 * cases that need sizes too large to write down (the limits).
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
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "http.h"
#include "httpdate.h"

#include "table.h"

}

/* ---- helpers ---- */

struct want_pair {
	const char *name;
	const char *value;
};

/* Compares got with the n expected pairs; reports mismatches at line. */
static void check_pairs(struct table *t, int line, const char *what,
			const struct http_pairs *got, const struct want_pair *want, size_t n)
{
	if (got->n != n) {
		mismatch(t, line, "%s: %zu pairs, expected %zu", what, got->n, n);
		for (size_t i = 0; i < got->n; i++)
			print_error("    got %s = %s\n", shows(got->items[i].name),
				    shows(got->items[i].value));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(got->items[i].name, want[i].name) != 0 ||
		    strcmp(got->items[i].value, want[i].value) != 0)
			mismatch(t, line, "%s pair %zu: got %s = %s, expected %s = %s", what, i,
				 shows(got->items[i].name), shows(got->items[i].value),
				 shows(want[i].name), shows(want[i].value));
	}
}

/* Collects the case's name:/value: lines into want (at most max). */
static size_t name_value_pairs(struct table *t, const struct tcase *c,
			       struct want_pair *want, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->kv[i].key, "name") == 0) {
			if (n == max || i + 1 == c->n || strcmp(c->kv[i + 1].key, "value") != 0) {
				mismatch(t, c->kv[i].line, "\"name:\" must be followed by \"value:\"");
				return n;
			}
			want[n].name = c->kv[i].value;
			want[n].value = c->kv[i + 1].value;
			n++;
		}
	}
	return n;
}

static const char *expect_of(const struct tcase *c)
{
	const struct kv *e = tcase_get(c, "expect");
	return e ? e->value : "ok";
}

/* Returns a malloc'd string of prefix followed by n copies of unit. */
static char *repeat(const char *prefix, const char *unit, size_t n)
{
	size_t p = strlen(prefix), u = strlen(unit);
	char *s = malloc(p + u * n + 1);
	assert_non_null(s);
	memcpy(s, prefix, p);
	for (size_t i = 0; i < n; i++)
		memcpy(s + p + i * u, unit, u);
	s[p + u * n] = '\0';
	return s;
}

/* ---- tables ---- */

static void test_urlencoded_table(void **state)
{
	(void)state;
	static const char *const keys[] = {"case", "input", "expect", "name", "value", NULL};
	struct table t;
	table_load(&t, "http_urlencoded.txt", keys);
	for (size_t i = 0; i < t.n; i++) {
		const struct tcase *c = &t.cases[i];
		const struct kv *in = tcase_get(c, "input");
		if (!in) {
			mismatch(&t, c->line, "case has no input");
			continue;
		}
		struct arena *a = arena_new();
		struct http_pairs got = {NULL, 0};
		sl_err e = http_parse_urlencoded(a, in->value, in->len, &got);
		if (strcmp(err_name(e), expect_of(c)) != 0) {
			mismatch(&t, c->line, "%s: got %s, expected %s", show(in->value, in->len),
				 err_name(e), expect_of(c));
		} else if (!e) {
			struct want_pair want[32];
			size_t n = name_value_pairs(&t, c, want, 32);
			check_pairs(&t, c->line, show(in->value, in->len), &got, want, n);
		}
		arena_free(a);
	}
	table_finish(&t);
}

static void test_cookie_table(void **state)
{
	(void)state;
	static const char *const keys[] = {"case", "input", "name", "value", NULL};
	struct table t;
	table_load(&t, "http_cookies.txt", keys);
	for (size_t i = 0; i < t.n; i++) {
		const struct tcase *c = &t.cases[i];
		const struct kv *in = tcase_get(c, "input");
		if (!in) {
			mismatch(&t, c->line, "case has no input");
			continue;
		}
		struct arena *a = arena_new();
		struct http_pairs got = {NULL, 0};
		http_parse_cookies(a, in->value, &got);
		struct want_pair want[32];
		size_t n = name_value_pairs(&t, c, want, 32);
		check_pairs(&t, c->line, show(in->value, in->len), &got, want, n);
		arena_free(a);
	}
	table_finish(&t);
}

static const struct {
	const char *name;
	enum http_method method;
} method_names[] = {
	{"GET", HTTP_GET}, {"HEAD", HTTP_HEAD}, {"POST", HTTP_POST},
	{"PUT", HTTP_PUT}, {"DELETE", HTTP_DELETE}, {"OTHER", HTTP_OTHER},
};

/* Checks an optional string member: listed → equal; not listed → NULL. */
static void check_optional(struct table *t, const struct tcase *c, const char *key,
			   const char *got)
{
	const struct kv *want = tcase_get(c, key);
	if (!want && got)
		mismatch(t, c->line, "%s: got %s, expected NULL", key, shows(got));
	else if (want && (!got || strcmp(got, want->value) != 0))
		mismatch(t, c->line, "%s: got %s, expected %s", key, shows(got), shows(want->value));
}

/* Collects key: name=value lines (split at the first '='). */
static size_t split_pairs(const struct tcase *c, const char *key, struct want_pair *want,
			  char store[][512], size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n && n < max; i++) {
		if (strcmp(c->kv[i].key, key) != 0)
			continue;
		snprintf(store[n], 512, "%s", c->kv[i].value);
		char *eq = strchr(store[n], '=');
		want[n].name = store[n];
		want[n].value = "";
		if (eq) {
			*eq = '\0';
			want[n].value = eq + 1;
		}
		n++;
	}
	return n;
}

static void test_request_table(void **state)
{
	(void)state;
	static const char *const keys[] = {
		"case", "env", "body", "expect", "method_name", "method", "path", "query",
		"form", "cookie", "content_type", "stripe_signature", "accept",
		"remote_addr", "https", NULL,
	};
	struct table t;
	table_load(&t, "http_requests.txt", keys);
	for (size_t i = 0; i < t.n; i++) {
		const struct tcase *c = &t.cases[i];
		char *envp[32];
		size_t n_env = 0;
		for (size_t k = 0; k < c->n && n_env < 31; k++)
			if (strcmp(c->kv[k].key, "env") == 0)
				envp[n_env++] = c->kv[k].value;
		envp[n_env] = NULL;
		const struct kv *body = tcase_get(c, "body");
		const unsigned char *b = (const unsigned char *)(body ? body->value : "");
		size_t blen = body ? body->len : 0;

		struct arena *a = arena_new();
		struct http_request r;
		sl_err e = http_request_parse(&r, a, envp, b, blen);
		const char *expect = expect_of(c);
		if (strcmp(err_name(e), expect) != 0) {
			mismatch(&t, c->line, "got %s, expected %s", err_name(e), expect);
			arena_free(a);
			continue;
		}

		const struct kv *mn = tcase_get(c, "method_name");
		if (mn && (!r.method_name || strcmp(r.method_name, mn->value) != 0))
			mismatch(&t, c->line, "method_name: got %s, expected %s",
				 shows(r.method_name), mn->value);
		const struct kv *m = tcase_get(c, "method");
		if (m) {
			size_t k = 0;
			while (k < sizeof method_names / sizeof method_names[0] &&
			       strcmp(method_names[k].name, m->value) != 0)
				k++;
			if (k == sizeof method_names / sizeof method_names[0])
				mismatch(&t, m->line, "unknown method %s", m->value);
			else if (r.method != method_names[k].method)
				mismatch(&t, c->line, "method: got %d, expected %s", (int)r.method,
					 m->value);
		}
		const struct kv *p = tcase_get(c, "path");
		if (p && (!r.path || strcmp(r.path, p->value) != 0))
			mismatch(&t, c->line, "path: got %s, expected %s", shows(r.path),
				 show(p->value, p->len));
		if (e) {
			arena_free(a);
			continue;
		}

		struct want_pair want[32];
		char store[32][512];
		size_t n = split_pairs(c, "query", want, store, 32);
		check_pairs(&t, c->line, "query", &r.query, want, n);
		n = split_pairs(c, "form", want, store, 32);
		check_pairs(&t, c->line, "form", &r.form, want, n);
		n = split_pairs(c, "cookie", want, store, 32);
		check_pairs(&t, c->line, "cookie", &r.cookies, want, n);

		const struct kv *ct = tcase_get(c, "content_type");
		const char *want_ct = ct ? ct->value : "";
		if (!r.content_type || strcmp(r.content_type, want_ct) != 0)
			mismatch(&t, c->line, "content_type: got %s, expected %s",
				 shows(r.content_type), shows(want_ct));
		check_optional(&t, c, "stripe_signature", r.stripe_signature);
		check_optional(&t, c, "accept", r.accept);
		check_optional(&t, c, "remote_addr", r.remote_addr);
		check_optional(&t, c, "https", r.https);

		if (r.body_len != blen || !r.body || memcmp(r.body, b, blen) != 0 ||
		    r.body[blen] != '\0')
			mismatch(&t, c->line, "body: got %zu bytes %s, expected %zu bytes %s",
				 r.body_len, r.body ? show((const char *)r.body, r.body_len) : "(null)",
				 blen, show((const char *)b, blen));
		else if (blen && r.body == b)
			mismatch(&t, c->line, "body: not copied into the arena");
		arena_free(a);
	}
	table_finish(&t);
}

static void test_local_path_table(void **state)
{
	(void)state;
	static const char *const keys[] = {"yes", "no", NULL};
	struct table t;
	table_load(&t, "http_local_paths.txt", keys);
	for (size_t i = 0; i < t.n; i++) {
		for (size_t k = 0; k < t.cases[i].n; k++) {
			const struct kv *kv = &t.cases[i].kv[k];
			bool want = strcmp(kv->key, "yes") == 0;
			if (http_is_local_path(kv->value) != want)
				mismatch(&t, kv->line, "http_is_local_path(\"%s\") should be %s",
					 show(kv->value, kv->len), want ? "true" : "false");
		}
	}
	table_finish(&t);
	assert_false(http_is_local_path(NULL));
}

static void test_url_encode_table(void **state)
{
	(void)state;
	static const char *const keys[] = {"in", "out", NULL};
	struct table t;
	table_load(&t, "http_url_encode.txt", keys);
	for (size_t i = 0; i < t.n; i++) {
		const struct tcase *c = &t.cases[i];
		const struct kv *in = tcase_get(c, "in"), *out = tcase_get(c, "out");
		if (!in || !out) {
			mismatch(&t, c->line, "a case needs in: and out:");
			continue;
		}
		struct arena *a = arena_new();
		const char *got = http_url_encode(a, in->value);
		if (strcmp(got, out->value) != 0)
			mismatch(&t, c->line, "http_url_encode(%s): got %s, expected %s",
				 show(in->value, in->len), got, out->value);
		/* and it decodes back to the input */
		struct http_pairs back = {NULL, 0};
		const char *q = arena_printf(a, "v=%s", got);
		if (http_parse_urlencoded(a, q, strlen(q), &back) != SL_OK || back.n != 1 ||
		    strcmp(back.items[0].value, in->value) != 0)
			mismatch(&t, c->line, "%s does not decode back to %s", got,
				 show(in->value, in->len));
		arena_free(a);
	}
	table_finish(&t);
}

/* ---- HTTP dates ---- */

static void test_date_table(void **state)
{
	(void)state;
	static const char *const keys[] = {"in", "out", NULL};
	struct table t;
	table_load(&t, "http_dates.txt", keys);
	for (size_t i = 0; i < t.n; i++) {
		const struct tcase *c = &t.cases[i];
		const struct kv *in = tcase_get(c, "in"), *out = tcase_get(c, "out");
		if (!in || !out) {
			mismatch(&t, c->line, "a case needs in: and out:");
			continue;
		}
		long long got = 12345;
		bool ok = http_date_parse(in->value, &got);
		if (strcmp(out->value, "invalid") == 0) {
			if (ok)
				mismatch(&t, c->line, "%s: parsed as %lld, expected invalid",
					 show(in->value, in->len), got);
			else if (got != 12345)
				mismatch(&t, c->line, "%s: invalid, yet the output was written",
					 show(in->value, in->len));
			continue;
		}
		long long want = strtoll(out->value, NULL, 10);
		if (!ok)
			mismatch(&t, c->line, "%s: invalid, expected %lld", show(in->value, in->len), want);
		else if (got != want)
			mismatch(&t, c->line, "%s: got %lld, expected %lld", show(in->value, in->len), got, want);
	}
	table_finish(&t);
}

/* Every form of every 7 hours and 13 minutes from 1970 to 2100, written
 * by the C library, parses back to its time. */
static void test_date_round_trip(void **state)
{
	(void)state;
	static const char *const formats[] = {
		"%a, %d %b %Y %H:%M:%S GMT",   /* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT",   /* RFC 850 */
		"%a %b %e %H:%M:%S %Y",        /* asctime */
	};
	int checked = 0;
	time_t now = time(NULL);
	struct tm today;
	assert_non_null(gmtime_r(&now, &today));
	for (long long at = 0; at < 4102444800LL; at += 7 * 3600 + 13 * 60 + 1) {
		time_t tt = (time_t)at;
		struct tm tm;
		assert_non_null(gmtime_r(&tt, &tm));
		for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
			/* two-digit years stand for the 100 years up to 50 ahead */
			if (f == 1 && (tm.tm_year > today.tm_year + 50 || tm.tm_year <= today.tm_year - 50))
				continue;
			char text[64];
			assert_true(strftime(text, sizeof text, formats[f], &tm) > 0);
			long long got = -1;
			if (!http_date_parse(text, &got) || got != at)
				fail_msg("%s: got %lld, expected %lld", text, got, at);
			checked++;
		}
	}
	assert_true(checked > 300000);
}

/* ---- limits ---- */

/* Parses one request from a NULL-terminated list of env strings. */
static sl_err parse_env(struct arena *a, struct http_request *r, const unsigned char *body,
			size_t body_len, ...)
{
	char *envp[16];
	size_t n = 0;
	va_list ap;
	va_start(ap, body_len);
	char *s;
	while ((s = va_arg(ap, char *)) && n < 15)
		envp[n++] = s;
	va_end(ap);
	envp[n] = NULL;
	return http_request_parse(r, a, envp, body, body_len);
}

/* The CGI variables are read in one pass: a name must match whole (a
 * longer name that starts with it is another variable), the first of a
 * repeated name counts, and an entry without '=' is passed over. */
static void test_env_names_match_whole(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	struct http_request r;
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHODX=POST",
				   "HTTPSX=on", "HTTP_HOST_EXTRA=evil.example", "NOEQUALS",
				   "HTTP_HOST=good.example", "HTTP_HOST=second.example",
				   "REQUEST_METHOD=DELETE", "HTTP_STRIPE_SIGNATURE=t=1,v1=ab",
				   "DOCUMENT_URI=/x", "QUERY_STRING=a=1", "HTTP_COOKIE=c=2", NULL), SL_OK);
	assert_string_equal(r.host, "good.example");
	assert_false(r.secure);
	assert_null(r.https);
	assert_int_equal(r.method, HTTP_DELETE);
	assert_string_equal(r.stripe_signature, "t=1,v1=ab");
	assert_string_equal(r.path, "/x");
	assert_string_equal(http_get(&r.query, "a"), "1");
	assert_string_equal(http_get(&r.cookies, "c"), "2");
	assert_null(r.authorization);
	assert_null(r.forwarded_for);
	assert_string_equal(r.content_type, "");
	arena_free(a);
}

static void test_max_fields(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	struct http_pairs p;
	/* HTTP_MAX_FIELDS pairs: "f=1&f=1&...". */
	char *ok = repeat("f=1", "&f=1", HTTP_MAX_FIELDS - 1);
	char *over = repeat("f=1", "&f=1", HTTP_MAX_FIELDS);
	assert_int_equal(http_parse_urlencoded(a, ok, strlen(ok), &p), SL_OK);
	assert_int_equal(p.n, HTTP_MAX_FIELDS);
	assert_int_equal(http_parse_urlencoded(a, over, strlen(over), &p), SL_ERR_TOO_LARGE);

	/* the same through the query string and a form body */
	struct http_request r;
	char *q_ok = repeat("QUERY_STRING=f=1", "&f=1", HTTP_MAX_FIELDS - 1);
	char *q_over = repeat("QUERY_STRING=f=1", "&f=1", HTTP_MAX_FIELDS);
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   "DOCUMENT_URI=/contacts", q_ok, NULL), SL_OK);
	assert_int_equal(r.query.n, HTTP_MAX_FIELDS);
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   "DOCUMENT_URI=/contacts", q_over, NULL), SL_ERR_TOO_LARGE);
	assert_string_equal(r.path, "/contacts");
	assert_int_equal(parse_env(a, &r, (const unsigned char *)over, strlen(over),
				   "REQUEST_METHOD=POST", "DOCUMENT_URI=/fields",
				   "CONTENT_TYPE=application/x-www-form-urlencoded", NULL),
			 SL_ERR_TOO_LARGE);
	assert_int_equal(r.method, HTTP_POST);
	assert_int_equal(parse_env(a, &r, (const unsigned char *)ok, strlen(ok),
				   "REQUEST_METHOD=POST", "DOCUMENT_URI=/fields",
				   "CONTENT_TYPE=application/x-www-form-urlencoded", NULL),
			 SL_OK);
	assert_int_equal(r.form.n, HTTP_MAX_FIELDS);
	free(ok);
	free(over);
	free(q_ok);
	free(q_over);
	arena_free(a);
}

static void test_max_field_len(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	struct http_pairs p;
	char *ok = repeat("v=", "x", HTTP_MAX_FIELD_LEN);
	char *over = repeat("v=", "x", HTTP_MAX_FIELD_LEN + 1);
	char *enc_ok = repeat("v=", "%41", HTTP_MAX_FIELD_LEN);
	char *enc_over = repeat("v=", "%41", HTTP_MAX_FIELD_LEN + 1);
	char *name_over = repeat("", "n", HTTP_MAX_FIELD_LEN + 1);

	assert_int_equal(http_parse_urlencoded(a, ok, strlen(ok), &p), SL_OK);
	assert_int_equal(p.n, 1);
	assert_int_equal(strlen(p.items[0].value), HTTP_MAX_FIELD_LEN);
	assert_int_equal(http_parse_urlencoded(a, over, strlen(over), &p), SL_ERR_TOO_LARGE);
	/* the limit is on the decoded value */
	assert_int_equal(http_parse_urlencoded(a, enc_ok, strlen(enc_ok), &p), SL_OK);
	assert_int_equal(strlen(p.items[0].value), HTTP_MAX_FIELD_LEN);
	assert_int_equal(p.items[0].value[0], 'A');
	assert_int_equal(http_parse_urlencoded(a, enc_over, strlen(enc_over), &p), SL_ERR_TOO_LARGE);
	assert_int_equal(http_parse_urlencoded(a, name_over, strlen(name_over), &p), SL_ERR_TOO_LARGE);

	/* through a form body */
	struct http_request r;
	assert_int_equal(parse_env(a, &r, (const unsigned char *)over, strlen(over),
				   "REQUEST_METHOD=POST", "DOCUMENT_URI=/fields",
				   "CONTENT_TYPE=application/x-www-form-urlencoded", NULL),
			 SL_ERR_TOO_LARGE);
	free(ok);
	free(over);
	free(enc_ok);
	free(enc_over);
	free(name_over);
	arena_free(a);
}

static void test_max_query_and_cookie(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	struct http_request r;
	/* "QUERY_STRING=" + "q=" + padding: exactly HTTP_MAX_QUERY bytes of query */
	char *q_ok = repeat("QUERY_STRING=q=", "x", HTTP_MAX_QUERY - 2);
	char *q_over = repeat("QUERY_STRING=q=", "x", HTTP_MAX_QUERY - 1);
	char *c_ok = repeat("HTTP_COOKIE=c=", "x", HTTP_MAX_COOKIE - 2);
	char *c_over = repeat("HTTP_COOKIE=c=", "x", HTTP_MAX_COOKIE - 1);

	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   "DOCUMENT_URI=/contacts", q_ok, NULL), SL_OK);
	assert_int_equal(strlen(http_get(&r.query, "q")), HTTP_MAX_QUERY - 2);
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   "DOCUMENT_URI=/contacts", q_over, NULL), SL_ERR_TOO_LARGE);
	assert_string_equal(r.path, "/contacts");
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   "DOCUMENT_URI=/", c_ok, NULL), SL_OK);
	assert_int_equal(strlen(http_get(&r.cookies, "c")), HTTP_MAX_COOKIE - 2);
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   "DOCUMENT_URI=/", c_over, NULL), SL_ERR_TOO_LARGE);
	free(q_ok);
	free(q_over);
	free(c_ok);
	free(c_over);
	arena_free(a);
}

static void test_max_path(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	struct http_request r;
	char *doc_ok = repeat("DOCUMENT_URI=/", "p", HTTP_MAX_PATH - 1);
	char *doc_over = repeat("DOCUMENT_URI=/", "p", HTTP_MAX_PATH);
	char *req_ok = repeat("REQUEST_URI=/", "p", HTTP_MAX_PATH - 1);
	char *req_over = repeat("REQUEST_URI=/", "p", HTTP_MAX_PATH);
	/* decoded length counts: 2048 escapes are 2048 bytes of path */
	char *req_enc_ok = repeat("REQUEST_URI=/", "%70", HTTP_MAX_PATH - 1);
	char *req_enc_over = repeat("REQUEST_URI=/", "%70", HTTP_MAX_PATH);

	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   doc_ok, NULL), SL_OK);
	assert_int_equal(strlen(r.path), HTTP_MAX_PATH);
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   doc_over, NULL), SL_ERR_TOO_LARGE);
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   req_ok, NULL), SL_OK);
	assert_int_equal(strlen(r.path), HTTP_MAX_PATH);
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   req_over, NULL), SL_ERR_TOO_LARGE);
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   req_enc_ok, NULL), SL_OK);
	assert_int_equal(strlen(r.path), HTTP_MAX_PATH);
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   req_enc_over, NULL), SL_ERR_TOO_LARGE);
	free(doc_ok);
	free(doc_over);
	free(req_ok);
	free(req_over);
	free(req_enc_ok);
	free(req_enc_over);
	arena_free(a);
}

/* A REQUEST_URI longer than HTTP_MAX_FIELD_LEN is still "too large", not
 * "malformed" (http.h: SL_ERR_TOO_LARGE when a limit is exceeded). */
static void test_huge_request_uri_is_too_large(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	struct http_request r;
	char *huge = repeat("REQUEST_URI=/", "p", HTTP_MAX_FIELD_LEN + 10);
	sl_err e = parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET", huge, NULL);
	free(huge);
	arena_free(a);
	assert_string_equal(err_name(e), err_name(SL_ERR_TOO_LARGE));
}

static void test_max_body(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	struct http_request r;
	unsigned char *body = malloc(HTTP_MAX_BODY + 1);
	assert_non_null(body);
	for (size_t i = 0; i < HTTP_MAX_BODY + 1; i++)
		body[i] = (unsigned char)(i * 7);
	assert_int_equal(parse_env(a, &r, body, HTTP_MAX_BODY, "REQUEST_METHOD=POST",
				   "DOCUMENT_URI=/webhooks/stripe",
				   "CONTENT_TYPE=application/json", NULL), SL_OK);
	assert_int_equal(r.body_len, HTTP_MAX_BODY);
	assert_memory_equal(r.body, body, HTTP_MAX_BODY);
	assert_int_equal(r.body[HTTP_MAX_BODY], '\0');

	assert_int_equal(parse_env(a, &r, body, HTTP_MAX_BODY + 1, "REQUEST_METHOD=POST",
				   "DOCUMENT_URI=/webhooks/stripe",
				   "CONTENT_TYPE=application/json", NULL), SL_ERR_TOO_LARGE);
	assert_int_equal(r.method, HTTP_POST);
	assert_string_equal(r.path, "/webhooks/stripe");
	free(body);
	arena_free(a);
}

/* ---- lookups ---- */

static void test_get_and_param(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	struct http_request r;
	const char *body = "username=fromform&k=1&k=2&empty=";
	assert_int_equal(parse_env(a, &r, (const unsigned char *)body, strlen(body),
				   "REQUEST_METHOD=POST", "DOCUMENT_URI=/login",
				   "QUERY_STRING=next=/contacts&username=fromquery",
				   "CONTENT_TYPE=application/x-www-form-urlencoded", NULL), SL_OK);
	/* repeated keys: the first wins */
	assert_string_equal(http_get(&r.form, "k"), "1");
	assert_string_equal(http_get(&r.form, "empty"), "");
	assert_null(http_get(&r.form, "missing"));
	assert_null(http_get(&r.form, "K"));
	assert_string_equal(http_param(&r, "username"), "fromform");
	assert_string_equal(http_param(&r, "empty"), "");
	assert_null(http_param(&r, "missing"));

	/* GET: the query */
	assert_int_equal(parse_env(a, &r, (const unsigned char *)"", 0, "REQUEST_METHOD=GET",
				   "DOCUMENT_URI=/login", "QUERY_STRING=next=/contacts", NULL), SL_OK);
	assert_string_equal(http_param(&r, "next"), "/contacts");
	assert_null(http_param(&r, "username"));
	arena_free(a);
}

/* http.h: "Returns the form value, or the query value for GET". A POST
 * must not read its query: route_validate() checks only the form of a
 * POST, so a query value would reach the handler unvalidated. */
static void test_param_post_ignores_query(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	struct http_request r;
	const char *body = "password=0123456789";
	assert_int_equal(parse_env(a, &r, (const unsigned char *)body, strlen(body),
				   "REQUEST_METHOD=POST", "DOCUMENT_URI=/login",
				   "QUERY_STRING=username=a%0Ab",
				   "CONTENT_TYPE=application/x-www-form-urlencoded", NULL), SL_OK);
	const char *username = http_param(&r, "username");
	arena_free(a);
	if (username)
		fail_msg("POST http_param(\"username\") returned the query value; expected NULL");
}

static void test_method_from(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof method_names / sizeof method_names[0]; i++)
		if (method_names[i].method != HTTP_OTHER)
			assert_int_equal(http_method_from(method_names[i].name), method_names[i].method);
	assert_int_equal(http_method_from("OTHER"), HTTP_OTHER);
	assert_int_equal(http_method_from("PATCH"), HTTP_OTHER);
	assert_int_equal(http_method_from("get"), HTTP_OTHER);
	assert_int_equal(http_method_from(""), HTTP_OTHER);
	assert_int_equal(http_method_from("GETX"), HTTP_OTHER);
	assert_int_equal(http_method_from(NULL), HTTP_OTHER);
}

static void test_wants_json(void **state)
{
	(void)state;
	static const struct {
		const char *accept;
		bool json;
	} cases[] = {
		{NULL, false},
		{"", false},
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"text/html,application/xhtml+xml,application/json;q=0.9", false},
		{"*/*", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct http_request r;
		memset(&r, 0, sizeof r);
		r.accept = cases[i].accept;
		if (http_wants_json(&r) != cases[i].json)
			fail_msg("Accept %s: expected %d", shows(cases[i].accept), cases[i].json);
	}
}

/* ---- responses ---- */

/* Returns the number of times needle occurs in hay. */
static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_response_head(void **state)
{
	(void)state;
	struct http_response resp;
	struct buf out = BUF_INIT;
	http_response_init(&resp);
	assert_int_equal(resp.status, 200);
	http_response_head(&resp, &out);
	const char *h = buf_cstr(&out);

	assert_true(strncmp(h, "Status: 200 OK\r\n", 16) == 0);
	assert_non_null(strstr(h, "\r\nContent-Type: text/html; charset=utf-8\r\n"));
	const char *csp = strstr(h, "\r\nContent-Security-Policy: ");
	assert_non_null(csp);
	const char *csp_end = strstr(csp + 2, "\r\n");
	assert_non_null(csp_end);
	const char *fa = strstr(csp, "frame-ancestors 'none'");
	assert_true(fa && fa < csp_end);
	const char *ds = strstr(csp, "default-src 'self'");
	assert_true(ds && ds < csp_end);
	assert_non_null(strstr(h, "\r\nX-Content-Type-Options: nosniff\r\n"));
	assert_non_null(strstr(h, "\r\nReferrer-Policy: no-referrer\r\n"));
	assert_non_null(strstr(h, "\r\nX-Frame-Options: DENY\r\n"));
	assert_non_null(strstr(h, "\r\nCache-Control: no-store\r\n"));
	/* one blank line, at the very end; every line ends in CRLF */
	assert_int_equal(count(h, "\r\n\r\n"), 1);
	assert_true(out.len >= 4 && strcmp(h + out.len - 4, "\r\n\r\n") == 0);
	assert_int_equal(count(h, "\n"), count(h, "\r\n"));
	assert_int_equal(count(h, "Content-Security-Policy:"), 1);
	buf_free(&out);
	http_response_free(&resp);
}

static void test_response_redirect_and_headers(void **state)
{
	(void)state;
	struct http_response resp;
	struct buf out = BUF_INIT;
	http_response_init(&resp);
	http_redirect(&resp, "/contacts?page=2");
	http_header(&resp, "Set-Cookie", "a=1; HttpOnly");
	resp.cacheable = true;
	buf_puts(&resp.body, "ignored by the head");
	http_response_head(&resp, &out);
	const char *h = buf_cstr(&out);
	assert_true(strncmp(h, "Status: 303 See Other\r\n", 23) == 0);
	assert_non_null(strstr(h, "\r\nLocation: /contacts?page=2\r\n"));
	assert_non_null(strstr(h, "\r\nSet-Cookie: a=1; HttpOnly\r\n"));
	assert_null(strstr(h, "no-store"));
	assert_null(strstr(h, "ignored"));
	assert_non_null(strstr(h, "frame-ancestors 'none'"));
	buf_free(&out);
	http_response_free(&resp);
	http_response_free(&resp); /* twice is harmless */
}

static void test_response_statuses(void **state)
{
	(void)state;
	static const struct {
		int status;
		const char *line;
	} cases[] = {
		{400, "Status: 400 Bad Request\r\n"},
		{403, "Status: 403 Forbidden\r\n"},
		{404, "Status: 404 Not Found\r\n"},
		{405, "Status: 405 Method Not Allowed\r\n"},
		{413, "Status: 413 Payload Too Large\r\n"},
		{429, "Status: 429 Too Many Requests\r\n"},
		{500, "Status: 500 Internal Server Error\r\n"},
		{503, "Status: 503 Service Unavailable\r\n"},
		{299, "Status: 299 Unknown\r\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct http_response resp;
		struct buf out = BUF_INIT;
		http_response_init(&resp);
		resp.status = cases[i].status;
		resp.content_type = "application/json";
		http_response_head(&resp, &out);
		if (strncmp(buf_cstr(&out), cases[i].line, strlen(cases[i].line)) != 0)
			fail_msg("status %d: head starts %s", cases[i].status,
				 show(buf_cstr(&out), 40));
		assert_non_null(strstr(buf_cstr(&out), "\r\nContent-Type: application/json\r\n"));
		assert_non_null(strstr(buf_cstr(&out), "X-Content-Type-Options: nosniff"));
		buf_free(&out);
	}
}

static void test_response_header_limit(void **state)
{
	(void)state;
	struct http_response resp;
	struct buf out = BUF_INIT;
	static const char *const names[] = {
		"X-0", "X-1", "X-2", "X-3", "X-4", "X-5", "X-6", "X-7",
		"X-8", "X-9", "X-10", "X-11", "X-12", "X-13",
	};
	_Static_assert(sizeof names / sizeof names[0] > HTTP_MAX_HEADERS, "enough names");
	http_response_init(&resp);
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		http_header(&resp, names[i], "v");
	assert_int_equal(resp.n_headers, HTTP_MAX_HEADERS);
	http_response_head(&resp, &out);
	assert_non_null(strstr(buf_cstr(&out), "\r\nX-11: v\r\n"));
	assert_null(strstr(buf_cstr(&out), "\r\nX-12: v\r\n"));
	buf_free(&out);
}

/* ---- client address, TLS and Host behind a proxy ---- */

static void test_addr_in_list(void **state)
{
	(void)state;
	static const struct {
		const char *addr, *list;
		bool want;
	} cases[] = {
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", " 10.0.0.1 , 127.0.0.1 ", true},
		{"127.0.0.2", "127.0.0.1", false},
		{"10.1.2.3", "10.0.0.0/8", true},
		{"11.1.2.3", "10.0.0.0/8", false},
		{"192.168.1.77", "192.168.1.64/26", true},
		{"192.168.1.128", "192.168.1.64/26", false},
		{"::1", "::1", true},
		{"2001:db8::5", "2001:db8::/32", true},
		{"2001:db9::5", "2001:db8::/32", false},
		{"10.0.0.1", "::/0", true},       /* all of IPv6, IPv4 mapped included */
		{"10.0.0.1", "", false},
		{"not-an-ip", "0.0.0.0/0", false},
		{NULL, "0.0.0.0/0", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (http_addr_in_list(cases[i].addr, cases[i].list) != cases[i].want)
			fail_msg("case %zu: %s in [%s]", i, cases[i].addr ? cases[i].addr : "NULL",
				 cases[i].list);
	static const struct {
		const char *list;
		bool valid;
	} lists[] = {
		{"", true}, {"127.0.0.1", true}, {"10.0.0.0/8, ::1, fd00::/8", true},
		{"10.0.0.0/33", false}, {"10.0.0.0/", false}, {"localhost", false},
		{"127.0.0.1,,::1", false}, {"1.2.3.4/8x", false},
	};
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
		if (http_addr_list_valid(lists[i].list) != lists[i].valid)
			fail_msg("list %zu: [%s]", i, lists[i].list);
}

static void test_apply_proxy(void **state)
{
	(void)state;
	static const struct {
		const char *peer, *xff, *real_ip, *proto, *https, *trusted;
		bool public_https;
		const char *want_addr;
		bool want_secure;
	} cases[] = {
		/* no trusted proxy: the headers are the client's own words */
		{"127.0.0.1", "203.0.113.9", NULL, "https", NULL, "", false, "127.0.0.1", false},
		{"198.51.100.1", "203.0.113.9", NULL, NULL, NULL, "127.0.0.1", false, "198.51.100.1", false},
		/* a trusted peer: the rightmost untrusted hop */
		{"127.0.0.1", "203.0.113.9", NULL, NULL, NULL, "127.0.0.1", false, "203.0.113.9", false},
		{"127.0.0.1", "6.6.6.6, 203.0.113.9", NULL, NULL, NULL, "127.0.0.1", false, "203.0.113.9", false},
		{"127.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2", NULL, NULL, NULL, "127.0.0.1,10.0.0.0/8",
		 false, "203.0.113.9", false},
		{"127.0.0.1", "garbage, 203.0.113.9", NULL, NULL, NULL, "127.0.0.1", false, "203.0.113.9", false},
		{"127.0.0.1", "garbage", NULL, NULL, NULL, "127.0.0.1", false, "127.0.0.1", false},
		{"127.0.0.1", NULL, "203.0.113.7", NULL, NULL, "127.0.0.1", false, "203.0.113.7", false},
		{"127.0.0.1", NULL, "nope", NULL, NULL, "127.0.0.1", false, "127.0.0.1", false},
		{"::1", "2001:db8::9", NULL, "https", NULL, "::1", false, "2001:db8::9", true},
		/* TLS */
		{"127.0.0.1", NULL, NULL, "HTTPS", NULL, "127.0.0.1", false, "127.0.0.1", true},
		{"127.0.0.1", NULL, NULL, "http", NULL, "127.0.0.1", false, "127.0.0.1", false},
		{"127.0.0.1", NULL, NULL, NULL, "on", "", false, "127.0.0.1", true},
		{"127.0.0.1", NULL, NULL, NULL, NULL, "", true, "127.0.0.1", true},
	};
	struct arena *a = arena_new();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct http_request r = {.arena = a};
		r.peer_addr = r.remote_addr = cases[i].peer;
		r.forwarded_for = cases[i].xff;
		r.real_ip = cases[i].real_ip;
		r.forwarded_proto = cases[i].proto;
		r.https = cases[i].https;
		http_apply_proxy(&r, cases[i].trusted, cases[i].public_https);
		if (strcmp(r.remote_addr, cases[i].want_addr) != 0 || r.secure != cases[i].want_secure)
			fail_msg("case %zu: got %s secure=%d", i, r.remote_addr, r.secure);
	}
	arena_free(a);
}

static void test_host_allowed(void **state)
{
	(void)state;
	static const struct {
		const char *host, *public_url;
		bool want;
	} cases[] = {
		{"crm.example.com", "https://crm.example.com", true},
		{"CRM.Example.com:443", "https://crm.example.com/", true},
		{"crm.example.com.", "https://crm.example.com", true},
		{"crm.example.com", "https://crm.example.com:8443/base", true},
		{"evil.example", "https://crm.example.com", false},
		{"crm.example.com.evil.example", "https://crm.example.com", false},
		{"127.0.0.1:8080", "https://crm.example.com", true},
		{"localhost", "https://crm.example.com", true},
		{"[::1]:8080", "https://crm.example.com", true},
		{"[2001:db8::1]", "http://[2001:db8::1]:8080", true},
		{"", "https://crm.example.com", false},
		{NULL, "https://crm.example.com", false},
		{"127.0.0.2", "http://127.0.0.1:8080", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (http_host_allowed(cases[i].host, cases[i].public_url) != cases[i].want)
			fail_msg("case %zu: %s for %s", i, cases[i].host ? cases[i].host : "NULL",
				 cases[i].public_url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urlencoded_table),
		cmocka_unit_test(test_cookie_table),
		cmocka_unit_test(test_request_table),
		cmocka_unit_test(test_local_path_table),
		cmocka_unit_test(test_url_encode_table),
		cmocka_unit_test(test_date_table),
		cmocka_unit_test(test_date_round_trip),
		cmocka_unit_test(test_max_fields),
		cmocka_unit_test(test_max_field_len),
		cmocka_unit_test(test_max_query_and_cookie),
		cmocka_unit_test(test_max_path),
		cmocka_unit_test(test_env_names_match_whole),
		cmocka_unit_test(test_huge_request_uri_is_too_large),
		cmocka_unit_test(test_max_body),
		cmocka_unit_test(test_get_and_param),
		cmocka_unit_test(test_param_post_ignores_query),
		cmocka_unit_test(test_method_from),
		cmocka_unit_test(test_wants_json),
		cmocka_unit_test(test_response_head),
		cmocka_unit_test(test_response_redirect_and_headers),
		cmocka_unit_test(test_response_statuses),
		cmocka_unit_test(test_response_header_limit),
		cmocka_unit_test(test_addr_in_list),
		cmocka_unit_test(test_apply_proxy),
		cmocka_unit_test(test_host_allowed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
