/*
 * err.h - the one error type of stripelink.
 *
 * Every operation that can fail returns an sl_err; 0 (SL_OK) is success.
 * Lookups and constructors return a pointer or NULL instead; predicates
 * return bool. Only handlers turn an sl_err into an HTTP status.
 */
#ifndef STRIPELINK_ERR_H
#define STRIPELINK_ERR_H

typedef enum {
	SL_OK = 0,
	SL_ERR_NOMEM,        /* allocation failed */
	SL_ERR_INVALID,      /* bad input: malformed, out of range, wrong type */
	SL_ERR_NOT_FOUND,    /* no such row / object */
	SL_ERR_EXISTS,       /* unique constraint: already there */
	SL_ERR_TOO_LARGE,    /* a size limit was exceeded */
	SL_ERR_DB,           /* the database failed in a way retrying won't fix */
	SL_ERR_BUSY,         /* transient: database busy, try again later */
	SL_ERR_IO,           /* file system or socket error */
	SL_ERR_AUTH,         /* wrong password, bad signature, bad key */
	SL_ERR_FORBIDDEN,    /* authenticated but not allowed (permissions) */
	SL_ERR_CRYPTO,       /* OpenSSL failed or ciphertext did not authenticate */
	SL_ERR_NETWORK,      /* could not reach a remote service */
	SL_ERR_TIMEOUT,      /* a remote service did not answer in time */
	SL_ERR_REMOTE,       /* a remote service answered with an error */
	SL_ERR_RATE_LIMITED, /* a remote service said slow down (429) */
	SL_ERR_STALE,        /* what was read before the transaction changed: read again */
	SL_ERR__MAX
} sl_err;

/* Returns a short, stable, lower-case name for an error ("not_found"),
 * never NULL; static storage. */
const char *err_name(sl_err e);

#endif
