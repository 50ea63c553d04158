/*
 * ingest.h - applies one mapped Stripe object to the CRM: the contact, its
 * fields and tags, the customer link, the order and the recurring payment.
 * The webhook and the historical sync both go through here, on the
 * writer's connection, inside the caller's transaction.
 *
 * The ordering guard: each Stripe object remembers the version last
 * applied (an event's `created`, or a historical page's fetch time); an
 * older version changes nothing, an equal or newer one applies. A
 * recurring payment is guarded by its subscription's version too, so a
 * late checkout session cannot revive a canceled subscription. Refunds and
 * disputes are kept by their own ids (ledger.h), whatever the order of
 * arrival; a charge's order is brought up to date with them whenever the
 * charge or one of them is applied.
 */
#ifndef STRIPELINK_INGEST_H
#define STRIPELINK_INGEST_H

#include <stdbool.h>
#include "catalog.h"
#include "err.h"
#include "mapping.h"

struct store;

struct ingest_item {
	/* in */
	long long connection_id;
	const struct change_set *cs;   /* borrowed; may lack an email */
	bool has_email;                /* mapping_apply succeeded */
	const char *fallback_email;    /* when !has_email: the customer's email (borrowed) */
	const char *fallback_email_key;
	long long version;             /* event created, or fetch time */
	bool contact;                  /* create/update the contact */
	enum order_action order;
	bool recurring;                /* create/update a recurring payment */
	bool history;                  /* from a historical sync: automations fire only if ticked */
	enum event_effect effect;      /* a refund or dispute (cs holds it, not a contact), a
					  deleted customer; EFFECT_NONE otherwise */
	bool applied_known;            /* applied is cs->object_id's applied version, read in
					  this transaction: not asked again */
	long long applied;             /* -1: none */
	/* out */
	long long contact_id;          /* 0 when none */
	bool contact_created;
	bool stale;                    /* older than what was applied */
	const char *skip_reason;       /* static or borrowed from cs; NULL when applied */
	const char *note;              /* static; said of an applied item (a refund kept
					  before its charge is here); NULL otherwise */
};

/* Applies it (see above) at time now. Returns SL_OK when applied or
 * deliberately skipped (it->skip_reason says why), or a store error. */
sl_err ingest_apply(struct store *db, struct ingest_item *it, long long now);

#endif
