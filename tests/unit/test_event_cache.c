/*
 * test_event_cache.c - unit tests for src/event_cache.c: a kept parse is
 * handed out once and only for the bytes it was parsed from; the oldest
 * and the expired entries make room; a put of the same event replaces it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "event_cache.h"

/* A parsed object carrying n, standing for an event's parse. */
static json_object *parse_of(int n)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "n", json_object_new_int(n));
	return o;
}

static int n_of(json_object *o)
{
	json_object *v;
	assert_true(json_object_object_get_ex(o, "n", &v));
	return json_object_get_int(v);
}

static int teardown(void **state)
{
	(void)state;
	event_cache_clear();
	return 0;
}

static void test_taken_once(void **state)
{
	(void)state;
	event_cache_put(1, "evt_a", "{body a}", 8, parse_of(7), 100, 110);
	assert_null(event_cache_take(2, "evt_a", "{body a}", 8));   /* another connection */
	assert_null(event_cache_take(1, "evt_b", "{body a}", 8));   /* another event */
	json_object *o = event_cache_take(1, "evt_a", "{body a}", 8);
	assert_non_null(o);
	assert_int_equal(n_of(o), 7);
	json_object_put(o);
	assert_null(event_cache_take(1, "evt_a", "{body a}", 8));   /* taken: gone */
}

static void test_other_bytes_never_match(void **state)
{
	(void)state;
	event_cache_put(1, "evt_a", "{body a}", 8, parse_of(1), 100, 110);
	assert_null(event_cache_take(1, "evt_a", "{body b}", 8));    /* same length, other bytes */
	/* the mismatch dropped it: even the right bytes find nothing now */
	assert_null(event_cache_take(1, "evt_a", "{body a}", 8));
	event_cache_put(1, "evt_a", "{body a}", 8, parse_of(2), 100, 110);
	assert_null(event_cache_take(1, "evt_a", "{body a} ", 9));   /* longer */
	event_cache_put(1, "evt_a", "{body a}", 8, parse_of(3), 100, 110);
	assert_null(event_cache_take(1, "evt_a", "{body", 5));       /* a prefix */
}

static void test_same_event_replaced(void **state)
{
	(void)state;
	event_cache_put(1, "evt_a", "{old}", 5, parse_of(1), 100, 110);
	event_cache_put(1, "evt_a", "{new!}", 6, parse_of(2), 100, 110);
	assert_null(event_cache_take(1, "evt_a", "{old}", 5));
	event_cache_put(1, "evt_a", "{new!}", 6, parse_of(2), 100, 110);
	json_object *o = event_cache_take(1, "evt_a", "{new!}", 6);
	assert_non_null(o);
	assert_int_equal(n_of(o), 2);
	json_object_put(o);
}

static void test_oldest_makes_room(void **state)
{
	(void)state;
	char id[32];
	/* one more than fits: the first put is the one dropped */
	for (int i = 0; i <= EVENT_CACHE_SLOTS; i++) {
		snprintf(id, sizeof id, "evt_%d", i);
		event_cache_put(1, id, id, strlen(id), parse_of(i), 100, 200);
	}
	assert_null(event_cache_take(1, "evt_0", "evt_0", 5));
	for (int i = 1; i <= EVENT_CACHE_SLOTS; i++) {
		snprintf(id, sizeof id, "evt_%d", i);
		json_object *o = event_cache_take(1, id, id, strlen(id));
		assert_non_null(o);
		assert_int_equal(n_of(o), i);
		json_object_put(o);
	}
}

static void test_expired_makes_room_first(void **state)
{
	(void)state;
	char id[32];
	/* a full cache whose entry 5 is past its time (105 < 150) */
	for (int i = 0; i < EVENT_CACHE_SLOTS; i++) {
		snprintf(id, sizeof id, "evt_%d", i);
		event_cache_put(1, id, id, strlen(id), parse_of(i), 100, i == 5 ? 105 : 200);
	}
	event_cache_put(1, "evt_new", "evt_new", 7, parse_of(99), 150, 200);
	assert_null(event_cache_take(1, "evt_5", "evt_5", 5));
	json_object *o = event_cache_take(1, "evt_0", "evt_0", 5);   /* the oldest stayed */
	assert_non_null(o);
	json_object_put(o);
	assert_non_null(o = event_cache_take(1, "evt_new", "evt_new", 7));
	assert_int_equal(n_of(o), 99);
	json_object_put(o);
}

static void test_clear(void **state)
{
	(void)state;
	event_cache_put(1, "evt_a", "a", 1, parse_of(1), 100, 110);
	event_cache_clear();
	assert_null(event_cache_take(1, "evt_a", "a", 1));
	event_cache_put(1, "evt_a", "a", 1, NULL, 100, 110);       /* nothing to keep */
	assert_null(event_cache_take(1, "evt_a", "a", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_taken_once, teardown),
		cmocka_unit_test_teardown(test_other_bytes_never_match, teardown),
		cmocka_unit_test_teardown(test_same_event_replaced, teardown),
		cmocka_unit_test_teardown(test_oldest_makes_room, teardown),
		cmocka_unit_test_teardown(test_expired_makes_room_first, teardown),
		cmocka_unit_test_teardown(test_clear, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
