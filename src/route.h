/*
 * route.h - the route table: every page, its method, the login it needs,
 * whether its form carries a CSRF token, and the form keys validated
 * before its handler runs.
 */
#ifndef STRIPELINK_ROUTE_H
#define STRIPELINK_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"
#include "http.h"

enum route_auth {
	AUTH_PUBLIC,   /* anyone: health, webhooks */
	AUTH_SETUP,    /* only while no admin exists */
	AUTH_GUEST,    /* anyone once an admin exists: the login page */
	AUTH_ADMIN,    /* a logged-in admin */
};

enum key_type {
	KEY_LINE,      /* one line of text: no control characters */
	KEY_TEXT,      /* text: newlines and tabs allowed */
	KEY_INT,       /* a decimal integer */
	KEY_SLUG,      /* [a-z0-9_.-] */
	KEY__MAX
};

struct form_key {
	const char *name;
	enum key_type type;
	size_t max_len;
};

typedef sl_err (*route_handler)(struct http_request *r, struct http_response *resp);

struct route {
	enum http_method method;
	const char *pattern;        /* literal segments and ":name" captures */
	route_handler handler;
	enum route_auth auth;
	bool csrf;                  /* POST: the "csrf" form value must match */
	const struct form_key *keys;/* ends with a {NULL} row; NULL for none */
};

enum route_match_result { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_WRONG_METHOD };

/* Finds the route for method and path in the table. On ROUTE_FOUND sets
 * *out and the request's params (from its arena); on ROUTE_WRONG_METHOD
 * sets *allow to the methods the path takes ("GET, POST"). HEAD matches
 * GET routes. */
enum route_match_result route_match(struct http_request *r, const struct route **out,
				    const char **allow);

/* Checks the request's form (or query, for GET) against the route's key
 * table. Returns NULL when valid, or the name of the first bad key. */
const char *route_validate(const struct route *route, const struct http_request *r);

/* True when value passes the validator for type within max_len. */
bool route_key_valid(enum key_type type, size_t max_len, const char *value);

/* The table itself (routes.c), ROUTE_COUNT rows. */
extern const struct route route_table[];
extern const size_t route_count;

#endif
