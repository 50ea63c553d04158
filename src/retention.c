/*
 * retention.c - the pruning timer thread; see retention.h.
 */
#include "retention.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "config.h"
#include "store.h"
#include "writer.h"

struct retention {
	struct writer *writer;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
};

struct prune_job {
	enum store_prune what;
	long long before;
	int changed;
};

static sl_err prune_job(struct store *db, void *arg)
{
	struct prune_job *j = arg;
	return store_prune(db, j->what, j->before, RETENTION_BATCH, &j->changed);
}

/* How long each kind is kept, in seconds, from the settings. */
static long long keep_seconds(enum store_prune what)
{
	const struct config *c = config_get();
	switch (what) {
	case STORE_PRUNE_REJECTED: return 86400LL * c->keep_rejected_days;
	case STORE_PRUNE_LOG: return 86400LL * c->keep_log_days;
	case STORE_PRUNE_PAYLOADS: return 86400LL * c->keep_payload_days;
	case STORE_PRUNE_LOGINS: return 86400LL * c->keep_login_days;
	case STORE_PRUNE__MAX: break;
	}
	return 0;
}

static bool stopping(struct retention *r)
{
	pthread_mutex_lock(&r->lock);
	bool s = r->stopping;
	pthread_mutex_unlock(&r->lock);
	return s;
}

/* One round: each kind in batches until a batch comes back short. */
static void prune_round(struct retention *r)
{
	long long now = (long long)time(NULL);
	for (int what = 0; what < STORE_PRUNE__MAX; what++) {
		struct prune_job j = {(enum store_prune)what, now - keep_seconds((enum store_prune)what), 0};
		long long total = 0;
		for (int batch = 0; batch < RETENTION_MAX_BATCHES && !stopping(r); batch++) {
			sl_err e = writer_run(r->writer, prune_job, &j);
			if (e) {
				fprintf(stderr, "stripelink: retention: prune %d failed: %s\n", what, err_name(e));
				break;
			}
			total += j.changed;
			if (j.changed < RETENTION_BATCH)
				break;
		}
		if (total)
			fprintf(stderr, "stripelink: retention: pruned %lld old rows (kind %d)\n", total, what);
	}
}

static void *retention_thread(void *p)
{
	struct retention *r = p;
	int interval = config_get()->prune_interval;
	for (;;) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += interval;
		pthread_mutex_lock(&r->lock);
		int rc = 0;
		while (!r->stopping && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&r->wake, &r->lock, &until);
		bool stop = r->stopping;
		pthread_mutex_unlock(&r->lock);
		if (stop)
			break;
		prune_round(r);
	}
	return NULL;
}

struct retention *retention_start(struct writer *w, sl_err *err)
{
	struct retention *r = calloc(1, sizeof *r);
	if (!r) {
		*err = SL_ERR_NOMEM;
		return NULL;
	}
	r->writer = w;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	/* the thread takes no signals: SIGTERM belongs to the server's sigwait */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&r->thread, NULL, retention_thread, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		free(r);
		*err = SL_ERR_NOMEM;
		return NULL;
	}
	*err = SL_OK;
	return r;
}

void retention_stop(struct retention *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
