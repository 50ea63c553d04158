/*
 * test_event_cache.c - unit tests for src/event_cache.c: a parse lent by
 * a request is usable by writer jobs until its request hands it over; kept
 * when its event waits, dropped otherwise; used only for the bytes it was
 * made from; a parse handed over while in use is put by its last user; the
 * kept ones make room oldest (or expired) first, the lent ones never.
 *
 * Each parse carries an extra reference held by the test: when the cache
 * has let go of it, json_object_put of that reference frees it (returns 1).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "event_cache.h"

/* A parse carrying n, with the test's own extra reference. */
static json_object *parse_of(int n)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "n", json_object_new_int(n));
	return json_object_get(o);
}

static int n_of(json_object *o)
{
	json_object *v;
	assert_true(json_object_object_get_ex(o, "n", &v));
	return json_object_get_int(v);
}

/* True when the cache no longer holds o (the test's reference was the last). */
static bool let_go(json_object *o)
{
	return json_object_put(o) == 1;
}

static int teardown(void **state)
{
	(void)state;
	event_cache_clear();
	return 0;
}

static void test_lent_then_dropped(void **state)
{
	(void)state;
	json_object *o = parse_of(7);
	event_cache_lend(1, "evt_a", "{body a}", 8, o);
	assert_null(event_cache_use(2, "evt_a", "{body a}", 8));    /* another connection */
	assert_null(event_cache_use(1, "evt_b", "{body a}", 8));    /* another event */
	assert_null(event_cache_use(1, "evt_a", "{body b}", 8));    /* other bytes */
	assert_null(event_cache_use(1, "evt_a", "{body a} ", 9));   /* longer */
	json_object *used = event_cache_use(1, "evt_a", "{body a}", 8);
	assert_ptr_equal(used, o);                                   /* lent: the same parse */
	assert_int_equal(n_of(used), 7);
	event_cache_release(used);
	/* its job did not record it waiting: dropped when handed over */
	event_cache_reclaim(1, "evt_a", "{body a}", 8, o, false, 100);
	assert_true(let_go(o));
	assert_null(event_cache_use(1, "evt_a", "{body a}", 8));
}

static void test_kept_while_waiting(void **state)
{
	(void)state;
	char body[] = "{body a}";
	json_object *o = parse_of(1);
	event_cache_lend(1, "evt_a", body, 8, o);
	event_cache_reclaim(1, "evt_a", body, 8, o, true, 100);
	memcpy(body, "{gone!!}", 8);   /* the request's bytes die with it: the cache kept a copy */
	assert_null(event_cache_use(1, "evt_a", "{gone!!}", 8));
	json_object *used = event_cache_use(1, "evt_a", "{body a}", 8);
	assert_ptr_equal(used, o);
	event_cache_release(used);     /* completed: not kept any longer */
	assert_true(let_go(o));
	assert_null(event_cache_use(1, "evt_a", "{body a}", 8));
}

static void test_handed_over_while_in_use(void **state)
{
	(void)state;
	json_object *o = parse_of(1);
	event_cache_lend(1, "evt_a", "{body a}", 8, o);
	json_object *used = event_cache_use(1, "evt_a", "{body a}", 8);
	assert_ptr_equal(used, o);
	/* the request is done while a job still reads the parse */
	event_cache_reclaim(1, "evt_a", "{body a}", 8, o, false, 100);
	assert_int_equal(n_of(used), 1);
	assert_null(event_cache_use(1, "evt_a", "{body a}", 8));   /* not offered again */
	event_cache_release(used);                                  /* the last user puts it */
	assert_true(let_go(o));
}

static void test_completed_during_loan_not_kept(void **state)
{
	(void)state;
	json_object *o = parse_of(1);
	event_cache_lend(1, "evt_a", "{body a}", 8, o);
	event_cache_release(event_cache_use(1, "evt_a", "{body a}", 8));
	/* recorded waiting, but completed in the same group already */
	event_cache_reclaim(1, "evt_a", "{body a}", 8, o, true, 100);
	assert_true(let_go(o));
}

static void test_kept_without_loan(void **state)
{
	(void)state;
	json_object *o = parse_of(3);
	event_cache_reclaim(1, "evt_a", "{body a}", 8, o, true, 100);
	json_object *used = event_cache_use(1, "evt_a", "{body a}", 8);
	assert_ptr_equal(used, o);
	event_cache_release(used);
	assert_true(let_go(o));
}

static void test_later_delivery_replaces_kept(void **state)
{
	(void)state;
	json_object *old = parse_of(1), *new = parse_of(2);
	event_cache_reclaim(1, "evt_a", "{old}", 5, old, true, 100);
	event_cache_lend(1, "evt_a", "{new!}", 6, new);
	assert_true(let_go(old));
	assert_null(event_cache_use(1, "evt_a", "{old}", 5));
	json_object *used = event_cache_use(1, "evt_a", "{new!}", 6);
	assert_ptr_equal(used, new);
	event_cache_release(used);
	event_cache_reclaim(1, "evt_a", "{new!}", 6, new, false, 100);
	assert_true(let_go(new));
}

static void test_oldest_kept_makes_room(void **state)
{
	(void)state;
	char id[32];
	json_object *o[EVENT_CACHE_SLOTS + 1];
	/* one more than fits: the first kept is the one dropped */
	for (int i = 0; i <= EVENT_CACHE_SLOTS; i++) {
		snprintf(id, sizeof id, "evt_%d", i);
		event_cache_reclaim(1, id, id, strlen(id), o[i] = parse_of(i), true, 100);
	}
	assert_true(let_go(o[0]));
	assert_null(event_cache_use(1, "evt_0", "evt_0", 5));
	for (int i = 1; i <= EVENT_CACHE_SLOTS; i++) {
		snprintf(id, sizeof id, "evt_%d", i);
		json_object *used = event_cache_use(1, id, id, strlen(id));
		assert_ptr_equal(used, o[i]);
		assert_int_equal(n_of(used), i);
		event_cache_release(used);
		assert_true(let_go(o[i]));
	}
}

static void test_expired_dropped(void **state)
{
	(void)state;
	char id[32];
	json_object *o[EVENT_CACHE_SLOTS];
	/* a full cache whose entry 5 was kept long ago (at 100: past its time at 150) */
	for (int i = 0; i < EVENT_CACHE_SLOTS; i++) {
		snprintf(id, sizeof id, "evt_%d", i);
		event_cache_reclaim(1, id, id, strlen(id), o[i] = parse_of(i), true, i == 5 ? 100 : 149);
	}
	json_object *fresh = parse_of(99);
	event_cache_reclaim(1, "evt_new", "evt_new", 7, fresh, true, 150);
	assert_true(let_go(o[5]));
	json_object *used = event_cache_use(1, "evt_0", "evt_0", 5);   /* the oldest stayed */
	assert_ptr_equal(used, o[0]);
	event_cache_release(used);
	assert_ptr_equal(used = event_cache_use(1, "evt_new", "evt_new", 7), fresh);
	event_cache_release(used);
	assert_true(let_go(o[0]));
	assert_true(let_go(fresh));
	/* a later hand-over drops what is past its time, room or not */
	json_object *late = parse_of(7);
	event_cache_reclaim(1, "evt_late", "evt_late", 8, late, false, 149 + EVENT_CACHE_KEEP_SECONDS + 1);
	assert_true(let_go(late));
	for (int i = 1; i < EVENT_CACHE_SLOTS; i++)
		if (i != 5)
			assert_true(let_go(o[i]));
	/* and keeps what is not */
	json_object *kept = parse_of(8);
	event_cache_reclaim(1, "evt_k", "k", 1, kept, true, 1000);
	json_object *other = parse_of(9);
	event_cache_reclaim(1, "evt_x", "x", 1, other, false, 1000 + EVENT_CACHE_KEEP_SECONDS);
	assert_true(let_go(other));
	assert_ptr_equal(used = event_cache_use(1, "evt_k", "k", 1), kept);
	event_cache_release(used);
	assert_true(let_go(kept));
}

static void test_lent_never_evicted(void **state)
{
	(void)state;
	char id[EVENT_CACHE_SLOTS + 1][32];
	json_object *o[EVENT_CACHE_SLOTS + 1];
	for (int i = 0; i <= EVENT_CACHE_SLOTS; i++) {
		snprintf(id[i], sizeof id[i], "evt_%d", i);
		event_cache_lend(1, id[i], id[i], strlen(id[i]), o[i] = parse_of(i));
	}
	/* every slot is lent: the last loan did not happen, the first stands */
	assert_null(event_cache_use(1, id[EVENT_CACHE_SLOTS], id[EVENT_CACHE_SLOTS],
				    strlen(id[EVENT_CACHE_SLOTS])));
	json_object *used = event_cache_use(1, id[0], id[0], strlen(id[0]));
	assert_ptr_equal(used, o[0]);
	event_cache_release(used);
	/* and it cannot be kept either: no kept slot to make room from */
	event_cache_reclaim(1, id[EVENT_CACHE_SLOTS], id[EVENT_CACHE_SLOTS], strlen(id[EVENT_CACHE_SLOTS]),
			    o[EVENT_CACHE_SLOTS], true, 100);
	assert_true(let_go(o[EVENT_CACHE_SLOTS]));
	for (int i = 0; i < EVENT_CACHE_SLOTS; i++) {
		event_cache_reclaim(1, id[i], id[i], strlen(id[i]), o[i], false, 100);
		assert_true(let_go(o[i]));
	}
}

static void test_clear(void **state)
{
	(void)state;
	json_object *o = parse_of(1);
	event_cache_reclaim(1, "evt_a", "a", 1, o, true, 100);
	event_cache_clear();
	assert_true(let_go(o));
	assert_null(event_cache_use(1, "evt_a", "a", 1));
	event_cache_lend(1, "evt_a", "a", 1, NULL);                 /* nothing to lend */
	event_cache_reclaim(1, "evt_a", "a", 1, NULL, true, 100);
	assert_null(event_cache_use(1, "evt_a", "a", 1));
}

/* Request threads lend, keep and drop parses while a writer thread uses
 * them by id, all at once: under ASan (unit-asan) or valgrind a parse put
 * too early or twice fails; every parse is let go at the end. */
#define STRESS_THREADS 4
#define STRESS_ROUNDS 3000

static atomic_int stress_done;

static void *stress_request(void *p)
{
	int t = (int)(intptr_t)p;
	char id[32];
	for (int i = 0; i < STRESS_ROUNDS; i++) {
		snprintf(id, sizeof id, "evt_%d_%d", t, i % 8);
		json_object *o = json_object_new_object();   /* no extra reference: the cache owns it */
		json_object_object_add(o, "n", json_object_new_int(i));
		event_cache_lend(1, id, id, strlen(id), o);
		event_cache_reclaim(1, id, id, strlen(id), o, i % 3 == 0, i);
	}
	atomic_fetch_add(&stress_done, 1);
	return NULL;
}

static void *stress_writer(void *p)
{
	(void)p;
	char id[32];
	unsigned k = 0;
	while (atomic_load(&stress_done) < STRESS_THREADS) {
		snprintf(id, sizeof id, "evt_%u_%u", k % STRESS_THREADS, (k / STRESS_THREADS) % 8);
		k++;
		json_object *o = event_cache_use(1, id, id, strlen(id));
		if (o) {
			assert_true(n_of(o) >= 0);
			event_cache_release(o);
		}
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	(void)state;
	pthread_t req[STRESS_THREADS], writer;
	assert_int_equal(pthread_create(&writer, NULL, stress_writer, NULL), 0);
	for (int t = 0; t < STRESS_THREADS; t++)
		assert_int_equal(pthread_create(&req[t], NULL, stress_request, (void *)(intptr_t)t), 0);
	for (int t = 0; t < STRESS_THREADS; t++)
		pthread_join(req[t], NULL);
	pthread_join(writer, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_lent_then_dropped, teardown),
		cmocka_unit_test_teardown(test_kept_while_waiting, teardown),
		cmocka_unit_test_teardown(test_handed_over_while_in_use, teardown),
		cmocka_unit_test_teardown(test_completed_during_loan_not_kept, teardown),
		cmocka_unit_test_teardown(test_kept_without_loan, teardown),
		cmocka_unit_test_teardown(test_later_delivery_replaces_kept, teardown),
		cmocka_unit_test_teardown(test_oldest_kept_makes_room, teardown),
		cmocka_unit_test_teardown(test_expired_dropped, teardown),
		cmocka_unit_test_teardown(test_lent_never_evicted, teardown),
		cmocka_unit_test_teardown(test_clear, teardown),
		cmocka_unit_test_teardown(test_concurrent, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
