/*
 * catchup.c - the catch-up from Stripe's event list and the endpoint
 * check; see catchup.h.
 */
#include "catchup.h"

#include "metrics.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "catalog.h"
#include "crypto.h"
#include "deps.h"
#include "ratelimit.h"
#include "store.h"
#include "stripe.h"
#include "webhook.h"
#include "writer.h"

/* ---- writer jobs ---- */

struct progress_job {
	long long connection_id, now;
	long long gte, lte;                      /* begin */
	const char *after;                       /* page */
	long long newest, found, fresh, skipped; /* page */
	const char *error;                       /* fail */
	long long count, oldest;                 /* undelivered */
	bool more;
	const char *state, *detail;              /* endpoint */
	bool ask_catchup;                        /* endpoint: ask for a catch-up too */
	bool key_works;                          /* finish: a refused key is refused no more */
};

static sl_err begin_job(struct store *db, void *arg)
{
	struct progress_job *j = arg;
	return store_catchup_begin(db, j->connection_id, j->gte, j->lte);
}

static sl_err page_job(struct store *db, void *arg)
{
	struct progress_job *j = arg;
	return store_catchup_page(db, j->connection_id, j->after, j->newest, j->found, j->fresh,
				  j->skipped);
}

static sl_err finish_job(struct store *db, void *arg)
{
	struct progress_job *j = arg;
	sl_err e = store_catchup_finish(db, j->connection_id, j->now);
	if (!e && j->key_works)
		e = store_catchup_endpoint(db, j->connection_id, "unknown", "", 0);
	if (!e && j->key_works)
		e = store_catchup_request_health(db, j->connection_id, j->now);
	return e;
}

static sl_err fail_job(struct store *db, void *arg)
{
	struct progress_job *j = arg;
	sl_err e = store_catchup_fail(db, j->connection_id, j->now, j->error);
	if (!e && j->state)
		e = store_catchup_endpoint(db, j->connection_id, j->state, j->detail, j->now);
	return e;
}

static sl_err undelivered_job(struct store *db, void *arg)
{
	struct progress_job *j = arg;
	return store_catchup_undelivered(db, j->connection_id, j->count, j->more, j->oldest);
}

static sl_err endpoint_job(struct store *db, void *arg)
{
	struct progress_job *j = arg;
	sl_err e = store_catchup_endpoint(db, j->connection_id, j->state, j->detail, j->now);
	if (!e && j->ask_catchup)
		e = store_catchup_request(db, j->connection_id, j->now);
	return e;
}

/* ---- helpers ---- */

static void pace(void *limiter)
{
	if (limiter)
		ratelimit_acquire(limiter);
}

void catchup_permission_named(const char *message, char *out, unsigned n)
{
	const char *p = message ? strstr(message, "Having the '") : NULL;
	out[0] = '\0';
	if (!p)
		return;
	p += strlen("Having the '");
	const char *end = strchr(p, '\'');
	if (end && (unsigned)(end - p) < n)
		snprintf(out, n, "%.*s", (int)(end - p), p);
}

/* The state a refused request puts the endpoint in, with its detail (from
 * a), or NULL when the refusal says nothing about the key or endpoint. */
static const char *refusal_state(sl_err e, const struct stripe_error *err, struct arena *a,
				 const char **detail)
{
	char perm[96];
	switch (e) {
	case SL_ERR_AUTH:
		*detail = arena_strdup(a, err->message);
		return "key_refused";
	case SL_ERR_FORBIDDEN:
		catchup_permission_named(err->message, perm, sizeof perm);
		*detail = arena_strdup(a, perm[0] ? perm : err->message);
		return "key_permission";
	default:
		*detail = NULL;
		return NULL;
	}
}

static const char *failure_words(sl_err e, const struct stripe_error *err, struct arena *a)
{
	switch (e) {
	case SL_ERR_AUTH:
		return "Stripe no longer accepts this connection's key.";
	case SL_ERR_FORBIDDEN:
		return arena_printf(a, "The restricted key may not list events (%s).", err->message);
	case SL_ERR_NETWORK:
	case SL_ERR_TIMEOUT:
		return arena_printf(a, "Stripe could not be reached (%s); it is tried again later.",
				    err->message);
	default:
		return arena_printf(a, "Stripe refused the event list (%s); it is tried again later.",
				    err->message[0] ? err->message : err_name(e));
	}
}

/* One connected connection with its key, for a run. */
struct target {
	struct connection_row c;
	char *key;                      /* wipe and free */
	struct stripe_client *client;   /* paced by the connection's account and mode */
};

static sl_err target_open(const struct catchup_env *env, struct store *db, struct arena *a,
			  long long id, struct target *t)
{
	memset(t, 0, sizeof *t);
	sl_err e = store_connection_get(db, a, id, &t->c);
	if (e)
		return e;
	if (strcmp(t->c.status, "connected") != 0 || !t->c.key_sealed)
		return SL_ERR_NOT_FOUND;
	if (!(t->key = crypto_open(env->secret_key, t->c.key_sealed)))
		return SL_ERR_INVALID;
	struct stripe_options o = {5000, 30000, 4, 8000, pace,
				   ratelimits_for(env->limits, t->c.account_id, t->c.livemode)};
	if (!(t->client = stripe_client_new(env->stripe_api, &o)))
		return SL_ERR_NOMEM;
	return SL_OK;
}

static void target_close(struct target *t)
{
	if (t->key) {
		memset(t->key, 0, strlen(t->key));
		free(t->key);
	}
	stripe_client_free(t->client);
	memset(t, 0, sizeof *t);
}

/* The event-list query for the catalogue's event types. */
static void event_query(struct stripe_params *q)
{
	stripe_params_add_int(q, "limit", CATCHUP_PAGE_SIZE);
	for (int k = 0; k < EVENT__MAX; k++)
		stripe_params_add(q, "types[]", catalog_event((enum event_kind)k)->type);
}

static long long int_of(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
		       ? json_object_get_int64(v) : 0;
}

static const char *string_of(json_object *o, const char *key)
{
	json_object *v;
	return o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v) : NULL;
}

/* Records a refused request: why, and the endpoint state it implies. */
static sl_err record_failure(const struct catchup_env *env, struct arena *a, long long id,
			     sl_err why, const struct stripe_error *err)
{
	struct progress_job j = {.connection_id = id, .now = (long long)time(NULL)};
	j.error = failure_words(why, err, a);
	j.state = refusal_state(why, err, a, &j.detail);
	fprintf(stderr, "stripelink-sync: catch-up of connection %lld stopped: %s\n", id, j.error);
	return writer_run(env->writer, fail_job, &j);
}

/* True when the endpoint's enabled_events has type (or "*"). */
static bool endpoint_has(json_object *events, const char *type)
{
	size_t n = json_object_is_type(events, json_type_array) ? json_object_array_length(events) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *have = json_object_get_string(json_object_array_get_idx(events, i));
		if (have && (strcmp(have, type) == 0 || strcmp(have, "*") == 0))
			return true;
	}
	return false;
}

/* An endpoint made by an older version lacks the event types added since
 * (refunds, disputes, deleted customers): asks Stripe to send them too.
 * A refusal is only logged; the catch-up lists those types regardless. */
static void subscribe_missing(struct target *t, const char *path, json_object *ep)
{
	json_object *events = NULL;
	json_object_object_get_ex(ep, "enabled_events", &events);
	int missing = 0;
	for (int k = 0; k < EVENT__MAX; k++)
		missing += !endpoint_has(events, catalog_event((enum event_kind)k)->type);
	if (!missing || !events)
		return;
	struct stripe_params p = {BUF_INIT};
	for (int k = 0; k < EVENT__MAX; k++)
		stripe_params_add(&p, "enabled_events[]", catalog_event((enum event_kind)k)->type);
	json_object *updated = NULL;
	struct stripe_error err;
	sl_err e = stripe_request(t->client, t->key, STRIPE_POST, path, &p, &updated, &err);
	stripe_params_free(&p);
	json_object_put(updated);
	if (e)
		fprintf(stderr, "stripelink-sync: connection %lld: subscribing the webhook endpoint to %d "
				"more event types failed: %s\n", t->c.id, missing, err.message);
	else
		fprintf(stderr, "stripelink-sync: connection %lld: webhook endpoint now subscribed to %d "
				"more event types\n", t->c.id, missing);
}

/* Counts what Stripe reports as not delivered in the last 30 days (at most
 * CATCHUP_UNDELIVERED_PAGES pages) and records it with the oldest. */
static sl_err count_undelivered(const struct catchup_env *env, struct arena *a, struct target *t)
{
	struct progress_job j = {.connection_id = t->c.id};
	char after[128] = "";
	long long now = (long long)time(NULL);
	for (int page = 0; page < CATCHUP_UNDELIVERED_PAGES; page++) {
		struct stripe_params q = {BUF_INIT};
		event_query(&q);
		stripe_params_add(&q, "delivery_success", "false");
		stripe_params_add_int(&q, "created[gte]", now - CATCHUP_EVENT_RETENTION);
		if (after[0])
			stripe_params_add(&q, "starting_after", after);
		json_object *list = NULL, *data = NULL, *more = NULL;
		struct stripe_error err;
		sl_err e = stripe_request(t->client, t->key, STRIPE_GET, "/v1/events", &q, &list, &err);
		stripe_params_free(&q);
		if (e) {
			/* the sweep itself went through: only the count is missing */
			fprintf(stderr, "stripelink-sync: connection %lld: counting undelivered events failed: %s\n",
				t->c.id, err.message);
			return SL_OK;
		}
		json_object_object_get_ex(list, "data", &data);
		size_t n = json_object_is_type(data, json_type_array) ? json_object_array_length(data) : 0;
		for (size_t i = 0; i < n; i++) {
			json_object *ev = json_object_array_get_idx(data, i);
			const char *id = string_of(ev, "id");
			long long created = int_of(ev, "created");
			j.count++;
			if (created && (!j.oldest || created < j.oldest))
				j.oldest = created;
			if (id)
				snprintf(after, sizeof after, "%s", id);
		}
		j.more = json_object_object_get_ex(list, "has_more", &more) && json_object_get_boolean(more);
		json_object_put(list);
		if (!j.more || n == 0)
			break;
	}
	return writer_run(env->writer, undelivered_job, &j);
}

/* Ingests one listed event; sets *fresh and *skipped. SL_ERR_BUSY when it could
 * not be applied now (the sweep stops and resumes from the page before). */
static sl_err ingest_one(const struct catchup_env *env, struct store *db, struct arena *a,
			 struct target *t, json_object *ev, bool *fresh, bool *skipped)
{
	const char *id = string_of(ev, "id");
	const char *prior = NULL;
	*fresh = *skipped = false;
	if (id && store_event_result(db, a, t->c.id, id, &prior) == SL_OK && strcmp(prior, "failed") != 0)
		return SL_OK;   /* recorded already: nothing to do, nothing to log */
	size_t len = 0;
	const char *body = json_object_to_json_string_length(ev, JSON_C_TO_STRING_PLAIN, &len);
	struct deps deps = {.db = db, .writer = env->writer, .stripe = t->client,
			    .secret_key = env->secret_key};
	struct webhook_outcome out;
	sl_err e = webhook_ingest_trusted(&deps, a, t->c.id, (const unsigned char *)body, len,
					  (long long)time(NULL), &out);
	if (e)
		return e;
	if (out.status >= 500)
		return SL_ERR_BUSY;
	if (out.status == 404 || out.status == 410)
		return SL_ERR_NOT_FOUND;   /* disconnected meanwhile */
	*fresh = strcmp(out.result, "duplicate") != 0;
	*skipped = strcmp(out.result, "skipped") == 0;
	return SL_OK;
}

/* The key was refused (401) or lacked a permission (403) when last used. */
static bool key_refused(const struct catchup_row *r)
{
	return strcmp(r->endpoint_state, "key_refused") == 0 ||
	       strcmp(r->endpoint_state, "key_permission") == 0;
}

sl_err catchup_run(const struct catchup_env *env, long long connection_id,
		   struct catchup_summary *out)
{
	struct arena *a = arena_new();
	struct target t = {0};
	struct catchup_summary sum = {0};
	sl_err e;
	struct store *db = store_open(env->db_path, &e);
	if (!db)
		goto out;
	metrics_set_connection(connection_id);
	if ((e = target_open(env, db, a, connection_id, &t))) {
		if (e == SL_ERR_NOT_FOUND)
			e = SL_OK;   /* disconnected meanwhile */
		goto out;
	}
	struct catchup_row row;
	if ((e = store_catchup_get(db, a, connection_id, &row)))
		goto out;
	/* a sweep a stop left midway resumes; one that failed, or one asked
	 * for anew, starts over from the cursor (which it never moved) */
	bool resume = row.running && !row.last_error[0] && !row.requested_at &&
		      row.run_lte >= t.c.connected_at;   /* not one from before a reconnect */
	long long gte = row.run_gte, lte = row.run_lte;
	char after[128];
	snprintf(after, sizeof after, "%s", resume ? row.run_after : "");
	if (!resume) {
		/* from the newest event seen, or (first, or connected again
		 * since) from the connection: what came before is history */
		long long from = row.cursor > t.c.connected_at ? row.cursor : t.c.connected_at;
		struct progress_job b = {.connection_id = connection_id};
		b.gte = from > env->overlap ? from - env->overlap : 0;
		b.lte = (long long)time(NULL);
		if ((e = writer_run(env->writer, begin_job, &b)))
			goto out;
		gte = b.gte;
		lte = b.lte;
	}
	struct arena *page_arena = arena_new();
	for (;;) {
		if (*env->stop) {
			arena_free(page_arena);
			goto out;   /* stays in progress: resumed next time */
		}
		arena_reset(page_arena);
		struct stripe_params q = {BUF_INIT};
		event_query(&q);
		stripe_params_add_int(&q, "created[gte]", gte);
		stripe_params_add_int(&q, "created[lte]", lte);
		if (after[0])
			stripe_params_add(&q, "starting_after", after);
		json_object *list = NULL, *data = NULL, *more = NULL;
		struct stripe_error err;
		sl_err se = stripe_request(t.client, t.key, STRIPE_GET, "/v1/events", &q, &list, &err);
		stripe_params_free(&q);
		if (se) {
			arena_free(page_arena);
			e = record_failure(env, a, connection_id, se, &err);
			goto out;
		}
		json_object_object_get_ex(list, "data", &data);
		bool has_more = json_object_object_get_ex(list, "has_more", &more) &&
				json_object_get_boolean(more);
		size_t n = json_object_is_type(data, json_type_array) ? json_object_array_length(data) : 0;
		struct progress_job p = {.connection_id = connection_id};
		const char *last = NULL;
		sl_err ie = SL_OK;
		for (size_t i = 0; i < n && !ie; i++) {
			json_object *ev = json_object_array_get_idx(data, i);
			bool fresh, skipped;
			if ((ie = ingest_one(env, db, page_arena, &t, ev, &fresh, &skipped)))
				break;
			long long created = int_of(ev, "created");
			if (created > p.newest)
				p.newest = created;
			p.found++;
			p.fresh += fresh;
			p.skipped += skipped;
			last = string_of(ev, "id");
		}
		if (last)
			snprintf(after, sizeof after, "%s", last);
		p.after = after;
		json_object_put(list);
		if (ie == SL_ERR_NOT_FOUND) {
			arena_free(page_arena);
			goto out;
		}
		if (ie) {
			arena_free(page_arena);
			/* the page's events committed so far are recorded; the sweep
			 * resumes from the page before and skips them */
			struct progress_job f = {.connection_id = connection_id, .now = (long long)time(NULL),
						 .error = ie == SL_ERR_BUSY
							  ? "An event could not be applied yet (see the integration log); "
							    "it is tried again later."
							  : arena_printf(a, "Saving failed (%s); it is tried again later.",
									 err_name(ie))};
			e = writer_run(env->writer, fail_job, &f);
			goto out;
		}
		if (n && (e = writer_run(env->writer, page_job, &p))) {
			arena_free(page_arena);
			goto out;
		}
		sum.pages++;
		sum.found += p.found;
		sum.fresh += p.fresh;
		sum.skipped += p.skipped;
		if (!has_more || n == 0)
			break;
	}
	arena_free(page_arena);
	if ((e = count_undelivered(env, a, &t)))
		goto out;
	struct progress_job fin = {.connection_id = connection_id, .now = (long long)time(NULL),
				   .key_works = key_refused(&row)};
	if ((e = writer_run(env->writer, finish_job, &fin)))
		goto out;
	fprintf(stderr, "stripelink-sync: catch-up of connection %lld: %lld events listed in %lld pages, "
			"%lld new, %lld skipped\n", connection_id, sum.found, sum.pages, sum.fresh, sum.skipped);
out:
	if (out)
		*out = sum;
	target_close(&t);
	store_close(db);
	arena_free(a);
	return e;
}

sl_err catchup_check_endpoint(const struct catchup_env *env, long long connection_id)
{
	struct arena *a = arena_new();
	struct target t = {0};
	sl_err e;
	struct store *db = store_open(env->db_path, &e);
	if (!db)
		goto out;
	if ((e = target_open(env, db, a, connection_id, &t))) {
		if (e == SL_ERR_NOT_FOUND)
			e = SL_OK;
		goto out;
	}
	struct catchup_row row;
	if ((e = store_catchup_get(db, a, connection_id, &row)))
		goto out;
	struct progress_job j = {.connection_id = connection_id, .now = (long long)time(NULL),
				 .state = "deleted", .detail = ""};
	if (t.c.endpoint_id) {
		char path[256];
		snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", t.c.endpoint_id);
		json_object *ep = NULL;
		struct stripe_error err;
		sl_err se = stripe_request(t.client, t.key, STRIPE_GET, path, NULL, &ep, &err);
		const char *status = string_of(ep, "status");
		if (!se && strcmp(row.endpoint_state, "key_permission") == 0) {
			/* the endpoint answers, but a sweep was refused: only a
			 * sweep that goes through clears that */
			j.state = row.endpoint_state;
			j.detail = row.endpoint_detail;
		} else if (!se) {
			j.state = status && strcmp(status, "disabled") == 0 ? "disabled" : "enabled";
			subscribe_missing(&t, path, ep);
		}
		else if (se != SL_ERR_NOT_FOUND && !(j.state = refusal_state(se, &err, a, &j.detail))) {
			j.state = "unreachable";
			j.detail = arena_strdup(a, err.message);
		}
		json_object_put(ep);
	}
	/* a disabled endpoint missed events: catch up at once */
	j.ask_catchup = strcmp(j.state, "disabled") == 0 && strcmp(row.endpoint_state, "disabled") != 0;
	if (strcmp(j.state, row.endpoint_state) != 0)
		fprintf(stderr, "stripelink-sync: connection %lld: webhook endpoint %s%s%s\n", connection_id,
			j.state, *j.detail ? ": " : "", j.detail);
	e = writer_run(env->writer, endpoint_job, &j);
out:
	target_close(&t);
	store_close(db);
	arena_free(a);
	return e;
}

void catchup_loop(const struct catchup_env *env, int poll_ms)
{
	long long started = (long long)time(NULL);
	struct arena *a = arena_new();
	sl_err e;
	struct store *db = store_open(env->db_path, &e);
	if (!db) {
		fprintf(stderr, "stripelink-sync: catch-up: cannot open the database: %s\n", err_name(e));
		arena_free(a);
		return;
	}
	while (!*env->stop) {
		arena_reset(a);
		struct connection_row *conns = NULL;
		size_t n = 0;
		if ((e = store_connections_list(db, a, &conns, &n)))
			fprintf(stderr, "stripelink-sync: catch-up: %s\n", err_name(e));
		for (size_t i = 0; i < n && !*env->stop; i++) {
			if (strcmp(conns[i].status, "connected") != 0)
				continue;
			long long id = conns[i].id, now = (long long)time(NULL);
			struct catchup_row r;
			/* one node at a time per connection: the lease covers a sweep
			 * (a node that dies mid-sweep hands it over when it ends) */
			bool claimed = true;
			if (env->node_id &&
			    (store_catchup_claim(db, id, env->node_id, now, now + 10LL * env->lease_seconds,
						 &claimed) || !claimed))
				continue;
			if (store_catchup_get(db, a, id, &r)) {
				store_catchup_release(db, id, env->node_id ? env->node_id : "");
				continue;
			}
			bool timer = env->interval > 0;
			bool check = r.health_requested_at ||
				     (timer && (r.endpoint_checked_at < started ||
						now - r.endpoint_checked_at >= env->interval));
			if (check && (e = catchup_check_endpoint(env, id)))
				fprintf(stderr, "stripelink-sync: endpoint check %lld: %s\n", id, err_name(e));
			if (check && store_catchup_get(db, a, id, &r)) {
				if (env->node_id)
					store_catchup_release(db, id, env->node_id);
				continue;
			}
			/* a key Stripe refuses (401) waits for a new one or a
			 * request; a sweep left midway by a stop resumes at once */
			bool interval_due = timer && (r.last_at < started || now - r.last_at >= env->interval);
			bool due = r.requested_at || (r.running && !r.last_error[0]) ||
				   (interval_due && strcmp(r.endpoint_state, "key_refused") != 0);
			if (due && (e = catchup_run(env, id, NULL)))
				fprintf(stderr, "stripelink-sync: catch-up %lld: %s\n", id, err_name(e));
			if (env->node_id)
				store_catchup_release(db, id, env->node_id);
		}
		for (int slept = 0; slept < poll_ms && !*env->stop; slept += 100)
			usleep(100 * 1000);
	}
	store_close(db);
	arena_free(a);
}
