/*
 * crypto.c - the only file that calls OpenSSL's libcrypto.
 *
 * Random bytes, PBKDF2-HMAC-SHA256 password hashes, HMAC-SHA256,
 * constant-time comparison, hex, the 0600 sealing-key file, and
 * AES-256-GCM sealing of secrets. The contracts are in crypto.h.
 *
 * Password hashes use PBKDF2_DEFAULT_ITERATIONS unless the environment
 * variable STRIPELINK_PBKDF2_ITERATIONS (read once, at the first hash)
 * raises it; see crypto_pbkdf2_iterations_for for how tests hash fast.
 */
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <threads.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "crypto.h"

#define PBKDF2_PREFIX "pbkdf2-sha256$"
#define PBKDF2_DEFAULT_ITERATIONS 600000L  /* OWASP 2023 guidance for PBKDF2-HMAC-SHA256 */
#define PBKDF2_MIN_ITERATIONS 1000L       /* floor for the env override and for stored hashes */
#define PBKDF2_MAX_ITERATIONS 10000000L   /* ceiling: a stored hash cannot make us spin for minutes */
#define PBKDF2_SALT_LEN 16
#define PBKDF2_HASH_LEN 32

#define SEAL_PREFIX "v1:"
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN 16
#define SEAL_MAX_PLAIN (1L << 20)         /* secrets are keys, not documents */

static const char hex_digits[] = "0123456789abcdef";

static long pbkdf2_iterations = PBKDF2_DEFAULT_ITERATIONS;
static once_flag pbkdf2_iterations_once = ONCE_FLAG_INIT;

/* The work factor for new hashes. The setting may only raise the default:
 * a lower value is ignored (with a warning) unless the explicit
 * STRIPELINK_INSECURE_TEST_HASHING=1 is set too. That switch exists for
 * the test suites, which create hundreds of hashes on a shared machine and
 * run the same binary as production (so a compile-time flag would not
 * reach the integration tests); it says so loudly on stderr. Hashes
 * already stored keep verifying with the count they were made with. */
long crypto_pbkdf2_iterations_for(const char *setting, bool insecure_test_hashing)
{
	char *end;
	long v;

	if (!setting || !*setting)
		return PBKDF2_DEFAULT_ITERATIONS;
	errno = 0;
	v = strtol(setting, &end, 10);
	if (errno || *end || v <= 0) {
		fprintf(stderr, "stripelink: STRIPELINK_PBKDF2_ITERATIONS=%s is not a number; "
				"using %ld\n", setting, PBKDF2_DEFAULT_ITERATIONS);
		return PBKDF2_DEFAULT_ITERATIONS;
	}
	if (v < PBKDF2_DEFAULT_ITERATIONS && !insecure_test_hashing) {
		fprintf(stderr, "stripelink: STRIPELINK_PBKDF2_ITERATIONS=%ld is below the "
				"minimum; using %ld\n", v, PBKDF2_DEFAULT_ITERATIONS);
		return PBKDF2_DEFAULT_ITERATIONS;
	}
	if (v < PBKDF2_MIN_ITERATIONS)
		v = PBKDF2_MIN_ITERATIONS;
	if (v > PBKDF2_MAX_ITERATIONS)
		v = PBKDF2_MAX_ITERATIONS;
	return v;
}

static void pbkdf2_iterations_read(void)
{
	const char *insecure = getenv("STRIPELINK_INSECURE_TEST_HASHING");
	bool test_hashing = insecure && strcmp(insecure, "1") == 0;
	pbkdf2_iterations = crypto_pbkdf2_iterations_for(getenv("STRIPELINK_PBKDF2_ITERATIONS"),
							 test_hashing);
	if (pbkdf2_iterations < PBKDF2_DEFAULT_ITERATIONS)
		fprintf(stderr, "stripelink: WARNING: INSECURE TEST HASHING: passwords are hashed "
				"with %ld PBKDF2 iterations (STRIPELINK_INSECURE_TEST_HASHING=1). "
				"Never use this in production.\n", pbkdf2_iterations);
}

static long pbkdf2_iterations_get(void)
{
	call_once(&pbkdf2_iterations_once, pbkdf2_iterations_read);
	return pbkdf2_iterations;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes exactly 2*len lower-case hex chars of in into out; false when any
 * char is not lower-case hex. */
static bool hex_decode(const char *in, size_t len, unsigned char *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi = hex_value(in[2 * i]);
		int lo = hi < 0 ? -1 : hex_value(in[2 * i + 1]);

		if (lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* Length of the run of lower-case hex chars at the start of s. */
static size_t hex_span(const char *s)
{
	size_t n = 0;

	while (hex_value(s[n]) >= 0)
		n++;
	return n;
}

/* Writes 2*len lower-case hex chars and a NUL into out; cannot fail. */
void crypto_hex(const unsigned char *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* Fills buf with len bytes from OpenSSL's CSPRNG; SL_ERR_CRYPTO when it
 * cannot, SL_ERR_INVALID for a NULL buf. */
sl_err crypto_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	if (!buf && len)
		return SL_ERR_INVALID;
	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;

		if (RAND_bytes(p, chunk) != 1)
			return SL_ERR_CRYPTO;
		p += chunk;
		len -= (size_t)chunk;
	}
	return SL_OK;
}

/* Writes 2*bytes lower-case hex chars of fresh randomness and a NUL into
 * out; on failure out holds the empty string. */
sl_err crypto_token_hex(char *out, size_t bytes)
{
	unsigned char chunk[64];
	sl_err err = SL_OK;

	if (!out)
		return SL_ERR_INVALID;
	out[0] = '\0';
	for (size_t done = 0; done < bytes;) {
		size_t n = bytes - done < sizeof chunk ? bytes - done : sizeof chunk;

		err = crypto_random(chunk, n);
		if (err) {
			out[0] = '\0';
			goto out;
		}
		crypto_hex(chunk, n, out + 2 * done);
		done += n;
	}
out:
	OPENSSL_cleanse(chunk, sizeof chunk);
	return err;
}

static bool pbkdf2(const char *password, const unsigned char *salt,
		   long iterations, unsigned char out[PBKDF2_HASH_LEN])
{
	size_t len = strlen(password);

	if (len > INT_MAX)
		return false;
	return PKCS5_PBKDF2_HMAC(password, (int)len, salt, PBKDF2_SALT_LEN,
				 (int)iterations, EVP_sha256(),
				 PBKDF2_HASH_LEN, out) == 1;
}

/* Returns "pbkdf2-sha256$<iterations>$<salt-hex>$<hash-hex>" with a fresh
 * 16-byte salt, malloc'd for the caller to free; NULL on failure. */
char *crypto_password_hash(const char *password)
{
	unsigned char salt[PBKDF2_SALT_LEN];
	unsigned char hash[PBKDF2_HASH_LEN];
	char salt_hex[2 * PBKDF2_SALT_LEN + 1];
	char hash_hex[2 * PBKDF2_HASH_LEN + 1];
	long iterations = pbkdf2_iterations_get();
	char *result = NULL;
	size_t size;

	if (!password)
		return NULL;
	if (crypto_random(salt, sizeof salt) != SL_OK)
		goto out;
	if (!pbkdf2(password, salt, iterations, hash))
		goto out;
	crypto_hex(salt, sizeof salt, salt_hex);
	crypto_hex(hash, sizeof hash, hash_hex);
	size = sizeof PBKDF2_PREFIX + 20 + 1 + sizeof salt_hex + 1 + sizeof hash_hex;
	result = malloc(size);
	if (!result)
		goto out;
	snprintf(result, size, PBKDF2_PREFIX "%ld$%s$%s", iterations,
		 salt_hex, hash_hex);
out:
	OPENSSL_cleanse(hash, sizeof hash);
	OPENSSL_cleanse(hash_hex, sizeof hash_hex);
	return result;
}

/* Parses "<iterations>$<salt-hex>$<hash-hex>" (what follows the prefix).
 * Only canonical decimal iterations within the allowed range and
 * lower-case hex of exactly the right lengths are accepted. */
static bool password_parse(const char *s, long *iterations,
			   unsigned char salt[PBKDF2_SALT_LEN],
			   unsigned char hash[PBKDF2_HASH_LEN])
{
	long v = 0;
	size_t digits = 0;

	while (s[digits] >= '0' && s[digits] <= '9') {
		if (digits >= 9)
			return false;
		v = v * 10 + (s[digits] - '0');
		digits++;
	}
	if (digits == 0 || s[0] == '0' || s[digits] != '$')
		return false;
	if (v < PBKDF2_MIN_ITERATIONS || v > PBKDF2_MAX_ITERATIONS)
		return false;
	s += digits + 1;
	if (hex_span(s) != 2 * PBKDF2_SALT_LEN || s[2 * PBKDF2_SALT_LEN] != '$')
		return false;
	if (!hex_decode(s, PBKDF2_SALT_LEN, salt))
		return false;
	s += 2 * PBKDF2_SALT_LEN + 1;
	if (hex_span(s) != 2 * PBKDF2_HASH_LEN || s[2 * PBKDF2_HASH_LEN] != '\0')
		return false;
	if (!hex_decode(s, PBKDF2_HASH_LEN, hash))
		return false;
	*iterations = v;
	return true;
}

/* True only when stored is a well-formed hash of password; the iteration
 * count comes from stored (within [1000, 10^7]). Never allocates. */
bool crypto_password_verify(const char *password, const char *stored)
{
	unsigned char salt[PBKDF2_SALT_LEN];
	unsigned char want[PBKDF2_HASH_LEN];
	unsigned char got[PBKDF2_HASH_LEN];
	long iterations;
	bool ok = false;

	if (!password || !stored)
		return false;
	if (strncmp(stored, PBKDF2_PREFIX, strlen(PBKDF2_PREFIX)) != 0)
		return false;
	if (!password_parse(stored + strlen(PBKDF2_PREFIX), &iterations, salt,
			    want))
		goto out;
	if (!pbkdf2(password, salt, iterations, got))
		goto out;
	ok = CRYPTO_memcmp(want, got, PBKDF2_HASH_LEN) == 0;
out:
	OPENSSL_cleanse(want, sizeof want);
	OPENSSL_cleanse(got, sizeof got);
	return ok;
}

/*
 * HMAC-SHA256 keeps, per thread, one context set up with the key it was
 * last used with: a webhook's signature check under the same signing
 * secret then restarts it (EVP_MAC_init without a key) instead of fetching
 * the algorithm, making a context and hashing the key's pads again. Keys
 * longer than HMAC_CACHED_KEY are set up every time. The context (and the
 * copy of the key it is compared by) is freed, cleansed, when its thread
 * ends.
 */
#define HMAC_CACHED_KEY 128

struct hmac_state {
	EVP_MAC_CTX *ctx;
	bool keyed;                            /* ctx holds key[0..key_len) */
	size_t key_len;
	unsigned char key[HMAC_CACHED_KEY];
};

static EVP_MAC *hmac_mac;                      /* fetched once; shared by every thread */
static pthread_key_t hmac_key;
static bool hmac_key_made;
static once_flag hmac_once = ONCE_FLAG_INIT;

static void hmac_state_free(void *p)
{
	struct hmac_state *st = p;
	if (!st)
		return;
	EVP_MAC_CTX_free(st->ctx);
	OPENSSL_cleanse(st, sizeof *st);
	free(st);
}

static void hmac_init_once(void)
{
	hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	hmac_key_made = pthread_key_create(&hmac_key, hmac_state_free) == 0;
}

/* The thread's HMAC state, made at its first use; NULL when out of memory
 * or OpenSSL has no HMAC. */
static struct hmac_state *hmac_state(void)
{
	call_once(&hmac_once, hmac_init_once);
	if (!hmac_mac || !hmac_key_made)
		return NULL;
	struct hmac_state *st = pthread_getspecific(hmac_key);
	if (st)
		return st;
	if (!(st = calloc(1, sizeof *st)))
		return NULL;
	if (!(st->ctx = EVP_MAC_CTX_new(hmac_mac)) || pthread_setspecific(hmac_key, st) != 0) {
		hmac_state_free(st);
		return NULL;
	}
	return st;
}

sl_err crypto_hmac_sha256_parts(const void *key, size_t key_len, const struct crypto_part *parts,
				size_t n_parts, unsigned char out[CRYPTO_HMAC_LEN])
{
	static const unsigned char empty[1];
	if ((!key && key_len) || (!parts && n_parts) || !out)
		return SL_ERR_INVALID;
	for (size_t i = 0; i < n_parts; i++)
		if (!parts[i].data && parts[i].len)
			return SL_ERR_INVALID;
	if (key_len > INT_MAX)
		return SL_ERR_TOO_LARGE;
	struct hmac_state *st = hmac_state();
	if (!st)
		return SL_ERR_CRYPTO;
	bool same = st->keyed && st->key_len == key_len && (key_len == 0 || CRYPTO_memcmp(st->key, key, key_len) == 0);
	int ok;
	if (same) {
		ok = EVP_MAC_init(st->ctx, NULL, 0, NULL);   /* the same key: start again */
	} else {
		char digest[] = "SHA256";
		OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
				       OSSL_PARAM_construct_end()};
		st->keyed = false;
		ok = EVP_MAC_init(st->ctx, key_len ? key : empty, key_len, params);
		if (ok && key_len <= HMAC_CACHED_KEY) {
			if (key_len)
				memcpy(st->key, key, key_len);
			st->key_len = key_len;
			st->keyed = true;
		}
	}
	for (size_t i = 0; ok && i < n_parts; i++)
		if (parts[i].len)
			ok = EVP_MAC_update(st->ctx, parts[i].data, parts[i].len);
	size_t out_len = 0;
	if (ok)
		ok = EVP_MAC_final(st->ctx, out, &out_len, CRYPTO_HMAC_LEN);
	if (!ok || out_len != CRYPTO_HMAC_LEN) {
		st->keyed = false;   /* set it up from the key next time */
		return SL_ERR_CRYPTO;
	}
	return SL_OK;
}

/* Writes HMAC-SHA256(key, msg) into out; either buffer may be empty.
 * SL_ERR_INVALID for NULL with a length, SL_ERR_CRYPTO if OpenSSL fails. */
sl_err crypto_hmac_sha256(const void *key, size_t key_len, const void *msg,
			  size_t msg_len, unsigned char out[CRYPTO_HMAC_LEN])
{
	const struct crypto_part part = {msg, msg_len};
	return crypto_hmac_sha256_parts(key, key_len, &part, 1, out);
}

/* Compares len bytes in time that depends only on len. */
bool crypto_equal(const void *a, const void *b, size_t len)
{
	if (len == 0)
		return true;
	return CRYPTO_memcmp(a, b, len) == 0;
}

static bool write_all(int fd, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads the key from an existing file; SL_ERR_NOT_FOUND when there is no
 * file, SL_ERR_IO when it cannot be read or is not exactly the key size. */
static sl_err key_read(const char *path, unsigned char key[CRYPTO_KEY_LEN])
{
	struct stat st;
	size_t got = 0;
	sl_err err = SL_ERR_IO;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? SL_ERR_NOT_FOUND : SL_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size != CRYPTO_KEY_LEN)
		goto out;
	while (got < CRYPTO_KEY_LEN) {
		ssize_t n = read(fd, key + got, CRYPTO_KEY_LEN - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	err = SL_OK;
out:
	close(fd);
	return err;
}

/* Syncs the directory holding path, so a new name in it is durable. */
static void dir_sync(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	int fd;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

/* Creates path holding a fresh random key. The key is written to a private
 * temporary file (O_CREAT|O_EXCL, 0600) and linked into place, so nobody
 * ever sees a partial key file and a concurrent creator cannot be
 * overwritten: SL_ERR_EXISTS when path appeared meanwhile. */
static sl_err key_create(const char *path, unsigned char key[CRYPTO_KEY_LEN])
{
	char suffix[2 * 8 + 1];
	char *tmp = NULL;
	size_t size;
	sl_err err;
	int fd = -1;

	err = crypto_random(key, CRYPTO_KEY_LEN);
	if (err)
		goto out;
	err = crypto_token_hex(suffix, 8);
	if (err)
		goto out;
	size = strlen(path) + sizeof ".tmp." + sizeof suffix;
	tmp = malloc(size);
	if (!tmp) {
		err = SL_ERR_NOMEM;
		goto out;
	}
	snprintf(tmp, size, "%s.tmp.%s", path, suffix);
	err = SL_ERR_IO;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (!write_all(fd, key, CRYPTO_KEY_LEN) || fsync(fd) != 0)
		goto out;
	if (link(tmp, path) != 0) {
		if (errno == EEXIST)
			err = SL_ERR_EXISTS;
		goto out;
	}
	dir_sync(path);
	err = SL_OK;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	return err;
}

/* Reads the key file at path; SL_ERR_NOT_FOUND when there is none. */
sl_err crypto_key_read(const char *path, unsigned char key[CRYPTO_KEY_LEN])
{
	sl_err err = path && key ? key_read(path, key) : SL_ERR_INVALID;
	if (err && key)
		OPENSSL_cleanse(key, CRYPTO_KEY_LEN);
	return err;
}

/* Writes key to a new 0600 file beside path, syncs it and renames it over
 * path (replacing an existing key). */
sl_err crypto_key_store(const char *path, const unsigned char key[CRYPTO_KEY_LEN])
{
	char *tmp = NULL;
	sl_err err = SL_ERR_INVALID;
	int fd = -1;

	if (!path || !*path || !key)
		goto out;
	size_t size = strlen(path) + sizeof ".restore";
	err = SL_ERR_NOMEM;
	tmp = malloc(size);
	if (!tmp)
		goto out;
	snprintf(tmp, size, "%s.restore", path);
	err = SL_ERR_IO;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (!write_all(fd, key, CRYPTO_KEY_LEN) || fsync(fd) != 0)
		goto out;
	if (rename(tmp, path) != 0)
		goto out;
	dir_sync(path);
	err = SL_OK;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		if (err)
			unlink(tmp);
		free(tmp);
	}
	return err;
}

/* Reads the key file at path, or creates it (0600, random, written
 * whole before it appears under path) when missing. On failure key is
 * zeroed: SL_ERR_IO for unreadable, wrong size or not a regular file. */
sl_err crypto_key_load(const char *path, unsigned char key[CRYPTO_KEY_LEN])
{
	sl_err err;

	if (!path || !*path || !key)
		return SL_ERR_INVALID;
	err = key_read(path, key);
	if (err == SL_ERR_NOT_FOUND) {
		err = key_create(path, key);
		if (err == SL_ERR_EXISTS)
			err = key_read(path, key);
	}
	if (err == SL_ERR_NOT_FOUND || err == SL_ERR_EXISTS)
		err = SL_ERR_IO;
	if (err)
		OPENSSL_cleanse(key, CRYPTO_KEY_LEN);
	return err;
}

/* Returns "v1:<nonce-hex>:<ciphertext+tag hex>" (AES-256-GCM, random
 * 12-byte nonce, 16-byte tag), malloc'd for the caller; NULL on failure
 * or for a plaintext over 1 MiB. */
char *crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const char *plain)
{
	unsigned char nonce[SEAL_NONCE_LEN];
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *sealed = NULL;
	char *result = NULL;
	size_t plain_len, sealed_len, size;
	int n = 0, final_len = 0;

	if (!key || !plain)
		return NULL;
	plain_len = strlen(plain);
	if (plain_len > SEAL_MAX_PLAIN)
		return NULL;
	sealed_len = plain_len + SEAL_TAG_LEN;
	sealed = malloc(sealed_len);
	if (!sealed)
		goto out;
	if (crypto_random(nonce, sizeof nonce) != SL_OK)
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		goto out;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN,
				NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto out;
	if (plain_len &&
	    EVP_EncryptUpdate(ctx, sealed, &n, (const unsigned char *)plain,
			      (int)plain_len) != 1)
		goto out;
	if (EVP_EncryptFinal_ex(ctx, sealed + n, &final_len) != 1 ||
	    (size_t)n + (size_t)final_len != plain_len)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
				sealed + plain_len) != 1)
		goto out;
	size = strlen(SEAL_PREFIX) + 2 * SEAL_NONCE_LEN + 1 + 2 * sealed_len + 1;
	result = malloc(size);
	if (!result)
		goto out;
	memcpy(result, SEAL_PREFIX, strlen(SEAL_PREFIX));
	crypto_hex(nonce, SEAL_NONCE_LEN, result + strlen(SEAL_PREFIX));
	result[strlen(SEAL_PREFIX) + 2 * SEAL_NONCE_LEN] = ':';
	crypto_hex(sealed, sealed_len,
		   result + strlen(SEAL_PREFIX) + 2 * SEAL_NONCE_LEN + 1);
out:
	EVP_CIPHER_CTX_free(ctx);
	if (sealed)
		OPENSSL_cleanse(sealed, sealed_len);
	free(sealed);
	return result;
}

/* Returns the malloc'd plaintext of a crypto_seal() string, or NULL when
 * malformed, sealed under another key, or tampered with. */
char *crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const char *sealed)
{
	unsigned char nonce[SEAL_NONCE_LEN];
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *box = NULL;
	char *plain = NULL;
	const char *p;
	size_t hex_len, box_len, plain_len;
	int n = 0, final_len = 0;
	bool ok = false;

	if (!key || !sealed)
		return NULL;
	if (strncmp(sealed, SEAL_PREFIX, strlen(SEAL_PREFIX)) != 0)
		return NULL;
	p = sealed + strlen(SEAL_PREFIX);
	if (hex_span(p) != 2 * SEAL_NONCE_LEN || p[2 * SEAL_NONCE_LEN] != ':')
		return NULL;
	if (!hex_decode(p, SEAL_NONCE_LEN, nonce))
		return NULL;
	p += 2 * SEAL_NONCE_LEN + 1;
	hex_len = hex_span(p);
	if (p[hex_len] != '\0' || hex_len % 2 != 0 ||
	    hex_len < 2 * SEAL_TAG_LEN ||
	    hex_len > 2 * ((size_t)SEAL_MAX_PLAIN + SEAL_TAG_LEN))
		return NULL;
	box_len = hex_len / 2;
	plain_len = box_len - SEAL_TAG_LEN;
	box = malloc(box_len);
	plain = malloc(plain_len + 1);
	if (!box || !plain)
		goto out;
	if (!hex_decode(p, box_len, box))
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		goto out;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN,
				NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto out;
	if (plain_len &&
	    EVP_DecryptUpdate(ctx, (unsigned char *)plain, &n, box,
			      (int)plain_len) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN,
				box + plain_len) != 1)
		goto out;
	if (EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + n,
				&final_len) != 1 ||
	    (size_t)n + (size_t)final_len != plain_len)
		goto out;
	plain[plain_len] = '\0';
	/* Only crypto_seal() output authenticates, and it never holds a NUL. */
	ok = memchr(plain, '\0', plain_len) == NULL;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (box)
		OPENSSL_cleanse(box, box_len);
	free(box);
	if (!ok && plain) {
		OPENSSL_cleanse(plain, plain_len + 1);
		free(plain);
		plain = NULL;
	}
	return plain;
}
