/*
 * test_writer.c - unit tests for src/writer.c: many threads writing
 * through the one writer all get their own results; a failing job is
 * rolled back alone while the rest of its group commits; the counters.
 * Effects are checked by reading back on a separate store connection.
 *
 * Worker threads never call cmocka's assertions (they are not thread
 * safe); they record what they saw and the main thread checks it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testdb.h"
#include "arena.h"
#include "err.h"
#include "store.h"
#include "writer.h"

#define THREADS 16
#define JOBS_PER_THREAD 25

struct fixture {
	char dir[64];
	char path[128];
	struct store *reader;   /* a separate connection for reading back */
	struct writer *w;
	struct arena *a;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof fx->dir, "/tmp/sl-test-writer-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	if (!testdb_make(fx->dir, fx->path, sizeof fx->path)) {
		rmdir(fx->dir);
		free(fx);
		return -1;
	}
	sl_err e;
	fx->reader = store_open(fx->path, &e);
	if (!fx->reader || store_migrate(fx->reader))
		return -1;
	fx->w = writer_start(fx->path, &e);
	if (!fx->w || e)
		return -1;
	fx->a = arena_new();
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	writer_stop(fx->w);
	store_close(fx->reader);
	arena_free(fx->a);
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		char p[160];
		snprintf(p, sizeof p, "%s%s", fx->path, suffixes[i]);
		unlink(p);
	}
	rmdir(fx->dir);
	testdb_drop(fx->dir);
	free(fx);
	return 0;
}

/* Number of contacts matching text, read on the fixture's own connection. */
static long long count_contacts(struct fixture *fx, const char *text)
{
	struct contact_query q = {.text = text, .limit = 1};
	struct contact *list;
	size_t n;
	long long total = -1;
	assert_int_equal(store_contacts_search(fx->reader, fx->a, &q, &list, &n, &total), SL_OK);
	return total;
}

/* ---- jobs ---- */

struct insert {
	char email[64];
	bool fail_after_write;   /* write, then return SL_ERR_INVALID */
	long long id;            /* set by the job */
	bool created;
	int runs;                /* how many times the job ran */
	sl_err result;           /* what writer_run returned */
};

static sl_err insert_job(struct store *db, void *arg)
{
	struct insert *j = arg;
	j->runs++;
	sl_err e = store_contact_upsert(db, j->email, j->email, 1, &j->id, &j->created);
	if (e)
		return e;
	if ((e = store_contact_set(db, j->id, "first_name", "written", 2)))
		return e;
	return j->fail_after_write ? SL_ERR_INVALID : SL_OK;
}

/* ---- many threads ---- */

struct worker {
	struct writer *w;
	int index;
	struct insert jobs[JOBS_PER_THREAD];
};

static void *worker_main(void *p)
{
	struct worker *wk = p;
	for (int i = 0; i < JOBS_PER_THREAD; i++) {
		struct insert *j = &wk->jobs[i];
		snprintf(j->email, sizeof j->email, "t%02d-j%02d@many.example", wk->index, i);
		/* every seventh job of every thread fails after writing */
		j->fail_after_write = i % 7 == 3;
		j->result = writer_run(wk->w, insert_job, j);
	}
	return NULL;
}

static void test_many_threads(void **state)
{
	struct fixture *fx = *state;
	static struct worker workers[THREADS];
	pthread_t tids[THREADS];

	for (int t = 0; t < THREADS; t++) {
		memset(&workers[t], 0, sizeof workers[t]);
		workers[t].w = fx->w;
		workers[t].index = t;
		assert_int_equal(pthread_create(&tids[t], NULL, worker_main, &workers[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_join(tids[t], NULL), 0);

	long long ok = 0, failed = 0;
	for (int t = 0; t < THREADS; t++) {
		for (int i = 0; i < JOBS_PER_THREAD; i++) {
			struct insert *j = &workers[t].jobs[i];
			sl_err want = j->fail_after_write ? SL_ERR_INVALID : SL_OK;
			if (j->result != want)
				fail_msg("%s: writer_run gave %s, expected %s", j->email,
					 err_name(j->result), err_name(want));
			/* each job saw its own insert */
			assert_true(j->created);
			assert_true(j->id > 0);
			/* and its effects are exactly there or exactly gone */
			long long n = count_contacts(fx, j->email);
			assert_int_equal(n, j->fail_after_write ? 0 : 1);
			if (j->fail_after_write) {
				failed++;
			} else {
				struct contact c;
				assert_int_equal(store_contact_get(fx->reader, fx->a, j->id, &c), SL_OK);
				assert_string_equal(c.email, j->email);
				assert_string_equal(c.first_name, "written");
				ok++;
			}
		}
	}
	assert_int_equal(count_contacts(fx, "@many.example"), ok);
	assert_true(failed > 0);

	/* ids of the committed jobs are distinct */
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < JOBS_PER_THREAD; i++)
			for (int u = t; u < THREADS; u++)
				for (int k = (u == t ? i + 1 : 0); k < JOBS_PER_THREAD; k++) {
					const struct insert *a = &workers[t].jobs[i], *b = &workers[u].jobs[k];
					if (!a->fail_after_write && !b->fail_after_write)
						assert_true(a->id != b->id);
				}

	struct writer_stats st;
	writer_stats(fx->w, &st);
	assert_int_equal(st.jobs, THREADS * JOBS_PER_THREAD);
	assert_true(st.groups >= 1);
	assert_true(st.groups <= st.jobs);
	assert_true(st.largest >= 1);
	assert_true(st.largest <= THREADS); /* one job per thread at a time */
}

/* ---- one group with a failing job ---- */

/* A job that holds the writer until released, so others queue up. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool holding;       /* set by the job once it runs */
	bool open;          /* set by the test to let it finish */
	int entered;        /* threads about to call writer_run */
};

static sl_err gate_job(struct store *db, void *arg)
{
	struct gate *g = arg;
	(void)db;
	pthread_mutex_lock(&g->lock);
	g->holding = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	return SL_OK;
}

struct gated {
	struct writer *w;
	struct gate *g;
	struct insert *job;
	writer_fn fn;
	bool rerunnable;    /* queued as writer_keys.rerunnable (no keys) */
	sl_err result;
};

static void *gate_main(void *p)
{
	struct gated *t = p;
	t->result = writer_run(t->w, gate_job, t->g);
	return NULL;
}

static void *queued_main(void *p)
{
	struct gated *t = p;
	pthread_mutex_lock(&t->g->lock);
	t->g->entered++;
	pthread_cond_broadcast(&t->g->cond);
	pthread_mutex_unlock(&t->g->lock);
	struct writer_keys ks = {.n = 0, .rerunnable = true};
	t->job->result = t->rerunnable ? writer_run_keyed(t->w, t->fn, t->job, &ks) : writer_run(t->w, t->fn, t->job);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The group runs each job in its savepoint; a group of rerunnable jobs
 * runs first without, and when a job fails, again with them. Either way
 * the failing job alone is rolled back. */
static void failing_job_rolled_back_alone(void **state, bool rerunnable)
{
	struct fixture *fx = *state;
	struct gate g = {.holding = false, .open = false, .entered = 0};
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.cond, NULL);
	struct writer_stats before, after;
	writer_stats(fx->w, &before);

	/* 1. hold the writer */
	struct gated holder = {.w = fx->w, .g = &g};
	pthread_t holder_tid;
	assert_int_equal(pthread_create(&holder_tid, NULL, gate_main, &holder), 0);
	pthread_mutex_lock(&g.lock);
	while (!g.holding)
		pthread_cond_wait(&g.cond, &g.lock);
	pthread_mutex_unlock(&g.lock);

	/* 2. queue good, failing, good, same key as the first, good */
	enum { N = 5 };
	struct insert jobs[N];
	memset(jobs, 0, sizeof jobs);
	static const char *const emails[N] = {
		"good-1@group.example", "bad@group.example", "good-2@group.example",
		"good-1@group.example" /* job 0's key: must see its uncommitted row */,
		"good-3@group.example",
	};
	for (int i = 0; i < N; i++)
		snprintf(jobs[i].email, sizeof jobs[i].email, "%s", emails[i]);
	jobs[1].fail_after_write = true;
	struct gated queued[N];
	pthread_t tids[N];
	for (int i = 0; i < N; i++) {
		queued[i] = (struct gated){.w = fx->w, .g = &g, .job = &jobs[i], .fn = insert_job,
					   .rerunnable = rerunnable};
		assert_int_equal(pthread_create(&tids[i], NULL, queued_main, &queued[i]), 0);
		/* one at a time, so the queue order is (very likely) the array order */
		pthread_mutex_lock(&g.lock);
		while (g.entered < i + 1)
			pthread_cond_wait(&g.cond, &g.lock);
		pthread_mutex_unlock(&g.lock);
		sleep_ms(20);
	}
	sleep_ms(200); /* the last one is in the queue too */

	/* nothing is visible while the writer is held */
	assert_int_equal(count_contacts(fx, "@group.example"), 0);

	/* 3. let the writer go */
	pthread_mutex_lock(&g.lock);
	g.open = true;
	pthread_cond_broadcast(&g.cond);
	pthread_mutex_unlock(&g.lock);
	assert_int_equal(pthread_join(holder_tid, NULL), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_join(tids[i], NULL), 0);
	assert_int_equal(holder.result, SL_OK);

	assert_int_equal(jobs[0].result, SL_OK);
	assert_int_equal(jobs[1].result, SL_ERR_INVALID);
	assert_int_equal(jobs[2].result, SL_OK);
	/* a later job in the group sees an earlier one's uncommitted write:
	 * of the two with the same key, one created the row, one found it */
	assert_int_equal(jobs[3].result, SL_OK);
	assert_true(jobs[0].created != jobs[3].created);
	assert_int_equal(jobs[3].id, jobs[0].id);
	assert_int_equal(jobs[4].result, SL_OK);
	/* without savepoints, the jobs up to the failing one ran twice */
	assert_int_equal(jobs[0].runs, rerunnable ? 2 : 1);
	assert_int_equal(jobs[1].runs, rerunnable ? 2 : 1);
	assert_int_equal(jobs[4].runs, 1);

	/* read back on another connection */
	assert_int_equal(count_contacts(fx, "@group.example"), 3);
	assert_int_equal(count_contacts(fx, "bad@group.example"), 0);
	assert_int_equal(count_contacts(fx, "good-1@group.example"), 1);
	assert_int_equal(count_contacts(fx, "good-2@group.example"), 1);
	assert_int_equal(count_contacts(fx, "good-3@group.example"), 1);

	/* the five queued jobs ran as one group after the holder's */
	writer_stats(fx->w, &after);
	assert_int_equal(after.jobs - before.jobs, N + 1);
	assert_int_equal(after.groups - before.groups, 2);
	assert_true(after.largest >= N);

	pthread_mutex_destroy(&g.lock);
	pthread_cond_destroy(&g.cond);
}

static void test_failing_job_rolled_back_alone(void **state)
{
	failing_job_rolled_back_alone(state, false);
}

static void test_failing_rerunnable_job_rolled_back_alone(void **state)
{
	failing_job_rolled_back_alone(state, true);
}

/* A job that fails inside SQLite (a constraint) is rolled back alone too,
 * and the writer goes on. */
struct user_job {
	const char *name;
	bool then_fail;
};

static sl_err user_job(struct store *db, void *arg)
{
	struct user_job *j = arg;
	sl_err e = store_user_create(db, j->name, "hash", 1, NULL);
	if (e)
		return e;
	return j->then_fail ? SL_ERR_INVALID : SL_OK;
}

static void test_constraint_failure(void **state)
{
	struct fixture *fx = *state;
	struct user_job first = {"admin", false}, dup = {"ADMIN", false}, other = {"other", false};
	struct user_job partial = {"partial", true};
	long long n;
	struct user u;

	assert_int_equal(writer_run(fx->w, user_job, &first), SL_OK);
	assert_int_equal(writer_run(fx->w, user_job, &dup), SL_ERR_EXISTS);
	assert_int_equal(writer_run(fx->w, user_job, &partial), SL_ERR_INVALID);
	assert_int_equal(writer_run(fx->w, user_job, &other), SL_OK);
	assert_int_equal(store_user_count(fx->reader, &n), SL_OK);
	assert_int_equal(n, 2);
	assert_int_equal(store_user_find(fx->reader, fx->a, "partial", &u), SL_ERR_NOT_FOUND);
	assert_int_equal(store_user_find(fx->reader, fx->a, "other", &u), SL_OK);

	struct writer_stats st;
	writer_stats(fx->w, &st);
	assert_int_equal(st.jobs, 4);
	assert_int_equal(st.groups, 4);
	assert_int_equal(st.largest, 1);
}

/* Durable on return: a fresh connection sees the write at once. */
static void test_visible_after_return(void **state)
{
	struct fixture *fx = *state;
	struct insert j = {.email = "now@x.example"};
	assert_int_equal(writer_run(fx->w, insert_job, &j), SL_OK);
	sl_err e;
	struct store *fresh = store_open(fx->path, &e);
	assert_non_null(fresh);
	struct contact c;
	assert_int_equal(store_contact_get(fresh, fx->a, j.id, &c), SL_OK);
	assert_string_equal(c.email, "now@x.example");
	store_close(fresh);
}

static void test_start_failure(void **state)
{
	(void)state;
	sl_err e = SL_OK;
	struct writer *w = writer_start("/nonexistent-dir-for-stripelink-tests/x.db", &e);
	assert_null(w);
	assert_int_not_equal(e, SL_OK);
	writer_stop(NULL);
}

static void test_stats_fresh(void **state)
{
	struct fixture *fx = *state;
	struct writer_stats st;
	memset(&st, 0xff, sizeof st);
	writer_stats(fx->w, &st);
	assert_int_equal(st.jobs, 0);
	assert_int_equal(st.groups, 0);
	assert_int_equal(st.largest, 0);
}

/* ---- keyed jobs (several writer threads on PostgreSQL) ---- */

/* Two jobs meet through these: a job marks itself started after its first
 * read (when its transaction holds its keys), then the first waits for the
 * second's mark. */
struct meeting {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool second_started;
	bool first_saw_second;   /* set by the first job */
	int wait_ms;
};

struct keyed_call {
	struct writer *w;
	struct meeting *m;
	const char *key;         /* NULL: an unkeyed job */
	bool first;
	sl_err result;
};

static sl_err meeting_job(struct store *db, void *arg)
{
	struct keyed_call *c = arg;
	struct meeting *m = c->m;
	sl_err e = store_ping(db);   /* the transaction's first round trip: keys held from here */
	if (e)
		return e;
	pthread_mutex_lock(&m->lock);
	if (!c->first) {
		m->second_started = true;
		pthread_cond_broadcast(&m->changed);
	} else {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)m->wait_ms * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!m->second_started)
			if (pthread_cond_timedwait(&m->changed, &m->lock, &until) != 0)
				break;
		m->first_saw_second = m->second_started;
	}
	pthread_mutex_unlock(&m->lock);
	return SL_OK;
}

static void *keyed_main(void *p)
{
	struct keyed_call *c = p;
	struct writer_keys ks = {.n = 0};
	writer_keys_add(&ks, c->key);
	c->result = c->key ? writer_run_keyed(c->w, meeting_job, c, &ks) : writer_run(c->w, meeting_job, c);
	return NULL;
}

/* Runs the first job, then (once the first is in its transaction) the
 * second; returns whether the first saw the second run meanwhile. */
static bool meet(struct writer *w, const char *first_key, const char *second_key, int wait_ms)
{
	struct meeting m = {.wait_ms = wait_ms};
	pthread_mutex_init(&m.lock, NULL);
	pthread_cond_init(&m.changed, NULL);
	struct keyed_call a = {.w = w, .m = &m, .key = first_key, .first = true};
	struct keyed_call b = {.w = w, .m = &m, .key = second_key};
	pthread_t ta, tb;
	assert_int_equal(pthread_create(&ta, NULL, keyed_main, &a), 0);
	usleep(100 * 1000);   /* the first is queued and taken before the second */
	assert_int_equal(pthread_create(&tb, NULL, keyed_main, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(a.result, SL_OK);
	assert_int_equal(b.result, SL_OK);
	pthread_mutex_destroy(&m.lock);
	pthread_cond_destroy(&m.changed);
	return m.first_saw_second;
}

static void test_keys_hash_once(void **state)
{
	(void)state;
	struct writer_keys ks = {.n = 0};
	writer_keys_add(&ks, "cus_1");
	writer_keys_add(&ks, "cus_1");
	writer_keys_add(&ks, NULL);
	writer_keys_add(&ks, "");
	writer_keys_add(&ks, "ch_1");
	assert_int_equal(ks.n, 2);
	assert_true(ks.k[0] != ks.k[1]);
	assert_false(ks.overflow);
	for (int i = 0; i < WRITER_KEYS + 1; i++) {
		char id[16];
		snprintf(id, sizeof id, "obj_%d", i);
		writer_keys_add(&ks, id);
	}
	assert_int_equal(ks.n, WRITER_KEYS);
	assert_true(ks.overflow);
}

/* Jobs with different keys run side by side on PostgreSQL (several writer
 * threads); on SQLite's one writer the second waits for the first. */
static void test_keyed_side_by_side(void **state)
{
	struct fixture *fx = *state;
	sl_err e;
	struct writer *w = writer_start_n(fx->path, 4, &e);
	assert_non_null(w);
	bool several = !store_is_file(fx->path);
	assert_int_equal(meet(w, "cus_a", "cus_b", several ? 5000 : 500), several);
	writer_stop(w);
}

/* Jobs that share a key never overlap; nor does a job without keys with
 * anything. */
static void test_keyed_one_at_a_time(void **state)
{
	struct fixture *fx = *state;
	sl_err e;
	struct writer *w = writer_start_n(fx->path, 4, &e);
	assert_non_null(w);
	assert_false(meet(w, "cus_same", "cus_same", 500));
	assert_false(meet(w, NULL, "cus_other", 500));
	assert_false(meet(w, "cus_other", NULL, 500));
	writer_stop(w);
}

/* Jobs that log their start in a shared gate and may hold their group
 * open until the gate opens. */
struct order_gate {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	char log[16];
	int n;
	bool open;
};

struct gated_call {
	struct writer *w;
	struct order_gate *g;
	char name;
	const char *keys[2];
	bool hold;
	sl_err result;
	pthread_t thread;
};

static void deadline_in(struct timespec *until, int ms)
{
	clock_gettime(CLOCK_REALTIME, until);
	until->tv_nsec += (long)ms * 1000000L;
	until->tv_sec += until->tv_nsec / 1000000000L;
	until->tv_nsec %= 1000000000L;
}

static sl_err gated_job(struct store *db, void *arg)
{
	struct gated_call *c = arg;
	sl_err e = store_ping(db);   /* keys held from here */
	if (e)
		return e;
	struct order_gate *g = c->g;
	struct timespec until;
	deadline_in(&until, 5000);
	pthread_mutex_lock(&g->lock);
	g->log[g->n++] = c->name;
	pthread_cond_broadcast(&g->changed);
	while (c->hold && !g->open)
		if (pthread_cond_timedwait(&g->changed, &g->lock, &until) != 0)
			break;
	pthread_mutex_unlock(&g->lock);
	return SL_OK;
}

static void *gated_main(void *p)
{
	struct gated_call *c = p;
	struct writer_keys ks = {.n = 0};
	for (int i = 0; i < 2; i++)
		writer_keys_add(&ks, c->keys[i]);
	c->result = writer_run_keyed(c->w, gated_job, c, &ks);
	return NULL;
}

/* Whether job name has started within ms. */
static bool started_within(struct order_gate *g, char name, int ms)
{
	struct timespec until;
	deadline_in(&until, ms);
	pthread_mutex_lock(&g->lock);
	bool seen = false;
	while (!(seen = memchr(g->log, name, (size_t)g->n) != NULL))
		if (pthread_cond_timedwait(&g->changed, &g->lock, &until) != 0)
			break;
	pthread_mutex_unlock(&g->lock);
	return seen;
}

static void gate_open(struct order_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->changed);
	pthread_mutex_unlock(&g->lock);
}

static void gated_start(struct gated_call *c)
{
	assert_int_equal(pthread_create(&c->thread, NULL, gated_main, c), 0);
	usleep(50 * 1000);   /* queued (or taken) before the next one */
}

/* What happened to B and C, queued (in that order) behind A, which holds
 * its group open on cus_x. */
struct three {
	bool b_ran, c_ran;   /* started while A held its group */
	char log[4];         /* the order the three started in */
	sl_err results;      /* the three results, summed */
};

/* Runs A (cus_x), then B (b_keys) and C (c_key) on a writer of threads
 * threads; gives C c_ms and then B 100 ms to start while A holds, then lets
 * all finish (the threads end before any assertion can leave). */
static struct three run_three(const char *path, int threads, const char *b_keys[2], const char *c_key,
			      int c_ms)
{
	sl_err e;
	struct writer *w = writer_start_n(path, threads, &e);
	assert_non_null(w);
	struct order_gate g = {.n = 0};
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.changed, NULL);
	struct gated_call a = {w, &g, 'A', {"cus_x"}, true, SL_OK, 0};
	struct gated_call b = {w, &g, 'B', {b_keys[0], b_keys[1]}, false, SL_OK, 0};
	struct gated_call c = {w, &g, 'C', {c_key}, false, SL_OK, 0};
	struct three r = {.log = ""};
	gated_start(&a);
	bool a_ran = started_within(&g, 'A', 5000);
	gated_start(&b);
	gated_start(&c);
	r.c_ran = started_within(&g, 'C', c_ms);
	r.b_ran = started_within(&g, 'B', 100);
	gate_open(&g);
	pthread_join(a.thread, NULL);
	pthread_join(b.thread, NULL);
	pthread_join(c.thread, NULL);
	writer_stop(w);
	memcpy(r.log, g.log, 3);
	r.results = a.result + b.result + c.result;
	pthread_mutex_destroy(&g.lock);
	pthread_cond_destroy(&g.changed);
	assert_true(a_ran);
	return r;
}

/* Several writer threads: a job whose key a running group holds is passed
 * over, not taken into a group that would wait for it in the database; the
 * unrelated job queued behind it runs at once. */
static void test_keyed_passed_over(void **state)
{
	struct fixture *fx = *state;
	if (store_is_file(fx->path))
		return;   /* one writer thread: nothing runs beside a held group */
	/* two threads: were B taken, its thread would wait in the database
	 * and C would find none free */
	const char *b_keys[2] = {"cus_x", NULL};
	struct three r = run_three(fx->path, 2, b_keys, "cus_z", 2000);
	assert_true(r.c_ran);   /* while A still holds cus_x */
	assert_false(r.b_ran);
	assert_int_equal(r.results, SL_OK);
	assert_memory_equal(r.log, "ACB", 3);
}

/* A job passed over holds back the later jobs that share a key with it:
 * B (cus_x, cus_y) waits for A (cus_x); C (cus_y) came after B, so it runs
 * after B, though nothing running holds cus_y. */
static void test_keyed_order_kept(void **state)
{
	struct fixture *fx = *state;
	const char *b_keys[2] = {"cus_x", "cus_y"};
	struct three r = run_three(fx->path, 4, b_keys, "cus_y", 300);
	assert_false(r.c_ran);
	assert_false(r.b_ran);
	assert_int_equal(r.results, SL_OK);
	assert_memory_equal(r.log, "ABC", 3);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_stats_fresh),
		T(test_many_threads),
		T(test_failing_job_rolled_back_alone),
		T(test_failing_rerunnable_job_rolled_back_alone),
		T(test_constraint_failure),
		T(test_visible_after_return),
		T(test_keyed_side_by_side),
		T(test_keyed_one_at_a_time),
		T(test_keyed_passed_over),
		T(test_keyed_order_kept),
		cmocka_unit_test(test_keys_hash_once),
		cmocka_unit_test(test_start_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
