/*
 * automation.c - running automations inside the writer's transaction and
 * queueing their webhooks in the outbox; see automation.h.
 */
#include "automation.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "config.h"
#include "crypto.h"
#include "deliver.h"
#include "jsonw.h"
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

/* The contact with its fields and tags, as the member "contact". */
static sl_err contact_json(struct store *db, struct arena *a, long long id, struct jsonw *w)
{
	struct contact c;
	struct contact_value *vals;
	size_t nv;
	sl_err e = store_contact_get(db, a, id, &c);
	if (e)
		return e;
	if ((e = store_contact_values(db, a, id, &vals, &nv)))
		return e;
	jsonw_object(w, "contact");
	jsonw_int(w, "id", c.id);
	jsonw_string(w, "email", c.email);
	jsonw_string(w, "first_name", c.first_name);
	jsonw_string(w, "last_name", c.last_name);
	jsonw_string(w, "phone", c.phone);
	jsonw_object(w, "fields");
	for (size_t i = 0; i < nv; i++)
		jsonw_string(w, vals[i].key, vals[i].value);
	jsonw_object_end(w);
	jsonw_array(w, "tags");
	for (const char *p = c.tags; p && *p;) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		jsonw_string_len(w, NULL, p, n);
		p = end ? end + 1 : p + n;
	}
	jsonw_array_end(w);
	jsonw_object_end(w);
	return SL_OK;
}

/* The webhook document: trigger, contact, order / recurring payment, Stripe
 * ids. Written straight into a buffer (jsonw.h): this runs in the writer's
 * transaction for every firing. */
static sl_err payload(struct store *db, struct arena *a, const struct automation_row *au,
		      const struct firing *fi, const char *key, long long now, char **out)
{
	struct buf doc = BUF_INIT;
	struct jsonw jw, *w = &jw;
	sl_err e = SL_OK;
	jsonw_init(w, &doc);
	jsonw_object(w, NULL);
	jsonw_string(w, "id", key);
	jsonw_string(w, "trigger", automation_triggers[fi->trigger].slug);
	if (fi->tag)
		jsonw_string(w, "tag", fi->tag);
	jsonw_int(w, "created", now);
	jsonw_bool(w, "test", fi->test);
	jsonw_string(w, "source", fi->test ? "test" : fi->history ? "history" : "webhook");
	jsonw_object(w, "automation");
	jsonw_int(w, "id", au->id);
	jsonw_string(w, "name", au->name);
	jsonw_object_end(w);
	if (fi->contact_id) {
		if ((e = contact_json(db, a, fi->contact_id, w)))
			goto out;
	} else {
		jsonw_object(w, "contact");
		jsonw_string(w, "email", "sample@example.com");
		jsonw_object(w, "fields");
		jsonw_object_end(w);
		jsonw_array(w, "tags");
		jsonw_array_end(w);
		jsonw_object_end(w);
	}
	const struct change_set *cs = fi->facts ? fi->facts->cs : NULL;
	if (cs && cs->order.present) {
		jsonw_object(w, "order");
		jsonw_string(w, "id", cs->order.id);
		jsonw_int(w, "amount", cs->order.amount);
		jsonw_int(w, "amount_refunded", cs->order.amount_refunded);
		jsonw_string(w, "currency", cs->order.currency);
		jsonw_string(w, "status", cs->order.status);
		jsonw_string(w, "created", cs->order.created);
		jsonw_object_end(w);
	}
	if (cs && cs->recurring.present) {
		const struct change_recurring *rc = &cs->recurring;
		jsonw_object(w, "recurring_payment");
		jsonw_string(w, "id", rc->subscription_id);
		jsonw_string(w, "status", rc->status);
		jsonw_string(w, "price_id", rc->price_id);
		jsonw_string(w, "product", rc->product);
		if (rc->has_amount)
			jsonw_int(w, "amount", rc->amount);
		jsonw_string(w, "currency", rc->currency);
		jsonw_string(w, "interval", rc->interval);
		jsonw_string(w, "current_period_end", rc->current_period_end);
		jsonw_object_end(w);
	}
	if (cs && cs->dispute.present) {
		const struct change_dispute *dp = &cs->dispute;
		jsonw_object(w, "dispute");
		jsonw_string(w, "id", dp->id);
		jsonw_string(w, "charge", dp->charge_id);
		jsonw_int(w, "amount", dp->amount);
		jsonw_string(w, "currency", dp->currency);
		jsonw_string(w, "status", dp->status);
		jsonw_string(w, "reason", dp->reason);
		jsonw_object_end(w);
	}
	if (cs && cs->refund_count && strcmp(cs->object_type ? cs->object_type : "", "refund") == 0) {
		const struct change_refund *rf = &cs->refunds[0];
		jsonw_object(w, "refund");
		jsonw_string(w, "id", rf->id);
		jsonw_string(w, "charge", rf->charge_id);
		jsonw_int(w, "amount", rf->amount);
		jsonw_string(w, "currency", rf->currency);
		jsonw_string(w, "status", rf->status);
		jsonw_object_end(w);
	}
	jsonw_object(w, "stripe");
	if (cs) {
		jsonw_string(w, "object_id", cs->object_id);
		jsonw_string(w, "object_type", cs->object_type);
		jsonw_string(w, "customer_id", cs->customer_id);
		jsonw_int(w, "connection_id", fi->facts->connection_id);
	}
	jsonw_object_end(w);
	jsonw_object_end(w);
	*out = arena_strdup(a, buf_cstr(&doc));
out:
	buf_free(&doc);
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
	return store_outbox_add(db, &o);
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
