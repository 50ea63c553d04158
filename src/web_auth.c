/*
 * web_auth.c - the session cookie and CSRF checks; see web_auth.h.
 */
#include "web_auth.h"

#include <string.h>

#include "app.h"
#include "auth.h"
#include "crypto.h"

static const char *cookie_flags(const struct http_request *r)
{
	return r->secure ? "; Secure" : "";
}

const struct auth_session *web_auth_session(struct http_request *r)
{
	return auth_session_find(r->thread->db, r->arena,
				 http_get(&r->cookies, WEB_AUTH_SESSION_COOKIE), r->now);
}

sl_err web_auth_login(struct http_request *r, struct http_response *resp,
		      const char *username, const char *password, long long *wait_seconds)
{
	struct auth_attempt in = {
		.username = username,
		.password = password,
		.addr = r->remote_addr,
		.replaces = r->session ? r->session->token_hash : NULL,
		.now = r->now,
	};
	char token[AUTH_TOKEN_HEX + 1];
	sl_err e = auth_login(&r->thread->deps, r->arena, &in, token, wait_seconds);
	if (e)
		return e;
	http_header(resp, "Set-Cookie",
		    arena_printf(r->arena, WEB_AUTH_SESSION_COOKIE "=%s; Path=/; HttpOnly; "
				 "SameSite=Strict; Max-Age=%d%s",
				 token, AUTH_SESSION_SECONDS, cookie_flags(r)));
	return SL_OK;
}

sl_err web_auth_logout(struct http_request *r, struct http_response *resp)
{
	sl_err e = r->session ? auth_logout(r->thread->writer, r->session->token_hash) : SL_OK;
	http_header(resp, "Set-Cookie",
		    arena_printf(r->arena, WEB_AUTH_SESSION_COOKIE "=; Path=/; HttpOnly; "
				 "SameSite=Strict; Max-Age=0%s", cookie_flags(r)));
	return e;
}

const char *web_auth_csrf_token(struct http_request *r, struct http_response *resp)
{
	if (r->session)
		return r->session->csrf;
	const char *cookie = http_get(&r->cookies, WEB_AUTH_CSRF_COOKIE);
	if (auth_is_token(cookie))
		return cookie;
	char *token = arena_alloc(r->arena, AUTH_TOKEN_HEX + 1);
	if (auth_token_new(token))
		return "";
	http_header(resp, "Set-Cookie",
		    arena_printf(r->arena, WEB_AUTH_CSRF_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s",
				 token, cookie_flags(r)));
	return token;
}

bool web_auth_csrf_ok(const struct http_request *r)
{
	const char *sent = http_get(&r->form, "csrf");
	const char *want = r->session ? r->session->csrf
				      : http_get(&r->cookies, WEB_AUTH_CSRF_COOKIE);
	if (!sent || !want || !auth_is_token(want) || strlen(sent) != strlen(want))
		return false;
	return crypto_equal(sent, want, strlen(want));
}
