/*
 * webhook.c - a Stripe webhook delivery end to end; see webhook.h.
 *
 * The flow of a delivery (PATH_DELIVERY): verify the signature, parse, map
 * (prepare), then one writer job (delivery_job) that records the event id
 * and applies the change set in the group's transaction; answered after the
 * commit. Stripe is never called while answering: when the mapping needs a
 * customer the event only names (customer: cus_...), prepare() maps it as
 * if that customer's contact link were there and names it in check_link;
 * the job asks for the link in its transaction (answered with its first
 * round trip) and, when it is not committed yet, records the event as
 * waiting instead of applying it (stripe_events
 * result 'waiting', the body in pending_events, a 'waiting' log line) and
 * answers 200. webhook_complete_waiting(), run every second by the sync
 * worker, takes the waiting events whose customer is linked now or whose
 * wait (STRIPELINK_WEBHOOK_WAIT) is over, and runs each again as
 * PATH_COMPLETE, where the one lookup is allowed; the job applies it only if
 * it is still waiting, and deletes its pending row in the same transaction.
 * Catch-up (PATH_CATCHUP) and a person's Replay (PATH_REPLAY) may look the
 * customer up at once: they are not answering Stripe.
 * A same-second tie (refetch.h) waits the same way, whatever the path: the
 * job records it as waiting for a fetch of its object (tie_wait), and the
 * sync worker's completion fetches the object (settle_tie) and applies that
 * state.
 */
#include "webhook.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "config.h"
#include "conn_cache.h"
#include "connection.h"
#include "crypto.h"
#include "deps.h"
#include "event_cache.h"
#include "event_version.h"
#include "ingest.h"
#include "mapping.h"
#include "metrics.h"
#include "refetch.h"
#include "store.h"
#include "stripe.h"
#include "stripe_sig.h"
#include "writer.h"

/* Everything the writer job needs; lives on the request thread's stack. */
struct delivery {
	long long connection_id;
	long long now;
	const char *event_id;
	const char *type;
	long long created;
	const struct catalog_event *ev;   /* NULL: ignored type */
	bool replay;
	const char *reject_reason;        /* set: log as rejected, nothing else */
	const char *fail_reason;          /* set: log as failed (Stripe retries) */
	const char *lookup_problem;       /* a customer lookup Stripe refused for good */
	const char *skip_reason;          /* set: log as skipped (another API version) */
	const char *version_note;         /* set: the reason of a processed entry (the first
					     event of another API version; a tie settled by a fetch) */
	const char *source;               /* NULL: a delivery; "catchup": from the event list */
	const unsigned char *payload;
	size_t payload_len;
	const struct connection_row *conn; /* borrowed: the connection the event came for */
	long long conn_gen;               /* its config_gen when read (the job checks it) */
	bool may_ask;                     /* a customer lookup at Stripe is allowed */
	bool completing;                  /* a waiting event, completed off the request path */
	int wait;                         /* seconds before a waiting event is looked up */
	const char *wait_for;             /* set: the customer not linked yet (record as waiting) */
	bool link_in_job;                 /* a delivery: whether the customer is linked is asked
					     in the job (check_link), not on the request thread */
	const char *check_link;           /* set: mapped as if linked; the job makes it wait for
					     this customer when it is not */
	json_object *fetched;             /* owned: a tie's object as fetched (process puts it) */
	long long fetched_version;        /* its version (refetch_object) */
	const char *wait_what;            /* what wait_for is: NULL for a customer, "charge" */
	struct ingest_item item;
	bool mapped;                      /* item is filled */
	/* out */
	const char *result;
	const char *reason;
	char reason_buf[200];             /* a reason made in the job (it outlives the job's arena) */
	long long contact_id;
};

static bool final_result(const char *r)
{
	return strcmp(r, "failed") != 0;
}

static sl_err log_delivery(struct store *db, struct delivery *d, bool keep_payload)
{
	struct log_entry l = {
		.connection_id = d->connection_id,
		.at = d->now,
		.event_id = d->event_id,
		.type = d->type,
		.result = d->result,
		.reason = d->reason,
		.contact_id = d->contact_id,
		.payload = keep_payload ? (const char *)d->payload : NULL,
		.payload_len = keep_payload ? d->payload_len : 0,
		.source = d->source,
	};
	return store_log_add(db, &l, NULL);
}

static void complete_inline(struct store *db, const struct delivery *d, const char *customer_id);

/* A same-second tie (refetch.h) is not applied as it came: in this
 * transaction it is recorded as waiting for the sync worker to fetch its
 * object. *waiting says whether it was one. */
static sl_err tie_wait(struct store *db, struct delivery *d, long long applied, bool *waiting)
{
	const struct change_set *cs = d->item.cs;
	sl_err e;
	*waiting = false;
	if (!d->mapped || d->fetched || !cs->object_id ||
	    !refetch_is_tie(d->ev->resource, applied, d->created))
		return SL_OK;
	*waiting = true;
	d->result = "waiting";
	/* in d, not the job's arena: the answer is written after the job */
	snprintf(d->reason_buf, sizeof d->reason_buf, "same-second tie: fetching %s %.100s from Stripe",
		 catalog_resource(d->ev->resource)->object_name, cs->object_id);
	d->reason = d->reason_buf;
	if (!(e = store_event_put(db, d->connection_id, d->event_id, "waiting")) &&
	    !(e = store_pending_put_fetch(db, d->connection_id, d->event_id, cs->object_id, d->payload,
					  d->payload_len, d->now, d->now)))
		e = log_delivery(db, d, false);
	return e;
}

/* True when the applied item wrote a charge's order (refunds and disputes
 * may wait for it). */
static bool charge_order_made(const struct ingest_item *it)
{
	const struct change_set *cs = it->cs;
	return !it->skip_reason && it->order != ORDER_NONE && cs->order.present && cs->order.id &&
	       cs->object_type && strcmp(cs->object_type, "charge") == 0;
}

/* The writer job: record the event id first, then apply. */
static sl_err delivery_job(struct store *db, void *arg)
{
	struct delivery *d = arg;
	struct arena *a = NULL;
	sl_err e;
	if (d->reject_reason) {
		d->result = "rejected";
		d->reason = d->reject_reason;
		return log_delivery(db, d, false);
	}
	/* a run again (writer_keys.rerunnable) starts from what the request
	 * thread made: the job changes none of it but its outcome */
	d->contact_id = 0;
	a = arena_new();
	if (!a)
		return SL_ERR_NOMEM;
	/* the event's record, its object's applied version and whether events
	 * wait for its customer or charge, in one round trip: nothing before
	 * their use below writes them */
	const struct change_set *ks = d->mapped ? d->item.cs : NULL;
	const struct event_keys keys = {
		.object_id = ks ? ks->object_id : NULL,
		.customer_id = ks ? ks->customer_id : NULL,
		.charge_id = ks && ks->object_type && !strcmp(ks->object_type, "charge") ? ks->order.id : NULL,
		.email_key = ks ? ks->email_key : NULL,
		.order_id = ks ? ks->order.id : NULL,
		.subscription_id = ks ? ks->recurring.subscription_id : NULL,
	};
	struct event_state st;
	e = store_event_state(db, a, d->connection_id, d->event_id, &keys, &st);
	if (e)
		goto out;
	if (st.config_gen != d->conn_gen) {
		/* mapped with a copy of the connection older than its row: the
		 * caller does it again from a fresh one (conn_cache.h) */
		e = SL_ERR_STALE;
		goto out;
	}
	const char *prior = st.result;
	bool seen = prior != NULL;
	bool replayable = seen && (!strcmp(prior, "skipped") || !strcmp(prior, "failed"));
	if (d->completing && !(seen && !strcmp(prior, "waiting"))) {
		/* completed already (or never recorded): only forget the wait */
		d->result = "duplicate";
		d->reason = "this event was already completed";
		e = store_pending_delete(db, d->connection_id, d->event_id);
		goto out;
	}
	if (seen && final_result(prior) && !(d->replay && replayable) && !d->completing) {
		d->result = "duplicate";
		d->reason = "this event was already received";
		/* a catch-up meets every delivered event again: not worth a line */
		e = d->source ? SL_OK : log_delivery(db, d, false);
		goto out;
	}
	if (d->completing && d->fail_reason) {
		/* the lookup can succeed later: stay waiting, try again after the wait */
		d->result = "waiting";
		d->reason = d->fail_reason;
		e = store_pending_defer(db, d->connection_id, d->event_id, d->now + d->wait);
		goto out;
	}
	const char *wait_for = d->wait_for;
	if (d->check_link && !wait_for) {
		/* mapped as if its customer were linked: wait when it is not (the
		 * link was answered ahead by store_event_state) */
		long long linked;
		e = store_customer_contact(db, d->check_link, &linked);
		if (e == SL_ERR_NOT_FOUND)
			wait_for = d->check_link;
		else if (e)
			goto out;
	}
	if (wait_for) {
		d->result = "waiting";
		/* in d, not the job's arena: the answer is written after the job */
		if (d->wait_what)
			snprintf(d->reason_buf, sizeof d->reason_buf, "waiting for %s %.100s: applied when "
				 "it arrives, or after %d s without it", d->wait_what, wait_for, d->wait);
		else
			snprintf(d->reason_buf, sizeof d->reason_buf, "waiting for customer %.100s: applied "
				 "when it is linked, or looked up at Stripe after %d s", wait_for, d->wait);
		d->reason = d->reason_buf;
		if (!(e = store_event_put(db, d->connection_id, d->event_id, "waiting")) &&
		    !(e = store_pending_put(db, d->connection_id, d->event_id, wait_for, d->payload,
					    d->payload_len, d->now, d->now + d->wait)))
			e = log_delivery(db, d, false);
		goto out;
	}
	if (d->fail_reason) {
		d->result = "failed";
		d->reason = d->fail_reason;
		if (!(e = store_event_put(db, d->connection_id, d->event_id, "failed")))
			e = log_delivery(db, d, true);
		goto out;
	}
	bool tie;
	if ((e = tie_wait(db, d, st.version, &tie)) || tie)
		goto out;
	if (d->skip_reason) {
		d->result = "skipped";
		d->reason = d->skip_reason;
	} else if (!d->ev) {
		d->result = "ignored";
		d->reason = "this event type is not used by the integration";
	} else if (d->mapped) {
		d->item.applied = st.version;
		d->item.applied_known = true;
		if ((e = ingest_apply(db, &d->item, d->now)))
			goto out;
		d->contact_id = d->item.contact_id;
		d->result = d->item.skip_reason ? "skipped" : "processed";
		d->reason = !d->item.skip_reason ? (d->item.note ? d->item.note : "")
			    : d->lookup_problem && !d->item.stale ? d->lookup_problem
			    : d->item.skip_reason;
		if (!d->item.skip_reason && d->version_note)
			d->reason = d->version_note;
	}
	if ((e = store_event_put(db, d->connection_id, d->event_id, d->result)))
		goto out;
	if (d->completing && (e = store_pending_delete(db, d->connection_id, d->event_id)))
		goto out;
	if ((e = log_delivery(db, d, strcmp(d->result, "skipped") == 0)))
		goto out;
	/* this event linked its customer: what waits for it applies now */
	if (st.customer_waits && d->mapped && !d->completing && d->conn && d->item.contact_id &&
	    d->item.cs->customer_id)
		complete_inline(db, d, d->item.cs->customer_id);
	/* this event made its charge's order: the refunds and disputes waiting
	 * for that charge apply now */
	if (st.charge_waits && d->mapped && !d->completing && d->conn && charge_order_made(&d->item))
		complete_inline(db, d, d->item.cs->order.id);
out:
	arena_free(a);
	return e;
}

static const char *json_str(json_object *o, const char *key)
{
	json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/*
 * Per request thread: the mappings it built last, keyed by resource and the
 * saved mapping's JSON text (none: the default), so a delivery reads the
 * saved text (one indexed row, so a change applies at once) but does not
 * build the same mapping again. Owned by the thread; freed at its exit.
 */
#define MAPPING_CACHE 8

struct mapping_slot {
	bool used;
	enum resource res;
	char *text;              /* owned; NULL: the resource's default mapping */
	struct mapping *m;       /* owned */
};

static pthread_key_t mapping_key;
static pthread_once_t mapping_once = PTHREAD_ONCE_INIT;

static void mapping_cache_free(void *p)
{
	struct mapping_slot *slots = p;
	for (int i = 0; i < MAPPING_CACHE; i++) {
		free(slots[i].text);
		mapping_free(slots[i].m);
	}
	free(slots);
}

static void mapping_key_init(void)
{
	pthread_key_create(&mapping_key, mapping_cache_free);
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The connection's mapping for a resource (saved, or the default when the
 * resource is not set up). Borrowed from the thread's cache: valid until the
 * thread's next call; NULL when memory runs out. */
static const struct mapping *mapping_for(const struct deps *deps, struct arena *a,
					 const struct connection_row *c, enum resource res)
{
	struct resource_row row;
	const char *text = NULL;
	const char *slug = catalog_resource(res)->slug;
	/* read with c when c is a request thread's copy (conn_cache.h), else now */
	if (!conn_cache_mapping(c, slug, &text) &&
	    store_resource_get(deps->db, a, c->id, slug, &row) == SL_OK)
		text = row.mapping;
	pthread_once(&mapping_once, mapping_key_init);
	struct mapping_slot *slots = pthread_getspecific(mapping_key);
	if (!slots) {
		if (!(slots = calloc(MAPPING_CACHE, sizeof *slots)))
			return NULL;
		pthread_setspecific(mapping_key, slots);
	}
	for (int i = 0; i < MAPPING_CACHE; i++)
		if (slots[i].used && slots[i].res == res && same_text(slots[i].text, text))
			return slots[i].m;
	struct mapping *m = text ? mapping_from_json(text, NULL) : NULL;
	if (!m) {
		text = NULL;   /* unreadable saved mapping: the default, as before */
		for (int i = 0; i < MAPPING_CACHE; i++)
			if (slots[i].used && slots[i].res == res && !slots[i].text)
				return slots[i].m;
		m = mapping_default(res);
	}
	char *copy = text ? strdup(text) : NULL;
	if (!m || (text && !copy)) {
		mapping_free(m);
		free(copy);
		return NULL;
	}
	/* a free slot, else the first one (a handful of resources per install) */
	int i = 0;
	while (i < MAPPING_CACHE - 1 && slots[i].used)
		i++;
	free(slots[i].text);
	mapping_free(slots[i].m);
	slots[i] = (struct mapping_slot){true, res, copy, m};
	return m;
}

/*
 * Per request thread: the signing secrets it opened last, keyed by their
 * sealed text. Opening one is an AES-GCM decryption on every delivery;
 * a rolled or new secret has a new sealed text, so a stale one is never
 * used. Fixed-size, so a thread's exit leaves nothing to free.
 */
#define SECRET_CACHE 4

struct secret_slot {
	char sealed[512];
	char plain[256];
};

static _Thread_local struct secret_slot secret_cache[SECRET_CACHE];
static _Thread_local unsigned secret_next;

/* The plain secret of sealed, copied into buf (cap bytes); false when it
 * does not open or does not fit. */
static bool secret_open(const struct deps *deps, const char *sealed, char *buf, size_t cap)
{
	if (!sealed)
		return false;
	for (int i = 0; i < SECRET_CACHE; i++)
		if (secret_cache[i].sealed[0] && strcmp(secret_cache[i].sealed, sealed) == 0) {
			snprintf(buf, cap, "%s", secret_cache[i].plain);
			return true;
		}
	char *plain = connection_open_key(deps->secret_key, sealed);
	bool ok = plain && strlen(plain) < cap;
	if (ok) {
		snprintf(buf, cap, "%s", plain);
		struct secret_slot *s = &secret_cache[secret_next++ % SECRET_CACHE];
		if (strlen(sealed) < sizeof s->sealed && strlen(plain) < sizeof s->plain) {
			snprintf(s->sealed, sizeof s->sealed, "%s", sealed);
			snprintf(s->plain, sizeof s->plain, "%s", plain);
		}
	}
	connection_secret_free(plain);
	return ok;
}

/* True for lookup failures a later delivery may not meet: the network,
 * timeouts, rate limits, Stripe's own 5xx. A refused key (401/403) or a bad
 * request is permanent: the event is skipped with the reason instead. */
static bool retryable(sl_err e)
{
	return e == SL_ERR_NETWORK || e == SL_ERR_TIMEOUT || e == SL_ERR_RATE_LIMITED ||
	       e == SL_ERR_REMOTE || e == SL_ERR_NOMEM || e == SL_ERR_BUSY || e == SL_ERR_TOO_LARGE;
}

/* Asks Stripe for a customer the event only names by id. */
static sl_err fetch_customer(const struct deps *deps, const struct connection_row *c,
			     const char *customer_id, json_object **out, const char **why,
			     struct arena *a)
{
	char *key = connection_open_key(deps->secret_key, c->key_sealed);
	if (!key) {
		*why = "the connection has no key to look up the customer with";
		return SL_ERR_AUTH;
	}
	char path[160];
	snprintf(path, sizeof path, "/v1/customers/%s", customer_id);
	struct stripe_error err;
	sl_err e = stripe_request(deps->stripe, key, STRIPE_GET, path, NULL, out, &err);
	connection_secret_free(key);
	if (e)
		*why = arena_printf(a, "looking up customer %s at Stripe failed: %s", customer_id, err.message);
	return e;
}

/* The email of a customer object, trimmed, with its lower-cased key, from
 * the arena; both NULL when it has no usable email. */
static void customer_email(struct arena *a, json_object *customer, const char **email,
			   const char **key)
{
	const char *raw = json_str(customer, "email");
	*email = *key = NULL;
	if (!raw)
		return;
	while (*raw == ' ' || *raw == '\t')
		raw++;
	size_t n = strlen(raw);
	while (n && (raw[n - 1] == ' ' || raw[n - 1] == '\t'))
		n--;
	char *e = arena_strndup(a, raw, n);
	const char *at = strchr(e, '@');
	if (!at || at == e || !at[1] || strchr(e, ' '))
		return;
	char *k = arena_strdup(a, e);
	for (char *p = k; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	*email = e;
	*key = k;
}

/* Decodes and maps the event into d; sets d->fail_reason when a needed
 * lookup failed in a way a retry can fix. */
static void prepare(const struct deps *deps, struct arena *a, const struct connection_row *c,
		    json_object *object, const char *version, struct delivery *d,
		    struct change_set *cs)
{
	enum resource res = d->ev->resource;
	const struct mapping *m = mapping_for(deps, a, c, res);   /* borrowed */
	json_object *customer = NULL;
	bool asked_stripe = false;   /* at most one customer lookup per event */
	if (!m) {
		d->fail_reason = "out of memory";
		return;
	}
	if ((d->skip_reason = event_version_check(a, m, object, version, c->id, &d->version_note))) {
		return;
	}
	if (mapping_needs_customer(m, object)) {
		const char *cus = json_str(object, "customer");
		long long linked;
		if (cus && d->link_in_job) {
			d->check_link = arena_strdup(a, cus);   /* asked by the job, in its transaction */
		} else if (cus && store_customer_contact(deps->db, cus, &linked) != SL_OK) {
			const char *why = NULL;
			if (!d->may_ask) {
				d->wait_for = arena_strdup(a, cus);
				return;
			}
			asked_stripe = true;
			sl_err e = fetch_customer(deps, c, cus, &customer, &why, a);
			if (retryable(e)) {
				d->fail_reason = why;
				return;
			}
			if (e && e != SL_ERR_NOT_FOUND)
				d->lookup_problem = why;   /* permanent: the skip says why */
		}
	}
	sl_err e = mapping_apply(m, object, customer, cs);
	const char *fallback = NULL, *fallback_key = NULL;
	if (e == SL_ERR_INVALID && cs->customer_id) {
		/* the object names its customer but carries no email: the stored
		 * link finds the contact; failing that, ask Stripe once */
		long long linked;
		if (d->link_in_job && (!d->check_link || !strcmp(d->check_link, cs->customer_id))) {
			d->check_link = arena_strdup(a, cs->customer_id);
		} else if (store_customer_contact(deps->db, cs->customer_id, &linked) != SL_OK) {
			if (!customer && !asked_stripe && !d->may_ask) {
				d->wait_for = arena_strdup(a, cs->customer_id);
				return;
			}
			if (!customer && !asked_stripe) {
				const char *why = NULL;
				sl_err f = fetch_customer(deps, c, cs->customer_id, &customer, &why, a);
				if (retryable(f)) {
					d->fail_reason = why;
					json_object_put(customer);
					return;
				}
				if (f && f != SL_ERR_NOT_FOUND)
					d->lookup_problem = why;
			}
			customer_email(a, customer, &fallback, &fallback_key);
		}
	}
	change_set_add_tag(cs, d->ev->tag);
	if (d->ev->recurring == RECURRING_PAST_DUE)
		change_set_past_due(cs);
	d->mapped = true;
	d->item = (struct ingest_item){
		.connection_id = c->id,
		.cs = cs,
		.has_email = e == SL_OK,
		.fallback_email = fallback,
		.fallback_email_key = fallback_key,
		.version = d->created,
		.contact = d->ev->contact && c->create_contact,
		.order = c->create_order ? d->ev->order : ORDER_NONE,
		.recurring = c->create_recurring &&
			     (d->ev->recurring == RECURRING_UPSERT ||
			      ((d->ev->recurring == RECURRING_IF_SUBSCRIPTION_MODE ||
				d->ev->recurring == RECURRING_PAST_DUE) && cs->recurring.present)),
		.effect = d->ev->effect,
	};
	json_object_put(customer);
}

/* Settles a tie being completed: fetches the object, unless a version
 * newer than the event's is applied already (that state holds the event's
 * change: the event then goes on as it came, and only tags). Sets
 * d->fetched and d->fetched_version, or d->fail_reason (the fetch may work
 * later) or d->skip_reason (Stripe refused it for good). */
static void settle_tie(const struct deps *deps, struct arena *a, const struct connection_row *c,
		       const char *object_id, struct delivery *d)
{
	long long applied;
	if (store_object_version(deps->db, object_id, &applied) == SL_OK && applied > d->created)
		return;
	const char *name = catalog_resource(d->ev->resource)->object_name;
	char *key = connection_open_key(deps->secret_key, c->key_sealed);
	if (!key) {
		d->skip_reason = "same-second tie: the connection has no key to fetch the object with";
		return;
	}
	struct stripe_error err;
	sl_err e = refetch_object(deps->stripe, key, d->ev->resource, object_id, d->created, &d->fetched,
				  &d->fetched_version, &err);
	connection_secret_free(key);
	if (!e)
		return;
	const char *why = arena_printf(a, "same-second tie: fetching %s %s from Stripe failed: %s",
				       name, object_id, err.message);
	if (retryable(e))
		d->fail_reason = why;
	else
		d->skip_reason = why;
}

/* A refund or a dispute (no mapping: its contact is its charge's). While
 * its charge's order is not here, a delivery or a catch-up records it as
 * waiting for the charge: applied in the writer job of the charge event
 * that makes the order (complete_inline; else by the sync worker once the
 * order is there), or after STRIPELINK_CHARGE_WAIT without it (kept on
 * the charge id; the order picks it up if it ever comes). Refunds often
 * arrive before their charge; waiting costs nothing visible (there is no
 * order to show it on yet) and the contact still gets the tag and the
 * automations. */
static void prepare_money(const struct deps *deps, struct arena *a, const struct connection_row *c,
			  json_object *object, struct delivery *d, struct change_set *cs)
{
	sl_err e = mapping_apply_money(d->ev->effect, object, cs);
	if (e == SL_ERR_NOMEM) {
		d->fail_reason = "out of memory";
		return;
	}
	if (e) {
		d->skip_reason = cs->skip_reason ? cs->skip_reason : "not a refund or a dispute";
		return;
	}
	const char *charge = cs->dispute.present ? cs->dispute.charge_id : cs->refunds[0].charge_id;
	long long contact;
	if (c->create_order && !d->completing && !d->replay &&
	    store_order_contact(deps->db, charge, &contact) == SL_ERR_NOT_FOUND) {
		d->wait_for = arena_strdup(a, charge);
		d->wait_what = "charge";
		d->wait = config_get()->charge_wait;
		return;
	}
	change_set_add_tag(cs, d->ev->tag);
	d->mapped = true;
	d->item = (struct ingest_item){
		.connection_id = c->id,
		.cs = cs,
		.version = d->created,
		.contact = d->ev->contact && c->create_contact,
		.order = ORDER_NONE,
		.effect = d->ev->effect,
	};
}

/* Fills out from d; the strings are copied into a, because d's may point
 * into the change set, which dies before the answer is written. */
static void answer(struct arena *a, struct webhook_outcome *out, int status,
		   const struct delivery *d)
{
	out->status = status;
	out->result = d->result;   /* static */
	out->reason = arena_strdup(a, d->reason ? d->reason : "");
	out->contact_id = d->contact_id;
	out->event_id = arena_strdup(a, d->event_id ? d->event_id : "");
	out->type = arena_strdup(a, d->type ? d->type : "");
}

/* Where a trusted body comes from: what it may do and how it is logged. */
enum path {
	PATH_DELIVERY,   /* Stripe's POST: no Stripe call while answering */
	PATH_REPLAY,     /* a person's Replay of a skipped or failed event */
	PATH_CATCHUP,    /* the sync worker's catch-up from Stripe's event list */
	PATH_COMPLETE,   /* the sync worker completing a waiting event */
	PATH_LINKED,     /* the writer completing it when its customer's event linked it */
};

/* A delivery of body for c, as it arrives by path. */
static struct delivery delivery_init(const struct connection_row *c, const unsigned char *body,
				     size_t len, long long now, enum path path)
{
	return (struct delivery){
		.connection_id = c->id, .now = now, .replay = path == PATH_REPLAY,
		.source = path == PATH_CATCHUP ? WEBHOOK_SOURCE_CATCHUP : NULL,
		.payload = body, .payload_len = len, .type = "", .event_id = "", .conn = c,
		.conn_gen = c->config_gen,
		.may_ask = path != PATH_DELIVERY && path != PATH_LINKED,
		.link_in_job = path == PATH_DELIVERY,
		.completing = path == PATH_COMPLETE || path == PATH_LINKED,
		.wait = config_get()->webhook_wait,
	};
}

/* Parses and checks d's body and maps it (prepare) into d and cs; when
 * refetch names the object of a tie being completed, the object as fetched
 * from Stripe (settle_tie) is mapped instead of the event's. parsed: the
 * body's parse when the caller has it already (read only), else NULL.
 * Returns the parsed event (parsed itself when given; NULL when it did not
 * parse); the caller puts it (or returns parsed where it got it), and
 * d->fetched, after cs, whose strings may point into them, is done with. */
static json_object *decode(const struct deps *deps, struct arena *a, const struct connection_row *c,
			   struct delivery *d, struct change_set *cs, const char *refetch,
			   json_object *parsed)
{
	json_object *event = parsed;
	bool complete = parsed != NULL;
	if (!parsed) {
		json_tokener *tok = json_tokener_new();
		event = tok ? json_tokener_parse_ex(tok, (const char *)d->payload, (int)d->payload_len) : NULL;
		complete = tok && json_tokener_get_error(tok) == json_tokener_success &&
			   json_tokener_get_parse_end(tok) == d->payload_len;
		if (tok)
			json_tokener_free(tok);
	}
	json_object *data = NULL, *object = NULL, *created = NULL;
	const char *id = json_str(event, "id");
	const char *type = json_str(event, "type");
	if (id)
		d->event_id = arena_strdup(a, id);
	if (type)
		d->type = arena_strdup(a, type);
	if (!complete || !json_object_is_type(event, json_type_object))
		d->reject_reason = "the body is not a JSON object";
	else if (!id || !type)
		d->reject_reason = "the event has no id or type";
	else if (!json_object_object_get_ex(event, "created", &created) ||
		 !json_object_is_type(created, json_type_int))
		d->reject_reason = "the event has no created time";
	else if (!json_object_object_get_ex(event, "data", &data) ||
		 !json_object_object_get_ex(data, "object", &object) ||
		 !json_object_is_type(object, json_type_object))
		d->reject_reason = "the event has no data.object";
	if (!d->reject_reason) {
		d->created = json_object_get_int64(created);
		d->ev = catalog_event_find(type);
		if (d->ev && (d->ev->effect == EFFECT_REFUND || d->ev->effect == EFFECT_DISPUTE)) {
			prepare_money(deps, a, c, object, d, cs);
		} else if (d->ev) {
			if (refetch)
				settle_tie(deps, a, c, refetch, d);
			/* a fetched object is in this install's API version */
			if (!d->fail_reason && !d->skip_reason)
				prepare(deps, a, c, d->fetched ? d->fetched : object,
					d->fetched ? NULL : json_str(event, "api_version"), d, cs);
			if (d->fetched && d->mapped) {
				d->item.version = d->fetched_version;
				d->version_note = arena_printf(a, "same-second tie: applied %s %s as fetched "
							       "from Stripe", catalog_resource(d->ev->resource)->object_name,
							       refetch);
			}
		}
	}
	return event;
}

/* The ids an event's job reads and then writes (writer.h): its own id,
 * its object, the customer, charge and subscription it names, what it may
 * wait for. Jobs of other objects and customers run beside it. */
static void delivery_keys(const struct delivery *d, const struct change_set *cs, struct writer_keys *ks)
{
	char event[160];
	snprintf(event, sizeof event, "%lld/%s", d->connection_id, d->event_id);
	writer_keys_add(ks, event);
	writer_keys_add(ks, d->wait_for);
	writer_keys_add(ks, d->check_link);
	writer_keys_add(ks, cs->object_id);
	writer_keys_add(ks, cs->customer_id);
	writer_keys_add(ks, cs->order.id);
	writer_keys_add(ks, cs->recurring.subscription_id);
	writer_keys_add(ks, cs->subscription_id);
	writer_keys_add(ks, cs->dispute.charge_id);
	for (size_t i = 0; i < cs->refund_count; i++)
		writer_keys_add(ks, cs->refunds[i].charge_id);
}

/* Shared by receive, replay, catch-up and completion once the body is
 * trusted. refetch: completing a tie, the object to fetch (else NULL). */
static sl_err process(const struct deps *deps, struct arena *a, const struct connection_row *c,
		      const unsigned char *body, size_t len, long long now, enum path path,
		      const char *refetch, struct webhook_outcome *out)
{
	struct delivery d = delivery_init(c, body, len, now, path);
	struct change_set cs;
	change_set_init(&cs);
	json_object *event = decode(deps, a, c, &d, &cs, refetch, NULL);
	/* an event about to wait: the writer job that completes it (maybe
	 * later in this very group) may use this parse, not parse it again */
	bool lent = (d.wait_for || d.check_link) && !d.completing && event;
	if (lent)
		event_cache_lend(c->id, d.event_id, body, len, event);
	struct writer_keys keys = {.n = 0, .rerunnable = true};   /* delivery_job starts afresh */
	delivery_keys(&d, &cs, &keys);
	sl_err e = writer_run_keyed(deps->writer, delivery_job, &d, &keys);
	if (!e) {
		int status = d.reject_reason ? 400 : d.fail_reason && !d.completing ? 503 : 200;
		answer(a, out, status, &d);
	}
	change_set_clear(&cs);
	json_object_put(d.fetched);
	if (lent)   /* kept while the event waits for a job in a later group */
		event_cache_reclaim(c->id, d.event_id, body, len, event,
				    !e && d.result && strcmp(d.result, "waiting") == 0, now);
	else
		json_object_put(event);
	return e;
}

/*
 * On the writer, inside the job of an event that has just linked
 * customer_id (or made the order of a charge: then customer_id is the
 * charge id the refunds and disputes wait for, see prepare_money): the
 * connection's events waiting for that customer are
 * completed in the same transaction, so they apply as soon as their
 * customer does, with no other process writing and no extra disk sync. Each
 * runs in its own savepoint; one that fails, or would still wait, is left to
 * the sync worker's webhook_complete_waiting. No Stripe call: the customer
 * is linked.
 */
static void complete_inline(struct store *db, const struct delivery *d, const char *customer_id)
{
	struct arena *a = arena_new();
	struct pending_event *p = NULL;
	size_t n = 0;
	sl_err e = a ? store_pending_for_customer(db, a, d->connection_id, customer_id,
						  WEBHOOK_COMPLETE_BATCH, &p, &n) : SL_ERR_NOMEM;
	struct deps lent = {.db = db};   /* reads see this transaction */
	for (size_t i = 0; !e && i < n; i++) {
		struct delivery w = delivery_init(d->conn, (const unsigned char *)p[i].payload,
						  p[i].payload_len, d->now, PATH_LINKED);
		struct change_set cs;
		change_set_init(&cs);
		/* the parse made on the request thread that recorded it waiting,
		 * when lent or kept (borrowed), else parsed here */
		json_object *parsed = event_cache_use(d->connection_id, p[i].event_id, p[i].payload,
						      p[i].payload_len);
		json_object *event = decode(&lent, a, d->conn, &w, &cs, NULL, parsed);
		if (!w.reject_reason && !w.wait_for && !w.fail_reason && !(e = store_savepoint(db))) {
			sl_err je = delivery_job(db, &w);
			e = je ? store_rollback_to(db) : SL_OK;
			if (!e)
				e = store_release(db);
		}
		change_set_clear(&cs);
		if (parsed)
			event_cache_release(parsed);
		else
			json_object_put(event);
	}
	if (e)
		fprintf(stderr, "stripelink: completing the events waiting for %s: %s (the sync worker "
				"will)\n", customer_id, err_name(e));
	arena_free(a);
}

/* Whether a connection read with result e takes deliveries; sets out for
 * unknown (404) and disconnected (410) when it does not. */
static bool usable(sl_err e, const struct connection_row *c, struct webhook_outcome *out)
{
	if (e || strcmp(c->status, "pending") == 0) {
		*out = (struct webhook_outcome){404, "rejected", "no such connection", 0, "", ""};
		return false;
	}
	if (strcmp(c->status, "connected") != 0) {
		*out = (struct webhook_outcome){410, "rejected", "this connection was disconnected", 0, "", ""};
		return false;
	}
	return true;
}

/* Loads the connection; sets out for unknown (404) and disconnected (410). */
static bool load(const struct deps *deps, struct arena *a, long long id, struct connection_row *c,
		 struct webhook_outcome *out)
{
	return usable(store_connection_get(deps->db, a, id, c), c, out);
}

/* Loads the connection and processes a trusted body for it, again when its
 * configuration changed between the read and the job. *found: false when
 * the connection takes no deliveries (out says why). */
static sl_err load_and_process(const struct deps *deps, struct arena *a, long long id,
			       const unsigned char *body, size_t len, long long now, enum path path,
			       struct webhook_outcome *out, bool *found)
{
	struct connection_row c;
	sl_err e = SL_ERR_STALE;
	*found = true;
	for (int try = 0; try < 2 && e == SL_ERR_STALE; try++) {
		if (!(*found = load(deps, a, id, &c, out)))
			return SL_OK;
		e = process(deps, a, &c, body, len, now, path, NULL, out);
	}
	return e;
}

/* Deliveries that fail the signature check are not authenticated: anyone
 * can send them. At most WEBHOOK_REJECTS_PER_MINUTE of them a minute are
 * written to the integration log (and the disk); the rest are counted on
 * stderr, so a flood cannot grow the database or crowd the writer. */
static pthread_mutex_t reject_lock = PTHREAD_MUTEX_INITIALIZER;
static long long reject_minute;
static long long reject_logged, reject_dropped;

static bool reject_loggable(long long now)
{
	pthread_mutex_lock(&reject_lock);
	if (now / 60 != reject_minute) {
		if (reject_dropped)
			fprintf(stderr, "stripelink: %lld unsigned or badly signed deliveries in a minute "
					"were refused without being logged\n", reject_dropped);
		reject_minute = now / 60;
		reject_logged = reject_dropped = 0;
	}
	bool ok = reject_logged < WEBHOOK_REJECTS_PER_MINUTE;
	if (ok)
		reject_logged++;
	else
		reject_dropped++;
	pthread_mutex_unlock(&reject_lock);
	return ok;
}

static sl_err reject(const struct deps *deps, const struct connection_row *c, long long now,
		     const char *reason, struct webhook_outcome *out)
{
	struct delivery d = {.connection_id = c->id, .now = now, .reject_reason = reason,
			     .type = "", .event_id = ""};
	sl_err e = reject_loggable(now) ? writer_run(deps->writer, delivery_job, &d) : SL_OK;
	*out = (struct webhook_outcome){400, "rejected", reason, 0, "", ""};
	return e;
}

/* One try of webhook_receive with the thread's copy of the connection,
 * or a fresh one. SL_ERR_STALE: a copy that may be out of date refused
 * the delivery, or mapped it with an older configuration than the row's;
 * the caller tries again with a fresh one. */
static sl_err receive(const struct deps *deps, struct arena *a, long long connection_id,
		      const char *signature, const unsigned char *body, size_t len,
		      long long now, bool fresh, struct webhook_outcome *out)
{
	const struct connection_row *c = NULL;   /* borrowed from the thread's cache */
	sl_err e = conn_cache_get(deps->db, connection_id, fresh, &c);
	if (e && e != SL_ERR_NOT_FOUND)
		return e;
	if (!usable(e, c, out))
		return fresh ? SL_OK : SL_ERR_STALE;   /* a copy's word is not final */
	if (!signature)
		return reject(deps, c, now, "no Stripe-Signature header", out);
	char current[256], previous[256];
	const char *secrets[2];
	size_t n = 0;
	if (secret_open(deps, c->secret_sealed, current, sizeof current))
		secrets[n++] = current;
	if (c->previous_secret_until > now &&
	    secret_open(deps, c->previous_secret_sealed, previous, sizeof previous))
		secrets[n++] = previous;
	const char *why = NULL;
	sl_err v = n ? stripe_sig_verify(signature, body, len, secrets, n, now, WEBHOOK_TOLERANCE, &why)
		     : SL_ERR_AUTH;
	explicit_bzero(current, sizeof current);
	explicit_bzero(previous, sizeof previous);
	if (v && !fresh)
		return SL_ERR_STALE;   /* the secret may have been rolled since the copy */
	if (v)
		return reject(deps, c, now, arena_printf(a, "signature check failed: %s",
							 why ? why : "no signing secret"), out);
	return process(deps, a, c, body, len, now, PATH_DELIVERY, NULL, out);
}

sl_err webhook_receive(const struct deps *deps, struct arena *a, long long connection_id,
		       const char *signature, const unsigned char *body, size_t len,
		       long long now, struct webhook_outcome *out)
{
	/* the copy first; a fresh read when it will not do, and once more
	 * when the configuration changed again in between */
	sl_err e = SL_ERR_STALE;
	for (int try = 0; try < 3 && e == SL_ERR_STALE; try++)
		e = receive(deps, a, connection_id, signature, body, len, now, try > 0, out);
	return e;
}

sl_err webhook_replay(const struct deps *deps, struct arena *a, long long connection_id,
		      long long log_id, long long now, struct webhook_outcome *out)
{
	struct log_entry l;
	sl_err e = store_log_get(deps->db, a, connection_id, log_id, &l);
	if (e)
		return e;
	if (!l.payload || (strcmp(l.result, "skipped") && strcmp(l.result, "failed")))
		return SL_ERR_INVALID;
	bool found;
	e = load_and_process(deps, a, connection_id, (const unsigned char *)l.payload, l.payload_len, now,
			     PATH_REPLAY, out, &found);
	return found ? e : SL_ERR_INVALID;
}

sl_err webhook_ingest_trusted(const struct deps *deps, struct arena *a,
			      long long connection_id, const unsigned char *body, size_t len,
			      long long now, struct webhook_outcome *out)
{
	bool found;
	return load_and_process(deps, a, connection_id, body, len, now, PATH_CATCHUP, out, &found);
}

/* Puts a waiting event of a connection that is gone off for an hour. */
struct defer_job {
	long long connection_id;
	const char *event_id;
	long long next_try;
};

static sl_err defer_job(struct store *db, void *arg)
{
	struct defer_job *j = arg;
	return store_pending_defer(db, j->connection_id, j->event_id, j->next_try);
}

sl_err webhook_complete_waiting(const struct deps *deps, struct arena *a, long long now,
				size_t *completed)
{
	struct pending_event *p = NULL;
	size_t n = 0;
	*completed = 0;
	sl_err e = store_pending_due(deps->db, a, now, WEBHOOK_COMPLETE_BATCH, &p, &n);
	for (size_t i = 0; !e && i < n; i++) {
		struct connection_row c;
		struct webhook_outcome out;
		struct deps lent = *deps;   /* with the client of the connection's mode */
		if (!load(deps, a, p[i].connection_id, &c, &out)) {
			struct defer_job j = {p[i].connection_id, p[i].event_id, now + 3600};
			e = writer_run(deps->writer, defer_job, &j);
			continue;
		}
		if (c.livemode && deps->stripe_live)
			lent.stripe = deps->stripe_live;
		/* its lookups and fetches count against the connection's account's
		 * rate budget (the pacer reads this) and its 429s against it */
		metrics_set_connection(c.id);
		e = process(&lent, a, &c, (const unsigned char *)p[i].payload, p[i].payload_len, now,
			    PATH_COMPLETE, p[i].fetch_object, &out);
		if (e == SL_ERR_STALE)
			e = SL_OK;   /* the configuration changed meanwhile: still waiting, next round */
		else if (!e && strcmp(out.result, "waiting") != 0)
			(*completed)++;
	}
	metrics_set_connection(0);
	return e;
}
