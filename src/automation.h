/*
 * automation.h - automations: a trigger, an optional segment and ordered
 * actions (add a tag, remove a tag, set a custom field, send a webhook).
 *
 * They run on the writer, inside the transaction of the change that
 * triggered them (ingest.c calls automation_ingested() once per applied
 * object), so tags and fields change atomically with it; a webhook action
 * only queues a delivery in the outbox table, in that same transaction, and
 * the delivery worker (deliver.h) sends it. An automation's own tag
 * additions fire tag_added automations one level deep, never further.
 */
#ifndef STRIPELINK_AUTOMATION_H
#define STRIPELINK_AUTOMATION_H

#include <stdbool.h>
#include <stdint.h>
#include "err.h"

struct store;
struct change_set;

/* The trigger catalogue. */
enum automation_trigger {
	TRIG_CONTACT_CREATED,
	TRIG_TAG_ADDED,
	TRIG_ORDER_CREATED,
	TRIG_ORDER_REFUNDED,
	TRIG_DISPUTE_OPENED,
	TRIG_RECURRING_CREATED,
	TRIG_RECURRING_PAST_DUE,
	TRIG_RECURRING_CANCELED,
	TRIG__MAX
};

struct trigger_info {
	const char *slug;      /* stored in automations.trigger */
	const char *label;
	bool needs_tag;        /* the automation names a tag */
};

extern const struct trigger_info automation_triggers[TRIG__MAX];

/* The action catalogue. */
enum automation_action_kind { ACT_ADD_TAG, ACT_REMOVE_TAG, ACT_SET_FIELD, ACT_WEBHOOK, ACT__MAX };

struct action_info {
	const char *slug;      /* stored in automation_actions.kind */
	const char *label;
	const char *name_label;/* what its "name" column holds */
	bool needs_value;
};

extern const struct action_info automation_actions[ACT__MAX];

/* The trigger / action with this slug, or -1. */
int automation_trigger_find(const char *slug);
int automation_action_find(const char *slug);

/* What one applied Stripe object changed (filled by ingest.c). */
struct automation_facts {
	long long connection_id;
	long long contact_id;          /* 0: nothing fires */
	bool history;                  /* from a historical sync */
	const struct change_set *cs;   /* borrowed: ids, order, recurring payment */
	bool contact_created;
	uint64_t tags_added;           /* bit i: cs->tags[i] was new on the contact (i < 64) */
	bool order_created, order_refunded, dispute_opened;
	bool recurring_created, recurring_past_due, recurring_canceled;
};

/* Runs every enabled automation that the facts trigger, on the writer's
 * connection inside the caller's transaction, at time now (seconds). */
sl_err automation_ingested(struct store *db, const struct automation_facts *f, long long now);

/* Queues a sample delivery of automation id's webhook actions (Send test).
 * SL_ERR_NOT_FOUND when it has none. */
sl_err automation_send_test(struct store *db, long long id, long long now);

/* Checks a webhook URL's text: http(s), a host, https unless allow_http,
 * and no literal address that deliver_address_allowed() refuses. Returns
 * NULL when fine, else a message for the user. */
const char *automation_url_problem(const char *url, bool allow_http, bool allow_private);

/* Give-up time (unix ms) of a delivery queued at now_ms. */
long long automation_give_up_at(long long now_ms);

#endif
