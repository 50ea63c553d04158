/*
 * sync.c - historical sync jobs; see sync.h.
 */
#include "sync.h"

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
#include "store.h"
#include "stripe.h"
#include "writer.h"

/* Shared by the window threads of one run. */
struct run {
	const struct sync_env *env;
	long long job_id;
	long long connection_id;
	enum resource resource;
	const struct mapping *mapping;   /* borrowed, read-only */
	const char *key;                 /* the connection's secret key */
	bool create_contact, create_order, create_recurring;
	struct ratelimit limiter;
	pthread_mutex_t lock;
	bool halt;                       /* a window failed, or paused/cancelled/stopped */
	sl_err failure;                  /* first failure */
	char failure_text[600];
	char log_type[48];               /* "historical.charge" in the integration log */
	long long mark_ms;               /* last time elapsed was counted */
};

struct window_arg {
	struct run *run;
	struct sync_window_row window;
	char cursor[128];
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

/* One page's effects, committed together with the window's cursor. */
struct page {
	struct run *run;
	long long window_id;
	struct change_set sets[SYNC_PAGE_SIZE];
	bool has_email[SYNC_PAGE_SIZE];
	size_t n;
	long long version;       /* fetch time: older than any later webhook */
	const char *cursor;      /* id of the page's last object */
	long long oldest;        /* created of the page's last object */
	bool last;               /* has_more was false */
	long long elapsed_ms;
	long long now;
};

static sl_err page_job(struct store *db, void *arg)
{
	struct page *p = arg;
	struct run *r = p->run;
	long long created = 0, updated = 0, skipped = 0;
	sl_err e;
	for (size_t i = 0; i < p->n; i++) {
		struct ingest_item it = {
			.connection_id = r->connection_id,
			.cs = &p->sets[i],
			.has_email = p->has_email[i],
			.version = p->version,
			.contact = r->create_contact,
			.order = r->create_order && p->sets[i].order.present ? ORDER_CREATE : ORDER_NONE,
			.recurring = r->create_recurring && p->sets[i].recurring.present,
		};
		if ((e = ingest_apply(db, &it, p->now)))
			return e;
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
		} else if (it.contact_id) {
			updated++;
		}
	}
	if ((e = store_window_advance(db, p->window_id, p->cursor, p->oldest, p->last)))
		return e;
	return store_job_page(db, r->job_id, (long long)p->n, created, updated, skipped, p->elapsed_ms);
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

/* Fetches and commits the pages of one window until it is done or halted. */
static void *window_main(void *p)
{
	struct window_arg *w = p;
	struct run *r = w->run;
	const struct catalog_resource *res = catalog_resource(r->resource);
	static const struct stripe_options patient = {5000, 30000, 6, 10000};
	struct stripe_client *client = stripe_client_new(r->env->stripe_api, &patient);
	struct arena *a = arena_new();
	struct page *page = calloc(1, sizeof *page);
	sl_err oe;
	struct store *db = store_open(r->env->db_path, &oe);   /* to notice pause/cancel */
	if (!client || !page || !db) {
		halt(r, SL_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < SYNC_PAGE_SIZE; i++)
		change_set_init(&page->sets[i]);
	bool expand = mapping_reads_customer(r->mapping);
	while (!halted(r)) {
		arena_reset(a);
		struct stripe_params q = {BUF_INIT};
		stripe_params_add_int(&q, "limit", SYNC_PAGE_SIZE);
		stripe_params_add_int(&q, "created[gte]", w->window.created_gte);
		stripe_params_add_int(&q, "created[lt]", w->window.created_lt);
		if (w->cursor[0])
			stripe_params_add(&q, "starting_after", w->cursor);
		if (expand && r->resource != RESOURCE_CUSTOMER)
			stripe_params_add(&q, "expand[]", "data.customer");
		if (r->resource == RESOURCE_SUBSCRIPTION)
			stripe_params_add(&q, "status", "all");
		ratelimit_acquire(&r->limiter);
		long long fetched_at = (long long)time(NULL);
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
		page->window_id = w->window.id;
		page->n = n;
		page->version = fetched_at;
		page->now = fetched_at;
		page->last = !has_more || n == 0;
		page->cursor = w->cursor;
		page->oldest = w->window.oldest_seen;
		for (size_t i = 0; i < n; i++) {
			json_object *obj = json_object_array_get_idx(data, i);
			change_set_clear(&page->sets[i]);
			page->has_email[i] = mapping_apply(r->mapping, obj, NULL, &page->sets[i]) == SL_OK;
			change_set_add_tag(&page->sets[i], SYNC_HISTORICAL_TAG);
			json_object *id, *created;
			if (i == n - 1 && json_object_object_get_ex(obj, "id", &id)) {
				snprintf(w->cursor, sizeof w->cursor, "%s", json_object_get_string(id));
				page->cursor = w->cursor;
				if (json_object_object_get_ex(obj, "created", &created))
					page->oldest = json_object_get_int64(created);
			}
		}
		page->elapsed_ms = elapsed_since_mark(r);
		e = writer_run(r->env->writer, page_job, page);
		for (size_t i = 0; i < n; i++)
			change_set_clear(&page->sets[i]);
		json_object_put(list);
		if (e) {
			halt(r, e, arena_printf(a, "Saving a page failed (%s). Resume the sync to try again.",
						err_name(e)));
			break;
		}
		w->window.oldest_seen = page->oldest;
		if (page->last)
			break;
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
	int windows;
	bool make_windows;
};

static sl_err start_job(struct store *db, void *arg)
{
	struct start_job *j = arg;
	sl_err e = store_job_start(db, j->job_id, j->now);
	if (e || !j->make_windows)
		return e;
	long long span = j->lt - j->gte;
	for (int i = 0; i < j->windows && !e; i++) {
		long long lo = j->gte + span * i / j->windows;
		long long hi = i == j->windows - 1 ? j->lt : j->gte + span * (i + 1) / j->windows;
		e = store_window_add(db, j->job_id, lo, hi);
	}
	return e;
}

/* The oldest time anything can have been created: the account's own
 * creation (0 when Stripe does not say). */
static sl_err account_created(const struct run *r, long long *created, struct stripe_error *err)
{
	struct stripe_client *c = stripe_client_new(r->env->stripe_api, NULL);
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
	ratelimit_init(&r.limiter, 0);
	struct window_arg *args = NULL;
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
	ratelimit_destroy(&r.limiter);
	ratelimit_init(&r.limiter, c.livemode ? env->rate_live : env->rate_test);
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
	struct start_job start = {.job_id = job_id, .now = (long long)time(NULL),
				  .windows = env->windows > 0 ? env->windows : 1};
	if (n_windows == 0) {
		struct stripe_error err;
		long long first = 0;
		ratelimit_acquire(&r.limiter);
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
		start.make_windows = true;
		start.gte = first > 0 ? first - 1 : 0;
		start.lt = start.now + 1;
	}
	if ((e = writer_run(env->writer, start_job, &start))) {
		if (e == SL_ERR_NOT_FOUND)
			e = SL_OK;   /* paused or cancelled meanwhile */
		goto out;
	}
	if (n_windows == 0 && (e = store_windows_list(db, a, job_id, &windows, &n_windows)))
		goto out;

	r.mark_ms = now_ms();
	args = calloc(n_windows, sizeof *args);
	tids = calloc(n_windows, sizeof *tids);
	if (!args || !tids) {
		e = SL_ERR_NOMEM;
		goto out;
	}
	size_t started = 0;
	for (size_t i = 0; i < n_windows; i++) {
		if (windows[i].done)
			continue;
		args[started].run = &r;
		args[started].window = windows[i];
		snprintf(args[started].cursor, sizeof args[started].cursor, "%s", windows[i].cursor);
		if (pthread_create(&tids[started], NULL, window_main, &args[started]) == 0)
			started++;
	}
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
	free(args);
	free(tids);
	mapping_free(m);
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
	store_close(db);
	ratelimit_destroy(&r.limiter);
	pthread_mutex_destroy(&r.lock);
	arena_free(a);
	return e;
}

void sync_worker_loop(const struct sync_env *env, int poll_ms)
{
	struct arena *a = arena_new();
	sl_err e;
	struct store *db = store_open(env->db_path, &e);
	if (!db) {
		fprintf(stderr, "stripelink-sync: cannot open the database: %s\n", err_name(e));
		arena_free(a);
		return;
	}
	while (!*env->stop) {
		struct sync_job_row job;
		arena_reset(a);
		e = store_job_next(db, a, &job);
		if (e == SL_OK) {
			if ((e = sync_run_job(env, job.id)))
				fprintf(stderr, "stripelink-sync: job %lld: %s\n", job.id, err_name(e));
			else
				continue;
		}
		if (e && e != SL_ERR_NOT_FOUND)
			fprintf(stderr, "stripelink-sync: %s\n", err_name(e));
		usleep((useconds_t)poll_ms * 1000);
	}
	store_close(db);
	arena_free(a);
}
