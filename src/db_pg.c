/*
 * db_pg.c - the PostgreSQL engine behind db.h (libpq).
 *
 * Statements are prepared once per connection under a name of their own
 * (one-off statements run unprepared); parameters are typed from the
 * caller's type string, integers sent as text, text and blobs as bytes
 * (binary format, so lengths are exact). A result is fetched whole; rows
 * are read from it. The schema version lives in the one-row table
 * stripelink_schema; migrating holds a session advisory lock, and every
 * writing transaction a transaction advisory lock, so writers from every
 * process and node queue one after another as SQLite's do
 * (read-then-write transactions stay correct) and a group commit is one
 * COMMIT with synchronous_commit on.
 */
#include "db_impl.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_OID_INT8 20
#define PG_OID_TEXT 25
#define PG_OID_FLOAT8 701
#define PG_OID_BYTEA 17

/* advisory lock keys: migrating (session), writing (transaction) */
#define LOCK_MIGRATE 0x73746c6d   /* "stlm" */
#define LOCK_WRITE 0x73746c77     /* "stlw" */

struct pg_db {
	struct db base;
	PGconn *c;
	long long changes;      /* rows changed by the last statement */
	unsigned generation;    /* bumped when the connection is re-established */
	unsigned next_name;     /* for prepared statement names */
};

struct pg_stmt {
	struct db_stmt base;
	char name[24];          /* "" for a one-off statement */
	char *sql;              /* with $n parameters */
	unsigned prepared_in;   /* the connection generation it was prepared in; 0: never */
	Oid *oids;
	const char **values;
	int *lengths, *formats;
	char (*ints)[32];       /* the text of integer and real parameters */
	PGresult *res;
	int row, rows;          /* the current row (-1 before the first) and the count */
	unsigned char *bytes;   /* the last unescaped bytea, freed at the next read */
};

static struct pg_db *pg_of(struct db *db)
{
	return (struct pg_db *)db;
}

static struct pg_stmt *stmt_of(struct db_stmt *st)
{
	return (struct pg_stmt *)st;
}

/* Maps a failed result to our error type, logging unexpected ones. */
static sl_err fail(struct pg_db *db, const PGresult *res, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state && strncmp(state, "23", 2) == 0)
		return SL_ERR_EXISTS;
	if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
		      strcmp(state, "55P03") == 0))
		return SL_ERR_BUSY;
	if (state && strncmp(state, "53", 2) == 0)
		return SL_ERR_IO;
	fprintf(stderr, "stripelink: store: %s: %s", what,
		res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res) : PQerrorMessage(db->c));
	if (PQstatus(db->c) == CONNECTION_BAD)
		return SL_ERR_IO;
	return SL_ERR_DB;
}

/* Runs a script of simple statements; SL_OK when each succeeded. */
static sl_err run_script(struct pg_db *db, const char *script)
{
	sl_err e = SL_OK;
	if (!PQsendQuery(db->c, script))
		return fail(db, NULL, "send");
	PGresult *res;
	while ((res = PQgetResult(db->c))) {
		ExecStatusType s = PQresultStatus(res);
		if (!e && s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY)
			e = fail(db, res, script);
		PQclear(res);
	}
	return e;
}

static void pg_close(struct db *db)
{
	PQfinish(pg_of(db)->c);
	free(db);
}

/* Session settings, on every (re)connection. */
static sl_err settle(struct pg_db *db)
{
	return run_script(db, "SET synchronous_commit = on; SET client_min_messages = warning;"
			      " SET TIME ZONE 'UTC'; SET lock_timeout = '5s'");
}

static struct db *pg_open(const char *url, sl_err *err)
{
	struct pg_db *db = calloc(1, sizeof *db);
	if (!db) {
		*err = SL_ERR_NOMEM;
		return NULL;
	}
	db->base.ops = &db_pg_ops;
	db->generation = 1;
	db->c = PQconnectdb(url);
	if (PQstatus(db->c) != CONNECTION_OK) {
		fprintf(stderr, "stripelink: store: connect: %s", PQerrorMessage(db->c));
		*err = SL_ERR_IO;
		goto out;
	}
	if ((*err = settle(db)))
		goto out;
	return &db->base;
out:
	pg_close(&db->base);
	return NULL;
}

/* Re-establishes a lost connection (outside a transaction only: one that
 * was open is gone with it, and its caller sees the error). */
static void revive(struct pg_db *db)
{
	if (PQstatus(db->c) != CONNECTION_BAD)
		return;
	PQreset(db->c);
	if (PQstatus(db->c) == CONNECTION_OK) {
		db->generation++;
		settle(db);
	}
}

static sl_err pg_exec(struct db *db, const char *script)
{
	revive(pg_of(db));
	return run_script(pg_of(db), script);
}

/* Runs a one-value query; *out is the value, or NULL for no row or NULL. */
static sl_err query_value(struct pg_db *db, const char *sql, char *out, size_t cap, bool *found)
{
	PGresult *res = PQexec(db->c, sql);
	sl_err e = SL_OK;
	*found = false;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		e = fail(db, res, sql);
	else if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
		snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
		*found = true;
	}
	PQclear(res);
	return e;
}

static sl_err pg_schema_version(struct db *db, int *version)
{
	char v[32];
	bool found;
	*version = 0;
	sl_err e = query_value(pg_of(db), "SELECT to_regclass('stripelink_schema') IS NOT NULL", v, sizeof v,
			       &found);
	if (e || strcmp(v, "t") != 0)
		return e;
	e = query_value(pg_of(db), "SELECT max(version) FROM stripelink_schema", v, sizeof v, &found);
	if (!e && found)
		*version = atoi(v);
	return e;
}

static sl_err pg_set_schema_version(struct db *db, int version)
{
	char sql[160];
	snprintf(sql, sizeof sql,
		 "CREATE TABLE IF NOT EXISTS stripelink_schema (version integer NOT NULL);"
		 " DELETE FROM stripelink_schema; INSERT INTO stripelink_schema VALUES (%d)",
		 version);
	return run_script(pg_of(db), sql);
}

static sl_err pg_migrate_lock(struct db *db)
{
	char sql[64];
	revive(pg_of(db));
	snprintf(sql, sizeof sql, "SELECT pg_advisory_lock(%d)", LOCK_MIGRATE);
	/* two nodes starting at once: the second waits here, then finds the
	 * schema current; no lock_timeout for this wait */
	sl_err e = run_script(pg_of(db), "SET lock_timeout = 0");
	if (!e)
		e = run_script(pg_of(db), sql);
	run_script(pg_of(db), "SET lock_timeout = '5s'");
	return e;
}

static void pg_migrate_unlock(struct db *db)
{
	char sql[64];
	snprintf(sql, sizeof sql, "SELECT pg_advisory_unlock(%d)", LOCK_MIGRATE);
	run_script(pg_of(db), sql);
}

static sl_err pg_begin(struct db *db)
{
	char sql[96];
	revive(pg_of(db));
	snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%d)", LOCK_WRITE);
	sl_err e = run_script(pg_of(db), sql);
	if (e)
		run_script(pg_of(db), "ROLLBACK");
	return e;
}

/* Rewrites SQLite's parameters (?N, or ? for the next) as $N, outside
 * quoted strings and identifiers. Returns malloc'ed text and the highest
 * parameter number in *n. */
static char *dollar_params(const char *sql, int *n)
{
	size_t len = strlen(sql);
	char *out = malloc(len * 4 + 1);
	if (!out)
		return NULL;
	char *d = out;
	char quote = 0;
	int highest = 0;
	for (const char *p = sql; *p; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
			*d++ = *p;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
			*d++ = *p;
		} else if (*p == '?') {
			int k;
			if (p[1] >= '0' && p[1] <= '9') {
				k = (int)strtol(p + 1, (char **)&p, 10);
				p--;
			} else {
				k = highest + 1;
			}
			if (k > highest)
				highest = k;
			d += sprintf(d, "$%d", k);
		} else {
			*d++ = *p;
		}
	}
	*d = '\0';
	*n = highest;
	return out;
}

static void stmt_free(struct pg_stmt *st)
{
	if (!st)
		return;
	PQclear(st->res);
	PQfreemem(st->bytes);
	free(st->sql);
	free(st->oids);
	free(st->values);
	free(st->lengths);
	free(st->formats);
	free(st->ints);
	free(st);
}

static struct db_stmt *pg_prepare(struct db *db, const char *sql, const char *types)
{
	struct pg_stmt *st = calloc(1, sizeof *st);
	int highest = 0;
	int n = (int)strlen(types);
	if (!st || !(st->sql = dollar_params(sql, &highest)))
		goto fail;
	if (highest != n) {
		fprintf(stderr, "stripelink: store: %d parameter types for %d parameters: %s\n", n, highest, sql);
		goto fail;
	}
	st->base.db = db;
	snprintf(st->base.types, sizeof st->base.types, "%s", types);
	st->base.n_params = n;
	st->oids = calloc((size_t)n + 1, sizeof *st->oids);
	st->values = calloc((size_t)n + 1, sizeof *st->values);
	st->lengths = calloc((size_t)n + 1, sizeof *st->lengths);
	st->formats = calloc((size_t)n + 1, sizeof *st->formats);
	st->ints = calloc((size_t)n + 1, sizeof *st->ints);
	if (!st->oids || !st->values || !st->lengths || !st->formats || !st->ints)
		goto fail;
	for (int i = 0; i < n; i++)
		st->oids[i] = types[i] == 'i' ? PG_OID_INT8 : types[i] == 't' ? PG_OID_TEXT
			      : types[i] == 'r' ? PG_OID_FLOAT8 : PG_OID_BYTEA;
	st->row = -1;
	return &st->base;
fail:
	stmt_free(st);
	return NULL;
}

/* Named statements are prepared lazily, at their first run on this
 * connection (and again after a reconnection). One-off statements (which
 * db.c never caches) run unprepared: their name stays "". */
static sl_err ensure_prepared(struct pg_db *db, struct pg_stmt *st)
{
	if (st->prepared_in == db->generation)
		return SL_OK;
	snprintf(st->name, sizeof st->name, "s%u", ++db->next_name);
	PGresult *res = PQprepare(db->c, st->name, st->sql, st->base.n_params, st->oids);
	sl_err e = PQresultStatus(res) == PGRES_COMMAND_OK ? SL_OK : fail(db, res, st->sql);
	PQclear(res);
	if (!e)
		st->prepared_in = db->generation;
	return e;
}

static sl_err pg_bind(struct db_stmt *s, const struct db_val *vals, int n)
{
	struct pg_stmt *st = stmt_of(s);
	for (int i = 0; i < n; i++) {
		const struct db_val *v = &vals[i];
		st->formats[i] = 0;
		st->lengths[i] = 0;
		switch (v->type) {
		case DB_NULL:
			st->values[i] = NULL;
			break;
		case DB_INT:
			snprintf(st->ints[i], sizeof st->ints[i], "%lld", v->i);
			st->values[i] = st->ints[i];
			break;
		case DB_REAL:
			snprintf(st->ints[i], sizeof st->ints[i], "%.17g", v->r);
			st->values[i] = st->ints[i];
			break;
		case DB_TEXT:
		case DB_BLOB:
			if (!v->s && v->type == DB_TEXT) {
				st->values[i] = NULL;
				break;
			}
			st->values[i] = v->s ? v->s : "";
			st->lengths[i] = (int)(v->type == DB_TEXT && !v->len ? strlen(st->values[i]) : v->len);
			st->formats[i] = 1;   /* the bytes as they are */
			break;
		}
	}
	return SL_OK;
}

/* Sends the statement with its bound values and keeps its result. */
static sl_err run(struct pg_db *db, struct pg_stmt *st, bool one_off)
{
	sl_err e;
	if (!one_off && (e = ensure_prepared(db, st)))
		return e;
	int n = st->base.n_params;
	PGresult *res = one_off ? PQexecParams(db->c, st->sql, n, st->oids, st->values, st->lengths,
					       st->formats, 0)
				: PQexecPrepared(db->c, st->name, n, st->values, st->lengths, st->formats, 0);
	ExecStatusType s = PQresultStatus(res);
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		e = fail(db, res, st->sql);
		PQclear(res);
		return e;
	}
	const char *changed = PQcmdTuples(res);
	db->changes = changed && *changed ? atoll(changed) : 0;
	st->res = res;
	st->rows = s == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	st->row = -1;
	return SL_OK;
}

static sl_err pg_step(struct db_stmt *s, bool *row)
{
	struct pg_stmt *st = stmt_of(s);
	struct pg_db *db = pg_of(s->db);
	*row = false;
	if (!st->res) {
		if (PQtransactionStatus(db->c) == PQTRANS_IDLE)
			revive(db);
		sl_err e = run(db, st, s->one_off);
		if (e)
			return e;
	}
	PQfreemem(st->bytes);
	st->bytes = NULL;
	if (st->row + 1 < st->rows) {
		st->row++;
		*row = true;
	}
	return SL_OK;
}

static const char *value(struct pg_stmt *st, int col)
{
	if (!st->res || st->row < 0 || st->row >= st->rows || PQgetisnull(st->res, st->row, col))
		return NULL;
	return PQgetvalue(st->res, st->row, col);
}

static bool pg_column_null(struct db_stmt *s, int col)
{
	return value(stmt_of(s), col) == NULL;
}

static long long pg_column_int(struct db_stmt *s, int col)
{
	const char *v = value(stmt_of(s), col);
	if (!v)
		return 0;
	if (v[0] == 't' && !v[1])
		return 1;
	if (v[0] == 'f' && !v[1])
		return 0;
	return strtoll(v, NULL, 10);
}

static double pg_column_real(struct db_stmt *s, int col)
{
	const char *v = value(stmt_of(s), col);
	return v ? strtod(v, NULL) : 0.0;
}

static const char *pg_column_text(struct db_stmt *s, int col)
{
	return value(stmt_of(s), col);
}

static const void *pg_column_blob(struct db_stmt *s, int col, size_t *len)
{
	struct pg_stmt *st = stmt_of(s);
	const char *v = value(st, col);
	*len = 0;
	if (!v)
		return NULL;
	if (PQftype(st->res, col) != PG_OID_BYTEA) {
		*len = (size_t)PQgetlength(st->res, st->row, col);
		return v;
	}
	PQfreemem(st->bytes);
	st->bytes = PQunescapeBytea((const unsigned char *)v, len);
	return st->bytes;
}

static long long pg_changes(struct db *db)
{
	return pg_of(db)->changes;
}

static void pg_reset(struct db_stmt *s)
{
	struct pg_stmt *st = stmt_of(s);
	PQclear(st->res);
	st->res = NULL;
	PQfreemem(st->bytes);
	st->bytes = NULL;
	st->row = -1;
	st->rows = 0;
}

/* A named statement is not deallocated: only db_close finalizes those,
 * and the server forgets them with the connection. */
static void pg_finalize(struct db_stmt *s)
{
	stmt_free(stmt_of(s));
}

static void *pg_handle(struct db *db)
{
	return pg_of(db)->c;
}

const struct db_ops db_pg_ops = {
	.engine = DB_PG,
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.schema_version = pg_schema_version,
	.set_schema_version = pg_set_schema_version,
	.migrate_lock = pg_migrate_lock,
	.migrate_unlock = pg_migrate_unlock,
	.begin = pg_begin,
	.prepare = pg_prepare,
	.bind = pg_bind,
	.step = pg_step,
	.column_null = pg_column_null,
	.column_int = pg_column_int,
	.column_real = pg_column_real,
	.column_text = pg_column_text,
	.column_blob = pg_column_blob,
	.changes = pg_changes,
	.reset = pg_reset,
	.finalize = pg_finalize,
	.handle = pg_handle,
};
