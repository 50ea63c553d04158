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
 *
 * Inside a transaction, what returns nothing the caller reads (BEGIN and
 * its lock, SAVEPOINT, and writes run with db_run_queued) is queued in
 * libpq's pipeline instead of costing a round trip each: the queue goes
 * to the server with the next statement whose result is read (a query,
 * RELEASE, COMMIT), and the first failure in it is that statement's
 * error. A round trip is mostly two process wake-ups on this kind of
 * machine, so a writer job costs its reads plus one.
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
#define LOCK_WRITE 1937009783   /* 0x73746c77, "stlw"; a decimal literal, spelt into the SQL below */
#define SQL_NUMBER_(n) #n
#define SQL_NUMBER(n) SQL_NUMBER_(n)
#define LOCK_WRITE_SQL "SELECT pg_advisory_xact_lock(" SQL_NUMBER(LOCK_WRITE) ")"
/* a keyed writer's locks in one statement, prepared on every connection
 * (settle): the writing lock shared, then its keys ($1: a bigint array)
 * in order */
#define LOCK_KEYS_NAME "sl_lock_keys"
#define LOCK_KEYS_SQL "SELECT pg_advisory_xact_lock_shared(" SQL_NUMBER(LOCK_WRITE) ")," \
	" (SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT k FROM unnest($1::bigint[]) AS k ORDER BY k) s)"

/* Commands sent in pipeline mode whose results are not read yet. */
#define PG_QUEUE 64

struct pg_stmt;

struct pg_db {
	struct db base;
	PGconn *c;
	long long changes;      /* rows changed by the last statement */
	unsigned generation;    /* bumped when the connection is re-established */
	unsigned next_name;     /* for prepared statement names */
	bool in_tx;             /* between begin and commit or rollback: writes may queue */
	int queued;             /* commands in the pipeline, results unread */
	struct {
		const char *sql;        /* borrowed from its statement, for the log */
		struct pg_stmt *prep;   /* a PQsendPrepare: unmarked if it failed */
	} queue[PG_QUEUE];
};

/* What a statement does to the transaction, read off its text. */
enum pg_kind {
	PG_PLAIN,
	PG_COMMIT,        /* COMMIT: ends it; a ROLLBACK reply is a failure */
	PG_ROLLBACK,      /* ROLLBACK: ends it; the queue's failures are moot */
	PG_ROLLBACK_TO,   /* ROLLBACK TO sp: the queue's failures are moot */
	PG_RELEASE,       /* RELEASE sp: ends a round trip if writes are queued */
};

struct pg_stmt {
	struct db_stmt base;
	enum pg_kind kind;
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

static sl_err drain(struct pg_db *db, PGresult **keep);

/* Runs a script of simple statements; SL_OK when each succeeded. */
static sl_err run_script(struct pg_db *db, const char *script)
{
	sl_err e = drain(db, NULL);
	if (e)
		return e;
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
	sl_err e = run_script(db, "SET synchronous_commit = on; SET client_min_messages = warning;"
				  " SET TIME ZONE 'UTC'; SET lock_timeout = '5s'");
	if (e)
		return e;
	PGresult *res = PQprepare(db->c, LOCK_KEYS_NAME, LOCK_KEYS_SQL, 1, NULL);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		e = fail(db, res, LOCK_KEYS_SQL);
	PQclear(res);
	return e;
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
	*found = false;
	sl_err e = drain(db, NULL);
	if (e)
		return e;
	PGresult *res = PQexec(db->c, sql);
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

/* ---- the pipeline ---- */

/* Puts the connection in pipeline mode (it must have no result unread). */
static sl_err pipe_on(struct pg_db *db)
{
	if (PQpipelineStatus(db->c) == PQ_PIPELINE_ON)
		return SL_OK;
	return PQenterPipelineMode(db->c) ? SL_OK : fail(db, NULL, "pipeline");
}

/* Notes one command just sent in the pipeline. */
static sl_err queued(struct pg_db *db, int sent, const char *sql, struct pg_stmt *prep)
{
	if (!sent)
		return fail(db, NULL, sql);
	db->queue[db->queued].sql = sql;
	db->queue[db->queued].prep = prep;
	db->queued++;
	return db->queued == PG_QUEUE ? drain(db, NULL) : SL_OK;
}

/* Sends a parameterless command in the pipeline. */
static sl_err queue_text(struct pg_db *db, const char *sql)
{
	sl_err e = pipe_on(db);
	return e ? e : queued(db, PQsendQueryParams(db->c, sql, 0, NULL, NULL, NULL, NULL, 0), sql, NULL);
}

static void unprepare(struct pg_stmt *st);

/* Ends the pipeline: sends its sync and reads every queued result, the
 * first failure being the error. With keep, the last command's result
 * (a query's rows) is handed to the caller. Leaves the connection out of
 * pipeline mode. */
static sl_err drain(struct pg_db *db, PGresult **keep)
{
	if (PQpipelineStatus(db->c) == PQ_PIPELINE_OFF)
		return SL_OK;
	int n = db->queued;
	db->queued = 0;
	if (!PQpipelineSync(db->c))
		return fail(db, NULL, "pipeline sync");
	sl_err e = SL_OK;
	int i = 0, nulls = 0;
	for (;;) {
		PGresult *res = PQgetResult(db->c);
		if (!res) {
			/* one NULL ends each command's results; two in a row: the connection is gone */
			if (++nulls > 1 || PQstatus(db->c) == CONNECTION_BAD)
				return e ? e : fail(db, NULL, "pipeline");
			continue;
		}
		nulls = 0;
		ExecStatusType s = PQresultStatus(res);
		if (s == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		bool ok = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
		if (!ok && i < n && db->queue[i].prep)
			unprepare(db->queue[i].prep);
		if (!ok && !e)
			e = s == PGRES_PIPELINE_ABORTED ? SL_ERR_DB : fail(db, res, i < n ? db->queue[i].sql : "pipeline");
		if (ok && keep && i == n - 1) {
			const char *changed = PQcmdTuples(res);
			db->changes = changed && *changed ? atoll(changed) : 0;
			*keep = res;
		} else {
			PQclear(res);
		}
		i++;
	}
	if (!PQexitPipelineMode(db->c) && !e)
		e = fail(db, NULL, "pipeline end");
	return e;
}

/* BEGIN and the writers' lock go with the transaction's first round trip. */
static sl_err pg_begin(struct db *db)
{
	struct pg_db *p = pg_of(db);
	revive(p);
	sl_err e = drain(p, NULL);
	if (!e && !(e = queue_text(p, "BEGIN")) && !(e = queue_text(p, LOCK_WRITE_SQL)))
		p->in_tx = true;
	if (e) {
		drain(p, NULL);
		run_script(p, "ROLLBACK");
	}
	return e;
}

/* The writers' lock shared, then the keys: beside other keyed writers,
 * after (and before) any writer that holds the lock alone. */
static sl_err pg_begin_keyed(struct db *db, const long long *keys, int n)
{
	struct pg_db *p = pg_of(db);
	char *list = malloc((size_t)n * 22 + 3);   /* {k,k,...} */
	if (!list)
		return SL_ERR_NOMEM;
	char *at = list;
	*at++ = '{';
	for (int i = 0; i < n; i++) {
		/* the whole-store lock's key is in the same space: never take it here */
		long long k = keys[i] == LOCK_WRITE ? LOCK_WRITE ^ 1LL : keys[i];
		at += sprintf(at, "%s%lld", i ? "," : "", k);
	}
	strcpy(at, "}");
	revive(p);
	sl_err e = drain(p, NULL);
	if (!e && !(e = queue_text(p, "BEGIN"))) {
		const char *values[1] = {list};
		e = queued(p, PQsendQueryPrepared(p->c, LOCK_KEYS_NAME, 1, values, NULL, NULL, 0), LOCK_KEYS_SQL,
			   NULL);
	}
	free(list);   /* libpq copied it into its buffer */
	if (!e)
		p->in_tx = true;
	if (e) {
		drain(p, NULL);
		run_script(p, "ROLLBACK");
	}
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
	st->kind = strcmp(sql, "COMMIT") == 0 ? PG_COMMIT : strcmp(sql, "ROLLBACK") == 0 ? PG_ROLLBACK
		   : strcmp(sql, "ROLLBACK TO sp") == 0 ? PG_ROLLBACK_TO
		   : strcmp(sql, "RELEASE sp") == 0 ? PG_RELEASE : PG_PLAIN;
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

static void unprepare(struct pg_stmt *st)
{
	st->prepared_in = 0;
}

/* Sends the statement in the pipeline (prepared first if need be). */
static sl_err send_queued(struct pg_db *db, struct pg_stmt *st, bool one_off)
{
	sl_err e = db->queued > PG_QUEUE - 2 ? drain(db, NULL) : SL_OK;
	if (!e)
		e = pipe_on(db);
	int n = st->base.n_params;
	if (!e && one_off)
		return queued(db, PQsendQueryParams(db->c, st->sql, n, st->oids, st->values, st->lengths,
						    st->formats, 0), st->sql, NULL);
	if (!e && st->prepared_in != db->generation) {
		snprintf(st->name, sizeof st->name, "s%u", ++db->next_name);
		st->prepared_in = db->generation;
		e = queued(db, PQsendPrepare(db->c, st->name, st->sql, n, st->oids), st->sql, st);
	}
	if (!e)
		e = queued(db, PQsendQueryPrepared(db->c, st->name, n, st->values, st->lengths, st->formats, 0),
			   st->sql, NULL);
	return e;
}

/* Runs the statement with its bound values and keeps its result: at once,
 * or (commands queued) as the last of the pipeline, which it ends. */
static sl_err run(struct pg_db *db, struct pg_stmt *st, bool one_off)
{
	sl_err e;
	PGresult *res = NULL;
	if (st->kind == PG_ROLLBACK || st->kind == PG_ROLLBACK_TO)
		drain(db, NULL);   /* what it undoes may have failed: that is why it runs */
	if (st->kind == PG_COMMIT || st->kind == PG_ROLLBACK)
		db->in_tx = false;
	/* a release with nothing queued before it cannot learn of a failure:
	 * every result in its savepoint was read. It goes with the next trip. */
	if (st->kind == PG_RELEASE && db->in_tx && PQpipelineStatus(db->c) == PQ_PIPELINE_OFF)
		return send_queued(db, st, one_off);
	if (PQpipelineStatus(db->c) == PQ_PIPELINE_ON) {
		if ((e = send_queued(db, st, one_off)) || (e = drain(db, &res))) {
			PQclear(res);
			return e;
		}
	} else {
		if (!one_off && (e = ensure_prepared(db, st)))
			return e;
		int n = st->base.n_params;
		res = one_off ? PQexecParams(db->c, st->sql, n, st->oids, st->values, st->lengths, st->formats, 0)
			      : PQexecPrepared(db->c, st->name, n, st->values, st->lengths, st->formats, 0);
		ExecStatusType s = PQresultStatus(res);
		if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
			e = fail(db, res, st->sql);
			PQclear(res);
			return e;
		}
		const char *changed = PQcmdTuples(res);
		db->changes = changed && *changed ? atoll(changed) : 0;
	}
	if (st->kind == PG_COMMIT && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
		/* COMMIT of a transaction a failure had aborted */
		fprintf(stderr, "stripelink: store: COMMIT: the transaction had failed and was rolled back\n");
		PQclear(res);
		return SL_ERR_DB;
	}
	st->res = res;
	st->rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	st->row = -1;
	return SL_OK;
}

static sl_err pg_step(struct db_stmt *s, bool *row)
{
	struct pg_stmt *st = stmt_of(s);
	struct pg_db *db = pg_of(s->db);
	*row = false;
	if (!st->res) {
		if (!db->in_tx && PQtransactionStatus(db->c) == PQTRANS_IDLE)
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

/* Inside a transaction, sends a write whose result nobody reads in the
 * pipeline and returns; outside one, runs it at once. */
static sl_err pg_queue(struct db_stmt *s)
{
	struct pg_db *db = pg_of(s->db);
	if (!db->in_tx || stmt_of(s)->kind != PG_PLAIN) {
		bool row;
		return pg_step(s, &row);
	}
	return send_queued(db, stmt_of(s), s->one_off);
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
	.begin_keyed = pg_begin_keyed,
	.prepare = pg_prepare,
	.bind = pg_bind,
	.step = pg_step,
	.queue = pg_queue,
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
