/*
 * ingest.c - one mapped object into contacts, tags, orders and recurring
 * payments; see ingest.h.
 */
#include "ingest.h"

#include <stdio.h>
#include <string.h>

#include "automation.h"
#include "ledger.h"
#include "store.h"

/* Finds the contact: by email (created when allowed), else through the
 * Stripe customer link. */
static sl_err find_contact(struct store *db, struct ingest_item *it, long long now)
{
	const struct change_set *cs = it->cs;
	const char *email = it->has_email ? cs->email : it->fallback_email;
	const char *email_key = it->has_email ? cs->email_key : it->fallback_email_key;
	sl_err e;
	if (email && email_key) {
		if (it->contact)
			return store_contact_upsert(db, email, email_key, now, &it->contact_id,
						    &it->contact_created);
		e = store_contact_find(db, email_key, &it->contact_id);
		if (e != SL_ERR_NOT_FOUND)
			return e;
	}
	if (cs->customer_id) {
		e = store_customer_contact(db, cs->customer_id, &it->contact_id);
		if (e != SL_ERR_NOT_FOUND)
			return e;
	}
	it->contact_id = 0;
	if (!email)
		it->skip_reason = cs->skip_reason ? cs->skip_reason : "no email in the object";
	return SL_OK;
}

/* True when the recurring payment belongs to another Stripe object than
 * the one applied (a checkout session's subscription). */
static bool rc_is_other_object(const struct change_set *cs)
{
	return cs->recurring.subscription_id &&
	       (!cs->object_id || strcmp(cs->recurring.subscription_id, cs->object_id) != 0);
}

/* True when the change set is a charge's (its order is a charge's). */
static bool is_charge(const struct change_set *cs)
{
	return cs->object_type && strcmp(cs->object_type, "charge") == 0 && cs->order.id;
}

/* The refunds a charge lists are objects of their own: kept by their ids
 * (each status versioned), the order brought up to date. */
static sl_err charge_refunds(struct store *db, struct ingest_item *it, long long now,
			     char before[LEDGER_STATUS_MAX], char after[LEDGER_STATUS_MAX])
{
	sl_err e = ledger_refunds(db, it->cs, it->connection_id, it->version, now);
	return e ? e : ledger_settle(db, it->cs->order.id, now, before, after);
}

/* An event older than what was applied for its object changes no field,
 * order or recurring payment, but it did happen: its tags are added, so
 * the tags a contact ends up with do not depend on the order of arrival;
 * the refunds it lists and a deletion it tells of are recorded all the
 * same (each has its own version). */
static sl_err apply_stale(struct store *db, struct ingest_item *it, long long now)
{
	const struct change_set *cs = it->cs;
	char before[LEDGER_STATUS_MAX], after[LEDGER_STATUS_MAX];
	sl_err e = find_contact(db, it, now);
	if (!e && it->contact_id && it->contact)
		e = store_contact_tags(db, it->contact_id, cs->tags, cs->tag_count, NULL);
	if (!e && it->order != ORDER_NONE && cs->refund_count && is_charge(cs))
		e = charge_refunds(db, it, now, before, after);
	if (!e && it->effect == EFFECT_CUSTOMER_DELETED && it->contact_id && cs->customer_id)
		e = store_customer_deleted(db, cs->customer_id, it->version);
	it->stale = true;
	it->skip_reason = "a newer version of this Stripe object was already applied";
	return e;
}

/* A refund or a dispute: kept by its id whether or not its charge's order
 * is here (the order picks it up when it arrives); the order's contact
 * gets the event's tags and the automations it fires. */
static sl_err apply_money(struct store *db, struct ingest_item *it, long long now)
{
	const struct change_set *cs = it->cs;
	bool dispute = cs->dispute.present;
	const char *charge = dispute ? cs->dispute.charge_id
			   : cs->refund_count ? cs->refunds[0].charge_id : NULL;
	char before[LEDGER_STATUS_MAX], after[LEDGER_STATUS_MAX];
	long long contact = 0;
	bool first = false;
	if (!charge) {
		it->skip_reason = "neither a refund nor a dispute";
		return SL_OK;
	}
	sl_err e = store_order_contact(db, charge, &contact);
	if (e == SL_ERR_NOT_FOUND)
		it->note = dispute ? "its charge is not here yet: the dispute is kept and counts when the "
				     "charge arrives"
				   : "its charge is not here yet: the refund is kept and counts when the "
				     "charge arrives";
	else if (e)
		return e;
	else if (!contact)
		it->note = "its order has no contact";
	if (dispute)
		e = ledger_dispute(db, cs, it->connection_id, it->version, now, &first);
	else
		e = ledger_refunds(db, cs, it->connection_id, it->version, now);
	if (e || (e = ledger_settle(db, charge, now, before, after)) || !contact)
		return e;
	it->contact_id = contact;
	struct automation_facts facts = {
		.connection_id = it->connection_id,
		.contact_id = contact,
		.history = it->history,
		.cs = cs,
		.order_refunded = strcmp(after, "refunded") == 0 && strcmp(before, "refunded") != 0,
		.dispute_opened = first,
	};
	if (it->contact && (e = store_contact_tags(db, contact, cs->tags, cs->tag_count, &facts.tags_added)))
		return e;
	return automation_ingested(db, &facts, now);
}

sl_err ingest_apply(struct store *db, struct ingest_item *it, long long now)
{
	const struct change_set *cs = it->cs;
	sl_err e;
	it->contact_id = 0;
	it->contact_created = false;
	it->stale = false;
	it->skip_reason = NULL;
	it->note = NULL;

	if (cs->reject_reason) {
		it->skip_reason = cs->reject_reason;   /* never a guessed amount */
		return SL_OK;
	}
	if (it->effect == EFFECT_REFUND || it->effect == EFFECT_DISPUTE)
		return apply_money(db, it, now);
	if (cs->object_id) {
		long long version = it->applied;
		if (!it->applied_known && (e = store_object_version(db, cs->object_id, &version)))
			return e;
		if (version > it->version)
			return apply_stale(db, it, now);
	}
	if ((e = find_contact(db, it, now)))
		return e;
	if (it->skip_reason)
		return SL_OK;   /* no contact to hang anything on: nothing is written */

	struct automation_facts facts = {
		.connection_id = it->connection_id,
		.contact_id = it->contact_id,
		.history = it->history,
		.cs = cs,
		.contact_created = it->contact_created,
	};
	if (it->contact_id && it->contact) {
		struct contact_change v[CHANGE_SET_MAX_FIELDS];
		for (size_t i = 0; i < cs->field_count; i++)
			v[i] = (struct contact_change){cs->fields[i].key, cs->fields[i].value};
		if ((e = store_contact_set_all(db, it->contact_id, v, cs->field_count, now)) ||
		    (e = store_contact_tags(db, it->contact_id, cs->tags, cs->tag_count, &facts.tags_added)))
			return e;
	}
	if (it->contact_id && cs->customer_id &&
	    (e = store_customer_link(db, cs->customer_id, it->contact_id)))
		return e;
	if (it->effect == EFFECT_CUSTOMER_DELETED && it->contact_id && cs->customer_id &&
	    (e = store_customer_deleted(db, cs->customer_id, it->version)))
		return e;

	if (it->order != ORDER_NONE && cs->order.present) {
		struct order_row o = {
			.stripe_id = cs->order.id,
			.connection_id = it->connection_id,
			.contact_id = it->contact_id,
			.amount = cs->order.amount,
			.amount_refunded = cs->order.amount_refunded,
			.currency = cs->order.currency,
			.status = cs->order.status,
			.created = cs->order.created,
			.updated_at = now,
		};
		char before[32];
		e = store_order_status(db, o.stripe_id, before, sizeof before);
		if (e && e != SL_ERR_NOT_FOUND)
			return e;
		facts.order_created = e == SL_ERR_NOT_FOUND;
		if (facts.order_created)
			before[0] = '\0';
		if ((e = store_order_upsert(db, &o)))
			return e;
		/* a charge's refunded amount and status come from its ledger */
		char stored[LEDGER_STATUS_MAX], after[LEDGER_STATUS_MAX];
		snprintf(after, sizeof after, "%s", o.status ? o.status : "");
		if (is_charge(cs) &&
		    ((e = ledger_charge_reported(db, o.stripe_id, o.amount_refunded, it->version)) ||
		     (e = charge_refunds(db, it, now, stored, after))))
			return e;
		facts.order_refunded = strcmp(after, "refunded") == 0 && strcmp(before, "refunded") != 0;
	}
	bool recurring = it->recurring && cs->recurring.present;
	if (recurring && rc_is_other_object(cs)) {
		long long version;
		if ((e = store_object_version(db, cs->recurring.subscription_id, &version)))
			return e;
		recurring = version <= it->version;   /* older news of the subscription: keep */
	}
	if (recurring) {
		const struct change_recurring *rc = &cs->recurring;
		struct recurring_row r = {
			.subscription_id = rc->subscription_id,
			.connection_id = it->connection_id,
			.contact_id = it->contact_id,
			.status = rc->status,
			.price_id = rc->price_id,
			.product = rc->product,
			.has_amount = rc->has_amount,
			.amount = rc->amount,
			.currency = rc->currency,
			.interval = rc->interval,
			.interval_count = rc->interval_count,
			.current_period_end = rc->current_period_end,
			.updated_at = now,
		};
		char before[32] = "";
		e = store_recurring_status(db, r.subscription_id, before, sizeof before);
		if (e && e != SL_ERR_NOT_FOUND)
			return e;
		facts.recurring_created = e == SL_ERR_NOT_FOUND;
		bool changed = r.status && strcmp(r.status, before) != 0;
		facts.recurring_past_due = changed && strcmp(r.status, "past_due") == 0;
		facts.recurring_canceled = changed && strcmp(r.status, "canceled") == 0;
		if ((e = store_recurring_upsert(db, &r)))
			return e;
		if (rc->canceled_at &&
		    (e = store_recurring_canceled_at(db, r.subscription_id, rc->canceled_at)))
			return e;
	}
	if (cs->object_id && (e = store_object_version_put(db, cs->object_id, it->version)))
		return e;
	if (recurring && rc_is_other_object(cs) &&
	    (e = store_object_version_put(db, cs->recurring.subscription_id, it->version)))
		return e;
	return automation_ingested(db, &facts, now);
}
