/*
 * sync.h - the historical sync: pages through what is already in Stripe
 * for one resource and feeds every object through the same mapping engine
 * and ingest path as the webhook.
 *
 * A job's history is split into created-time windows synced side by side
 * under the rate limiter of the connection's Stripe account and mode: it starts as one window, and a thread with
 * nothing to do splits off the older, unsynced half of the widest one.
 * Each window's cursor is committed in the same transaction as its page's
 * effects, so a killed worker resumes where it stopped, missing nothing
 * and applying nothing twice.
 *
 * Windows are claimed through the database, each under a lease its node
 * renews with every page: several nodes (or one node's restarted worker)
 * split a job between them, and a window whose node died is taken over
 * once its lease has run out.
 */
#ifndef STRIPELINK_SYNC_H
#define STRIPELINK_SYNC_H

#include <signal.h>
#include "crypto.h"
#include "err.h"

struct writer;
struct ratelimits;

#define SYNC_PAGE_SIZE 100
#define SYNC_WINDOWS 4
#define SYNC_ACCOUNTS_AT_ONCE 4   /* jobs of different accounts (or modes) a worker runs at once */
#define SYNC_HISTORICAL_TAG "stripe-integration-historical"

struct sync_env {
	const char *db_path;
	const char *stripe_api;
	const unsigned char *secret_key;   /* CRYPTO_KEY_LEN bytes, borrowed */
	struct writer *writer;             /* the worker's own writer, borrowed */
	int rate_live, rate_test;          /* requests per second; 0 = unlimited */
	struct ratelimits *limits;         /* per account and mode, borrowed: the caller's (shared
					      with the catch-up), or NULL: sync_worker_loop makes its
					      own from the rates */
	int windows;                       /* threads (and so windows at once) per job, 1..16 */
	const char *node_id;               /* who holds this worker's leases */
	int lease_seconds;                 /* a lease's length, renewed per page */
	volatile sig_atomic_t *stop;       /* set by a signal: stop after the page */
};

/* Runs (or resumes) job_id (env->limits must be set, as
 * sync_worker_loop does) until it is done, fails, is paused or
 * cancelled, or env->stop is set (the job then stays "running" and is
 * resumed next time). Returns SL_OK in all those cases; SL_ERR_BUSY when
 * what is left of the job is held by other nodes' leases; another error
 * only when the job could not be run at all. */
sl_err sync_run_job(const struct sync_env *env, long long job_id);

/* Runs queued jobs until env->stop is set; polls every poll_ms. Jobs of
 * different Stripe accounts (or modes) run side by side, up to
 * SYNC_ACCOUNTS_AT_ONCE, each at its account's rate; one account's jobs
 * run one after another, oldest first (running ones first). Uses
 * env->limits when set, else a table of its own (per process, freed on
 * return). */
void sync_worker_loop(const struct sync_env *env, int poll_ms);

#endif
