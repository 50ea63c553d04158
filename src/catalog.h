/*
 * catalog.h - what stripelink knows about Stripe, as tables.
 *
 * Four read-only catalogues, each an array indexed by an enum that ends in
 * a __MAX sentinel (or, for fields, one array per resource):
 *
 *   resources  the five Stripe resources a connection can sync: slug,
 *              label, list path, object name, id prefix, default mapping;
 *   fields     per resource, the Stripe fields a mapping may read: dot
 *              path, label, type, email candidate, needs the customer;
 *   events     the webhook event types that do something, and what;
 *   targets    the CRM's built-in fields (plus the "full_name" pseudo
 *              target); custom field keys are known only to the store.
 *
 * Everything here is static storage: never freed, safe from any thread.
 */
#ifndef STRIPELINK_CATALOG_H
#define STRIPELINK_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

/* Tag every synced contact gets; each event adds its own (see events). */
#define CATALOG_BASE_TAG "stripe-integration"

/* Longest CRM field key accepted (custom field slugs are [a-z0-9_]). */
#define CATALOG_KEY_MAX 64

/* ---- resources ---------------------------------------------------------- */

enum resource {
	RESOURCE_CHARGE,
	RESOURCE_CUSTOMER,
	RESOURCE_SUBSCRIPTION,
	RESOURCE_INVOICE,
	RESOURCE_CHECKOUT_SESSION,
	RESOURCE__MAX
};

struct catalog_resource {
	const char *slug;          /* "checkout_session": URLs, forms, the database */
	const char *label;         /* "Checkout Session": shown to the user */
	const char *list_path;     /* "/v1/checkout/sessions": Stripe list API */
	const char *object_name;   /* "checkout.session": Stripe's "object" */
	const char *id_prefix;     /* "cs_": ids of this resource start so */
	const char *default_email; /* mapping_default(): best email candidate */
	const char *default_name;  /* mapping_default(): name → full_name, or NULL */
	const char *default_phone; /* mapping_default(): phone → phone, or NULL */
	bool has_customer;         /* the object carries a "customer" id */
	bool refetch_on_tie;       /* state-sensitive: two events of one second are
				      settled by GET list_path/<id> (refetch.h) */
};

/* Returns the row of resource r, or NULL when r is out of range. */
const struct catalog_resource *catalog_resource(enum resource r);

/* Returns the resource whose slug is slug ("charge"), or RESOURCE__MAX
 * when unknown or NULL. */
enum resource catalog_resource_by_slug(const char *slug);

/* Returns the resource whose Stripe object name is name
 * ("checkout.session"), or RESOURCE__MAX when unknown or NULL. */
enum resource catalog_resource_by_object(const char *name);

/* ---- Stripe fields ------------------------------------------------------ */

enum field_type {
	FIELD_TYPE_STRING,
	FIELD_TYPE_EMAIL,
	FIELD_TYPE_NAME,
	FIELD_TYPE_PHONE,
	FIELD_TYPE_AMOUNT,    /* integer, minor units */
	FIELD_TYPE_CURRENCY,  /* ISO code, lower case as Stripe sends it */
	FIELD_TYPE_TIMESTAMP, /* Unix seconds; rendered as ISO-8601 UTC */
	FIELD_TYPE_ID,        /* a Stripe id, or an expanded object's id */
	FIELD_TYPE_STATUS,
	FIELD_TYPE_NUMBER,    /* a count (quantity); rendered in decimal */
	FIELD_TYPE_BOOLEAN,   /* rendered "true" or "false" */
	FIELD_TYPE__MAX
};

/*
 * One Stripe field of one resource. path is a dot path from the object;
 * "customer.x" reads field x of the customer (expanded, or looked up by
 * the caller); a path ending in ".*" stands for any one free key there
 * ("metadata.*" matches "metadata.plan" and "metadata.a.b", the key being
 * "a.b"). A segment of digits indexes an array ("items.data.0.price.id").
 */
struct catalog_field {
	enum resource resource;
	const char *path;
	const char *label;          /* "Billing email" */
	enum field_type type;
	bool is_email_candidate;    /* offered for the required email row */
	bool needs_customer;        /* reads the customer object (customer.*) */
};

/* Returns the i-th field of resource r, or NULL when i or r is out of
 * range; iterate with i = 0, 1, ... until NULL. */
const struct catalog_field *catalog_field_at(enum resource r, size_t i);

/* Returns the number of fields of resource r (0 when out of range). */
size_t catalog_field_count(enum resource r);

/* Returns the field of resource r with this path, or NULL. A free key
 * under a wildcard row ("metadata.plan") returns the wildcard row
 * ("metadata.*"); the key must be non-empty. */
const struct catalog_field *catalog_field_find(enum resource r,
					       const char *path);

/* Returns true when the row's path ends in ".*" (a free key). */
bool catalog_field_is_wildcard(const struct catalog_field *f);

/* Returns the lower-case name of a field type ("timestamp"), never NULL. */
const char *catalog_field_type_name(enum field_type t);

/* ---- webhook events ----------------------------------------------------- */

enum event_kind {
	EVENT_CUSTOMER_CREATED,
	EVENT_CUSTOMER_UPDATED,
	EVENT_CHARGE_SUCCEEDED,
	EVENT_CHARGE_REFUNDED,
	EVENT_CHECKOUT_SESSION_COMPLETED,
	EVENT_INVOICE_PAID,
	EVENT_INVOICE_PAYMENT_SUCCEEDED,
	EVENT_INVOICE_PAYMENT_FAILED,
	EVENT_SUBSCRIPTION_CREATED,
	EVENT_SUBSCRIPTION_UPDATED,
	EVENT_SUBSCRIPTION_DELETED,
	EVENT_SUBSCRIPTION_TRIAL_WILL_END,
	EVENT_CHARGE_REFUND_UPDATED,
	EVENT_REFUND_CREATED,
	EVENT_REFUND_UPDATED,
	EVENT_REFUND_FAILED,
	EVENT_DISPUTE_CREATED,
	EVENT_DISPUTE_UPDATED,
	EVENT_DISPUTE_CLOSED,
	EVENT_CUSTOMER_DELETED,
	EVENT__MAX
};

/* Stripe's GET /v1/events takes at most 20 names in types[]: the catch-up
 * asks for every type in this catalogue at once. */
#define CATALOG_EVENT_TYPES_MAX 20

enum order_action {
	ORDER_NONE,
	ORDER_CREATE,
	ORDER_REFUND,   /* update the existing order with the refund */
};

enum recurring_action {
	RECURRING_NONE,
	RECURRING_UPSERT,              /* create or keep status current */
	RECURRING_IF_SUBSCRIPTION_MODE,/* only when the checkout session's mode
					  is "subscription" */
	RECURRING_PAST_DUE             /* an invoice's failed payment: its
					  subscription is past due (see
					  change_set_past_due) */
};

/* What an event does besides the contact, order and recurring payment. */
enum event_effect {
	EFFECT_NONE,
	EFFECT_REFUND,           /* data.object is a refund: recorded by its id;
				    its charge's order is brought up to date */
	EFFECT_DISPUTE,          /* data.object is a dispute of a charge */
	EFFECT_CUSTOMER_DELETED, /* the customer's link is marked deleted; the
				    contact and everything synced stay */
};

struct catalog_event {
	enum event_kind kind;
	const char *type;        /* Stripe's event type, "charge.succeeded" */
	const char *tag;         /* "stripe-integration-charge-succeeded" */
	enum resource resource;  /* what data.object is; for a refund or a
				    dispute (see effect): the charge, whose
				    order's contact it concerns */
	bool contact;            /* create or update the contact */
	enum order_action order;
	enum recurring_action recurring;
	enum event_effect effect;
};

/* Returns the row of event kind k, or NULL when out of range. */
const struct catalog_event *catalog_event(enum event_kind k);

/* Returns the row for a Stripe event type ("invoice.paid"), or NULL for
 * every other type (those are acknowledged and logged as ignored). */
const struct catalog_event *catalog_event_find(const char *type);

/* ---- CRM targets -------------------------------------------------------- */

enum crm_target {
	TARGET_EMAIL,
	TARGET_FIRST_NAME,
	TARGET_LAST_NAME,
	TARGET_PHONE,
	TARGET_FULL_NAME, /* pseudo: split into first_name and last_name */
	TARGET__MAX
};

struct catalog_target {
	const char *key;   /* "first_name" */
	const char *label; /* "First name" */
	bool pseudo;       /* not a stored field (full_name) */
};

/* Returns the row of built-in target t, or NULL when out of range. */
const struct catalog_target *catalog_target(enum crm_target t);

/* Returns the built-in target whose key is key, or TARGET__MAX when key is
 * not built in (it may still be a custom field the store knows). */
enum crm_target catalog_target_by_key(const char *key);

/* Returns true when key is a well-formed CRM field key: 1 to
 * CATALOG_KEY_MAX characters of [a-z0-9_]. Says nothing about existence. */
bool catalog_key_is_valid(const char *key);

/* ---- currencies --------------------------------------------------------- */

/* One ISO 4217 currency whose minor unit is not the usual two decimals;
 * every code not in the table has two. */
struct catalog_currency {
	const char *code;   /* lower case, as Stripe sends it: "jpy" */
	int decimals;       /* digits after the point: 0 (JPY) or 3 (KWD) */
};

/* Returns the number of decimals of currency code (any case), 2 when the
 * code is unknown or NULL. */
int catalog_currency_decimals(const char *code);

/* Longest text catalog_money_format() writes, with its NUL. */
#define CATALOG_MONEY_MAX 48

/* Writes "1,234.56 USD", "1,000 JPY", "-1.500 KWD" for minor units of
 * currency code into out (CATALOG_MONEY_MAX bytes, owned by the caller):
 * thousands grouped with ',', the currency's own decimals, the code in
 * upper case (left out when code is NULL or empty). Returns out. */
char *catalog_money_format(char out[CATALOG_MONEY_MAX], long long minor,
			   const char *code);

#endif
