/*
 * test_crypto.c - unit tests for src/crypto.c.
 *
 * Known answers are tables: RFC 4231 HMAC-SHA256 vectors, a PBKDF2 hash
 * computed elsewhere (Python's hashlib), and lists of malformed stored
 * hashes and sealed strings that must be refused. Sets
 * STRIPELINK_PBKDF2_ITERATIONS=1000 before the first hash so it runs fast.
 */
#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"

#define TEST_ITERATIONS "1000"

/* Decodes hex (either case) into a malloc'd buffer; *len gets its size. */
static unsigned char *unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	unsigned char *out;

	assert_true(n % 2 == 0);
	out = malloc(n / 2 + 1);
	assert_non_null(out);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int byte;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
		out[i] = (unsigned char)byte;
	}
	*len = n / 2;
	return out;
}

/* Returns a malloc'd string of count copies of the byte in hex form. */
static char *hex_repeat(const char *byte_hex, size_t count)
{
	char *s = malloc(2 * count + 1);

	assert_non_null(s);
	for (size_t i = 0; i < count; i++)
		memcpy(s + 2 * i, byte_hex, 2);
	s[2 * count] = '\0';
	return s;
}

/* ---- HMAC-SHA256: RFC 4231 section 4 ---- */

static const struct {
	const char *name;
	const char *key_hex;     /* NULL: key_byte repeated key_repeat times */
	const char *key_byte;
	size_t key_repeat;
	const char *data;        /* text, or NULL for data_byte * data_repeat */
	const char *data_byte;
	size_t data_repeat;
	const char *mac;         /* expected hex; may be truncated (case 5) */
} rfc4231[] = {
	{ "4.2 case 1", NULL, "0b", 20, "Hi There", NULL, 0,
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
	{ "4.3 case 2", "4a656665", NULL, 0, "what do ya want for nothing?",
	  NULL, 0,
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	{ "4.4 case 3", NULL, "aa", 20, NULL, "dd", 50,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
	{ "4.5 case 4", "0102030405060708090a0b0c0d0e0f10111213141516171819",
	  NULL, 0, NULL, "cd", 50,
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
	{ "4.6 case 5 (truncated to 128 bits)", NULL, "0c", 20,
	  "Test With Truncation", NULL, 0,
	  "a3b6167473100ee06e0c796c2955552b" },
	{ "4.7 case 6", NULL, "aa", 131,
	  "Test Using Larger Than Block-Size Key - Hash Key First", NULL, 0,
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
	{ "4.8 case 7", NULL, "aa", 131,
	  "This is a test using a larger than block-size key and a larger "
	  "than block-size data. The key needs to be hashed before being "
	  "used by the HMAC algorithm.", NULL, 0,
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
};

static void test_hmac_rfc4231(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rfc4231 / sizeof rfc4231[0]; i++) {
		unsigned char mac[CRYPTO_HMAC_LEN];
		char hex[2 * CRYPTO_HMAC_LEN + 1];
		char *key_hex = rfc4231[i].key_hex
			? strdup(rfc4231[i].key_hex)
			: hex_repeat(rfc4231[i].key_byte, rfc4231[i].key_repeat);
		char *data_hex = rfc4231[i].data
			? NULL
			: hex_repeat(rfc4231[i].data_byte, rfc4231[i].data_repeat);
		size_t key_len, data_len;
		unsigned char *key = unhex(key_hex, &key_len);
		unsigned char *data = data_hex ? unhex(data_hex, &data_len) : NULL;

		if (!data_hex)
			data_len = strlen(rfc4231[i].data);
		assert_int_equal(crypto_hmac_sha256(key, key_len,
						    data ? (void *)data
							 : rfc4231[i].data,
						    data_len, mac), SL_OK);
		crypto_hex(mac, sizeof mac, hex);
		if (strncmp(hex, rfc4231[i].mac, strlen(rfc4231[i].mac)) != 0)
			fail_msg("RFC 4231 %s: got %s", rfc4231[i].name, hex);
		free(key_hex);
		free(data_hex);
		free(key);
		free(data);
	}
}

static void test_hmac_edges(void **state)
{
	unsigned char mac[CRYPTO_HMAC_LEN];
	char hex[2 * CRYPTO_HMAC_LEN + 1];

	(void)state;
	/* HMAC-SHA256 with an empty key over an empty message. */
	assert_int_equal(crypto_hmac_sha256("", 0, "", 0, mac), SL_OK);
	crypto_hex(mac, sizeof mac, hex);
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5"
				 "ff1697c493715653c6c712144292c5ad");
	assert_int_equal(crypto_hmac_sha256(NULL, 0, NULL, 0, mac), SL_OK);
	crypto_hex(mac, sizeof mac, hex);
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5"
				 "ff1697c493715653c6c712144292c5ad");
	/* Binary message with NUL bytes: the length counts, not strlen. */
	assert_int_equal(crypto_hmac_sha256("k", 1, "a\0b", 3, mac), SL_OK);
	{
		unsigned char other[CRYPTO_HMAC_LEN];

		assert_int_equal(crypto_hmac_sha256("k", 1, "a", 1, other), SL_OK);
		assert_false(crypto_equal(mac, other, sizeof mac));
	}
	assert_int_equal(crypto_hmac_sha256(NULL, 3, "x", 1, mac), SL_ERR_INVALID);
	assert_int_equal(crypto_hmac_sha256("k", 1, NULL, 3, mac), SL_ERR_INVALID);
}

/* The thread keeps the last key's context: every order of keys, repeats,
 * keys that share a prefix, keys past the cached length, empty keys and
 * messages in pieces give what a fresh HMAC of the whole message gives. */
static void hmac_hex_of(const void *key, size_t key_len, const char *msg, char hex[65])
{
	unsigned char mac[CRYPTO_HMAC_LEN];
	assert_int_equal(crypto_hmac_sha256(key, key_len, msg, strlen(msg), mac), SL_OK);
	crypto_hex(mac, sizeof mac, hex);
}

static void test_hmac_key_reuse_and_parts(void **state)
{
	(void)state;
	/* RFC 4231 case 2 and case 1 (key 0x0b x 20), alternately and again */
	static const char case2[] = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	static const char case1[] = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
	unsigned char k1[20];
	memset(k1, 0x0b, sizeof k1);
	char hex[65];
	for (int round = 0; round < 3; round++) {
		hmac_hex_of("Jefe", 4, "what do ya want for nothing?", hex);
		assert_string_equal(hex, case2);
		hmac_hex_of("Jefe", 4, "what do ya want for nothing?", hex);
		assert_string_equal(hex, case2);
		hmac_hex_of(k1, sizeof k1, "Hi There", hex);
		assert_string_equal(hex, case1);
	}
	/* a key that starts like the cached one is another key */
	char a[65], b[65], c[65], d[65];
	hmac_hex_of("whsec_abc", 9, "m", a);
	hmac_hex_of("whsec_ab", 8, "m", b);
	hmac_hex_of("whsec_abcd", 10, "m", c);
	hmac_hex_of("whsec_abc", 9, "m", d);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_equal(a, d);
	/* keys longer than the cached length (and the block), twice */
	unsigned char long_key[300];
	memset(long_key, 0xaa, 131);
	hmac_hex_of(long_key, 131, "Test Using Larger Than Block-Size Key - Hash Key First", hex);
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	hmac_hex_of(long_key, 131, "Test Using Larger Than Block-Size Key - Hash Key First", hex);
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	memset(long_key, 0x11, sizeof long_key);
	hmac_hex_of(long_key, 300, "m", a);
	long_key[299] = 0x12;   /* differs only past the cached length */
	hmac_hex_of(long_key, 300, "m", b);
	assert_string_not_equal(a, b);
	/* the empty key after a cached one */
	hmac_hex_of("", 0, "", hex);
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
	/* pieces: the same as the whole, empty pieces included */
	const char *whole = "1700000000.{\"id\": \"evt_1\"}";
	hmac_hex_of("whsec_k", 7, whole, a);
	const struct crypto_part parts[] = {{"1700000000", 10}, {NULL, 0}, {".", 1}, {whole + 11, strlen(whole) - 11}};
	unsigned char mac[CRYPTO_HMAC_LEN];
	assert_int_equal(crypto_hmac_sha256_parts("whsec_k", 7, parts, 4, mac), SL_OK);
	crypto_hex(mac, sizeof mac, b);
	assert_string_equal(a, b);
	const struct crypto_part bad[] = {{NULL, 3}};
	assert_int_equal(crypto_hmac_sha256_parts("k", 1, bad, 1, mac), SL_ERR_INVALID);
	assert_int_equal(crypto_hmac_sha256_parts("k", 1, NULL, 1, mac), SL_ERR_INVALID);
	assert_int_equal(crypto_hmac_sha256_parts("k", 1, NULL, 0, mac), SL_OK);
	crypto_hex(mac, sizeof mac, a);
	hmac_hex_of("k", 1, "", b);
	assert_string_equal(a, b);
}

/* Threads each keep their own context: concurrent HMACs under different
 * keys give the right answers. */
static void *hmac_thread(void *p)
{
	const char *key = p;
	char want[65], got[65];
	hmac_hex_of(key, strlen(key), "payload", want);
	for (int i = 0; i < 2000; i++) {
		hmac_hex_of(key, strlen(key), "payload", got);
		if (strcmp(want, got) != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_hmac_threads(void **state)
{
	(void)state;
	static const char *const keys[] = {"whsec_one", "whsec_two", "whsec_three", "whsec_one"};
	pthread_t t[4];
	char expect[4][65];
	for (int i = 0; i < 4; i++)
		hmac_hex_of(keys[i], strlen(keys[i]), "payload", expect[i]);
	assert_string_not_equal(expect[0], expect[1]);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hmac_thread, (void *)keys[i]), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		assert_null(r);
	}
}

/* ---- constant-time equality, hex, randomness ---- */

static void test_equal(void **state)
{
	const unsigned char a[] = { 1, 2, 3, 4, 5 };
	const unsigned char b[] = { 1, 2, 3, 4, 5 };
	const unsigned char first[] = { 0, 2, 3, 4, 5 };
	const unsigned char last[] = { 1, 2, 3, 4, 6 };

	(void)state;
	assert_true(crypto_equal(a, b, sizeof a));
	assert_false(crypto_equal(a, first, sizeof a));
	assert_false(crypto_equal(a, last, sizeof a));
	assert_true(crypto_equal(a, last, sizeof a - 1));
	assert_true(crypto_equal(a, first, 0));
}

static void test_hex(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *hex;
	} cases[] = {
		{ "", 0, "" },
		{ "\x00", 1, "00" },
		{ "\x01\xab\xff\x10", 4, "01abff10" },
		{ "\x7f\x80\x0a\xa0", 4, "7f800aa0" },
	};
	char out[16];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memset(out, 'X', sizeof out);
		crypto_hex((const unsigned char *)cases[i].bytes, cases[i].len,
			   out);
		assert_string_equal(out, cases[i].hex);
	}
}

/* True when the first len chars of s are lower-case hex digits. */
static bool is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

static void test_random_and_tokens(void **state)
{
	static const size_t sizes[] = { 0, 1, 16, 32, 64, 65, 200 };
	unsigned char r1[64], r2[64];
	char t1[2 * 200 + 1], t2[2 * 200 + 1];

	(void)state;
	assert_int_equal(crypto_random(r1, sizeof r1), SL_OK);
	assert_int_equal(crypto_random(r2, sizeof r2), SL_OK);
	assert_false(crypto_equal(r1, r2, sizeof r1));
	assert_int_equal(crypto_random(NULL, 0), SL_OK);
	assert_int_equal(crypto_random(NULL, 1), SL_ERR_INVALID);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		assert_int_equal(crypto_token_hex(t1, sizes[i]), SL_OK);
		assert_int_equal(crypto_token_hex(t2, sizes[i]), SL_OK);
		assert_int_equal(strlen(t1), 2 * sizes[i]);
		assert_true(is_lower_hex(t1, strlen(t1)));
		if (sizes[i] >= 16)
			assert_string_not_equal(t1, t2);
	}
}

/* ---- password hashes ---- */

static void test_password_round_trip(void **state)
{
	static const char *const passwords[] = {
		"correct horse battery staple", "x", "pässwörd ✓",
		("a very long password that is longer than the sha-256 block size"
		 " of sixty-four bytes, to exercise key hashing inside hmac"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof passwords / sizeof passwords[0]; i++) {
		char *h1 = crypto_password_hash(passwords[i]);
		char *h2 = crypto_password_hash(passwords[i]);
		char *wrong = malloc(strlen(passwords[i]) + 2);

		assert_non_null(h1);
		assert_non_null(h2);
		assert_non_null(wrong);
		assert_true(strncmp(h1, "pbkdf2-sha256$" TEST_ITERATIONS "$",
				    strlen("pbkdf2-sha256$" TEST_ITERATIONS "$")) == 0);
		assert_int_equal(strlen(h1), strlen("pbkdf2-sha256$" TEST_ITERATIONS
						    "$") + 32 + 1 + 64);
		assert_string_not_equal(h1, h2); /* fresh salt each time */
		assert_true(crypto_password_verify(passwords[i], h1));
		assert_true(crypto_password_verify(passwords[i], h2));
		sprintf(wrong, "%sx", passwords[i]);
		assert_false(crypto_password_verify(wrong, h1));
		wrong[strlen(passwords[i]) - 1] = '\0';
		assert_false(crypto_password_verify(wrong, h1));
		assert_false(crypto_password_verify("", h1));
		free(wrong);
		free(h1);
		free(h2);
	}
}

static void test_password_empty(void **state)
{
	char *h = crypto_password_hash("");

	(void)state;
	assert_non_null(h);
	assert_true(crypto_password_verify("", h));
	assert_false(crypto_password_verify(" ", h));
	assert_false(crypto_password_verify(NULL, h));
	assert_null(crypto_password_hash(NULL));
	free(h);
}

/* Hashes made elsewhere (Python: hashlib.pbkdf2_hmac('sha256', password,
 * bytes.fromhex(salt), iterations)) must verify: the format is portable and
 * the iteration count is taken from the stored string. */
static void test_password_known_answers(void **state)
{
	static const struct {
		const char *password;
		const char *stored;
	} known[] = {
		{ "correct horse battery staple",
		  "pbkdf2-sha256$2000$000102030405060708090a0b0c0d0e0f$"
		  "747aefd163ba4d3a6596ebc653329c342a4c9e7c1df2394d30ae4d05df8e000e" },
		{ "",
		  "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$"
		  "c5b301b1fd61bced63f00642a2304ec674519fbd7cd83c4bc83dafe1743f9855" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
		assert_true(crypto_password_verify(known[i].password,
						   known[i].stored));
		assert_false(crypto_password_verify("nope", known[i].stored));
	}
}

#define SALT "000102030405060708090a0b0c0d0e0f"
#define HASH "747aefd163ba4d3a6596ebc653329c342a4c9e7c1df2394d30ae4d05df8e000e"
#define PW "correct horse battery staple"

static void test_password_malformed(void **state)
{
	/* The first row is the well-formed control; every other row breaks
	 * exactly one thing and must be refused for the right password. */
	static const struct {
		const char *stored;
		bool ok;
	} rows[] = {
		{ "pbkdf2-sha256$2000$" SALT "$" HASH, true },
		{ "", false },
		{ "pbkdf2-sha256$", false },
		{ "pbkdf2-sha256$2000$" SALT "$", false },
		{ "pbkdf2-sha256$2000$" SALT, false },
		{ "pbkdf2-sha1$2000$" SALT "$" HASH, false },
		{ "PBKDF2-SHA256$2000$" SALT "$" HASH, false },
		{ "pbkdf2-sha256$$" SALT "$" HASH, false },
		{ "pbkdf2-sha256$0$" SALT "$" HASH, false },
		{ "pbkdf2-sha256$999$" SALT "$" HASH, false },          /* below floor */
		{ "pbkdf2-sha256$02000$" SALT "$" HASH, false },        /* leading zero */
		{ "pbkdf2-sha256$-2000$" SALT "$" HASH, false },
		{ "pbkdf2-sha256$2000x$" SALT "$" HASH, false },
		{ "pbkdf2-sha256$99999999999$" SALT "$" HASH, false },  /* too many */
		{ "pbkdf2-sha256$2000$" SALT "00$" HASH, false },      /* salt long */
		{ "pbkdf2-sha256$2000$" "0102030405060708090a0b0c0d0e0f$" HASH, false },
		{ "pbkdf2-sha256$2000$" "000102030405060708090A0B0C0D0E0F$" HASH, false },
		{ "pbkdf2-sha256$2000$" "00010203040506070809zz0b0c0d0e0f$" HASH, false },
		{ "pbkdf2-sha256$2000$" SALT "$" HASH "00", false },    /* hash long */
		{ "pbkdf2-sha256$2000$" SALT "$"
		  "47aefd163ba4d3a6596ebc653329c342a4c9e7c1df2394d30ae4d05df8e000e", false },
		{ "pbkdf2-sha256$2000$" SALT "$"
		  "747AEFD163BA4D3A6596EBC653329C342A4C9E7C1DF2394D30AE4D05DF8E000E", false },
		{ "pbkdf2-sha256$2000$" SALT "$" HASH "$", false },
		{ "pbkdf2-sha256$2000$" SALT "$" HASH " ", false },
		{ " pbkdf2-sha256$2000$" SALT "$" HASH, false },
		{ "pbkdf2-sha256$2000$" SALT "$"
		  "847aefd163ba4d3a6596ebc653329c342a4c9e7c1df2394d30ae4d05df8e000e", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		if (crypto_password_verify(PW, rows[i].stored) != rows[i].ok)
			fail_msg("row %zu \"%s\": expected %s", i,
				 rows[i].stored, rows[i].ok ? "accepted" : "refused");
	}
	assert_false(crypto_password_verify(PW, NULL));
}

/* ---- sealing ---- */

static void test_seal_round_trip(void **state)
{
	unsigned char key[CRYPTO_KEY_LEN];
	char *long_secret = malloc(5001);
	const char *secrets[] = {
		"sk_test_51Habcdefghijklmnop", "", "whsec_x", "ünïcødé ✓", NULL,
	};

	(void)state;
	assert_non_null(long_secret);
	memset(long_secret, 'k', 5000);
	long_secret[5000] = '\0';
	secrets[4] = long_secret;
	assert_int_equal(crypto_random(key, sizeof key), SL_OK);
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
		char *s1 = crypto_seal(key, secrets[i]);
		char *s2 = crypto_seal(key, secrets[i]);
		char *p;

		assert_non_null(s1);
		assert_non_null(s2);
		assert_true(strncmp(s1, "v1:", 3) == 0);
		assert_int_equal(s1[3 + 24], ':');
		assert_int_equal(strlen(s1),
				 3 + 24 + 1 + 2 * (strlen(secrets[i]) + 16));
		assert_true(is_lower_hex(s1 + 3, 24));
		assert_true(is_lower_hex(s1 + 28, strlen(s1 + 28)));
		assert_string_not_equal(s1, s2); /* fresh nonce each time */
		p = crypto_open(key, s1);
		assert_non_null(p);
		assert_string_equal(p, secrets[i]);
		free(p);
		p = crypto_open(key, s2);
		assert_non_null(p);
		assert_string_equal(p, secrets[i]);
		free(p);
		free(s1);
		free(s2);
	}
	assert_null(crypto_seal(key, NULL));
	free(long_secret);
}

static char other_hex_digit(char c)
{
	return c == '0' ? '1' : '0';
}

static void test_seal_tampered(void **state)
{
	unsigned char key[CRYPTO_KEY_LEN];
	char *sealed;

	(void)state;
	assert_int_equal(crypto_random(key, sizeof key), SL_OK);
	sealed = crypto_seal(key, "sk_live_tamper_me");
	assert_non_null(sealed);
	/* Every hex digit of nonce, ciphertext and tag matters. */
	for (size_t i = 3; sealed[i]; i++) {
		char saved = sealed[i];
		char *p;

		if (saved == ':')
			continue;
		sealed[i] = other_hex_digit(saved);
		p = crypto_open(key, sealed);
		if (p)
			fail_msg("changed hex digit %zu still opened", i);
		sealed[i] = saved;
	}
	{
		char *p = crypto_open(key, sealed);

		assert_string_equal(p, "sk_live_tamper_me");
		free(p);
	}
	free(sealed);
}

static void test_seal_wrong_key(void **state)
{
	unsigned char key[CRYPTO_KEY_LEN], other[CRYPTO_KEY_LEN];
	char *sealed;

	(void)state;
	assert_int_equal(crypto_random(key, sizeof key), SL_OK);
	memcpy(other, key, sizeof key);
	other[CRYPTO_KEY_LEN - 1] ^= 0x01;
	sealed = crypto_seal(key, "rk_test_restricted");
	assert_non_null(sealed);
	assert_null(crypto_open(other, sealed));
	memset(other, 0, sizeof other);
	assert_null(crypto_open(other, sealed));
	free(sealed);
}

/* Builds sealed-string variants around a real nonce and box, so each row
 * of the table breaks one thing about an otherwise valid string. */
static void test_open_malformed(void **state)
{
	enum part { KEEP, DROP_LAST, ADD_00, UPPER, BAD_CHAR, EMPTY, TAG_ONLY_SHORT };
	static const struct {
		const char *prefix;
		enum part nonce;
		const char *sep;
		enum part box;
		const char *suffix;
		bool ok;
	} rows[] = {
		{ "v1:", KEEP, ":", KEEP, "", true },      /* control */
		{ "v2:", KEEP, ":", KEEP, "", false },
		{ "V1:", KEEP, ":", KEEP, "", false },
		{ "v1", KEEP, ":", KEEP, "", false },
		{ "", KEEP, ":", KEEP, "", false },
		{ "v1:", KEEP, "", KEEP, "", false },
		{ "v1:", KEEP, "::", KEEP, "", false },
		{ "v1:", KEEP, ";", KEEP, "", false },
		{ "v1:", DROP_LAST, ":", KEEP, "", false },
		{ "v1:", ADD_00, ":", KEEP, "", false },
		{ "v1:", UPPER, ":", KEEP, "", false },
		{ "v1:", BAD_CHAR, ":", KEEP, "", false },
		{ "v1:", EMPTY, ":", KEEP, "", false },
		{ "v1:", KEEP, ":", DROP_LAST, "", false },  /* odd length */
		{ "v1:", KEEP, ":", ADD_00, "", false },
		{ "v1:", KEEP, ":", UPPER, "", false },
		{ "v1:", KEEP, ":", BAD_CHAR, "", false },
		{ "v1:", KEEP, ":", EMPTY, "", false },
		{ "v1:", KEEP, ":", TAG_ONLY_SHORT, "", false },
		{ "v1:", KEEP, ":", KEEP, " ", false },
		{ "v1:", KEEP, ":", KEEP, "\n", false },
		{ "v1:", KEEP, ":", KEEP, ":", false },
	};
	unsigned char key[CRYPTO_KEY_LEN];
	char *sealed;
	char nonce[25];
	const char *box;

	(void)state;
	assert_int_equal(crypto_random(key, sizeof key), SL_OK);
	sealed = crypto_seal(key, "sk_test_malformed");
	assert_non_null(sealed);
	memcpy(nonce, sealed + 3, 24);
	nonce[24] = '\0';
	box = sealed + 28;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const char *src[2] = { nonce, box };
		enum part how[2] = { rows[i].nonce, rows[i].box };
		char *part[2];
		char *s;
		char *p;
		size_t size;

		for (int j = 0; j < 2; j++) {
			size_t n = strlen(src[j]);

			part[j] = malloc(n + 3);
			assert_non_null(part[j]);
			strcpy(part[j], src[j]);
			switch (how[j]) {
			case KEEP:
				break;
			case DROP_LAST:
				part[j][n - 1] = '\0';
				break;
			case ADD_00:
				strcat(part[j], "00");
				break;
			case UPPER:
				for (size_t k = 0; k < n; k++)
					part[j][k] = (char)toupper((unsigned char)part[j][k]);
				break;
			case BAD_CHAR:
				part[j][n / 2] = 'g';
				break;
			case EMPTY:
				part[j][0] = '\0';
				break;
			case TAG_ONLY_SHORT:
				part[j][30] = '\0';
				break;
			}
		}
		size = strlen(rows[i].prefix) + strlen(part[0]) +
		       strlen(rows[i].sep) + strlen(part[1]) +
		       strlen(rows[i].suffix) + 1;
		s = malloc(size);
		assert_non_null(s);
		snprintf(s, size, "%s%s%s%s%s", rows[i].prefix, part[0],
			 rows[i].sep, part[1], rows[i].suffix);
		p = crypto_open(key, s);
		if (rows[i].ok ? !p || strcmp(p, "sk_test_malformed") != 0 : p != NULL)
			fail_msg("row %zu \"%s\": expected %s", i, s,
				 rows[i].ok ? "to open" : "refused");
		free(p);
		free(s);
		free(part[0]);
		free(part[1]);
	}
	assert_null(crypto_open(key, NULL));
	assert_null(crypto_open(key, ""));
	assert_null(crypto_open(key, "v1:"));
	free(sealed);
}

/* ---- the key file ---- */

struct key_dir {
	char path[64];
};

static int key_dir_setup(void **state)
{
	struct key_dir *d = calloc(1, sizeof *d);

	if (!d)
		return -1;
	snprintf(d->path, sizeof d->path, "/tmp/stripelink-crypto-XXXXXX");
	if (!mkdtemp(d->path)) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static int key_dir_teardown(void **state)
{
	struct key_dir *d = *state;
	DIR *dir = opendir(d->path);
	struct dirent *e;
	char path[512];

	while (dir && (e = readdir(dir))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", d->path, e->d_name);
		if (unlink(path) != 0)
			rmdir(path);
	}
	if (dir)
		closedir(dir);
	rmdir(d->path);
	free(d);
	return 0;
}

static size_t dir_entries(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static bool all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_key_file_created_and_reloaded(void **state)
{
	struct key_dir *d = *state;
	unsigned char k1[CRYPTO_KEY_LEN], k2[CRYPTO_KEY_LEN];
	char path[128];
	struct stat st;
	char *sealed, *plain;
	mode_t old = umask(022);

	snprintf(path, sizeof path, "%s/secret.key", d->path);
	assert_int_equal(crypto_key_load(path, k1), SL_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, CRYPTO_KEY_LEN);
	assert_int_equal(dir_entries(d->path), 1); /* no temporary left behind */
	assert_false(all_zero(k1, sizeof k1));

	assert_int_equal(crypto_key_load(path, k2), SL_OK);
	assert_memory_equal(k1, k2, CRYPTO_KEY_LEN);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	/* What was sealed under the first load opens under the reload. */
	sealed = crypto_seal(k1, "whsec_persisted");
	assert_non_null(sealed);
	plain = crypto_open(k2, sealed);
	assert_non_null(plain);
	assert_string_equal(plain, "whsec_persisted");
	free(plain);
	free(sealed);
	umask(old);
}

static void test_key_file_rejected(void **state)
{
	static const size_t bad_sizes[] = { 0, 1, CRYPTO_KEY_LEN - 1,
					    CRYPTO_KEY_LEN + 1, 64 };
	struct key_dir *d = *state;
	unsigned char bytes[64];
	unsigned char key[CRYPTO_KEY_LEN];
	char path[128];

	memset(bytes, 0x5a, sizeof bytes);
	snprintf(path, sizeof path, "%s/short.key", d->path);
	for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
		write_file(path, bytes, bad_sizes[i]);
		memset(key, 0xff, sizeof key);
		assert_int_equal(crypto_key_load(path, key), SL_ERR_IO);
		assert_true(all_zero(key, sizeof key));
		/* The bad file is left alone, never replaced by a new key. */
		{
			struct stat st;

			assert_int_equal(stat(path, &st), 0);
			assert_int_equal(st.st_size, (off_t)bad_sizes[i]);
		}
	}

	write_file(path, bytes, CRYPTO_KEY_LEN);
	assert_int_equal(crypto_key_load(path, key), SL_OK);
	assert_memory_equal(key, bytes, CRYPTO_KEY_LEN);

	/* A directory, or a path whose directory does not exist. */
	assert_int_equal(crypto_key_load(d->path, key), SL_ERR_IO);
	snprintf(path, sizeof path, "%s/missing/dir.key", d->path);
	assert_int_equal(crypto_key_load(path, key), SL_ERR_IO);
	assert_int_equal(crypto_key_load("", key), SL_ERR_INVALID);
	assert_int_equal(crypto_key_load(NULL, key), SL_ERR_INVALID);
}

/* The iterations setting may only raise the default, except with the
 * explicit insecure test switch. */
static void test_pbkdf2_iterations_setting(void **state)
{
	(void)state;
	static const struct {
		const char *setting;
		bool insecure;
		long want;
	} cases[] = {
		{NULL, false, 600000},
		{"", false, 600000},
		{"1000", false, 600000},        /* lowering is refused */
		{"599999", false, 600000},
		{"600000", false, 600000},
		{"800000", false, 800000},      /* raising is fine */
		{"abc", false, 600000},
		{"-5", true, 600000},
		{"1000", true, 1000},           /* the test switch allows it */
		{"10", true, 1000},             /* never below the floor */
		{"999999999", false, 10000000}, /* capped */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_int_equal(crypto_pbkdf2_iterations_for(cases[i].setting, cases[i].insecure),
				 cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_hmac_edges),
		cmocka_unit_test(test_hmac_key_reuse_and_parts),
		cmocka_unit_test(test_hmac_threads),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_random_and_tokens),
		cmocka_unit_test(test_password_round_trip),
		cmocka_unit_test(test_password_empty),
		cmocka_unit_test(test_password_known_answers),
		cmocka_unit_test(test_password_malformed),
		cmocka_unit_test(test_pbkdf2_iterations_setting),
		cmocka_unit_test(test_seal_round_trip),
		cmocka_unit_test(test_seal_tampered),
		cmocka_unit_test(test_seal_wrong_key),
		cmocka_unit_test(test_open_malformed),
		cmocka_unit_test_setup_teardown(test_key_file_created_and_reloaded,
						key_dir_setup, key_dir_teardown),
		cmocka_unit_test_setup_teardown(test_key_file_rejected,
						key_dir_setup, key_dir_teardown),
	};

	setenv("STRIPELINK_PBKDF2_ITERATIONS", TEST_ITERATIONS, 1);
	setenv("STRIPELINK_INSECURE_TEST_HASHING", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
