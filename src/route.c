/*
 * route.c - matching requests against the route table and validating
 * their keys; see route.h. The table itself is in routes.c.
 */
#include "route.h"

#include <string.h>

/* Matches path against pattern; captures go to params (up to 2). */
static bool match(struct arena *a, const char *pattern, const char *path,
		  const char *params[2])
{
	int captured = 0;
	while (*pattern && *path) {
		if (*pattern == ':') {
			const char *pend = strchr(pattern, '/');
			const char *send = strchr(path, '/');
			size_t n = send ? (size_t)(send - path) : strlen(path);
			if (n == 0 || captured == 2)
				return false;
			params[captured++] = arena_strndup(a, path, n);
			pattern = pend ? pend : pattern + strlen(pattern);
			path += n;
			continue;
		}
		if (*pattern != *path)
			return false;
		pattern++;
		path++;
	}
	return *pattern == '\0' && *path == '\0';
}

enum route_match_result route_match(struct http_request *r, const struct route **out,
				    const char **allow)
{
	enum http_method want = r->method == HTTP_HEAD ? HTTP_GET : r->method;
	bool path_known = false;
	static const char *const names[HTTP_METHOD__MAX] = {
		[HTTP_GET] = "GET, HEAD", [HTTP_POST] = "POST", [HTTP_PUT] = "PUT",
		[HTTP_DELETE] = "DELETE",
	};
	const char *allowed = NULL;
	for (size_t i = 0; i < route_count; i++) {
		const char *params[2] = {NULL, NULL};
		if (!match(r->arena, route_table[i].pattern, r->path, params))
			continue;
		if (route_table[i].method == want) {
			r->params[0] = params[0];
			r->params[1] = params[1];
			*out = &route_table[i];
			return ROUTE_FOUND;
		}
		path_known = true;
		const char *name = names[route_table[i].method];
		allowed = allowed ? arena_printf(r->arena, "%s, %s", allowed, name) : name;
	}
	if (!path_known)
		return ROUTE_NOT_FOUND;
	*allow = allowed;
	return ROUTE_WRONG_METHOD;
}

bool route_key_valid(enum key_type type, size_t max_len, const char *value)
{
	size_t n = strlen(value);
	if (n > max_len)
		return false;
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		switch (type) {
		case KEY_LINE:
			if (*p < 0x20 || *p == 0x7f)
				return false;
			break;
		case KEY_TEXT:
			if ((*p < 0x20 && *p != '\n' && *p != '\r' && *p != '\t') || *p == 0x7f)
				return false;
			break;
		case KEY_INT:
			if (!(*p >= '0' && *p <= '9') && !(p == (const unsigned char *)value && *p == '-'))
				return false;
			break;
		case KEY_SLUG:
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("_.-", *p)))
				return false;
			break;
		case KEY__MAX:
			return false;
		}
	}
	if (type == KEY_INT && (n == 0 || n > 18 || (n == 1 && value[0] == '-')))
		return false;
	return true;
}

const char *route_validate(const struct route *route, const struct http_request *r)
{
	if (!route->keys)
		return NULL;
	const struct http_pairs *src = r->method == HTTP_POST ? &r->form : &r->query;
	for (const struct form_key *k = route->keys; k->name; k++) {
		for (size_t i = 0; i < src->n; i++) {
			if (strcmp(src->items[i].name, k->name) != 0)
				continue;
			/* an empty optional value is "not given" */
			if (*src->items[i].value == '\0')
				continue;
			if (!route_key_valid(k->type, k->max_len, src->items[i].value))
				return k->name;
		}
	}
	return NULL;
}
