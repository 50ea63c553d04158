/*
 * fuzz_signature.c - libFuzzer target for the Stripe-Signature header parser
 * and verifier (src/stripe_sig.c).
 *
 * Input: a header, a NUL byte, then the body. Checks the contract on any
 * input (a result code of the documented set, a reason on every answer),
 * and that a header we sign ourselves over the same body always verifies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stripe_sig.h"

#define SECRET "whsec_fuzz_secret_0123456789"
#define NOW 1700000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t hlen = nul ? (size_t)(nul - data) : size;
	char *header = malloc(hlen + 1);
	if (!header)
		return 0;
	memcpy(header, data, hlen);
	header[hlen] = '\0';
	const uint8_t *body = nul ? nul + 1 : data + size;
	size_t blen = (size_t)(data + size - body);
	const char *secrets[] = {SECRET, "", NULL, "whsec_other"};
	const char *why = NULL;

	sl_err e = stripe_sig_verify(header, body, blen, secrets, 4, NOW, 300, &why);
	if (e != SL_OK && e != SL_ERR_INVALID && e != SL_ERR_AUTH && e != SL_ERR_NOMEM)
		abort();
	if (!why || !*why)
		abort();

	/* what we sign over this body verifies, whatever the body holds */
	char *good = stripe_sig_header(SECRET, NOW, body, blen);
	if (good) {
		if (stripe_sig_verify(good, body, blen, secrets, 4, NOW, 300, &why) != SL_OK)
			abort();
		/* and under a wrong secret it never does */
		const char *wrong[] = {"whsec_not_it"};
		if (stripe_sig_verify(good, body, blen, wrong, 1, NOW, 300, &why) == SL_OK)
			abort();
		free(good);
	}
	free(header);
	return 0;
}
