/*
 * app.c - the request pipeline and the one error page; see app.h.
 */
#include "app.h"

#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "handlers.h"
#include "route.h"
#include "store.h"
#include "stripe.h"
#include "view.h"
#include "web_auth.h"

struct app_thread *app_thread_new(struct app_shared *shared, sl_err *err)
{
	struct app_thread *t = calloc(1, sizeof *t);
	if (!t) {
		*err = SL_ERR_NOMEM;
		return NULL;
	}
	t->db = store_open(config_get()->db_path, err);
	if (!t->db) {
		free(t);
		return NULL;
	}
	t->writer = shared->writer;
	/* a person (or Stripe's webhook delivery) is waiting: worst case about
	 * 3 tries x 8 s + backoff, well inside nginx's 60 s */
	static const struct stripe_options interactive = {3000, 8000, 3, 2000, NULL, NULL};
	t->stripe = stripe_client_new(config_get()->stripe_api, &interactive);
	if (!t->stripe) {
		store_close(t->db);
		free(t);
		*err = SL_ERR_NOMEM;
		return NULL;
	}
	t->secret_key = shared->secret_key;
	t->deps = (struct deps){.db = t->db, .writer = t->writer, .stripe = t->stripe,
				.secret_key = t->secret_key};
	*err = SL_OK;
	return t;
}

void app_thread_free(struct app_thread *t)
{
	if (!t)
		return;
	store_close(t->db);
	stripe_client_free(t->stripe);
	free(t);
}

static const struct {
	sl_err err;
	int status;
} statuses[] = {
	{SL_ERR_INVALID, 400},
	{SL_ERR_NOT_FOUND, 404},
	{SL_ERR_EXISTS, 409},
	{SL_ERR_TOO_LARGE, 413},
	{SL_ERR_AUTH, 403},
	{SL_ERR_FORBIDDEN, 403},
	{SL_ERR_BUSY, 503},
	{SL_ERR_STALE, 503},   /* the configuration kept changing under it: try again */
	{SL_ERR_IO, 503},      /* disk full or failing: Stripe retries, so may a person */
	{SL_ERR_RATE_LIMITED, 429},
	{SL_ERR_NETWORK, 502},
	{SL_ERR_TIMEOUT, 504},
	{SL_ERR_REMOTE, 502},
};

int app_status_for(sl_err e)
{
	for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
		if (statuses[i].err == e)
			return statuses[i].status;
	return 500;
}

static const char *default_message(int status)
{
	switch (status) {
	case 400: return "The request could not be understood.";
	case 403: return "You are not allowed to do that.";
	case 404: return "There is no page at this address.";
	case 405: return "This page does not accept that kind of request.";
	case 413: return "What you sent is too large (the limit is 1 MiB).";
	case 429: return "Too many requests. Please wait a moment and try again.";
	case 503: return "The service is busy. Please try again in a moment.";
	default: return "Something went wrong on our side. It has been logged.";
	}
}

void app_error(struct http_request *r, struct http_response *resp, int status,
	       const char *message)
{
	const char *msg = message ? message : default_message(status);
	resp->stream = NULL;
	buf_free(&resp->body);
	resp->status = status;
	if (http_wants_json(r) || (r->path && strncmp(r->path, "/webhooks/", 10) == 0)) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "error", json_object_new_string(msg));
		json_object_object_add(o, "status", json_object_new_int(status));
		page_json(resp, status, o);
		return;
	}
	struct view_dict *d = view_dict_new();
	view_set_int(d, "STATUS", status);
	view_set(d, "REASON", http_reason(status));
	view_set(d, "MESSAGE", msg);
	if (page_render(r, resp, "error", NULL, d) != SL_OK) {
		resp->content_type = "text/plain; charset=utf-8";
		buf_free(&resp->body);
		buf_printf(&resp->body, "%d %s\n", status, http_reason(status));
	}
	resp->status = status;
}

/* Applies the route's login rule; returns false when resp is already set
 * (a redirect or an error). */
static bool gate(struct http_request *r, struct http_response *resp,
		 const struct route *route)
{
	if (route->auth == AUTH_PUBLIC)
		return true;
	bool have_admin = auth_admin_exists(r->thread->db);
	if (route->auth == AUTH_SETUP) {
		if (have_admin) {
			http_redirect(resp, "/login");
			return false;
		}
		return true;
	}
	if (!have_admin) {
		if (r->method == HTTP_GET || r->method == HTTP_HEAD)
			http_redirect(resp, "/setup");
		else
			app_error(r, resp, 403, "Create the admin account first.");
		return false;
	}
	if (route->auth == AUTH_GUEST || r->session)
		return true;
	if (r->method == HTTP_GET || r->method == HTTP_HEAD) {
		if (http_wants_json(r)) {
			app_error(r, resp, 401, "Log in first.");
			return false;
		}
		const char *target = r->path;
		const char *qs = NULL;
		for (size_t i = 0; i < r->query.n; i++) {
			const char *piece = arena_printf(r->arena, "%s=%s",
							 http_url_encode(r->arena, r->query.items[i].name),
							 http_url_encode(r->arena, r->query.items[i].value));
			qs = qs ? arena_printf(r->arena, "%s&%s", qs, piece) : piece;
		}
		if (qs)
			target = arena_printf(r->arena, "%s?%s", r->path, qs);
		http_redirect(resp, strcmp(target, "/") == 0
				    ? "/login"
				    : arena_printf(r->arena, "/login?next=%s",
						   http_url_encode(r->arena, target)));
		return false;
	}
	app_error(r, resp, 403, "Your session has ended. Log in again.");
	return false;
}

/* Paths any Host may reach: Stripe's deliveries and the health check. */
static bool host_free_path(const char *path)
{
	return strncmp(path, "/webhooks/", 10) == 0 || strcmp(path, "/healthz") == 0 ||
	       strcmp(path, "/metrics") == 0;
}

/* The pipeline; *matched is the route that answered (NULL: none). */
static void serve(struct app_thread *t, struct arena *a, char *const *envp,
		  const unsigned char *body, size_t body_len, bool body_too_large,
		  struct http_response *resp, struct http_request *req,
		  const struct route **matched, const char *request_id)
{
	http_response_init(resp);
	sl_err e = http_request_parse(req, a, envp, body, body_len);
	req->thread = t;
	req->request_id = request_id;
	if (body_too_large)
		e = SL_ERR_TOO_LARGE;
	if (e) {
		fprintf(stderr, "stripelink: %s %s: bad request: %s\n", req->method_name,
			req->path, err_name(e));
		app_error(req, resp, e == SL_ERR_TOO_LARGE ? 413 : 400, NULL);
		return;
	}
	const struct config *cfg = config_get();
	http_apply_proxy(req, cfg->trusted_proxies, strncmp(cfg->public_url, "https://", 8) == 0);
	/* a DNS-rebinding page names its own host: only ours gets the UI */
	if (!host_free_path(req->path) && !http_host_allowed(req->host, cfg->public_url)) {
		fprintf(stderr, "stripelink: %s %s: refused Host \"%.100s\"\n", req->method_name,
			req->path, req->host ? req->host : "");
		app_error(req, resp, 421,
			  arena_printf(a, "This server does not answer for the host \"%.200s\". "
					  "Open it at %s (STRIPELINK_PUBLIC_URL) or on 127.0.0.1.",
				       req->host ? req->host : "", cfg->public_url));
		return;
	}
	const struct route *route = NULL;
	const char *allow = NULL;
	switch (route_match(req, &route, &allow)) {
	case ROUTE_NOT_FOUND:
		/* error pages keep the layout (navigation, Log out) */
		if (strncmp(req->path, "/webhooks/", 10) != 0)
			req->session = web_auth_session(req);
		app_error(req, resp, 404, NULL);
		return;
	case ROUTE_WRONG_METHOD:
		if (strncmp(req->path, "/webhooks/", 10) != 0)
			req->session = web_auth_session(req);
		app_error(req, resp, 405, NULL);
		http_header(resp, "Allow", allow);
		return;
	case ROUTE_FOUND:
		*matched = route;
		break;
	}
	if (route->auth != AUTH_PUBLIC)
		req->session = web_auth_session(req);
	if (!gate(req, resp, route))
		return;
	if (route->csrf && !web_auth_csrf_ok(req)) {
		fprintf(stderr, "stripelink: %s %s: CSRF token missing or wrong\n",
			req->method_name, req->path);
		app_error(req, resp, 403,
			  "This form has expired or did not come from this site. "
			  "Go back, reload the page and try again.");
		return;
	}
	const char *bad = route_validate(route, req);
	if (bad) {
		app_error(req, resp, 400,
			  arena_printf(a, "The value given for \"%s\" is not valid.", bad));
		return;
	}
	e = route->handler(req, resp);
	if (e) {
		int status = app_status_for(e);
		if (status >= 500)
			fprintf(stderr, "stripelink: %s %s: %s\n", req->method_name, req->path, err_name(e));
		app_error(req, resp, status, NULL);
	}
}

/* A log value: as it is, or quoted when it holds a space, a quote or '='. */
const char *app_log_value(struct arena *a, const char *v)
{
	if (!v || !*v)
		return "-";
	if (!strpbrk(v, " \"=\\\t\r\n"))
		return v;
	size_t n = strlen(v);
	char *out = arena_alloc(a, 2 * n + 3), *o = out;
	*o++ = '"';
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			*o++ = '\\';
		*o++ = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

/* Each thread's last second, formatted: a log line's time costs a
 * strftime once a second, not once a line. */
static _Thread_local time_t log_second = -1;
static _Thread_local char log_second_text[26];
static _Thread_local size_t log_second_len;

void app_log_time(char out[32])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != log_second) {
		struct tm tm;
		gmtime_r(&ts.tv_sec, &tm);
		log_second_len = strftime(log_second_text, sizeof log_second_text, "%Y-%m-%dT%H:%M:%S", &tm);
		log_second = ts.tv_sec;
	}
	long ms = ts.tv_nsec / 1000000;
	memcpy(out, log_second_text, log_second_len);
	char *p = out + log_second_len;
	*p++ = '.';
	*p++ = (char)('0' + ms / 100);
	*p++ = (char)('0' + ms / 10 % 10);
	*p++ = (char)('0' + ms % 10);
	*p++ = 'Z';
	*p = '\0';
}

static _Atomic unsigned long long request_counter;
static _Atomic unsigned request_pid;   /* this process's id, read once (getpid is a system call) */

void app_serve(struct app_thread *t, struct arena *a, char *const *envp,
	       const unsigned char *body, size_t body_len, bool body_too_large,
	       struct http_response *resp)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct http_request req = {0};
	const struct route *route = NULL;
	/* the request id: this process and a counter, also sent to the client;
	 * the serving process never forks, so its id is read once */
	unsigned pid = atomic_load_explicit(&request_pid, memory_order_relaxed);
	if (!pid)
		atomic_store_explicit(&request_pid, pid = (unsigned)getpid(), memory_order_relaxed);
	const char *id = arena_printf(a, "%x-%llx", pid, atomic_fetch_add(&request_counter, 1) + 1);
	serve(t, a, envp, body, body_len, body_too_large, resp, &req, &route, id);
	http_header(resp, "X-Request-Id", id);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	char when[32];
	app_log_time(when);
	/* one line (one write) per request: the route's pattern, never the raw
	 * path (no ids, tokens or keys); then what the handler adds, such as a
	 * webhook delivery's fields */
	fprintf(stderr, "time=%s level=%s request_id=%s method=%s route=%s status=%d ms=%.2f%s%s\n",
		when, resp->status >= 500 ? "error" : resp->status >= 400 ? "warn" : "info",
		id, app_log_value(a, req.method_name),
		app_log_value(a, route ? route->pattern : "unmatched"), resp->status, ms,
		req.log_fields ? " " : "", req.log_fields ? req.log_fields : "");
}
