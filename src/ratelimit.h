/*
 * ratelimit.h - spaces requests evenly so that no second holds more than
 * `rate` of them: the historical sync's share of Stripe's rate limit.
 * Thread-safe; one limiter is shared by every window of a sync job. A
 * shared limiter (ratelimit_share) takes its slots from a budget row in the
 * database instead, so every node's requests together keep the rate.
 */
#ifndef STRIPELINK_RATELIMIT_H
#define STRIPELINK_RATELIMIT_H

#include <pthread.h>

struct store;

struct ratelimit {
	pthread_mutex_t lock;
	long long interval_ns;   /* 0: unlimited */
	long long next_ns;       /* the earliest time the next request may go */
	struct store *db;        /* shared: owned, used under lock; NULL: this process only */
	char key[32];            /* the budget's row */
};

/* Sets up a limiter for `rate` requests per second (0 or less: no limit). */
void ratelimit_init(struct ratelimit *rl, int rate);
void ratelimit_destroy(struct ratelimit *rl);

/* Makes the limiter take its slots from the database's budget named key
 * (opened at db_path), shared by every node on that database. On failure
 * the limiter stays per process (said on stderr). */
void ratelimit_share(struct ratelimit *rl, const char *db_path, const char *key);

/* Reserves the next slot at or after now_ns and returns its time: the
 * caller waits until then. Pure apart from the lock (tests drive it with
 * their own clock). */
long long ratelimit_reserve(struct ratelimit *rl, long long now_ns);

/* Waits (CLOCK_MONOTONIC) until the caller may send its request; a wait is
 * counted against the thread's connection (metrics_set_connection). */
void ratelimit_acquire(struct ratelimit *rl);

#endif
