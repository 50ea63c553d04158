/*
 * test_ratelimit.c - the sync's request spacing: slots are evenly spaced,
 * a late caller is not punished for an idle limiter, concurrent callers
 * never share a slot, and no second holds more than `rate` slots. The
 * budget is per Stripe account and mode (the table of limiters): two
 * accounts each get their full rate while one account's jobs share one,
 * on this process's limiters and on a database's budget rows that two
 * nodes share (SQLite here, PostgreSQL under unit-pg); the table is
 * bounded; a thread serving several connections waits at the limiter of
 * the one it names (pacer.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testdb.h"
#include "metrics.h"
#include "pacer.h"
#include "ratelimit.h"
#include "store.h"

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

/* ---- per account and mode ---- */

#define MS 1000000LL

/* Requests of jobs and catch-ups in order: (account, mode, asked at ms) →
 * the slot in ms, at 10/s for test keys and 20/s for live keys. */
static const struct {
	const char *account;
	bool live;
	long long at_ms, slot_ms;
} per_account[] = {
	{"acct_A", false, 0, 0},       /* account A's first sync job */
	{"acct_A", false, 0, 100},     /* its second job (or its catch-up): the same budget */
	{"acct_B", false, 0, 0},       /* account B: a budget of its own, not behind A */
	{"acct_A", false, 0, 200},
	{"acct_B", false, 10, 100},
	{"acct_A", true, 0, 0},        /* A's live key: another budget (Stripe's modes are apart) */
	{"acct_A", true, 0, 50},
	{"acct_C", false, 150, 150},
	{"acct_B", false, 500, 500},   /* B idle meanwhile: no debt, no saved-up burst */
	{"acct_A", false, 250, 300},
};

static void test_accounts_do_not_share_a_budget(void **state)
{
	(void)state;
	struct ratelimits *t = ratelimits_new(20, 10, NULL);
	assert_non_null(t);
	for (size_t i = 0; i < sizeof per_account / sizeof per_account[0]; i++) {
		struct ratelimit *rl = ratelimits_for(t, per_account[i].account, per_account[i].live);
		long long slot = ratelimit_reserve(rl, per_account[i].at_ms * MS);
		assert_int_equal(slot / MS, per_account[i].slot_ms);
	}
	/* one limiter per account and mode, the same for every caller */
	assert_int_equal(ratelimits_count(t), 4);
	assert_ptr_equal(ratelimits_for(t, "acct_A", false), ratelimits_for(t, "acct_A", false));
	assert_ptr_not_equal(ratelimits_for(t, "acct_A", false), ratelimits_for(t, "acct_B", false));
	assert_ptr_not_equal(ratelimits_for(t, "acct_A", false), ratelimits_for(t, "acct_A", true));
	assert_int_equal(ratelimits_count(t), 4);
	ratelimits_free(t);
}

/* Two accounts, each with two jobs asking as fast as they can for two
 * seconds: within any second each account gets its full rate and never
 * more; together they get twice one account's rate. */
static void test_two_accounts_each_get_their_full_rate(void **state)
{
	(void)state;
	enum { RATE = 10, ASKS = 40 };
	struct ratelimits *t = ratelimits_new(0, RATE, NULL);
	static const char *const accounts[2] = {"acct_A", "acct_B"};
	long long slots[2][2 * ASKS];
	int n[2] = {0, 0};
	/* each job asks again the moment its slot comes (its own clock) */
	long long job_at[2][2] = {{0, 0}, {0, 0}};
	for (int round = 0; round < ASKS; round++)
		for (int acc = 0; acc < 2; acc++)
			for (int job = 0; job < 2; job++) {
				struct ratelimit *rl = ratelimits_for(t, accounts[acc], false);
				long long slot = ratelimit_reserve(rl, job_at[acc][job]);
				job_at[acc][job] = slot;
				slots[acc][n[acc]++] = slot;
			}
	int first_second[2] = {0, 0};
	for (int acc = 0; acc < 2; acc++) {
		qsort(slots[acc], (size_t)n[acc], sizeof slots[acc][0], cmp);
		for (int i = 1; i < n[acc]; i++)   /* the account's two jobs take turns */
			assert_int_equal(slots[acc][i] - slots[acc][i - 1], SECOND / RATE);
		for (int i = 0; i + RATE < n[acc]; i++)   /* no second over the account's rate */
			assert_true(slots[acc][i + RATE] - slots[acc][i] >= SECOND);
		for (int i = 0; i < n[acc]; i++)
			first_second[acc] += slots[acc][i] < SECOND;
	}
	assert_int_equal(first_second[0], RATE);
	assert_int_equal(first_second[1], RATE);
	assert_int_equal(first_second[0] + first_second[1], 2 * RATE);
	ratelimits_free(t);
}

/* The table is bounded: odd account ids, accounts past RATELIMITS_MAX and
 * modes without a limit share the mode's overflow limiter; nothing leaks
 * (unit-asan). */
static void test_the_table_is_bounded(void **state)
{
	(void)state;
	struct ratelimits *t = ratelimits_new(0, 10, NULL);
	struct ratelimit *overflow = ratelimits_for(t, NULL, false);
	assert_non_null(overflow);
	assert_ptr_equal(ratelimits_for(t, "", false), overflow);
	char long_id[RATELIMIT_ACCOUNT_MAX + 2];
	memset(long_id, 'x', sizeof long_id - 1);
	long_id[sizeof long_id - 1] = '\0';
	assert_ptr_equal(ratelimits_for(t, long_id, false), overflow);
	long_id[RATELIMIT_ACCOUNT_MAX] = '\0';   /* the longest id that has its own */
	assert_ptr_not_equal(ratelimits_for(t, long_id, false), overflow);
	/* live keys unlimited here: no limiter made, no wait */
	struct ratelimit *live = ratelimits_for(t, "acct_A", true);
	assert_int_equal(ratelimit_reserve(live, 5 * MS), 5 * MS);
	assert_int_equal(ratelimit_reserve(live, 5 * MS), 5 * MS);
	assert_int_equal(ratelimits_count(t), 1);
	char id[32];
	for (int i = 1; i < RATELIMITS_MAX; i++) {
		snprintf(id, sizeof id, "acct_%d", i);
		assert_ptr_not_equal(ratelimits_for(t, id, false), overflow);
	}
	assert_int_equal(ratelimits_count(t), RATELIMITS_MAX);
	assert_ptr_equal(ratelimits_for(t, "acct_one_too_many", false), overflow);
	assert_ptr_not_equal(ratelimits_for(t, "acct_7", false), overflow);   /* still found */
	assert_int_equal(ratelimits_count(t), RATELIMITS_MAX);
	ratelimits_free(t);
	ratelimits_free(NULL);
	assert_null(ratelimits_for(NULL, "acct_A", false));
}

/* ---- on a shared database ---- */

struct dbfix {
	char dir[64];
	char path[128];
	struct store *db;
};

static int db_setup(void **state)
{
	struct dbfix *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof fx->dir, "/tmp/sl-test-ratelimit-XXXXXX");
	sl_err e = SL_OK;
	if (!mkdtemp(fx->dir) || !testdb_make(fx->dir, fx->path, sizeof fx->path) ||
	    !(fx->db = store_open(fx->path, &e)) || store_migrate(fx->db)) {
		store_close(fx->db);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int db_teardown(void **state)
{
	struct dbfix *fx = *state;
	store_close(fx->db);
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char p[160];
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		snprintf(p, sizeof p, "%s%s", fx->path, suffixes[i]);
		unlink(p);
	}
	rmdir(fx->dir);
	testdb_drop(fx->dir);
	free(fx);
	return 0;
}

/* Two nodes (two tables) on one database: an account's budget row is
 * shared by both nodes, another account's is its own. Times are unix ms
 * from T on the test's own clock. */
static const struct {
	int node;
	const char *account;
	bool live;
	long long at_ms, slot_ms;
} two_nodes[] = {
	{0, "acct_A", false, 0, 0},
	{1, "acct_A", false, 0, 100},    /* the other node: behind the first, one budget */
	{1, "acct_B", false, 0, 0},      /* another account: its own row */
	{0, "acct_B", false, 0, 100},
	{0, "acct_A", false, 0, 200},
	{1, "acct_A", true, 0, 0},       /* A's live mode: its own row, 20/s */
	{0, "acct_A", true, 0, 50},
	{1, "acct_B", false, 40, 200},
	{0, "acct_C", false, 400, 400},
};

static void test_two_nodes_share_each_accounts_budget(void **state)
{
	struct dbfix *fx = *state;
	const long long T = 1700000000000LL * MS;
	struct ratelimits *node[2] = {ratelimits_new(20, 10, fx->path), ratelimits_new(20, 10, fx->path)};
	assert_non_null(node[0]);
	assert_non_null(node[1]);
	for (size_t i = 0; i < sizeof two_nodes / sizeof two_nodes[0]; i++) {
		struct ratelimit *rl = ratelimits_for(node[two_nodes[i].node], two_nodes[i].account, two_nodes[i].live);
		assert_non_null(rl->db);   /* reserved from the database, not this process */
		long long slot = ratelimit_reserve(rl, T + two_nodes[i].at_ms * MS);
		assert_int_equal((slot - T) / MS, two_nodes[i].slot_ms);
	}
	/* the rows are the database's: a third node continues them */
	struct ratelimits *third = ratelimits_new(20, 10, fx->path);
	assert_int_equal((ratelimit_reserve(ratelimits_for(third, "acct_A", false), T) - T) / MS, 300);
	assert_int_equal((ratelimit_reserve(ratelimits_for(third, "acct_B", false), T) - T) / MS, 300);
	ratelimits_free(third);
	ratelimits_free(node[0]);
	ratelimits_free(node[1]);
}

/* The waiting-events thread's clients serve every connection of a mode:
 * each request waits at the limiter of the connection the thread names. */
static void test_a_pacer_follows_the_threads_connection(void **state)
{
	struct dbfix *fx = *state;
	long long a_test, b_test, a_live;
	assert_int_equal(store_connection_begin(fx->db, "acct_A", "A", false, 1000, &a_test), SL_OK);
	assert_int_equal(store_connection_begin(fx->db, "acct_B", "B", false, 1000, &b_test), SL_OK);
	assert_int_equal(store_connection_begin(fx->db, "acct_A", "A", true, 1000, &a_live), SL_OK);
	struct ratelimits *t = ratelimits_new(20, 10, NULL);
	struct pacer *p = pacer_new(t, fx->path, false);
	assert_non_null(p);
	metrics_set_connection(0);
	assert_ptr_equal(pacer_limiter(p), ratelimits_for(t, NULL, false));   /* none named */
	metrics_set_connection(a_test);
	assert_ptr_equal(pacer_limiter(p), ratelimits_for(t, "acct_A", false));
	metrics_set_connection(b_test);
	assert_ptr_equal(pacer_limiter(p), ratelimits_for(t, "acct_B", false));
	metrics_set_connection(a_test);
	assert_ptr_equal(pacer_limiter(p), ratelimits_for(t, "acct_A", false));
	metrics_set_connection(a_live);   /* the connection's own mode */
	assert_ptr_equal(pacer_limiter(p), ratelimits_for(t, "acct_A", true));
	metrics_set_connection(a_live + b_test + a_test);   /* no such connection */
	assert_ptr_equal(pacer_limiter(p), ratelimits_for(t, NULL, false));
	metrics_set_connection(0);
	pacer_free(p);
	pacer_free(NULL);
	ratelimits_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots),
		cmocka_unit_test(test_concurrent_callers_never_share_a_slot),
		cmocka_unit_test(test_accounts_do_not_share_a_budget),
		cmocka_unit_test(test_two_accounts_each_get_their_full_rate),
		cmocka_unit_test(test_the_table_is_bounded),
		cmocka_unit_test_setup_teardown(test_two_nodes_share_each_accounts_budget, db_setup, db_teardown),
		cmocka_unit_test_setup_teardown(test_a_pacer_follows_the_threads_connection, db_setup, db_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
