/*
 * page_webhook.c - POST /webhooks/stripe/<connection-id> (no login; the
 * signature is the authentication) and the integration log with replay.
 */
#include "handlers.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "metrics.h"
#include "store.h"
#include "view.h"
#include "webhook.h"

#define LOG_PER_PAGE 50

static const char *const log_results[] = {
	"processed", "duplicate", "skipped", "ignored", "rejected", "failed", "waiting",
};

HANDLER(page_webhook_post)
{
	long long id;
	sl_err e = page_id_param(r, 0, &id);
	if (e)
		return e;
	struct webhook_outcome out = {0};
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	e = webhook_receive(&r->thread->deps, r->arena, id, r->stripe_signature, r->body,
			    r->body_len, r->now, &out);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	if (e)
		return e;
	metrics_delivery(out.result, ms / 1e3);
	/* the delivery's fields on the request's log line (app_serve writes
	 * it: one line per delivery); the reason is for people, never secret */
	r->log_fields = arena_printf(r->arena, "event=delivery connection=%lld event_id=%s type=%s "
				     "result=%s reason=%s", id, app_log_value(r->arena, out.event_id),
				     app_log_value(r->arena, out.type), out.result,
				     app_log_value(r->arena, out.reason));
	json_object *o = json_object_new_object();
	if (out.status < 400)
		json_object_object_add(o, "received", json_object_new_boolean(1));
	else
		json_object_object_add(o, "error", json_object_new_string(out.reason));
	json_object_object_add(o, "result", json_object_new_string(out.result));
	if (*out.reason && out.status < 400)
		json_object_object_add(o, "reason", json_object_new_string(out.reason));
	return page_json(resp, out.status, o);
}

HANDLER(page_log_get)
{
	struct connection_row c;
	sl_err e = page_load_connection(r, &c);
	if (e)
		return e;
	const char *result = http_get(&r->query, "result");
	const char *type = http_get(&r->query, "type");
	const char *page_s = http_get(&r->query, "page");
	long long page = page_s ? atoll(page_s) : 1;
	if (page < 1)
		page = 1;
	struct log_entry *entries;
	size_t n;
	long long total;
	if ((e = store_log_list(r->thread->db, r->arena, c.id, result, type,
				(page - 1) * LOG_PER_PAGE, LOG_PER_PAGE, &entries, &n, &total)))
		return e;
	const char **types;
	size_t n_types;
	if ((e = store_log_types(r->thread->db, r->arena, c.id, &types, &n_types)))
		return e;
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Integration log");
	view_set_int(d, "ID", c.id);
	view_set(d, "ACCOUNT", c.account_name);
	view_set_int(d, "TOTAL", total);
	for (size_t i = 0; i < sizeof log_results / sizeof log_results[0]; i++) {
		struct view_dict *o = view_section(d, "RESULT_OPTIONS");
		view_set(o, "VALUE", log_results[i]);
		if (result && strcmp(result, log_results[i]) == 0)
			view_set(o, "SELECTED", "selected");
	}
	for (size_t i = 0; i < n_types; i++) {
		struct view_dict *o = view_section(d, "TYPE_OPTIONS");
		view_set(o, "VALUE", types[i]);
		if (type && strcmp(type, types[i]) == 0)
			view_set(o, "SELECTED", "selected");
	}
	view_show(d, n ? "HAVE_ENTRIES" : "NO_ENTRIES");
	for (size_t i = 0; i < n; i++) {
		struct view_dict *row = view_section(d, "ENTRIES");
		view_set_int(row, "ENTRY", entries[i].id);
		view_set(row, "AT", page_time(r, entries[i].at));
		view_set(row, "EVENT_ID", entries[i].event_id);
		view_set(row, "TYPE", entries[i].type);
		view_set(row, "RESULT", entries[i].result);
		view_set(row, "REASON", entries[i].reason);
		if (entries[i].source && strcmp(entries[i].source, "webhook") != 0)
			view_show(row, "CATCHUP");
		if (entries[i].contact_id) {
			view_show(row, "CONTACT");
			view_set_int(row, "CONTACT_ID", entries[i].contact_id);
			/* at most LOG_PER_PAGE lookups by primary key, on a read connection */
			struct contact who;
			sl_err ce = store_contact_get(r->thread->db, r->arena, entries[i].contact_id, &who);
			if (ce == SL_OK) {
				view_show(row, "CONTACT_LINK");
				view_set(row, "CONTACT_EMAIL", who.email);
			}
			else if (ce == SL_ERR_NOT_FOUND)
				view_show(row, "CONTACT_GONE");
			else
				return ce;
		}
		if (entries[i].replayable &&
		    (!strcmp(entries[i].result, "skipped") || !strcmp(entries[i].result, "failed")))
			view_show(row, "REPLAY");
	}
	long long pages = (total + LOG_PER_PAGE - 1) / LOG_PER_PAGE;
	if (pages > 1) {
		const char *base = arena_printf(r->arena, "/apps/stripe/%lld/log?result=%s&type=%s", c.id,
						http_url_encode(r->arena, result ? result : ""),
						http_url_encode(r->arena, type ? type : ""));
		view_show(d, "PAGER");
		view_set_int(d, "PAGE", page);
		view_set_int(d, "PAGES", pages);
		if (page > 1) {
			view_show(d, "PREV");
			view_set(d, "PREV_URL", arena_printf(r->arena, "%s&page=%lld", base, page - 1));
		}
		if (page < pages) {
			view_show(d, "NEXT");
			view_set(d, "NEXT_URL", arena_printf(r->arena, "%s&page=%lld", base, page + 1));
		}
	}
	const char *replayed = http_get(&r->query, "replayed");
	if (replayed) {
		view_show(d, "NOTICE");
		view_set(d, "NOTICE_TEXT", arena_printf(r->arena, "Replayed: %s.", replayed));
	}
	return page_render(r, resp, "log", "APPS", d);
}

HANDLER(page_log_replay_post)
{
	struct connection_row c;
	sl_err e = page_load_connection(r, &c);
	if (e)
		return e;
	long long entry;
	if ((e = page_id_param(r, 1, &entry)))
		return e;
	struct webhook_outcome out;
	if ((e = webhook_replay(&r->thread->deps, r->arena, c.id, entry, r->now, &out)))
		return e;
	http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld/log?replayed=%s", c.id,
					 http_url_encode(r->arena, out.result)));
	return SL_OK;
}
