/*
 * stripe.c - the Stripe API client over libcurl; see stripe.h.
 */
#include "stripe.h"

#include "metrics.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto.h"
#include "httpdate.h"
#include "metrics.h"

struct stripe_client {
	CURL *curl;                  /* reused: keeps connections alive */
	char *base;                  /* base URL without a trailing slash */
	struct stripe_options opts;
	unsigned int seed;           /* jitter */
	long long last_date;         /* Date of the last answer (Unix seconds), 0: none */
};

struct answer {
	struct buf body;
	bool too_large;
	bool should_retry_set;
	bool should_retry;
	long retry_after_s;          /* -1 when absent */
	long long date;              /* the Date header in Unix seconds, 0 when absent */
};

sl_err stripe_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? SL_OK : SL_ERR_NOMEM;
}

void stripe_global_cleanup(void)
{
	curl_global_cleanup();
}

void stripe_params_add(struct stripe_params *p, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	if (p->text.len)
		buf_putc(&p->text, '&');
	for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-_.[]", *s))
			buf_putc(&p->text, (char)*s);
		else
			buf_printf(&p->text, "%%%c%c", hex[*s >> 4], hex[*s & 15]);
	}
	buf_putc(&p->text, '=');
	for (const unsigned char *s = (const unsigned char *)value; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-_.~", *s))
			buf_putc(&p->text, (char)*s);
		else
			buf_printf(&p->text, "%%%c%c", hex[*s >> 4], hex[*s & 15]);
	}
}

void stripe_params_add_int(struct stripe_params *p, const char *name, long long value)
{
	char v[32];
	snprintf(v, sizeof v, "%lld", value);
	stripe_params_add(p, name, v);
}

void stripe_params_free(struct stripe_params *p)
{
	buf_free(&p->text);
}

struct stripe_client *stripe_client_new(const char *base_url,
					const struct stripe_options *opts)
{
	struct stripe_client *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->curl = curl_easy_init();
	c->base = strdup(base_url);
	if (!c->curl || !c->base) {
		stripe_client_free(c);
		return NULL;
	}
	size_t n = strlen(c->base);
	while (n && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->opts = (struct stripe_options){5000, 30000, 3, 8000, NULL, NULL};
	if (opts) {
		c->opts.pace = opts->pace;
		c->opts.pace_ctx = opts->pace_ctx;
		if (opts->connect_timeout_ms > 0)
			c->opts.connect_timeout_ms = opts->connect_timeout_ms;
		if (opts->timeout_ms > 0)
			c->opts.timeout_ms = opts->timeout_ms;
		if (opts->max_tries > 0)
			c->opts.max_tries = opts->max_tries;
		if (opts->max_backoff_ms > 0)
			c->opts.max_backoff_ms = opts->max_backoff_ms;
	}
	c->seed = (unsigned int)time(NULL) ^ (unsigned int)(size_t)c;
	return c;
}

void stripe_client_free(struct stripe_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	free(c->base);
	free(c);
}

static size_t on_body(char *data, size_t size, size_t n, void *p)
{
	struct answer *a = p;
	size_t len = size * n;
	if (a->body.len + len > STRIPE_MAX_RESPONSE) {
		a->too_large = true;
		return 0;  /* aborts the transfer */
	}
	buf_append(&a->body, data, len);
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *p)
{
	struct answer *a = p;
	size_t len = size * n;
	char line[256];
	size_t copy = len < sizeof line - 1 ? len : sizeof line - 1;
	memcpy(line, data, copy);
	line[copy] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncasecmp(line, "Stripe-Should-Retry:", 20) == 0) {
		const char *v = line + 20;
		while (*v == ' ')
			v++;
		a->should_retry_set = true;
		a->should_retry = strcasecmp(v, "true") == 0;
	} else if (strncasecmp(line, "Retry-After:", 12) == 0) {
		a->retry_after_s = atol(line + 12);
	} else if (strncasecmp(line, "Date:", 5) == 0) {
		long long at;
		a->date = http_date_parse(line + 5, &at) ? at : 0;
	}
	return len;
}

/* Copies Stripe's error body (or a fallback text) into err. */
static void decode_error(const struct answer *a, long status, struct stripe_error *err)
{
	err->http_status = status;
	json_object *root = json_tokener_parse(a->body.data ? a->body.data : "");
	json_object *e = NULL, *v;
	if (root && json_object_object_get_ex(root, "error", &e) && json_object_is_type(e, json_type_object)) {
		if (json_object_object_get_ex(e, "type", &v) && json_object_is_type(v, json_type_string))
			snprintf(err->type, sizeof err->type, "%s", json_object_get_string(v));
		if (json_object_object_get_ex(e, "code", &v) && json_object_is_type(v, json_type_string))
			snprintf(err->code, sizeof err->code, "%s", json_object_get_string(v));
		if (json_object_object_get_ex(e, "message", &v) && json_object_is_type(v, json_type_string))
			snprintf(err->message, sizeof err->message, "%s", json_object_get_string(v));
	}
	if (!err->message[0])
		snprintf(err->message, sizeof err->message, "Stripe answered HTTP %ld", status);
	json_object_put(root);
}

static sl_err error_for_status(long status)
{
	if (status == 401)
		return SL_ERR_AUTH;
	if (status == 403)
		return SL_ERR_FORBIDDEN;
	if (status == 404)
		return SL_ERR_NOT_FOUND;
	if (status == 429)
		return SL_ERR_RATE_LIMITED;
	if (status >= 500)
		return SL_ERR_REMOTE;
	return SL_ERR_INVALID;
}

static bool retryable_status(long status)
{
	return status == 409 || status == 429 || status >= 500;
}

/* Sleeps before try number `attempt` (1-based count of failures so far). */
static void backoff(struct stripe_client *c, int attempt, long retry_after_s)
{
	long ms = 500L << (attempt - 1 < 5 ? attempt - 1 : 5);
	if (ms > c->opts.max_backoff_ms)
		ms = c->opts.max_backoff_ms;
	ms = ms / 2 + (long)(rand_r(&c->seed) % (unsigned)(ms / 2 + 1));  /* jitter */
	if (retry_after_s > 0 && retry_after_s * 1000 > ms)
		ms = retry_after_s * 1000 < c->opts.max_backoff_ms ? retry_after_s * 1000
								   : c->opts.max_backoff_ms;
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

sl_err stripe_request(struct stripe_client *c, const char *key,
		      enum stripe_method method, const char *path,
		      const struct stripe_params *params, struct json_object **out,
		      struct stripe_error *err)
{
	memset(err, 0, sizeof *err);
	*out = NULL;
	c->last_date = 0;
	sl_err result = SL_ERR_REMOTE;
	struct curl_slist *headers = NULL;
	struct buf url = BUF_INIT, auth = BUF_INIT;
	const char *form = params && params->text.len ? params->text.data : "";

	buf_printf(&url, "%s%s", c->base, path);
	if (method == STRIPE_GET && *form)
		buf_printf(&url, "%c%s", strchr(path, '?') ? '&' : '?', form);
	buf_printf(&auth, "Authorization: Bearer %s", key);
	headers = curl_slist_append(headers, auth.data);
	headers = curl_slist_append(headers, "Stripe-Version: " STRIPE_API_VERSION);
	headers = curl_slist_append(headers, "User-Agent: stripelink/1.0");
	headers = curl_slist_append(headers, "Expect:");
	if (method != STRIPE_GET) {
		char token[33], line[64];
		if (crypto_token_hex(token, 16) != SL_OK) {
			result = SL_ERR_CRYPTO;
			goto out;
		}
		snprintf(line, sizeof line, "Idempotency-Key: %s", token);
		headers = curl_slist_append(headers, line);
	}

	for (int attempt = 1; attempt <= c->opts.max_tries; attempt++) {
		struct answer a = {.body = BUF_INIT, .retry_after_s = -1};
		CURL *h = c->curl;
		if (c->opts.pace)
			c->opts.pace(c->opts.pace_ctx);
		curl_easy_reset(h);
		curl_easy_setopt(h, CURLOPT_URL, url.data);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->opts.timeout_ms);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
		if (method == STRIPE_POST) {
			curl_easy_setopt(h, CURLOPT_POST, 1L);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
		} else if (method == STRIPE_DELETE) {
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
		}
		CURLcode rc = curl_easy_perform(h);
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		metrics_stripe_status(rc == CURLE_OK ? status : 0);
		c->last_date = a.date;
		err->attempts = attempt;
		bool retry;
		if (a.too_large) {
			snprintf(err->message, sizeof err->message, "Stripe's answer was larger than %d bytes",
				 STRIPE_MAX_RESPONSE);
			result = SL_ERR_TOO_LARGE;
			retry = false;
		} else if (rc != CURLE_OK) {
			result = rc == CURLE_OPERATION_TIMEDOUT ? SL_ERR_TIMEOUT : SL_ERR_NETWORK;
			snprintf(err->message, sizeof err->message, "%s", curl_easy_strerror(rc));
			err->http_status = 0;
			retry = true;
		} else if (status >= 200 && status < 300) {
			*out = json_tokener_parse(a.body.data ? a.body.data : "");
			if (*out) {
				buf_free(&a.body);
				result = SL_OK;
				break;
			}
			snprintf(err->message, sizeof err->message, "Stripe's answer was not JSON");
			result = SL_ERR_REMOTE;
			retry = true;
		} else {
			decode_error(&a, status, err);
			result = error_for_status(status);
			retry = retryable_status(status);
		}
		if (a.should_retry_set) {
			retry = a.should_retry;
			err->should_retry_false = !a.should_retry;
		}
		buf_free(&a.body);
		if (!retry || attempt == c->opts.max_tries)
			break;
		backoff(c, attempt, a.retry_after_s);
	}
out:
	/* the header list holds the key: wipe it before freeing */
	if (auth.data)
		memset(auth.data, 0, auth.len);
	for (struct curl_slist *s = headers; s; s = s->next)
		if (strncmp(s->data, "Authorization:", 14) == 0)
			memset(s->data, 0, strlen(s->data));
	curl_slist_free_all(headers);
	buf_free(&auth);
	buf_free(&url);
	return result;
}

long long stripe_last_date(const struct stripe_client *c)
{
	return c->last_date;
}

enum stripe_key_kind stripe_key_check(const char *key, bool *live)
{
	static const struct {
		const char *prefix;
		enum stripe_key_kind kind;
		bool live;
	} prefixes[] = {
		{"sk_live_", STRIPE_KEY_SECRET, true},
		{"sk_test_", STRIPE_KEY_SECRET, false},
		{"rk_live_", STRIPE_KEY_RESTRICTED, true},
		{"rk_test_", STRIPE_KEY_RESTRICTED, false},
	};
	if (!key)
		return STRIPE_KEY_INVALID;
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		size_t n = strlen(prefixes[i].prefix);
		if (strncmp(key, prefixes[i].prefix, n) != 0)
			continue;
		const char *rest = key + n;
		if (!*rest || strlen(key) > 512)
			return STRIPE_KEY_INVALID;
		for (const char *p = rest; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '_'))
				return STRIPE_KEY_INVALID;
		if (live)
			*live = prefixes[i].live;
		return prefixes[i].kind;
	}
	return STRIPE_KEY_INVALID;
}

void stripe_key_mask(const char *key, char *out, size_t n)
{
	size_t len = key ? strlen(key) : 0;
	if (len < 12) {
		snprintf(out, n, "…");
		return;
	}
	/* the prefix up to and including the second '_', then the last 4 */
	const char *second = strchr(key, '_');
	second = second ? strchr(second + 1, '_') : NULL;
	int prefix = second ? (int)(second - key + 1) : 3;
	snprintf(out, n, "%.*s…%s", prefix, key, key + len - 4);
}

/* ---- a generic outbound POST ----
 * Automations' webhooks (deliver.c) go out through here so that libcurl
 * stays in this one file: stripe.c's client is extended with a generic
 * request rather than a second curl module. */

struct guard_ctx {
	const struct outbound_request *rq;
	bool refused;
	char refused_addr[64];
};

/* Called by libcurl for every address it is about to connect to, after
 * DNS: the SSRF guard sees the address actually connected. */
static curl_socket_t open_guarded(void *p, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct guard_ctx *g = p;
	(void)purpose;
	if (g->rq->allow && !g->rq->allow(&addr->addr, g->rq->allow_ctx)) {
		g->refused = true;
		const void *raw = addr->family == AF_INET6
			? (const void *)&((const struct sockaddr_in6 *)&addr->addr)->sin6_addr
			: (const void *)&((const struct sockaddr_in *)&addr->addr)->sin_addr;
		if (!inet_ntop(addr->family, raw, g->refused_addr, sizeof g->refused_addr))
			snprintf(g->refused_addr, sizeof g->refused_addr, "?");
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

struct outbound_client {
	CURL *curl;   /* reused: keeps connections (each checked when opened) alive */
};

struct outbound_client *outbound_client_new(void)
{
	struct outbound_client *c = calloc(1, sizeof *c);
	if (c && !(c->curl = curl_easy_init())) {
		free(c);
		c = NULL;
	}
	return c;
}

void outbound_client_free(struct outbound_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c);
}

sl_err stripe_outbound_post(struct outbound_client *c, const struct outbound_request *rq,
			    struct outbound_result *res)
{
	memset(res, 0, sizeof *res);
	CURL *h = c->curl;
	curl_easy_reset(h);
	struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
	headers = curl_slist_append(headers, "User-Agent: stripelink/1.0");
	headers = curl_slist_append(headers, "Expect:");
	for (size_t i = 0; rq->headers && rq->headers[i]; i++)
		headers = curl_slist_append(headers, rq->headers[i]);
	struct answer a = {.body = BUF_INIT, .retry_after_s = -1};
	struct guard_ctx g = {rq, false, ""};
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 10000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, rq->allow_http ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");   /* never through an environment proxy */
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_guarded);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &g);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->body));
	CURLcode rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	if (g.refused) {
		res->refused = true;
		res->status = 0;
		snprintf(res->error, sizeof res->error,
			 "refused: %s is a loopback, private, link-local or metadata address", g.refused_addr);
	} else if (rc != CURLE_OK) {
		res->status = 0;
		snprintf(res->error, sizeof res->error, "%s", curl_easy_strerror(rc));
		res->timed_out = rc == CURLE_OPERATION_TIMEDOUT;
	}
	size_t n = a.body.len < sizeof res->excerpt - 1 ? a.body.len : sizeof res->excerpt - 1;
	if (n)
		memcpy(res->excerpt, a.body.data, n);
	res->excerpt[n] = '\0';
	buf_free(&a.body);
	curl_slist_free_all(headers);
	return SL_OK;
}
