/*
 * catalog.c - the resource, field, event and CRM target tables.
 *
 * Adding a Stripe field is adding a row to its resource's array below;
 * adding an event type is adding an enum constant in catalog.h and a row
 * here. Nothing else branches on resource, field or event names.
 */
#include <string.h>

#include "catalog.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- resources ---------------------------------------------------------- */

static const struct catalog_resource resources[] = {
	[RESOURCE_CHARGE] = {
		.slug = "charge",
		.label = "Charge",
		.list_path = "/v1/charges",
		.object_name = "charge",
		.id_prefix = "ch_",
		.default_email = "billing_details.email",
		.default_name = "billing_details.name",
		.default_phone = "billing_details.phone",
		.has_customer = true,
		.refetch_on_tie = true,
	},
	[RESOURCE_CUSTOMER] = {
		.slug = "customer",
		.label = "Customer",
		.list_path = "/v1/customers",
		.object_name = "customer",
		.id_prefix = "cus_",
		.default_email = "email",
		.default_name = "name",
		.default_phone = "phone",
		.has_customer = false,
		.refetch_on_tie = false,
	},
	[RESOURCE_SUBSCRIPTION] = {
		.slug = "subscription",
		.label = "Subscription",
		.list_path = "/v1/subscriptions",
		.object_name = "subscription",
		.id_prefix = "sub_",
		.default_email = "customer.email",
		.default_name = "customer.name",
		.default_phone = "customer.phone",
		.has_customer = true,
		.refetch_on_tie = true,
	},
	[RESOURCE_INVOICE] = {
		.slug = "invoice",
		.label = "Invoice",
		.list_path = "/v1/invoices",
		.object_name = "invoice",
		.id_prefix = "in_",
		.default_email = "customer_email",
		.default_name = "customer_name",
		.default_phone = "customer_phone",
		.has_customer = true,
		.refetch_on_tie = true,
	},
	[RESOURCE_CHECKOUT_SESSION] = {
		.slug = "checkout_session",
		.label = "Checkout Session",
		.list_path = "/v1/checkout/sessions",
		.object_name = "checkout.session",
		.id_prefix = "cs_",
		.default_email = "customer_details.email",
		.default_name = "customer_details.name",
		.default_phone = "customer_details.phone",
		.has_customer = true,
		.refetch_on_tie = true,
	},
};
_Static_assert(N_ELEMS(resources) == RESOURCE__MAX,
	       "every resource needs a row");

const struct catalog_resource *catalog_resource(enum resource r)
{
	if ((unsigned)r >= RESOURCE__MAX)
		return NULL;
	return &resources[r];
}

enum resource catalog_resource_by_slug(const char *slug)
{
	if (!slug)
		return RESOURCE__MAX;
	for (unsigned r = 0; r < RESOURCE__MAX; r++)
		if (strcmp(resources[r].slug, slug) == 0)
			return (enum resource)r;
	return RESOURCE__MAX;
}

enum resource catalog_resource_by_object(const char *name)
{
	if (!name)
		return RESOURCE__MAX;
	for (unsigned r = 0; r < RESOURCE__MAX; r++)
		if (strcmp(resources[r].object_name, name) == 0)
			return (enum resource)r;
	return RESOURCE__MAX;
}

/* ---- Stripe fields ------------------------------------------------------ */

/* F(resource, path, label, type, email candidate, needs customer) */
#define F(res, path, label, type, email, cust) \
	{ RESOURCE_##res, path, label, FIELD_TYPE_##type, email, cust }

/* The six parts of a Stripe address hash under path, labelled "label …". */
#define ADDRESS(res, path, label, cust) \
	F(res, path ".line1", label " line 1", STRING, false, cust), \
	F(res, path ".line2", label " line 2", STRING, false, cust), \
	F(res, path ".city", label " city", STRING, false, cust), \
	F(res, path ".state", label " state", STRING, false, cust), \
	F(res, path ".postal_code", label " postal code", STRING, false, cust), \
	F(res, path ".country", label " country", STRING, false, cust)

/* The expanded (or looked-up) customer's own fields, for resources that
 * belong to a customer. */
#define CUSTOMER_OBJECT(res) \
	F(res, "customer.email", "Customer email", EMAIL, true, true), \
	F(res, "customer.name", "Customer name", NAME, false, true), \
	F(res, "customer.phone", "Customer phone", PHONE, false, true), \
	F(res, "customer.description", "Customer description", STRING, \
	  false, true), \
	ADDRESS(res, "customer.address", "Customer address", true), \
	F(res, "customer.metadata.*", "Customer metadata (key)", STRING, \
	  false, true)

static const struct catalog_field charge_fields[] = {
	F(CHARGE, "id", "Charge ID", ID, false, false),
	F(CHARGE, "customer", "Customer ID", ID, false, false),
	F(CHARGE, "billing_details.email", "Billing email", EMAIL, true, false),
	F(CHARGE, "receipt_email", "Receipt email", EMAIL, true, false),
	F(CHARGE, "billing_details.name", "Billing name", NAME, false, false),
	F(CHARGE, "billing_details.phone", "Billing phone", PHONE, false,
	  false),
	ADDRESS(CHARGE, "billing_details.address", "Billing address", false),
	F(CHARGE, "shipping.name", "Shipping name", NAME, false, false),
	F(CHARGE, "shipping.phone", "Shipping phone", PHONE, false, false),
	ADDRESS(CHARGE, "shipping.address", "Shipping address", false),
	F(CHARGE, "amount", "Amount", AMOUNT, false, false),
	F(CHARGE, "amount_captured", "Amount captured", AMOUNT, false, false),
	F(CHARGE, "amount_refunded", "Amount refunded", AMOUNT, false, false),
	F(CHARGE, "currency", "Currency", CURRENCY, false, false),
	F(CHARGE, "status", "Status", STATUS, false, false),
	F(CHARGE, "refunded", "Refunded", BOOLEAN, false, false),
	F(CHARGE, "created", "Created", TIMESTAMP, false, false),
	F(CHARGE, "description", "Description", STRING, false, false),
	F(CHARGE, "payment_intent", "Payment intent ID", ID, false, false),
	F(CHARGE, "receipt_number", "Receipt number", STRING, false, false),
	F(CHARGE, "receipt_url", "Receipt URL", STRING, false, false),
	F(CHARGE, "statement_descriptor", "Statement descriptor", STRING,
	  false, false),
	F(CHARGE, "metadata.*", "Metadata (key)", STRING, false, false),
	CUSTOMER_OBJECT(CHARGE),
};

static const struct catalog_field customer_fields[] = {
	F(CUSTOMER, "id", "Customer ID", ID, false, false),
	F(CUSTOMER, "email", "Email", EMAIL, true, false),
	F(CUSTOMER, "name", "Name", NAME, false, false),
	F(CUSTOMER, "phone", "Phone", PHONE, false, false),
	F(CUSTOMER, "description", "Description", STRING, false, false),
	ADDRESS(CUSTOMER, "address", "Address", false),
	F(CUSTOMER, "shipping.name", "Shipping name", NAME, false, false),
	F(CUSTOMER, "shipping.phone", "Shipping phone", PHONE, false, false),
	ADDRESS(CUSTOMER, "shipping.address", "Shipping address", false),
	F(CUSTOMER, "balance", "Balance", AMOUNT, false, false),
	F(CUSTOMER, "currency", "Currency", CURRENCY, false, false),
	F(CUSTOMER, "created", "Created", TIMESTAMP, false, false),
	F(CUSTOMER, "invoice_prefix", "Invoice prefix", STRING, false, false),
	F(CUSTOMER, "delinquent", "Delinquent", BOOLEAN, false, false),
	F(CUSTOMER, "metadata.*", "Metadata (key)", STRING, false, false),
};

static const struct catalog_field subscription_fields[] = {
	F(SUBSCRIPTION, "id", "Subscription ID", ID, false, false),
	F(SUBSCRIPTION, "customer", "Customer ID", ID, false, false),
	F(SUBSCRIPTION, "status", "Status", STATUS, false, false),
	F(SUBSCRIPTION, "created", "Created", TIMESTAMP, false, false),
	F(SUBSCRIPTION, "start_date", "Start date", TIMESTAMP, false, false),
	F(SUBSCRIPTION, "items.data.0.current_period_start",
	  "Current period start", TIMESTAMP, false, false),
	F(SUBSCRIPTION, "items.data.0.current_period_end",
	  "Current period end", TIMESTAMP, false, false),
	F(SUBSCRIPTION, "trial_start", "Trial start", TIMESTAMP, false, false),
	F(SUBSCRIPTION, "trial_end", "Trial end", TIMESTAMP, false, false),
	F(SUBSCRIPTION, "cancel_at", "Cancels at", TIMESTAMP, false, false),
	F(SUBSCRIPTION, "canceled_at", "Canceled at", TIMESTAMP, false, false),
	F(SUBSCRIPTION, "ended_at", "Ended at", TIMESTAMP, false, false),
	F(SUBSCRIPTION, "cancel_at_period_end", "Cancels at period end",
	  BOOLEAN, false, false),
	F(SUBSCRIPTION, "currency", "Currency", CURRENCY, false, false),
	F(SUBSCRIPTION, "description", "Description", STRING, false, false),
	F(SUBSCRIPTION, "collection_method", "Collection method", STATUS,
	  false, false),
	F(SUBSCRIPTION, "items.data.0.price.id", "Price ID", ID, false, false),
	F(SUBSCRIPTION, "items.data.0.price.product", "Product ID", ID, false,
	  false),
	F(SUBSCRIPTION, "items.data.0.price.nickname", "Price nickname",
	  STRING, false, false),
	F(SUBSCRIPTION, "items.data.0.price.unit_amount", "Price amount",
	  AMOUNT, false, false),
	F(SUBSCRIPTION, "items.data.0.price.recurring.interval",
	  "Billing interval", STATUS, false, false),
	F(SUBSCRIPTION, "items.data.0.quantity", "Quantity", NUMBER, false,
	  false),
	F(SUBSCRIPTION, "items.data.0.price.recurring.interval_count",
	  "Billing interval count", NUMBER, false, false),
	F(SUBSCRIPTION, "latest_invoice", "Latest invoice ID", ID, false,
	  false),
	F(SUBSCRIPTION, "metadata.*", "Metadata (key)", STRING, false, false),
	CUSTOMER_OBJECT(SUBSCRIPTION),
};

static const struct catalog_field invoice_fields[] = {
	F(INVOICE, "id", "Invoice ID", ID, false, false),
	F(INVOICE, "number", "Invoice number", STRING, false, false),
	F(INVOICE, "customer", "Customer ID", ID, false, false),
	F(INVOICE, "customer_email", "Customer email (on the invoice)", EMAIL,
	  true, false),
	F(INVOICE, "customer_name", "Customer name (on the invoice)", NAME,
	  false, false),
	F(INVOICE, "customer_phone", "Customer phone (on the invoice)", PHONE,
	  false, false),
	ADDRESS(INVOICE, "customer_address", "Customer address (on the invoice)",
		false),
	F(INVOICE, "amount_due", "Amount due", AMOUNT, false, false),
	F(INVOICE, "amount_paid", "Amount paid", AMOUNT, false, false),
	F(INVOICE, "amount_remaining", "Amount remaining", AMOUNT, false,
	  false),
	F(INVOICE, "subtotal", "Subtotal", AMOUNT, false, false),
	F(INVOICE, "total", "Total", AMOUNT, false, false),
	F(INVOICE, "currency", "Currency", CURRENCY, false, false),
	F(INVOICE, "status", "Status", STATUS, false, false),
	F(INVOICE, "billing_reason", "Billing reason", STATUS, false, false),
	F(INVOICE, "created", "Created", TIMESTAMP, false, false),
	F(INVOICE, "due_date", "Due date", TIMESTAMP, false, false),
	F(INVOICE, "period_start", "Period start", TIMESTAMP, false, false),
	F(INVOICE, "period_end", "Period end", TIMESTAMP, false, false),
	F(INVOICE, "status_transitions.paid_at", "Paid at", TIMESTAMP, false,
	  false),
	F(INVOICE, "description", "Description", STRING, false, false),
	F(INVOICE, "hosted_invoice_url", "Invoice page URL", STRING, false,
	  false),
	F(INVOICE, "invoice_pdf", "Invoice PDF URL", STRING, false, false),
	F(INVOICE, "subscription", "Subscription ID (older API versions)", ID,
	  false, false),
	F(INVOICE, "parent.subscription_details.subscription",
	  "Subscription ID", ID, false, false),
	F(INVOICE, "metadata.*", "Metadata (key)", STRING, false, false),
	CUSTOMER_OBJECT(INVOICE),
};

static const struct catalog_field checkout_session_fields[] = {
	F(CHECKOUT_SESSION, "id", "Checkout Session ID", ID, false, false),
	F(CHECKOUT_SESSION, "customer", "Customer ID", ID, false, false),
	F(CHECKOUT_SESSION, "customer_details.email",
	  "Customer email (entered at checkout)", EMAIL, true, false),
	F(CHECKOUT_SESSION, "customer_email", "Prefilled customer email",
	  EMAIL, true, false),
	F(CHECKOUT_SESSION, "customer_details.name",
	  "Customer name (entered at checkout)", NAME, false, false),
	F(CHECKOUT_SESSION, "customer_details.phone",
	  "Customer phone (entered at checkout)", PHONE, false, false),
	F(CHECKOUT_SESSION, "customer_details.business_name", "Business name",
	  STRING, false, false),
	ADDRESS(CHECKOUT_SESSION, "customer_details.address",
		"Customer address (entered at checkout)", false),
	F(CHECKOUT_SESSION, "collected_information.shipping_details.name",
	  "Shipping name", NAME, false, false),
	ADDRESS(CHECKOUT_SESSION,
		"collected_information.shipping_details.address",
		"Shipping address", false),
	F(CHECKOUT_SESSION, "amount_total", "Amount total", AMOUNT, false,
	  false),
	F(CHECKOUT_SESSION, "amount_subtotal", "Amount subtotal", AMOUNT,
	  false, false),
	F(CHECKOUT_SESSION, "currency", "Currency", CURRENCY, false, false),
	F(CHECKOUT_SESSION, "status", "Status", STATUS, false, false),
	F(CHECKOUT_SESSION, "payment_status", "Payment status", STATUS, false,
	  false),
	F(CHECKOUT_SESSION, "mode", "Mode", STATUS, false, false),
	F(CHECKOUT_SESSION, "created", "Created", TIMESTAMP, false, false),
	F(CHECKOUT_SESSION, "expires_at", "Expires at", TIMESTAMP, false,
	  false),
	F(CHECKOUT_SESSION, "subscription", "Subscription ID", ID, false,
	  false),
	F(CHECKOUT_SESSION, "payment_intent", "Payment intent ID", ID, false,
	  false),
	F(CHECKOUT_SESSION, "invoice", "Invoice ID", ID, false, false),
	F(CHECKOUT_SESSION, "client_reference_id", "Client reference ID",
	  STRING, false, false),
	F(CHECKOUT_SESSION, "metadata.*", "Metadata (key)", STRING, false,
	  false),
	CUSTOMER_OBJECT(CHECKOUT_SESSION),
};

#undef CUSTOMER_OBJECT
#undef ADDRESS
#undef F

static const struct {
	const struct catalog_field *rows;
	size_t count;
} fields[] = {
	[RESOURCE_CHARGE] = {charge_fields, N_ELEMS(charge_fields)},
	[RESOURCE_CUSTOMER] = {customer_fields, N_ELEMS(customer_fields)},
	[RESOURCE_SUBSCRIPTION] = {subscription_fields,
				   N_ELEMS(subscription_fields)},
	[RESOURCE_INVOICE] = {invoice_fields, N_ELEMS(invoice_fields)},
	[RESOURCE_CHECKOUT_SESSION] = {checkout_session_fields,
				       N_ELEMS(checkout_session_fields)},
};
_Static_assert(N_ELEMS(fields) == RESOURCE__MAX,
	       "every resource needs a field list");

static const char *const field_type_names[] = {
	[FIELD_TYPE_STRING] = "string",
	[FIELD_TYPE_EMAIL] = "email",
	[FIELD_TYPE_NAME] = "name",
	[FIELD_TYPE_PHONE] = "phone",
	[FIELD_TYPE_AMOUNT] = "amount",
	[FIELD_TYPE_CURRENCY] = "currency",
	[FIELD_TYPE_TIMESTAMP] = "timestamp",
	[FIELD_TYPE_ID] = "id",
	[FIELD_TYPE_STATUS] = "status",
	[FIELD_TYPE_NUMBER] = "number",
	[FIELD_TYPE_BOOLEAN] = "boolean",
};
_Static_assert(N_ELEMS(field_type_names) == FIELD_TYPE__MAX,
	       "every field type needs a name");

const struct catalog_field *catalog_field_at(enum resource r, size_t i)
{
	if ((unsigned)r >= RESOURCE__MAX || i >= fields[r].count)
		return NULL;
	return &fields[r].rows[i];
}

size_t catalog_field_count(enum resource r)
{
	if ((unsigned)r >= RESOURCE__MAX)
		return 0;
	return fields[r].count;
}

bool catalog_field_is_wildcard(const struct catalog_field *f)
{
	size_t n = strlen(f->path);

	return n >= 2 && f->path[n - 2] == '.' && f->path[n - 1] == '*';
}

const struct catalog_field *catalog_field_find(enum resource r,
					       const char *path)
{
	if ((unsigned)r >= RESOURCE__MAX || !path)
		return NULL;
	for (size_t i = 0; i < fields[r].count; i++) {
		const struct catalog_field *f = &fields[r].rows[i];

		if (strcmp(f->path, path) == 0)
			return f;
		if (catalog_field_is_wildcard(f)) {
			size_t stem = strlen(f->path) - 1; /* keeps the '.' */

			if (strncmp(f->path, path, stem) == 0 &&
			    path[stem] != '\0')
				return f;
		}
	}
	return NULL;
}

const char *catalog_field_type_name(enum field_type t)
{
	if ((unsigned)t >= FIELD_TYPE__MAX)
		return "unknown";
	return field_type_names[t];
}

/* ---- webhook events ----------------------------------------------------- */

/* E(kind, type, tag suffix, resource, contact, order, recurring, effect) */
#define E(kind, type, tag, res, contact, order, recurring, effect) \
	[EVENT_##kind] = { EVENT_##kind, type, CATALOG_BASE_TAG "-" tag, \
			   RESOURCE_##res, contact, ORDER_##order, \
			   RECURRING_##recurring, EFFECT_##effect }

static const struct catalog_event events[] = {
	E(CUSTOMER_CREATED, "customer.created", "customer-created",
	  CUSTOMER, true, NONE, NONE, NONE),
	E(CUSTOMER_UPDATED, "customer.updated", "customer-updated",
	  CUSTOMER, true, NONE, NONE, NONE),
	E(CHARGE_SUCCEEDED, "charge.succeeded", "charge-succeeded",
	  CHARGE, true, CREATE, NONE, NONE),
	E(CHARGE_REFUNDED, "charge.refunded", "charge-refunded",
	  CHARGE, true, REFUND, NONE, NONE),
	E(CHECKOUT_SESSION_COMPLETED, "checkout.session.completed",
	  "checkout-session-completed",
	  CHECKOUT_SESSION, true, CREATE, IF_SUBSCRIPTION_MODE, NONE),
	E(INVOICE_PAID, "invoice.paid", "invoice-paid",
	  INVOICE, true, CREATE, NONE, NONE),
	E(INVOICE_PAYMENT_SUCCEEDED, "invoice.payment_succeeded",
	  "invoice-payment-succeeded",
	  INVOICE, true, CREATE, NONE, NONE),
	E(INVOICE_PAYMENT_FAILED, "invoice.payment_failed",
	  "invoice-payment-failed",
	  INVOICE, true, NONE, PAST_DUE, NONE),
	E(SUBSCRIPTION_CREATED, "customer.subscription.created",
	  "customer-subscription-created",
	  SUBSCRIPTION, true, NONE, UPSERT, NONE),
	E(SUBSCRIPTION_UPDATED, "customer.subscription.updated",
	  "customer-subscription-updated",
	  SUBSCRIPTION, true, NONE, UPSERT, NONE),
	E(SUBSCRIPTION_DELETED, "customer.subscription.deleted",
	  "customer-subscription-deleted",
	  SUBSCRIPTION, true, NONE, UPSERT, NONE),
	/* a notice, not a change: the tag only */
	E(SUBSCRIPTION_TRIAL_WILL_END, "customer.subscription.trial_will_end",
	  "customer-subscription-trial-will-end",
	  SUBSCRIPTION, true, NONE, NONE, NONE),
	/* refunds and disputes are objects of their own, each kept by its id;
	 * the contact is the one of the charge's order */
	E(CHARGE_REFUND_UPDATED, "charge.refund.updated",
	  "charge-refund-updated", CHARGE, true, NONE, NONE, REFUND),
	E(REFUND_CREATED, "refund.created", "refund-created",
	  CHARGE, true, NONE, NONE, REFUND),
	E(REFUND_UPDATED, "refund.updated", "refund-updated",
	  CHARGE, true, NONE, NONE, REFUND),
	E(REFUND_FAILED, "refund.failed", "refund-failed",
	  CHARGE, true, NONE, NONE, REFUND),
	E(DISPUTE_CREATED, "charge.dispute.created", "charge-dispute-created",
	  CHARGE, true, NONE, NONE, DISPUTE),
	E(DISPUTE_UPDATED, "charge.dispute.updated", "charge-dispute-updated",
	  CHARGE, true, NONE, NONE, DISPUTE),
	E(DISPUTE_CLOSED, "charge.dispute.closed", "charge-dispute-closed",
	  CHARGE, true, NONE, NONE, DISPUTE),
	E(CUSTOMER_DELETED, "customer.deleted", "customer-deleted",
	  CUSTOMER, true, NONE, NONE, CUSTOMER_DELETED),
};
_Static_assert(N_ELEMS(events) == EVENT__MAX, "every event needs a row");
_Static_assert(EVENT__MAX <= CATALOG_EVENT_TYPES_MAX,
	       "the catch-up lists every type in one types[] of at most 20");

#undef E

const struct catalog_event *catalog_event(enum event_kind k)
{
	if ((unsigned)k >= EVENT__MAX)
		return NULL;
	return &events[k];
}

const struct catalog_event *catalog_event_find(const char *type)
{
	if (!type)
		return NULL;
	for (unsigned k = 0; k < EVENT__MAX; k++)
		if (strcmp(events[k].type, type) == 0)
			return &events[k];
	return NULL;
}

/* ---- CRM targets -------------------------------------------------------- */

static const struct catalog_target targets[] = {
	[TARGET_EMAIL] = {"email", "Email", false},
	[TARGET_FIRST_NAME] = {"first_name", "First name", false},
	[TARGET_LAST_NAME] = {"last_name", "Last name", false},
	[TARGET_PHONE] = {"phone", "Phone", false},
	[TARGET_FULL_NAME] = {"full_name",
			      "Full name (split into First and Last name)",
			      true},
};
_Static_assert(N_ELEMS(targets) == TARGET__MAX, "every target needs a row");

const struct catalog_target *catalog_target(enum crm_target t)
{
	if ((unsigned)t >= TARGET__MAX)
		return NULL;
	return &targets[t];
}

enum crm_target catalog_target_by_key(const char *key)
{
	if (!key)
		return TARGET__MAX;
	for (unsigned t = 0; t < TARGET__MAX; t++)
		if (strcmp(targets[t].key, key) == 0)
			return (enum crm_target)t;
	return TARGET__MAX;
}

bool catalog_key_is_valid(const char *key)
{
	size_t n = 0;

	if (!key)
		return false;
	for (; key[n]; n++) {
		char c = key[n];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return false;
		if (n >= CATALOG_KEY_MAX)
			return false;
	}
	return n > 0;
}

/* ---- currencies --------------------------------------------------------- */

/* ISO 4217 minor units that are not two (Stripe's zero-decimal and
 * three-decimal lists). */
static const struct catalog_currency currencies[] = {
	{"bif", 0}, {"clp", 0}, {"djf", 0}, {"gnf", 0}, {"isk", 0},
	{"jpy", 0}, {"kmf", 0}, {"krw", 0}, {"mga", 0}, {"pyg", 0},
	{"rwf", 0}, {"ugx", 0}, {"vnd", 0}, {"vuv", 0}, {"xaf", 0},
	{"xof", 0}, {"xpf", 0},
	{"bhd", 3}, {"jod", 3}, {"kwd", 3}, {"omr", 3}, {"tnd", 3},
};

int catalog_currency_decimals(const char *code)
{
	if (!code)
		return 2;
	for (size_t i = 0; i < N_ELEMS(currencies); i++) {
		const char *c = currencies[i].code;
		size_t k = 0;
		while (c[k] && code[k] &&
		       (code[k] == c[k] || code[k] == c[k] - ('a' - 'A')))
			k++;
		if (!c[k] && !code[k])
			return currencies[i].decimals;
	}
	return 2;
}

char *catalog_money_format(char out[CATALOG_MONEY_MAX], long long minor,
			   const char *code)
{
	int decimals = catalog_currency_decimals(code);
	/* magnitude as unsigned so LLONG_MIN has one too */
	unsigned long long mag = minor < 0 ? 0ULL - (unsigned long long)minor
					   : (unsigned long long)minor;
	char digits[24];
	int nd = 0;
	do {
		digits[nd++] = (char)('0' + mag % 10);
		mag /= 10;
	} while (mag);
	while (nd <= decimals)
		digits[nd++] = '0';          /* 5 minor units of USD: "0.05" */
	size_t o = 0;
	if (minor < 0)
		out[o++] = '-';
	for (int i = nd - 1; i >= decimals; i--) {
		out[o++] = digits[i];
		int left = i - decimals;     /* whole digits still to write */
		if (left > 0 && left % 3 == 0)
			out[o++] = ',';
	}
	if (decimals > 0) {
		out[o++] = '.';
		for (int i = decimals - 1; i >= 0; i--)
			out[o++] = digits[i];
	}
	if (code && *code) {
		out[o++] = ' ';
		for (size_t i = 0; code[i] && i < 8; i++)
			out[o++] = (char)(code[i] >= 'a' && code[i] <= 'z'
					  ? code[i] - ('a' - 'A') : code[i]);
	}
	out[o] = '\0';
	return out;
}
