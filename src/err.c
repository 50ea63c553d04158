/*
 * err.c - names for the error codes of err.h.
 */
#include "err.h"

static const char *const names[] = {
	[SL_OK] = "ok",
	[SL_ERR_NOMEM] = "out_of_memory",
	[SL_ERR_INVALID] = "invalid",
	[SL_ERR_NOT_FOUND] = "not_found",
	[SL_ERR_EXISTS] = "exists",
	[SL_ERR_TOO_LARGE] = "too_large",
	[SL_ERR_DB] = "database",
	[SL_ERR_BUSY] = "busy",
	[SL_ERR_IO] = "io",
	[SL_ERR_AUTH] = "auth",
	[SL_ERR_FORBIDDEN] = "forbidden",
	[SL_ERR_CRYPTO] = "crypto",
	[SL_ERR_NETWORK] = "network",
	[SL_ERR_TIMEOUT] = "timeout",
	[SL_ERR_REMOTE] = "remote",
	[SL_ERR_RATE_LIMITED] = "rate_limited",
	[SL_ERR_STALE] = "stale",
};
_Static_assert(sizeof names / sizeof names[0] == SL_ERR__MAX,
	       "every sl_err needs a name");

const char *err_name(sl_err e)
{
	if ((unsigned)e >= SL_ERR__MAX || !names[e])
		return "unknown";
	return names[e];
}
