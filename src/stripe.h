/*
 * stripe.h - the Stripe API client: the only file that uses libcurl.
 *
 * One client per thread (it keeps a curl handle and its connections).
 * Requests carry the secret key as a Bearer token, a pinned Stripe-Version
 * and, for POST and DELETE, an Idempotency-Key kept across retries. Bodies
 * are form-encoded with Stripe's bracket syntax. Network errors, 409, 429
 * and 5xx are retried with exponential backoff and jitter, honouring
 * Stripe-Should-Retry and Retry-After, a bounded number of times. Stripe's
 * error body is decoded into struct stripe_error.
 */
#ifndef STRIPELINK_STRIPE_H
#define STRIPELINK_STRIPE_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "err.h"

#define STRIPE_API_VERSION "2025-08-27.basil"
#define STRIPE_MAX_RESPONSE (16 * 1024 * 1024)   /* larger answers are refused */

struct json_object;
struct stripe_client;

enum stripe_method { STRIPE_GET, STRIPE_POST, STRIPE_DELETE };

/* What went wrong, in Stripe's words where Stripe said anything. */
struct stripe_error {
	long http_status;       /* 0 when no HTTP answer arrived */
	char type[64];          /* error.type: invalid_request_error, ... */
	char code[64];          /* error.code, may be empty */
	char message[512];      /* error.message, or a description of the failure */
	bool should_retry_false;/* Stripe-Should-Retry: false was sent */
	int attempts;           /* how many tries were made */
};

/* Form or query parameters in Stripe's encoding. */
struct stripe_params {
	struct buf text;        /* "a=1&b%5B%5D=2" with brackets kept literal */
};

/* Adds name=value (value percent-encoded; name may hold [ and ]). */
void stripe_params_add(struct stripe_params *p, const char *name, const char *value);
/* Adds name=<decimal>. */
void stripe_params_add_int(struct stripe_params *p, const char *name, long long value);
void stripe_params_free(struct stripe_params *p);

struct stripe_options {
	long connect_timeout_ms;   /* default 5000 */
	long timeout_ms;           /* default 30000, whole request */
	int max_tries;             /* default 3 */
	long max_backoff_ms;       /* default 8000: longest single wait */
	void (*pace)(void *ctx);   /* called before every try, retries too (a
				      rate limiter); NULL for none */
	void *pace_ctx;
};

/* A client for base_url ("https://api.stripe.com"). opts may be NULL for
 * the defaults. Returns NULL on out-of-memory; free with
 * stripe_client_free(). Call curl_global_init (stripe_global_init) first. */
struct stripe_client *stripe_client_new(const char *base_url,
					const struct stripe_options *opts);
void stripe_client_free(struct stripe_client *c);

/* Process-wide libcurl setup; call from main before any thread starts. */
sl_err stripe_global_init(void);
void stripe_global_cleanup(void);

/* Sends one request (with retries). params are the query for GET and the
 * body otherwise (may be NULL). On SL_OK *out is the parsed JSON answer,
 * which the caller releases with json_object_put(). On failure *out is
 * NULL and err says why:
 *   SL_ERR_AUTH          401 (the key is wrong or revoked)
 *   SL_ERR_FORBIDDEN     403 (a restricted key lacks a permission)
 *   SL_ERR_NOT_FOUND     404
 *   SL_ERR_INVALID       other 4xx (invalid_request_error etc.)
 *   SL_ERR_RATE_LIMITED  429 after the last try
 *   SL_ERR_REMOTE        5xx after the last try, or an unreadable answer
 *   SL_ERR_NETWORK       no connection
 *   SL_ERR_TIMEOUT       no answer in time
 *   SL_ERR_TOO_LARGE     answer over STRIPE_MAX_RESPONSE */
sl_err stripe_request(struct stripe_client *c, const char *key,
		      enum stripe_method method, const char *path,
		      const struct stripe_params *params, struct json_object **out,
		      struct stripe_error *err);

/* Stripe's clock: the Date header of the answer to c's last
 * stripe_request (its last try), in Unix seconds; 0 when that answer had
 * none, or no answer came. */
long long stripe_last_date(const struct stripe_client *c);

/* ---- keys ---- */

enum stripe_key_kind { STRIPE_KEY_INVALID, STRIPE_KEY_SECRET, STRIPE_KEY_RESTRICTED };

/* Checks a key's shape: sk_live_, sk_test_, rk_live_ or rk_test_ followed
 * by at least one of [A-Za-z0-9_]; no fixed length. Sets *live. */
enum stripe_key_kind stripe_key_check(const char *key, bool *live);

/* Writes the key's display form ("sk_live_…4242") into out (size n). */
void stripe_key_mask(const char *key, char *out, size_t n);


/* ---- a generic outbound POST (automations' webhooks) ---- */

struct sockaddr;

struct outbound_request {
	const char *url;
	const char *body;                   /* JSON */
	const char *const *headers;         /* "Name: value", NULL-terminated; may be NULL */
	long timeout_ms;                    /* whole request; 0: 10 s */
	bool allow_http;                    /* else https only */
	/* the SSRF guard: asked for every address libcurl is about to connect
	 * to (after DNS); false refuses it. NULL allows all. */
	bool (*allow)(const struct sockaddr *sa, void *ctx);
	void *allow_ctx;
};

struct outbound_result {
	long status;                        /* HTTP status; 0 when no answer */
	bool refused;                       /* the guard refused every address */
	bool timed_out;
	char excerpt[512];                  /* start of the response body */
	char error[256];                    /* why no answer came; "" otherwise */
};

/* A reusable handle for outbound POSTs (one thread at a time); NULL when
 * libcurl cannot start. Free with outbound_client_free (accepts NULL). */
struct outbound_client;
struct outbound_client *outbound_client_new(void);
void outbound_client_free(struct outbound_client *c);

/* POSTs rq->body once (no retries: the caller schedules them). Returns
 * SL_OK with res filled, whatever the answer. */
sl_err stripe_outbound_post(struct outbound_client *c, const struct outbound_request *rq,
			    struct outbound_result *res);

#endif
