/*
 * mapping.h - the mapping engine: a Stripe object + a mapping → a change
 * set for one contact (fields, tags, order, recurring payment).
 *
 * Pure: no I/O, no global state; a mapping is read-only while applied, so
 * one mapping may serve many threads, each with its own change set. The
 * webhook endpoint and the historical sync both call mapping_apply().
 *
 * A mapping is what the wizard's step 3 saves: for one resource, the Stripe
 * field that holds the email (required), optionally the Stripe ID → a CRM
 * field, and further "Stripe field → CRM field" rows. Stripe fields are dot
 * paths from catalog.h; CRM fields are keys ("email", "first_name",
 * "last_name", "phone", a custom field's key, or the pseudo key
 * "full_name", split into first_name and last_name). Paths are split into
 * segments once, when the mapping is built, never per object.
 */
#ifndef STRIPELINK_MAPPING_H
#define STRIPELINK_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json_types.h>

#include "catalog.h"
#include "err.h"

#define MAPPING_MAX_RULES 32     /* extra rows besides email and id */
#define MAPPING_MAX_SEGMENTS 8   /* dots + 1 in a path */
#define MAPPING_PATH_MAX 200     /* bytes in a path */

/* A Stripe field path, split once. Read-only outside mapping.c. */
struct mapping_path {
	char *text;        /* as given, "metadata.plan"; NULL when unset */
	char *storage;     /* segment bytes; owned, one allocation with text */
	const char *segment[MAPPING_MAX_SEGMENTS];
	int index[MAPPING_MAX_SEGMENTS]; /* array index for a digit segment,
					    else -1 */
	unsigned count;    /* 0 when text is malformed (never matches) */
	bool via_customer; /* reads the customer object: "customer.x" */
	const struct catalog_field *field; /* its catalogue row, or NULL */
};

/* One "Stripe field → CRM field" row. */
struct mapping_rule {
	struct mapping_path source;
	char *target;             /* CRM field key as given; owned */
	enum crm_target builtin;  /* TARGET__MAX for a custom key */
};

/* Read-only outside mapping.c; build it with the functions below. */
struct mapping {
	enum resource resource;
	struct mapping_path email;   /* email.text NULL: not chosen yet */
	bool has_id_rule;
	struct mapping_rule id_rule; /* valid when has_id_rule */
	struct mapping_rule rules[MAPPING_MAX_RULES];
	size_t rule_count;
	bool reads_customer;         /* some row reads customer.* */
};

/* Returns a new mapping for resource r with no rows (not yet valid: the
 * email row is missing), or NULL when r is out of range or memory runs
 * out. Caller frees with mapping_free(). */
struct mapping *mapping_new(enum resource r);

/* Releases m and everything it owns. Accepts NULL. */
void mapping_free(struct mapping *m);

/* Sets the Stripe path that holds the email; NULL or "" unsets it. The
 * path is copied; any string is accepted (mapping_validate() judges it).
 * Returns SL_OK, SL_ERR_TOO_LARGE (longer than MAPPING_PATH_MAX) or
 * SL_ERR_NOMEM; on error m is unchanged. */
sl_err mapping_set_email(struct mapping *m, const char *path);

/* Sets the optional "Stripe ID → CRM field" row; path NULL or "" removes
 * it. Both strings are copied. Errors as mapping_set_email(). */
sl_err mapping_set_id_rule(struct mapping *m, const char *path,
			   const char *target);

/* Appends a "Stripe field → CRM field" row; both strings are copied.
 * Returns SL_OK, SL_ERR_INVALID (a NULL argument), SL_ERR_TOO_LARGE (more
 * than MAPPING_MAX_RULES rows, or a path over MAPPING_PATH_MAX) or
 * SL_ERR_NOMEM; on error m is unchanged. */
sl_err mapping_add_rule(struct mapping *m, const char *path,
			const char *target);

/* Returns a new mapping parsed from the JSON mapping_to_json() writes:
 *   {"version":1,"resource":"charge","email":"billing_details.email",
 *    "id":{"source":"customer","target":"stripe_customer_id"},
 *    "fields":[{"source":"billing_details.name","target":"full_name"}]}
 * ("version", "id" and "fields" may be left out; "id" may be null).
 * Only the shape is checked here; mapping_validate() judges the content.
 * On failure returns NULL and, when err is not NULL, sets *err to a
 * message the caller frees with free() (or NULL when memory ran out).
 * Caller frees the mapping with mapping_free(). */
struct mapping *mapping_from_json(const char *json, char **err);

/* Returns m as compact JSON (the format above, keys in a fixed order),
 * for storing in a TEXT column; caller frees with free(). NULL when
 * memory runs out. */
char *mapping_to_json(const struct mapping *m);

/* Returns a new, valid mapping for resource r: email from the resource's
 * best email candidate, its name to full_name and its phone to phone; no
 * id row (its target would be a custom field). NULL when r is out of
 * range or memory runs out. Caller frees with mapping_free(). */
struct mapping *mapping_default(enum resource r);

/* ---- validation --------------------------------------------------------- */

enum mapping_row {
	MAPPING_ROW_EMAIL,
	MAPPING_ROW_ID,
	MAPPING_ROW_FIELD /* mapping_error.index says which of m->rules */
};

enum mapping_problem {
	MAPPING_EMAIL_MISSING,    /* no email row chosen */
	MAPPING_EMAIL_NOT_EMAIL,  /* the email row reads a non-email field */
	MAPPING_PATH_MISSING,     /* a row without a Stripe field */
	MAPPING_UNKNOWN_PATH,     /* not a field of this resource */
	MAPPING_ID_NOT_ID,        /* the id row reads something not an ID */
	MAPPING_TARGET_MISSING,   /* no CRM field chosen */
	MAPPING_UNKNOWN_TARGET,   /* no such CRM field */
	MAPPING_DUPLICATE_TARGET, /* CRM field already filled by a row above */
	MAPPING_PROBLEM__MAX
};

struct mapping_error {
	enum mapping_row row;
	size_t index;                /* rule index for MAPPING_ROW_FIELD */
	enum mapping_problem problem;
	char message[256];           /* a sentence for the user, UTF-8 */
};

/* Answers whether a custom CRM field with this key exists. */
typedef bool (*mapping_key_exists_fn)(const char *key, void *ctx);

/* A mapping_key_exists_fn over a NULL-terminated array of keys passed as
 * ctx (const char *const *). */
bool mapping_key_in_list(const char *key, void *ctx);

/* Checks m row by row: the email row is present and reads an email field
 * (or a metadata key); every path is a catalogue field of m's resource;
 * the id row reads an ID field; every target is a built-in field,
 * "full_name", or a custom key for which exists(key, ctx) is true (exists
 * NULL: no custom field exists); no CRM field is filled twice (the email
 * row fills "email"; "full_name" fills first_name and last_name). Writes
 * up to max_errors problems, in row order, to errors (may be NULL when
 * max_errors is 0) and their total count to *n_errors (may be NULL).
 * Returns SL_OK when there are none, SL_ERR_INVALID otherwise. */
sl_err mapping_validate(const struct mapping *m, mapping_key_exists_fn exists,
			void *ctx, struct mapping_error *errors,
			size_t max_errors, size_t *n_errors);

/* ---- applying ----------------------------------------------------------- */

#define CHANGE_SET_MAX_FIELDS (2 * MAPPING_MAX_RULES + 2)
#define CHANGE_SET_MAX_TAGS 8
#define CHANGE_SET_MAX_REFUNDS 16  /* a charge's embedded refunds list (Stripe
				      embeds at most 10; the rest is covered by
				      its amount_refunded, see ledger.h) */

struct change_field {
	const char *key;   /* CRM field key ("first_name", never "full_name") */
	const char *value; /* trimmed, never empty */
};

struct change_order {
	bool present;
	const char *id;
	int64_t amount;          /* minor units */
	int64_t amount_refunded; /* minor units; charges only */
	const char *currency;    /* as Stripe sends it, "usd" */
	const char *status;      /* "paid", "refunded", "partially_refunded",
				    or Stripe's own status */
	const char *created;     /* ISO-8601 UTC, or NULL */
};

struct change_recurring {
	bool present;
	const char *subscription_id;
	const char *status;      /* Stripe's subscription status */
	const char *price_id;    /* or NULL */
	const char *product;     /* product id, or NULL */
	bool has_amount;
	int64_t amount;          /* minor units per interval */
	const char *currency;
	const char *interval;    /* "month", or NULL when unknown */
	int64_t interval_count;  /* 0 when unknown */
	const char *current_period_end; /* ISO-8601 UTC, or NULL */
	const char *canceled_at; /* ISO-8601 UTC when status is canceled: the
				    subscription's ended_at, else canceled_at;
				    NULL otherwise or when neither is given */
};

/* One refund: an item of a charge's refunds.data, or a refund event's
 * object. */
struct change_refund {
	const char *id;          /* re_… (or pyr_…) */
	const char *charge_id;   /* ch_…: the order it belongs to */
	int64_t amount;          /* minor units */
	const char *currency;
	const char *status;      /* pending, requires_action, succeeded, failed,
				    canceled; NULL when absent */
	int64_t created;         /* Unix seconds, 0 when absent */
};

/* A dispute event's object. */
struct change_dispute {
	bool present;
	const char *id;          /* dp_… */
	const char *charge_id;
	int64_t amount;          /* minor units: what the cardholder disputes */
	const char *currency;
	const char *status;      /* warning_needs_response, …, won, lost,
				    warning_closed, prevented */
	const char *reason;      /* fraudulent, general, …; or NULL */
	int64_t created;
};

struct change_set_chunk; /* private string storage */

/*
 * What mapping_apply() found. Every string is owned by the change set (or
 * is static) and lives until change_set_clear(); absent values are NULL.
 * The struct may be copied by value only while empty.
 */
struct change_set {
	const char *email;       /* trimmed, as given (for display) */
	const char *email_key;   /* trimmed, ASCII lower case (for matching) */
	struct change_field fields[CHANGE_SET_MAX_FIELDS]; /* in row order */
	size_t field_count;
	const char *tags[CHANGE_SET_MAX_TAGS];
	size_t tag_count;
	const char *object_id;   /* the Stripe object's id */
	const char *object_type; /* its "object", "checkout.session" */
	int64_t object_created;  /* Unix seconds, 0 when absent */
	const char *customer_id; /* Stripe customer to link to the contact */
	struct change_order order;
	struct change_recurring recurring;
	struct change_refund refunds[CHANGE_SET_MAX_REFUNDS]; /* a charge's
				    refunds.data, or a refund event's object */
	size_t refund_count;
	struct change_dispute dispute;   /* a dispute event's object */
	const char *subscription_id; /* an invoice's subscription, or NULL */
	const char *billing_reason;  /* an invoice's, or NULL */
	const char *skip_reason; /* set when no contact can be made */
	const char *reject_reason; /* set when the object must not be applied at
				    all (an amount that is not an integer) */
	struct change_set_chunk *chunks;
};

/* Makes cs empty. Call once before first use. */
void change_set_init(struct change_set *cs);

/* Releases everything cs holds and makes it empty again (reusable). */
void change_set_clear(struct change_set *cs);

/* Appends a tag (copied), e.g. the event's catalog_event.tag. Returns
 * SL_OK, SL_ERR_TOO_LARGE (CHANGE_SET_MAX_TAGS reached) or SL_ERR_NOMEM. */
sl_err change_set_add_tag(struct change_set *cs, const char *tag);

/* Returns cs as a new JSON object (tests, logs): keys "email",
 * "email_key", "fields" ({key: value}), "tags", "object_id",
 * "object_type", "object_created" (ISO-8601), "customer_id", "order",
 * "recurring", "refunds" (a list), "dispute", "subscription_id",
 * "billing_reason", "skip_reason", "reject_reason"; absent values are left
 * out. Caller releases it with json_object_put(). NULL when memory runs
 * out. */
json_object *change_set_to_json(const struct change_set *cs);

/* Returns the first path the mapping reads (customer.* rows aside) that
 * obj does not have at all, a key absent rather than null: what an event
 * made under another API version may lack. NULL when all are there.
 * Borrowed from m. */
const char *mapping_missing_field(const struct mapping *m, json_object *obj);

/* Returns true when some row of m reads the customer object (customer.*):
 * the historical sync then asks Stripe for expand[]=data.customer. */
bool mapping_reads_customer(const struct mapping *m);

/* Returns true when m reads customer.* and obj's "customer" is a bare id
 * ("cus_…"), not an expanded object: the caller must fetch that customer
 * and pass it to mapping_apply(). */
bool mapping_needs_customer(const struct mapping *m, json_object *obj);

/*
 * Maps one Stripe object of m's resource into out, which must have been
 * initialised (anything it held is released first).
 *
 * customer is the object's customer when the caller looked it up (may be
 * NULL); an expanded obj.customer is used as well. Both are borrowed and
 * only read during the call; out copies every string it keeps.
 *
 * Values of absent, null, empty or wrongly typed fields are left out of
 * out->fields. Numbers become decimal text, timestamp fields ISO-8601 UTC;
 * "full_name" becomes first_name (first word) and last_name (the other
 * words joined by one space). Every contact gets CATALOG_BASE_TAG. Charges,
 * invoices and checkout sessions (mode payment or subscription) give
 * out->order; subscriptions and checkout sessions in subscription mode
 * give out->recurring.
 *
 * Returns SL_OK; SL_ERR_INVALID when no contact can be made, with
 * out->skip_reason a sentence saying why ("no email: billing_details.email
 * is null") and out->object_* filled as far as known. When the email
 * alone is missing, everything else (fields, customer_id, order,
 * recurring) is filled all the same: a caller that finds the contact
 * through the linked customer id may still use it. When obj is not an
 * An amount that is present but not an integer (or missing where the
 * order needs one) sets out->reject_reason (and skip_reason) and returns
 * SL_ERR_INVALID: such an object must not be applied at all.
 * object or is of another resource, nothing else is filled. SL_ERR_NOMEM
 * when memory runs out (out is then partly filled; clear it).
 */
sl_err mapping_apply(const struct mapping *m, json_object *obj,
		     json_object *customer, struct change_set *out);

/*
 * Reads a refund (effect EFFECT_REFUND) or a dispute (EFFECT_DISPUTE)
 * object into out, which must have been initialised (anything it held is
 * released first): out->refunds[0] or out->dispute, out->object_* and the
 * base tag; no contact (the caller finds it through the charge's order).
 * No mapping: the few fields read are the same in every API version.
 *
 * Returns SL_OK; SL_ERR_INVALID with out->skip_reason when obj is not an
 * object of that kind or names no id or charge, and with
 * out->reject_reason too when its amount is missing or not an integer;
 * SL_ERR_NOMEM when memory runs out. obj is borrowed.
 */
sl_err mapping_apply_money(enum event_effect effect, json_object *obj,
			   struct change_set *out);

/* Makes an invoice's change set (mapping_apply on an invoice) say that its
 * subscription's payment failed: out->recurring names the subscription with
 * status "past_due", or "incomplete" for the subscription's first invoice
 * (billing_reason subscription_create), and nothing else (what is stored
 * stays). Nothing happens when the invoice has no subscription. */
void change_set_past_due(struct change_set *cs);

#endif
