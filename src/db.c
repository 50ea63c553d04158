/*
 * db.c - the engine-neutral half of db.h: picks the engine for a target,
 * keeps each connection's statement cache, checks bound values against the
 * prepared types, and runs the transaction statements both engines spell
 * alike.
 */
#include "db_impl.h"

#include <stdio.h>
#include <string.h>

enum db_engine db_engine_for(const char *target)
{
	if (target && (strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0))
		return DB_PG;
	return DB_SQLITE;
}

struct db *db_open(const char *target, sl_err *err)
{
	const struct db_ops *ops = db_engine_for(target) == DB_PG ? &db_pg_ops : &db_sqlite_ops;
	return ops->open(target, err);
}

void db_close(struct db *db)
{
	if (!db)
		return;
	for (int i = 0; i < DB_SLOTS; i++)
		if (db->cache[i])
			db->ops->finalize(db->cache[i]);
	for (size_t i = 0; i < sizeof db->tx / sizeof db->tx[0]; i++)
		if (db->tx[i])
			db->ops->finalize(db->tx[i]);
	db->ops->close(db);
}

enum db_engine db_engine(const struct db *db)
{
	return db->ops->engine;
}

sl_err db_exec(struct db *db, const char *script)
{
	return db->ops->exec(db, script);
}

sl_err db_schema_version(struct db *db, int *version)
{
	return db->ops->schema_version(db, version);
}

sl_err db_set_schema_version(struct db *db, int version)
{
	return db->ops->set_schema_version(db, version);
}

sl_err db_migrate_lock(struct db *db)
{
	return db->ops->migrate_lock(db);
}

void db_migrate_unlock(struct db *db)
{
	db->ops->migrate_unlock(db);
}

sl_err db_begin(struct db *db)
{
	return db->ops->begin(db);
}

sl_err db_begin_keyed(struct db *db, const long long *keys, int n)
{
	return db->ops->begin_keyed ? db->ops->begin_keyed(db, keys, n) : db->ops->begin(db);
}

/* Runs one of the parameterless transaction statements, prepared once. */
static sl_err tx(struct db *db, int which)
{
	static const char *const text[] = {"COMMIT", "ROLLBACK", "SAVEPOINT sp", "RELEASE sp",
					   "ROLLBACK TO sp"};
	_Static_assert(sizeof text / sizeof text[0] == sizeof db->tx / sizeof db->tx[0],
		       "one text per transaction statement");
	if (!db->tx[which] && !(db->tx[which] = db->ops->prepare(db, text[which], "")))
		return SL_ERR_DB;
	/* a savepoint may wait for the next round trip; the others end one
	 * (a release is where a job learns whether its queued writes held) */
	bool row;
	sl_err e = which == 2 ? db_run_queued(db->tx[which]) : db->ops->step(db->tx[which], &row);
	db->ops->reset(db->tx[which]);
	return e;
}

sl_err db_commit(struct db *db) { return tx(db, 0); }
sl_err db_rollback(struct db *db) { return tx(db, 1); }
sl_err db_savepoint(struct db *db) { return tx(db, 2); }
sl_err db_release(struct db *db) { return tx(db, 3); }
sl_err db_rollback_to(struct db *db) { return tx(db, 4); }

struct db_stmt *db_prepare(struct db *db, int slot, const char *sql, const char *types)
{
	if (slot >= DB_SLOTS) {
		fprintf(stderr, "stripelink: db: statement slot %d out of range\n", slot);
		return NULL;
	}
	if (slot >= 0 && db->cache[slot])
		return db->cache[slot];
	if (strlen(types) >= sizeof ((struct db_stmt *)0)->types) {
		fprintf(stderr, "stripelink: db: too many parameters: %s\n", sql);
		return NULL;
	}
	struct db_stmt *st = db->ops->prepare(db, sql, types);
	if (st && slot >= 0)
		db->cache[slot] = st;
	if (st)
		st->one_off = slot < 0;
	return st;
}

/* The type letter of each enum db_type in a parameter type string. */
static const char type_letter[] = {
	[DB_NULL] = '-', [DB_INT] = 'i', [DB_TEXT] = 't', [DB_REAL] = 'r', [DB_BLOB] = 'b',
};

sl_err db_check_binds(const struct db_stmt *st, const struct db_val *vals, int n)
{
	if (n != st->n_params) {
		fprintf(stderr, "stripelink: db: %d values for %d parameters (%s)\n", n, st->n_params,
			st->types);
		return SL_ERR_DB;
	}
	for (int i = 0; i < n; i++)
		if (vals[i].type != DB_NULL && type_letter[vals[i].type] != st->types[i]) {
			fprintf(stderr, "stripelink: db: parameter %d is '%c', bound '%c' (%s)\n", i + 1,
				st->types[i], type_letter[vals[i].type], st->types);
			return SL_ERR_DB;
		}
	return SL_OK;
}

sl_err db_bind(struct db_stmt *st, const struct db_val *vals, int n)
{
	sl_err e = db_check_binds(st, vals, n);
	return e ? e : st->db->ops->bind(st, vals, n);
}

sl_err db_step(struct db_stmt *st, bool *row)
{
	return st->db->ops->step(st, row);
}

sl_err db_run_queued(struct db_stmt *st)
{
	bool row;
	return st->db->ops->queue ? st->db->ops->queue(st) : st->db->ops->step(st, &row);
}

bool db_column_null(struct db_stmt *st, int col) { return st->db->ops->column_null(st, col); }
long long db_column_int(struct db_stmt *st, int col) { return st->db->ops->column_int(st, col); }
double db_column_real(struct db_stmt *st, int col) { return st->db->ops->column_real(st, col); }
const char *db_column_text(struct db_stmt *st, int col) { return st->db->ops->column_text(st, col); }

const void *db_column_blob(struct db_stmt *st, int col, size_t *len)
{
	return st->db->ops->column_blob(st, col, len);
}

long long db_changes(struct db *db)
{
	return db->ops->changes(db);
}

void db_reset(struct db_stmt *st)
{
	if (st)
		st->db->ops->reset(st);
}

void db_finalize(struct db_stmt *st)
{
	if (st)
		st->db->ops->finalize(st);
}

void *db_handle(struct db *db)
{
	return db->ops->handle(db);
}
