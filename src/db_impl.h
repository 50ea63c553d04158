/*
 * db_impl.h - private to db.c and the engine files: each engine fills one
 * table of operations, and its connection and statement structs start
 * with the common parts below.
 */
#ifndef STRIPELINK_DB_IMPL_H
#define STRIPELINK_DB_IMPL_H

#include "db.h"

struct db_ops {
	enum db_engine engine;
	struct db *(*open)(const char *target, sl_err *err);
	void (*close)(struct db *db);
	sl_err (*exec)(struct db *db, const char *script);
	sl_err (*schema_version)(struct db *db, int *version);
	sl_err (*set_schema_version)(struct db *db, int version);
	sl_err (*migrate_lock)(struct db *db);
	void (*migrate_unlock)(struct db *db);
	sl_err (*begin)(struct db *db);
	sl_err (*begin_keyed)(struct db *db, const long long *keys, int n);   /* NULL: begin */
	struct db_stmt *(*prepare)(struct db *db, const char *sql, const char *types);
	sl_err (*bind)(struct db_stmt *st, const struct db_val *vals, int n);
	sl_err (*step)(struct db_stmt *st, bool *row);
	sl_err (*queue)(struct db_stmt *st);   /* NULL: step at once */
	bool (*column_null)(struct db_stmt *st, int col);
	long long (*column_int)(struct db_stmt *st, int col);
	double (*column_real)(struct db_stmt *st, int col);
	const char *(*column_text)(struct db_stmt *st, int col);
	const void *(*column_blob)(struct db_stmt *st, int col, size_t *len);
	long long (*changes)(struct db *db);
	void (*reset)(struct db_stmt *st);
	void (*finalize)(struct db_stmt *st);
	void *(*handle)(struct db *db);
};

/* The head of every engine's connection. */
struct db {
	const struct db_ops *ops;
	struct db_stmt *cache[DB_SLOTS];   /* prepared on first use, finalized at close */
	struct db_stmt *tx[5];             /* COMMIT, ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK TO */
};

/* The head of every engine's statement. */
struct db_stmt {
	struct db *db;
	char types[64];                     /* parameter types, as prepared */
	int n_params;
	bool one_off;                       /* not cached: freed by db_finalize */
};

extern const struct db_ops db_sqlite_ops;
extern const struct db_ops db_pg_ops;

/* Checks vals against the statement's parameter types (logged). */
sl_err db_check_binds(const struct db_stmt *st, const struct db_val *vals, int n);

#endif
