/*
 * writer.c - the group-commit writer thread; see writer.h.
 */
#include "writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "store.h"

#define WRITER_MAX_GROUP 512

struct job {
	writer_fn fn;
	void *arg;
	sl_err result;
	bool done;
	pthread_cond_t wake;   /* signalled when done: only this waiter wakes */
	struct job *next;
};

struct writer {
	struct store *db;            /* owned; used only by the thread */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work;         /* signalled when a job is queued */
	struct job *head, *tail;     /* queue, guarded by lock */
	bool stopping;
	struct writer_stats stats;   /* guarded by lock */
};

/* Runs one group; returns after every job in it has its result. */
static void run_group(struct writer *w, struct job *group, size_t count)
{
	sl_err e = store_begin(w->db);
	if (e) {
		for (struct job *j = group; j; j = j->next)
			j->result = e;
		return;
	}
	for (struct job *j = group; j; j = j->next) {
		if ((e = store_savepoint(w->db))) {
			j->result = e;
			continue;
		}
		j->result = j->fn(w->db, j->arg);
		if (j->result) {
			if ((e = store_rollback_to(w->db)))
				fprintf(stderr, "stripelink: writer: rollback to savepoint: %s\n", err_name(e));
		} else if ((e = store_release(w->db))) {
			j->result = e;
		}
	}
	e = store_commit(w->db);
	if (e) {
		fprintf(stderr, "stripelink: writer: commit of %zu jobs failed: %s\n", count, err_name(e));
		store_rollback(w->db);
		for (struct job *j = group; j; j = j->next)
			if (!j->result)
				j->result = e == SL_ERR_DB ? SL_ERR_IO : e;
	}
}

static void *writer_main(void *p)
{
	struct writer *w = p;
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
		last->next = NULL;
		pthread_mutex_unlock(&w->lock);

		run_group(w, group, count);

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

struct writer *writer_start(const char *db_path, sl_err *err)
{
	struct writer *w = calloc(1, sizeof *w);
	if (!w) {
		*err = SL_ERR_NOMEM;
		return NULL;
	}
	w->db = store_open(db_path, err);
	if (!w->db) {
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		store_close(w->db);
		free(w);
		*err = SL_ERR_NOMEM;
		return NULL;
	}
	*err = SL_OK;
	return w;
}

void writer_stop(struct writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	store_close(w->db);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->work);
	free(w);
}

sl_err writer_run(struct writer *w, writer_fn fn, void *arg)
{
	struct job job = {.fn = fn, .arg = arg};
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

void writer_stats(struct writer *w, struct writer_stats *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->stats;
	pthread_mutex_unlock(&w->lock);
}
