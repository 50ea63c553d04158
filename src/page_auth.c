/*
 * page_auth.c - first-run admin creation, login and logout.
 */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "auth.h"
#include "view.h"
#include "web_auth.h"

/* The return-to target: only ever a path on this site. */
static const char *next_target(const struct http_request *r)
{
	const char *next = http_param(r, "next");
	return http_is_local_path(next) ? next : "/contacts";
}

static sl_err setup_form(struct http_request *r, struct http_response *resp,
			 int status, const char *error)
{
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Create your admin account");
	if (error) {
		view_show(d, "ERROR");
		view_set(d, "ERROR_MESSAGE", error);
	}
	view_show(d, "FORM");
	view_set(d, "TOKEN", http_param(r, "token"));
	view_set(d, "USERNAME_VALUE", http_param(r, "username"));
	sl_err e = page_render(r, resp, "setup", NULL, d);
	resp->status = status;
	return e;
}

/* The 403 page for a /setup without the right token: where to find it. */
static sl_err setup_locked(struct http_request *r, struct http_response *resp)
{
	const char *path = auth_setup_token_path();
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Setup token needed");
	view_show(d, "LOCKED");
	if (http_param(r, "token"))
		view_show(d, "WRONG_TOKEN");
	view_set(d, "TOKEN_PATH", path ? path : "setup-token in the data directory");
	sl_err e = page_render(r, resp, "setup", NULL, d);
	resp->status = 403;
	return e;
}

HANDLER(page_setup_get)
{
	if (!auth_setup_token_accepted(r->thread->db, http_param(r, "token")))
		return setup_locked(r, resp);
	return setup_form(r, resp, 200, NULL);
}

HANDLER(page_setup_post)
{
	if (!auth_setup_token_accepted(r->thread->db, http_param(r, "token")))
		return setup_locked(r, resp);
	const char *username = http_param(r, "username");
	const char *password = http_param(r, "password");
	const char *problem = auth_check_credentials(username, password);
	if (problem)
		return setup_form(r, resp, 422, problem);
	sl_err e = auth_admin_create(r->thread->writer, username, password, r->now, true);
	if (e == SL_ERR_FORBIDDEN) {
		http_redirect(resp, "/login");
		return SL_OK;
	}
	if (e)
		return e;
	auth_setup_token_remove();
	fprintf(stderr, "stripelink: admin account \"%s\" created\n", username);
	long long wait = 0;
	if ((e = web_auth_login(r, resp, username, password, &wait)))
		return e;
	http_redirect(resp, "/apps");
	return SL_OK;
}

static sl_err login_form(struct http_request *r, struct http_response *resp,
			 int status, const char *error)
{
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Log in");
	if (error) {
		view_show(d, "ERROR");
		view_set(d, "ERROR_MESSAGE", error);
	}
	view_set(d, "USERNAME_VALUE", http_param(r, "username"));
	const char *next = http_param(r, "next");
	if (http_is_local_path(next))
		view_set(d, "NEXT", next);
	sl_err e = page_render(r, resp, "login", NULL, d);
	resp->status = status;
	return e;
}

HANDLER(page_login_get)
{
	if (r->session) {
		http_redirect(resp, next_target(r));
		return SL_OK;
	}
	return login_form(r, resp, 200, NULL);
}

HANDLER(page_login_post)
{
	const char *username = http_param(r, "username");
	const char *password = http_param(r, "password");
	long long wait = 0;
	sl_err e = web_auth_login(r, resp, username ? username : "", password ? password : "", &wait);
	if (e == SL_ERR_AUTH) {
		fprintf(stderr, "stripelink: failed login for \"%s\" from %s\n",
			username ? username : "", r->remote_addr ? r->remote_addr : "?");
		return login_form(r, resp, 403, "The username or password is not right.");
	}
	if (e == SL_ERR_RATE_LIMITED) {
		char msg[128];
		snprintf(msg, sizeof msg,
			 "Too many failed attempts. Please wait %lld seconds and try again.", wait);
		sl_err f = login_form(r, resp, 429, msg);
		http_header(resp, "Retry-After", arena_printf(r->arena, "%lld", wait));
		return f;
	}
	if (e)
		return e;
	http_redirect(resp, next_target(r));
	return SL_OK;
}

HANDLER(page_logout_post)
{
	sl_err e = web_auth_logout(r, resp);
	if (e)
		return e;
	http_redirect(resp, "/login");
	return SL_OK;
}
