/*
 * db.h - the one small interface store.c talks to, whatever the engine.
 *
 * One struct db is one connection (an SQLite file, or a PostgreSQL server
 * named by a postgresql:// URL); it belongs to one thread at a time. It
 * keeps a cache of prepared statements indexed by the caller's slot number
 * (store.c's statement enum), so a statement is prepared once per
 * connection. SQL reaches this layer in SQLite's spelling of parameters
 * (?1, ?2, or a bare ? for the next one); the PostgreSQL engine rewrites
 * them to $1, $2. Each parameter is typed (enum db_type): the types are
 * given when a statement is prepared and every bound value must match its
 * type or be DB_NULL.
 *
 * Errors are sl_err: SL_ERR_EXISTS for a constraint violation, SL_ERR_BUSY
 * for a lock or serialization conflict, SL_ERR_IO for a full or failing
 * disk, SL_ERR_DB for anything else (logged once here).
 */
#ifndef STRIPELINK_DB_H
#define STRIPELINK_DB_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"

enum db_engine {
	DB_SQLITE,
	DB_PG,
};

enum db_type {
	DB_NULL,
	DB_INT,    /* 64-bit integer ('i' in a parameter type string) */
	DB_TEXT,   /* UTF-8 text, NUL-terminated or with a length ('t') */
	DB_REAL,   /* double ('r') */
	DB_BLOB,   /* bytes with a length ('b') */
};

/* One bound value. s is borrowed: it must live until the statement has
 * been stepped (db_step copies nothing the engine does not copy itself). */
struct db_val {
	enum db_type type;
	long long i;
	double r;
	const char *s;
	size_t len;        /* DB_TEXT: 0 means strlen(s); DB_BLOB: the length */
};

/* Statement cache slots per connection: callers' slot numbers are below. */
#define DB_SLOTS 256

struct db;
struct db_stmt;

/* Which engine a target names: a postgresql:// or postgres:// URL is
 * PostgreSQL, anything else an SQLite file path. */
enum db_engine db_engine_for(const char *target);

/* Opens a connection to target (see db_engine_for). SQLite: created when
 * missing, WAL, synchronous=FULL, foreign keys, busy timeout. PostgreSQL:
 * synchronous_commit on, UTC, quiet notices. NULL and *err on failure;
 * caller closes with db_close(). */
struct db *db_open(const char *target, sl_err *err);

/* Finalizes every cached statement and closes. Accepts NULL. */
void db_close(struct db *db);

enum db_engine db_engine(const struct db *db);

/* Runs a script of one or more statements without parameters (migrations,
 * pragmas). */
sl_err db_exec(struct db *db, const char *script);

/* The schema version stored in the database (0 for a new one) and its
 * update inside the current transaction. SQLite: PRAGMA user_version;
 * PostgreSQL: the one-row table stripelink_schema. */
sl_err db_schema_version(struct db *db, int *version);
sl_err db_set_schema_version(struct db *db, int version);

/* Serializes migrations between processes (and nodes): PostgreSQL takes a
 * session advisory lock until db_migrate_unlock; SQLite relies on each
 * step's BEGIN IMMEDIATE and does nothing here. */
sl_err db_migrate_lock(struct db *db);
void db_migrate_unlock(struct db *db);

/* Transactions: begin is for writing (SQLite BEGIN IMMEDIATE; PostgreSQL
 * BEGIN plus a transaction advisory lock, so writers queue like SQLite's);
 * savepoints nest under the one name "sp". On PostgreSQL begin and
 * savepoint are queued (see db_run_queued): a failure to begin is the
 * failure of the transaction's first read, release or commit. */
sl_err db_begin(struct db *db);
/* A writing transaction that reads then writes only what keys name
 * (sorted, each once). PostgreSQL: the writers' lock shared and each key's
 * transaction advisory lock, in key order (so two such transactions never
 * wait on each other in a circle), beside other keyed transactions; a
 * db_begin waits for all of them. SQLite: db_begin. */
sl_err db_begin_keyed(struct db *db, const long long *keys, int n);
sl_err db_commit(struct db *db);
sl_err db_rollback(struct db *db);
sl_err db_savepoint(struct db *db);
sl_err db_release(struct db *db);
sl_err db_rollback_to(struct db *db);

/* Returns the statement cached in slot (0 <= slot < DB_SLOTS), preparing sql with the parameter types in types ("itt": int,
 * text, text) the first time. slot < 0 prepares a one-off statement the
 * caller frees with db_finalize(). NULL (logged) when it cannot be
 * prepared. */
struct db_stmt *db_prepare(struct db *db, int slot, const char *sql, const char *types);

/* Binds vals[0..n) to the statement's parameters in order; SL_ERR_DB
 * (logged) when n or a type does not match what the statement was
 * prepared with. */
sl_err db_bind(struct db_stmt *st, const struct db_val *vals, int n);

/* Runs the statement or fetches its next row: *row is true while a row is
 * there to read. */
sl_err db_step(struct db_stmt *st, bool *row);

/* Runs a write for its effect alone (the caller reads no row and no
 * db_changes; a constraint it may break is handled in its SQL, ON
 * CONFLICT). Inside a transaction an engine may queue it: PostgreSQL
 * sends it in its pipeline and reports its failure as the failure of the
 * next statement whose result is read (a query, db_release, db_commit);
 * db_rollback_to and db_rollback discard it. Outside a transaction, and
 * on SQLite, it runs at once. The caller still calls db_reset. */
sl_err db_run_queued(struct db_stmt *st);

/* Columns of the current row. Text and blob pointers are borrowed until
 * the next db_step or db_reset; NULL text reads as NULL. */
bool db_column_null(struct db_stmt *st, int col);
long long db_column_int(struct db_stmt *st, int col);
double db_column_real(struct db_stmt *st, int col);
const char *db_column_text(struct db_stmt *st, int col);
const void *db_column_blob(struct db_stmt *st, int col, size_t *len);

/* Rows changed by the last statement that ran on this connection. */
long long db_changes(struct db *db);

/* Ends the statement's run and clears its bindings (cached statements);
 * db_finalize frees a one-off statement (accepts NULL). */
void db_reset(struct db_stmt *st);
void db_finalize(struct db_stmt *st);

/* The engine's raw handle (sqlite3 * or PGconn *), for the few
 * engine-specific tools (backup) that check db_engine first. */
void *db_handle(struct db *db);

/* SQLite only: an online copy of the database file at src_path into
 * dest_path, pages_per_step pages at a time (one read snapshot, so the
 * writer is never held back), as one self-contained file. */
sl_err db_sqlite_backup(const char *src_path, const char *dest_path, int pages_per_step);

#endif
