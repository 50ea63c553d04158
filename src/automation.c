/*
 * automation.c - running automations inside the writer's transaction and
 * queueing their webhooks in the outbox; see automation.h.
 */
#include "automation.h"

#include <arpa/inet.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "crypto.h"
#include "deliver.h"
#include "mapping.h"
#include "store.h"

const struct trigger_info automation_triggers[TRIG__MAX] = {
	[TRIG_CONTACT_CREATED] = {"contact_created", "Contact created from Stripe", false},
	[TRIG_TAG_ADDED] = {"tag_added", "Tag added", true},
	[TRIG_ORDER_CREATED] = {"order_created", "Order created", false},
	[TRIG_ORDER_REFUNDED] = {"order_refunded", "Order refunded", false},
	[TRIG_DISPUTE_OPENED] = {"dispute_opened", "Dispute opened", false},
	[TRIG_RECURRING_CREATED] = {"recurring_created", "Recurring payment created", false},
	[TRIG_RECURRING_PAST_DUE] = {"recurring_past_due", "Recurring payment past due", false},
	[TRIG_RECURRING_CANCELED] = {"recurring_canceled", "Recurring payment canceled", false},
};

const struct action_info automation_actions[ACT__MAX] = {
	[ACT_ADD_TAG] = {"add_tag", "Add a tag", "Tag", false},
	[ACT_REMOVE_TAG] = {"remove_tag", "Remove a tag", "Tag", false},
	[ACT_SET_FIELD] = {"set_field", "Set a field", "Field key", true},
	[ACT_WEBHOOK] = {"webhook", "Send a webhook", "URL", false},
};

int automation_trigger_find(const char *slug)
{
	for (int i = 0; slug && i < TRIG__MAX; i++)
		if (strcmp(automation_triggers[i].slug, slug) == 0)
			return i;
	return -1;
}

int automation_action_find(const char *slug)
{
	for (int i = 0; slug && i < ACT__MAX; i++)
		if (strcmp(automation_actions[i].slug, slug) == 0)
			return i;
	return -1;
}

long long automation_give_up_at(long long now_ms)
{
	return now_ms + (long long)config_get()->outbound_give_up_s * 1000;
}

/*
 * The segment condition: the contact must be in the automation's segment
 * (0: every contact) at this moment, inside the same transaction, so the
 * change that fired it counts. A segment deleted since, or whose saved
 * definition no longer compiles, matches nobody: the automation is skipped
 * and the skip logged, and the Stripe change itself still applies.
 */
static sl_err segment_allows(struct store *db, long long segment_id, long long contact_id,
			     long long now, bool *allowed)
{
	*allowed = segment_id == 0;
	if (*allowed)
		return SL_OK;
	sl_err e = store_segment_contains(db, segment_id, contact_id, now, allowed);
	if (e == SL_ERR_NOT_FOUND || e == SL_ERR_INVALID) {
		fprintf(stderr, "stripelink: automation: segment %lld is %s; skipped\n", segment_id,
			e == SL_ERR_NOT_FOUND ? "gone" : "no longer valid");
		*allowed = false;
		return SL_OK;
	}
	return e;
}

/* What fired an automation, carried into its actions. */
struct firing {
	enum automation_trigger trigger;
	const char *tag;               /* tag_added */
	long long contact_id;
	bool history;
	bool test;
	const struct automation_facts *facts;   /* NULL for a test */
	int depth;                     /* 0: a Stripe change; 1: an automation's tag */
};

static void put_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

/* The contact with its fields and tags as JSON. */
static sl_err contact_json(struct store *db, struct arena *a, long long id, struct json_object **out)
{
	struct contact c;
	struct contact_value *vals;
	size_t nv;
	sl_err e = store_contact_get(db, a, id, &c);
	if (e)
		return e;
	if ((e = store_contact_values(db, a, id, &vals, &nv)))
		return e;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(c.id));
	put_str(o, "email", c.email);
	put_str(o, "first_name", c.first_name);
	put_str(o, "last_name", c.last_name);
	put_str(o, "phone", c.phone);
	struct json_object *fields = json_object_new_object();
	for (size_t i = 0; i < nv; i++)
		put_str(fields, vals[i].key, vals[i].value);
	json_object_object_add(o, "fields", fields);
	struct json_object *tags = json_object_new_array();
	for (const char *p = c.tags; p && *p;) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		json_object_array_add(tags, json_object_new_string_len(p, (int)n));
		p = end ? end + 1 : p + n;
	}
	json_object_object_add(o, "tags", tags);
	*out = o;
	return SL_OK;
}

/* The webhook document: trigger, contact, order / recurring payment, Stripe ids. */
static sl_err payload(struct store *db, struct arena *a, const struct automation_row *au,
		      const struct firing *fi, const char *key, long long now, char **out)
{
	struct json_object *doc = json_object_new_object(), *contact = NULL;
	sl_err e = SL_OK;
	put_str(doc, "id", key);
	put_str(doc, "trigger", automation_triggers[fi->trigger].slug);
	if (fi->tag)
		put_str(doc, "tag", fi->tag);
	json_object_object_add(doc, "created", json_object_new_int64(now));
	json_object_object_add(doc, "test", json_object_new_boolean(fi->test));
	put_str(doc, "source", fi->test ? "test" : fi->history ? "history" : "webhook");
	struct json_object *auto_o = json_object_new_object();
	json_object_object_add(auto_o, "id", json_object_new_int64(au->id));
	put_str(auto_o, "name", au->name);
	json_object_object_add(doc, "automation", auto_o);
	if (fi->contact_id) {
		if ((e = contact_json(db, a, fi->contact_id, &contact)))
			goto out;
		json_object_object_add(doc, "contact", contact);
	} else {
		struct json_object *sample = json_object_new_object();
		put_str(sample, "email", "sample@example.com");
		json_object_object_add(sample, "fields", json_object_new_object());
		json_object_object_add(sample, "tags", json_object_new_array());
		json_object_object_add(doc, "contact", sample);
	}
	const struct change_set *cs = fi->facts ? fi->facts->cs : NULL;
	if (cs && cs->order.present) {
		struct json_object *o = json_object_new_object();
		put_str(o, "id", cs->order.id);
		json_object_object_add(o, "amount", json_object_new_int64(cs->order.amount));
		json_object_object_add(o, "amount_refunded", json_object_new_int64(cs->order.amount_refunded));
		put_str(o, "currency", cs->order.currency);
		put_str(o, "status", cs->order.status);
		put_str(o, "created", cs->order.created);
		json_object_object_add(doc, "order", o);
	}
	if (cs && cs->recurring.present) {
		const struct change_recurring *rc = &cs->recurring;
		struct json_object *o = json_object_new_object();
		put_str(o, "id", rc->subscription_id);
		put_str(o, "status", rc->status);
		put_str(o, "price_id", rc->price_id);
		put_str(o, "product", rc->product);
		if (rc->has_amount)
			json_object_object_add(o, "amount", json_object_new_int64(rc->amount));
		put_str(o, "currency", rc->currency);
		put_str(o, "interval", rc->interval);
		put_str(o, "current_period_end", rc->current_period_end);
		json_object_object_add(doc, "recurring_payment", o);
	}
	if (cs && cs->dispute.present) {
		const struct change_dispute *dp = &cs->dispute;
		struct json_object *o = json_object_new_object();
		put_str(o, "id", dp->id);
		put_str(o, "charge", dp->charge_id);
		json_object_object_add(o, "amount", json_object_new_int64(dp->amount));
		put_str(o, "currency", dp->currency);
		put_str(o, "status", dp->status);
		put_str(o, "reason", dp->reason);
		json_object_object_add(doc, "dispute", o);
	}
	if (cs && cs->refund_count && strcmp(cs->object_type ? cs->object_type : "", "refund") == 0) {
		const struct change_refund *rf = &cs->refunds[0];
		struct json_object *o = json_object_new_object();
		put_str(o, "id", rf->id);
		put_str(o, "charge", rf->charge_id);
		json_object_object_add(o, "amount", json_object_new_int64(rf->amount));
		put_str(o, "currency", rf->currency);
		put_str(o, "status", rf->status);
		json_object_object_add(doc, "refund", o);
	}
	struct json_object *stripe = json_object_new_object();
	if (cs) {
		put_str(stripe, "object_id", cs->object_id);
		put_str(stripe, "object_type", cs->object_type);
		put_str(stripe, "customer_id", cs->customer_id);
		json_object_object_add(stripe, "connection_id",
				       json_object_new_int64(fi->facts->connection_id));
	}
	json_object_object_add(doc, "stripe", stripe);
	*out = arena_strdup(a, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(doc);
	return e;
}

static sl_err queue_webhook(struct store *db, struct arena *a, const struct automation_row *au,
			    const char *url, const struct firing *fi, long long now)
{
	char key[2 * 16 + 4] = "sl_";
	sl_err e = crypto_token_hex(key + 3, 16);
	char *body;
	if (e || (e = payload(db, a, au, fi, key, now, &body)))
		return e;
	struct outbox_row o = {
		.automation_id = au->id,
		.url = url,
		.body = body,
		.idempotency_key = key,
		.test = fi->test,
		.created_at = now * 1000,
		.give_up_at = automation_give_up_at(now * 1000),
	};
	return store_outbox_add(db, &o, NULL);
}

static sl_err fire(struct store *db, struct arena *a, const struct firing *fi, long long now);

/* Runs one automation's actions in order. */
static sl_err run_actions(struct store *db, struct arena *a, const struct automation_row *au,
			  const struct firing *fi, long long now, int *webhooks)
{
	const struct automation_action *acts = au->actions;
	sl_err e = SL_OK;
	for (size_t i = 0; !e && i < au->n_actions; i++) {
		bool added = false;
		switch (automation_action_find(acts[i].kind)) {
		case ACT_ADD_TAG:
			if ((e = store_contact_tag_added(db, fi->contact_id, acts[i].name, &added)))
				break;
			if (added && fi->depth == 0) {   /* loop guard: one level deep */
				struct firing next = *fi;
				next.trigger = TRIG_TAG_ADDED;
				next.tag = acts[i].name;
				next.depth = 1;
				e = fire(db, a, &next, now);
			}
			break;
		case ACT_REMOVE_TAG:
			e = store_contact_untag(db, fi->contact_id, acts[i].name, NULL);
			break;
		case ACT_SET_FIELD:
			e = store_contact_set(db, fi->contact_id, acts[i].name, acts[i].value, now);
			break;
		case ACT_WEBHOOK:
			e = queue_webhook(db, a, au, acts[i].name, fi, now);
			(*webhooks)++;
			break;
		default:
			e = SL_ERR_INVALID;
		}
	}
	return e;
}

static sl_err fire(struct store *db, struct arena *a, const struct firing *fi, long long now)
{
	struct automation_row *list;
	size_t n;
	sl_err e = store_automations_for(db, a, automation_triggers[fi->trigger].slug, fi->tag,
					 &list, &n);
	for (size_t i = 0; !e && i < n; i++) {
		if (fi->history && !list[i].history)
			continue;
		bool allowed;
		if ((e = segment_allows(db, list[i].segment_id, fi->contact_id, now, &allowed)) ||
		    !allowed)
			continue;
		int webhooks = 0;
		if ((e = run_actions(db, a, &list[i], fi, now, &webhooks)))
			break;
		const char *detail = arena_printf(a, "%s%s%s%s", automation_triggers[fi->trigger].label,
						  fi->tag ? ": " : "", fi->tag ? fi->tag : "",
						  webhooks ? ", webhook queued" : "");
		e = store_automation_run(db, list[i].id, now, fi->contact_id,
					 fi->history ? "history" : "webhook", detail);
	}
	return e;
}

sl_err automation_ingested(struct store *db, const struct automation_facts *f, long long now)
{
	if (!f->contact_id)
		return SL_OK;
	struct arena *a = arena_new();
	if (!a)
		return SL_ERR_NOMEM;
	struct firing fi = {.contact_id = f->contact_id, .history = f->history, .facts = f};
	const struct {
		bool happened;
		enum automation_trigger trigger;
	} plain[] = {
		{f->contact_created, TRIG_CONTACT_CREATED},
		{f->order_created, TRIG_ORDER_CREATED},
		{f->order_refunded, TRIG_ORDER_REFUNDED},
		{f->dispute_opened, TRIG_DISPUTE_OPENED},
		{f->recurring_created, TRIG_RECURRING_CREATED},
		{f->recurring_past_due, TRIG_RECURRING_PAST_DUE},
		{f->recurring_canceled, TRIG_RECURRING_CANCELED},
	};
	sl_err e = SL_OK;
	for (size_t i = 0; !e && i < sizeof plain / sizeof plain[0]; i++) {
		if (!plain[i].happened)
			continue;
		fi.trigger = plain[i].trigger;
		e = fire(db, a, &fi, now);
	}
	for (size_t i = 0; !e && i < f->cs->tag_count && i < 64; i++) {
		if (!(f->tags_added & (UINT64_C(1) << i)))
			continue;
		fi.trigger = TRIG_TAG_ADDED;
		fi.tag = f->cs->tags[i];
		e = fire(db, a, &fi, now);
	}
	arena_free(a);
	return e;
}

sl_err automation_send_test(struct store *db, long long id, long long now)
{
	struct arena *a = arena_new();
	if (!a)
		return SL_ERR_NOMEM;
	struct automation_row au;
	struct automation_action *acts;
	size_t n, queued = 0;
	sl_err e = store_automation_get(db, a, id, &au);
	if (!e)
		e = store_automation_actions(db, a, id, &acts, &n);
	int t = e ? -1 : automation_trigger_find(au.trigger);
	if (!e && t < 0)
		e = SL_ERR_INVALID;
	struct firing fi = {.trigger = (enum automation_trigger)(t < 0 ? 0 : t), .test = true,
			    .tag = !e && *au.trigger_tag ? au.trigger_tag : NULL};
	for (size_t i = 0; !e && i < n; i++) {
		if (automation_action_find(acts[i].kind) != ACT_WEBHOOK)
			continue;
		e = queue_webhook(db, a, &au, acts[i].name, &fi, now);
		queued++;
	}
	if (!e && !queued)
		e = SL_ERR_NOT_FOUND;
	arena_free(a);
	return e;
}

const char *automation_url_problem(const char *url, bool allow_http, bool allow_private)
{
	const char *host;
	if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncmp(url, "http://", 7) == 0 && allow_http)
		host = url + 7;
	else if (strncmp(url, "http://", 7) == 0)
		return "The URL must start with https:// (plain http is not allowed here).";
	else
		return "The URL must start with https://.";
	char name[256];
	size_t n = strcspn(host, "/?#");
	if (n == 0 || n >= sizeof name || memchr(host, '@', n))
		return "The URL needs a host name (and no user name or password).";
	memcpy(name, host, n);
	name[n] = '\0';
	/* strip the port; a bracketed IPv6 literal keeps its brackets off */
	char *h = name;
	if (*h == '[') {
		char *close = strchr(h, ']');
		if (!close)
			return "The URL's host is not valid.";
		*close = '\0';
		h++;
	} else {
		char *colon = strrchr(h, ':');
		if (colon)
			*colon = '\0';
	}
	struct in_addr v4;
	struct in6_addr v6;
	if (inet_pton(AF_INET, h, &v4) == 1 && !deliver_ipv4_allowed(&v4, allow_private))
		return "The URL points to a private, loopback, link-local or metadata address.";
	if (inet_pton(AF_INET6, h, &v6) == 1 && !deliver_ipv6_allowed(&v6, allow_private))
		return "The URL points to a private, loopback, link-local or metadata address.";
	return NULL;
}
