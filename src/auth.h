/*
 * auth.h - admins, login sessions and login throttling, on plain values.
 *
 * Sessions live in the database under the SHA-256-like HMAC of a random
 * token (a stolen database does not yield live sessions). Every session
 * has its own CSRF token. Nothing here knows about HTTP: the web layer
 * (web_auth.h) carries the token in a cookie and checks CSRF tokens.
 */
#ifndef STRIPELINK_AUTH_H
#define STRIPELINK_AUTH_H

#include <stdbool.h>
#include "err.h"

#define AUTH_SESSION_SECONDS (7 * 24 * 3600)
#define AUTH_FREE_FAILURES 5        /* failures before throttling starts */
#define AUTH_MAX_DELAY 900          /* longest wait between tries, seconds */
#define AUTH_TOKEN_BYTES 32         /* random bytes of a session or CSRF token */
#define AUTH_TOKEN_HEX (2 * AUTH_TOKEN_BYTES)  /* its length in hex digits */

struct arena;
struct deps;
struct store;
struct writer;

struct auth_session {
	long long user_id;
	const char *username;
	const char *csrf;
	const char *token_hash;
};

/* True when s has the shape of a session or CSRF token (AUTH_TOKEN_HEX
 * hex digits); false for NULL. */
bool auth_is_token(const char *s);

/* Writes a new random token (AUTH_TOKEN_HEX hex digits and a NUL) to out. */
sl_err auth_token_new(char out[AUTH_TOKEN_HEX + 1]);

/* The live session of token at now, from a; NULL when token is malformed
 * (it then never reaches the database), unknown or expired. */
const struct auth_session *auth_session_find(struct store *db, struct arena *a, const char *token,
					     long long now);

/* True when at least one admin exists (read on db). */
bool auth_admin_exists(struct store *db);

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

/* One login attempt; every string is borrowed for the call. */
struct auth_attempt {
	const char *username;   /* as typed; NULL counts as "" */
	const char *password;   /* NULL counts as "" */
	const char *addr;       /* the client's address, for the throttle; NULL: unknown */
	const char *replaces;   /* token hash of the session being replaced, or NULL */
	long long now;
};

/* Logs in: reserves the attempt against the throttle (per address, and per
 * username from that address), checks the password, then starts a session
 * (deleting the one it replaces) and writes its token to token. Uses
 * deps->db and deps->writer; scratch from a. SL_ERR_AUTH for a wrong name
 * or password, SL_ERR_RATE_LIMITED when throttled (*wait_seconds says how
 * long); token is "" unless SL_OK. */
sl_err auth_login(const struct deps *deps, struct arena *a, const struct auth_attempt *in,
		  char token[AUTH_TOKEN_HEX + 1], long long *wait_seconds);

/* Ends the session stored under token_hash (auth_session's token_hash)
 * through the writer; an unknown hash is no error. */
sl_err auth_logout(struct writer *w, const char *token_hash);

#endif
