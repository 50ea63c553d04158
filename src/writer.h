/*
 * writer.h - the threads that write to the database, committing in groups.
 *
 * Request threads hand it a job (a function run inside a transaction) and
 * wait. A writer thread takes every job waiting, runs each in its own
 * savepoint (a failing job is rolled back alone and does not fail the
 * others), commits once — one disk sync for the whole group,
 * synchronous=FULL — and only then wakes each waiter with its own result.
 * So a caller that got SL_OK knows its effects are on disk.
 *
 * SQLite has one writer thread. On PostgreSQL there may be several, each
 * with its own connection: a group whose jobs all name their keys (the ids
 * of what they read and then write: an object, its customer, its charge)
 * runs beside other such groups, holding each key for its transaction so
 * jobs that share a key still run one after the other; a group with a job
 * that names no keys runs alone, as on SQLite (store_begin_keyed). Within
 * a process a thread takes only the jobs no other thread's running group
 * holds a key of, so the database's key locks make only the jobs of
 * different processes (nodes) wait for each other.
 */
#ifndef STRIPELINK_WRITER_H
#define STRIPELINK_WRITER_H

#include <stdbool.h>

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

/* The same with threads writer threads (each its own connection) when
 * db_path is a PostgreSQL URL; one on SQLite whatever threads says. */
struct writer *writer_start_n(const char *db_path, int threads, sl_err *err);

/* Runs the jobs still queued, stops the thread, closes its connection and
 * frees the writer. Accepts NULL. */
void writer_stop(struct writer *w);

/* Queues fn(arg) and blocks until its group is committed. Returns fn's
 * result when it failed, the commit's error when the group could not be
 * committed (SL_ERR_BUSY or SL_ERR_IO: worth retrying), or SL_OK once the
 * effects are durable. */
sl_err writer_run(struct writer *w, writer_fn fn, void *arg);

/* A job's keys: 64-bit hashes of the ids it reads and then writes. */
#define WRITER_KEYS 16
struct writer_keys {
	long long k[WRITER_KEYS];
	int n;
	bool overflow;   /* more ids than fit: the job runs alone */
	/* the job may run again after its transaction was rolled back: it keeps
	 * nothing from a run but what it wrote there, and acts on nothing
	 * outside the database. A group of such jobs runs without a savepoint
	 * per job (on PostgreSQL each is a subtransaction, and costs as much as
	 * the job's own writes); when one fails, the group runs again with
	 * them. */
	bool rerunnable;
};

/* Adds the hash of id (NULL or "" adds nothing; a repeat is kept once). */
void writer_keys_add(struct writer_keys *ks, const char *id);

/* As writer_run, for a job that touches only what its keys name (beside
 * tags and contacts, whose writes are upserts and row updates that the
 * database orders itself). keys NULL or overflowed: as writer_run. */
sl_err writer_run_keyed(struct writer *w, writer_fn fn, void *arg, const struct writer_keys *keys);

struct writer_stats {
	unsigned long long jobs;     /* jobs run */
	unsigned long long groups;   /* transactions committed or failed */
	unsigned long long largest;  /* largest group seen */
};

/* Copies the counters (for benchmarks and the health page). */
void writer_stats(struct writer *w, struct writer_stats *out);

#endif
