/*
 * page_stripe.c - the Stripe app: Connect (step 1 of the wizard), the
 * Stripe app page, the webhook-event switches, and Disconnect.
 */
#include "handlers.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "catalog.h"
#include "catchup.h"
#include "config.h"
#include "connection.h"
#include "store.h"
#include "view.h"
#include "writer.h"

/* What the person reads for each connect problem: a headline and what to
 * do about it. */
static const struct {
	const char *headline;
	const char *advice;
	int status;
} connect_words[] = {
	[CONNECT_OK] = {"", "", 200},
	[CONNECT_KEY_SHAPE] = {
		"That does not look like a Stripe secret key.",
		"Secret keys start with sk_live_ or sk_test_ (restricted keys with rk_live_ or rk_test_). "
		"Copy it from the Stripe dashboard under Developers → API keys.", 422},
	[CONNECT_KEY_REJECTED] = {
		"Stripe did not accept this key.",
		"It may be mistyped, rolled or revoked. Copy the current secret key from the Stripe "
		"dashboard under Developers → API keys and try again.", 422},
	[CONNECT_KEY_PERMISSION] = {
		"This restricted key is missing a permission.",
		"Give the key write access to Webhook Endpoints, and read access to Customers, Charges, "
		"Subscriptions, Invoices and Checkout Sessions, or use a standard secret key.", 422},
	[CONNECT_ENDPOINT_LIMIT] = {
		"There was an error saving your connection",
		"The Stripe account already has 16 webhook endpoints, the most Stripe allows. Deactivate "
		"or delete an unused one in the Stripe dashboard (Developers → Webhooks), then connect again.",
		422},
	[CONNECT_ALREADY] = {
		"This Stripe account is already connected.",
		"Open it from Connected Apps, or disconnect it there first.", 409},
	[CONNECT_STRIPE_DOWN] = {
		"Stripe could not be reached.",
		"Nothing was saved. Check this server's connection to the internet and try again in a moment.",
		502},
	[CONNECT_STRIPE_ERROR] = {
		"There was an error saving your connection",
		"Stripe refused the request. Nothing was saved; try again, and if it keeps happening, "
		"check the account in the Stripe dashboard.", 502},
	[CONNECT_SAVE_FAILED] = {
		"There was an error saving your connection",
		"Nothing was saved. Please try again in a moment.", 503},
	[CONNECT_OTHER_ACCOUNT] = {
		"This key belongs to another Stripe account (or the other mode).",
		"Paste a secret key of the account this connection syncs, in the same mode (live or test). "
		"To sync another account, connect it from Connected Apps.", 422},
};
_Static_assert(sizeof connect_words / sizeof connect_words[0] == CONNECT_PROBLEM__MAX,
	       "every connect problem needs words");

static sl_err connect_form(struct http_request *r, struct http_response *resp, int status,
			   enum connect_problem problem, const char *stripe_said)
{
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Connect Stripe");
	page_wizard_steps(d, 1);
	if (problem != CONNECT_OK) {
		view_show(d, "ERROR");
		view_set(d, "ERROR_HEADLINE", connect_words[problem].headline);
		view_set(d, "ERROR_ADVICE", connect_words[problem].advice);
		if (stripe_said && *stripe_said && problem == CONNECT_STRIPE_ERROR) {
			view_show(d, "STRIPE_SAID");
			view_set(d, "STRIPE_MESSAGE", stripe_said);
		}
	}
	sl_err e = page_render(r, resp, "connect", "APPS", d);
	resp->status = status;
	return e;
}

HANDLER(page_stripe_connect_get)
{
	return connect_form(r, resp, 200, CONNECT_OK, NULL);
}

/* The pasted secret_key without surrounding blanks, in buf (the caller
 * wipes buf when done); never NULL. */
static char *pasted_key(struct http_request *r, char *buf, size_t size)
{
	const char *key = http_param(r, "secret_key");
	snprintf(buf, size, "%s", key ? key : "");
	char *start = buf;
	while (*start == ' ' || *start == '\t')
		start++;
	size_t n = strlen(start);
	while (n && (start[n - 1] == ' ' || start[n - 1] == '\t'))
		start[--n] = '\0';
	return start;
}

HANDLER(page_stripe_connect_post)
{
	char trimmed[600];
	char *start = pasted_key(r, trimmed, sizeof trimmed);
	struct connect_result result;
	sl_err e = connection_connect(&r->thread->deps, start, r->now, &result);
	memset(trimmed, 0, sizeof trimmed);
	if (e)
		return e;
	if (result.problem != CONNECT_OK)
		return connect_form(r, resp, connect_words[result.problem].status, result.problem,
				    result.stripe.message);
	http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld/resource", result.connection_id));
	return SL_OK;
}

#define HEALTH_STALE 60   /* seconds: an older endpoint check is refreshed when the page opens */
#define DAY 86400

static sl_err health_request_job(struct store *db, void *arg)
{
	const long long *v = arg;   /* {connection id, now} */
	return store_catchup_request_health(db, v[0], v[1]);
}

static sl_err catchup_request_job(struct store *db, void *arg)
{
	const long long *v = arg;
	return store_catchup_request(db, v[0], v[1]);
}

/* The catch-up card and the endpoint banners, from the state the sync
 * worker last recorded; a stale endpoint check is asked for again (the
 * worker answers within a second or two; the page does not wait). */
static sl_err catchup_view(struct http_request *r, struct view_dict *d,
			   const struct connection_row *c, bool connected)
{
	struct catchup_row k;
	sl_err e = store_catchup_get(r->thread->db, r->arena, c->id, &k);
	if (e || !connected)
		return e;
	view_show(d, "CATCHUP");
	if (config_get()->catchup_interval > 0 && !k.health_requested_at &&
	    r->now - k.endpoint_checked_at >= HEALTH_STALE) {
		long long v[] = {c->id, r->now};
		if ((e = writer_run(r->thread->writer, health_request_job, v)))
			return e;
	}
	/* a state seen before the last (re)connect is not this endpoint's */
	const char *state = k.endpoint_checked_at >= c->connected_at ? k.endpoint_state : "unknown";
	if (!strcmp(state, "disabled")) {
		view_show(d, "ENDPOINT_DISABLED");
	} else if (!strcmp(state, "deleted")) {
		view_show(d, "ENDPOINT_DELETED");
	} else if (!strcmp(state, "key_refused") || !strcmp(state, "key_permission")) {
		view_show(d, "KEY_REFUSED");
		view_set(d, "KEY_PROBLEM", !strcmp(state, "key_refused")
			 ? "Stripe no longer accepts this connection's secret key (it was rolled, revoked or expired)."
			 : arena_printf(r->arena, "The restricted key is missing the permission %s.",
					k.endpoint_detail[0] ? k.endpoint_detail : "that Stripe asked for"));
	} else if (!strcmp(state, "unreachable")) {
		view_show(d, "ENDPOINT_UNREACHABLE");
		view_set(d, "ENDPOINT_DETAIL", k.endpoint_detail);
	}
	view_set(d, "ENDPOINT_STATE", state);
	if (k.endpoint_checked_at)
		view_set(d, "ENDPOINT_CHECKED", page_time(r, k.endpoint_checked_at));
	else
		view_set(d, "ENDPOINT_CHECKED", "not yet");
	if (k.running || k.requested_at)
		view_show(d, "CATCHUP_RUNNING");
	if (k.running)
		view_set_int(d, "RUN_FOUND", k.run_found);
	if (k.last_at) {
		view_show(d, "CATCHUP_LAST");
		view_set(d, "CATCHUP_AT", page_time(r, k.last_at));
		view_set_int(d, "CATCHUP_FOUND", k.last_found);
		view_set_int(d, "CATCHUP_NEW", k.last_new);
		view_set_int(d, "CATCHUP_SKIPPED", k.last_skipped);
	} else {
		view_show(d, "CATCHUP_NEVER");
	}
	if (k.last_error[0]) {
		view_show(d, "CATCHUP_ERROR");
		view_set(d, "CATCHUP_ERROR_TEXT", k.last_error);
	}
	if (k.undelivered) {
		long long age = (r->now - k.undelivered_oldest) / DAY;
		long long left = (CATCHUP_EVENT_RETENTION - (r->now - k.undelivered_oldest)) / DAY;
		view_show(d, "UNDELIVERED");
		view_set(d, "UNDELIVERED_COUNT", arena_printf(r->arena, "%s%lld", k.undelivered_more ? "more than " : "",
							       k.undelivered));
		view_set_int(d, "UNDELIVERED_AGE", age);
		view_set_int(d, "UNDELIVERED_LEFT", left > 0 ? left : 0);
	} else {
		view_show(d, "NO_UNDELIVERED");
	}
	return SL_OK;
}

HANDLER(page_stripe_app_get)
{
	struct connection_row c;
	sl_err e = page_load_connection(r, &c);
	if (e)
		return e;
	struct resource_row *res;
	size_t n;
	struct connection_counts counts;
	if ((e = store_resources_list(r->thread->db, r->arena, c.id, &res, &n)) ||
	    (e = store_connection_counts(r->thread->db, c.id, &counts)))
		return e;
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", arena_printf(r->arena, "Stripe · %s", c.account_name));
	view_set_int(d, "ID", c.id);
	view_set(d, "ACCOUNT", c.account_name);
	view_set(d, "ACCOUNT_ID", c.account_id);
	view_set(d, "MODE", c.livemode ? "live" : "test");
	view_set(d, "STATUS", c.status);
	view_set(d, "KEY_HINT", c.key_hint);
	view_set(d, "SINCE", page_time(r, c.connected_at ? c.connected_at : c.created_at));
	view_set(d, "WEBHOOK_URL", connection_webhook_url(r->arena, c.id));
	bool connected = strcmp(c.status, "connected") == 0;
	view_show(d, connected ? "CONNECTED" : "DISCONNECTED");
	if (!connected)
		view_set(d, "DISCONNECTED_AT", page_time(r, c.disconnected_at));
	if (c.create_contact)
		view_set(d, "CREATE_CONTACT", "checked");
	if (c.create_order)
		view_set(d, "CREATE_ORDER", "checked");
	if (c.create_recurring)
		view_set(d, "CREATE_RECURRING", "checked");
	view_show(d, n ? "HAVE_RESOURCES" : "NO_RESOURCES");
	for (size_t i = 0; i < n; i++) {
		struct view_dict *row = view_section(d, "RESOURCES");
		enum resource kind = catalog_resource_by_slug(res[i].resource);
		view_set(row, "RESOURCE", res[i].resource);
		view_set(row, "RESOURCE_LABEL", kind < RESOURCE__MAX ? catalog_resource(kind)->label
								   : res[i].resource);
		view_set(row, "SYNC_TYPE", strcmp(res[i].sync_type, "historical") == 0
					   ? "Historical and new records" : "Only new records");
		view_set(row, "MAPPED", res[i].mapping ? "Mapped" : "Not mapped yet");
		if (connected)
			view_show(row, "EDIT");
		if (connected && res[i].mapping)
			view_show(row, "SYNC_NOW");
	}
	page_sync_jobs(r, d, c.id, connected);
	if ((e = catchup_view(r, d, &c, connected)))
		return e;
	view_set_int(d, "COUNT_CONTACTS", counts.contacts);
	view_set_int(d, "COUNT_ORDERS", counts.orders);
	view_set_int(d, "COUNT_RECURRING", counts.recurring);
	view_set_int(d, "COUNT_DELIVERIES", counts.deliveries);
	const char *notice = http_get(&r->query, "notice");
	if (notice && strcmp(notice, "saved") == 0) {
		view_show(d, "NOTICE");
		view_set(d, "NOTICE_TEXT", "Settings saved.");
	} else if (notice && strcmp(notice, "catchup") == 0) {
		view_show(d, "NOTICE");
		view_set(d, "NOTICE_TEXT", "A catch-up was asked for: the sync worker fetches the events from Stripe "
					   "in a moment.");
	} else if (notice && strcmp(notice, "enabled") == 0) {
		view_show(d, "NOTICE");
		view_set(d, "NOTICE_TEXT", "The webhook endpoint is enabled again; a catch-up fetches what it missed.");
	} else if (notice && strcmp(notice, "recreated") == 0) {
		view_show(d, "NOTICE");
		view_set(d, "NOTICE_TEXT", "A new webhook endpoint and signing secret are in place; a catch-up "
					   "fetches what was missed.");
	} else if (notice && strcmp(notice, "key") == 0) {
		view_show(d, "NOTICE");
		view_set(d, "NOTICE_TEXT", "The new secret key is saved; the mappings and settings are unchanged.");
	} else if (notice && strcmp(notice, "rolled") == 0) {
		view_show(d, "NOTICE");
		view_set(d, "NOTICE_TEXT", "A new webhook endpoint and signing secret are in place; the old "
					   "secret is accepted only for deliveries already in flight (see below).");
	}
	if (c.previous_secret_sealed && c.previous_secret_until > r->now) {
		view_show(d, "ROTATING");
		view_set(d, "PREVIOUS_UNTIL", page_time(r, c.previous_secret_until));
	}
	return page_render(r, resp, "stripe_app", "APPS", d);
}

struct switches_job {
	long long id;
	bool contact, order, recurring;
};

static sl_err switches_job(struct store *db, void *arg)
{
	struct switches_job *j = arg;
	return store_connection_switches(db, j->id, j->contact, j->order, j->recurring);
}

HANDLER(page_stripe_settings_post)
{
	struct connection_row c;
	sl_err e = page_load_connection(r, &c);
	if (e)
		return e;
	struct switches_job j = {
		c.id,
		http_get(&r->form, "create_contact") != NULL,
		http_get(&r->form, "create_order") != NULL,
		http_get(&r->form, "create_recurring") != NULL,
	};
	if ((e = writer_run(r->thread->writer, switches_job, &j)))
		return e;
	http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld?notice=saved", c.id));
	return SL_OK;
}

HANDLER(page_stripe_disconnect_get)
{
	struct connection_row c;
	sl_err e = page_load_connection(r, &c);
	if (e)
		return e;
	if (strcmp(c.status, "connected") != 0) {
		http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld", c.id));
		return SL_OK;
	}
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Disconnect Stripe");
	view_set_int(d, "ID", c.id);
	view_set(d, "ACCOUNT", c.account_name);
	return page_render(r, resp, "disconnect", "APPS", d);
}

HANDLER(page_stripe_disconnect_post)
{
	struct connection_row c;
	sl_err e = page_load_connection(r, &c);
	if (e)
		return e;
	bool endpoint_left = false;
	if (strcmp(c.status, "connected") == 0 &&
	    (e = connection_disconnect(&r->thread->deps, c.id, r->now, &endpoint_left)))
		return e;
	http_redirect(resp, endpoint_left ? "/apps?notice=endpoint_left" : "/apps?notice=disconnected");
	return SL_OK;
}

HANDLER(page_stripe_roll_post)
{
	struct connection_row c;
	sl_err e = page_load_connection(r, &c);
	if (e)
		return e;
	struct connect_result result;
	if ((e = connection_roll_secret(&r->thread->deps, c.id, r->now, &result)))
		return e;
	if (result.problem != CONNECT_OK) {
		struct view_dict *d = view_dict_new();
		view_set_int(d, "STATUS", connect_words[result.problem].status);
		view_set(d, "REASON", "The signing secret was not changed");
		view_set(d, "MESSAGE", arena_printf(r->arena, "%s %s", connect_words[result.problem].headline,
						    connect_words[result.problem].advice));
		e = page_render(r, resp, "error", "APPS", d);
		resp->status = connect_words[result.problem].status;
		return e;
	}
	http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld?notice=rolled", c.id));
	return SL_OK;
}

/* The one error page for a repair Stripe refused. */
static sl_err repair_refused(struct http_request *r, struct http_response *resp, const char *what,
			     const struct connect_result *result)
{
	struct view_dict *d = view_dict_new();
	view_set_int(d, "STATUS", connect_words[result->problem].status);
	view_set(d, "REASON", what);
	const char *said = result->stripe.message[0] && result->problem == CONNECT_STRIPE_ERROR
				   ? arena_printf(r->arena, " Stripe said: %s", result->stripe.message) : "";
	view_set(d, "MESSAGE", arena_printf(r->arena, "%s %s%s", connect_words[result->problem].headline,
					    connect_words[result->problem].advice, said));
	sl_err e = page_render(r, resp, "error", "APPS", d);
	resp->status = connect_words[result->problem].status;
	return e;
}

/* Loads a connected connection for a repair; SL_ERR_INVALID otherwise. */
static sl_err load_connected(struct http_request *r, struct connection_row *c)
{
	sl_err e = page_load_connection(r, c);
	if (!e && strcmp(c->status, "connected") != 0)
		e = SL_ERR_INVALID;
	return e;
}

HANDLER(page_stripe_catchup_post)
{
	struct connection_row c;
	sl_err e = load_connected(r, &c);
	if (e)
		return e;
	long long v[] = {c.id, r->now};
	if ((e = writer_run(r->thread->writer, catchup_request_job, v)))
		return e;
	http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld?notice=catchup", c.id));
	return SL_OK;
}

HANDLER(page_stripe_endpoint_enable_post)
{
	struct connection_row c;
	struct connect_result result;
	sl_err e = load_connected(r, &c);
	if (e || (e = connection_endpoint_enable(&r->thread->deps, c.id, r->now, &result)))
		return e;
	if (result.problem != CONNECT_OK)
		return repair_refused(r, resp, "The webhook endpoint was not enabled", &result);
	http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld?notice=enabled", c.id));
	return SL_OK;
}

HANDLER(page_stripe_endpoint_recreate_post)
{
	struct connection_row c;
	struct connect_result result;
	sl_err e = load_connected(r, &c);
	if (e || (e = connection_endpoint_recreate(&r->thread->deps, c.id, r->now, &result)))
		return e;
	if (result.problem != CONNECT_OK)
		return repair_refused(r, resp, "The webhook endpoint was not recreated", &result);
	http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld?notice=recreated", c.id));
	return SL_OK;
}

HANDLER(page_stripe_key_post)
{
	struct connection_row c;
	struct connect_result result;
	sl_err e = load_connected(r, &c);
	if (e)
		return e;
	char trimmed[600];
	e = connection_replace_key(&r->thread->deps, c.id, pasted_key(r, trimmed, sizeof trimmed),
				   r->now, &result);
	memset(trimmed, 0, sizeof trimmed);
	if (e)
		return e;
	if (result.problem != CONNECT_OK)
		return repair_refused(r, resp, "The secret key was not changed", &result);
	http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld?notice=key", c.id));
	return SL_OK;
}
