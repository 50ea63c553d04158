/*
 * page.c - helpers shared by every handler (rendering, route parameters,
 * the connection a route names, the wizard's steps); see handlers.h. Page
 * files call these rather than each other's; where one page shows a card
 * of another area (the Stripe app page shows page_sync.c's sync jobs), the
 * call runs one way only (tests/check_layers.sh).
 */
#include "handlers.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "auth.h"
#include "store.h"
#include "view.h"
#include "web_auth.h"

sl_err page_render(struct http_request *r, struct http_response *resp,
		   const char *page, const char *nav, struct view_dict *d)
{
	if (r->session) {
		view_show(d, "LOGGED_IN");
		view_set(d, "USERNAME", r->session->username);
	}
	view_set(d, "CSRF", web_auth_csrf_token(r, resp));
	if (nav) {
		char section[32];
		snprintf(section, sizeof section, "NAV_%s", nav);
		view_show(d, section);
	}
	size_t len = 0;
	char *html = view_render("layout", page, d, &len);
	view_dict_free(d);
	if (!html)
		return SL_ERR_IO;
	buf_free(&resp->body);
	buf_append(&resp->body, html, len);
	free(html);
	resp->content_type = "text/html; charset=utf-8";
	return SL_OK;
}

sl_err page_json(struct http_response *resp, int status, struct json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	buf_free(&resp->body);
	buf_puts(&resp->body, s);
	buf_putc(&resp->body, '\n');
	json_object_put(obj);
	resp->status = status;
	resp->content_type = "application/json";
	return SL_OK;
}

sl_err page_id_param(const struct http_request *r, int i, long long *id)
{
	const char *s = r->params[i];
	char *end;
	if (!s || !*s || *s == '-' || *s == '+')
		return SL_ERR_NOT_FOUND;
	long long v = strtoll(s, &end, 10);
	if (*end || v <= 0)
		return SL_ERR_NOT_FOUND;
	*id = v;
	return SL_OK;
}

sl_err page_load_connection(struct http_request *r, struct connection_row *c)
{
	long long id;
	sl_err e = page_id_param(r, 0, &id);
	if (!e)
		e = store_connection_get(r->thread->db, r->arena, id, c);
	if (!e && strcmp(c->status, "pending") == 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

const char *page_time(struct http_request *r, long long t)
{
	if (t <= 0)
		return "";
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	char *s = arena_alloc(r->arena, 32);
	strftime(s, 32, "%Y-%m-%d %H:%M UTC", &tm);
	return s;
}

void page_wizard_steps(struct view_dict *d, int current)
{
	static const char *const steps[] = {"Connect", "Resource", "Map fields"};
	for (int i = 0; i < 3; i++) {
		struct view_dict *s = view_section(d, "STEPS");
		view_set(s, "STEP", steps[i]);
		view_set_int(s, "STEP_NUMBER", i + 1);
		if (i + 1 == current)
			view_show(s, "CURRENT");
	}
}
