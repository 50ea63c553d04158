/*
 * fuzz_http.c - libFuzzer target for the request parsers (src/http.c): the
 * urlencoded form and query decoder, the Cookie header parser and the whole
 * CGI request parse.
 *
 * Input: up to three parts separated by NUL bytes: a query string, a Cookie
 * header, a POST body. Checks that every decoded pair is a NUL-terminated
 * string within the limits and that parsing never reads out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "http.h"

/* Every pair has a name and a value within the limits; at most max pairs. */
static void check_pairs(const struct http_pairs *p, size_t max)
{
	if (p->n > max)
		abort();
	for (size_t i = 0; i < p->n; i++) {
		if (!p->items[i].name || !p->items[i].value)
			abort();
		if (strlen(p->items[i].value) > HTTP_MAX_FIELD_LEN)
			abort();
	}
}

/* The next NUL-separated part of the input, copied into a. */
static char *part(struct arena *a, const uint8_t **at, const uint8_t *end)
{
	const uint8_t *nul = memchr(*at, 0, (size_t)(end - *at));
	const uint8_t *stop = nul ? nul : end;
	char *s = arena_strndup(a, (const char *)*at, (size_t)(stop - *at));
	*at = nul ? nul + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new();
	const uint8_t *at = data, *end = data + size;
	char *query = part(a, &at, end);
	char *cookie = part(a, &at, end);
	const unsigned char *body = at;
	size_t body_len = (size_t)(end - at);

	struct http_pairs p;
	if (http_parse_urlencoded(a, query, strlen(query), &p) == SL_OK)
		check_pairs(&p, HTTP_MAX_FIELDS);
	/* cookies are bounded by the raw header's size (HTTP_MAX_COOKIE, checked
	 * by the request parser), not by a count: at most one per ';' */
	http_parse_cookies(a, cookie, &p);
	check_pairs(&p, strlen(cookie) / 2 + 1);

	char *env[] = {
		"REQUEST_METHOD=POST",
		"REQUEST_URI=/fuzz",
		"SCRIPT_NAME=/fuzz",
		"DOCUMENT_URI=/fuzz",
		"CONTENT_TYPE=application/x-www-form-urlencoded",
		arena_printf(a, "QUERY_STRING=%s", query),
		arena_printf(a, "HTTP_COOKIE=%s", cookie),
		"REMOTE_ADDR=127.0.0.1",
		NULL,
	};
	struct http_request r;
	if (http_request_parse(&r, a, env, body, body_len) == SL_OK) {
		check_pairs(&r.query, HTTP_MAX_FIELDS);
		check_pairs(&r.form, HTTP_MAX_FIELDS);
		check_pairs(&r.cookies, HTTP_MAX_COOKIE / 2 + 1);
		if (r.body_len != body_len || memcmp(r.body, body, body_len) != 0)
			abort();   /* the body must arrive byte for byte */
	}
	arena_free(a);
	return 0;
}
