/*
 * ledger.h - a charge's refunds and disputes, each kept by its own Stripe
 * id, and the order amounts derived from them.
 *
 * An order's refunded amount is never taken from one event; it is
 *
 *     refunded = the refunds that count now (pending, requires_action,
 *                succeeded; not failed or canceled)
 *              + max(0, reported − included)
 *
 * where reported is the amount_refunded the charge itself last reported
 * (charge.succeeded, charge.refunded, a historical page: Stripe's total at
 * that moment, reported_at) and included is what of it the refunds we know
 * explain: those made by reported_at that counted then (they count now, or
 * failed only after reported_at). The second term is the fallback for a
 * refund we never saw by its id (events of API versions whose charges
 * carry no refunds list, an endpoint not subscribed to refund.*): it is
 * counted once, and stops counting as soon as its own event names it.
 * So partial refunds add up, a repeated event changes nothing (a refund is
 * keyed by its id), delivery order does not matter (each refund's status
 * is versioned by its event's time; on a tie the more final status wins),
 * and a refund that fails or is canceled stops counting.
 *
 * A dispute lost counts against revenue: the order's lost amount is the sum
 * of its lost disputes. Net revenue = amount − refunded − lost.
 *
 * A refund or dispute whose charge has no order yet is kept all the same;
 * the order picks it up when its charge arrives (ledger_settle at every
 * charge upsert). The webhook first waits for the charge a while (see
 * webhook.c), so the contact still gets the event's tag in the usual case.
 *
 * Everything runs on the writer's connection inside the caller's
 * transaction.
 */
#ifndef STRIPELINK_LEDGER_H
#define STRIPELINK_LEDGER_H

#include <stdbool.h>
#include "err.h"

struct store;
struct change_set;

#define LEDGER_STATUS_MAX 32

/* ---- the pure rules (tables in ledger.c) ---- */

/* True when a refund in this status is part of the refunded amount
 * (pending, requires_action, succeeded; also an absent status). */
bool ledger_refund_counts(const char *status);
/* How final a refund status is (pending 0, succeeded 1, failed and
 * canceled 2): a tie of versions keeps the more final one. */
int ledger_refund_rank(const char *status);
/* True when a dispute in this status counts against revenue (lost). */
bool ledger_dispute_lost(const char *status);
/* How final a dispute status is (open ones 0, closed ones 1). */
int ledger_dispute_rank(const char *status);
/* The refunded amount of the formula above. */
long long ledger_refunded(long long counted, long long reported, long long included);
/* A charge order's status for its amount and refunded total: "refunded"
 * (everything), "partially_refunded", else "paid" for an order that showed
 * a refund before, else status as stored. Returns a static string or
 * status. */
const char *ledger_order_status(long long amount, long long refunded, const char *status);

/* ---- recording ---- */

/* Records the refunds of cs (a charge's refunds.data, or a refund event's
 * object) for connection_id at version (the event's created, or a page's
 * fetch time). */
sl_err ledger_refunds(struct store *db, const struct change_set *cs, long long connection_id,
		      long long version, long long now);
/* Records cs->dispute; *first says it was not known before. */
sl_err ledger_dispute(struct store *db, const struct change_set *cs, long long connection_id,
		      long long version, long long now, bool *first);
/* Records what a charge event said it refunded (cs->order.amount_refunded)
 * at version; the order must have been upserted in this transaction. */
sl_err ledger_charge_reported(struct store *db, const char *charge_id, long long refunded,
			      long long version);
/* Brings the order of charge_id up to date with its ledger (refunded and
 * lost amounts, status) and copies its status before and after into the
 * two buffers (LEDGER_STATUS_MAX bytes; "" when there is no order, which
 * is not an error). */
sl_err ledger_settle(struct store *db, const char *charge_id, long long now,
		     char before[LEDGER_STATUS_MAX], char after[LEDGER_STATUS_MAX]);

#endif
