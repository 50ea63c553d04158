/*
 * ratelimit.c - evenly spaced request slots, and the table of limiters per
 * Stripe account and mode; see ratelimit.h.
 */
#include "ratelimit.h"

#include "metrics.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The database connection a table's limiters reserve their slots through:
 * one for the whole table, used under its own lock. */
struct ratelimit_db {
	pthread_mutex_t lock;
	struct store *db;   /* owned by the table */
};

void ratelimit_init(struct ratelimit *rl, int rate)
{
	pthread_mutex_init(&rl->lock, NULL);
	rl->interval_ns = rate > 0 ? 1000000000LL / rate : 0;
	rl->next_ns = 0;
	rl->db = NULL;
	rl->key[0] = '\0';
}

void ratelimit_destroy(struct ratelimit *rl)
{
	rl->db = NULL;
	pthread_mutex_destroy(&rl->lock);
}

/* A slot from the shared budget (ns on now_ns's clock, CLOCK_REALTIME);
 * -1 when the database did not answer. */
static long long reserve_shared(struct ratelimit *rl, long long now_ns)
{
	long long slot_us = -1;
	pthread_mutex_lock(&rl->db->lock);
	sl_err e = store_rate_reserve(rl->db->db, rl->key, now_ns / 1000, rl->interval_ns / 1000, &slot_us);
	pthread_mutex_unlock(&rl->db->lock);
	return e ? -1 : slot_us * 1000;
}

long long ratelimit_reserve(struct ratelimit *rl, long long now_ns)
{
	if (rl->interval_ns == 0)
		return now_ns;
	if (rl->db) {
		long long slot = reserve_shared(rl, now_ns);
		if (slot >= 0)
			return slot;
	}
	pthread_mutex_lock(&rl->lock);
	long long slot = rl->next_ns > now_ns ? rl->next_ns : now_ns;
	rl->next_ns = slot + rl->interval_ns;
	pthread_mutex_unlock(&rl->lock);
	return slot;
}

static long long clock_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void ratelimit_acquire(struct ratelimit *rl)
{
	/* a shared budget's slots are on every node's clock: real time */
	clockid_t clock = rl->db ? CLOCK_REALTIME : CLOCK_MONOTONIC;
	long long now = clock_ns(clock);
	long long slot = ratelimit_reserve(rl, now);
	if (slot > now) {
		struct timespec ts = {(time_t)(slot / 1000000000LL), (long)(slot % 1000000000LL)};
		while (clock_nanosleep(clock, TIMER_ABSTIME, &ts, NULL) != 0)
			;
		metrics_rate_limit_wait(0, slot - now);
	}
}

/* ---- the table ---- */

struct ratelimits {
	pthread_mutex_t lock;              /* guards n and entries */
	int rate[2];                       /* [livemode] */
	struct ratelimit_db shared;        /* shared.db NULL: limiters of this process only */
	struct ratelimit overflow[2];      /* [livemode]: unlimited modes, odd or surplus accounts */
	struct ratelimit *entries[RATELIMITS_MAX];   /* each owned; made on first use */
	unsigned n;
};

static const char *mode_name(bool livemode)
{
	return livemode ? "live" : "test";
}

/* Sets rl up for the table's rate of the mode and the budget row key. */
static void limiter_setup(struct ratelimits *t, struct ratelimit *rl, bool livemode, const char *account)
{
	ratelimit_init(rl, t->rate[livemode]);
	snprintf(rl->key, sizeof rl->key, "sync:%s:%s", account, mode_name(livemode));
	if (t->shared.db && rl->interval_ns > 0)
		rl->db = &t->shared;
}

struct ratelimits *ratelimits_new(int rate_live, int rate_test, const char *shared_db)
{
	struct ratelimits *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->shared.lock, NULL);
	t->rate[1] = rate_live;
	t->rate[0] = rate_test;
	if (shared_db && (rate_live > 0 || rate_test > 0)) {
		sl_err e;
		t->shared.db = store_open(shared_db, &e);
		if (!t->shared.db)
			fprintf(stderr, "stripelink: the rate budgets stay per process: %s\n", err_name(e));
	}
	/* "*" is no account id: the overflow's row is its own */
	limiter_setup(t, &t->overflow[0], false, "*");
	limiter_setup(t, &t->overflow[1], true, "*");
	return t;
}

void ratelimits_free(struct ratelimits *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->n; i++) {
		ratelimit_destroy(t->entries[i]);
		free(t->entries[i]);
	}
	ratelimit_destroy(&t->overflow[0]);
	ratelimit_destroy(&t->overflow[1]);
	store_close(t->shared.db);
	pthread_mutex_destroy(&t->shared.lock);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

struct ratelimit *ratelimits_for(struct ratelimits *t, const char *account_id, bool livemode)
{
	if (!t)
		return NULL;
	struct ratelimit *overflow = &t->overflow[livemode];
	size_t len = account_id ? strlen(account_id) : 0;
	if (overflow->interval_ns == 0 || len == 0 || len > RATELIMIT_ACCOUNT_MAX)
		return overflow;
	char key[sizeof overflow->key];
	snprintf(key, sizeof key, "sync:%s:%s", account_id, mode_name(livemode));
	struct ratelimit *found = NULL;
	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->n && !found; i++)
		if (strcmp(t->entries[i]->key, key) == 0)
			found = t->entries[i];
	if (!found && t->n < RATELIMITS_MAX && (found = malloc(sizeof *found))) {
		limiter_setup(t, found, livemode, account_id);
		t->entries[t->n++] = found;
	}
	pthread_mutex_unlock(&t->lock);
	return found ? found : overflow;
}

unsigned ratelimits_count(struct ratelimits *t)
{
	pthread_mutex_lock(&t->lock);
	unsigned n = t->n;
	pthread_mutex_unlock(&t->lock);
	return n;
}
