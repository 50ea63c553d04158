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
	long long *keys;       /* owned: room for a group's keys */
};

struct writer {
	pthread_mutex_t lock;
	pthread_cond_t work;         /* signalled when a job is queued */
	struct job *head, *tail;     /* queue, guarded by lock */
	bool stopping;
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

/* Begins the group's transaction: holding its jobs' keys (sorted, each
 * once) when every job named them, else alone. */
static sl_err begin(struct writer_thread *t, struct job *group)
{
	size_t n = 0;
	for (struct job *j = group; j; j = j->next) {
		if (!j->keys || j->keys->overflow)
			return store_begin(t->db);
		memcpy(t->keys + n, j->keys->k, (size_t)j->keys->n * sizeof *t->keys);
		n += (size_t)j->keys->n;
	}
	qsort(t->keys, n, sizeof *t->keys, key_order);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (!u || t->keys[u - 1] != t->keys[i])
			t->keys[u++] = t->keys[i];
	return store_begin_keyed(t->db, t->keys, (int)u);
}

/* Runs one group; returns after every job in it has its result. */
static void run_group(struct writer_thread *t, struct job *group, size_t count)
{
	struct store *db = t->db;
	sl_err e = begin(t, group);
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
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->head && !w->stopping)
			pthread_cond_wait(&w->work, &w->lock);
		if (!w->head && w->stopping)
			break;
		/* take up to WRITER_MAX_GROUP jobs off the queue */
		struct job *group = w->head, *last = group;
		size_t count = 1;
		while (last->next && count < WRITER_MAX_GROUP) {
			last = last->next;
			count++;
		}
		w->head = last->next;
		if (!w->head)
			w->tail = NULL;
		else
			pthread_cond_signal(&w->work);   /* more for another thread */
		last->next = NULL;
		pthread_mutex_unlock(&w->lock);

		run_group(t, group, count);

		pthread_mutex_lock(&w->lock);
		for (struct job *j = group, *next; j; j = next) {
			next = j->next;   /* j belongs to its waiter once done is set */
			j->done = true;
			pthread_cond_signal(&j->wake);
		}
		w->stats.jobs += count;
		w->stats.groups++;
		if (count > w->stats.largest)
			w->stats.largest = count;
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
