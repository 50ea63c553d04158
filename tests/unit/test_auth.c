/*
 * test_auth.c - unit tests for src/auth.c on a fresh database and writer
 * per test: admin creation, login (wrong password, throttling, the new
 * session's token), finding a session by its token, logout, the token
 * shape and the credential rules.
 *
 * auth.c works on plain values (a token, an address, the time), so these
 * tests call it directly with a struct deps of their own: no request, no
 * cookies (those are web_auth.c's, tested in test_web_auth.c). Sets
 * STRIPELINK_PBKDF2_ITERATIONS=1000 before the first hash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testdb.h"
#include "arena.h"
#include "auth.h"
#include "config.h"
#include "crypto.h"
#include "deps.h"
#include "err.h"
#include "store.h"
#include "writer.h"

#define PASSWORD "correct horse battery"
#define ADDR "192.0.2.10"

struct fixture {
	char dir[64];
	char path[128];
	struct deps deps;
	struct arena *a;
	long long now;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof fx->dir, "/tmp/sl-test-auth-XXXXXX");
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
	fx->deps.db = store_open(fx->path, &e);
	if (!fx->deps.db || store_migrate(fx->deps.db))
		return -1;
	fx->deps.writer = writer_start(fx->path, &e);
	if (!fx->deps.writer)
		return -1;
	fx->a = arena_new();
	fx->now = (long long)time(NULL);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	writer_stop(fx->deps.writer);
	store_close(fx->deps.db);
	arena_free(fx->a);
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		char p[160];
		snprintf(p, sizeof p, "%s%s", fx->path, suffixes[i]);
		unlink(p);
	}
	rmdir(fx->dir);
	testdb_drop(fx->dir);
	free(fx);
	return 0;
}

static void create_admin(struct fixture *fx)
{
	assert_int_equal(auth_admin_create(fx->deps.writer, "admin", PASSWORD, fx->now, true), SL_OK);
}

/* Logs in as username from addr at the fixture's time, replacing the
 * session stored under replaces (NULL: none). On SL_OK *token is the new
 * session's token (from the fixture's arena), otherwise NULL. */
static sl_err login_replacing(struct fixture *fx, const char *username, const char *password,
			      const char *addr, const char *replaces, long long *wait,
			      const char **token)
{
	struct auth_attempt in = {username, password, addr, replaces, fx->now};
	char t[AUTH_TOKEN_HEX + 1];
	*wait = 0;
	sl_err e = auth_login(&fx->deps, fx->a, &in, t, wait);
	if (e)
		assert_string_equal(t, "");
	if (token)
		*token = e ? NULL : arena_strdup(fx->a, t);
	return e;
}

static sl_err login(struct fixture *fx, const char *username, const char *password,
		    const char *addr, long long *wait, const char **token)
{
	return login_replacing(fx, username, password, addr, NULL, wait, token);
}

/* The session of token at the fixture's time. */
static const struct auth_session *load(struct fixture *fx, const char *token)
{
	return auth_session_find(fx->deps.db, fx->a, token, fx->now);
}

/* ---- admins ---- */

static void test_admin_create(void **state)
{
	struct fixture *fx = *state;
	assert_false(auth_admin_exists(fx->deps.db));
	create_admin(fx);
	assert_true(auth_admin_exists(fx->deps.db));
	/* only the first admin may be made through setup */
	assert_int_equal(auth_admin_create(fx->deps.writer, "second", PASSWORD, fx->now, true),
			 SL_ERR_FORBIDDEN);
	assert_int_equal(auth_admin_create(fx->deps.writer, "ADMIN", PASSWORD, fx->now, false),
			 SL_ERR_EXISTS);
	assert_int_equal(auth_admin_create(fx->deps.writer, "second", PASSWORD, fx->now, false),
			 SL_OK);
	assert_int_equal(auth_admin_create_direct(fx->deps.db, "Second", PASSWORD, fx->now),
			 SL_ERR_EXISTS);
	assert_int_equal(auth_admin_create_direct(fx->deps.db, "third", PASSWORD, fx->now), SL_OK);
	long long n;
	assert_int_equal(store_user_count(fx->deps.db, &n), SL_OK);
	assert_int_equal(n, 3);

	/* the stored hash is not the password */
	struct user u;
	assert_int_equal(store_user_find(fx->deps.db, fx->a, "admin", &u), SL_OK);
	assert_null(strstr(u.password_hash, PASSWORD));
	assert_true(crypto_password_verify(PASSWORD, u.password_hash));
}

/* ---- tokens ---- */

static void test_token_shape(void **state)
{
	(void)state;
	char t[AUTH_TOKEN_HEX + 1], u[AUTH_TOKEN_HEX + 1];
	assert_int_equal(auth_token_new(t), SL_OK);
	assert_int_equal(auth_token_new(u), SL_OK);
	assert_int_equal(strlen(t), AUTH_TOKEN_HEX);
	assert_true(auth_is_token(t));
	assert_string_not_equal(t, u);
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{NULL, false},
		{"", false},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", false},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", false},
		{"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", false},
		{"0123456789abcdef0123456789abcdef 123456789abcdef0123456789abcdef", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (auth_is_token(cases[i].s) != cases[i].ok)
			fail_msg("case %zu: expected %s", i, cases[i].ok ? "a token" : "not a token");
}

/* ---- login ---- */

static void test_login_wrong_password(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *token;
	create_admin(fx);
	assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &token), SL_ERR_AUTH);
	assert_null(token);
	assert_int_equal(login(fx, "admin", "", ADDR, &wait, &token), SL_ERR_AUTH);
	assert_int_equal(login(fx, "nobody", PASSWORD, ADDR, &wait, &token), SL_ERR_AUTH);
	assert_null(token);
	assert_int_equal(login(fx, "", PASSWORD, ADDR, &wait, &token), SL_ERR_AUTH);
	assert_int_equal(login(fx, "admin", PASSWORD " ", ADDR, &wait, &token), SL_ERR_AUTH);

	/* every failure was counted, under the user and the address */
	long long failures, last;
	assert_int_equal(store_login_failures(fx->deps.db, "user:admin@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 3);
	assert_int_equal(last, fx->now);
	assert_int_equal(store_login_failures(fx->deps.db, "addr:" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 5);
	assert_int_equal(store_login_failures(fx->deps.db, "user:nobody@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 1);
	/* no password and no address: a failure, counted under "?" */
	assert_int_equal(login(fx, "admin", NULL, NULL, &wait, &token), SL_ERR_AUTH);
	assert_int_equal(store_login_failures(fx->deps.db, "addr:?", &failures, &last), SL_OK);
	assert_int_equal(failures, 1);
}

static void test_login_success_and_session(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *token;
	create_admin(fx);
	/* a couple of failures first; success clears them */
	assert_int_equal(login(fx, "admin", "nope nope nope", ADDR, &wait, &token), SL_ERR_AUTH);
	assert_int_equal(login(fx, "ADMIN", PASSWORD, ADDR, &wait, &token), SL_OK);
	assert_true(auth_is_token(token));

	long long failures, last;
	assert_int_equal(store_login_failures(fx->deps.db, "user:admin@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 0);
	assert_int_equal(store_login_failures(fx->deps.db, "addr:" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 0);

	/* the session is found by its token */
	const struct auth_session *s = load(fx, token);
	assert_non_null(s);
	assert_string_equal(s->username, "admin");
	struct user u;
	assert_int_equal(store_user_find(fx->deps.db, fx->a, "admin", &u), SL_OK);
	assert_int_equal(s->user_id, u.id);
	assert_true(auth_is_token(s->csrf));
	assert_string_not_equal(s->csrf, token);
	assert_non_null(s->token_hash);

	/* the database holds a hash of the token, never the token */
	struct session_row row;
	assert_int_equal(store_session_find(fx->deps.db, fx->a, token, fx->now, &row),
			 SL_ERR_NOT_FOUND);
	assert_int_equal(store_session_find(fx->deps.db, fx->a, s->token_hash, fx->now, &row),
			 SL_OK);
	assert_string_not_equal(s->token_hash, token);
	assert_true(row.expires_at == fx->now + AUTH_SESSION_SECONDS);

	/* a second login gives a different session; the first stays */
	const char *token2;
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &token2), SL_OK);
	assert_string_not_equal(token2, token);
	assert_non_null(load(fx, token));
	assert_non_null(load(fx, token2));
}

static void test_session_find_refusals(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *token;
	create_admin(fx);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &token), SL_OK);
	assert_non_null(load(fx, token));

	/* no token */
	assert_null(load(fx, NULL));
	/* malformed tokens never reach the database */
	assert_null(load(fx, ""));
	assert_null(load(fx, "abc"));
	assert_null(load(fx, arena_printf(fx->a, "%s0", token)));
	assert_null(load(fx, arena_strndup(fx->a, token, 63)));
	char *bad = arena_strdup(fx->a, token);
	bad[10] = 'g';
	assert_null(load(fx, bad));
	/* well-formed but unknown */
	char *other = arena_strdup(fx->a, token);
	other[0] = other[0] == '0' ? '1' : '0';
	assert_null(load(fx, other));
	/* case matters: the hash is of the exact token */
	char *upper = arena_strdup(fx->a, token);
	bool changed = false;
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'f') {
			*p = (char)toupper((unsigned char)*p);
			changed = true;
		}
	if (changed)
		assert_null(load(fx, upper));

	/* expired: a week later */
	long long saved = fx->now;
	fx->now = saved + AUTH_SESSION_SECONDS - 1;
	assert_non_null(load(fx, token));
	fx->now = saved + AUTH_SESSION_SECONDS;
	assert_null(load(fx, token));
	fx->now = saved;
}

static void test_logout(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *token, *other;
	create_admin(fx);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &token), SL_OK);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &other), SL_OK);
	const struct auth_session *s = load(fx, token);
	assert_non_null(s);
	assert_int_equal(auth_logout(fx->deps.writer, s->token_hash), SL_OK);

	/* that session is gone from the database; the other one stays */
	assert_null(load(fx, token));
	struct session_row row;
	assert_int_equal(store_session_find(fx->deps.db, fx->a, s->token_hash, fx->now, &row),
			 SL_ERR_NOT_FOUND);
	assert_non_null(load(fx, other));
	/* twice is fine */
	assert_int_equal(auth_logout(fx->deps.writer, s->token_hash), SL_OK);
}

static void test_login_replaces_session(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *first, *second;
	create_admin(fx);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &first), SL_OK);
	const struct auth_session *s = load(fx, first);
	assert_non_null(s);

	/* log in again while holding the first session: it is replaced */
	assert_int_equal(login_replacing(fx, "admin", PASSWORD, ADDR, s->token_hash, &wait, &second),
			 SL_OK);
	assert_null(load(fx, first));
	assert_non_null(load(fx, second));

	/* a failed login replaces nothing */
	const struct auth_session *s2 = load(fx, second);
	assert_int_equal(login_replacing(fx, "admin", "wrong password!", ADDR, s2->token_hash, &wait,
					 NULL), SL_ERR_AUTH);
	assert_non_null(load(fx, second));
}

/* ---- throttling ---- */

static void test_throttle_after_free_failures(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *token;
	create_admin(fx);
	for (int i = 0; i < AUTH_FREE_FAILURES; i++)
		assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &token),
				 SL_ERR_AUTH);
	/* now even the right password waits */
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &token), SL_ERR_RATE_LIMITED);
	assert_true(wait >= 1);
	assert_null(token);
	assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &token),
			 SL_ERR_RATE_LIMITED);
	/* a throttled try is not another failure */
	long long failures, last;
	assert_int_equal(store_login_failures(fx->deps.db, "user:admin@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, AUTH_FREE_FAILURES);

	/* others from the same address wait too; the admin elsewhere does not
	 * (guesses from one address never lock the admin out) */
	assert_int_equal(login(fx, "someone", PASSWORD, ADDR, &wait, &token), SL_ERR_RATE_LIMITED);
	assert_int_equal(login(fx, "admin", PASSWORD, "198.51.100.2", &wait, &token), SL_OK);
	/* a different user from a different address is not affected */
	assert_int_equal(login(fx, "someone", PASSWORD, "198.51.100.1", &wait, &token),
			 SL_ERR_AUTH);

	/* after the wait the right password works again and clears the count */
	long long waited = 0;
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &waited, &token), SL_ERR_RATE_LIMITED);
	fx->now += waited;
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &token), SL_OK);
	assert_non_null(token);
	assert_int_equal(store_login_failures(fx->deps.db, "user:admin@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 0);
}

static void test_throttle_grows_and_caps(void **state)
{
	struct fixture *fx = *state;
	long long wait, prev = 0;
	const char *token;
	create_admin(fx);
	for (int i = 0; i < AUTH_FREE_FAILURES; i++)
		assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &token),
				 SL_ERR_AUTH);
	/* each failure after the free ones makes the next wait longer */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &token),
				 SL_ERR_RATE_LIMITED);
		assert_true(wait > prev);
		assert_true(wait <= AUTH_MAX_DELAY);
		prev = wait;
		fx->now += wait;
		assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &token),
				 SL_ERR_AUTH);
	}
	/* many failures: never more than AUTH_MAX_DELAY */
	for (int i = 0; i < 40; i++)
		assert_int_equal(store_login_failed(fx->deps.db, "user:admin@" ADDR, fx->now), SL_OK);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &token), SL_ERR_RATE_LIMITED);
	assert_int_equal(wait, AUTH_MAX_DELAY);
	fx->now += AUTH_MAX_DELAY - 1;
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &token), SL_ERR_RATE_LIMITED);
	assert_int_equal(wait, 1);
	fx->now += 1;
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &token), SL_OK);
}

static void test_throttle_key_ignores_case(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *token;
	create_admin(fx);
	static const char *const spellings[] = {"Admin", "ADMIN", "admin", "aDMIN", "AdMiN"};
	_Static_assert(sizeof spellings / sizeof spellings[0] == AUTH_FREE_FAILURES,
		       "one spelling per free failure");
	/* every spelling adds to the one (username, address) key */
	for (int i = 0; i < AUTH_FREE_FAILURES; i++)
		assert_int_equal(login(fx, spellings[i], "wrong password!", ADDR, &wait, &token),
				 SL_ERR_AUTH);
	long long failures, last;
	assert_int_equal(store_login_failures(fx->deps.db, "user:admin@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, AUTH_FREE_FAILURES);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &token), SL_ERR_RATE_LIMITED);
}

/* An attacker elsewhere cannot keep the admin out: the admin's own address
 * and username pair has no failures. */
static void test_throttle_no_lockout_from_elsewhere(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *token;
	create_admin(fx);
	for (int i = 0; i < 3 * AUTH_FREE_FAILURES; i++) {
		sl_err e = login(fx, "admin", "guess guess guess", "198.51.100.66", &wait, &token);
		assert_true(e == SL_ERR_AUTH || e == SL_ERR_RATE_LIMITED);
	}
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &token), SL_OK);
	assert_non_null(token);
}

/* Unknown users are throttled like real ones (no user enumeration). */
static void test_throttle_unknown_user(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *token;
	create_admin(fx);
	for (int i = 0; i < AUTH_FREE_FAILURES; i++)
		assert_int_equal(login(fx, "ghost", "whatever it is", ADDR, &wait, &token),
				 SL_ERR_AUTH);
	assert_int_equal(login(fx, "ghost", "whatever it is", ADDR, &wait, &token),
			 SL_ERR_RATE_LIMITED);
}

/* ---- credential rules ---- */

static void test_check_credentials(void **state)
{
	(void)state;
	char name64[65], name65[66], pw1024[1025], pw1025[1026];
	memset(name64, 'a', 64);
	name64[64] = '\0';
	memset(name65, 'a', 65);
	name65[65] = '\0';
	memset(pw1024, 'p', 1024);
	pw1024[1024] = '\0';
	memset(pw1025, 'p', 1025);
	pw1025[1025] = '\0';
	const struct {
		const char *username;
		const char *password;
		bool ok;
	} cases[] = {
		{"admin", "0123456789", true},
		{"Ada.Lovelace_1@example-corp", "correct horse battery", true},
		{name64, "0123456789", true},
		{"admin", pw1024, true},
		{"admin", "with spaces and ünïcödé", true},
		{NULL, "0123456789", false},
		{"", "0123456789", false},
		{name65, "0123456789", false},
		{"ad min", "0123456789", false},
		{"admin!", "0123456789", false},
		{"<script>", "0123456789", false},
		{"admin\n", "0123456789", false},
		{"adm\tin", "0123456789", false},
		{"ädmin", "0123456789", false},
		{"admin", NULL, false},
		{"admin", "", false},
		{"admin", "012345678", false},
		{"admin", pw1025, false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *msg = auth_check_credentials(cases[i].username, cases[i].password);
		if ((msg == NULL) != cases[i].ok)
			fail_msg("case %zu (username %.20s, password length %zu): %s", i,
				 cases[i].username ? cases[i].username : "NULL",
				 cases[i].password ? strlen(cases[i].password) : 0,
				 msg ? msg : "accepted, expected a message");
		if (msg)
			assert_true(strlen(msg) > 0);
	}
}

/* The first-run setup token: a 0600 file with 128 random bits, compared
 * exactly, gone once removed. */
static void test_setup_token(void **state)
{
	(void)state;
	char dir[] = "/tmp/sl-test-setup-XXXXXX";
	assert_non_null(mkdtemp(dir));
	setenv("STRIPELINK_DATA", dir, 1);
	assert_int_equal(config_load(), SL_OK);
	const char *path = auth_setup_token_path();
	assert_non_null(path);
	char want[160];
	snprintf(want, sizeof want, "%s/setup-token", dir);
	assert_string_equal(path, want);

	char token[2 * AUTH_SETUP_TOKEN_BYTES + 1], again[2 * AUTH_SETUP_TOKEN_BYTES + 1];
	assert_int_equal(auth_setup_token_create(token), SL_OK);
	assert_int_equal(strlen(token), 32);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(auth_setup_token_ok(token));
	char wrong[sizeof token];
	memcpy(wrong, token, sizeof token);
	wrong[31] = wrong[31] == 'a' ? 'b' : 'a';
	const char *refused[] = {NULL, "", wrong, "0123", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
		assert_false(auth_setup_token_ok(refused[i]));
	char longer[64];
	snprintf(longer, sizeof longer, "%sa", token);
	assert_false(auth_setup_token_ok(longer));
	/* a new start makes a new token: the old one stops working */
	assert_int_equal(auth_setup_token_create(again), SL_OK);
	assert_string_not_equal(token, again);
	assert_false(auth_setup_token_ok(token));
	assert_true(auth_setup_token_ok(again));
	auth_setup_token_remove();
	assert_int_equal(access(path, F_OK), -1);
	assert_false(auth_setup_token_ok(again));
	auth_setup_token_remove();   /* twice is fine */
	assert_int_equal(rmdir(dir), 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	/* fast password hashing, before the first hash */
	setenv("STRIPELINK_PBKDF2_ITERATIONS", "1000", 1);
	setenv("STRIPELINK_INSECURE_TEST_HASHING", "1", 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_setup_token),
		cmocka_unit_test(test_token_shape),
		T(test_admin_create),
		T(test_login_wrong_password),
		T(test_login_success_and_session),
		T(test_session_find_refusals),
		T(test_logout),
		T(test_login_replaces_session),
		T(test_throttle_after_free_failures),
		T(test_throttle_grows_and_caps),
		T(test_throttle_key_ignores_case),
		T(test_throttle_no_lockout_from_elsewhere),
		T(test_throttle_unknown_user),
		cmocka_unit_test(test_check_credentials),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
