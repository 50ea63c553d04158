/*
 * ledger.c - refunds and disputes kept by their ids, and the order amounts
 * derived from them; see ledger.h.
 */
#include "ledger.h"

#include <stdio.h>
#include <string.h>

#include "mapping.h"
#include "store.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the status tables ---- */

struct status_rule {
	const char *status;
	bool counts;   /* refunds: in the refunded amount; disputes: lost */
	int rank;      /* how final */
};

/* Stripe's refund statuses. A status not listed (a new one) counts like a
 * pending refund: Stripe's own amount_refunded includes a refund until it
 * fails or is canceled. */
static const struct status_rule refund_rules[] = {
	{"pending", true, 0},
	{"requires_action", true, 0},
	{"succeeded", true, 1},
	{"failed", false, 2},
	{"canceled", false, 2},
};

/* Stripe's dispute statuses: open ones, then closed ones. Only a lost
 * dispute takes money (warning_closed: an inquiry that never became a
 * chargeback; prevented: stopped before it was one). */
static const struct status_rule dispute_rules[] = {
	{"warning_needs_response", false, 0},
	{"warning_under_review", false, 0},
	{"needs_response", false, 0},
	{"under_review", false, 0},
	{"won", false, 1},
	{"lost", true, 1},
	{"warning_closed", false, 1},
	{"prevented", false, 1},
	{"charge_refunded", false, 1},   /* older API versions */
};

static const struct status_rule *rule_of(const struct status_rule *rules, size_t n,
					 const char *status)
{
	for (size_t i = 0; status && i < n; i++)
		if (strcmp(rules[i].status, status) == 0)
			return &rules[i];
	return NULL;
}

bool ledger_refund_counts(const char *status)
{
	const struct status_rule *r = rule_of(refund_rules, N_ELEMS(refund_rules), status);
	return r ? r->counts : true;
}

int ledger_refund_rank(const char *status)
{
	const struct status_rule *r = rule_of(refund_rules, N_ELEMS(refund_rules), status);
	return r ? r->rank : 0;
}

bool ledger_dispute_lost(const char *status)
{
	const struct status_rule *r = rule_of(dispute_rules, N_ELEMS(dispute_rules), status);
	return r ? r->counts : false;
}

int ledger_dispute_rank(const char *status)
{
	const struct status_rule *r = rule_of(dispute_rules, N_ELEMS(dispute_rules), status);
	return r ? r->rank : 0;
}

long long ledger_refunded(long long counted, long long reported, long long included)
{
	long long unexplained = reported - included;
	return counted + (unexplained > 0 ? unexplained : 0);
}

const char *ledger_order_status(long long amount, long long refunded, const char *status)
{
	if (amount > 0 && refunded >= amount)
		return "refunded";
	if (refunded > 0)
		return "partially_refunded";
	if (status && (strcmp(status, "refunded") == 0 || strcmp(status, "partially_refunded") == 0))
		return "paid";   /* its refunds failed or were canceled */
	return status ? status : "";
}

/* ---- recording ---- */

sl_err ledger_refunds(struct store *db, const struct change_set *cs, long long connection_id,
		      long long version, long long now)
{
	sl_err e = SL_OK;
	for (size_t i = 0; !e && i < cs->refund_count; i++) {
		const struct change_refund *r = &cs->refunds[i];
		struct refund_row row = {
			.refund_id = r->id,
			.charge_id = r->charge_id,
			.connection_id = connection_id,
			.amount = r->amount,
			.currency = r->currency,
			.status = r->status,
			.counts = ledger_refund_counts(r->status),
			.status_rank = ledger_refund_rank(r->status),
			.created = r->created,
			.version = version,
			.updated_at = now,
		};
		e = store_refund_put(db, &row);
	}
	return e;
}

sl_err ledger_dispute(struct store *db, const struct change_set *cs, long long connection_id,
		      long long version, long long now, bool *first)
{
	const struct change_dispute *d = &cs->dispute;
	char before[LEDGER_STATUS_MAX];
	*first = false;
	if (!d->present)
		return SL_OK;
	sl_err e = store_dispute_status(db, d->id, before, sizeof before);
	if (e && e != SL_ERR_NOT_FOUND)
		return e;
	*first = e == SL_ERR_NOT_FOUND;
	struct dispute_row row = {
		.dispute_id = d->id,
		.charge_id = d->charge_id,
		.connection_id = connection_id,
		.amount = d->amount,
		.currency = d->currency,
		.status = d->status,
		.reason = d->reason,
		.lost = ledger_dispute_lost(d->status),
		.status_rank = ledger_dispute_rank(d->status),
		.created = d->created,
		.version = version,
		.updated_at = now,
	};
	return store_dispute_put(db, &row);
}

sl_err ledger_charge_reported(struct store *db, const char *charge_id, long long refunded,
			      long long version)
{
	return store_order_reported(db, charge_id, refunded, version);
}

sl_err ledger_settle(struct store *db, const char *charge_id, long long now,
		     char before[LEDGER_STATUS_MAX], char after[LEDGER_STATUS_MAX])
{
	struct ledger_totals t;
	before[0] = after[0] = '\0';
	sl_err e = store_ledger_totals(db, charge_id, &t, before, LEDGER_STATUS_MAX);
	if (e == SL_ERR_NOT_FOUND)
		return SL_OK;   /* the charge is not here yet: its refunds wait for it */
	if (e)
		return e;
	long long refunded = ledger_refunded(t.counted, t.reported, t.included);
	snprintf(after, LEDGER_STATUS_MAX, "%s", ledger_order_status(t.amount, refunded, before));
	return store_order_settle(db, charge_id, refunded, t.lost, after, now);
}
