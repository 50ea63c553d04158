/*
 * ratelimit.c - evenly spaced request slots; see ratelimit.h.
 */
#include "ratelimit.h"

#include "metrics.h"
#include "store.h"

#include <stdio.h>
#include <time.h>

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
	store_close(rl->db);
	rl->db = NULL;
	pthread_mutex_destroy(&rl->lock);
}

void ratelimit_share(struct ratelimit *rl, const char *db_path, const char *key)
{
	sl_err e;
	if (rl->interval_ns == 0)
		return;
	struct store *db = store_open(db_path, &e);
	if (!db) {
		fprintf(stderr, "stripelink: rate budget %s stays per process: %s\n", key, err_name(e));
		return;
	}
	pthread_mutex_lock(&rl->lock);
	rl->db = db;
	snprintf(rl->key, sizeof rl->key, "%s", key);
	pthread_mutex_unlock(&rl->lock);
}

static long long realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A slot from the shared budget, as CLOCK_REALTIME ns; -1 when the
 * database did not answer (the caller falls back to this process's). */
static long long reserve_shared(struct ratelimit *rl)
{
	long long slot_us = -1;
	pthread_mutex_lock(&rl->lock);
	sl_err e = store_rate_reserve(rl->db, rl->key, realtime_ns() / 1000, rl->interval_ns / 1000, &slot_us);
	pthread_mutex_unlock(&rl->lock);
	return e ? -1 : slot_us * 1000;
}

long long ratelimit_reserve(struct ratelimit *rl, long long now_ns)
{
	if (rl->interval_ns == 0)
		return now_ns;
	pthread_mutex_lock(&rl->lock);
	long long slot = rl->next_ns > now_ns ? rl->next_ns : now_ns;
	rl->next_ns = slot + rl->interval_ns;
	pthread_mutex_unlock(&rl->lock);
	return slot;
}

static long long monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void ratelimit_acquire(struct ratelimit *rl)
{
	if (rl->db) {
		long long now = realtime_ns(), slot = reserve_shared(rl);
		if (slot >= 0) {
			if (slot > now) {
				struct timespec ts = {(time_t)(slot / 1000000000LL), (long)(slot % 1000000000LL)};
				while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) != 0)
					;
				metrics_rate_limit_wait(0, slot - now);
			}
			return;
		}
	}
	long long now = monotonic_ns();
	long long slot = ratelimit_reserve(rl, now);
	if (slot > now) {
		struct timespec ts = {(time_t)(slot / 1000000000LL), (long)(slot % 1000000000LL)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
			;
		metrics_rate_limit_wait(0, slot - now);
	}
}
