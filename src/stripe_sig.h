/*
 * stripe_sig.h - Stripe webhook signatures (the Stripe-Signature header).
 *
 * A header reads "t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=<hex>...]".
 * Each v1 is the lower-case hex HMAC-SHA256, keyed by the whole "whsec_..."
 * signing secret, of the decimal t, a '.', and the raw request body. Pure
 * functions: no clock, no I/O; the caller passes the time.
 */
#ifndef STRIPELINK_STRIPE_SIG_H
#define STRIPELINK_STRIPE_SIG_H

#include <stddef.h>
#include "err.h"

#define STRIPE_SIG_DEFAULT_TOLERANCE 300  /* seconds, as Stripe's SDKs */

/* Verifies header against payload (payload_len bytes, may hold NULs) under
 * any of n_secrets secrets (current, then previous while rotating; NULL or
 * empty entries are skipped). Accepts when some v1 matches some secret in
 * constant time and |now - t| <= tolerance; other schemes are ignored.
 * Returns SL_OK; SL_ERR_INVALID for a malformed header (no t, garbage, no
 * v1), no usable secret or a negative tolerance; SL_ERR_AUTH when nothing
 * matches or t is too far from now; SL_ERR_CRYPTO when the HMAC cannot be
 * computed (out of memory). When reason is not NULL
 * it receives a short static English phrase ("ok" on success). */
sl_err stripe_sig_verify(const char *header, const void *payload,
			 size_t payload_len, const char *const *secrets,
			 size_t n_secrets, long long now, long long tolerance,
			 const char **reason);

/* Returns a malloc'd header "t=<t>,v1=<hex>" signing payload at time t
 * under secret, as Stripe would send it; the caller frees it. NULL for a
 * NULL or empty secret, a negative t, or on allocation failure. */
char *stripe_sig_header(const char *secret, long long t, const void *payload,
			size_t len);

#endif
