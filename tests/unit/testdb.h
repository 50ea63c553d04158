/*
 * testdb.h - where a unit test's database lives: an SQLite file in the
 * test's temporary directory, or, when STRIPELINK_TEST_PG_SERVER names a
 * PostgreSQL server (tests/run.sh unit-pg), a fresh database of its own on
 * that server, dropped at teardown. The same tests then run on both
 * engines.
 */
#ifndef STRIPELINK_TESTDB_H
#define STRIPELINK_TESTDB_H

#include <ctype.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *testdb_server(void)
{
	const char *s = getenv("STRIPELINK_TEST_PG_SERVER");
	return s && *s ? s : NULL;
}

/* True when the tests run on PostgreSQL. */
static inline bool testdb_pg(void)
{
	return testdb_server() != NULL;
}

/* Runs one statement on the server's maintenance database. */
static inline bool testdb_admin(const char *sql)
{
	char url[256];
	snprintf(url, sizeof url, "%s/postgres", testdb_server());
	PGconn *c = PQconnectdb(url);
	PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
	bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "testdb: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok;
}

/* The database name for a test directory "/tmp/...-XXXXXX". */
static inline void testdb_name(const char *dir, char *name, size_t cap)
{
	const char *suffix = strrchr(dir, '-');
	snprintf(name, cap, "u%d_", (int)getpid());
	size_t n = strlen(name);
	for (const char *p = suffix ? suffix + 1 : dir; *p && n + 1 < cap; p++)
		if (isalnum((unsigned char)*p))
			name[n++] = (char)tolower((unsigned char)*p);
	name[n] = '\0';
}

/* Fills path with the store target for a test whose temporary directory
 * is dir: dir/test.db, or a new PostgreSQL database's URL. False when the
 * database could not be made. */
static inline bool testdb_make(const char *dir, char *path, size_t cap)
{
	if (!testdb_pg()) {
		snprintf(path, cap, "%s/test.db", dir);
		return true;
	}
	char name[64], sql[128];
	testdb_name(dir, name, sizeof name);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
	snprintf(path, cap, "%s/%s", testdb_server(), name);
	return testdb_admin(sql);
}

/* Drops the PostgreSQL database made for dir (nothing for SQLite: the
 * caller removes its files). */
static inline void testdb_drop(const char *dir)
{
	if (!testdb_pg())
		return;
	char name[64], sql[128];
	testdb_name(dir, name, sizeof name);
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	testdb_admin(sql);
}

#endif
