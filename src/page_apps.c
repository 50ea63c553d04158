/*
 * page_apps.c - the Apps page: apps that can be connected, and the
 * Connected Apps section.
 */
#include "handlers.h"

#include <string.h>

#include "app.h"
#include "catalog.h"
#include "store.h"
#include "view.h"

/* Notices the Apps page can show after a redirect (?notice=...). */
static const struct {
	const char *name;
	const char *text;
} notices[] = {
	{"disconnected", "Stripe is disconnected. Everything already synced stays in your contacts."},
	{"endpoint_left", "Stripe is disconnected, but Stripe could not be reached to remove the webhook "
			  "endpoint: delete it in the Stripe dashboard (Developers → Webhooks)."},
};

/* "Charge, Customer" for a connection's resources, from the arena. */
static const char *resource_labels(struct http_request *r, long long connection_id)
{
	struct resource_row *res;
	size_t n;
	if (store_resources_list(r->thread->db, r->arena, connection_id, &res, &n) || n == 0)
		return "None yet";
	const char *out = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!res[i].mapping)
			continue;   /* chosen in step 2 but never finished */
		enum resource k = catalog_resource_by_slug(res[i].resource);
		const char *label = k < RESOURCE__MAX ? catalog_resource(k)->label : res[i].resource;
		out = out ? arena_printf(r->arena, "%s, %s", out, label) : label;
	}
	return out ? out : "None yet";
}

HANDLER(page_apps_get)
{
	struct connection_row *conns;
	size_t n;
	sl_err e = store_connections_list(r->thread->db, r->arena, &conns, &n);
	if (e)
		return e;
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Apps");
	view_show(d, "CONNECT");
	view_show(d, n ? "HAVE_CONNECTED" : "NO_CONNECTED");
	for (size_t i = 0; i < n; i++) {
		struct view_dict *row = view_section(d, "CONNECTED");
		view_set_int(row, "ID", conns[i].id);
		view_set(row, "ACCOUNT", conns[i].account_name);
		view_set(row, "MODE", conns[i].livemode ? "Live" : "Test");
		view_set(row, "SINCE", page_time(r, conns[i].connected_at ? conns[i].connected_at
									  : conns[i].created_at));
		view_set(row, "STATUS", conns[i].status);
		view_set(row, "RESOURCES", resource_labels(r, conns[i].id));
	}
	const char *notice = http_get(&r->query, "notice");
	for (size_t i = 0; notice && i < sizeof notices / sizeof notices[0]; i++)
		if (strcmp(notice, notices[i].name) == 0) {
			view_show(d, "NOTICE");
			view_set(d, "NOTICE_TEXT", notices[i].text);
		}
	return page_render(r, resp, "apps", "APPS", d);
}
