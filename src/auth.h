/*
 * auth.h - admins, login sessions, CSRF tokens and login throttling.
 *
 * Sessions live in the database under the SHA-256-like HMAC of a random
 * cookie token (a stolen database does not yield live cookies); the cookie
 * is HttpOnly and SameSite=Strict, replaced at login and deleted at
 * logout. Every session has its own CSRF token; forms shown before login
 * use a double-submit cookie instead.
 */
#ifndef STRIPELINK_AUTH_H
#define STRIPELINK_AUTH_H

#include <stdbool.h>
#include "err.h"
#include "http.h"

#define AUTH_SESSION_COOKIE "sl_session"
#define AUTH_CSRF_COOKIE "sl_csrf"
#define AUTH_SESSION_SECONDS (7 * 24 * 3600)
#define AUTH_FREE_FAILURES 5        /* failures before throttling starts */
#define AUTH_MAX_DELAY 900          /* longest wait between tries, seconds */

struct store;
struct writer;

struct auth_session {
	long long user_id;
	const char *username;
	const char *csrf;
	const char *token_hash;
};

/* Finds the live session named by the request's cookie. Returns it (from
 * the request's arena) or NULL. */
const struct auth_session *auth_session_load(struct http_request *r);

/* True when at least one admin exists (read on the thread's connection). */
bool auth_admin_exists(struct http_request *r);

/* Checks a username and password pair against the rules; returns a
 * message for the person or NULL when both are acceptable. */
const char *auth_check_credentials(const char *username, const char *password);

/* Creates an admin through the writer. SL_ERR_EXISTS when the name is
 * taken; SL_ERR_FORBIDDEN when only_first is set and an admin exists. */
sl_err auth_admin_create(struct writer *w, const char *username,
			 const char *password, long long now, bool only_first);

/* Same, on a connection the caller owns (command-line tool). */
sl_err auth_admin_create_direct(struct store *db, const char *username,
				const char *password, long long now);

/* ---- the first-run setup token ----
 * Until an admin exists, /setup needs a one-time token (128 random bits)
 * that `stripelink run` writes to <data>/setup-token (0600) and prints on
 * its console. */
#define AUTH_SETUP_TOKEN_BYTES 16

/* The token file's path (malloc'd, kept for the process). */
const char *auth_setup_token_path(void);

/* Writes a fresh token to the token file (0600, replacing any old one)
 * and copies it into out (2 * AUTH_SETUP_TOKEN_BYTES + 1 chars). */
sl_err auth_setup_token_create(char *out);

/* True when given matches the token in the file (constant time). */
bool auth_setup_token_ok(const char *given);

/* Records the token (its hash) in the database, so that every node on it
 * accepts it until the first admin exists. */
sl_err auth_setup_token_share(struct store *db, const char *token, long long now);

/* True when given is this node's token (the file) or one a node recorded
 * in the database, while no admin exists. */
bool auth_setup_token_accepted(struct store *db, const char *given);

/* Deletes the token file (once the admin exists). */
void auth_setup_token_remove(void);

/* Logs in: reserves the attempt against the throttle (per address, and per
 * username from that address), checks the password, then starts a session
 * and sets its cookie on resp. SL_ERR_AUTH for a wrong name or password,
 * SL_ERR_RATE_LIMITED when throttled (*wait_seconds says how long). */
sl_err auth_login(struct http_request *r, struct http_response *resp,
		  const char *username, const char *password, long long *wait_seconds);

/* Ends the request's session (if any) and clears the cookie. */
sl_err auth_logout(struct http_request *r, struct http_response *resp);

/* The CSRF token to put in forms: the session's, or for anonymous pages a
 * double-submit cookie (set on resp when new). From the request's arena. */
const char *auth_csrf_token(struct http_request *r, struct http_response *resp);

/* True when the request's "csrf" form value matches, in constant time. */
bool auth_csrf_ok(const struct http_request *r);

#endif
