/*
 * store.h - the only door to the database: SQLite (a file, the default) or
 * PostgreSQL (STRIPELINK_DATABASE_URL=postgresql://…), through db.h.
 *
 * One struct store is one database connection with its own cache of
 * prepared statements; it belongs to one thread at a time. Request threads
 * each own a connection for reads; every write runs on the writer thread's
 * connection (writer.h) or, in single-threaded tools, on the caller's.
 * Strings handed out are copied into the caller's arena.
 *
 * The schema is a numbered list of migrations applied at start (SQLite:
 * PRAGMA user_version; PostgreSQL: the table stripelink_schema, under an
 * advisory lock). All SQL lives in store.c's statement table.
 */
#ifndef STRIPELINK_STORE_H
#define STRIPELINK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "err.h"
#include "segment.h"

struct store;

/* True when target names an SQLite file (not a postgresql:// URL). */
bool store_is_file(const char *target);

/* Opens the database at path: an SQLite file (created when missing) in WAL
 * mode with synchronous=FULL, foreign keys on and a busy timeout, or the
 * PostgreSQL database a postgresql:// URL names. Returns NULL and sets
 * *err on failure. Caller closes with store_close(). */
struct store *store_open(const char *path, sl_err *err);

/* Finalizes every cached statement and closes. Accepts NULL. */
void store_close(struct store *db);

/* Applies every migration newer than the database's user_version, each in
 * its own transaction. */
sl_err store_migrate(struct store *db);

/* The schema version this build migrates to. */
int store_schema_version(void);

/* Transactions. store_begin starts BEGIN IMMEDIATE (we always write). */
/* store_begin for a writer group that touches only what keys name
 * (sorted, each once; see writer.h): PostgreSQL holds each key for the
 * transaction and lets other such groups run beside it; SQLite (one
 * writer) begins as store_begin. */
sl_err store_begin_keyed(struct store *db, const long long *keys, int n);
sl_err store_begin(struct store *db);
sl_err store_commit(struct store *db);
sl_err store_rollback(struct store *db);
/* A nested savepoint named "sp"; rollback_to undoes to it and releases. */
sl_err store_savepoint(struct store *db);
sl_err store_release(struct store *db);
sl_err store_rollback_to(struct store *db);

/* SL_OK when the database answers a trivial query. */
sl_err store_ping(struct store *db);

/* ---- users and sessions ---- */

struct user {
	long long id;
	const char *username;
	const char *password_hash;
};

sl_err store_user_count(struct store *db, long long *count);
/* SL_ERR_EXISTS when the username is taken (case-insensitively). */
sl_err store_user_create(struct store *db, const char *username,
			 const char *password_hash, long long now, long long *id);
/* SL_ERR_NOT_FOUND when no such user. */
sl_err store_user_find(struct store *db, struct arena *a, const char *username,
		       struct user *out);

struct session_row {
	long long user_id;
	const char *username;
	const char *csrf;
	long long expires_at;
};

sl_err store_session_create(struct store *db, const char *token_hash,
			    long long user_id, const char *csrf, long long now,
			    long long expires_at);
/* Finds a live session (expires_at > now). SL_ERR_NOT_FOUND otherwise. */
sl_err store_session_find(struct store *db, struct arena *a, const char *token_hash,
			  long long now, struct session_row *out);
sl_err store_session_delete(struct store *db, const char *token_hash);
sl_err store_session_purge(struct store *db, long long now);

/* Login throttling: failures counted per key (a username or an address). */
sl_err store_login_failures(struct store *db, const char *key,
			    long long *failures, long long *last_at);
sl_err store_login_failed(struct store *db, const char *key, long long now);
sl_err store_login_clear(struct store *db, const char *key);

/* ---- fields ---- */

struct field {
	long long id;
	const char *key;    /* email, first_name, last_name, phone, or a custom slug */
	const char *label;
	const char *type;   /* email, text, phone, number, date */
	bool builtin;
};

/* Lists every field, built-ins first, into an array from a. */
sl_err store_fields_list(struct store *db, struct arena *a, struct field **out,
			 size_t *n);
/* SL_ERR_EXISTS when key or label is taken. */
sl_err store_field_create(struct store *db, const char *key, const char *label,
			  const char *type, long long *id);
/* Deletes a custom field and its values; SL_ERR_NOT_FOUND for a missing or
 * built-in field. */
sl_err store_field_delete(struct store *db, long long id);
/* True when a field with this key exists. */
sl_err store_field_exists(struct store *db, const char *key, bool *exists);

/* ---- contacts ---- */

struct contact {
	long long id;
	const char *email;
	const char *first_name;   /* "" when unset */
	const char *last_name;
	const char *phone;
	const char *tags;         /* tag names joined by ';', sorted; "" for none */
	long long created_at;
	long long updated_at;
};

struct contact_value {
	long long field_id;
	const char *key;
	const char *label;
	const char *value;
};

struct contact_query {
	const char *text;   /* substring of email or name; NULL for all */
	const char *tag;    /* exact tag name; NULL for any */
	long long offset;
	long long limit;
};

/* Lists one page of contacts matching q, newest first, and the total. */
sl_err store_contacts_search(struct store *db, struct arena *a,
			     const struct contact_query *q, struct contact **out,
			     size_t *n, long long *total);
sl_err store_contact_get(struct store *db, struct arena *a, long long id,
			 struct contact *out);
/* Custom field values of one contact, in field order. */
sl_err store_contact_values(struct store *db, struct arena *a, long long id,
			    struct contact_value **out, size_t *n);
/* All tag names in use, sorted. */
sl_err store_tags_list(struct store *db, struct arena *a, const char ***out,
		       size_t *n);

/* Calls row() for every contact in id order with its custom values laid
 * out in the order of custom_ids (NULL where unset). values and strings are
 * valid only during the call. Stops and returns row()'s error if nonzero. */
typedef sl_err (*store_contact_row_fn)(void *ctx, const struct contact *c,
				       const char *const *values);
sl_err store_contacts_each(struct store *db, const long long *custom_ids,
			   size_t n_custom, store_contact_row_fn row, void *ctx);

/* Creates or finds the contact keyed by email_key (lower-cased email) and
 * sets *id; *created tells which. Display email is kept as given. */
sl_err store_contact_upsert(struct store *db, const char *email,
			    const char *email_key, long long now, long long *id,
			    bool *created);
/* The contact keyed by email_key; SL_ERR_NOT_FOUND when none. */
sl_err store_contact_find(struct store *db, const char *email_key, long long *id);
/* Sets one field by key on a contact: a built-in column or a custom value. */
sl_err store_contact_set(struct store *db, long long id, const char *key,
			 const char *value, long long now);
/* A field's new value (store_contact_set_all). */
struct contact_change {
	const char *key;
	const char *value;
};
/* Sets n fields as store_contact_set does each (a later one of the same
 * key wins); the names and the phone in one statement. */
sl_err store_contact_set_all(struct store *db, long long id, const struct contact_change *v, size_t n,
			     long long now);
/* Adds a tag (creating the tag) to a contact; adding twice is a no-op. */
sl_err store_contact_tag(struct store *db, long long id, const char *tag);
/* Adds n tags as store_contact_tag does each. added (may be NULL): bit i
 * set when tags[i] (i < 64) was not on the contact before; read only
 * while an automation is triggered by an added tag, else always 0. */
sl_err store_contact_tags(struct store *db, long long id, const char *const *tags, size_t n,
			  uint64_t *added);

/* ---- Stripe connections ---- */

struct connection_row {
	long long id;
	const char *status;          /* pending, connected, disconnected */
	const char *account_id;
	const char *account_name;
	bool livemode;
	const char *key_sealed;      /* NULL once disconnected */
	const char *key_hint;        /* sk_live_…4242 */
	const char *endpoint_id;     /* NULL when none */
	const char *secret_sealed;
	const char *previous_secret_sealed;
	long long previous_secret_until;
	bool create_contact, create_order, create_recurring;
	long long created_at, connected_at, disconnected_at;
	long long config_gen;        /* moves on with any change to the row or its resources */
};

sl_err store_connection_get(struct store *db, struct arena *a, long long id,
			    struct connection_row *out);
/* Every connection that is not pending, oldest first. */
sl_err store_connections_list(struct store *db, struct arena *a,
			      struct connection_row **out, size_t *n);
#define STORE_PENDING_STALE 300   /* seconds: a pending connect older than this died */

/* Starts connecting account_id in one mode (its live key and its test key
 * are two connections): reuses its disconnected connection of that mode
 * (keeping its mappings), or a pending one left by a connect that died more than
 * STORE_PENDING_STALE seconds ago, or inserts a new one, in state pending,
 * and sets *id. SL_ERR_EXISTS when the account is connected (or being
 * connected right now) in that mode. */
sl_err store_connection_begin(struct store *db, const char *account_id,
			      const char *account_name, bool livemode, long long now,
			      long long *id);
/* pending → connected, with the sealed key and webhook secret. */
sl_err store_connection_activate(struct store *db, long long id, const char *key_sealed,
				 const char *key_hint, const char *endpoint_id,
				 const char *secret_sealed, long long now);
/* Undoes store_connection_begin after a failed connect: a new connection
 * is deleted, a reused one goes back to disconnected. */
sl_err store_connection_abandon(struct store *db, long long id, long long now);
/* Forgets the key and secrets and marks the connection disconnected. */
sl_err store_connection_disconnect(struct store *db, long long id, long long now);
/* A new webhook endpoint and signing secret; the old secret stays valid
 * until previous_until (deliveries already on their way). */
sl_err store_connection_roll(struct store *db, long long id, const char *endpoint_id,
			     const char *secret_sealed, long long previous_until);
/* The three "Webhook events" switches. */
sl_err store_connection_switches(struct store *db, long long id, bool contact,
				 bool order, bool recurring);

struct resource_row {
	long long id;
	long long connection_id;
	const char *resource;        /* catalog slug: charge, customer, ... */
	const char *sync_type;       /* historical or new */
	const char *mapping;         /* JSON, NULL until mapped */
	long long created_at, updated_at;
};

sl_err store_resources_list(struct store *db, struct arena *a, long long connection_id,
			    struct resource_row **out, size_t *n);
sl_err store_resource_get(struct store *db, struct arena *a, long long connection_id,
			  const char *resource, struct resource_row *out);
/* Adds a resource to a connection or changes its sync type. */
sl_err store_resource_upsert(struct store *db, long long connection_id,
			     const char *resource, const char *sync_type, long long now);
sl_err store_resource_set_mapping(struct store *db, long long connection_id,
				  const char *resource, const char *mapping_json,
				  long long now);
sl_err store_resource_delete(struct store *db, long long connection_id, const char *resource);

/* ---- webhook events, the integration log, orders, recurring payments ---- */

/* The recorded result of an event id ("processed", "failed", ...), from the
 * arena; SL_ERR_NOT_FOUND when the event is new. */
/* What a writer job asks before it applies an event, asked in one round
 * trip: of the ids the event names (each may be NULL)... */
struct event_keys {
	const char *object_id;
	const char *customer_id;
	const char *charge_id;
	const char *email_key;
	const char *order_id;
	const char *subscription_id;
};

/* ...the event's recorded result, the object's applied version, and
 * whether events of the connection wait for the customer or the charge.
 * The same round trip answers ahead, for the rest of the job, the lookups
 * of the contact by email_key, the customer's link, and the order's and
 * the subscription's status (store_contact_find, store_customer_contact,
 * store_order_status, store_recurring_status ask nothing then). */
struct event_state {
	const char *result;      /* NULL: never received; in the caller's arena */
	long long version;       /* -1: none applied (or no object id) */
	bool customer_waits;
	bool charge_waits;
	long long config_gen;    /* the connection's (connection_row): -1 when it is gone */
};

sl_err store_event_state(struct store *db, struct arena *a, long long connection_id,
			 const char *event_id, const struct event_keys *k, struct event_state *out);
sl_err store_event_result(struct store *db, struct arena *a, long long connection_id,
			  const char *event_id, const char **result);
/* Records (or updates) an event id's result. */
sl_err store_event_put(struct store *db, long long connection_id, const char *event_id,
		       const char *result);

/* An event waiting for its customer's link (see webhook.c). */
struct pending_event {
	long long connection_id;
	const char *event_id;
	const char *payload;     /* the signed body as received */
	size_t payload_len;
	long long received_at;
	const char *fetch_object; /* a same-second tie: the Stripe object to fetch first;
				     NULL: waiting for the customer */
};
/* Records an event as waiting for customer_id; a second put of the same
 * event changes nothing. Writer only. */
sl_err store_pending_put(struct store *db, long long connection_id, const char *event_id,
			 const char *customer_id, const void *payload, size_t len,
			 long long received_at, long long next_try);
/* Forgets a waiting event (it was completed). Writer only. */
sl_err store_pending_delete(struct store *db, long long connection_id, const char *event_id);
/* Sets when a waiting event is next tried without its customer's link. */
sl_err store_pending_defer(struct store *db, long long connection_id, const char *event_id,
			   long long next_try);
/* At most max waiting events that are due (their customer is linked, or
 * next_try <= now), oldest first, into an arena array. */
sl_err store_pending_due(struct store *db, struct arena *a, long long now, int max,
			 struct pending_event **out, size_t *n);
/* At most max events of a connection waiting for customer_id, oldest first,
 * into an arena array. */
sl_err store_pending_for_customer(struct store *db, struct arena *a, long long connection_id,
				  const char *customer_id, int max, struct pending_event **out,
				  size_t *n);
/* Records an event as waiting for its object (object_id) to be fetched
 * from Stripe (a same-second tie); an event already waiting, for its
 * customer, now waits for the fetch instead. Writer only. */
sl_err store_pending_put_fetch(struct store *db, long long connection_id, const char *event_id,
			       const char *object_id, const void *payload, size_t len,
			       long long received_at, long long next_try);

struct log_entry {
	long long id;
	long long connection_id;
	long long at;
	const char *event_id;     /* "" when unknown */
	const char *type;
	const char *result;       /* processed, duplicate, skipped, ignored, rejected, failed */
	const char *reason;
	long long contact_id;     /* 0 when none */
	const char *payload;      /* raw event, kept for skipped/failed; NULL otherwise */
	size_t payload_len;
	bool replayable;          /* a payload is kept (lists do not load it) */
	const char *source;       /* webhook or catchup; NULL when adding means webhook */
};

sl_err store_log_add(struct store *db, const struct log_entry *l, long long *id);
/* One page of a connection's log, newest first, filtered by result and
 * type (NULL or "" for any), and the filtered total. */
sl_err store_log_list(struct store *db, struct arena *a, long long connection_id,
		      const char *result, const char *type, long long offset, long long limit,
		      struct log_entry **out, size_t *n, long long *total);
/* One entry with its payload. */
sl_err store_log_get(struct store *db, struct arena *a, long long connection_id, long long id,
		     struct log_entry *out);
/* Event types present in a connection's log, sorted. */
sl_err store_log_types(struct store *db, struct arena *a, long long connection_id,
		       const char ***out, size_t *n);

/* ---- catch-up from Stripe's event list, endpoint health ---- */

struct catchup_row {
	long long connection_id;
	long long cursor;            /* created of the newest event a finished sweep saw; 0: none */
	long long requested_at;      /* 0: no catch-up asked for */
	bool running;                /* a sweep is in progress (run_*) */
	long long run_gte, run_lte;
	const char *run_after;       /* "" before its first page */
	long long run_newest, run_found, run_new, run_skipped;
	long long last_at;           /* 0: never */
	long long last_found, last_new, last_skipped;
	const char *last_error;      /* "" when the last sweep went through */
	long long undelivered;       /* events Stripe could not deliver */
	bool undelivered_more;       /* more than were counted */
	long long undelivered_oldest;/* created of the oldest; 0: none */
	const char *endpoint_state;  /* unknown, enabled, disabled, deleted, key_refused,
					key_permission, unreachable */
	const char *endpoint_detail;
	long long endpoint_checked_at, health_requested_at;
};

/* A connection's catch-up state; a zero row (endpoint_state "unknown")
 * when it never had one. Strings from a. */
sl_err store_catchup_get(struct store *db, struct arena *a, long long connection_id,
			 struct catchup_row *out);
/* Asks the sync worker for a catch-up (Catch up now, a mended endpoint);
 * an earlier request keeps its time. */
sl_err store_catchup_request(struct store *db, long long connection_id, long long now);
/* Asks the sync worker to check the endpoint at Stripe soon. */
sl_err store_catchup_request_health(struct store *db, long long connection_id, long long now);
/* Starts a sweep over created in [gte, lte] and clears the request. */
sl_err store_catchup_begin(struct store *db, long long connection_id, long long gte, long long lte);
/* Commits one page of the sweep in progress: the cursor of the next page
 * and what it found. */
sl_err store_catchup_page(struct store *db, long long connection_id, const char *after,
			  long long newest, long long found, long long fresh, long long skipped);
/* Ends the sweep: the cursor moves to the newest event it saw. */
sl_err store_catchup_finish(struct store *db, long long connection_id, long long now);
/* Records why a sweep stopped; it stays in progress and resumes later. */
sl_err store_catchup_fail(struct store *db, long long connection_id, long long now,
			  const char *error);
/* What Stripe reports as not delivered (delivery_success=false). */
sl_err store_catchup_undelivered(struct store *db, long long connection_id, long long count,
				 bool more, long long oldest);
/* The endpoint's state as last seen at Stripe; clears the health request. */
sl_err store_catchup_endpoint(struct store *db, long long connection_id, const char *state,
			      const char *detail, long long now);
/* A new secret key for a connected connection (its mappings stay).
 * SL_ERR_NOT_FOUND when it is not connected. */
sl_err store_connection_set_key(struct store *db, long long id, const char *key_sealed,
				const char *key_hint);

/* The ordering guard: the version (event created time, or fetch time for
 * a historical page) last applied to a Stripe object; -1 when none. */
sl_err store_object_version(struct store *db, const char *object_id, long long *version);
/* Raises the object's version to at least version. */
sl_err store_object_version_put(struct store *db, const char *object_id, long long version);

/* The contact linked to a Stripe customer id; SL_ERR_NOT_FOUND when none. */
sl_err store_customer_contact(struct store *db, const char *customer_id, long long *contact_id);
sl_err store_customer_link(struct store *db, const char *customer_id, long long contact_id);

struct order_row {
	const char *stripe_id;
	long long connection_id;
	long long contact_id;
	long long amount, amount_refunded;
	const char *currency;
	const char *status;
	const char *created;      /* ISO-8601 UTC or NULL */
	long long updated_at;
};

struct recurring_row {
	const char *subscription_id;
	long long connection_id;
	long long contact_id;
	const char *status;
	const char *price_id, *product;
	bool has_amount;
	long long amount;
	const char *currency, *interval;
	long long interval_count;
	const char *current_period_end;
	const char *canceled_at;  /* ISO-8601 UTC; read only (store_recurring_canceled_at) */
	long long updated_at;
};

/* Creates or updates an order by its Stripe id. */
sl_err store_order_upsert(struct store *db, const struct order_row *o);
/* Creates or updates a recurring payment by its subscription id; absent
 * values keep what was stored. */
sl_err store_recurring_upsert(struct store *db, const struct recurring_row *r);

struct connection_counts {
	long long contacts;     /* contacts tagged stripe-integration, any connection */
	long long orders;
	long long recurring;
	long long deliveries;   /* integration log entries */
};
sl_err store_connection_counts(struct store *db, long long connection_id,
			       struct connection_counts *out);

/* A contact's orders and recurring payments (at most 100 each, newest first). */
sl_err store_contact_orders(struct store *db, struct arena *a, long long contact_id,
			    struct order_row **out, size_t *n);
sl_err store_contact_recurring(struct store *db, struct arena *a, long long contact_id,
			       struct recurring_row **out, size_t *n);

/* One amount per currency: net revenue (count = charges), or the monthly
 * amount of active recurring payments (count = them, unknown = those whose
 * amount or interval is not known, left out of amount). */
struct money_row {
	const char *currency;
	long long amount, count, unknown;
};

struct contact_summary {
	struct money_row *revenue;  /* charges − refunds − lost disputes, per currency */
	size_t n_revenue;
	long long orders;           /* every order of the contact */
	const char *first_order, *last_order; /* ISO-8601 created, "" when none */
	struct money_row *monthly;  /* active recurring payments, per currency */
	size_t n_monthly;
};

/* A contact's money story, from the arena. */
sl_err store_contact_summary(struct store *db, struct arena *a, long long contact_id,
			     struct contact_summary *out);

/* ---- refunds and disputes (ledger.h), deleted customers ---- */

struct refund_row {
	const char *refund_id;
	const char *charge_id;
	long long connection_id;
	long long amount;
	const char *currency, *status;
	int counts;               /* 1: part of the order's refunded amount */
	int status_rank;          /* ledger_refund_rank(status) */
	long long created;        /* the refund's own created; 0: unknown */
	long long version;        /* event created (or fetch time) its status is from */
	long long updated_at;
};

struct dispute_row {
	const char *dispute_id;
	const char *charge_id;
	long long connection_id;
	long long amount;
	const char *currency, *status, *reason;
	int lost;                 /* 1: counts against revenue */
	int status_rank;          /* ledger_dispute_rank(status) */
	long long created, version, updated_at;
};

/* Records a refund, or its new status when r->version is newer than the
 * stored one (on a tie: when its status_rank is at least the stored one). */
sl_err store_refund_put(struct store *db, const struct refund_row *r);
/* Records a dispute, or its new status (the rule of store_refund_put). */
sl_err store_dispute_put(struct store *db, const struct dispute_row *d);
/* A dispute's stored status, copied into out; SL_ERR_NOT_FOUND when new. */
sl_err store_dispute_status(struct store *db, const char *dispute_id, char *out, size_t cap);
/* What a charge event said its refunded amount was, at version at (kept
 * only when at is not older than what is stored). */
sl_err store_order_reported(struct store *db, const char *charge_id, long long refunded,
			    long long at);

/* One charge's order and ledger, as ledger_settle() needs them. */
struct ledger_totals {
	long long amount;         /* the order's amount */
	long long reported;       /* the charge's amount_refunded, as last reported */
	long long counted;        /* refunds that count now */
	long long included;       /* refunds that report included */
	long long lost;           /* lost disputes */
};
/* The totals of the order whose Stripe id is charge_id, its status copied
 * into status; SL_ERR_NOT_FOUND when there is no such order. */
sl_err store_ledger_totals(struct store *db, const char *charge_id, struct ledger_totals *out,
			   char *status, size_t cap);
/* Writes an order's refunded and lost amounts and status. */
sl_err store_order_settle(struct store *db, const char *charge_id, long long refunded,
			  long long lost, const char *status, long long now);
/* The contact of the order whose Stripe id is stripe_id (0 when it has
 * none); SL_ERR_NOT_FOUND when there is no such order. */
sl_err store_order_contact(struct store *db, const char *stripe_id, long long *contact_id);

/* Marks a Stripe customer's link deleted at Stripe at time at (the first
 * time counts); the link and its contact stay. */
sl_err store_customer_deleted(struct store *db, const char *customer_id, long long at);

struct customer_link {
	const char *customer_id;
	long long deleted_at;     /* 0: not deleted */
};
/* A contact's Stripe customers (at most 100), from the arena. */
sl_err store_contact_links(struct store *db, struct arena *a, long long contact_id,
			   struct customer_link **out, size_t *n);
/* The disputes of a contact's orders (at most 200, oldest first; charge_id,
 * dispute_id, status, reason, amount, currency filled), from the arena. */
sl_err store_contact_disputes(struct store *db, struct arena *a, long long contact_id,
			      struct dispute_row **out, size_t *n);
/* Sets a recurring payment's cancel date (ISO-8601 UTC). */
sl_err store_recurring_canceled_at(struct store *db, const char *subscription_id, const char *when);

/* ---- historical sync jobs ---- */

struct sync_job_row {
	long long id, connection_id;
	const char *resource;
	const char *state;        /* queued, running, paused, done, failed, cancelled */
	const char *error;        /* why it failed or was cancelled; "" otherwise */
	long long objects, pages, contacts_created, contacts_updated, skipped;
	long long queued_at, started_at, finished_at, elapsed_ms;
};

struct sync_window_row {
	long long id, job_id;
	long long created_gte, created_lt;
	const char *cursor;       /* "" before the first page */
	long long oldest_seen;    /* created of the last object synced */
	bool done;
};

/* Queues a job; SL_ERR_EXISTS (with *id set) when one is already queued,
 * running or paused for that resource. */
sl_err store_job_queue(struct store *db, long long connection_id, const char *resource,
		       long long now, long long *id);
sl_err store_job_get(struct store *db, struct arena *a, long long id, struct sync_job_row *out);
/* How many jobs a connection's resource ever had. */
sl_err store_jobs_count(struct store *db, long long connection_id, const char *resource,
			long long *count);
/* A connection's 20 newest jobs. */
sl_err store_jobs_list(struct store *db, struct arena *a, long long connection_id,
		       struct sync_job_row **out, size_t *n);
/* The job the worker should run: a running one (resumed after a crash)
 * first, then the oldest queued one. SL_ERR_NOT_FOUND when none. */
sl_err store_job_next(struct store *db, struct arena *a, struct sync_job_row *out);
/* A job the worker may run, with its connection's Stripe account. */
struct sync_job_ready {
	long long id;
	const char *account_id;
	bool livemode;
};
/* Up to max jobs the worker may run, in store_job_next's order (running
 * ones first, then the oldest queued), each with its connection's account
 * and mode (a worker runs jobs of different accounts side by side). */
sl_err store_jobs_ready(struct store *db, struct arena *a, size_t max, struct sync_job_ready **out,
			size_t *n);
sl_err store_job_state(struct store *db, struct arena *a, long long id, const char **state);
/* queued/running → running. SL_ERR_NOT_FOUND when paused or cancelled meanwhile. */
sl_err store_job_start(struct store *db, long long id, long long now);
/* queued or running → state (done, failed, cancelled...), adding elapsed
 * time. */
sl_err store_job_finish(struct store *db, long long id, const char *state, const char *error,
			long long now, long long elapsed_ms);
/* Adds one page's counters. */
sl_err store_job_page(struct store *db, long long id, long long objects, long long created,
		      long long updated, long long skipped, long long elapsed_ms);
/* Cancels a connection's unfinished and failed jobs (disconnect). */
sl_err store_jobs_cancel_connection(struct store *db, long long connection_id, long long now,
				    const char *why);
/* Moves a job to to_state if its state is one of from_states_json (a JSON
 * array of states); SL_ERR_INVALID otherwise. */
sl_err store_job_control(struct store *db, long long id, long long connection_id,
			 const char *to_state, const char *from_states_json, long long now);
sl_err store_window_add(struct store *db, long long job_id, long long gte, long long lt,
			long long *id);
/* Splits a window at mid: it keeps [mid, lt), a new window (*new_id) gets
 * [its old gte, mid). SL_ERR_INVALID when mid is not inside it. */
sl_err store_window_split(struct store *db, long long window_id, long long job_id,
			  long long mid, long long *new_id);
sl_err store_windows_list(struct store *db, struct arena *a, long long job_id,
			  struct sync_window_row **out, size_t *n);
/* A window's lower bound as the database has it (in the caller's
 * transaction: a split not committed is not seen). SL_ERR_NOT_FOUND when
 * there is no such window. */
sl_err store_window_gte(struct store *db, long long window_id, long long *gte);
/* Commits a window's cursor after a page (in the page's transaction). */
sl_err store_window_advance(struct store *db, long long window_id, const char *cursor,
			    long long oldest_seen, bool finished, long long lease_until);
/* How much of the job's time span is covered (0..1); *known false before
 * the windows exist. */
sl_err store_job_progress(struct store *db, long long job_id, double *fraction, bool *known);


/* Retention: what store_prune removes. */
enum store_prune {
	STORE_PRUNE_REJECTED,   /* rejected deliveries in the integration log */
	STORE_PRUNE_LOG,        /* any integration log entry */
	STORE_PRUNE_PAYLOADS,   /* stored event payloads (the entry stays) */
	STORE_PRUNE_LOGINS,     /* login attempt counters */
	STORE_PRUNE__MAX
};
/* Removes at most limit rows of that kind older than before (unix time);
 * *changed says how many. Call inside the writer. */
sl_err store_prune(struct store *db, enum store_prune what, long long before, int limit,
		   int *changed);
/* ---- segments ---- */

struct segment_row {
	long long id;
	const char *name;
	const char *definition;   /* segment_to_json() */
	long long created_at;
};
/* Saves a new segment; SL_ERR_EXISTS when the name is taken. */
sl_err store_segment_create(struct store *db, const char *name, const char *definition,
			    long long now, long long *id);
/* Renames / redefines a segment; SL_ERR_NOT_FOUND, SL_ERR_EXISTS. */
sl_err store_segment_update(struct store *db, long long id, const char *name,
			    const char *definition);
sl_err store_segment_delete(struct store *db, long long id);
/* One segment, strings arena-owned; SL_ERR_NOT_FOUND when none. */
sl_err store_segment_get(struct store *db, struct arena *a, long long id, struct segment_row *out);
/* Every segment by name, arena-owned. */
sl_err store_segments_list(struct store *db, struct arena *a, struct segment_row **out, size_t *n);

/* How many contacts match def at time now: one statement. */
sl_err store_segment_count(struct store *db, struct arena *a, const struct segment_def *def,
			   long long now, long long *count);
/* The matching contacts, newest first, limit from offset (arena-owned). */
sl_err store_segment_contacts(struct store *db, struct arena *a, const struct segment_def *def,
			      long long now, long long offset, long long limit,
			      struct contact **out, size_t *n);
/* The ids of every matching contact, ascending (arena-owned). */
sl_err store_segment_ids(struct store *db, struct arena *a, const struct segment_def *def,
			 long long now, long long **out, size_t *n);
/* Whether contact_id is in saved segment segment_id at time now: what an
 * automation asks before it acts. SL_ERR_NOT_FOUND when no such segment,
 * SL_ERR_INVALID when its saved definition no longer compiles. */
sl_err store_segment_contains(struct store *db, long long segment_id, long long contact_id,
			      long long now, bool *out);
/* ---- automations and the outbox of signed webhooks ---- */

/* store_contact_tag, telling whether the tag was new on the contact
 * (read only while a tag_added automation is enabled, else false). */
sl_err store_contact_tag_added(struct store *db, long long id, const char *tag, bool *added);
/* Removes a tag from a contact; *removed (may be NULL) says whether it had it. */
sl_err store_contact_untag(struct store *db, long long id, const char *tag, bool *removed);
/* The stored status of an order / a recurring payment, copied into out;
 * SL_ERR_NOT_FOUND when there is none yet. */
sl_err store_order_status(struct store *db, const char *stripe_id, char *out, size_t cap);
sl_err store_recurring_status(struct store *db, const char *subscription_id, char *out, size_t cap);

struct automation_row {
	long long id;                /* 0 when new */
	const char *name;
	const char *trigger;         /* automation.h's trigger slug */
	const char *trigger_tag;     /* "" unless trigger is tag_added */
	long long segment_id;        /* 0: every contact */
	bool enabled, history;
	const char *secret_sealed;   /* NULL when none */
	long long runs, failures, last_run_at, created_at;
	struct automation_action *actions;   /* store_automations_for only; else NULL */
	size_t n_actions;
};

struct automation_action {
	int position;
	const char *kind;            /* add_tag, remove_tag, set_field, webhook */
	const char *name;            /* the tag, the field key or the URL */
	const char *value;           /* set_field's value; "" otherwise */
};

struct automation_run {
	long long id, at, contact_id;
	const char *source;          /* webhook, history */
	const char *detail;
};

/* Inserts (r->id == 0, with r->secret_sealed) or updates an automation and
 * replaces its actions with acts[0..n). SL_ERR_NOT_FOUND for a missing id. */
sl_err store_automation_save(struct store *db, const struct automation_row *r,
			     const struct automation_action *acts, size_t n, long long now,
			     long long *id);
sl_err store_automation_delete(struct store *db, long long id);
sl_err store_automation_enable(struct store *db, long long id, bool enabled);
sl_err store_automation_secret(struct store *db, long long id, const char *secret_sealed);
sl_err store_automation_get(struct store *db, struct arena *a, long long id,
			    struct automation_row *out);
sl_err store_automations_list(struct store *db, struct arena *a, struct automation_row **out,
			      size_t *n);
/* Enabled automations with this trigger (and this trigger tag unless tag
 * is NULL), in id order, each with its actions (one query). */
sl_err store_automations_for(struct store *db, struct arena *a, const char *trigger,
			     const char *tag, struct automation_row **out, size_t *n);
sl_err store_automation_actions(struct store *db, struct arena *a, long long id,
				struct automation_action **out, size_t *n);
/* Records one run and counts it on the automation. */
sl_err store_automation_run(struct store *db, long long automation_id, long long at,
			    long long contact_id, const char *source, const char *detail);
/* The 50 newest runs. */
sl_err store_automation_runs(struct store *db, struct arena *a, long long id,
			     struct automation_run **out, size_t *n);

struct outbox_row {
	long long id, automation_id;
	const char *url, *body, *idempotency_key;
	bool test;
	const char *state;           /* pending, delivered, failed */
	long long attempts;
	long long next_at, give_up_at, created_at;   /* unix ms */
	/* read only */
	const char *secret_sealed;   /* the automation's */
	long long last_status;       /* -1 before the first attempt */
	long long last_ms;
	const char *last_note;       /* the last attempt's error or response excerpt */
};

struct outbox_attempt {
	long long id, outbox_id, at;  /* at: unix ms */
	long long status, ms;
	const char *excerpt, *error;
};

/* Queues a delivery (state pending, due at created_at). Nothing is read
 * back: on PostgreSQL the insert waits in the transaction's pipeline. */
sl_err store_outbox_add(struct store *db, const struct outbox_row *o);
/* Claims for owner (a node) for lease_ms, and returns, up to max pending
 * deliveries due at now_ms that no live claim holds, the earliest first. */
/* Ends owner's claims on deliveries it did not get to (after its batch). */
sl_err store_outbox_unclaim(struct store *db, const char *owner);
sl_err store_outbox_due(struct store *db, struct arena *a, long long now_ms, size_t max,
			const char *owner, long long lease_ms, struct outbox_row **out, size_t *n);
/* Logs an attempt and moves the delivery to state (pending again with
 * next_at, delivered or failed, which counts a failure). */
sl_err store_outbox_attempt(struct store *db, long long outbox_id, const struct outbox_attempt *t,
			    const char *state, long long next_at);
/* The 50 newest deliveries of an automation, and its 200 newest attempts. */
sl_err store_outbox_list(struct store *db, struct arena *a, long long automation_id,
			 struct outbox_row **out, size_t *n);
sl_err store_outbox_attempts(struct store *db, struct arena *a, long long automation_id,
			     struct outbox_attempt **out, size_t *n);
/* Queues a delivery again (same body and Idempotency-Key). */
sl_err store_outbox_resend(struct store *db, long long outbox_id, long long automation_id,
			   long long now_ms, long long give_up_at);
/* Copies the database at src_path (while others read and write it) into a
 * new database file at dest_path: one consistent snapshot, copied
 * pages_per_step pages at a time (<= 0: all at once). The copy has no
 * -wal (rollback journal mode). The caller owns dest_path and removes it
 * on failure. */
sl_err store_backup(const char *src_path, const char *dest_path, int pages_per_step);

/* ---- several nodes on one database ---- */

/* Adds a job's first window unless it has one (two nodes starting the job
 * at once add one). Writer only. */
sl_err store_window_first(struct store *db, long long job_id, long long gte, long long lt);
/* Ends the leases owner holds on a job's windows (its run starts over). */
sl_err store_windows_release(struct store *db, long long job_id, const char *owner);
/* Claims for owner until `until` a not-done window of the job that nobody
 * holds at now. SL_ERR_NOT_FOUND when there is none. Writer only. */
sl_err store_window_claim(struct store *db, struct arena *a, long long job_id, const char *owner,
			  long long now, long long until, struct sync_window_row *out);
/* Splits the not-done window with the widest unsynced part (at least
 * min_width seconds), whoever holds it: its older half becomes a new
 * window leased to owner, into out. SL_ERR_NOT_FOUND when none is wide
 * enough. Writer only. */
sl_err store_window_split_widest(struct store *db, struct arena *a, long long job_id, long long min_width,
				 const char *owner, long long until, struct sync_window_row *out);
/* True when owner holds the window's lease (checked before a page commits). */
sl_err store_window_mine(struct store *db, long long window_id, const char *owner, bool *mine);
/* How many of the job's not-done windows another owner holds at now. */
sl_err store_windows_held(struct store *db, long long job_id, long long now, const char *owner,
			  long long *count);
/* Reserves the next request slot (unix µs) of the shared budget key, the
 * slots interval_us apart: every node's requests together keep the rate. */
sl_err store_rate_reserve(struct store *db, const char *key, long long now_us, long long interval_us,
			  long long *slot);
/* Claims a connection's catch-up for owner until `until`; *claimed is
 * false while another owner's lease runs. */
sl_err store_catchup_claim(struct store *db, long long connection_id, const char *owner, long long now,
			   long long until, bool *claimed);
sl_err store_catchup_release(struct store *db, long long connection_id, const char *owner);
/* Setup tokens (hashes) any node accepts until the first admin exists. */
sl_err store_setup_token_put(struct store *db, const char *token_hash, long long now);
sl_err store_setup_token_valid(struct store *db, const char *token_hash, bool *valid);
sl_err store_setup_tokens_clear(struct store *db);

#endif
