/*
 * pacer.c - the limiter of the connection a thread works for; see pacer.h.
 */
#include "pacer.h"

#include <stdlib.h>

#include "arena.h"
#include "metrics.h"
#include "ratelimit.h"
#include "store.h"

struct pacer {
	struct ratelimits *limits;   /* borrowed */
	const char *db_path;         /* borrowed */
	struct store *db;            /* owned; opened on the first look-up */
	struct arena *a;             /* owned; one look-up's row */
	bool livemode;
	long long connection_id;     /* the last connection looked up (0: none yet) */
	struct ratelimit *limiter;   /* its account's: an account id never changes */
};

struct pacer *pacer_new(struct ratelimits *limits, const char *db_path, bool livemode)
{
	struct pacer *p = calloc(1, sizeof *p);
	if (!p || !(p->a = arena_new())) {
		free(p);
		return NULL;
	}
	p->limits = limits;
	p->db_path = db_path;
	p->livemode = livemode;
	return p;
}

void pacer_free(struct pacer *p)
{
	if (!p)
		return;
	store_close(p->db);
	arena_free(p->a);
	free(p);
}

struct ratelimit *pacer_limiter(struct pacer *p)
{
	long long id = metrics_connection();
	if (id > 0 && id == p->connection_id)
		return p->limiter;
	struct connection_row c;
	sl_err e = SL_ERR_NOT_FOUND;
	if (id > 0 && (p->db || (p->db = store_open(p->db_path, &e)))) {
		arena_reset(p->a);
		e = store_connection_get(p->db, p->a, id, &c);
	}
	if (e)
		return ratelimits_for(p->limits, NULL, p->livemode);
	p->connection_id = id;
	p->limiter = ratelimits_for(p->limits, c.account_id, c.livemode);
	return p->limiter;
}

void pacer_pace(void *pacer)
{
	struct ratelimit *rl = pacer_limiter(pacer);
	if (rl)
		ratelimit_acquire(rl);
}
