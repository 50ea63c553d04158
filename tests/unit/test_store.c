/*
 * test_store.c - unit tests for src/store.c on a fresh database in a
 * temporary directory per test: migrations, users, sessions, login
 * counters, fields, contacts (upsert, set, tags, search, export), the
 * catch-up state.
 *
 * sqlite3 is used directly only to look at what the store cannot show
 * (PRAGMA user_version).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testdb.h"
#include "arena.h"
#include "err.h"
#include "store.h"

struct fixture {
	char dir[64];
	char path[128];
	struct store *db;
	struct arena *a;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof fx->dir, "/tmp/sl-test-store-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	if (!testdb_make(fx->dir, fx->path, sizeof fx->path)) {
		rmdir(fx->dir);
		free(fx);
		return -1;
	}
	sl_err e;
	fx->db = store_open(fx->path, &e);
	if (!fx->db || e || store_migrate(fx->db)) {
		store_close(fx->db);
		rmdir(fx->dir);
		free(fx);
		return -1;
	}
	fx->a = arena_new();
	*state = fx;
	return 0;
}

static void remove_db(const char *dir, const char *path)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char p[160];
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
		unlink(p);
	}
	rmdir(dir);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	store_close(fx->db);
	arena_free(fx->a);
	remove_db(fx->dir, fx->path);
	testdb_drop(fx->dir);
	free(fx);
	return 0;
}

/* PRAGMA user_version of the database at path, read with its own handle. */
static int user_version(const char *path)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int v = -1;
	if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* ---- schema ---- */

static void test_migrate_twice(void **state)
{
	struct fixture *fx = *state;
	assert_true(store_schema_version() >= 1);
	if (!testdb_pg())   /* PostgreSQL keeps the version in a table */
		assert_int_equal(user_version(fx->path), store_schema_version());
	assert_int_equal(store_migrate(fx->db), SL_OK);
	assert_int_equal(store_migrate(fx->db), SL_OK);
	if (!testdb_pg())
		assert_int_equal(user_version(fx->path), store_schema_version());
	/* the built-in rows were inserted once */
	struct field *f;
	size_t n;
	assert_int_equal(store_fields_list(fx->db, fx->a, &f, &n), SL_OK);
	assert_int_equal(n, 4);
	assert_int_equal(store_ping(fx->db), SL_OK);

	/* and a second connection to the same file migrates to a no-op too */
	sl_err e;
	struct store *other = store_open(fx->path, &e);
	assert_non_null(other);
	assert_int_equal(e, SL_OK);
	assert_int_equal(store_migrate(other), SL_OK);
	store_close(other);
}

static void test_migrate_refuses_newer_schema(void **state)
{
	struct fixture *fx = *state;
	if (testdb_pg()) {
		/* the version row says one more than this build knows */
		char sql[160];
		snprintf(sql, sizeof sql, "UPDATE stripelink_schema SET version = %d", store_schema_version() + 1);
		PGconn *c = PQconnectdb(fx->path);
		PQclear(PQexec(c, sql));
		PQfinish(c);
		assert_int_equal(store_migrate(fx->db), SL_ERR_DB);
		return;
	}
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open(fx->path, &h), SQLITE_OK);
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", store_schema_version() + 1);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(store_migrate(fx->db), SL_ERR_DB);
	assert_int_equal(user_version(fx->path), store_schema_version() + 1);
}

static void test_open_failure(void **state)
{
	(void)state;
	sl_err e = SL_OK;
	struct store *db = store_open("/nonexistent-dir-for-stripelink-tests/x.db", &e);
	assert_null(db);
	assert_int_not_equal(e, SL_OK);
	store_close(NULL);
}

static void test_transactions(void **state)
{
	struct fixture *fx = *state;
	long long id;
	bool created;
	struct contact c;

	assert_int_equal(store_begin(fx->db), SL_OK);
	assert_int_equal(store_contact_upsert(fx->db, "a@x.com", "a@x.com", 1, &id, &created), SL_OK);
	assert_int_equal(store_rollback(fx->db), SL_OK);
	assert_int_equal(store_contact_get(fx->db, fx->a, id, &c), SL_ERR_NOT_FOUND);

	assert_int_equal(store_begin(fx->db), SL_OK);
	assert_int_equal(store_contact_upsert(fx->db, "b@x.com", "b@x.com", 1, &id, &created), SL_OK);
	assert_int_equal(store_savepoint(fx->db), SL_OK);
	long long inner;
	assert_int_equal(store_contact_upsert(fx->db, "c@x.com", "c@x.com", 1, &inner, &created), SL_OK);
	assert_int_equal(store_rollback_to(fx->db), SL_OK);
	assert_int_equal(store_savepoint(fx->db), SL_OK);
	assert_int_equal(store_contact_set(fx->db, id, "first_name", "Kept", 2), SL_OK);
	assert_int_equal(store_release(fx->db), SL_OK);
	assert_int_equal(store_commit(fx->db), SL_OK);

	assert_int_equal(store_contact_get(fx->db, fx->a, id, &c), SL_OK);
	assert_string_equal(c.first_name, "Kept");
	long long total;
	struct contact *list;
	size_t n;
	struct contact_query q = {.text = "c@x.com"};
	assert_int_equal(store_contacts_search(fx->db, fx->a, &q, &list, &n, &total), SL_OK);
	assert_int_equal(total, 0);
}

/* ---- users ---- */

static void test_users(void **state)
{
	struct fixture *fx = *state;
	long long count = -1, id = 0, id2 = 0;
	struct user u;

	assert_int_equal(store_user_count(fx->db, &count), SL_OK);
	assert_int_equal(count, 0);
	assert_int_equal(store_user_find(fx->db, fx->a, "admin", &u), SL_ERR_NOT_FOUND);

	assert_int_equal(store_user_create(fx->db, "Admin", "hash-1", 100, &id), SL_OK);
	assert_true(id > 0);
	assert_int_equal(store_user_count(fx->db, &count), SL_OK);
	assert_int_equal(count, 1);

	static const char *const spellings[] = {"Admin", "admin", "ADMIN", "aDmIn"};
	for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++) {
		memset(&u, 0, sizeof u);
		assert_int_equal(store_user_find(fx->db, fx->a, spellings[i], &u), SL_OK);
		assert_int_equal(u.id, id);
		assert_string_equal(u.username, "Admin");
		assert_string_equal(u.password_hash, "hash-1");
	}
	assert_int_equal(store_user_find(fx->db, fx->a, "admin2", &u), SL_ERR_NOT_FOUND);
	assert_int_equal(store_user_find(fx->db, fx->a, "", &u), SL_ERR_NOT_FOUND);
	/* LIKE-style wildcards are not patterns here */
	assert_int_equal(store_user_find(fx->db, fx->a, "adm%", &u), SL_ERR_NOT_FOUND);

	for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++)
		assert_int_equal(store_user_create(fx->db, spellings[i], "hash-2", 200, &id2),
				 SL_ERR_EXISTS);
	assert_int_equal(store_user_count(fx->db, &count), SL_OK);
	assert_int_equal(count, 1);

	assert_int_equal(store_user_create(fx->db, "second", "hash-3", 300, &id2), SL_OK);
	assert_true(id2 != id);
	assert_int_equal(store_user_create(fx->db, "third", "hash-4", 300, NULL), SL_OK);
	assert_int_equal(store_user_count(fx->db, &count), SL_OK);
	assert_int_equal(count, 3);
}

/* ---- sessions ---- */

static void test_sessions(void **state)
{
	struct fixture *fx = *state;
	long long uid;
	struct session_row s;

	assert_int_equal(store_user_create(fx->db, "admin", "h", 1, &uid), SL_OK);
	assert_int_equal(store_session_create(fx->db, "hash-a", uid, "csrf-a", 1000, 2000), SL_OK);
	assert_int_equal(store_session_create(fx->db, "hash-a", uid, "csrf-x", 1000, 2000),
			 SL_ERR_EXISTS);

	memset(&s, 0, sizeof s);
	assert_int_equal(store_session_find(fx->db, fx->a, "hash-a", 1000, &s), SL_OK);
	assert_int_equal(s.user_id, uid);
	assert_string_equal(s.username, "admin");
	assert_string_equal(s.csrf, "csrf-a");
	assert_int_equal(s.expires_at, 2000);
	assert_int_equal(store_session_find(fx->db, fx->a, "hash-a", 1999, &s), SL_OK);
	/* expired at expires_at itself */
	assert_int_equal(store_session_find(fx->db, fx->a, "hash-a", 2000, &s), SL_ERR_NOT_FOUND);
	assert_int_equal(store_session_find(fx->db, fx->a, "hash-a", 5000, &s), SL_ERR_NOT_FOUND);
	assert_int_equal(store_session_find(fx->db, fx->a, "hash-b", 1000, &s), SL_ERR_NOT_FOUND);
	assert_int_equal(store_session_find(fx->db, fx->a, "HASH-A", 1000, &s), SL_ERR_NOT_FOUND);

	/* delete */
	assert_int_equal(store_session_delete(fx->db, "hash-a"), SL_OK);
	assert_int_equal(store_session_find(fx->db, fx->a, "hash-a", 1000, &s), SL_ERR_NOT_FOUND);
	assert_int_equal(store_session_delete(fx->db, "hash-a"), SL_OK);

	/* purge drops only the expired ones */
	assert_int_equal(store_session_create(fx->db, "old", uid, "c1", 1000, 3000), SL_OK);
	assert_int_equal(store_session_create(fx->db, "new", uid, "c2", 1000, 5000), SL_OK);
	assert_int_equal(store_session_purge(fx->db, 3000), SL_OK);
	assert_int_equal(store_session_find(fx->db, fx->a, "old", 1000, &s), SL_ERR_NOT_FOUND);
	assert_int_equal(store_session_find(fx->db, fx->a, "new", 1000, &s), SL_OK);
	assert_string_equal(s.csrf, "c2");
}

/* ---- login throttling counters ---- */

static void test_login_counters(void **state)
{
	struct fixture *fx = *state;
	long long failures = -1, last = -1;

	assert_int_equal(store_login_failures(fx->db, "user:admin", &failures, &last), SL_OK);
	assert_int_equal(failures, 0);
	assert_int_equal(last, 0);

	assert_int_equal(store_login_failed(fx->db, "user:admin", 100), SL_OK);
	assert_int_equal(store_login_failures(fx->db, "user:admin", &failures, &last), SL_OK);
	assert_int_equal(failures, 1);
	assert_int_equal(last, 100);

	for (long long t = 101; t <= 104; t++)
		assert_int_equal(store_login_failed(fx->db, "user:admin", t), SL_OK);
	assert_int_equal(store_login_failures(fx->db, "user:admin", &failures, &last), SL_OK);
	assert_int_equal(failures, 5);
	assert_int_equal(last, 104);

	/* keys are independent and exact */
	assert_int_equal(store_login_failed(fx->db, "addr:192.0.2.1", 500), SL_OK);
	assert_int_equal(store_login_failures(fx->db, "addr:192.0.2.1", &failures, &last), SL_OK);
	assert_int_equal(failures, 1);
	assert_int_equal(store_login_failures(fx->db, "user:ADMIN", &failures, &last), SL_OK);
	assert_int_equal(failures, 0);

	assert_int_equal(store_login_clear(fx->db, "user:admin"), SL_OK);
	assert_int_equal(store_login_failures(fx->db, "user:admin", &failures, &last), SL_OK);
	assert_int_equal(failures, 0);
	assert_int_equal(last, 0);
	assert_int_equal(store_login_failures(fx->db, "addr:192.0.2.1", &failures, &last), SL_OK);
	assert_int_equal(failures, 1);
	assert_int_equal(store_login_clear(fx->db, "never-seen"), SL_OK);
}

/* ---- fields ---- */

static const struct {
	const char *key;
	const char *label;
	const char *type;
} builtin_fields[] = {
	{"email", "Email", "email"},
	{"first_name", "First name", "text"},
	{"last_name", "Last name", "text"},
	{"phone", "Phone", "phone"},
};

static void test_fields(void **state)
{
	struct fixture *fx = *state;
	struct field *f;
	size_t n;
	long long plan, seats, id;
	bool exists;

	assert_int_equal(store_fields_list(fx->db, fx->a, &f, &n), SL_OK);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(f[i].key, builtin_fields[i].key);
		assert_string_equal(f[i].label, builtin_fields[i].label);
		assert_string_equal(f[i].type, builtin_fields[i].type);
		assert_true(f[i].builtin);
	}

	assert_int_equal(store_field_create(fx->db, "plan", "Plan", "text", &plan), SL_OK);
	assert_int_equal(store_field_create(fx->db, "seats", "Seats", "number", &seats), SL_OK);
	assert_true(plan > 0 && seats > plan);
	assert_int_equal(store_fields_list(fx->db, fx->a, &f, &n), SL_OK);
	assert_int_equal(n, 6);
	for (size_t i = 0; i < 4; i++) {
		assert_true(f[i].builtin);
		assert_string_equal(f[i].key, builtin_fields[i].key);
	}
	assert_false(f[4].builtin);
	assert_int_equal(f[4].id, plan);
	assert_string_equal(f[4].key, "plan");
	assert_string_equal(f[4].label, "Plan");
	assert_string_equal(f[4].type, "text");
	assert_int_equal(f[5].id, seats);
	assert_string_equal(f[5].type, "number");

	/* duplicates: key, label in any case, a built-in's key or label */
	assert_int_equal(store_field_create(fx->db, "plan", "Other", "text", &id), SL_ERR_EXISTS);
	assert_int_equal(store_field_create(fx->db, "plan2", "PLAN", "text", &id), SL_ERR_EXISTS);
	assert_int_equal(store_field_create(fx->db, "plan3", "plan", "text", &id), SL_ERR_EXISTS);
	assert_int_equal(store_field_create(fx->db, "email", "E-mail", "email", &id), SL_ERR_EXISTS);
	assert_int_equal(store_field_create(fx->db, "mail", "email", "email", &id), SL_ERR_EXISTS);
	assert_int_equal(store_fields_list(fx->db, fx->a, &f, &n), SL_OK);
	assert_int_equal(n, 6);

	assert_int_equal(store_field_exists(fx->db, "plan", &exists), SL_OK);
	assert_true(exists);
	assert_int_equal(store_field_exists(fx->db, "email", &exists), SL_OK);
	assert_true(exists);
	assert_int_equal(store_field_exists(fx->db, "nope", &exists), SL_OK);
	assert_false(exists);

	/* built-ins cannot be deleted; missing ids are not found */
	for (long long b = 1; b <= 4; b++)
		assert_int_equal(store_field_delete(fx->db, b), SL_ERR_NOT_FOUND);
	assert_int_equal(store_field_delete(fx->db, 9999), SL_ERR_NOT_FOUND);
	assert_int_equal(store_fields_list(fx->db, fx->a, &f, &n), SL_OK);
	assert_int_equal(n, 6);

	/* deleting a custom field takes its values with it */
	long long cid;
	bool created;
	struct contact_value *v;
	size_t nv;
	assert_int_equal(store_contact_upsert(fx->db, "a@x.com", "a@x.com", 1, &cid, &created), SL_OK);
	assert_int_equal(store_contact_set(fx->db, cid, "plan", "gold", 2), SL_OK);
	assert_int_equal(store_contact_set(fx->db, cid, "seats", "5", 2), SL_OK);
	assert_int_equal(store_contact_values(fx->db, fx->a, cid, &v, &nv), SL_OK);
	assert_int_equal(nv, 2);
	assert_int_equal(store_field_delete(fx->db, plan), SL_OK);
	assert_int_equal(store_field_delete(fx->db, plan), SL_ERR_NOT_FOUND);
	assert_int_equal(store_field_exists(fx->db, "plan", &exists), SL_OK);
	assert_false(exists);
	assert_int_equal(store_contact_values(fx->db, fx->a, cid, &v, &nv), SL_OK);
	assert_int_equal(nv, 1);
	assert_string_equal(v[0].key, "seats");
	assert_int_equal(store_fields_list(fx->db, fx->a, &f, &n), SL_OK);
	assert_int_equal(n, 5);
	/* the key and label are free again */
	assert_int_equal(store_field_create(fx->db, "plan", "Plan", "text", &id), SL_OK);
}

/* ---- contacts ---- */

static void test_contact_upsert(void **state)
{
	struct fixture *fx = *state;
	long long id1, id2, id3;
	bool created;
	struct contact c;

	assert_int_equal(store_contact_upsert(fx->db, "Ada@Example.com", "ada@example.com", 100,
					      &id1, &created), SL_OK);
	assert_true(created);
	created = true;
	assert_int_equal(store_contact_upsert(fx->db, "ADA@example.COM", "ada@example.com", 200,
					      &id2, &created), SL_OK);
	assert_false(created);
	assert_int_equal(id2, id1);
	assert_int_equal(store_contact_upsert(fx->db, "bob@example.com", "bob@example.com", 300,
					      &id3, &created), SL_OK);
	assert_true(created);
	assert_true(id3 != id1);

	assert_int_equal(store_contact_get(fx->db, fx->a, id1, &c), SL_OK);
	assert_int_equal(c.id, id1);
	assert_string_equal(c.email, "Ada@Example.com"); /* display email kept as first given */
	assert_string_equal(c.first_name, "");
	assert_string_equal(c.last_name, "");
	assert_string_equal(c.phone, "");
	assert_string_equal(c.tags, "");
	assert_int_equal(c.created_at, 100);
	assert_int_equal(c.updated_at, 100);
	assert_int_equal(store_contact_get(fx->db, fx->a, 9999, &c), SL_ERR_NOT_FOUND);
}

/* Several fields at once: the names and the phone in one statement (a
 * later value of a key wins, an absent one is kept), custom values beside. */
static void contact_set_all(struct fixture *fx, long long id)
{
	struct contact c;
	struct contact_value *v;
	size_t nv;
	const struct contact_change first[] = {{"first_name", "Ada"}, {"last_name", "Lovelace"},
					       {"plan", "gold"}, {"phone", "+1"}, {"first_name", "Augusta"}};
	assert_int_equal(store_contact_set_all(fx->db, id, first, 5, 200), SL_OK);
	assert_int_equal(store_contact_get(fx->db, fx->a, id, &c), SL_OK);
	assert_string_equal(c.first_name, "Augusta");
	assert_string_equal(c.last_name, "Lovelace");
	assert_string_equal(c.phone, "+1");
	assert_int_equal(c.updated_at, 200);
	assert_int_equal(store_contact_values(fx->db, fx->a, id, &v, &nv), SL_OK);
	assert_int_equal(nv, 1);
	assert_string_equal(v[0].value, "gold");
	const struct contact_change second[] = {{"phone", "+2"}};
	assert_int_equal(store_contact_set_all(fx->db, id, second, 1, 300), SL_OK);
	assert_int_equal(store_contact_get(fx->db, fx->a, id, &c), SL_OK);
	assert_string_equal(c.first_name, "Augusta");
	assert_string_equal(c.last_name, "Lovelace");
	assert_string_equal(c.phone, "+2");
	assert_int_equal(c.updated_at, 300);
	assert_int_equal(store_contact_set_all(fx->db, id, NULL, 0, 400), SL_OK);
	assert_int_equal(store_contact_get(fx->db, fx->a, id, &c), SL_OK);
	assert_int_equal(c.updated_at, 300);   /* nothing to set: nothing written */
}

static void test_contact_set(void **state)
{
	struct fixture *fx = *state;
	long long id, other, plan;
	bool created;
	struct contact c;
	struct contact_value *v;
	size_t nv;

	assert_int_equal(store_field_create(fx->db, "plan", "Plan", "text", &plan), SL_OK);
	assert_int_equal(store_contact_upsert(fx->db, "a@x.com", "a@x.com", 100, &id, &created), SL_OK);
	assert_int_equal(store_contact_upsert(fx->db, "b@x.com", "b@x.com", 100, &other, &created), SL_OK);

	assert_int_equal(store_contact_set(fx->db, id, "first_name", "Ada", 200), SL_OK);
	assert_int_equal(store_contact_set(fx->db, id, "last_name", "Lovelace", 201), SL_OK);
	assert_int_equal(store_contact_set(fx->db, id, "phone", "+44 20 7946 0000", 202), SL_OK);
	assert_int_equal(store_contact_set(fx->db, id, "email", "Ada@X.com", 203), SL_OK);
	assert_int_equal(store_contact_get(fx->db, fx->a, id, &c), SL_OK);
	assert_string_equal(c.first_name, "Ada");
	assert_string_equal(c.last_name, "Lovelace");
	assert_string_equal(c.phone, "+44 20 7946 0000");
	assert_string_equal(c.email, "Ada@X.com");
	assert_int_equal(c.created_at, 100);
	assert_int_equal(c.updated_at, 203);

	/* NULL clears a built-in */
	assert_int_equal(store_contact_set(fx->db, id, "phone", NULL, 204), SL_OK);
	assert_int_equal(store_contact_get(fx->db, fx->a, id, &c), SL_OK);
	assert_string_equal(c.phone, "");

	/* custom values: set, overwrite, only on that contact */
	assert_int_equal(store_contact_set(fx->db, id, "plan", "silver", 300), SL_OK);
	assert_int_equal(store_contact_set(fx->db, id, "plan", "gold", 301), SL_OK);
	assert_int_equal(store_contact_values(fx->db, fx->a, id, &v, &nv), SL_OK);
	assert_int_equal(nv, 1);
	assert_int_equal(v[0].field_id, plan);
	assert_string_equal(v[0].key, "plan");
	assert_string_equal(v[0].label, "Plan");
	assert_string_equal(v[0].value, "gold");
	assert_int_equal(store_contact_values(fx->db, fx->a, other, &v, &nv), SL_OK);
	assert_int_equal(nv, 0);
	/* the other contact's built-ins are untouched */
	assert_int_equal(store_contact_get(fx->db, fx->a, other, &c), SL_OK);
	assert_string_equal(c.first_name, "");
	assert_string_equal(c.email, "b@x.com");

	/* a built-in key is never stored as a custom value */
	assert_int_equal(store_contact_values(fx->db, fx->a, id, &v, &nv), SL_OK);
	for (size_t i = 0; i < nv; i++)
		assert_string_not_equal(v[i].key, "first_name");

	contact_set_all(fx, id);
}

/* Several tags at once, two per statement: an odd count, a repeat, a tag
 * already there. Outside a transaction (no automations known) each says
 * whether it was new; inside one without a tag_added automation, none is
 * read and the bits stay 0. */
static void test_contact_tags_many(void **state)
{
	struct fixture *fx = *state;
	long long id;
	bool created;
	struct contact c;
	uint64_t added = 99;
	assert_int_equal(store_contact_upsert(fx->db, "t@x.com", "t@x.com", 100, &id, &created), SL_OK);
	const char *const three[] = {"a", "b", "c"};
	assert_int_equal(store_contact_tags(fx->db, id, three, 3, &added), SL_OK);
	assert_int_equal(added, 7);
	const char *const more[] = {"b", "d", "d"};
	assert_int_equal(store_contact_tags(fx->db, id, more, 3, &added), SL_OK);
	assert_int_equal(added, 2);
	assert_int_equal(store_begin(fx->db), SL_OK);
	const char *const last[] = {"e", "a", "f", "e"};
	assert_int_equal(store_contact_tags(fx->db, id, last, 4, &added), SL_OK);
	assert_int_equal(added, 0);
	assert_int_equal(store_commit(fx->db), SL_OK);
	assert_int_equal(store_contact_get(fx->db, fx->a, id, &c), SL_OK);
	assert_string_equal(c.tags, "a;b;c;d;e;f");
}

static void test_contact_tags(void **state)
{
	struct fixture *fx = *state;
	long long a, b;
	bool created;
	struct contact c;
	const char **tags;
	size_t n;

	assert_int_equal(store_tags_list(fx->db, fx->a, &tags, &n), SL_OK);
	assert_int_equal(n, 0);
	assert_int_equal(store_contact_upsert(fx->db, "a@x.com", "a@x.com", 1, &a, &created), SL_OK);
	assert_int_equal(store_contact_upsert(fx->db, "b@x.com", "b@x.com", 1, &b, &created), SL_OK);

	assert_int_equal(store_contact_tag(fx->db, a, "vip"), SL_OK);
	assert_int_equal(store_contact_tag(fx->db, a, "vip"), SL_OK);
	assert_int_equal(store_contact_get(fx->db, fx->a, a, &c), SL_OK);
	assert_string_equal(c.tags, "vip");
	assert_int_equal(store_contact_tag(fx->db, a, "alpha"), SL_OK);
	assert_int_equal(store_contact_tag(fx->db, a, "vip"), SL_OK);
	assert_int_equal(store_contact_get(fx->db, fx->a, a, &c), SL_OK);
	assert_string_equal(c.tags, "alpha;vip");
	assert_int_equal(store_contact_tag(fx->db, b, "vip"), SL_OK);
	assert_int_equal(store_contact_tag(fx->db, b, "Beta Tester"), SL_OK);
	assert_int_equal(store_contact_get(fx->db, fx->a, b, &c), SL_OK);
	assert_string_equal(c.tags, "Beta Tester;vip");

	assert_int_equal(store_tags_list(fx->db, fx->a, &tags, &n), SL_OK);
	assert_int_equal(n, 3);
	assert_string_equal(tags[0], "Beta Tester");
	assert_string_equal(tags[1], "alpha");
	assert_string_equal(tags[2], "vip");
}

/* ---- search ---- */

static const struct {
	const char *email;
	const char *first;
	const char *last;
	const char *tags;   /* ';'-separated */
} people[] = {
	{"ada@example.com", "Ada", "Lovelace", "vip;founder"},
	{"Bob@Example.com", "Bob", "Builder", "vip"},
	{"a_b@example.com", "", "", ""},
	{"axb@example.com", "", "", "beta"},
	{"100%sure@example.com", "Percy", "Cent", ""},
	{"1000sure@example.com", "", "", ""},
	{"back\\slash@example.com", "", "", ""},
	{"grace@navy.mil", "Grace", "Hopper", "founder;beta"},
};
#define N_PEOPLE (sizeof people / sizeof people[0])

/* Adds people in order (ids ascending) with their names and tags. */
static void seed_people(struct fixture *fx)
{
	for (size_t i = 0; i < N_PEOPLE; i++) {
		long long id;
		bool created;
		char key[64];
		size_t k = 0;
		for (const char *p = people[i].email; *p && k < sizeof key - 1; p++)
			key[k++] = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
		key[k] = '\0';
		assert_int_equal(store_contact_upsert(fx->db, people[i].email, key, 1000 + (long long)i,
						      &id, &created), SL_OK);
		assert_true(created);
		assert_int_equal(store_contact_set(fx->db, id, "first_name", people[i].first, 2000), SL_OK);
		assert_int_equal(store_contact_set(fx->db, id, "last_name", people[i].last, 2000), SL_OK);
		char tags[64];
		snprintf(tags, sizeof tags, "%s", people[i].tags);
		for (char *save = NULL, *t = strtok_r(tags, ";", &save); t; t = strtok_r(NULL, ";", &save))
			assert_int_equal(store_contact_tag(fx->db, id, t), SL_OK);
	}
}

static void test_search(void **state)
{
	struct fixture *fx = *state;
	/* expected: emails newest first, as a ' '-joined string */
	static const struct {
		const char *text;
		const char *tag;
		long long offset, limit;
		long long total;
		const char *emails;
	} cases[] = {
		{NULL, NULL, 0, 0, 8,
		 "grace@navy.mil back\\slash@example.com 1000sure@example.com 100%sure@example.com "
		 "axb@example.com a_b@example.com Bob@Example.com ada@example.com"},
		{"", "", 0, 0, 8, NULL},
		{"ada", NULL, 0, 0, 1, "ada@example.com"},
		{"ADA", NULL, 0, 0, 1, "ada@example.com"},
		{"bob@example", NULL, 0, 0, 1, "Bob@Example.com"},          /* email_key is lower-case */
		{"Ada Love", NULL, 0, 0, 1, "ada@example.com"},             /* first + ' ' + last */
		{"hopper", NULL, 0, 0, 1, "grace@navy.mil"},
		{"example.com", NULL, 0, 0, 7, NULL},
		{"a_b", NULL, 0, 0, 1, "a_b@example.com"},                  /* '_' is literal */
		{"_", NULL, 0, 0, 1, "a_b@example.com"},
		{"100%", NULL, 0, 0, 1, "100%sure@example.com"},            /* '%' is literal */
		{"%", NULL, 0, 0, 1, "100%sure@example.com"},
		{"%%", NULL, 0, 0, 0, ""},
		{"\\", NULL, 0, 0, 1, "back\\slash@example.com"},           /* so is the escape */
		{"\\%", NULL, 0, 0, 0, ""},
		{"nobody", NULL, 0, 0, 0, ""},
		{NULL, "vip", 0, 0, 2, "Bob@Example.com ada@example.com"},
		{NULL, "founder", 0, 0, 2, "grace@navy.mil ada@example.com"},
		{NULL, "VIP", 0, 0, 0, ""},                                 /* tags are exact */
		{NULL, "vi", 0, 0, 0, ""},
		{NULL, "none", 0, 0, 0, ""},
		{"grace", "beta", 0, 0, 1, "grace@navy.mil"},
		{"ada", "beta", 0, 0, 0, ""},
		{NULL, NULL, 0, 3, 8,
		 "grace@navy.mil back\\slash@example.com 1000sure@example.com"},
		{NULL, NULL, 3, 3, 8,
		 "100%sure@example.com axb@example.com a_b@example.com"},
		{NULL, NULL, 6, 3, 8, "Bob@Example.com ada@example.com"},
		{NULL, NULL, 9, 3, 8, ""},
		{"example", "vip", 1, 1, 2, "ada@example.com"},
	};

	seed_people(fx);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct contact_query q = {cases[i].text, cases[i].tag, cases[i].offset, cases[i].limit};
		struct contact *list = NULL;
		size_t n = 0;
		long long total = -1;
		assert_int_equal(store_contacts_search(fx->db, fx->a, &q, &list, &n, &total), SL_OK);
		char got[1024] = "";
		for (size_t k = 0; k < n; k++) {
			strncat(got, k ? " " : "", sizeof got - strlen(got) - 1);
			strncat(got, list[k].email, sizeof got - strlen(got) - 1);
		}
		if (total != cases[i].total ||
		    (cases[i].emails && strcmp(got, cases[i].emails) != 0) ||
		    (!cases[i].emails && (long long)n != cases[i].total))
			fail_msg("search %zu (text %s, tag %s, offset %lld, limit %lld): total %lld [%s], "
				 "expected %lld [%s]", i, cases[i].text ? cases[i].text : "NULL",
				 cases[i].tag ? cases[i].tag : "NULL", cases[i].offset, cases[i].limit,
				 total, got, cases[i].total, cases[i].emails ? cases[i].emails : "...");
	}

	/* rows carry their tags and names */
	struct contact_query q = {.text = "grace"};
	struct contact *list;
	size_t n;
	long long total;
	assert_int_equal(store_contacts_search(fx->db, fx->a, &q, &list, &n, &total), SL_OK);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].first_name, "Grace");
	assert_string_equal(list[0].last_name, "Hopper");
	assert_string_equal(list[0].tags, "beta;founder");
}

/* ---- export ---- */

struct seen_row {
	long long id;
	char email[64];
	char tags[64];
	char values[2][32];
	bool set[2];
};

struct each_ctx {
	struct seen_row rows[8];
	size_t n;
	size_t n_custom;
	size_t stop_after;   /* 0: never */
};

static sl_err collect(void *p, const struct contact *c, const char *const *values)
{
	struct each_ctx *ctx = p;
	if (ctx->n == 8)
		return SL_ERR_TOO_LARGE;
	struct seen_row *r = &ctx->rows[ctx->n++];
	r->id = c->id;
	snprintf(r->email, sizeof r->email, "%s", c->email);
	snprintf(r->tags, sizeof r->tags, "%s", c->tags);
	for (size_t i = 0; i < ctx->n_custom && i < 2; i++) {
		r->set[i] = values[i] != NULL;
		snprintf(r->values[i], sizeof r->values[i], "%s", values[i] ? values[i] : "");
	}
	if (ctx->stop_after && ctx->n == ctx->stop_after)
		return SL_ERR_INVALID;
	return SL_OK;
}

static void test_contacts_each(void **state)
{
	struct fixture *fx = *state;
	long long plan, seats, extra, c1, c2, c3, c4;
	bool created;

	assert_int_equal(store_field_create(fx->db, "plan", "Plan", "text", &plan), SL_OK);
	assert_int_equal(store_field_create(fx->db, "extra", "Extra", "text", &extra), SL_OK);
	assert_int_equal(store_field_create(fx->db, "seats", "Seats", "number", &seats), SL_OK);
	assert_int_equal(store_contact_upsert(fx->db, "c1@x.com", "c1@x.com", 1, &c1, &created), SL_OK);
	assert_int_equal(store_contact_upsert(fx->db, "c2@x.com", "c2@x.com", 1, &c2, &created), SL_OK);
	assert_int_equal(store_contact_upsert(fx->db, "c3@x.com", "c3@x.com", 1, &c3, &created), SL_OK);
	assert_int_equal(store_contact_upsert(fx->db, "c4@x.com", "c4@x.com", 1, &c4, &created), SL_OK);
	/* values set out of contact order, plus a field not exported */
	assert_int_equal(store_contact_set(fx->db, c4, "plan", "bronze", 2), SL_OK);
	assert_int_equal(store_contact_set(fx->db, c1, "seats", "5", 2), SL_OK);
	assert_int_equal(store_contact_set(fx->db, c1, "extra", "not exported", 2), SL_OK);
	assert_int_equal(store_contact_set(fx->db, c1, "plan", "gold", 2), SL_OK);
	assert_int_equal(store_contact_set(fx->db, c2, "seats", "7", 2), SL_OK);
	assert_int_equal(store_contact_set(fx->db, c3, "extra", "only extra", 2), SL_OK);
	assert_int_equal(store_contact_tag(fx->db, c2, "vip"), SL_OK);

	/* columns in the caller's order: seats first, then plan */
	const long long ids[2] = {seats, plan};
	struct each_ctx ctx = {.n_custom = 2};
	assert_int_equal(store_contacts_each(fx->db, ids, 2, collect, &ctx), SL_OK);
	assert_int_equal(ctx.n, 4);
	static const struct {
		const char *email;
		const char *seats;   /* NULL: unset */
		const char *plan;
		const char *tags;
	} want[] = {
		{"c1@x.com", "5", "gold", ""},
		{"c2@x.com", "7", NULL, "vip"},
		{"c3@x.com", NULL, NULL, ""},
		{"c4@x.com", NULL, "bronze", ""},
	};
	for (size_t i = 0; i < 4; i++) {
		const struct seen_row *r = &ctx.rows[i];
		assert_string_equal(r->email, want[i].email);
		assert_string_equal(r->tags, want[i].tags);
		assert_int_equal(r->set[0], want[i].seats != NULL);
		assert_int_equal(r->set[1], want[i].plan != NULL);
		if (want[i].seats)
			assert_string_equal(r->values[0], want[i].seats);
		if (want[i].plan)
			assert_string_equal(r->values[1], want[i].plan);
	}
	assert_true(ctx.rows[0].id == c1 && ctx.rows[3].id == c4);

	/* no custom columns */
	struct each_ctx none = {.n_custom = 0};
	assert_int_equal(store_contacts_each(fx->db, NULL, 0, collect, &none), SL_OK);
	assert_int_equal(none.n, 4);

	/* the callback's error stops the walk and is returned */
	struct each_ctx stop = {.n_custom = 2, .stop_after = 2};
	assert_int_equal(store_contacts_each(fx->db, ids, 2, collect, &stop), SL_ERR_INVALID);
	assert_int_equal(stop.n, 2);

	/* and the statements were reset: the walk works again */
	struct each_ctx again = {.n_custom = 2};
	assert_int_equal(store_contacts_each(fx->db, ids, 2, collect, &again), SL_OK);
	assert_int_equal(again.n, 4);
	assert_string_equal(again.rows[0].values[1], "gold");
}

static void test_contacts_each_empty(void **state)
{
	struct fixture *fx = *state;
	struct each_ctx ctx = {.n_custom = 0};
	assert_int_equal(store_contacts_each(fx->db, NULL, 0, collect, &ctx), SL_OK);
	assert_int_equal(ctx.n, 0);
}

/* The catch-up state: a sweep's pages are committed as it goes, a failed
 * sweep keeps its place and leaves the cursor alone, a finished one moves
 * the cursor to the newest event it saw. */
static void test_catchup_state(void **state)
{
	struct fixture *fx = *state;
	struct catchup_row r;
	long long id;
	assert_int_equal(store_connection_begin(fx->db, "acct_1", "Shop", false, 100, &id), SL_OK);
	assert_int_equal(store_connection_activate(fx->db, id, "sealed", "sk_test_…1234", "we_1",
						   "sealed2", 100), SL_OK);
	assert_int_equal(store_catchup_get(fx->db, fx->a, id, &r), SL_OK);
	assert_false(r.running);
	assert_int_equal(r.cursor, 0);
	assert_string_equal(r.endpoint_state, "unknown");

	assert_int_equal(store_catchup_request(fx->db, id, 200), SL_OK);
	assert_int_equal(store_catchup_request(fx->db, id, 300), SL_OK);   /* the first request stays */
	assert_int_equal(store_catchup_get(fx->db, fx->a, id, &r), SL_OK);
	assert_int_equal(r.requested_at, 200);

	assert_int_equal(store_catchup_begin(fx->db, id, 50, 400), SL_OK);
	assert_int_equal(store_catchup_page(fx->db, id, "evt_3", 390, 100, 7, 1), SL_OK);
	assert_int_equal(store_catchup_page(fx->db, id, "evt_9", 120, 40, 2, 0), SL_OK);
	assert_int_equal(store_catchup_get(fx->db, fx->a, id, &r), SL_OK);
	assert_true(r.running);
	assert_int_equal(r.requested_at, 0);
	assert_int_equal(r.run_gte, 50);
	assert_int_equal(r.run_lte, 400);
	assert_string_equal(r.run_after, "evt_9");
	assert_int_equal(r.run_newest, 390);
	assert_int_equal(r.run_found, 140);
	assert_int_equal(r.run_new, 9);

	assert_int_equal(store_catchup_fail(fx->db, id, 410, "Stripe said no"), SL_OK);
	assert_int_equal(store_catchup_get(fx->db, fx->a, id, &r), SL_OK);
	assert_true(r.running);
	assert_int_equal(r.cursor, 0);
	assert_string_equal(r.last_error, "Stripe said no");

	assert_int_equal(store_catchup_finish(fx->db, id, 420), SL_OK);
	assert_int_equal(store_catchup_get(fx->db, fx->a, id, &r), SL_OK);
	assert_false(r.running);
	assert_int_equal(r.cursor, 390);
	assert_int_equal(r.last_at, 420);
	assert_int_equal(r.last_found, 140);
	assert_int_equal(r.last_new, 9);
	assert_int_equal(r.last_skipped, 1);
	assert_string_equal(r.last_error, "");

	/* an empty sweep keeps the cursor where it was */
	assert_int_equal(store_catchup_begin(fx->db, id, 390 - 600, 500), SL_OK);
	assert_int_equal(store_catchup_finish(fx->db, id, 500), SL_OK);
	assert_int_equal(store_catchup_get(fx->db, fx->a, id, &r), SL_OK);
	assert_int_equal(r.cursor, 390);

	assert_int_equal(store_catchup_endpoint(fx->db, id, "disabled", "", 501), SL_OK);
	assert_int_equal(store_catchup_undelivered(fx->db, id, 3, false, 77), SL_OK);
	assert_int_equal(store_catchup_get(fx->db, fx->a, id, &r), SL_OK);
	assert_string_equal(r.endpoint_state, "disabled");
	assert_int_equal(r.endpoint_checked_at, 501);
	assert_int_equal(r.undelivered, 3);
	assert_int_equal(r.undelivered_oldest, 77);
	assert_int_not_equal(store_catchup_endpoint(fx->db, id, "sideways", "", 502), SL_OK);

	assert_int_equal(store_connection_set_key(fx->db, id, "sealed3", "sk_test_…9999"), SL_OK);
	struct connection_row c;
	assert_int_equal(store_connection_get(fx->db, fx->a, id, &c), SL_OK);
	assert_string_equal(c.key_hint, "sk_test_…9999");
	assert_int_equal(store_connection_set_key(fx->db, id + 1, "x", "y"), SL_ERR_NOT_FOUND);
	/* a connection that does not exist gets no row */
	assert_int_equal(store_catchup_request(fx->db, id + 1, 1), SL_OK);
	assert_int_equal(store_catchup_get(fx->db, fx->a, id + 1, &r), SL_OK);
	assert_int_equal(r.requested_at, 0);
}

static long long count_rows(const char *path, const char *sql)
{
	if (testdb_pg()) {
		PGconn *c = PQconnectdb(path);
		PGresult *r = PQexec(c, sql);
		long long v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : -1;
		PQclear(r);
		PQfinish(c);
		return v;
	}
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	long long n = -1;
	if (sqlite3_open(path, &h) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

/* The log's result is one of the seven, with or without the id asked
 * back; anything else is refused by the schema. */
static void test_log_result_check(void **state)
{
	struct fixture *fx = *state;
	static const char *const results[] = {"processed", "duplicate", "skipped", "ignored",
					      "rejected", "failed", "waiting"};
	for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
		struct log_entry l = {.connection_id = 1, .at = 100, .event_id = "evt", .type = "t",
				      .result = results[i], .reason = ""};
		long long id = 0;
		assert_int_equal(store_log_add(fx->db, &l, NULL), SL_OK);
		assert_int_equal(store_log_add(fx->db, &l, &id), SL_OK);
		assert_true(id > 0);
	}
	static const char *const wrong[] = {"bogus", "", "Processed", "processed "};
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		struct log_entry l = {.connection_id = 1, .at = 100, .event_id = "evt", .type = "t",
				      .result = wrong[i], .reason = ""};
		assert_int_not_equal(store_log_add(fx->db, &l, NULL), SL_OK);
	}
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM integration_log"), 14);
}

/* Migration 14 copies the log into a table whose CHECK is comparisons
 * (an IN list costs SQLite a temporary b-tree per insert): run again over
 * a log with rows, it keeps every row, its id and its payload, and both
 * indexes. SQLite only (PostgreSQL's step is empty). */
static void test_migration_14_keeps_the_log(void **state)
{
	struct fixture *fx = *state;
	if (testdb_pg())
		return;
	static const char payload[] = "{\"id\":\"evt_b\"}";
	struct log_entry a = {.connection_id = 1, .at = 100, .event_id = "evt_a", .type = "charge.succeeded",
			      .result = "processed", .reason = "", .contact_id = 7};
	struct log_entry b = {.connection_id = 2, .at = 200, .event_id = "evt_b", .type = "invoice.paid",
			      .result = "skipped", .reason = "no email", .payload = payload,
			      .payload_len = sizeof payload - 1, .source = "catchup"};
	long long ida, idb;
	assert_int_equal(store_log_add(fx->db, &a, &ida), SL_OK);
	assert_int_equal(store_log_add(fx->db, &b, &idb), SL_OK);
	sqlite3 *h = NULL;
	assert_int_equal(sqlite3_open(fx->path, &h), SQLITE_OK);
	/* back to 13: steps 16 and 15 undone first, so all three run again */
	assert_int_equal(sqlite3_exec(h, "DROP INDEX outbox_leased; DROP TRIGGER connections_gen; DROP TRIGGER resources_gen_insert;"
				      " DROP TRIGGER resources_gen_update; DROP TRIGGER resources_gen_delete;"
				      " ALTER TABLE connections DROP COLUMN config_gen; PRAGMA user_version = 13",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_int_equal(store_migrate(fx->db), SL_OK);
	assert_int_equal(user_version(fx->path), store_schema_version());
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM integration_log"), 2);
	char sql[400];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM integration_log WHERE id = %lld AND connection_id = 1"
		 " AND at = 100 AND event_id = 'evt_a' AND type = 'charge.succeeded' AND result = 'processed'"
		 " AND contact_id = 7 AND payload IS NULL AND source = 'webhook'", ida);
	assert_int_equal(count_rows(fx->path, sql), 1);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM integration_log WHERE id = %lld AND connection_id = 2"
		 " AND result = 'skipped' AND reason = 'no email' AND payload = '{\"id\":\"evt_b\"}'"
		 " AND source = 'catchup'", idb);
	assert_int_equal(count_rows(fx->path, sql), 1);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND"
					     " tbl_name = 'integration_log' AND name IN ('integration_log_by_connection',"
					     " 'integration_log_by_at')"), 2);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM sqlite_schema WHERE name = 'integration_log'"
					     " AND sql LIKE '%result = ''waiting''%' AND sql NOT LIKE '% IN (%'"), 1);
	/* new rows go on after the copied ids */
	long long idc;
	assert_int_equal(store_log_add(fx->db, &a, &idc), SL_OK);
	assert_true(idc > idb);
}

/* Retention removes at most the batch size per call, only what is older. */
static void test_prune(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(store_begin(fx->db), SL_OK);
	for (int i = 0; i < 1200; i++) {
		struct log_entry l = {.connection_id = 1, .at = 1000 + i, .event_id = "", .type = "",
				      .result = "rejected", .reason = "bad signature"};
		assert_int_equal(store_log_add(fx->db, &l, NULL), SL_OK);
	}
	static const char payload[] = "{\"id\":\"evt\"}";
	struct log_entry old = {.connection_id = 1, .at = 1500, .event_id = "evt_old", .type = "t",
				.result = "skipped", .reason = "", .payload = payload,
				.payload_len = sizeof payload - 1};
	struct log_entry recent = old;
	recent.event_id = "evt_recent";
	recent.at = 5000;
	assert_int_equal(store_log_add(fx->db, &old, NULL), SL_OK);
	assert_int_equal(store_log_add(fx->db, &recent, NULL), SL_OK);
	assert_int_equal(store_login_failed(fx->db, "addr:old", 100), SL_OK);
	assert_int_equal(store_login_failed(fx->db, "addr:new", 9000), SL_OK);
	assert_int_equal(store_commit(fx->db), SL_OK);

	static const int batches[] = {500, 500, 200, 0};
	for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
		int changed = -1;
		assert_int_equal(store_prune(fx->db, STORE_PRUNE_REJECTED, 4000, 500, &changed), SL_OK);
		assert_int_equal(changed, batches[i]);
	}
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM integration_log"), 2);
	int changed = -1;
	assert_int_equal(store_prune(fx->db, STORE_PRUNE_PAYLOADS, 4000, 500, &changed), SL_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM integration_log WHERE payload IS NULL"), 1);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM integration_log "
					     "WHERE event_id = 'evt_recent' AND payload IS NOT NULL"), 1);
	assert_int_equal(store_prune(fx->db, STORE_PRUNE_LOG, 4000, 500, &changed), SL_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM integration_log"), 1);
	assert_int_equal(store_prune(fx->db, STORE_PRUNE_LOGINS, 4000, 500, &changed), SL_OK);
	assert_int_equal(changed, 1);
	assert_int_equal(count_rows(fx->path, "SELECT count(*) FROM login_attempts WHERE key = 'addr:new'"), 1);
	assert_int_equal(store_prune(fx->db, STORE_PRUNE__MAX, 4000, 500, &changed), SL_ERR_INVALID);
}

/* ---- sync windows ---- */

/* A page reads its window's lower bound from the database in its own
 * transaction: a split whose commit failed (rolled back) is not seen, a
 * committed one is. (The in-memory bound of the split moved either way.) */
static void test_window_gte_after_failed_split(void **state)
{
	struct fixture *fx = *state;
	long long conn, job, win, half, gte;

	assert_int_equal(store_connection_begin(fx->db, "acct_split", "Split", false, 1, &conn), SL_OK);
	assert_int_equal(store_job_queue(fx->db, conn, "charge", 1, &job), SL_OK);
	assert_int_equal(store_window_add(fx->db, job, 100, 200, &win), SL_OK);

	assert_int_equal(store_begin(fx->db), SL_OK);
	assert_int_equal(store_window_split(fx->db, win, job, 150, &half), SL_OK);
	assert_int_equal(store_window_gte(fx->db, win, &gte), SL_OK);
	assert_int_equal(gte, 150);                 /* inside the split's transaction */
	assert_int_equal(store_rollback(fx->db), SL_OK);   /* its commit failed */
	assert_int_equal(store_window_gte(fx->db, win, &gte), SL_OK);
	assert_int_equal(gte, 100);                 /* the page keeps [100, 200) */

	assert_int_equal(store_begin(fx->db), SL_OK);
	assert_int_equal(store_window_split(fx->db, win, job, 150, &half), SL_OK);
	assert_int_equal(store_commit(fx->db), SL_OK);
	assert_int_equal(store_window_gte(fx->db, win, &gte), SL_OK);
	assert_int_equal(gte, 150);
	assert_int_equal(store_window_gte(fx->db, half, &gte), SL_OK);
	assert_int_equal(gte, 100);
	assert_int_equal(store_window_gte(fx->db, half + 1000, &gte), SL_ERR_NOT_FOUND);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* ---- several nodes: leases, claims, the shared rate budget ---- */

/* Two nodes on one job: a claimed window is not claimed again while its
 * lease runs; the second node splits off the older half of the widest
 * window instead; a lease that ran out is taken over; a node's own leases
 * end when its run starts again. */
static void test_window_leases(void **state)
{
	struct fixture *fx = *state;
	long long conn, job, held;
	struct sync_window_row a, b, c;
	bool mine;

	assert_int_equal(store_connection_begin(fx->db, "acct_lease", "Lease", false, 1, &conn), SL_OK);
	assert_int_equal(store_job_queue(fx->db, conn, "customer", 1, &job), SL_OK);
	assert_int_equal(store_window_first(fx->db, job, 1000, 2000), SL_OK);
	assert_int_equal(store_window_first(fx->db, job, 1000, 2000), SL_OK);   /* a second node: no second window */
	assert_int_equal(store_window_claim(fx->db, fx->a, job, "node-a", 50, 80, &a), SL_OK);
	assert_int_equal(a.created_gte, 1000);
	assert_int_equal(a.created_lt, 2000);
	assert_int_equal(a.oldest_seen, 2000);
	assert_int_equal(store_window_claim(fx->db, fx->a, job, "node-b", 60, 90, &b), SL_ERR_NOT_FOUND);
	/* node a committed a page down to 1600: node b splits [1000, 1600) */
	assert_int_equal(store_window_advance(fx->db, a.id, "cus_x", 1600, false, 85), SL_OK);
	assert_int_equal(store_window_split_widest(fx->db, fx->a, job, 2, "node-b", 90, &b), SL_OK);
	assert_int_equal(b.created_gte, 1000);
	assert_int_equal(b.created_lt, 1300);
	long long gte;
	assert_int_equal(store_window_gte(fx->db, a.id, &gte), SL_OK);
	assert_int_equal(gte, 1300);                /* a's next page keeps only [1300, 2000) */
	assert_int_equal(store_window_mine(fx->db, b.id, "node-b", &mine), SL_OK);
	assert_true(mine);
	assert_int_equal(store_window_mine(fx->db, b.id, "node-a", &mine), SL_OK);
	assert_false(mine);
	assert_int_equal(store_windows_held(fx->db, job, 70, "node-a", &held), SL_OK);
	assert_int_equal(held, 1);                  /* b's */
	/* node a dies: at 86 its lease (85) has run out, node b takes the window */
	assert_int_equal(store_window_claim(fx->db, fx->a, job, "node-b", 86, 120, &c), SL_OK);
	assert_int_equal(c.id, a.id);
	assert_string_equal(c.cursor, "cus_x");     /* from the committed cursor */
	assert_int_equal(store_window_mine(fx->db, a.id, "node-a", &mine), SL_OK);
	assert_false(mine);                         /* a late page of node a is refused */
	/* node b restarts: its own leases end at once */
	assert_int_equal(store_windows_release(fx->db, job, "node-b"), SL_OK);
	assert_int_equal(store_window_claim(fx->db, fx->a, job, "node-b", 87, 130, &c), SL_OK);
	assert_int_equal(store_windows_held(fx->db, job, 87, "node-a", &held), SL_OK);
	assert_int_equal(held, 1);
}

/* The shared budget hands out evenly spaced slots, whoever asks. */
static void test_rate_budget(void **state)
{
	struct fixture *fx = *state;
	long long slot;
	assert_int_equal(store_rate_reserve(fx->db, "sync:test", 1000000, 50000, &slot), SL_OK);
	assert_int_equal(slot, 1000000);
	assert_int_equal(store_rate_reserve(fx->db, "sync:test", 1000010, 50000, &slot), SL_OK);
	assert_int_equal(slot, 1050000);            /* another node, a moment later: the next slot */
	assert_int_equal(store_rate_reserve(fx->db, "sync:test", 1000020, 50000, &slot), SL_OK);
	assert_int_equal(slot, 1100000);
	assert_int_equal(store_rate_reserve(fx->db, "sync:live", 1000020, 10000, &slot), SL_OK);
	assert_int_equal(slot, 1000020);            /* budgets are apart */
	assert_int_equal(store_rate_reserve(fx->db, "sync:test", 5000000, 50000, &slot), SL_OK);
	assert_int_equal(slot, 5000000);            /* idle: no debt carried */
}

/* One node at a time sweeps a connection's catch-up. */
static void test_catchup_lease(void **state)
{
	struct fixture *fx = *state;
	long long conn;
	bool claimed;
	assert_int_equal(store_connection_begin(fx->db, "acct_cu", "CU", false, 1, &conn), SL_OK);
	assert_int_equal(store_catchup_claim(fx->db, conn, "node-a", 100, 400, &claimed), SL_OK);
	assert_true(claimed);
	assert_int_equal(store_catchup_claim(fx->db, conn, "node-b", 200, 500, &claimed), SL_OK);
	assert_false(claimed);
	assert_int_equal(store_catchup_claim(fx->db, conn, "node-a", 200, 500, &claimed), SL_OK);
	assert_true(claimed);                       /* its own, again (a restarted worker) */
	assert_int_equal(store_catchup_release(fx->db, conn, "node-a"), SL_OK);
	assert_int_equal(store_catchup_claim(fx->db, conn, "node-b", 201, 500, &claimed), SL_OK);
	assert_true(claimed);
}

/* Deliveries claimed by one node's worker are passed over by another's
 * until the claim ends. */
static void test_outbox_claims(void **state)
{
	struct fixture *fx = *state;
	struct automation_row r = {.name = "hook", .trigger = "order_created", .trigger_tag = "", .enabled = true};
	long long aid, o1, o2;
	struct outbox_row *due;
	size_t n;
	assert_int_equal(store_automation_save(fx->db, &r, NULL, 0, 1, &aid), SL_OK);
	struct outbox_row row = {.automation_id = aid, .url = "https://x.example/h", .body = "{}",
				 .idempotency_key = "k1", .created_at = 1000, .give_up_at = 99999};
	assert_int_equal(store_outbox_add(fx->db, &row), SL_OK);
	row.idempotency_key = "k2";
	assert_int_equal(store_outbox_add(fx->db, &row), SL_OK);
	assert_int_equal(store_outbox_due(fx->db, fx->a, 2000, 10, "node-a", 30000, &due, &n), SL_OK);
	assert_int_equal(n, 2);
	assert_string_equal(due[0].idempotency_key, "k1");   /* the same due time: in the order added */
	o1 = due[0].id;
	o2 = due[1].id;
	assert_int_equal(store_outbox_due(fx->db, fx->a, 2001, 10, "node-b", 30000, &due, &n), SL_OK);
	assert_int_equal(n, 0);                     /* node a holds both */
	struct outbox_attempt t = {.at = 2100, .status = 200, .ms = 5};
	assert_int_equal(store_outbox_attempt(fx->db, o1, &t, "delivered", 2100), SL_OK);
	assert_int_equal(store_outbox_unclaim(fx->db, "node-a"), SL_OK);   /* the batch ended */
	assert_int_equal(store_outbox_due(fx->db, fx->a, 2200, 10, "node-b", 30000, &due, &n), SL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(due[0].id, o2);
	assert_int_equal(store_outbox_due(fx->db, fx->a, 40000, 10, "node-a", 30000, &due, &n), SL_OK);
	assert_int_equal(n, 1);                     /* node b died: its claim ended at 32200 */
}

/* A setup token recorded by one node is good on every node until an
 * admin exists. */
static void test_setup_tokens(void **state)
{
	struct fixture *fx = *state;
	bool valid;
	long long uid;
	assert_int_equal(store_setup_token_put(fx->db, "hash1", 1), SL_OK);
	assert_int_equal(store_setup_token_put(fx->db, "hash1", 2), SL_OK);
	assert_int_equal(store_setup_token_valid(fx->db, "hash1", &valid), SL_OK);
	assert_true(valid);
	assert_int_equal(store_setup_token_valid(fx->db, "hash2", &valid), SL_OK);
	assert_false(valid);
	assert_int_equal(store_user_create(fx->db, "admin", "x", 3, &uid), SL_OK);
	assert_int_equal(store_setup_token_valid(fx->db, "hash1", &valid), SL_OK);
	assert_false(valid);                        /* an admin exists */
	assert_int_equal(store_setup_tokens_clear(fx->db), SL_OK);
}

/* A connection's config_gen moves on with every change to its row or its
 * resources (the request threads' copies are checked against it), and the
 * writer's first question of a job answers it (-1: no such connection). */
static long long gen_of(struct store *db, long long id)
{
	struct arena *a = arena_new();
	struct connection_row c;
	assert_non_null(a);
	assert_int_equal(store_connection_get(db, a, id, &c), SL_OK);
	arena_free(a);
	return c.config_gen;
}

static long long gen_asked(struct store *db, long long id)
{
	struct arena *a = arena_new();
	struct event_state st;
	const struct event_keys k = {0};
	assert_non_null(a);
	assert_int_equal(store_event_state(db, a, id, "evt_gen", &k, &st), SL_OK);
	arena_free(a);
	return st.config_gen;
}

static void test_config_gen(void **state)
{
	struct fixture *fx = *state;
	long long id;
	assert_int_equal(store_connection_begin(fx->db, "acct_gen", "Gen", false, 100, &id), SL_OK);
	long long g = gen_of(fx->db, id);
	assert_int_equal(gen_asked(fx->db, id), g);
	assert_int_equal(gen_asked(fx->db, id + 1000), -1);
	assert_int_equal(store_connection_activate(fx->db, id, "k", "sk_…1", "we_1", "s1", 101), SL_OK);
	assert_true(gen_of(fx->db, id) > g);
	g = gen_of(fx->db, id);
	assert_int_equal(store_connection_switches(fx->db, id, true, false, true), SL_OK);
	assert_true(gen_of(fx->db, id) > g);
	g = gen_of(fx->db, id);
	assert_int_equal(store_connection_roll(fx->db, id, "we_2", "s2", 200), SL_OK);
	assert_true(gen_of(fx->db, id) > g);
	g = gen_of(fx->db, id);
	assert_int_equal(store_resource_upsert(fx->db, id, "customer", "new", 102), SL_OK);
	assert_true(gen_of(fx->db, id) > g);
	g = gen_of(fx->db, id);
	assert_int_equal(store_resource_set_mapping(fx->db, id, "customer", "{}", 103), SL_OK);
	assert_true(gen_of(fx->db, id) > g);
	g = gen_of(fx->db, id);
	assert_int_equal(gen_asked(fx->db, id), g);
	assert_int_equal(store_resource_delete(fx->db, id, "customer"), SL_OK);
	assert_true(gen_of(fx->db, id) > g);
	g = gen_of(fx->db, id);
	assert_int_equal(store_connection_disconnect(fx->db, id, 104), SL_OK);
	assert_true(gen_of(fx->db, id) > g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_migrate_twice),
		T(test_migrate_refuses_newer_schema),
		T(test_log_result_check),
		T(test_migration_14_keeps_the_log),
		T(test_config_gen),
		T(test_contact_tags_many),
		cmocka_unit_test(test_open_failure),
		T(test_transactions),
		T(test_users),
		T(test_sessions),
		T(test_login_counters),
		T(test_fields),
		T(test_contact_upsert),
		T(test_contact_set),
		T(test_contact_tags),
		T(test_search),
		T(test_contacts_each),
		T(test_contacts_each_empty),
		T(test_catchup_state),
		T(test_prune),
		T(test_window_gte_after_failed_split),
		T(test_window_leases),
		T(test_rate_budget),
		T(test_catchup_lease),
		T(test_outbox_claims),
		T(test_setup_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
