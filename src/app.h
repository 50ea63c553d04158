/*
 * app.h - what a request handler may reach: the per-thread resources and
 * the request pipeline (route table → auth → CSRF → handler → error page).
 */
#ifndef STRIPELINK_APP_H
#define STRIPELINK_APP_H

#include "crypto.h"
#include "deps.h"
#include "err.h"
#include "http.h"

struct store;
struct writer;
struct stripe_client;

/* Created once per request thread, not per request. */
struct app_thread {
	struct store *db;          /* owned: this thread's read connection */
	struct writer *writer;     /* borrowed: the process's one writer */
	const unsigned char *secret_key; /* borrowed: CRYPTO_KEY_LEN bytes */
	struct stripe_client *stripe; /* owned: this thread's Stripe client */
	struct deps deps;          /* the same resources lent to use cases (set once) */
};

/* Process-wide resources shared by every thread (set up by main). */
struct app_shared {
	struct writer *writer;
	unsigned char secret_key[CRYPTO_KEY_LEN];
};

/* Opens the thread's resources. Returns NULL and sets *err on failure;
 * free with app_thread_free(). */
struct app_thread *app_thread_new(struct app_shared *shared, sl_err *err);

/* Closes the thread's resources. Accepts NULL. */
void app_thread_free(struct app_thread *t);

/* Serves one request: parses envp/body, routes, authenticates, checks
 * CSRF and limits, runs the handler and fills resp (an error page when
 * anything fails). Everything per-request comes from a; resp->body is
 * freed by the caller with http_response_free(). */
void app_serve(struct app_thread *t, struct arena *a, char *const *envp,
	       const unsigned char *body, size_t body_len, bool body_too_large,
	       struct http_response *resp);

/* Renders the one error page (HTML, or JSON for JSON clients) with status
 * and a short message for a person. */
void app_error(struct http_request *r, struct http_response *resp, int status,
	       const char *message);

/* A value for a key=value log line: as it is, "-" when empty, quoted
 * (from a) when it holds a space, a quote or '='. */
const char *app_log_value(struct arena *a, const char *v);

/* The current time for log lines, ISO 8601 UTC with milliseconds. */
void app_log_time(char out[32]);

/* Maps an error to the HTTP status handlers answer with. */
int app_status_for(sl_err e);

#endif
