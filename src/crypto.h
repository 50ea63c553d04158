/*
 * crypto.h - the only door to OpenSSL's libcrypto.
 *
 * Random bytes and tokens, password hashing (PBKDF2-HMAC-SHA256 with a
 * per-user salt), HMAC-SHA256, constant-time comparison, and AES-256-GCM
 * sealing of secrets under a key kept in a 0600 file outside the database.
 */
#ifndef STRIPELINK_CRYPTO_H
#define STRIPELINK_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include "err.h"

#define CRYPTO_KEY_LEN 32        /* AES-256 key bytes */
#define CRYPTO_HMAC_LEN 32       /* SHA-256 output bytes */

/* Fills buf with len cryptographically strong random bytes. */
sl_err crypto_random(void *buf, size_t len);

/* Writes a random token of `bytes` random bytes as lower-case hex into out
 * (which must hold 2*bytes+1 chars), NUL-terminated. */
sl_err crypto_token_hex(char *out, size_t bytes);

/* Hashes a password into a self-describing string
 * "pbkdf2-sha256$<iterations>$<salt-hex>$<hash-hex>".
 * Returns a malloc'd string the caller frees, or NULL on failure. */
char *crypto_password_hash(const char *password);

/* True when password matches a string made by crypto_password_hash();
 * false on mismatch or malformed stored hash. Constant time in the hash. */
bool crypto_password_verify(const char *password, const char *stored);

/* The PBKDF2 iterations for new hashes given the STRIPELINK_PBKDF2_ITERATIONS
 * value (NULL: unset): never below the default of 600,000 unless
 * insecure_test_hashing (STRIPELINK_INSECURE_TEST_HASHING=1, tests only). */
long crypto_pbkdf2_iterations_for(const char *setting, bool insecure_test_hashing);

/* HMAC-SHA256 of msg under key into out[CRYPTO_HMAC_LEN]. */
sl_err crypto_hmac_sha256(const void *key, size_t key_len, const void *msg,
			  size_t msg_len, unsigned char out[CRYPTO_HMAC_LEN]);

/* A piece of a message given in pieces; data may be NULL when len is 0. */
struct crypto_part {
	const void *data;
	size_t len;
};

/* HMAC-SHA256 under key of the concatenation of n_parts parts, into
 * out[CRYPTO_HMAC_LEN] (no copy of the whole message is made). The
 * thread keeps the key's context for its next call (freed when it ends).
 * SL_ERR_INVALID for NULL with a length, SL_ERR_CRYPTO if OpenSSL fails. */
sl_err crypto_hmac_sha256_parts(const void *key, size_t key_len, const struct crypto_part *parts,
				size_t n_parts, unsigned char out[CRYPTO_HMAC_LEN]);

/* Constant-time equality of two equal-length buffers. */
bool crypto_equal(const void *a, const void *b, size_t len);

/* Encodes len bytes as lower-case hex into out (2*len+1 chars). */
void crypto_hex(const unsigned char *in, size_t len, char *out);

/* Loads the 32-byte secret-sealing key from path, creating it (0600,
 * random) when missing. Fails with SL_ERR_IO when unreadable or when an
 * existing file is not exactly CRYPTO_KEY_LEN bytes. */
sl_err crypto_key_load(const char *path, unsigned char key[CRYPTO_KEY_LEN]);

/* Reads the key file at path without creating it: SL_ERR_NOT_FOUND when
 * missing, SL_ERR_IO when unreadable or not CRYPTO_KEY_LEN bytes. */
sl_err crypto_key_read(const char *path, unsigned char key[CRYPTO_KEY_LEN]);

/* Replaces the key file at path with key (0600, synced, atomic rename). */
sl_err crypto_key_store(const char *path, const unsigned char key[CRYPTO_KEY_LEN]);

/* Seals a NUL-terminated secret with AES-256-GCM under key. Returns a
 * malloc'd printable string "v1:<nonce-hex>:<ciphertext+tag hex>" the
 * caller frees, or NULL on failure. */
char *crypto_seal(const unsigned char key[CRYPTO_KEY_LEN], const char *plain);

/* Opens a string made by crypto_seal(). Returns the malloc'd plaintext the
 * caller frees, or NULL when malformed or it does not authenticate. */
char *crypto_open(const unsigned char key[CRYPTO_KEY_LEN], const char *sealed);

#endif
