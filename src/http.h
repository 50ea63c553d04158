/*
 * http.h - requests and responses, independent of FastCGI.
 *
 * A request is parsed once from its CGI environment and raw body: method,
 * path, query, urlencoded form, cookies and the byte-exact body. Everything
 * it holds is owned by its arena and dies with the request. A response is
 * a status, a content type, a few extra headers and a body; the security
 * headers are added when it is serialized.
 */
#ifndef STRIPELINK_HTTP_H
#define STRIPELINK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include "arena.h"
#include "buf.h"
#include "err.h"

#define HTTP_MAX_BODY (1024 * 1024)   /* larger bodies answer 413 */
#define HTTP_MAX_FIELDS 256           /* query + form pairs */
#define HTTP_MAX_FIELD_LEN 65536      /* one decoded value */
#define HTTP_MAX_QUERY 8192           /* raw query string */
#define HTTP_MAX_COOKIE 8192          /* raw Cookie header */
#define HTTP_MAX_PATH 2048
#define HTTP_MAX_HEADERS 12           /* extra response headers */

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_OTHER, HTTP_METHOD__MAX };

struct http_pair {
	const char *name;
	const char *value;
};

struct http_pairs {
	struct http_pair *items;
	size_t n;
};

struct app_thread;   /* per-thread resources (app.h) */
struct auth_session; /* the logged-in session (auth.h) */

struct http_request {
	struct arena *arena;          /* owns every pointer below */
	struct app_thread *thread;    /* borrowed: the serving thread's resources */
	enum http_method method;
	const char *method_name;
	const char *path;             /* decoded, without the query */
	struct http_pairs query;
	struct http_pairs form;       /* urlencoded POST bodies only */
	struct http_pairs cookies;
	const char *content_type;     /* "" when absent */
	const char *accept;
	const char *remote_addr;       /* the client: the peer, or whom a trusted proxy names */
	const char *peer_addr;         /* REMOTE_ADDR: the direct peer */
	const char *host;              /* Host header; NULL when absent */
	const char *forwarded_for;     /* X-Forwarded-For; NULL when absent */
	const char *real_ip;           /* X-Real-IP; NULL when absent */
	const char *forwarded_proto;   /* X-Forwarded-Proto; NULL when absent */
	const char *stripe_signature; /* NULL when absent */
	const char *authorization;    /* the Authorization header, NULL when absent (secret: never log) */
	const char *https;            /* "on" behind TLS */
	bool secure;                  /* reached over TLS: cookies get Secure */
	const unsigned char *body;    /* byte-exact, NUL-terminated for convenience */
	size_t body_len;
	const char *params[2];        /* ":name" segments of the matched route */
	const struct auth_session *session; /* NULL when not logged in */
	long long now;                /* request time, unix seconds */
	const char *request_id;       /* set by the pipeline; in log lines and X-Request-Id */
	const char *log_fields;       /* set by a handler: more "key=value ..." for the request's
					 one log line (values through app_log_value); NULL: none */
};

/* Writes len bytes of a streamed body to the client (sink is the server's).
 * SL_ERR_IO when the client is gone. */
typedef sl_err (*http_write_fn)(void *sink, const void *data, size_t len);

/* Produces a streamed body piece by piece through write(sink, ...). Runs
 * after the handler returned and the head was sent, on the same thread,
 * while the request (its arena, its thread) is still alive. */
typedef sl_err (*http_stream_fn)(void *ctx, http_write_fn write, void *sink);

struct http_response {
	int status;
	const char *content_type;     /* borrowed, usually a literal */
	struct http_pair headers[HTTP_MAX_HEADERS];
	size_t n_headers;
	struct buf body;              /* owned; freed by http_response_free */
	http_stream_fn stream;        /* when set: the body is streamed, body unused */
	void *stream_ctx;             /* for stream; from the request's arena */
	bool cacheable;               /* static-like content; default no-store */
};

/* Parses the CGI variables (envp: "NAME=value" strings, NULL-terminated)
 * and the raw body into r, allocating from a. Returns SL_ERR_INVALID for
 * malformed percent-encoding, SL_ERR_TOO_LARGE when a limit is exceeded.
 * On error r still has method and path set where they could be read. */
sl_err http_request_parse(struct http_request *r, struct arena *a,
			  char *const *envp, const unsigned char *body,
			  size_t body_len);

/* Decodes application/x-www-form-urlencoded text of length n into pairs
 * allocated from a ('+' is a space). SL_ERR_INVALID on bad escapes or an
 * encoded NUL, SL_ERR_TOO_LARGE past the limits above. */
sl_err http_parse_urlencoded(struct arena *a, const char *s, size_t n,
			     struct http_pairs *out);

/* Parses a Cookie header into pairs allocated from a. Malformed pieces are
 * skipped, as browsers do. */
void http_parse_cookies(struct arena *a, const char *s, struct http_pairs *out);

/* Returns the first value named name, or NULL. Borrowed from the request. */
const char *http_get(const struct http_pairs *p, const char *name);

/* Returns the form value for POST, the query value otherwise; NULL when
 * absent. */
const char *http_param(const struct http_request *r, const char *name);

/* True when the client prefers JSON (Accept: application/json). */
bool http_wants_json(const struct http_request *r);

/* Method from its name; HTTP_OTHER when unknown. */
enum http_method http_method_from(const char *name);

/* Sets up an empty 200 text/html response. */
void http_response_init(struct http_response *resp);

/* Adds a header; name and value must outlive the response (use the
 * request's arena). Silently drops headers past HTTP_MAX_HEADERS. */
void http_header(struct http_response *resp, const char *name, const char *value);

/* Makes resp a redirect (303 See Other) to a local path. */
void http_redirect(struct http_response *resp, const char *location);

/* Writes the CGI response head ("Status:", headers, security headers,
 * blank line) into out. */
void http_response_head(const struct http_response *resp, struct buf *out);

/* Frees the body. */
void http_response_free(struct http_response *resp);

/* Reason phrase for a status code ("Not Found"). */
const char *http_reason(int status);

/* True when s is a safe local redirect target: starts with one '/', is
 * not "//" or "/\", and has no control characters. */
bool http_is_local_path(const char *s);

/* True when addr (an IPv4 or IPv6 address) is in list: comma-separated
 * addresses and CIDR blocks ("127.0.0.1, 10.0.0.0/8, ::1"). */
bool http_addr_in_list(const char *addr, const char *list);

/* True when every entry of such a list parses (an empty list is valid). */
bool http_addr_list_valid(const char *list);

/* Behind a reverse proxy: when the direct peer is in trusted, takes the
 * client address from X-Forwarded-For (the rightmost hop that is not a
 * trusted proxy) or X-Real-IP, and TLS from X-Forwarded-Proto. Sets
 * r->secure also for HTTPS=on and when public_https (the public URL is
 * https). Headers from untrusted peers are ignored. */
void http_apply_proxy(struct http_request *r, const char *trusted, bool public_https);

/* True when a Host header names this install: the host of public_url, or
 * 127.0.0.1, localhost or ::1 (any port). False when host is NULL. */
bool http_host_allowed(const char *host, const char *public_url);

/* Percent-encodes s for a query component into a string from a. */
char *http_url_encode(struct arena *a, const char *s);


#endif
