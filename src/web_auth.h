/*
 * web_auth.h - sessions and CSRF as the web sees them: the session cookie,
 * the CSRF checks of forms, and the cookies' flags. The session and login
 * logic itself is auth.h's, on plain values.
 *
 * The session cookie holds the session's token (auth.h); it is HttpOnly
 * and SameSite=Strict (and Secure when the request came over TLS),
 * replaced at login and deleted at logout. Forms of a session carry the
 * session's CSRF token; forms shown before login use a double-submit
 * cookie instead.
 */
#ifndef STRIPELINK_WEB_AUTH_H
#define STRIPELINK_WEB_AUTH_H

#include <stdbool.h>
#include "err.h"
#include "http.h"

#define WEB_AUTH_SESSION_COOKIE "sl_session"
#define WEB_AUTH_CSRF_COOKIE "sl_csrf"

/* The live session named by the request's session cookie, from the
 * request's arena; NULL when there is none. */
const struct auth_session *web_auth_session(struct http_request *r);

/* Logs in with auth_login (the request's client address is the throttle's,
 * the request's session is replaced) and sets the new session's cookie on
 * resp. Errors as auth_login's; no cookie unless SL_OK. */
sl_err web_auth_login(struct http_request *r, struct http_response *resp,
		      const char *username, const char *password, long long *wait_seconds);

/* Ends the request's session (if any) and clears the cookie. */
sl_err web_auth_logout(struct http_request *r, struct http_response *resp);

/* The CSRF token to put in forms: the session's, or for anonymous pages a
 * double-submit cookie (set on resp when new). From the request's arena. */
const char *web_auth_csrf_token(struct http_request *r, struct http_response *resp);

/* True when the request's "csrf" form value matches, in constant time. */
bool web_auth_csrf_ok(const struct http_request *r);

#endif
