/*
 * test_web_auth.c - unit tests for src/web_auth.c, the web side of
 * sessions: the session cookie set at login (its flags, Secure behind TLS),
 * the session found from the cookie, logout clearing it, and the CSRF
 * checks (the session's token, the double-submit cookie before login).
 *
 * Requests are parsed from CGI variables exactly as the FastCGI loop does,
 * on a request thread of the fixture's own (its deps lent to auth.c). Sets
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
#include <unistd.h>

#include "app.h"
#include "arena.h"
#include "auth.h"
#include "err.h"
#include "http.h"
#include "store.h"
#include "web_auth.h"
#include "writer.h"

#define PASSWORD "correct horse battery"
#define ADDR "192.0.2.10"

struct fixture {
	char dir[64];
	char path[128];
	struct app_thread thread;
	struct arena *a;
	long long now;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof fx->dir, "/tmp/sl-test-web-auth-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof fx->path, "%s/test.db", fx->dir);
	sl_err e;
	fx->thread.db = store_open(fx->path, &e);
	if (!fx->thread.db || store_migrate(fx->thread.db))
		return -1;
	fx->thread.writer = writer_start(fx->path, &e);
	if (!fx->thread.writer)
		return -1;
	fx->thread.deps = (struct deps){.db = fx->thread.db, .writer = fx->thread.writer};
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
	sl_err e = web_auth_login(&r, &resp, username, password, wait);
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
	const char *prefix = WEB_AUTH_SESSION_COOKIE "=";
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
		arena_printf(fx->a, "HTTP_COOKIE=theme=dark; " WEB_AUTH_SESSION_COOKIE "=%s", token),
		NULL);
	return web_auth_session(&r);
}

/* ---- the session cookie ---- */

static void test_login_sets_session_cookie(void **state)
{
	struct fixture *fx = *state;
	long long wait;
	const char *cookie;
	create_admin(fx);
	/* a failed login sets no cookie */
	assert_int_equal(login(fx, "admin", "nope nope nope", ADDR, &wait, &cookie), SL_ERR_AUTH);
	assert_null(cookie);
	assert_int_equal(login(fx, "ADMIN", PASSWORD, ADDR, &wait, &cookie), SL_OK);
	assert_non_null(cookie);
	assert_non_null(strstr(cookie, "; HttpOnly"));
	assert_non_null(strstr(cookie, "; SameSite=Strict"));
	assert_non_null(strstr(cookie, "; Path=/"));
	assert_non_null(strstr(cookie, "; Max-Age=604800"));
	assert_null(strstr(cookie, "Secure")); /* not behind TLS */
	const char *token = cookie_token(fx->a, cookie);
	assert_true(is_hex_token(token));

	/* the session loads back from the cookie (among others) */
	const struct auth_session *s = load(fx, token);
	assert_non_null(s);
	assert_string_equal(s->username, "admin");
	assert_true(is_hex_token(s->csrf));
	assert_string_not_equal(s->csrf, token);

	/* the throttle keys are the request's client address */
	long long failures, last;
	assert_int_equal(login(fx, "admin", "nope nope nope", "198.51.100.7", &wait, &cookie),
			 SL_ERR_AUTH);
	assert_int_equal(store_login_failures(fx->thread.db, "user:admin@198.51.100.7", &failures,
					      &last), SL_OK);
	assert_int_equal(failures, 1);
	assert_int_equal(store_login_failures(fx->thread.db, "addr:198.51.100.7", &failures, &last),
			 SL_OK);
	assert_int_equal(failures, 1);
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
	assert_int_equal(web_auth_login(&r, &resp, "admin", PASSWORD, &wait), SL_OK);
	assert_int_equal(resp.n_headers, 1);
	assert_string_equal(resp.headers[0].name, "Set-Cookie");
	assert_non_null(strstr(resp.headers[0].value, "; Secure"));
	assert_non_null(strstr(resp.headers[0].value, "; HttpOnly"));
	assert_non_null(strstr(resp.headers[0].value, "; SameSite=Strict"));
	http_response_free(&resp);
}

static void test_session_from_cookie(void **state)
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
	assert_null(web_auth_session(&r));
	/* the token under another cookie's name (the CSRF cookie's) */
	request(fx, &r, NULL, "REQUEST_METHOD=GET",
		arena_printf(fx->a, "HTTP_COOKIE=" WEB_AUTH_CSRF_COOKIE "=%s", token), NULL);
	assert_null(web_auth_session(&r));
	/* a malformed or unknown cookie */
	assert_null(load(fx, ""));
	assert_null(load(fx, arena_strndup(fx->a, token, 63)));
	char *other = arena_strdup(fx->a, token);
	other[0] = other[0] == '0' ? '1' : '0';
	assert_null(load(fx, other));
	/* expired: the request's time counts */
	fx->now += AUTH_SESSION_SECONDS;
	assert_null(load(fx, token));
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
		arena_printf(fx->a, "HTTP_COOKIE=" WEB_AUTH_SESSION_COOKIE "=%s", token), NULL);
	r.session = web_auth_session(&r);
	assert_non_null(r.session);
	assert_int_equal(web_auth_logout(&r, &resp), SL_OK);
	assert_int_equal(resp.n_headers, 1);
	assert_string_equal(resp.headers[0].name, "Set-Cookie");
	const char *clear = resp.headers[0].value;
	assert_true(strncmp(clear, WEB_AUTH_SESSION_COOKIE "=;",
			    strlen(WEB_AUTH_SESSION_COOKIE) + 2) == 0);
	assert_non_null(strstr(clear, "Max-Age=0"));
	assert_non_null(strstr(clear, "HttpOnly"));
	http_response_free(&resp);

	/* the session is gone */
	assert_null(load(fx, token));

	/* logging out without a session still clears the cookie */
	struct http_request anon;
	http_response_init(&resp);
	request(fx, &anon, NULL, "REQUEST_METHOD=POST", "DOCUMENT_URI=/logout", NULL);
	assert_int_equal(web_auth_logout(&anon, &resp), SL_OK);
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
		arena_printf(fx->a, "HTTP_COOKIE=" WEB_AUTH_SESSION_COOKIE "=%s", first), NULL);
	r.session = web_auth_session(&r);
	assert_non_null(r.session);
	assert_int_equal(web_auth_login(&r, &resp, "admin", PASSWORD, &wait), SL_OK);
	assert_int_equal(resp.n_headers, 1);
	const char *second = cookie_token(fx->a, resp.headers[0].value);
	http_response_free(&resp);

	assert_null(load(fx, first));
	assert_non_null(load(fx, second));
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
	const char *session_cookie = arena_printf(fx->a, "HTTP_COOKIE=" WEB_AUTH_SESSION_COOKIE "=%s",
						  token);
	const char *with_csrf_cookie = arena_printf(fx->a, "HTTP_COOKIE=" WEB_AUTH_SESSION_COOKIE
						    "=%s; " WEB_AUTH_CSRF_COOKIE "=" TOKEN_A, token);
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
		r.session = web_auth_session(&r);
		assert_non_null(r.session);
		if (web_auth_csrf_ok(&r) != cases[i].ok)
			fail_msg("session CSRF, %s: expected %s", cases[i].what,
				 cases[i].ok ? "accepted" : "refused");
	}

	/* web_auth_csrf_token gives the session's token and sets no cookie */
	struct http_request r;
	struct http_response resp;
	http_response_init(&resp);
	request(fx, &r, NULL, "REQUEST_METHOD=GET", session_cookie, NULL);
	r.session = web_auth_session(&r);
	assert_string_equal(web_auth_csrf_token(&r, &resp), s->csrf);
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
		{"matching cookie and form", WEB_AUTH_CSRF_COOKIE "=" TOKEN_A, "csrf=" TOKEN_A, true},
		{"among other cookies", "a=1; " WEB_AUTH_CSRF_COOKIE "=" TOKEN_A "; b=2",
		 "username=x&csrf=" TOKEN_A, true},
		{"mismatched", WEB_AUTH_CSRF_COOKIE "=" TOKEN_A, "csrf=" TOKEN_B, false},
		{"no cookie", NULL, "csrf=" TOKEN_A, false},
		{"no form value", WEB_AUTH_CSRF_COOKIE "=" TOKEN_A, "username=x", false},
		{"empty form value", WEB_AUTH_CSRF_COOKIE "=" TOKEN_A, "csrf=", false},
		{"both empty", WEB_AUTH_CSRF_COOKIE "=", "csrf=", false},
		{"cookie not a token, even when matching", WEB_AUTH_CSRF_COOKIE "=abc", "csrf=abc", false},
		{"longer form value", WEB_AUTH_CSRF_COOKIE "=" TOKEN_A, "csrf=" TOKEN_A "0", false},
		{"shorter form value", WEB_AUTH_CSRF_COOKIE "=" TOKEN_A,
		 "csrf=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", false},
		{"token only in the query", WEB_AUTH_CSRF_COOKIE "=" TOKEN_A, NULL, false},
		{"session cookie name does not count", WEB_AUTH_SESSION_COOKIE "=" TOKEN_A,
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
		if (web_auth_csrf_ok(&r) != cases[i].ok)
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
	const char *token = web_auth_csrf_token(&r, &resp);
	assert_true(is_hex_token(token));
	assert_int_equal(resp.n_headers, 1);
	assert_string_equal(resp.headers[0].name, "Set-Cookie");
	const char *set = resp.headers[0].value;
	assert_true(strncmp(set, WEB_AUTH_CSRF_COOKIE "=", strlen(WEB_AUTH_CSRF_COOKIE) + 1) == 0);
	assert_true(strncmp(set + strlen(WEB_AUTH_CSRF_COOKIE) + 1, token, 64) == 0);
	assert_non_null(strstr(set, "HttpOnly"));
	assert_non_null(strstr(set, "SameSite=Strict"));
	http_response_free(&resp);

	/* the form then posts it back with the cookie: accepted */
	struct http_request post;
	request(fx, &post, arena_printf(fx->a, "csrf=%s", token), "DOCUMENT_URI=/login",
		arena_printf(fx->a, "HTTP_COOKIE=" WEB_AUTH_CSRF_COOKIE "=%s", token), NULL);
	assert_true(web_auth_csrf_ok(&post));

	/* with the cookie: the same token, no new cookie */
	http_response_init(&resp);
	request(fx, &r, NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/login",
		"HTTP_COOKIE=" WEB_AUTH_CSRF_COOKIE "=" TOKEN_A, NULL);
	assert_string_equal(web_auth_csrf_token(&r, &resp), TOKEN_A);
	assert_int_equal(resp.n_headers, 0);
	http_response_free(&resp);

	/* a malformed cookie is replaced */
	http_response_init(&resp);
	request(fx, &r, NULL, "REQUEST_METHOD=GET", "DOCUMENT_URI=/login",
		"HTTP_COOKIE=" WEB_AUTH_CSRF_COOKIE "=short", NULL);
	token = web_auth_csrf_token(&r, &resp);
	assert_true(is_hex_token(token));
	assert_int_equal(resp.n_headers, 1);
	http_response_free(&resp);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	/* fast password hashing, before the first hash */
	setenv("STRIPELINK_PBKDF2_ITERATIONS", "1000", 1);
	setenv("STRIPELINK_INSECURE_TEST_HASHING", "1", 1);
	const struct CMUnitTest tests[] = {
		T(test_login_sets_session_cookie),
		T(test_login_secure_cookie_behind_tls),
		T(test_session_from_cookie),
		T(test_logout),
		T(test_login_replaces_session),
		T(test_csrf_with_session),
		T(test_csrf_double_submit),
		T(test_csrf_token_anonymous),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
