/*
 * ratelimit.c - evenly spaced request slots; see ratelimit.h.
 */
#include "ratelimit.h"

#include "metrics.h"

#include <time.h>

void ratelimit_init(struct ratelimit *rl, int rate)
{
	pthread_mutex_init(&rl->lock, NULL);
	rl->interval_ns = rate > 0 ? 1000000000LL / rate : 0;
	rl->next_ns = 0;
}

void ratelimit_destroy(struct ratelimit *rl)
{
	pthread_mutex_destroy(&rl->lock);
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
	long long now = monotonic_ns();
	long long slot = ratelimit_reserve(rl, now);
	if (slot > now) {
		struct timespec ts = {(time_t)(slot / 1000000000LL), (long)(slot % 1000000000LL)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
			;
		metrics_rate_limit_wait(0, slot - now);
	}
}
