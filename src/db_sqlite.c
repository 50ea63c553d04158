/*
 * db_sqlite.c - the SQLite engine behind db.h: one file in WAL mode with
 * synchronous=FULL, foreign keys on, a busy timeout; the schema version is
 * PRAGMA user_version.
 */
#include "db_impl.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sq_db {
	struct db base;
	sqlite3 *h;
	sqlite3_stmt *begin;   /* BEGIN IMMEDIATE, prepared on first use */
};

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *st;
};

static sqlite3 *handle_of(struct db *db)
{
	return ((struct sq_db *)db)->h;
}

/* Maps an SQLite result code to our error type, logging unexpected ones. */
static sl_err fail(sqlite3 *h, int rc, const char *what)
{
	int base = rc & 0xff;
	if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
		return SL_ERR_BUSY;
	if (base == SQLITE_CONSTRAINT)
		return SL_ERR_EXISTS;
	if (base == SQLITE_FULL || base == SQLITE_IOERR)
		return SL_ERR_IO;
	fprintf(stderr, "stripelink: store: %s: %s\n", what, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
	return SL_ERR_DB;
}

static void sq_close(struct db *db)
{
	sqlite3_finalize(((struct sq_db *)db)->begin);
	sqlite3_close(handle_of(db));
	free(db);
}

/* Waits for another process's write lock in short sleeps (100 µs doubling to
 * 2 ms) for about 5 s in all. SQLite's own busy timeout sleeps up to 100 ms
 * at a time, which a webhook answered after its group's commit would feel
 * whenever the sync worker writes at the same moment. */
static int busy_wait(void *unused, int tries)
{
	(void)unused;
	if (tries > 2500)
		return 0;
	useconds_t us = tries < 5 ? 100u << tries : 2000u;
	usleep(us);
	return 1;
}

/* Process-wide SQLite settings, before the first connection: no memory
 * statistics (they take one global mutex on every allocation, which the
 * request threads and the writer then contend for). */
static void global_init(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/*
 * The commit that takes the WAL past this many pages copies them into the
 * database file and syncs it (a checkpoint), while the writer's group
 * waits. SQLite's default is 1000 pages (4 MiB); at 2000 the hot pages a
 * busy writer rewrites are copied half as often, for about 10 % more
 * webhooks a second under the lifecycle mix (bench/lifecycle_bench.js,
 * alternating runs); 10000 made each checkpoint a 12 ms stall at p99.
 * A checkpoint on a thread of its own was tried and was slower: under a
 * writer that never pauses the WAL seldom starts again from its beginning,
 * so it grows, and the two threads' syncs queue on one disk.
 */
#define WAL_CHECKPOINT_PAGES "2000"

static struct db *sq_open(const char *path, sl_err *err)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, global_init);
	struct sq_db *db = calloc(1, sizeof *db);
	if (!db) {
		*err = SL_ERR_NOMEM;
		return NULL;
	}
	db->base.ops = &db_sqlite_ops;
	int rc = sqlite3_open_v2(path, &db->h,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*err = fail(db->h, rc, "open");
		goto out;
	}
	sqlite3_busy_handler(db->h, busy_wait, NULL);
	rc = sqlite3_exec(db->h,
			  "PRAGMA journal_mode = WAL;"
			  "PRAGMA synchronous = FULL;"
			  "PRAGMA foreign_keys = ON;"
			  "PRAGMA temp_store = MEMORY;"
			  "PRAGMA wal_autocheckpoint = " WAL_CHECKPOINT_PAGES ";",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		*err = fail(db->h, rc, "pragmas");
		goto out;
	}
	*err = SL_OK;
	return &db->base;
out:
	sq_close(&db->base);
	return NULL;
}

static sl_err sq_exec(struct db *db, const char *script)
{
	char *msg = NULL;
	int rc = sqlite3_exec(handle_of(db), script, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		return SL_OK;
	int base = rc & 0xff;
	if (base != SQLITE_BUSY && base != SQLITE_LOCKED)
		fprintf(stderr, "stripelink: store: %s\n", msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return base == SQLITE_BUSY || base == SQLITE_LOCKED ? SL_ERR_BUSY
	       : base == SQLITE_CONSTRAINT		    ? SL_ERR_EXISTS
	       : base == SQLITE_FULL || base == SQLITE_IOERR ? SL_ERR_IO
							    : SL_ERR_DB;
}

static sl_err sq_schema_version(struct db *db, int *version)
{
	sqlite3_stmt *st = NULL;
	*version = 0;
	int rc = sqlite3_prepare_v2(handle_of(db), "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_OK ? SL_OK : fail(handle_of(db), rc, "user_version");
}

static sl_err sq_set_schema_version(struct db *db, int version)
{
	char bump[64];
	snprintf(bump, sizeof bump, "PRAGMA user_version = %d;", version);
	return sq_exec(db, bump);
}

static sl_err sq_migrate_lock(struct db *db)
{
	(void)db;   /* each step's BEGIN IMMEDIATE serializes migrating processes */
	return SL_OK;
}

static void sq_migrate_unlock(struct db *db)
{
	(void)db;
}

static struct db_stmt *sq_prepare(struct db *db, const char *sql, const char *types)
{
	struct sq_stmt *st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	int rc = sqlite3_prepare_v3(handle_of(db), sql, -1, SQLITE_PREPARE_PERSISTENT, &st->st, NULL);
	if (rc != SQLITE_OK) {
		fail(handle_of(db), rc, sql);
		free(st);
		return NULL;
	}
	st->base.db = db;
	snprintf(st->base.types, sizeof st->base.types, "%s", types);
	st->base.n_params = (int)strlen(types);
	if (sqlite3_bind_parameter_count(st->st) != st->base.n_params) {
		fprintf(stderr, "stripelink: store: %d parameter types for %d parameters: %s\n",
			st->base.n_params, sqlite3_bind_parameter_count(st->st), sql);
		sqlite3_finalize(st->st);
		free(st);
		return NULL;
	}
	return &st->base;
}

static sqlite3_stmt *raw(struct db_stmt *st)
{
	return ((struct sq_stmt *)st)->st;
}

static sl_err sq_bind(struct db_stmt *st, const struct db_val *vals, int n)
{
	sqlite3_stmt *s = raw(st);
	for (int i = 0; i < n; i++) {
		const struct db_val *v = &vals[i];
		int rc = SQLITE_OK;
		switch (v->type) {
		case DB_NULL:
			rc = sqlite3_bind_null(s, i + 1);
			break;
		case DB_INT:
			rc = sqlite3_bind_int64(s, i + 1, v->i);
			break;
		case DB_REAL:
			rc = sqlite3_bind_double(s, i + 1, v->r);
			break;
		case DB_TEXT:
			rc = v->s ? sqlite3_bind_text(s, i + 1, v->s, v->len ? (int)v->len : -1, SQLITE_TRANSIENT)
				  : sqlite3_bind_null(s, i + 1);
			break;
		case DB_BLOB:
			rc = sqlite3_bind_blob(s, i + 1, v->s, (int)v->len, SQLITE_TRANSIENT);
			break;
		}
		if (rc != SQLITE_OK)
			return fail(handle_of(st->db), rc, "bind");
	}
	return SL_OK;
}

static sl_err sq_step(struct db_stmt *st, bool *row)
{
	int rc = sqlite3_step(raw(st));
	*row = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return SL_OK;
	return fail(handle_of(st->db), rc, sqlite3_sql(raw(st)));
}

static bool sq_column_null(struct db_stmt *st, int col)
{
	return sqlite3_column_type(raw(st), col) == SQLITE_NULL;
}

static long long sq_column_int(struct db_stmt *st, int col)
{
	return sqlite3_column_int64(raw(st), col);
}

static double sq_column_real(struct db_stmt *st, int col)
{
	return sqlite3_column_double(raw(st), col);
}

static const char *sq_column_text(struct db_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(raw(st), col);
}

static const void *sq_column_blob(struct db_stmt *st, int col, size_t *len)
{
	const void *p = sqlite3_column_blob(raw(st), col);
	*len = (size_t)sqlite3_column_bytes(raw(st), col);
	return p;
}

static long long sq_changes(struct db *db)
{
	return sqlite3_changes(handle_of(db));
}

static void sq_reset(struct db_stmt *st)
{
	sqlite3_reset(raw(st));
	sqlite3_clear_bindings(raw(st));
}

static void sq_finalize(struct db_stmt *st)
{
	sqlite3_finalize(raw(st));
	free(st);
}

/* BEGIN IMMEDIATE: a transaction that reads then writes must hold the
 * write lock from its start, or it meets SQLITE_BUSY at its first write. */
static sl_err sq_begin(struct db *db)
{
	struct sq_db *d = (struct sq_db *)db;
	sqlite3 *h = d->h;
	int rc = SQLITE_OK;
	if (!d->begin)
		rc = sqlite3_prepare_v3(h, "BEGIN IMMEDIATE", -1, SQLITE_PREPARE_PERSISTENT, &d->begin, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(d->begin);
		sqlite3_reset(d->begin);
		if (rc == SQLITE_DONE)
			return SL_OK;
	}
	return fail(h, rc, "BEGIN IMMEDIATE");
}

static void *sq_handle(struct db *db)
{
	return handle_of(db);
}

/* Online backup: a read transaction on the source pins one snapshot (in
 * WAL mode it never blocks the writer), and the pages are copied
 * pages_per_step at a time with a short pause between steps, so the live
 * service keeps its CPU and its I/O. */
sl_err db_sqlite_backup(const char *src_path, const char *dest_path, int pages_per_step)
{
	sqlite3 *src = NULL, *dest = NULL;
	sqlite3_backup *bk = NULL;
	sl_err err = SL_ERR_DB;
	int rc = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err = fail(NULL, rc, "backup: open source");
		goto out;
	}
	sqlite3_busy_timeout(src, 5000);
	rc = sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema;", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		err = fail(NULL, rc, "backup: read transaction");
		goto out;
	}
	rc = sqlite3_open_v2(dest_path, &dest,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		err = fail(NULL, rc, "backup: open copy");
		goto out;
	}
	bk = sqlite3_backup_init(dest, "main", src, "main");
	if (!bk) {
		fprintf(stderr, "stripelink: store: backup: %s\n", sqlite3_errmsg(dest));
		goto out;
	}
	do {
		rc = sqlite3_backup_step(bk, pages_per_step > 0 ? pages_per_step : -1);
		if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(1);
	} while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
	int finish = sqlite3_backup_finish(bk);
	bk = NULL;
	if (rc != SQLITE_DONE || finish != SQLITE_OK) {
		err = fail(NULL, rc != SQLITE_DONE ? rc : finish, "backup: copy");
		goto out;
	}
	/* the copy is one self-contained file: no -wal beside it */
	rc = sqlite3_exec(dest, "PRAGMA journal_mode = DELETE;", NULL, NULL, NULL);
	err = rc == SQLITE_OK ? SL_OK : fail(NULL, rc, "backup: journal mode");
out:
	if (bk)
		sqlite3_backup_finish(bk);
	if (src)
		sqlite3_exec(src, "COMMIT;", NULL, NULL, NULL);
	if (dest && sqlite3_close(dest) != SQLITE_OK && !err)
		err = SL_ERR_IO;
	sqlite3_close(src);
	return err;
}

const struct db_ops db_sqlite_ops = {
	.engine = DB_SQLITE,
	.open = sq_open,
	.close = sq_close,
	.exec = sq_exec,
	.schema_version = sq_schema_version,
	.set_schema_version = sq_set_schema_version,
	.migrate_lock = sq_migrate_lock,
	.migrate_unlock = sq_migrate_unlock,
	.begin = sq_begin,
	.prepare = sq_prepare,
	.bind = sq_bind,
	.step = sq_step,
	.column_null = sq_column_null,
	.column_int = sq_column_int,
	.column_real = sq_column_real,
	.column_text = sq_column_text,
	.column_blob = sq_column_blob,
	.changes = sq_changes,
	.reset = sq_reset,
	.finalize = sq_finalize,
	.handle = sq_handle,
};
