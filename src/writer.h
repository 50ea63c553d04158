/*
 * writer.h - the one thread that writes to the database, committing in
 * groups.
 *
 * Request threads hand it a job (a function run inside a transaction) and
 * wait. The writer takes every job waiting, runs each in its own savepoint
 * (a failing job is rolled back alone and does not fail the others),
 * commits once — one disk sync for the whole group, synchronous=FULL — and
 * only then wakes each waiter with its own result. So a caller that got
 * SL_OK knows its effects are on disk.
 */
#ifndef STRIPELINK_WRITER_H
#define STRIPELINK_WRITER_H

#include "err.h"

struct store;
struct writer;

/* A job: runs on the writer thread inside a transaction, on the writer's
 * connection. Returns SL_OK to keep its effects, anything else to have them
 * rolled back. arg is borrowed from the waiting caller. */
typedef sl_err (*writer_fn)(struct store *db, void *arg);

/* Opens its own connection to db_path and starts the thread. Returns NULL
 * and sets *err on failure. Stop and free with writer_stop(). */
struct writer *writer_start(const char *db_path, sl_err *err);

/* Runs the jobs still queued, stops the thread, closes its connection and
 * frees the writer. Accepts NULL. */
void writer_stop(struct writer *w);

/* Queues fn(arg) and blocks until its group is committed. Returns fn's
 * result when it failed, the commit's error when the group could not be
 * committed (SL_ERR_BUSY or SL_ERR_IO: worth retrying), or SL_OK once the
 * effects are durable. */
sl_err writer_run(struct writer *w, writer_fn fn, void *arg);

struct writer_stats {
	unsigned long long jobs;     /* jobs run */
	unsigned long long groups;   /* transactions committed or failed */
	unsigned long long largest;  /* largest group seen */
};

/* Copies the counters (for benchmarks and the health page). */
void writer_stats(struct writer *w, struct writer_stats *out);

#endif
