/*
 * ratelimit.h - spaces requests evenly so that no second holds more than
 * `rate` of them: the sync worker's share of Stripe's rate limit, which
 * Stripe counts per account.
 *
 * A limiter is thread-safe; one is shared by everything that asks Stripe
 * on behalf of one account in one mode (every window of its sync jobs, its
 * catch-ups). The sync worker keeps its limiters in a table (struct
 * ratelimits), one per Stripe account and mode, made on first use: two
 * accounts never wait for each other, and an account connected twice (two
 * connections of one account id) has one budget. On a server database the
 * table's limiters take their slots from a budget row per account and mode
 * ("sync:<account id>:live"), so every node's requests for that account
 * together keep the rate.
 */
#ifndef STRIPELINK_RATELIMIT_H
#define STRIPELINK_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>

#define RATELIMIT_ACCOUNT_MAX 80   /* longer account ids share the table's overflow limiter */
#define RATELIMITS_MAX 1024        /* accounts × modes a table holds; more share the overflow */

struct ratelimit_db;

struct ratelimit {
	pthread_mutex_t lock;
	long long interval_ns;     /* 0: unlimited */
	long long next_ns;         /* the earliest time the next request may go */
	struct ratelimit_db *db;   /* shared budget, borrowed from the table; NULL: this process only */
	char key[RATELIMIT_ACCOUNT_MAX + 16];   /* the budget's row: "sync:<account>:<mode>" */
};

/* Sets up a limiter of this process only, for `rate` requests per second
 * (0 or less: no limit). */
void ratelimit_init(struct ratelimit *rl, int rate);
void ratelimit_destroy(struct ratelimit *rl);

/* Reserves the next slot at or after now_ns and returns its time: the
 * caller waits until then. A limiter of this process only is pure apart
 * from its lock (tests drive it with their own clock, any clock). A shared
 * one reserves from its database budget, now_ns being CLOCK_REALTIME, and
 * falls back to its own spacing when the database does not answer. */
long long ratelimit_reserve(struct ratelimit *rl, long long now_ns);

/* Waits until the caller may send its request (CLOCK_MONOTONIC, or
 * CLOCK_REALTIME for a shared budget); a wait is counted against the
 * thread's connection (metrics_set_connection). */
void ratelimit_acquire(struct ratelimit *rl);

/* ---- the table: one limiter per Stripe account and mode ---- */

struct ratelimits;

/* A table of limiters for rate_live / rate_test requests per second (0:
 * no limit). shared_db: the database (a store_open target) whose budget
 * rows every node shares, or NULL for limiters of this process only; when
 * it cannot be opened the limiters stay per process (said on stderr).
 * NULL when out of memory. Free with ratelimits_free(). */
struct ratelimits *ratelimits_new(int rate_live, int rate_test, const char *shared_db);

/* Frees the table and every limiter in it; accepts NULL. No limiter it
 * lent may be in use. */
void ratelimits_free(struct ratelimits *t);

/* The limiter of a Stripe account (its id, "acct_…") in one mode, made on
 * first use; the same pointer for every caller naming that account and
 * mode. Borrowed from the table, valid until ratelimits_free(). An account
 * id that is empty or longer than RATELIMIT_ACCOUNT_MAX, or one past
 * RATELIMITS_MAX accounts, gets the mode's overflow limiter (shared by all
 * such accounts: slower, never over the rate). NULL only when t is NULL. */
struct ratelimit *ratelimits_for(struct ratelimits *t, const char *account_id, bool livemode);

/* How many accounts × modes have a limiter of their own. */
unsigned ratelimits_count(struct ratelimits *t);

#endif
