/*
 * stripe_sig.c - parsing and checking the Stripe-Signature header.
 *
 * The header is a comma-separated list of key=value items, no spaces.
 * "t" (exactly once, canonical decimal) is the signing time; every "v1" is
 * a candidate signature; any other key (v0, future schemes) is ignored.
 * An item without '=' or with an empty key makes the header malformed, as
 * does a second "t". A v1 that is not 64 lower-case hex digits is kept as a
 * candidate that can never match, exactly as Stripe's own libraries
 * compare strings. The signature is checked before the timestamp, so an
 * authentic but stale delivery is reported as such.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "stripe_sig.h"

#define SIG_HEX_LEN (2 * CRYPTO_HMAC_LEN)
#define SIG_T_MAX_DIGITS 18               /* fits a long long with room */

struct sig_item {
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
};

struct sig_header {
	const char *t_text;                /* digits of t inside the header */
	size_t t_len;
	long long t;
	size_t n_v1;
};

static bool key_is(const struct sig_item *it, const char *name)
{
	return it->key_len == strlen(name) &&
	       memcmp(it->key, name, it->key_len) == 0;
}

/* Splits the item at *cursor and moves *cursor past it; *cursor becomes
 * NULL after the last item. False when the item has no '=' or no key. */
static bool item_next(const char **cursor, struct sig_item *it)
{
	const char *s = *cursor;
	const char *comma = strchr(s, ',');
	size_t len = comma ? (size_t)(comma - s) : strlen(s);
	const char *eq = memchr(s, '=', len);

	*cursor = comma ? comma + 1 : NULL;
	if (!eq || eq == s)
		return false;
	it->key = s;
	it->key_len = (size_t)(eq - s);
	it->value = eq + 1;
	it->value_len = len - it->key_len - 1;
	return true;
}

static bool timestamp_parse(const struct sig_item *it, long long *t)
{
	long long v = 0;

	if (it->value_len == 0 || it->value_len > SIG_T_MAX_DIGITS)
		return false;
	if (it->value[0] == '0' && it->value_len > 1)
		return false;
	for (size_t i = 0; i < it->value_len; i++) {
		if (it->value[i] < '0' || it->value[i] > '9')
			return false;
		v = v * 10 + (it->value[i] - '0');
	}
	*t = v;
	return true;
}

/* Fills h from header; returns NULL when well-formed or the reason. */
static const char *header_parse(const char *header, struct sig_header *h)
{
	const char *cursor = header;
	struct sig_item it;

	memset(h, 0, sizeof *h);
	while (cursor) {
		if (!item_next(&cursor, &it))
			return "malformed header";
		if (key_is(&it, "t")) {
			if (h->t_text || !timestamp_parse(&it, &h->t))
				return "malformed header";
			h->t_text = it.value;
			h->t_len = it.value_len;
		} else if (key_is(&it, "v1")) {
			h->n_v1++;
		}
	}
	if (!h->t_text)
		return "missing timestamp";
	if (h->n_v1 == 0)
		return "no v1 signature";
	return NULL;
}

/* The hex HMAC of "<t>.<payload>" under secret, hashed in its three
 * pieces (no copy of the payload). */
static sl_err signature_hex(const char *secret, const char *t_text, size_t t_len,
			    const void *payload, size_t payload_len, char hex[SIG_HEX_LEN + 1])
{
	unsigned char mac[CRYPTO_HMAC_LEN];
	const struct crypto_part signed_payload[] = {{t_text, t_len}, {".", 1}, {payload, payload_len}};
	sl_err err = crypto_hmac_sha256_parts(secret, strlen(secret), signed_payload, 3, mac);
	if (err == SL_OK)
		crypto_hex(mac, sizeof mac, hex);
	return err;
}

/* True when some v1 item of header equals hex, comparing every candidate
 * in constant time. */
static bool any_v1_matches(const char *header, const char hex[SIG_HEX_LEN])
{
	const char *cursor = header;
	struct sig_item it;
	bool matched = false;

	while (cursor) {
		if (!item_next(&cursor, &it) || !key_is(&it, "v1"))
			continue;
		if (it.value_len == SIG_HEX_LEN &&
		    crypto_equal(it.value, hex, SIG_HEX_LEN))
			matched = true;
	}
	return matched;
}

/* |now - t| <= tolerance without overflow, for t >= 0, tolerance >= 0. */
static bool within_tolerance(long long t, long long now, long long tolerance)
{
	unsigned long long distance = now >= t
		? (unsigned long long)now - (unsigned long long)t
		: (unsigned long long)t - (unsigned long long)now;

	return distance <= (unsigned long long)tolerance;
}

/* Checks a Stripe-Signature header; see stripe_sig.h for the contract. */
sl_err stripe_sig_verify(const char *header, const void *payload,
			 size_t payload_len, const char *const *secrets,
			 size_t n_secrets, long long now, long long tolerance,
			 const char **reason)
{
	struct sig_header h;
	char hex[SIG_HEX_LEN + 1];
	size_t usable = 0;
	const char *why;
	bool matched = false;
	sl_err err = SL_ERR_INVALID;

	if (!header || !*header) {
		why = "missing header";
		goto out;
	}
	if ((!payload && payload_len) || tolerance < 0 ||
	    (!secrets && n_secrets)) {
		why = "invalid arguments";
		goto out;
	}
	why = header_parse(header, &h);
	if (why)
		goto out;
	for (size_t i = 0; i < n_secrets; i++)
		if (secrets[i] && *secrets[i])
			usable++;
	if (usable == 0) {
		why = "no secret configured";
		goto out;
	}
	for (size_t i = 0; i < n_secrets; i++) {
		if (!secrets[i] || !*secrets[i])
			continue;
		err = signature_hex(secrets[i], h.t_text, h.t_len, payload, payload_len, hex);
		if (err) {
			why = "hmac failed";
			goto out;
		}
		if (any_v1_matches(header, hex))
			matched = true;
	}
	err = SL_ERR_AUTH;
	if (!matched) {
		why = "no signature matches";
		goto out;
	}
	if (!within_tolerance(h.t, now, tolerance)) {
		why = "timestamp outside tolerance";
		goto out;
	}
	err = SL_OK;
	why = "ok";
out:
	if (reason)
		*reason = why;
	return err;
}

/* Builds the header Stripe would send; see stripe_sig.h. */
char *stripe_sig_header(const char *secret, long long t, const void *payload,
			size_t len)
{
	char t_text[24];
	char hex[SIG_HEX_LEN + 1];
	char *header = NULL;
	size_t size;
	int t_len;

	if (!secret || !*secret || t < 0 || (!payload && len))
		return NULL;
	t_len = snprintf(t_text, sizeof t_text, "%lld", t);
	if (signature_hex(secret, t_text, (size_t)t_len, payload, len, hex) != SL_OK)
		return NULL;
	size = sizeof "t=" + sizeof t_text + sizeof ",v1=" + SIG_HEX_LEN;
	header = malloc(size);
	if (header)
		snprintf(header, size, "t=%s,v1=%s", t_text, hex);
	return header;
}
