/*
 * test_auth.c - unit tests for src/auth.c on a fresh database and writer
 * per test: admin creation, login (wrong password, throttling, the
 * session cookie), session loading, logout, CSRF tokens and the
 * credential rules.
 *
 * Requests are parsed from CGI variables exactly as the FastCGI loop
 * does. Sets STRIPELINK_PBKDF2_ITERATIONS=1000 before the first hash.
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
#include "app.h"
#include "arena.h"
#include "auth.h"
#include "config.h"
#include "err.h"
#include "http.h"
#include "store.h"
#include "writer.h"

#define PASSWORD "correct horse battery"
#define ADDR "192.0.2.10"

struct fixture {
	char dir[64];
	char path[128];
	struct app_thread thread;
	unsigned char key[CRYPTO_KEY_LEN];
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
	fx->thread.db = store_open(fx->path, &e);
	if (!fx->thread.db || store_migrate(fx->thread.db))
		return -1;
	fx->thread.writer = writer_start(fx->path, &e);
	if (!fx->thread.writer)
		return -1;
	fx->thread.secret_key = fx->key;
	fx->a = arena_new();
	fx->now = (long long)time(NULL);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	writer_stop(fx->thread.writer);
	store_close(fx->thread.db);
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

/* Parses a request from the NULL-terminated env strings into r, from the
 * fixture's arena, on the fixture's thread, at the fixture's time. body
 * (may be NULL) is a urlencoded POST body. */
static void request(struct fixture *fx, struct http_request *r, const char *body, ...)
{
	char *envp[16];
	size_t n = 0;
	va_list ap;
	va_start(ap, body);
	char *s;
	while ((s = va_arg(ap, char *)) && n < 12)
		envp[n++] = s;
	va_end(ap);
	if (body) {
		envp[n++] = "REQUEST_METHOD=POST";
		envp[n++] = "CONTENT_TYPE=application/x-www-form-urlencoded";
	}
	envp[n] = NULL;
	sl_err e = http_request_parse(r, fx->a, envp, (const unsigned char *)(body ? body : ""),
				      body ? strlen(body) : 0);
	if (e)
		fail_msg("request does not parse: %s", err_name(e));
	r->thread = &fx->thread;
	r->now = fx->now;
}

static void create_admin(struct fixture *fx)
{
	assert_int_equal(auth_admin_create(fx->thread.writer, "admin", PASSWORD, fx->now, true), SL_OK);
}

/* Logs in as username from address; returns the result and puts the
 * response's Set-Cookie (or NULL) in *cookie. */
static sl_err login(struct fixture *fx, const char *username, const char *password,
		    const char *addr, long long *wait, const char **cookie)
{
	struct http_request r;
	struct http_response resp;
	http_response_init(&resp);
	request(fx, &r, NULL, "REQUEST_METHOD=POST", "DOCUMENT_URI=/login",
		arena_printf(fx->a, "REMOTE_ADDR=%s", addr), NULL);
	*wait = 0;
	sl_err e = auth_login(&r, &resp, username, password, wait);
	if (cookie) {
		*cookie = NULL;
		for (size_t i = 0; i < resp.n_headers; i++)
			if (strcmp(resp.headers[i].name, "Set-Cookie") == 0)
				*cookie = resp.headers[i].value;
	}
	http_response_free(&resp);
	return e;
}

/* The token in a Set-Cookie value "sl_session=<token>; ...", from a. */
static const char *cookie_token(struct arena *a, const char *set_cookie)
{
	const char *prefix = AUTH_SESSION_COOKIE "=";
	assert_non_null(set_cookie);
	assert_true(strncmp(set_cookie, prefix, strlen(prefix)) == 0);
	const char *v = set_cookie + strlen(prefix);
	return arena_strndup(a, v, strcspn(v, ";"));
}

static bool is_hex_token(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

/* Loads the session named by a "sl_session=token" cookie. */
static const struct auth_session *load(struct fixture *fx, const char *token)
{
	struct http_request r;
	request(fx, &r, NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/contacts",
		arena_printf(fx->a, "HTTP_COOKIE=theme=dark; " AUTH_SESSION_COOKIE "=%s", token),
		NULL);
	return auth_session_load(&r);
}

/* ---- admins ---- */

static void test_admin_create(void **state)
{
	struct fixture *fx = *state;
	struct http_request r;
	request(fx, &r, NULL, "REQUEST_METHOD=GET", NULL);
	assert_false(auth_admin_exists(&r));
	create_admin(fx);
	assert_true(auth_admin_exists(&r));
	/* only the first admin may be made through setup */
	assert_int_equal(auth_admin_create(fx->thread.writer, "second", PASSWORD, fx->now, true),
			 SL_ERR_FORBIDDEN);
	assert_int_equal(auth_admin_create(fx->thread.writer, "ADMIN", PASSWORD, fx->now, false),
			 SL_ERR_EXISTS);
	assert_int_equal(auth_admin_create(fx->thread.writer, "second", PASSWORD, fx->now, false),
			 SL_OK);
	assert_int_equal(auth_admin_create_direct(fx->thread.db, "Second", PASSWORD, fx->now),
			 SL_ERR_EXISTS);
	assert_int_equal(auth_admin_create_direct(fx->thread.db, "third", PASSWORD, fx->now), SL_OK);
	long long n;
	assert_int_equal(store_user_count(fx->thread.db, &n), SL_OK);
	assert_int_equal(n, 3);

	/* the stored hash is not the password */
	struct user u;
	assert_int_equal(store_user_find(fx->thread.db, fx->a, "admin", &u), SL_OK);
	assert_null(strstr(u.password_hash, PASSWORD));
	assert_true(crypto_password_verify(PASSWORD, u.password_hash));
}

/* ---- login ---- */

static void test_login_wrong_password(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *cookie;
	create_admin(fx);
	assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &cookie), SL_ERR_AUTH);
	assert_null(cookie);
	assert_int_equal(login(fx, "admin", "", ADDR, &wait, &cookie), SL_ERR_AUTH);
	assert_int_equal(login(fx, "nobody", PASSWORD, ADDR, &wait, &cookie), SL_ERR_AUTH);
	assert_null(cookie);
	assert_int_equal(login(fx, "", PASSWORD, ADDR, &wait, &cookie), SL_ERR_AUTH);
	assert_int_equal(login(fx, "admin", PASSWORD " ", ADDR, &wait, &cookie), SL_ERR_AUTH);

	/* every failure was counted, under the user and the address */
	long long failures, last;
	assert_int_equal(store_login_failures(fx->thread.db, "user:admin@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 3);
	assert_int_equal(last, fx->now);
	assert_int_equal(store_login_failures(fx->thread.db, "addr:" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 5);
	assert_int_equal(store_login_failures(fx->thread.db, "user:nobody@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 1);
}

static void test_login_success_cookie_and_session(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *cookie;
	create_admin(fx);
	/* a couple of failures first; success clears them */
	assert_int_equal(login(fx, "admin", "nope nope nope", ADDR, &wait, &cookie), SL_ERR_AUTH);
	assert_int_equal(login(fx, "ADMIN", PASSWORD, ADDR, &wait, &cookie), SL_OK);
	assert_non_null(cookie);
	assert_non_null(strstr(cookie, "; HttpOnly"));
	assert_non_null(strstr(cookie, "; SameSite=Strict"));
	assert_non_null(strstr(cookie, "; Path=/"));
	assert_non_null(strstr(cookie, "; Max-Age=604800"));
	assert_null(strstr(cookie, "Secure")); /* not behind TLS */
	const char *token = cookie_token(fx->a, cookie);
	assert_true(is_hex_token(token));

	long long failures, last;
	assert_int_equal(store_login_failures(fx->thread.db, "user:admin@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 0);
	assert_int_equal(store_login_failures(fx->thread.db, "addr:" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 0);

	/* the session loads back from the cookie */
	const struct auth_session *s = load(fx, token);
	assert_non_null(s);
	assert_string_equal(s->username, "admin");
	struct user u;
	assert_int_equal(store_user_find(fx->thread.db, fx->a, "admin", &u), SL_OK);
	assert_int_equal(s->user_id, u.id);
	assert_true(is_hex_token(s->csrf));
	assert_string_not_equal(s->csrf, token);
	assert_non_null(s->token_hash);

	/* the database holds a hash of the token, never the token */
	struct session_row row;
	assert_int_equal(store_session_find(fx->thread.db, fx->a, token, fx->now, &row),
			 SL_ERR_NOT_FOUND);
	assert_int_equal(store_session_find(fx->thread.db, fx->a, s->token_hash, fx->now, &row),
			 SL_OK);
	assert_string_not_equal(s->token_hash, token);
	assert_true(row.expires_at == fx->now + AUTH_SESSION_SECONDS);

	/* a second login gives a different session */
	const char *cookie2;
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie2), SL_OK);
	assert_string_not_equal(cookie_token(fx->a, cookie2), token);
}

static void test_login_secure_cookie_behind_tls(void **state)
{
	struct fixture *fx = *state;
	struct http_request r;
	struct http_response resp;
	long long wait = 0;
	create_admin(fx);
	http_response_init(&resp);
	request(fx, &r, NULL, "REQUEST_METHOD=POST", "DOCUMENT_URI=/login", "HTTPS=on",
		"REMOTE_ADDR=" ADDR, NULL);
	assert_int_equal(auth_login(&r, &resp, "admin", PASSWORD, &wait), SL_OK);
	assert_int_equal(resp.n_headers, 1);
	assert_string_equal(resp.headers[0].name, "Set-Cookie");
	assert_non_null(strstr(resp.headers[0].value, "; Secure"));
	assert_non_null(strstr(resp.headers[0].value, "; HttpOnly"));
	assert_non_null(strstr(resp.headers[0].value, "; SameSite=Strict"));
	http_response_free(&resp);
}

static void test_session_load_refusals(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *cookie;
	create_admin(fx);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie), SL_OK);
	const char *token = cookie_token(fx->a, cookie);
	assert_non_null(load(fx, token));

	/* no cookie */
	struct http_request r;
	request(fx, &r, NULL, "REQUEST_METHOD=GET", NULL);
	assert_null(auth_session_load(&r));
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
	const char *cookie;
	create_admin(fx);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie), SL_OK);
	const char *token = cookie_token(fx->a, cookie);

	struct http_request r;
	struct http_response resp;
	http_response_init(&resp);
	request(fx, &r, NULL, "REQUEST_METHOD=POST", "DOCUMENT_URI=/logout",
		arena_printf(fx->a, "HTTP_COOKIE=" AUTH_SESSION_COOKIE "=%s", token), NULL);
	r.session = auth_session_load(&r);
	assert_non_null(r.session);
	assert_int_equal(auth_logout(&r, &resp), SL_OK);
	assert_int_equal(resp.n_headers, 1);
	assert_string_equal(resp.headers[0].name, "Set-Cookie");
	const char *clear = resp.headers[0].value;
	assert_true(strncmp(clear, AUTH_SESSION_COOKIE "=;", strlen(AUTH_SESSION_COOKIE) + 2) == 0);
	assert_non_null(strstr(clear, "Max-Age=0"));
	assert_non_null(strstr(clear, "HttpOnly"));
	http_response_free(&resp);

	/* the session is gone from the database */
	assert_null(load(fx, token));
	struct session_row row;
	assert_int_equal(store_session_find(fx->thread.db, fx->a, r.session->token_hash, fx->now,
					    &row), SL_ERR_NOT_FOUND);

	/* logging out without a session still clears the cookie */
	struct http_request anon;
	http_response_init(&resp);
	request(fx, &anon, NULL, "REQUEST_METHOD=POST", "DOCUMENT_URI=/logout", NULL);
	assert_int_equal(auth_logout(&anon, &resp), SL_OK);
	assert_int_equal(resp.n_headers, 1);
	assert_non_null(strstr(resp.headers[0].value, "Max-Age=0"));
	http_response_free(&resp);
}

static void test_login_replaces_session(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *cookie;
	create_admin(fx);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie), SL_OK);
	const char *first = cookie_token(fx->a, cookie);

	/* log in again while holding the first session */
	struct http_request r;
	struct http_response resp;
	http_response_init(&resp);
	request(fx, &r, NULL, "REQUEST_METHOD=POST", "DOCUMENT_URI=/login", "REMOTE_ADDR=" ADDR,
		arena_printf(fx->a, "HTTP_COOKIE=" AUTH_SESSION_COOKIE "=%s", first), NULL);
	r.session = auth_session_load(&r);
	assert_non_null(r.session);
	assert_int_equal(auth_login(&r, &resp, "admin", PASSWORD, &wait), SL_OK);
	assert_int_equal(resp.n_headers, 1);
	const char *second = cookie_token(fx->a, resp.headers[0].value);
	http_response_free(&resp);

	assert_null(load(fx, first));
	assert_non_null(load(fx, second));
}

/* ---- throttling ---- */

static void test_throttle_after_free_failures(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *cookie;
	create_admin(fx);
	for (int i = 0; i < AUTH_FREE_FAILURES; i++)
		assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &cookie),
				 SL_ERR_AUTH);
	/* now even the right password waits */
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie), SL_ERR_RATE_LIMITED);
	assert_true(wait >= 1);
	assert_null(cookie);
	assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &cookie),
			 SL_ERR_RATE_LIMITED);
	/* a throttled try is not another failure */
	long long failures, last;
	assert_int_equal(store_login_failures(fx->thread.db, "user:admin@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, AUTH_FREE_FAILURES);

	/* others from the same address wait too; the admin elsewhere does not
	 * (guesses from one address never lock the admin out) */
	assert_int_equal(login(fx, "someone", PASSWORD, ADDR, &wait, &cookie), SL_ERR_RATE_LIMITED);
	assert_int_equal(login(fx, "admin", PASSWORD, "198.51.100.2", &wait, &cookie), SL_OK);
	/* a different user from a different address is not affected */
	assert_int_equal(login(fx, "someone", PASSWORD, "198.51.100.1", &wait, &cookie),
			 SL_ERR_AUTH);

	/* after the wait the right password works again and clears the count */
	long long waited = 0;
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &waited, &cookie), SL_ERR_RATE_LIMITED);
	fx->now += waited;
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie), SL_OK);
	assert_non_null(cookie);
	assert_int_equal(store_login_failures(fx->thread.db, "user:admin@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, 0);
}

static void test_throttle_grows_and_caps(void **state)
{
	struct fixture *fx = *state;
	long long wait, prev = 0;
	const char *cookie;
	create_admin(fx);
	for (int i = 0; i < AUTH_FREE_FAILURES; i++)
		assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &cookie),
				 SL_ERR_AUTH);
	/* each failure after the free ones makes the next wait longer */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &cookie),
				 SL_ERR_RATE_LIMITED);
		assert_true(wait > prev);
		assert_true(wait <= AUTH_MAX_DELAY);
		prev = wait;
		fx->now += wait;
		assert_int_equal(login(fx, "admin", "wrong password!", ADDR, &wait, &cookie),
				 SL_ERR_AUTH);
	}
	/* many failures: never more than AUTH_MAX_DELAY */
	for (int i = 0; i < 40; i++)
		assert_int_equal(store_login_failed(fx->thread.db, "user:admin@" ADDR, fx->now), SL_OK);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie), SL_ERR_RATE_LIMITED);
	assert_int_equal(wait, AUTH_MAX_DELAY);
	fx->now += AUTH_MAX_DELAY - 1;
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie), SL_ERR_RATE_LIMITED);
	assert_int_equal(wait, 1);
	fx->now += 1;
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie), SL_OK);
}

static void test_throttle_key_ignores_case(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *cookie;
	create_admin(fx);
	static const char *const spellings[] = {"Admin", "ADMIN", "admin", "aDMIN", "AdMiN"};
	_Static_assert(sizeof spellings / sizeof spellings[0] == AUTH_FREE_FAILURES,
		       "one spelling per free failure");
	/* every spelling adds to the one (username, address) key */
	for (int i = 0; i < AUTH_FREE_FAILURES; i++)
		assert_int_equal(login(fx, spellings[i], "wrong password!", ADDR, &wait, &cookie),
				 SL_ERR_AUTH);
	long long failures, last;
	assert_int_equal(store_login_failures(fx->thread.db, "user:admin@" ADDR, &failures, &last), SL_OK);
	assert_int_equal(failures, AUTH_FREE_FAILURES);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie), SL_ERR_RATE_LIMITED);
}

/* An attacker elsewhere cannot keep the admin out: the admin's own address
 * and username pair has no failures. */
static void test_throttle_no_lockout_from_elsewhere(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *cookie;
	create_admin(fx);
	for (int i = 0; i < 3 * AUTH_FREE_FAILURES; i++) {
		sl_err e = login(fx, "admin", "guess guess guess", "198.51.100.66", &wait, &cookie);
		assert_true(e == SL_ERR_AUTH || e == SL_ERR_RATE_LIMITED);
	}
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie), SL_OK);
	assert_non_null(cookie);
}

/* Unknown users are throttled like real ones (no user enumeration). */
static void test_throttle_unknown_user(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *cookie;
	create_admin(fx);
	for (int i = 0; i < AUTH_FREE_FAILURES; i++)
		assert_int_equal(login(fx, "ghost", "whatever it is", ADDR, &wait, &cookie),
				 SL_ERR_AUTH);
	assert_int_equal(login(fx, "ghost", "whatever it is", ADDR, &wait, &cookie),
			 SL_ERR_RATE_LIMITED);
}

/* ---- CSRF ---- */

#define TOKEN_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TOKEN_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static void test_csrf_with_session(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *cookie;
	create_admin(fx);
	assert_int_equal(login(fx, "admin", PASSWORD, ADDR, &wait, &cookie), SL_OK);
	const char *token = cookie_token(fx->a, cookie);
	const struct auth_session *s = load(fx, token);
	assert_non_null(s);
	const char *session_cookie = arena_printf(fx->a, "HTTP_COOKIE=" AUTH_SESSION_COOKIE "=%s",
						  token);
	const char *with_csrf_cookie = arena_printf(fx->a, "HTTP_COOKIE=" AUTH_SESSION_COOKIE
						    "=%s; " AUTH_CSRF_COOKIE "=" TOKEN_A, token);
	char *wrong = arena_strdup(fx->a, s->csrf);
	wrong[63] = wrong[63] == '0' ? '1' : '0';

	static const struct {
		const char *what;
		int form;      /* 0: the session's token, 1: wrong, 2: none, 3: TOKEN_A, 4: prefix */
		bool csrf_cookie;
		bool ok;
	} cases[] = {
		{"matching token", 0, false, true},
		{"one character off", 1, false, false},
		{"missing", 2, false, false},
		{"a double-submit cookie does not stand in for the session's token", 3, true, false},
		{"a prefix of the token", 4, false, false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *body;
		switch (cases[i].form) {
		case 0: body = arena_printf(fx->a, "csrf=%s", s->csrf); break;
		case 1: body = arena_printf(fx->a, "csrf=%s", wrong); break;
		case 2: body = "other=1"; break;
		case 3: body = "csrf=" TOKEN_A; break;
		default: body = arena_printf(fx->a, "csrf=%.32s", s->csrf); break;
		}
		struct http_request r;
		request(fx, &r, body, "DOCUMENT_URI=/fields",
			cases[i].csrf_cookie ? with_csrf_cookie : session_cookie, NULL);
		r.session = auth_session_load(&r);
		assert_non_null(r.session);
		if (auth_csrf_ok(&r) != cases[i].ok)
			fail_msg("session CSRF, %s: expected %s", cases[i].what,
				 cases[i].ok ? "accepted" : "refused");
	}

	/* auth_csrf_token gives the session's token and sets no cookie */
	struct http_request r;
	struct http_response resp;
	http_response_init(&resp);
	request(fx, &r, NULL, "REQUEST_METHOD=GET", session_cookie, NULL);
	r.session = auth_session_load(&r);
	assert_string_equal(auth_csrf_token(&r, &resp), s->csrf);
	assert_int_equal(resp.n_headers, 0);
	http_response_free(&resp);
}

static void test_csrf_double_submit(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char *what;
		const char *cookie;   /* HTTP_COOKIE, or NULL */
		const char *body;
		bool ok;
	} cases[] = {
		{"matching cookie and form", AUTH_CSRF_COOKIE "=" TOKEN_A, "csrf=" TOKEN_A, true},
		{"among other cookies", "a=1; " AUTH_CSRF_COOKIE "=" TOKEN_A "; b=2",
		 "username=x&csrf=" TOKEN_A, true},
		{"mismatched", AUTH_CSRF_COOKIE "=" TOKEN_A, "csrf=" TOKEN_B, false},
		{"no cookie", NULL, "csrf=" TOKEN_A, false},
		{"no form value", AUTH_CSRF_COOKIE "=" TOKEN_A, "username=x", false},
		{"empty form value", AUTH_CSRF_COOKIE "=" TOKEN_A, "csrf=", false},
		{"both empty", AUTH_CSRF_COOKIE "=", "csrf=", false},
		{"cookie not a token, even when matching", AUTH_CSRF_COOKIE "=abc", "csrf=abc", false},
		{"longer form value", AUTH_CSRF_COOKIE "=" TOKEN_A, "csrf=" TOKEN_A "0", false},
		{"shorter form value", AUTH_CSRF_COOKIE "=" TOKEN_A,
		 "csrf=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", false},
		{"token only in the query", AUTH_CSRF_COOKIE "=" TOKEN_A, NULL, false},
		{"session cookie name does not count", AUTH_SESSION_COOKIE "=" TOKEN_A,
		 "csrf=" TOKEN_A, false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct http_request r;
		const char *cookie = cases[i].cookie
			? arena_printf(fx->a, "HTTP_COOKIE=%s", cases[i].cookie)
			: "HTTP_X=1";
		if (cases[i].body)
			request(fx, &r, cases[i].body, "DOCUMENT_URI=/login", cookie, NULL);
		else
			request(fx, &r, "", "DOCUMENT_URI=/login", cookie,
				"QUERY_STRING=csrf=" TOKEN_A, NULL);
		if (auth_csrf_ok(&r) != cases[i].ok)
			fail_msg("double-submit CSRF, %s: expected %s", cases[i].what,
				 cases[i].ok ? "accepted" : "refused");
	}
}

static void test_csrf_token_anonymous(void **state)
{
	struct fixture *fx = *state;
	struct http_request r;
	struct http_response resp;

	/* no cookie yet: a new token, set as an HttpOnly SameSite=Strict cookie */
	http_response_init(&resp);
	request(fx, &r, NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/login", NULL);
	const char *token = auth_csrf_token(&r, &resp);
	assert_true(is_hex_token(token));
	assert_int_equal(resp.n_headers, 1);
	assert_string_equal(resp.headers[0].name, "Set-Cookie");
	const char *set = resp.headers[0].value;
	assert_true(strncmp(set, AUTH_CSRF_COOKIE "=", strlen(AUTH_CSRF_COOKIE) + 1) == 0);
	assert_true(strncmp(set + strlen(AUTH_CSRF_COOKIE) + 1, token, 64) == 0);
	assert_non_null(strstr(set, "HttpOnly"));
	assert_non_null(strstr(set, "SameSite=Strict"));
	http_response_free(&resp);

	/* the form then posts it back with the cookie: accepted */
	struct http_request post;
	request(fx, &post, arena_printf(fx->a, "csrf=%s", token), "DOCUMENT_URI=/login",
		arena_printf(fx->a, "HTTP_COOKIE=" AUTH_CSRF_COOKIE "=%s", token), NULL);
	assert_true(auth_csrf_ok(&post));

	/* with the cookie: the same token, no new cookie */
	http_response_init(&resp);
	request(fx, &r, NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/login",
		"HTTP_COOKIE=" AUTH_CSRF_COOKIE "=" TOKEN_A, NULL);
	assert_string_equal(auth_csrf_token(&r, &resp), TOKEN_A);
	assert_int_equal(resp.n_headers, 0);
	http_response_free(&resp);

	/* a malformed cookie is replaced */
	http_response_init(&resp);
	request(fx, &r, NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/login",
		"HTTP_COOKIE=" AUTH_CSRF_COOKIE "=short", NULL);
	token = auth_csrf_token(&r, &resp);
	assert_true(is_hex_token(token));
	assert_int_equal(resp.n_headers, 1);
	http_response_free(&resp);
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
		T(test_admin_create),
		T(test_login_wrong_password),
		T(test_login_success_cookie_and_session),
		T(test_login_secure_cookie_behind_tls),
		T(test_session_load_refusals),
		T(test_logout),
		T(test_login_replaces_session),
		T(test_throttle_after_free_failures),
		T(test_throttle_grows_and_caps),
		T(test_throttle_key_ignores_case),
		T(test_throttle_no_lockout_from_elsewhere),
		T(test_throttle_unknown_user),
		T(test_csrf_with_session),
		T(test_csrf_double_submit),
		T(test_csrf_token_anonymous),
		cmocka_unit_test(test_check_credentials),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
