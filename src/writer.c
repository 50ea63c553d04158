/*
 * writer.c - the group-commit writer threads; see writer.h.
 */
#include "writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define WRITER_MAX_GROUP 512
#define WRITER_MAX_THREADS 32

struct job {
	writer_fn fn;
	void *arg;
	const struct writer_keys *keys;   /* borrowed from the waiter; NULL: the job runs alone */
	sl_err result;
	bool done;
	pthread_cond_t wake;   /* signalled when done: only this waiter wakes */
	struct job *next;
};

struct writer;

struct writer_thread {
	struct writer *w;
	struct store *db;      /* owned; used only by this thread */
	pthread_t thread;
	bool started;
	long long *keys;       /* owned: its group's keys, sorted, each once */
	size_t n_keys;         /* guarded by w->lock while running */
	bool running;          /* guarded by w->lock: its group holds its keys */
	bool alone;            /* its group runs alone (a job names no keys) */
};

struct writer {
	pthread_mutex_t lock;
	pthread_cond_t work;         /* signalled when a job is queued or a group ends */
	struct job *head, *tail;     /* queue, guarded by lock */
	bool stopping;
	int running;                 /* groups running, guarded by lock */
	bool alone_running;          /* one of them runs alone, guarded by lock */
	struct writer_stats stats;   /* guarded by lock */
	int n;
	struct writer_thread t[WRITER_MAX_THREADS];
};

void writer_keys_add(struct writer_keys *ks, const char *id)
{
	if (!id || !*id)
		return;
	uint64_t h = 14695981039346656037ULL;   /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	long long k = (long long)h;
	for (int i = 0; i < ks->n; i++)
		if (ks->k[i] == k)
			return;
	if (ks->n == WRITER_KEYS)
		ks->overflow = true;
	else
		ks->k[ks->n++] = k;
}

static int key_order(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* Begins the group's transaction: holding its keys (pick() gathered
 * them), or alone. */
static sl_err begin(struct writer_thread *t)
{
	return t->alone ? store_begin(t->db) : store_begin_keyed(t->db, t->keys, (int)t->n_keys);
}

static bool has_key(const long long *keys, size_t n, long long k)
{
	return bsearch(&k, keys, n, sizeof *keys, key_order) != NULL;
}

/* Whether a job with keys ks must wait for a group another thread of
 * this process runs (one of its keys is held there). Under w->lock. */
static bool held_elsewhere(const struct writer *w, const struct writer_thread *self,
			   const struct writer_keys *ks)
{
	for (int i = 0; i < w->n; i++) {
		const struct writer_thread *o = &w->t[i];
		if (o == self || !o->running)
			continue;
		for (int k = 0; k < ks->n; k++)
			if (has_key(o->keys, o->n_keys, ks->k[k]))
				return true;
	}
	return false;
}

#define WRITER_SKIPPED 256   /* keys of the jobs a pick passes over, at most */

/*
 * Takes a group off the queue for t, under w->lock: the jobs, oldest
 * first, up to WRITER_MAX_GROUP, that no other thread's running group
 * holds a key of. Within this process a job so never waits inside the
 * database for a key another writer thread holds (the database's key
 * locks still order the jobs of several processes). A job passed over
 * holds back every later job that shares a key with it, so jobs that share
 * a key run in the order they came. A job that names no keys runs alone:
 * it is taken only while no other group runs and nothing before it was
 * passed over, and then its group is taken whole; while it runs, nothing
 * else is. Sets t's keys, running and alone; returns the group (NULL:
 * nothing to run now) and its size in *count.
 */
static struct job *pick(struct writer *w, struct writer_thread *t, size_t *count)
{
	struct job *group = NULL, *glast = NULL, *prev = NULL;
	long long skipped[WRITER_SKIPPED];
	size_t n_skipped = 0, n_keys = 0;
	bool alone = false;
	*count = 0;
	if (w->alone_running)
		return NULL;
	for (struct job *j = w->head, *next; j && *count < WRITER_MAX_GROUP; j = next) {
		next = j->next;
		bool unkeyed = !j->keys || j->keys->overflow;
		if (unkeyed && !alone) {
			if (w->running || n_skipped)
				break;   /* it waits for everything before it */
			alone = true;
		} else if (!alone) {
			bool wait = held_elsewhere(w, t, j->keys);
			for (int k = 0; k < j->keys->n && !wait; k++)
				for (size_t i = 0; i < n_skipped && !wait; i++)
					wait = skipped[i] == j->keys->k[k];
			if (wait) {
				if (n_skipped + (size_t)j->keys->n > WRITER_SKIPPED)
					break;
				memcpy(skipped + n_skipped, j->keys->k, (size_t)j->keys->n * sizeof *skipped);
				n_skipped += (size_t)j->keys->n;
				prev = j;
				continue;
			}
			memcpy(t->keys + n_keys, j->keys->k, (size_t)j->keys->n * sizeof *t->keys);
			n_keys += (size_t)j->keys->n;
		}
		/* take j off the queue, onto the group */
		if (prev)
			prev->next = next;
		else
			w->head = next;
		if (w->tail == j)
			w->tail = prev;
		j->next = NULL;
		if (glast)
			glast->next = j;
		else
			group = j;
		glast = j;
		(*count)++;
	}
	if (!group)
		return NULL;
	qsort(t->keys, n_keys, sizeof *t->keys, key_order);
	size_t u = 0;
	for (size_t i = 0; i < n_keys; i++)
		if (!u || t->keys[u - 1] != t->keys[i])
			t->keys[u++] = t->keys[i];
	t->n_keys = u;
	t->alone = alone;
	t->running = true;
	w->running++;
	w->alone_running = alone;
	return group;
}

/* Whether every job of the group may run twice (writer_keys.rerunnable). */
static bool rerunnable(const struct job *group)
{
	for (const struct job *j = group; j; j = j->next)
		if (!j->keys || !j->keys->rerunnable)
			return false;
	return true;
}

/* Runs a group of rerunnable jobs in one transaction without savepoints;
 * true when every job succeeded and the commit did. Otherwise the
 * transaction is rolled back and nothing of it stays. */
static bool run_plain(struct store *db, struct job *group)
{
	for (struct job *j = group; j; j = j->next)
		if ((j->result = j->fn(db, j->arg))) {
			store_rollback(db);
			return false;
		}
	if (store_commit(db)) {   /* a queued write failed, or the commit did */
		store_rollback(db);
		return false;
	}
	return true;
}

/* Runs one group; returns after every job in it has its result. */
static void run_group(struct writer_thread *t, struct job *group, size_t count)
{
	struct store *db = t->db;
	sl_err e = begin(t);
	if (!e && count > 1 && rerunnable(group)) {
		if (run_plain(db, group))
			return;
		e = begin(t);   /* again, each job in its savepoint: the failure is its own */
	}
	if (e) {
		for (struct job *j = group; j; j = j->next)
			j->result = e;
		return;
	}
	for (struct job *j = group; j; j = j->next) {
		if ((e = store_savepoint(db))) {
			j->result = e;
			continue;
		}
		j->result = j->fn(db, j->arg);
		if (j->result) {
			if ((e = store_rollback_to(db)))
				fprintf(stderr, "stripelink: writer: rollback to savepoint: %s\n", err_name(e));
		} else if ((e = store_release(db))) {
			j->result = e;   /* a queued write failed: the release rolled the job back */
		}
	}
	e = store_commit(db);
	if (e) {
		fprintf(stderr, "stripelink: writer: commit of %zu jobs failed: %s\n", count, err_name(e));
		store_rollback(db);
		for (struct job *j = group; j; j = j->next)
			if (!j->result)
				j->result = e == SL_ERR_DB ? SL_ERR_IO : e;
	}
}

static void *writer_main(void *p)
{
	struct writer_thread *t = p;
	struct writer *w = t->w;
	pthread_setname_np(pthread_self(), "sl-writer");   /* top -H, perf --sort comm */
	pthread_mutex_lock(&w->lock);
	for (;;) {
		size_t count;
		struct job *group = pick(w, t, &count);
		if (!group) {
			if (w->stopping && !w->head)
				break;
			pthread_cond_wait(&w->work, &w->lock);
			continue;
		}
		if (w->head)
			pthread_cond_signal(&w->work);   /* more for another thread */
		pthread_mutex_unlock(&w->lock);

		run_group(t, group, count);

		pthread_mutex_lock(&w->lock);
		t->running = false;
		w->running--;
		if (t->alone)
			w->alone_running = false;
		for (struct job *j = group, *next; j; j = next) {
			next = j->next;   /* j belongs to its waiter once done is set */
			j->done = true;
			pthread_cond_signal(&j->wake);
		}
		w->stats.jobs += count;
		w->stats.groups++;
		if (count > w->stats.largest)
			w->stats.largest = count;
		if (w->head && w->n > 1)
			pthread_cond_broadcast(&w->work);   /* what waited for its keys may run */
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

void writer_stop(struct writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->n; i++) {
		if (w->t[i].started)
			pthread_join(w->t[i].thread, NULL);
		store_close(w->t[i].db);
		free(w->t[i].keys);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->work);
	free(w);
}

struct writer *writer_start_n(const char *db_path, int threads, sl_err *err)
{
	struct writer *w = calloc(1, sizeof *w);
	if (!w) {
		*err = SL_ERR_NOMEM;
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	w->n = store_is_file(db_path) || threads < 1 ? 1 : threads > WRITER_MAX_THREADS ? WRITER_MAX_THREADS : threads;
	*err = SL_OK;
	for (int i = 0; i < w->n && !*err; i++) {
		struct writer_thread *t = &w->t[i];
		t->w = w;
		if (!(t->db = store_open(db_path, err)))
			break;
		if (!(t->keys = malloc(WRITER_MAX_GROUP * WRITER_KEYS * sizeof *t->keys)))
			*err = SL_ERR_NOMEM;
		else if (pthread_create(&t->thread, NULL, writer_main, t) != 0)
			*err = SL_ERR_NOMEM;
		else
			t->started = true;
	}
	if (*err) {
		writer_stop(w);
		return NULL;
	}
	return w;
}

struct writer *writer_start(const char *db_path, sl_err *err)
{
	return writer_start_n(db_path, 1, err);
}

sl_err writer_run_keyed(struct writer *w, writer_fn fn, void *arg, const struct writer_keys *keys)
{
	struct job job = {.fn = fn, .arg = arg, .keys = keys};
	pthread_cond_init(&job.wake, NULL);
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		pthread_cond_destroy(&job.wake);
		return SL_ERR_BUSY;
	}
	if (w->tail)
		w->tail->next = &job;
	else
		w->head = &job;
	w->tail = &job;
	pthread_cond_signal(&w->work);
	while (!job.done)
		pthread_cond_wait(&job.wake, &w->lock);
	pthread_mutex_unlock(&w->lock);
	pthread_cond_destroy(&job.wake);
	return job.result;
}

sl_err writer_run(struct writer *w, writer_fn fn, void *arg)
{
	return writer_run_keyed(w, fn, arg, NULL);
}

void writer_stats(struct writer *w, struct writer_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}
