/*
 * test_ratelimit.c - the sync's request spacing: slots are evenly spaced,
 * a late caller is not punished for an idle limiter, concurrent callers
 * never share a slot, and no second holds more than `rate` slots.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>

#include "ratelimit.h"

#define SECOND 1000000000LL

/* (rate, request times in ms) → expected slot times in ms */
static const struct {
	int rate;
	long long at_ms[6];
	long long slot_ms[6];
} cases[] = {
	{10, {0, 0, 0, 0, 0, 0}, {0, 100, 200, 300, 400, 500}},          /* a burst is spread */
	{10, {0, 50, 90, 500, 500, 2000}, {0, 100, 200, 500, 600, 2000}}, /* idle time is not saved up */
	{0, {0, 0, 7, 7, 9, 9}, {0, 0, 7, 7, 9, 9}},                      /* 0: no limit */
	{3, {0, 0, 0, 0, 0, 0}, {0, 333, 666, 999, 1333, 1666}},
};

static void test_slots(void **state)
{
	(void)state;
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct ratelimit rl;
		ratelimit_init(&rl, cases[c].rate);
		for (size_t i = 0; i < 6; i++) {
			long long slot = ratelimit_reserve(&rl, cases[c].at_ms[i] * 1000000LL);
			assert_int_equal(slot / 1000000LL, cases[c].slot_ms[i]);
		}
		ratelimit_destroy(&rl);
	}
}

struct shared {
	struct ratelimit rl;
	long long slots[8][200];
};

static struct shared shared;

static void *reserve_many(void *p)
{
	long long *mine = p;
	for (int i = 0; i < 200; i++)
		mine[i] = ratelimit_reserve(&shared.rl, 0);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static void test_concurrent_callers_never_share_a_slot(void **state)
{
	(void)state;
	ratelimit_init(&shared.rl, 20);
	pthread_t t[8];
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reserve_many, shared.slots[i]), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	long long *all = &shared.slots[0][0];
	qsort(all, 1600, sizeof *all, cmp);
	for (int i = 1; i < 1600; i++)
		assert_int_equal(all[i] - all[i - 1], SECOND / 20);
	/* any one-second window [t, t+1s) holds at most 20 slots */
	for (int i = 0; i + 20 < 1600; i++)
		assert_true(all[i + 20] - all[i] >= SECOND);
	ratelimit_destroy(&shared.rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_concurrent_callers_never_share_a_slot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
