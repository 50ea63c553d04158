/*
 * sync_main.c - stripelink-sync, the worker process for what talks to
 * Stripe off the request path: historical sync jobs (this thread) and the
 * catch-up from Stripe's event list with the endpoint check (a second
 * thread), the completion of webhook events waiting for their customer
 * (a third, see webhook.c), under one rate limiter per Stripe account and
 * mode (a table the threads share; on a server database each limiter's
 * budget is a row every node shares). The supervisor (`stripelink run`)
 * starts it beside the FastCGI worker and restarts it if it dies; a
 * running job or sweep resumes from its committed cursor.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catchup.h"
#include "config.h"
#include "crypto.h"
#include "deps.h"
#include "event_cache.h"
#include "store.h"
#include "metrics.h"
#include "pacer.h"
#include "ratelimit.h"
#include "stripe.h"
#include "sync.h"
#include "webhook.h"
#include "writer.h"

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* Every couple of seconds, this process's counters go to a file the
 * FastCGI worker renders under /metrics. */
static void *metrics_main(void *writer)
{
	while (!stop) {
		struct writer_stats ws;
		writer_stats(writer, &ws);
		metrics_snapshot_write(config_get()->sync_metrics_path, &ws);
		for (int i = 0; i < 20 && !stop; i++)
			usleep(100 * 1000);
	}
	return NULL;
}

static void *catchup_main(void *env)
{
	catchup_loop(env, 1000);
	return NULL;
}

struct waiting_env {
	const char *db_path;
	const char *stripe_api;
	const unsigned char *secret_key;
	struct writer *writer;
	struct ratelimits *limits;   /* the worker's table, borrowed */
};

/* Completes waiting webhook events every second (at once again while a
 * batch was full). Its Stripe clients serve every connection of their
 * mode: each request waits at the limiter of the account of the connection
 * the thread names (pacer.h). */
static void *waiting_main(void *arg)
{
	const struct waiting_env *env = arg;
	sl_err e;
	struct store *db = store_open(env->db_path, &e);
	struct pacer *pt = pacer_new(env->limits, env->db_path, false);
	struct pacer *pl = pacer_new(env->limits, env->db_path, true);
	struct stripe_options test = {5000, 30000, 4, 8000, pacer_pace, pt};
	struct stripe_options live = {5000, 30000, 4, 8000, pacer_pace, pl};
	struct stripe_client *ct = pt ? stripe_client_new(env->stripe_api, &test) : NULL;
	struct stripe_client *cl = pl ? stripe_client_new(env->stripe_api, &live) : NULL;
	struct arena *a = arena_new();
	if (!db || !ct || !cl || !a) {
		fprintf(stderr, "stripelink-sync: waiting events: cannot start\n");
		goto out;
	}
	struct deps deps = {.db = db, .writer = env->writer, .stripe = ct, .stripe_live = cl,
			    .secret_key = env->secret_key};
	while (!stop) {
		size_t done = 0;
		arena_reset(a);
		if ((e = webhook_complete_waiting(&deps, a, (long long)time(NULL), &done)))
			fprintf(stderr, "stripelink-sync: waiting events: %s\n", err_name(e));
		if (done >= WEBHOOK_COMPLETE_BATCH && !e)
			continue;
		for (int slept = 0; slept < 1000 && !stop; slept += 100)
			usleep(100 * 1000);
	}
out:
	arena_free(a);
	stripe_client_free(ct);
	stripe_client_free(cl);
	pacer_free(pt);
	pacer_free(pl);
	if (db)
		store_close(db);
	return NULL;
}

int main(void)
{
	if (config_load() != SL_OK)
		return 2;
	const struct config *c = config_get();
	unsigned char key[CRYPTO_KEY_LEN];
	sl_err e = crypto_key_load(c->key_path, key);
	if (e) {
		fprintf(stderr, "stripelink-sync: cannot load %s: %s\n", c->key_path, err_name(e));
		return 1;
	}
	if (stripe_global_init()) {
		fprintf(stderr, "stripelink-sync: libcurl setup failed\n");
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct writer *w = writer_start(c->db_path, &e);
	if (!w) {
		fprintf(stderr, "stripelink-sync: cannot open the database: %s\n", err_name(e));
		return 1;
	}
	/* one budget per Stripe account and mode: an account's sync jobs and
	 * catch-ups share it, two accounts never wait for each other. On a
	 * server database several nodes may run: each budget is a row of the
	 * database, shared by all of them. */
	struct ratelimits *limits = ratelimits_new(c->sync_rate_live, c->sync_rate_test,
						   store_is_file(c->db_path) ? NULL : c->db_path);
	if (!limits) {
		fprintf(stderr, "stripelink-sync: %s\n", err_name(SL_ERR_NOMEM));
		writer_stop(w);
		return 1;
	}
	struct sync_env env = {
		.db_path = c->db_path,
		.stripe_api = c->stripe_api,
		.secret_key = key,
		.writer = w,
		.rate_live = c->sync_rate_live,
		.rate_test = c->sync_rate_test,
		.windows = c->sync_windows,
		.node_id = c->node_id,
		.lease_seconds = c->lease_seconds,
		.limits = limits,
		.stop = &stop,
	};
	struct catchup_env catchup = {
		.db_path = c->db_path,
		.stripe_api = c->stripe_api,
		.secret_key = key,
		.writer = w,
		.limits = limits,
		.interval = c->catchup_interval,
		.overlap = c->catchup_overlap,
		.node_id = c->node_id,
		.lease_seconds = c->lease_seconds,
		.stop = &stop,
	};
	pthread_t catchup_thread;
	bool catchup_started = pthread_create(&catchup_thread, NULL, catchup_main, &catchup) == 0;
	if (!catchup_started)
		fprintf(stderr, "stripelink-sync: could not start the catch-up thread\n");
	struct waiting_env waiting = {c->db_path, c->stripe_api, key, w, limits};
	pthread_t waiting_thread;
	bool waiting_started = pthread_create(&waiting_thread, NULL, waiting_main, &waiting) == 0;
	if (!waiting_started)
		fprintf(stderr, "stripelink-sync: could not start the waiting-events thread\n");
	fprintf(stderr, "stripelink-sync: ready (rate %d/s live, %d/s test per account, %d windows)\n",
		env.rate_live, env.rate_test, env.windows);
	if (catchup.interval > 0)
		fprintf(stderr, "stripelink-sync: catch-up and endpoint check every %d s\n", catchup.interval);
	else
		fprintf(stderr, "stripelink-sync: catch-up and endpoint check only when asked\n");
	pthread_t metrics_thread;
	bool metrics_started = pthread_create(&metrics_thread, NULL, metrics_main, w) == 0;
	sync_worker_loop(&env, 500);
	if (catchup_started)
		pthread_join(catchup_thread, NULL);
	if (metrics_started)
		pthread_join(metrics_thread, NULL);
	if (waiting_started)
		pthread_join(waiting_thread, NULL);
	writer_stop(w);
	event_cache_clear();
	ratelimits_free(limits);
	stripe_global_cleanup();
	memset(key, 0, sizeof key);
	return 0;
}
