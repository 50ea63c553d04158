/*
 * sync.c - historical sync jobs; see sync.h.
 *
 * Windows are split on demand: a thread whose window is finished takes the
 * unsynced older half of the largest remaining window. Splits and page
 * commits both run on the writer thread, which keeps the authoritative
 * bounds (struct slot), so a page fetched before a split keeps only what
 * still belongs to its window: nothing is missed, nothing applied twice.
 */
#include "sync.h"

#include "metrics.h"

#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "catalog.h"
#include "ingest.h"
#include "mapping.h"
#include "ratelimit.h"
#include "refetch.h"
#include "store.h"
#include "stripe.h"
#include "writer.h"

#define SYNC_MAX_SLOTS 256
#define SYNC_MIN_SPLIT 2          /* seconds: narrower windows are not split */
#define SYNC_CURSOR_MAX 128

/* One window as the run sees it. gte and oldest change only on the writer
 * thread (split and page jobs); the lock guards reads elsewhere. */
struct slot {
	long long id;
	long long gte, lt;
	long long oldest;            /* created of the last object committed */
	char cursor[SYNC_CURSOR_MAX];
	bool done;
	bool taken;                  /* a thread works on it */
};

/* Shared by the threads of one run. */
struct run {
	const struct sync_env *env;
	long long job_id;
	long long connection_id;
	enum resource resource;
	const struct mapping *mapping;   /* borrowed, read-only */
	const char *key;                 /* the connection's secret key */
	bool create_contact, create_order, create_recurring;
	struct ratelimit *limiter;       /* the worker's, for this account and mode (borrowed) */
	pthread_mutex_t lock;
	bool halt;                       /* a window failed, or paused/cancelled/stopped */
	sl_err failure;                  /* first failure */
	char failure_text[600];
	char log_type[48];               /* "historical.charge" in the integration log */
	long long mark_ms;               /* last time elapsed was counted */
	struct slot slots[SYNC_MAX_SLOTS];
	size_t n_slots;
	size_t claimed;                  /* windows this run claimed (or split off) */
};

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool halted(struct run *r)
{
	pthread_mutex_lock(&r->lock);
	bool h = r->halt || *r->env->stop;
	pthread_mutex_unlock(&r->lock);
	return h;
}

static void halt(struct run *r, sl_err e, const char *text)
{
	pthread_mutex_lock(&r->lock);
	if (!r->halt && e) {
		r->failure = e;
		snprintf(r->failure_text, sizeof r->failure_text, "%s", text);
	}
	r->halt = true;
	pthread_mutex_unlock(&r->lock);
}

/* Milliseconds since the last call (the job's running time). */
static long long elapsed_since_mark(struct run *r)
{
	pthread_mutex_lock(&r->lock);
	long long now = now_ms();
	long long d = now - r->mark_ms;
	r->mark_ms = now;
	pthread_mutex_unlock(&r->lock);
	return d > 0 ? d : 0;
}

/* One fetched page, committed together with its window's cursor. */
struct page {
	struct run *run;
	struct slot *slot;
	struct change_set sets[SYNC_PAGE_SIZE];
	bool has_email[SYNC_PAGE_SIZE];
	long long created[SYNC_PAGE_SIZE];
	const char *ids[SYNC_PAGE_SIZE];
	size_t n;
	long long version;       /* Stripe's Date of the answer minus 1 s (refetch.h): older
				    than any event made after the fetch, whatever our clock */
	bool has_more;
	long long elapsed_ms;
	long long now;
	long long kept;          /* out: objects the page committed (not handed to another window) */
};

/* Orders from history are what was paid for, as the webhook's order
 * events (charge.succeeded, invoice.paid, checkout.session.completed):
 * not declined charges, open or void invoices, unpaid sessions. */
static bool settled(const struct change_order *o)
{
	static const char *const paid[] = {"paid", "refunded", "partially_refunded", "succeeded"};
	for (size_t i = 0; o->present && o->status && i < sizeof paid / sizeof paid[0]; i++)
		if (strcmp(o->status, paid[i]) == 0)
			return true;
	return false;
}

static sl_err page_job(struct store *db, void *arg)
{
	struct page *p = arg;
	struct run *r = p->run;
	struct slot *w = p->slot;
	long long created = 0, updated = 0, skipped = 0, kept = 0;
	/* the bound may have moved up since the fetch (a split): read it from
	 * the database in this transaction, not from memory, where a split
	 * whose commit failed would already show */
	long long gte;
	bool mine = false;
	sl_err e = store_window_gte(db, w->id, &gte);
	if (!e)
		e = store_window_mine(db, w->id, r->env->node_id, &mine);
	if (e)
		return e;
	if (!mine)
		return SL_ERR_FORBIDDEN;   /* our lease ran out and another node took the window */
	bool below = false;
	const char *cursor = NULL;
	long long oldest = w->oldest;
	for (size_t i = 0; i < p->n; i++) {
		if (p->created[i] < gte) {
			below = true;    /* a split handed this to another window */
			break;
		}
		struct ingest_item it = {
			.connection_id = r->connection_id,
			.cs = &p->sets[i],
			.has_email = p->has_email[i],
			.version = p->version,
			.contact = r->create_contact,
			.order = r->create_order && settled(&p->sets[i].order) ? ORDER_CREATE : ORDER_NONE,
			.recurring = r->create_recurring && p->sets[i].recurring.present,
			.history = true,
		};
		if ((e = ingest_apply(db, &it, p->now)))
			return e;
		kept++;
		cursor = p->ids[i];
		oldest = p->created[i];
		if (it.skip_reason && !it.stale) {
			skipped++;
			struct log_entry l = {
				.connection_id = r->connection_id, .at = p->now,
				.event_id = p->sets[i].object_id, .type = r->log_type,
				.result = "skipped", .reason = it.skip_reason,
			};
			if ((e = store_log_add(db, &l, NULL)))
				return e;
		} else if (it.contact_created) {
			created++;
		} else if (it.contact_id && !it.stale) {
			updated++;
		}
	}
	bool finished = below || !p->has_more || p->n == 0;
	long long lease_until = (long long)time(NULL) + r->env->lease_seconds;
	if ((e = store_window_advance(db, w->id, cursor ? cursor : w->cursor, oldest, finished, lease_until)) ||
	    (e = store_job_page(db, r->job_id, kept, created, updated, skipped, p->elapsed_ms)))
		return e;
	p->kept = kept;
	/* the memory runs ahead of the commit here; if the commit fails the
	 * window thread halts the run, and the next run reloads the windows
	 * as the database has them */
	pthread_mutex_lock(&r->lock);
	w->oldest = oldest;
	if (cursor)
		snprintf(w->cursor, sizeof w->cursor, "%s", cursor);
	w->done = finished;
	pthread_mutex_unlock(&r->lock);
	return SL_OK;
}

struct claim {
	struct run *run;
	struct slot *to;             /* the claimed window's slot, filled on success */
};

/* Runs on the writer: claims a window of the job nobody holds, else
 * splits off the older half of the widest one, whoever holds it (the
 * holder's next page commit reads the new bound and keeps only what is
 * still its own). SL_ERR_NOT_FOUND when nothing is left to take. */
static sl_err claim_job(struct store *db, void *arg)
{
	struct claim *c = arg;
	struct run *r = c->run;
	long long now = (long long)time(NULL), until = now + r->env->lease_seconds;
	struct arena *a = arena_new();
	struct sync_window_row w;
	if (!a)
		return SL_ERR_NOMEM;
	pthread_mutex_lock(&r->lock);
	bool room = r->n_slots < SYNC_MAX_SLOTS;
	pthread_mutex_unlock(&r->lock);
	sl_err e = room ? store_window_claim(db, a, r->job_id, r->env->node_id, now, until, &w) : SL_ERR_NOT_FOUND;
	if (e == SL_ERR_NOT_FOUND && room)
		e = store_window_split_widest(db, a, r->job_id, SYNC_MIN_SPLIT, r->env->node_id, until, &w);
	if (!e) {
		pthread_mutex_lock(&r->lock);
		struct slot *to = &r->slots[r->n_slots++];
		*to = (struct slot){.id = w.id, .gte = w.created_gte, .lt = w.created_lt, .oldest = w.oldest_seen,
				    .done = w.done, .taken = true};
		snprintf(to->cursor, sizeof to->cursor, "%s", w.cursor);
		c->to = to;
		r->claimed++;
		pthread_mutex_unlock(&r->lock);
	}
	arena_free(a);
	return e;
}

/* The next window for a thread, claimed in the database. NULL when there
 * is nothing left to take. */
static struct slot *next_slot(struct run *r)
{
	struct claim c = {r, NULL};
	sl_err e = writer_run(r->env->writer, claim_job, &c);
	if (e == SL_OK)
		return c.to;
	if (e != SL_ERR_NOT_FOUND)
		halt(r, e, "Saving the sync's progress failed. Resume the sync to try again.");
	return NULL;
}

/* Words for a job that cannot continue. */
static const char *failure_words(sl_err e, struct arena *a, const struct stripe_error *err,
				 const char *label)
{
	switch (e) {
	case SL_ERR_AUTH:
		return "Stripe no longer accepts this connection's key (revoked or rolled). "
		       "Connect again, then resume the sync.";
	case SL_ERR_FORBIDDEN:
		return arena_printf(a, "The restricted key lost permission to read %s. Give it read "
				       "access in the Stripe dashboard, then resume the sync.", label);
	case SL_ERR_NETWORK:
	case SL_ERR_TIMEOUT:
		return arena_printf(a, "Stripe could not be reached (%s). Resume the sync to try again.",
				    err->message);
	default:
		return arena_printf(a, "Stripe refused a page (%s). Resume the sync to try again.",
				    err->message[0] ? err->message : err_name(e));
	}
}

static void pace(void *limiter)
{
	if (limiter)
		ratelimit_acquire(limiter);
}

/* Fetches and commits the pages of one window until it is done, then
 * takes another, until nothing is left or the run halts. */
static void *window_main(void *p)
{
	struct run *r = p;
	const struct catalog_resource *res = catalog_resource(r->resource);
	/* every try, retries included, takes a slot of the shared limiter */
	const struct stripe_options patient = {5000, 30000, 6, 10000, pace, r->limiter};
	struct stripe_client *client = stripe_client_new(r->env->stripe_api, &patient);
	struct arena *a = arena_new();
	metrics_set_connection(r->connection_id);
	struct page *page = calloc(1, sizeof *page);
	sl_err oe;
	struct store *db = store_open(r->env->db_path, &oe);   /* to notice pause/cancel */
	if (!client || !page || !db) {
		halt(r, SL_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < SYNC_PAGE_SIZE; i++)
		change_set_init(&page->sets[i]);
	bool expand = mapping_reads_customer(r->mapping) && r->resource != RESOURCE_CUSTOMER;
	struct slot *w = NULL;
	while (!halted(r)) {
		if (!w || w->done) {
			if (!(w = next_slot(r)))
				break;
		}
		arena_reset(a);
		pthread_mutex_lock(&r->lock);
		long long gte = w->gte, lt = w->lt;
		const char *cursor = arena_strdup(a, w->cursor);
		pthread_mutex_unlock(&r->lock);
		struct stripe_params q = {BUF_INIT};
		stripe_params_add_int(&q, "limit", SYNC_PAGE_SIZE);
		stripe_params_add_int(&q, "created[gte]", gte);
		stripe_params_add_int(&q, "created[lt]", lt);
		if (*cursor)
			stripe_params_add(&q, "starting_after", cursor);
		if (expand)
			stripe_params_add(&q, "expand[]", "data.customer");
		if (r->resource == RESOURCE_SUBSCRIPTION)
			stripe_params_add(&q, "status", "all");
		json_object *list = NULL;
		struct stripe_error err;
		sl_err e = stripe_request(client, r->key, STRIPE_GET, res->list_path, &q, &list, &err);
		stripe_params_free(&q);
		if (e) {
			halt(r, e, failure_words(e, a, &err, res->label));
			break;
		}
		json_object *data = NULL, *more = NULL;
		bool has_more = json_object_object_get_ex(list, "has_more", &more) &&
				json_object_get_boolean(more);
		if (!json_object_object_get_ex(list, "data", &data) ||
		    !json_object_is_type(data, json_type_array)) {
			json_object_put(list);
			halt(r, SL_ERR_REMOTE, "Stripe answered a list without data. Resume the sync to try again.");
			break;
		}
		size_t n = json_object_array_length(data);
		if (n > SYNC_PAGE_SIZE)
			n = SYNC_PAGE_SIZE;
		page->run = r;
		page->slot = w;
		page->n = n;
		page->version = refetch_answer_version(client, res->list_path);
		page->now = (long long)time(NULL);
		page->has_more = has_more;
		for (size_t i = 0; i < n; i++) {
			json_object *obj = json_object_array_get_idx(data, i), *v;
			change_set_clear(&page->sets[i]);
			page->has_email[i] = mapping_apply(r->mapping, obj, NULL, &page->sets[i]) == SL_OK;
			change_set_add_tag(&page->sets[i], SYNC_HISTORICAL_TAG);
			page->ids[i] = json_object_object_get_ex(obj, "id", &v) ? arena_strdup(a, json_object_get_string(v)) : "";
			page->created[i] = json_object_object_get_ex(obj, "created", &v) ? json_object_get_int64(v) : gte;
		}
		page->elapsed_ms = elapsed_since_mark(r);
		e = writer_run(r->env->writer, page_job, page);
		if (!e)
			metrics_sync_page(r->connection_id, page->kept);
		for (size_t i = 0; i < n; i++)
			change_set_clear(&page->sets[i]);
		json_object_put(list);
		if (e == SL_ERR_FORBIDDEN) {
			/* the window went to another node while we waited: leave it */
			pthread_mutex_lock(&r->lock);
			w->done = true;
			pthread_mutex_unlock(&r->lock);
			continue;
		}
		if (e) {
			halt(r, e, arena_printf(a, "Saving a page failed (%s). Resume the sync to try again.",
						err_name(e)));
			break;
		}
		/* paused or cancelled from the app page? */
		const char *state = NULL;
		if (store_job_state(db, a, r->job_id, &state) == SL_OK && strcmp(state, "running") != 0)
			halt(r, SL_OK, "");
	}
out:
	if (page)
		for (size_t i = 0; i < SYNC_PAGE_SIZE; i++)
			change_set_clear(&page->sets[i]);
	free(page);
	store_close(db);
	arena_free(a);
	stripe_client_free(client);
	return NULL;
}

struct finish_job {
	long long job_id, now, elapsed_ms;
	const char *state, *error;
	long long connection_id;
	const char *log_type;
};

static sl_err finish_job(struct store *db, void *arg)
{
	struct finish_job *j = arg;
	sl_err e = store_job_finish(db, j->job_id, j->state, j->error, j->now, j->elapsed_ms);
	if (!e && strcmp(j->state, "failed") == 0) {
		struct log_entry l = {.connection_id = j->connection_id, .at = j->now, .type = j->log_type,
				      .result = "failed", .reason = j->error};
		e = store_log_add(db, &l, NULL);
	}
	return e;
}

struct start_job {
	long long job_id, now;
	long long gte, lt;
	bool make_window;
	const char *owner;           /* this node: its stale leases on the job end */
};

static sl_err start_job(struct store *db, void *arg)
{
	struct start_job *j = arg;
	sl_err e = store_job_start(db, j->job_id, j->now);
	/* what this node held of the job is its own past run's: take it up again */
	if (!e && j->owner)
		e = store_windows_release(db, j->job_id, j->owner);
	if (e || !j->make_window)
		return e;
	return store_window_first(db, j->job_id, j->gte, j->lt);   /* unless another node made it */
}

/* The oldest time anything can have been created: the account's own
 * creation (0 when Stripe does not say). */
static sl_err account_created(struct run *r, long long *created, struct stripe_error *err)
{
	const struct stripe_options paced = {0, 0, 0, 0, pace, r->limiter};
	struct stripe_client *c = stripe_client_new(r->env->stripe_api, &paced);
	if (!c)
		return SL_ERR_NOMEM;
	json_object *acct = NULL, *v;
	sl_err e = stripe_request(c, r->key, STRIPE_GET, "/v1/account", NULL, &acct, err);
	*created = 0;
	if (!e && json_object_object_get_ex(acct, "created", &v) && json_object_is_type(v, json_type_int))
		*created = json_object_get_int64(v);
	json_object_put(acct);
	stripe_client_free(c);
	return e;
}

sl_err sync_run_job(const struct sync_env *env, long long job_id)
{
	struct arena *a = arena_new();
	struct store *db = NULL;
	struct mapping *m = NULL;
	char *key = NULL;
	struct run r = {.env = env, .job_id = job_id};
	pthread_mutex_init(&r.lock, NULL);
	pthread_t *tids = NULL;
	size_t n_windows = 0;
	sl_err e;
	struct finish_job fin = {.job_id = job_id};
	struct sync_job_row job;
	struct connection_row c;

	if (!(db = store_open(env->db_path, &e)))
		goto out;
	if ((e = store_job_get(db, a, job_id, &job)) ||
	    (e = store_connection_get(db, a, job.connection_id, &c)))
		goto out;
	r.connection_id = c.id;
	r.resource = catalog_resource_by_slug(job.resource);
	snprintf(r.log_type, sizeof r.log_type, "historical.%s", job.resource);
	fin.connection_id = c.id;
	fin.log_type = r.log_type;
	if (r.resource == RESOURCE__MAX || strcmp(c.status, "connected") != 0 ||
	    !(key = crypto_open(env->secret_key, c.key_sealed ? c.key_sealed : ""))) {
		fin.state = "cancelled";
		fin.error = "The connection is no longer connected.";
		goto finish;
	}
	r.key = key;
	r.create_contact = c.create_contact;
	r.create_order = c.create_order;
	r.create_recurring = c.create_recurring;
	r.limiter = ratelimits_for(env->limits, c.account_id, c.livemode);
	struct resource_row res;
	if (store_resource_get(db, a, c.id, job.resource, &res) == SL_OK && res.mapping)
		m = mapping_from_json(res.mapping, NULL);
	if (!m && !(m = mapping_default(r.resource))) {
		e = SL_ERR_NOMEM;
		goto out;
	}
	r.mapping = m;

	struct sync_window_row *windows;
	if ((e = store_windows_list(db, a, job_id, &windows, &n_windows)))
		goto out;
	struct start_job start = {.job_id = job_id, .now = (long long)time(NULL), .owner = env->node_id};
	if (n_windows == 0) {
		struct stripe_error err;
		long long first = 0;
		if ((e = account_created(&r, &first, &err))) {
			fin.state = "failed";
			fin.error = failure_words(e, a, &err, catalog_resource(r.resource)->label);
			e = SL_OK;
			/* mark it running first so finish can move it */
			struct start_job just = {.job_id = job_id, .now = start.now};
			if (writer_run(env->writer, start_job, &just) == SL_OK)
				goto finish;
			goto out;
		}
		start.make_window = true;   /* one window; idle threads split it */
		start.gte = first > 0 ? first - 1 : 0;
		start.lt = start.now + 1;
	}
	if ((e = writer_run(env->writer, start_job, &start))) {
		if (e == SL_ERR_NOT_FOUND)
			e = SL_OK;   /* paused or cancelled meanwhile */
		goto out;
	}
	/* the windows are claimed from the database by the threads */
	r.mark_ms = now_ms();
	int threads = env->windows > 0 ? env->windows : 1;
	tids = calloc((size_t)threads, sizeof *tids);
	if (!tids) {
		e = SL_ERR_NOMEM;
		goto out;
	}
	size_t started = 0;
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tids[started], NULL, window_main, &r) == 0)
			started++;
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);

	if (r.failure) {
		fin.state = "failed";
		fin.error = r.failure_text;
	} else if (*env->stop) {
		goto out;   /* stays running: resumed when the worker starts again */
	} else {
		const char *state = NULL;
		if ((e = store_job_state(db, a, job_id, &state)))
			goto out;
		if (strcmp(state, "running") != 0)
			goto out;   /* paused or cancelled from the app page */
		if ((e = store_windows_list(db, a, job_id, &windows, &n_windows)))
			goto out;
		bool all_done = true;
		for (size_t i = 0; i < n_windows; i++)
			all_done &= windows[i].done;
		long long held = 0;
		if (!all_done && (e = store_windows_held(db, job_id, (long long)time(NULL), env->node_id, &held)))
			goto out;
		if (!all_done && held > 0) {
			/* another node works on the rest; it finishes the job */
			e = r.claimed ? SL_OK : SL_ERR_BUSY;
			goto out;
		}
		fin.state = all_done ? "done" : "queued";
		fin.error = "";
	}
finish:
	fin.now = (long long)time(NULL);
	fin.elapsed_ms = r.mark_ms ? elapsed_since_mark(&r) : 0;
	e = writer_run(env->writer, finish_job, &fin);
	if (!e)
		fprintf(stderr, "stripelink-sync: job %lld (%s): %s%s%s\n", job_id, r.log_type, fin.state,
			*fin.error ? ": " : "", fin.error);
out:
	free(tids);
	mapping_free(m);
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
	store_close(db);
	pthread_mutex_destroy(&r.lock);
	arena_free(a);
	return e;
}

/* ---- the worker: jobs of different accounts side by side ---- */

#define SYNC_READY_LOOKAHEAD 256   /* ready jobs looked at per round */

/* One job running on a thread of its own. The main loop writes every field
 * but finished and result, which the thread sets (under the crew's lock). */
struct runner {
	struct crew *crew;
	pthread_t thread;
	bool active;                               /* started, not joined yet */
	bool finished;                             /* sync_run_job returned */
	sl_err result;
	long long job_id;
	char account[RATELIMIT_ACCOUNT_MAX + 1];   /* whose: one job per account and mode */
	bool livemode;
};

struct crew {
	const struct sync_env *env;
	int poll_ms;
	pthread_mutex_t lock;
	pthread_cond_t finished;                   /* a runner finished (waits on CLOCK_MONOTONIC) */
	struct runner runners[SYNC_ACCOUNTS_AT_ONCE];
};

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	const struct sync_env *env = r->crew->env;
	sl_err e = sync_run_job(env, r->job_id);
	/* held by other nodes for now, or not runnable: the account's turn is
	 * given back after a poll, not at once */
	for (int slept = 0; e && slept < r->crew->poll_ms && !*env->stop; slept += 50)
		usleep(50 * 1000);
	pthread_mutex_lock(&r->crew->lock);
	r->result = e;
	r->finished = true;
	pthread_cond_signal(&r->crew->finished);
	pthread_mutex_unlock(&r->crew->lock);
	return NULL;
}

static bool runner_finished(struct runner *r)
{
	pthread_mutex_lock(&r->crew->lock);
	bool done = r->active && r->finished;
	pthread_mutex_unlock(&r->crew->lock);
	return done;
}

/* Joins the runners that finished (all of them, finished or not, when
 * all is set). True when one of them ran its job to an end. */
static bool reap(struct crew *c, bool all)
{
	bool progressed = false;
	for (int i = 0; i < SYNC_ACCOUNTS_AT_ONCE; i++) {
		struct runner *r = &c->runners[i];
		if (!r->active || (!all && !runner_finished(r)))
			continue;
		pthread_join(r->thread, NULL);
		r->active = false;
		if (r->result == SL_OK)
			progressed = true;
		else if (r->result != SL_ERR_BUSY)   /* busy: the rest is another node's, for now */
			fprintf(stderr, "stripelink-sync: job %lld: %s\n", r->job_id, err_name(r->result));
	}
	return progressed;
}

/* Starts the ready jobs, oldest first, whose account and mode no runner
 * holds, while a runner is free. */
static sl_err dispatch(struct crew *c, struct store *db, struct arena *a)
{
	struct sync_job_ready *ready;
	size_t n;
	sl_err e = store_jobs_ready(db, a, SYNC_READY_LOOKAHEAD, &ready, &n);
	for (size_t i = 0; !e && i < n; i++) {
		char account[RATELIMIT_ACCOUNT_MAX + 1];
		snprintf(account, sizeof account, "%s", ready[i].account_id);
		struct runner *free_runner = NULL;
		bool held = false;
		for (int k = 0; k < SYNC_ACCOUNTS_AT_ONCE; k++) {
			struct runner *r = &c->runners[k];
			if (!r->active)
				free_runner = free_runner ? free_runner : r;
			else if (r->job_id == ready[i].id ||
				 (r->livemode == ready[i].livemode && strcmp(r->account, account) == 0))
				held = true;
		}
		if (held)
			continue;
		if (!free_runner)
			break;
		*free_runner = (struct runner){.crew = c, .active = true, .job_id = ready[i].id,
					       .livemode = ready[i].livemode};
		memcpy(free_runner->account, account, sizeof account);
		if (pthread_create(&free_runner->thread, NULL, runner_main, free_runner) != 0) {
			free_runner->active = false;
			e = SL_ERR_NOMEM;
		}
	}
	return e == SL_ERR_NOT_FOUND ? SL_OK : e;
}

/* Waits until a runner finishes or poll_ms pass. */
static void wait_for_a_runner(struct crew *c)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	long long ns = until.tv_nsec + (long long)c->poll_ms * 1000000LL;
	until.tv_sec += (time_t)(ns / 1000000000LL);
	until.tv_nsec = (long)(ns % 1000000000LL);
	pthread_mutex_lock(&c->lock);
	for (;;) {
		bool any = false;
		for (int i = 0; i < SYNC_ACCOUNTS_AT_ONCE; i++)
			any |= c->runners[i].active && c->runners[i].finished;
		if (any || *c->env->stop ||
		    pthread_cond_timedwait(&c->finished, &c->lock, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&c->lock);
}

void sync_worker_loop(const struct sync_env *env_in, int poll_ms)
{
	/* one budget per account and mode for the worker's life: jobs one
	 * after another (or a resumed one) share it instead of starting afresh */
	struct sync_env with_limits = *env_in;
	struct ratelimits *own = NULL;   /* when the caller lends none */
	if (!with_limits.limits)
		with_limits.limits = own = ratelimits_new(env_in->rate_live, env_in->rate_test, NULL);
	if (!with_limits.limits) {
		fprintf(stderr, "stripelink-sync: %s\n", err_name(SL_ERR_NOMEM));
		return;
	}
	const struct sync_env *env = &with_limits;
	struct arena *a = arena_new();
	sl_err e;
	struct store *db = store_open(env->db_path, &e);
	if (!db) {
		fprintf(stderr, "stripelink-sync: cannot open the database: %s\n", err_name(e));
		arena_free(a);
		ratelimits_free(own);
		return;
	}
	struct crew crew = {.env = env, .poll_ms = poll_ms};
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&crew.finished, &attr);
	pthread_condattr_destroy(&attr);
	pthread_mutex_init(&crew.lock, NULL);
	while (!*env->stop) {
		bool progressed = reap(&crew, false);
		arena_reset(a);
		if ((e = dispatch(&crew, db, a)))
			fprintf(stderr, "stripelink-sync: %s\n", err_name(e));
		if (!progressed)
			wait_for_a_runner(&crew);
	}
	reap(&crew, true);   /* each stops after its page */
	pthread_mutex_destroy(&crew.lock);
	pthread_cond_destroy(&crew.finished);
	store_close(db);
	arena_free(a);
	ratelimits_free(own);
}
