/*
 * auth.c - admins, sessions and login throttling; see auth.h.
 */
#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "deps.h"
#include "store.h"
#include "writer.h"

/* Hashes a cookie token for storage: HMAC-SHA256 under a fixed label. */
static const char *token_hash(struct arena *a, const char *token)
{
	static const char label[] = "stripelink session v1";
	unsigned char mac[CRYPTO_HMAC_LEN];
	if (crypto_hmac_sha256(label, sizeof label - 1, token, strlen(token), mac))
		return NULL;
	char *hex = arena_alloc(a, 2 * CRYPTO_HMAC_LEN + 1);
	crypto_hex(mac, sizeof mac, hex);
	return hex;
}

static bool is_hex_of(const char *s, size_t len)
{
	if (!s || strlen(s) != len)
		return false;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

bool auth_is_token(const char *s)
{
	return is_hex_of(s, AUTH_TOKEN_HEX);
}

sl_err auth_token_new(char out[AUTH_TOKEN_HEX + 1])
{
	return crypto_token_hex(out, AUTH_TOKEN_BYTES);
}

const struct auth_session *auth_session_find(struct store *db, struct arena *a, const char *token,
					     long long now)
{
	if (!auth_is_token(token))
		return NULL;
	const char *hash = token_hash(a, token);
	struct session_row row;
	if (!hash || store_session_find(db, a, hash, now, &row))
		return NULL;
	struct auth_session *s = arena_alloc(a, sizeof *s);
	s->user_id = row.user_id;
	s->username = row.username;
	s->csrf = row.csrf;
	s->token_hash = hash;
	return s;
}

bool auth_admin_exists(struct store *db)
{
	long long n = 0;
	return store_user_count(db, &n) == SL_OK && n > 0;
}

const char *auth_check_credentials(const char *username, const char *password)
{
	if (!username || !*username)
		return "Enter a username.";
	size_t n = strlen(username);
	if (n > 64)
		return "The username can be at most 64 characters long.";
	for (const char *p = username; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._@-", *p))
			return "The username may use letters, digits and . _ @ - only.";
	if (!password || strlen(password) < 10)
		return "The password must be at least 10 characters long.";
	if (strlen(password) > 1024)
		return "The password can be at most 1024 characters long.";
	return NULL;
}

struct admin_job {
	const char *username;
	const char *hash;
	long long now;
	bool only_first;
};

static sl_err admin_create_job(struct store *db, void *arg)
{
	struct admin_job *j = arg;
	if (j->only_first) {
		long long n;
		sl_err e = store_user_count(db, &n);
		if (e)
			return e;
		if (n > 0)
			return SL_ERR_FORBIDDEN;
	}
	return store_user_create(db, j->username, j->hash, j->now, NULL);
}

sl_err auth_admin_create(struct writer *w, const char *username,
			 const char *password, long long now, bool only_first)
{
	char *hash = crypto_password_hash(password);
	if (!hash)
		return SL_ERR_CRYPTO;
	struct admin_job j = {username, hash, now, only_first};
	sl_err e = writer_run(w, admin_create_job, &j);
	free(hash);
	return e;
}

sl_err auth_admin_create_direct(struct store *db, const char *username,
				const char *password, long long now)
{
	char *hash = crypto_password_hash(password);
	if (!hash)
		return SL_ERR_CRYPTO;
	struct admin_job j = {username, hash, now, false};
	sl_err e = store_begin(db);
	if (!e)
		e = admin_create_job(db, &j);
	if (!e)
		e = store_commit(db);
	else
		store_rollback(db);
	free(hash);
	return e;
}

/* ---- login ---- */

/* A real hash of a random password, so a login for an unknown username
 * costs as much as one for a real user. Made once, kept for the process. */
static char *decoy;
static pthread_once_t decoy_once = PTHREAD_ONCE_INIT;

static void make_decoy(void)
{
	char random_password[33];
	if (crypto_token_hex(random_password, 16) == SL_OK)
		decoy = crypto_password_hash(random_password);
}


/* Seconds left before a key with these failures may try again (0: now). */
static long long throttle_wait(long long failures, long long last, long long now)
{
	if (failures < AUTH_FREE_FAILURES)
		return 0;
	long long shift = failures - AUTH_FREE_FAILURES;
	long long delay = shift >= 10 ? AUTH_MAX_DELAY : (1LL << shift);
	if (delay > AUTH_MAX_DELAY)
		delay = AUTH_MAX_DELAY;
	long long left = last + delay - now;
	return left > 0 ? left : 0;
}

struct attempt_job {
	const char *keys[2];
	long long now;
	long long wait;           /* out: seconds to wait when throttled */
};

/* Reserves a login attempt on the writer, before the (slow) password
 * check: throttled keys refuse; otherwise the attempt is counted as a
 * failure up front, so concurrent guesses cannot slip past the limit. A
 * successful login clears the count again. */
static sl_err attempt_job(struct store *db, void *arg)
{
	struct attempt_job *j = arg;
	j->wait = 0;
	for (int i = 0; i < 2; i++) {
		long long failures, last;
		sl_err e = store_login_failures(db, j->keys[i], &failures, &last);
		if (e)
			return e;
		long long w = throttle_wait(failures, last, j->now);
		if (w > j->wait)
			j->wait = w;
	}
	if (j->wait > 0)
		return SL_ERR_RATE_LIMITED;
	for (int i = 0; i < 2; i++) {
		sl_err e = store_login_failed(db, j->keys[i], j->now);
		if (e)
			return e;
	}
	return SL_OK;
}

struct login_job {
	const char *keys[2];
	const char *token_hash;   /* the new session */
	const char *old_hash;     /* session being replaced, or NULL */
	long long user_id;
	const char *csrf;
	long long now;
};

static sl_err login_job(struct store *db, void *arg)
{
	struct login_job *j = arg;
	sl_err e = SL_OK;
	for (int i = 0; i < 2 && !e; i++)
		e = store_login_clear(db, j->keys[i]);
	if (e)
		return e;
	if (j->old_hash && (e = store_session_delete(db, j->old_hash)))
		return e;
	if ((e = store_session_purge(db, j->now)))
		return e;
	return store_session_create(db, j->token_hash, j->user_id, j->csrf, j->now,
				    j->now + AUTH_SESSION_SECONDS);
}

sl_err auth_login(const struct deps *deps, struct arena *a, const struct auth_attempt *in,
		  char token[AUTH_TOKEN_HEX + 1], long long *wait_seconds)
{
	const char *username = in->username ? in->username : "";
	char *lower = arena_strdup(a, username);
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	const char *addr = in->addr ? in->addr : "?";
	/* per address, and per username from that address: guessing from
	 * elsewhere slows the guesser, never the admin at their own address */
	struct attempt_job attempt = {
		.keys = {arena_printf(a, "addr:%s", addr), arena_printf(a, "user:%s@%s", lower, addr)},
		.now = in->now,
	};
	token[0] = '\0';
	sl_err e = writer_run(deps->writer, attempt_job, &attempt);
	if (e == SL_ERR_RATE_LIMITED)
		*wait_seconds = attempt.wait;
	if (e)
		return e;

	struct user u;
	sl_err found = store_user_find(deps->db, a, username, &u);
	if (found && found != SL_ERR_NOT_FOUND)
		return found;
	/* verify even for unknown users so timing does not tell which exist */
	pthread_once(&decoy_once, make_decoy);
	bool ok = crypto_password_verify(in->password ? in->password : "",
					 found ? (decoy ? decoy : "") : u.password_hash) && !found;
	if (!ok)
		return SL_ERR_AUTH;   /* already counted by attempt_job */

	char fresh[AUTH_TOKEN_HEX + 1], csrf[AUTH_TOKEN_HEX + 1];
	if (auth_token_new(fresh) || auth_token_new(csrf))
		return SL_ERR_CRYPTO;
	struct login_job j = {
		.keys = {attempt.keys[0], attempt.keys[1]},
		.token_hash = token_hash(a, fresh),
		.old_hash = in->replaces,
		.user_id = u.id,
		.csrf = csrf,
		.now = in->now,
	};
	if (!j.token_hash)
		return SL_ERR_CRYPTO;
	if ((e = writer_run(deps->writer, login_job, &j)))
		return e;
	memcpy(token, fresh, sizeof fresh);
	return SL_OK;
}

static sl_err logout_job(struct store *db, void *arg)
{
	return store_session_delete(db, arg);
}

sl_err auth_logout(struct writer *w, const char *token_hash)
{
	return writer_run(w, logout_job, (void *)token_hash);
}

/* ---- the first-run setup token ---- */

static const char *setup_path;
static pthread_once_t setup_path_once = PTHREAD_ONCE_INIT;

static void make_setup_path(void)
{
	const char *dir = config_get()->data_dir;
	size_t n = strlen(dir) + sizeof "/setup-token";
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/setup-token", dir);
	setup_path = p;
}

const char *auth_setup_token_path(void)
{
	pthread_once(&setup_path_once, make_setup_path);
	return setup_path;
}

sl_err auth_setup_token_create(char *out)
{
	const char *path = auth_setup_token_path();
	if (!path)
		return SL_ERR_NOMEM;
	sl_err e = crypto_token_hex(out, AUTH_SETUP_TOKEN_BYTES);
	if (e)
		return e;
	/* a new file each time: an old one (perhaps with wider modes) is gone */
	if (unlink(path) != 0 && errno != ENOENT)
		return SL_ERR_IO;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return SL_ERR_IO;
	size_t len = strlen(out);
	/* readable by whoever owns the data directory (the service user when
	 * started as root and dropping privileges) */
	struct stat dir;
	bool ok = true;
	if (geteuid() == 0 && stat(config_get()->data_dir, &dir) == 0)
		ok = fchown(fd, dir.st_uid, dir.st_gid) == 0;
	ok = ok && fchmod(fd, 0600) == 0 && write(fd, out, len) == (ssize_t)len &&
		  write(fd, "\n", 1) == 1;
	if (close(fd) != 0)
		ok = false;
	if (!ok) {
		unlink(path);
		return SL_ERR_IO;
	}
	return SL_OK;
}

bool auth_setup_token_ok(const char *given)
{
	const char *path = auth_setup_token_path();
	enum { HEX = 2 * AUTH_SETUP_TOKEN_BYTES };
	if (!path || !given || strlen(given) != HEX)
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	char want[HEX + 1];
	ssize_t n = read(fd, want, HEX);
	close(fd);
	if (n != HEX)
		return false;
	want[HEX] = '\0';
	return is_hex_of(want, HEX) && crypto_equal(given, want, HEX);
}

sl_err auth_setup_token_share(struct store *db, const char *token, long long now)
{
	struct arena *a = arena_new();
	const char *hash = a ? token_hash(a, token) : NULL;
	sl_err e = hash ? store_setup_token_put(db, hash, now) : SL_ERR_NOMEM;
	arena_free(a);
	return e;
}

bool auth_setup_token_accepted(struct store *db, const char *given)
{
	if (auth_setup_token_ok(given))
		return true;
	if (!db || !given || strlen(given) != 2 * AUTH_SETUP_TOKEN_BYTES || !is_hex_of(given, strlen(given)))
		return false;
	struct arena *a = arena_new();
	const char *hash = a ? token_hash(a, given) : NULL;
	bool valid = false;
	if (hash && store_setup_token_valid(db, hash, &valid))
		valid = false;
	arena_free(a);
	return valid;
}

void auth_setup_token_remove(void)
{
	const char *path = auth_setup_token_path();
	if (path && unlink(path) != 0 && errno != ENOENT)
		fprintf(stderr, "stripelink: cannot delete %s: %s\n", path, strerror(errno));
}
