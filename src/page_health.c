/*
 * page_health.c - GET /healthz and the home redirect.
 */
#include "handlers.h"

#include <json-c/json.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "crypto.h"
#include "metrics.h"
#include "store.h"
#include "writer.h"

HANDLER(page_healthz)
{
	sl_err e = store_ping(r->thread->db);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string(e ? "unavailable" : "ok"));
	json_object_object_add(o, "database", json_object_new_string(e ? err_name(e) : "ok"));
	json_object_object_add(o, "schema", json_object_new_int(store_schema_version()));
	struct writer_stats ws;
	writer_stats(r->thread->writer, &ws);
	json_object *w = json_object_new_object();
	json_object_object_add(w, "jobs", json_object_new_int64((int64_t)ws.jobs));
	json_object_object_add(w, "groups", json_object_new_int64((int64_t)ws.groups));
	json_object_object_add(w, "largest_group", json_object_new_int64((int64_t)ws.largest));
	json_object_object_add(o, "writer", w);
	return page_json(resp, e ? 503 : 200, o);
}

/* Prometheus' text format, to loopback clients, or to anyone with the
 * bearer token of STRIPELINK_METRICS_TOKEN. */
HANDLER(page_metrics)
{
	const char *token = config_get()->metrics_token;
	const char *auth = r->authorization;
	bool allowed = metrics_loopback(r->remote_addr);
	if (!allowed && token && *token && auth && strncmp(auth, "Bearer ", 7) == 0) {
		size_t n = strlen(token);
		allowed = strlen(auth + 7) == n && crypto_equal(auth + 7, token, n);
	}
	if (!allowed)
		return SL_ERR_FORBIDDEN;
	struct writer_stats ws;
	writer_stats(r->thread->writer, &ws);
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	metrics_render(&resp->body, &ws, config_get()->sync_metrics_path);
	return SL_OK;
}

HANDLER(page_home)
{
	(void)r;
	http_redirect(resp, "/contacts");
	return SL_OK;
}
