/*
 * test_mapping.c - the catalogue, mapping validation, and the data-driven
 * mapping cases.
 *
 * Usage: test_mapping [CASE_DIR_OR_FILE...]   (default tests/mapping/cases)
 *
 * Each case is one JSON file:
 *   {"description": "...", "resource": "charge",
 *    "object": {a Stripe object}, "customer": {optional customer object},
 *    "mapping": {mapping_from_json() form; "resource" may be left out} or
 *               "default" (mapping_default()),
 *    or, for a refund or a dispute object, "money": "refund" / "dispute"
 *    (mapping_apply_money(); no "resource" or "mapping"),
 *    "expect": {a subset of change_set_to_json(): only the keys given are
 *               compared, recursively through objects; null means "absent";
 *               "skip": "text" expects SL_ERR_INVALID with a skip reason
 *               containing text; "needs_customer": bool checks
 *               mapping_needs_customer()}}
 * Every case's mapping must also pass mapping_validate() (any well-formed
 * custom key counts as existing) and survive mapping_to_json() unchanged.
 * The run fails when no case is found.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "catalog.h"
#include "mapping.h"

#define DEFAULT_CASE_DIR "tests/mapping/cases"

/* ---- catalogue ---------------------------------------------------------- */

static void test_resources_round_trip(void **state)
{
	(void)state;
	for (unsigned r = 0; r < RESOURCE__MAX; r++) {
		const struct catalog_resource *res = catalog_resource(r);

		assert_non_null(res);
		assert_true(res->label[0] != '\0');
		assert_int_equal(catalog_resource_by_slug(res->slug), r);
		assert_int_equal(catalog_resource_by_object(res->object_name),
				 r);
		assert_int_equal(strncmp(res->list_path, "/v1/", 4), 0);
		assert_true(strlen(res->id_prefix) >= 3);
		assert_true(catalog_key_is_valid(res->slug));
	}
	assert_null(catalog_resource(RESOURCE__MAX));
	assert_int_equal(catalog_resource_by_slug("plan"), RESOURCE__MAX);
	assert_int_equal(catalog_resource_by_slug("checkout.session"),
			 RESOURCE__MAX);
	assert_int_equal(catalog_resource_by_slug(NULL), RESOURCE__MAX);
	assert_int_equal(catalog_resource_by_object("checkout.session"),
			 RESOURCE_CHECKOUT_SESSION);
	assert_int_equal(catalog_resource_by_object("checkout_session"),
			 RESOURCE__MAX);
}

static void test_fields_are_consistent(void **state)
{
	(void)state;
	for (unsigned r = 0; r < RESOURCE__MAX; r++) {
		const struct catalog_resource *res = catalog_resource(r);
		size_t n = catalog_field_count(r), candidates = 0;
		bool has_id = false, has_metadata = false;

		assert_true(n > 0);
		assert_null(catalog_field_at(r, n));
		for (size_t i = 0; i < n; i++) {
			const struct catalog_field *f = catalog_field_at(r, i);
			bool via_customer =
				strncmp(f->path, "customer.", 9) == 0;

			assert_int_equal(f->resource, r);
			assert_true(f->label[0] != '\0');
			assert_true((unsigned)f->type < FIELD_TYPE__MAX);
			assert_int_equal(f->needs_customer, via_customer);
			if (f->is_email_candidate) {
				candidates++;
				assert_int_equal(f->type, FIELD_TYPE_EMAIL);
			}
			if (strcmp(f->path, "id") == 0)
				has_id = f->type == FIELD_TYPE_ID;
			if (strcmp(f->path, "metadata.*") == 0)
				has_metadata = true;
			/* every path finds its own row, and only once */
			assert_ptr_equal(catalog_field_find(r, f->path), f);
			for (size_t j = 0; j < i; j++)
				assert_string_not_equal(
					catalog_field_at(r, j)->path, f->path);
		}
		assert_true(candidates >= 1);
		assert_true(has_id);
		assert_true(has_metadata);

		assert_non_null(catalog_field_find(r, res->default_email));
		assert_true(catalog_field_find(r, res->default_email)
				    ->is_email_candidate);
		assert_int_equal(catalog_field_find(r, res->default_name)->type,
				 FIELD_TYPE_NAME);
		assert_int_equal(
			catalog_field_find(r, res->default_phone)->type,
			FIELD_TYPE_PHONE);
		if (res->has_customer)
			assert_int_equal(
				catalog_field_find(r, "customer")->type,
				FIELD_TYPE_ID);
		else
			assert_null(catalog_field_find(r, "customer"));
	}
	assert_int_equal(catalog_field_count(RESOURCE__MAX), 0);
	assert_null(catalog_field_at(RESOURCE__MAX, 0));
}

static void test_field_find(void **state)
{
	const struct catalog_field *f;

	(void)state;
	f = catalog_field_find(RESOURCE_CHARGE, "billing_details.address.city");
	assert_non_null(f);
	assert_string_equal(f->label, "Billing address city");
	f = catalog_field_find(RESOURCE_CHARGE, "metadata.order_ref");
	assert_non_null(f);
	assert_string_equal(f->path, "metadata.*");
	assert_true(catalog_field_is_wildcard(f));
	f = catalog_field_find(RESOURCE_CHARGE, "metadata.a.b");
	assert_non_null(f);
	assert_string_equal(f->path, "metadata.*");
	f = catalog_field_find(RESOURCE_SUBSCRIPTION, "customer.metadata.x");
	assert_non_null(f);
	assert_true(f->needs_customer);
	assert_null(catalog_field_find(RESOURCE_CHARGE, "metadata."));
	assert_null(catalog_field_find(RESOURCE_CHARGE, "metadata"));
	assert_null(catalog_field_find(RESOURCE_CHARGE, "metadata*"));
	assert_null(catalog_field_find(RESOURCE_CHARGE, "billing_details"));
	assert_null(catalog_field_find(RESOURCE_CUSTOMER, "customer.email"));
	assert_null(catalog_field_find(RESOURCE_CHARGE, NULL));
	assert_null(catalog_field_find(RESOURCE__MAX, "id"));
	assert_true(catalog_field_find(RESOURCE_CHARGE, "customer.email")
			    ->needs_customer);
	assert_true(catalog_field_find(RESOURCE_INVOICE, "customer_email")
			    ->is_email_candidate);
	assert_true(catalog_field_find(RESOURCE_CHARGE, "receipt_email")
			    ->is_email_candidate);
	assert_true(catalog_field_find(RESOURCE_CHECKOUT_SESSION,
				       "customer_details.email")
			    ->is_email_candidate);
	assert_string_equal(catalog_field_type_name(FIELD_TYPE_TIMESTAMP),
			    "timestamp");
	assert_string_equal(catalog_field_type_name(FIELD_TYPE__MAX),
			    "unknown");
}

static void test_events(void **state)
{
	(void)state;
	for (unsigned k = 0; k < EVENT__MAX; k++) {
		const struct catalog_event *e = catalog_event(k);
		const char *prefix;
		char tag[128];
		size_t n;

		assert_non_null(e);
		assert_int_equal(e->kind, k);
		assert_non_null(catalog_resource(e->resource));
		assert_ptr_equal(catalog_event_find(e->type), e);
		/* the tag is the base tag, '-', the type with . and _ as - */
		n = (size_t)snprintf(tag, sizeof tag, "%s-%s",
				     CATALOG_BASE_TAG, e->type);
		for (size_t i = strlen(CATALOG_BASE_TAG); i < n; i++)
			if (tag[i] == '.' || tag[i] == '_')
				tag[i] = '-';
		assert_string_equal(e->tag, tag);
		/* the type starts with the resource's object name; a refund
		 * or a dispute belongs to a charge and orders nothing itself */
		prefix = e->resource == RESOURCE_SUBSCRIPTION ?
				 "customer.subscription." :
			 e->effect == EFFECT_REFUND &&
				 strncmp(e->type, "refund.", 7) == 0 ?
				 "refund." :
				 catalog_resource(e->resource)->object_name;
		assert_int_equal(strncmp(e->type, prefix, strlen(prefix)), 0);
		if (e->recurring == RECURRING_IF_SUBSCRIPTION_MODE)
			assert_int_equal(e->resource,
					 RESOURCE_CHECKOUT_SESSION);
		if (e->recurring == RECURRING_PAST_DUE)
			assert_int_equal(e->resource, RESOURCE_INVOICE);
		if (e->effect == EFFECT_REFUND || e->effect == EFFECT_DISPUTE) {
			assert_int_equal(e->resource, RESOURCE_CHARGE);
			assert_int_equal(e->order, ORDER_NONE);
			assert_int_equal(e->recurring, RECURRING_NONE);
		}
	}
	/* the catch-up asks for every type in one types[] */
	assert_true(EVENT__MAX <= CATALOG_EVENT_TYPES_MAX);
	assert_int_equal(catalog_event_find("refund.failed")->effect,
			 EFFECT_REFUND);
	assert_int_equal(catalog_event_find("charge.refund.updated")->effect,
			 EFFECT_REFUND);
	assert_int_equal(catalog_event_find("charge.dispute.closed")->effect,
			 EFFECT_DISPUTE);
	assert_string_equal(catalog_event_find("charge.dispute.created")->tag,
			    "stripe-integration-charge-dispute-created");
	assert_int_equal(catalog_event_find("customer.deleted")->effect,
			 EFFECT_CUSTOMER_DELETED);
	assert_int_equal(catalog_event_find("charge.refunded")->effect,
			 EFFECT_NONE);
	assert_int_equal(catalog_event_find("invoice.payment_failed")->recurring,
			 RECURRING_PAST_DUE);
	/* a notice: the tag only */
	assert_int_equal(
		catalog_event_find("customer.subscription.trial_will_end")->recurring,
		RECURRING_NONE);
	assert_null(catalog_event(EVENT__MAX));
	assert_null(catalog_event_find("plan.created"));
	assert_null(catalog_event_find("charge"));
	assert_null(catalog_event_find(NULL));
	assert_int_equal(catalog_event_find("charge.refunded")->order,
			 ORDER_REFUND);
	assert_int_equal(catalog_event_find("invoice.payment_failed")->order,
			 ORDER_NONE);
	assert_true(catalog_event_find("invoice.payment_failed")->contact);
	assert_int_equal(
		catalog_event_find("customer.subscription.deleted")->recurring,
		RECURRING_UPSERT);
	assert_string_equal(catalog_event_find("charge.succeeded")->tag,
			    "stripe-integration-charge-succeeded");
}

static void test_targets(void **state)
{
	(void)state;
	for (unsigned t = 0; t < TARGET__MAX; t++) {
		const struct catalog_target *row = catalog_target(t);

		assert_non_null(row);
		assert_int_equal(catalog_target_by_key(row->key), t);
		assert_true(catalog_key_is_valid(row->key));
	}
	assert_true(catalog_target(TARGET_FULL_NAME)->pseudo);
	assert_int_equal(catalog_target_by_key("stripe_customer_id"),
			 TARGET__MAX);
	assert_true(catalog_key_is_valid("stripe_customer_id"));
	assert_true(catalog_key_is_valid("x1"));
	assert_false(catalog_key_is_valid(""));
	assert_false(catalog_key_is_valid(NULL));
	assert_false(catalog_key_is_valid("Stripe"));
	assert_false(catalog_key_is_valid("a-b"));
	assert_false(catalog_key_is_valid("a b"));
	assert_false(catalog_key_is_valid(
		"a23456789012345678901234567890123456789012345678901234567890"
		"12345"));
}

/* ---- mapping: building, JSON, validation -------------------------------- */

static const char *const custom_keys[] = {"stripe_customer_id", "city",
					  "plan", NULL};

static struct mapping *parse(const char *json)
{
	char *err = NULL;
	struct mapping *m = mapping_from_json(json, &err);

	if (!m)
		fail_msg("mapping_from_json: %s", err ? err : "out of memory");
	assert_null(err);
	return m;
}

/* Validates json's mapping against custom_keys; returns the error count
 * and copies up to 8 errors to errors. */
static size_t problems(const char *json, struct mapping_error *errors)
{
	struct mapping *m = parse(json);
	size_t n = 99;
	sl_err rc;

	rc = mapping_validate(m, mapping_key_in_list, (void *)custom_keys,
			      errors, 8, &n);
	assert_int_equal(rc, n ? SL_ERR_INVALID : SL_OK);
	mapping_free(m);
	return n;
}

static void test_defaults_are_valid(void **state)
{
	(void)state;
	for (unsigned r = 0; r < RESOURCE__MAX; r++) {
		struct mapping *m = mapping_default(r);
		size_t n = 99;

		assert_non_null(m);
		assert_int_equal(mapping_validate(m, NULL, NULL, NULL, 0, &n),
				 SL_OK);
		assert_int_equal(n, 0);
		assert_string_equal(m->email.text,
				    catalog_resource(r)->default_email);
		assert_int_equal(m->reads_customer,
				 r == RESOURCE_SUBSCRIPTION);
		mapping_free(m);
	}
	assert_null(mapping_default(RESOURCE__MAX));
	assert_null(mapping_new(RESOURCE__MAX));
	mapping_free(NULL);
}

static void test_json_round_trip(void **state)
{
	const char *json =
		"{\"version\":1,\"resource\":\"charge\","
		"\"email\":\"billing_details.email\","
		"\"id\":{\"source\":\"customer\","
		"\"target\":\"stripe_customer_id\"},"
		"\"fields\":[{\"source\":\"billing_details.name\","
		"\"target\":\"full_name\"},"
		"{\"source\":\"metadata.order/ref\",\"target\":\"plan\"}]}";
	struct mapping *m, *again;
	char *text, *text2;

	(void)state;
	m = parse(json);
	text = mapping_to_json(m);
	assert_string_equal(text, json);
	again = parse(text);
	text2 = mapping_to_json(again);
	assert_string_equal(text2, json);
	assert_true(m->has_id_rule);
	assert_int_equal(m->rule_count, 2);
	assert_int_equal(m->rules[0].builtin, TARGET_FULL_NAME);
	assert_int_equal(m->rules[1].builtin, TARGET__MAX);
	assert_int_equal(m->rules[1].source.count, 2);
	assert_string_equal(m->rules[1].source.segment[1], "order/ref");
	free(text);
	free(text2);
	mapping_free(m);
	mapping_free(again);

	/* minimal form: no version, no id, no fields */
	m = parse("{\"resource\":\"customer\",\"email\":\"email\",\"id\":null}");
	assert_false(m->has_id_rule);
	text = mapping_to_json(m);
	assert_string_equal(text, "{\"version\":1,\"resource\":\"customer\","
				  "\"email\":\"email\",\"fields\":[]}");
	free(text);
	mapping_free(m);
}

static void test_json_errors(void **state)
{
	static const struct {
		const char *json;
		const char *message; /* a substring of the error */
	} bad[] = {
		{"", "not valid JSON"},
		{"{\"resource\":\"charge\"", "ends early"},
		{"{\"resource\":charge}", "not valid JSON"},
		{"{\"resource\":\"charge\"} x", "text after"},
		{"[]", "not a JSON object"},
		{"{}", "\"resource\""},
		{"{\"resource\":\"plan\"}", "unknown resource \"plan\""},
		{"{\"resource\":\"charge\",\"emial\":\"x\"}", "unknown key"},
		{"{\"resource\":\"charge\",\"version\":2}", "version"},
		{"{\"resource\":\"charge\",\"email\":3}", "\"email\""},
		{"{\"resource\":\"charge\",\"fields\":{}}", "not a list"},
		{"{\"resource\":\"charge\",\"fields\":[1]}",
		 "fields[0] is not an object"},
		{"{\"resource\":\"charge\",\"fields\":[{\"source\":\"id\"}]}",
		 "fields[0].target"},
		{"{\"resource\":\"charge\",\"fields\":[{\"source\":\"id\","
		 "\"target\":\"x\",\"extra\":1}]}", "unknown key \"extra\""},
		{"{\"resource\":\"charge\",\"id\":{\"target\":\"x\"}}",
		 "\"id\".source"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *err = NULL;
		struct mapping *m = mapping_from_json(bad[i].json, &err);

		if (m)
			fail_msg("accepted: %s", bad[i].json);
		assert_non_null(err);
		if (!strstr(err, bad[i].message))
			fail_msg("%s: error \"%s\" lacks \"%s\"", bad[i].json,
				 err, bad[i].message);
		free(err);
	}
	assert_null(mapping_from_json(NULL, NULL));
	assert_null(mapping_from_json("{", NULL));
}

static void test_build_limits(void **state)
{
	struct mapping *m = mapping_new(RESOURCE_CHARGE), *again;
	char long_path[MAPPING_PATH_MAX + 2], *text;
	size_t n = 0;

	(void)state;
	assert_non_null(m);
	for (int i = 0; i < MAPPING_MAX_RULES; i++)
		assert_int_equal(mapping_add_rule(m, "id", "plan"), SL_OK);
	assert_int_equal(mapping_add_rule(m, "id", "plan"), SL_ERR_TOO_LARGE);
	assert_int_equal(mapping_add_rule(m, NULL, "plan"), SL_ERR_INVALID);
	memset(long_path, 'a', sizeof long_path - 1);
	long_path[sizeof long_path - 1] = '\0';
	assert_int_equal(mapping_set_email(m, long_path), SL_ERR_TOO_LARGE);
	assert_null(m->email.text);
	assert_int_equal(mapping_set_email(m, "receipt_email"), SL_OK);
	assert_int_equal(mapping_set_email(m, "customer.email"), SL_OK);
	assert_true(m->reads_customer);
	assert_int_equal(mapping_set_email(m, ""), SL_OK);
	assert_null(m->email.text);
	assert_false(m->reads_customer);
	assert_int_equal(mapping_set_id_rule(m, "id", "plan"), SL_OK);
	assert_true(m->has_id_rule);
	assert_int_equal(mapping_set_id_rule(m, "customer", "plan"), SL_OK);
	assert_string_equal(m->id_rule.source.text, "customer");
	assert_int_equal(mapping_set_id_rule(m, NULL, NULL), SL_OK);
	assert_false(m->has_id_rule);
	mapping_free(m);

	/* rows not filled in yet survive a trip through JSON */
	m = mapping_new(RESOURCE_CUSTOMER);
	assert_int_equal(mapping_add_rule(m, "", ""), SL_OK);
	assert_int_equal(mapping_set_id_rule(m, "id", NULL), SL_OK);
	text = mapping_to_json(m);
	assert_string_equal(text, "{\"version\":1,\"resource\":\"customer\","
			    "\"id\":{\"source\":\"id\",\"target\":\"\"},"
			    "\"fields\":[{\"source\":\"\",\"target\":\"\"}]}");
	again = mapping_from_json(text, NULL);
	assert_non_null(again);
	assert_null(again->rules[0].source.text);
	assert_int_equal(mapping_validate(again, NULL, NULL, NULL, 0, &n),
			 SL_ERR_INVALID);
	assert_int_equal(n, 4); /* email, id target, path, target */
	free(text);
	mapping_free(again);
	mapping_free(m);
}

static void test_validate_ok(void **state)
{
	(void)state;
	assert_int_equal(problems(
		"{\"resource\":\"charge\",\"email\":\"billing_details.email\","
		"\"id\":{\"source\":\"customer\",\"target\":\"stripe_customer_id\"},"
		"\"fields\":[{\"source\":\"billing_details.name\",\"target\":\"full_name\"},"
		"{\"source\":\"billing_details.address.city\",\"target\":\"city\"},"
		"{\"source\":\"metadata.plan\",\"target\":\"plan\"},"
		"{\"source\":\"customer.phone\",\"target\":\"phone\"}]}",
		NULL), 0);
	/* a metadata key may hold the email */
	assert_int_equal(problems("{\"resource\":\"customer\","
				  "\"email\":\"metadata.contact_email\"}",
				  NULL), 0);
}

static void test_validate_errors(void **state)
{
	struct mapping_error e[8];
	size_t n;

	(void)state;
	n = problems("{\"resource\":\"charge\"}", e);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].row, MAPPING_ROW_EMAIL);
	assert_int_equal(e[0].problem, MAPPING_EMAIL_MISSING);
	assert_string_equal(e[0].message,
		"Choose the Stripe field that holds the email address.");

	n = problems("{\"resource\":\"charge\",\"email\":\"billing_details.name\"}",
		     e);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].problem, MAPPING_EMAIL_NOT_EMAIL);
	assert_non_null(strstr(e[0].message, "\"Billing name\""));

	n = problems("{\"resource\":\"customer\",\"email\":\"customer.email\"}",
		     e);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].problem, MAPPING_UNKNOWN_PATH);
	assert_string_equal(e[0].message,
			    "\"customer.email\" is not a Customer field.");

	n = problems("{\"resource\":\"charge\",\"email\":\"receipt_email\","
		     "\"fields\":[{\"source\":\"billing_details.name\",\"target\":\"first_name\"},"
		     "{\"source\":\"billing_details.nmae\",\"target\":\"last_name\"},"
		     "{\"source\":\"a..b\",\"target\":\"nope\"},"
		     "{\"source\":\"customer.name\",\"target\":\"full_name\"},"
		     "{\"source\":\"receipt_email\",\"target\":\"email\"},"
		     "{\"source\":\"\",\"target\":\"\"},"
		     "{\"source\":\"id\",\"target\":\"Bad Key\"}]}", e);
	assert_int_equal(n, 8);
	assert_int_equal(e[0].row, MAPPING_ROW_FIELD);
	assert_int_equal(e[0].index, 1);
	assert_int_equal(e[0].problem, MAPPING_UNKNOWN_PATH);
	assert_int_equal(e[1].index, 2);
	assert_int_equal(e[1].problem, MAPPING_UNKNOWN_PATH);
	assert_int_equal(e[2].index, 2);
	assert_int_equal(e[2].problem, MAPPING_UNKNOWN_TARGET);
	assert_non_null(strstr(e[2].message, "\"nope\""));
	assert_non_null(strstr(e[2].message, "Fields page"));
	/* full_name clashes with first_name (and last_name) above */
	assert_int_equal(e[3].index, 3);
	assert_int_equal(e[3].problem, MAPPING_DUPLICATE_TARGET);
	assert_string_equal(e[3].message,
			    "First name is already filled by another row.");
	/* the email row fills "email" */
	assert_int_equal(e[4].index, 4);
	assert_int_equal(e[4].problem, MAPPING_DUPLICATE_TARGET);
	assert_int_equal(e[5].index, 5);
	assert_int_equal(e[5].problem, MAPPING_PATH_MISSING);
	assert_int_equal(e[6].index, 5);
	assert_int_equal(e[6].problem, MAPPING_TARGET_MISSING);
	assert_int_equal(e[7].index, 6);
	assert_int_equal(e[7].problem, MAPPING_UNKNOWN_TARGET);

	/* the id row must read an ID; custom targets must exist */
	n = problems("{\"resource\":\"subscription\",\"email\":\"customer.email\","
		     "\"id\":{\"source\":\"status\",\"target\":\"stripe_id\"}}", e);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].row, MAPPING_ROW_ID);
	assert_int_equal(e[0].problem, MAPPING_ID_NOT_ID);
	assert_int_equal(e[1].row, MAPPING_ROW_ID);
	assert_int_equal(e[1].problem, MAPPING_UNKNOWN_TARGET);

	/* full_name after last_name: the clash is on last_name */
	n = problems("{\"resource\":\"customer\",\"email\":\"email\","
		     "\"fields\":[{\"source\":\"name\",\"target\":\"last_name\"},"
		     "{\"source\":\"name\",\"target\":\"full_name\"},"
		     "{\"source\":\"phone\",\"target\":\"phone\"},"
		     "{\"source\":\"phone\",\"target\":\"phone\"}]}", e);
	assert_int_equal(n, 2);
	assert_int_equal(e[0].index, 1);
	assert_string_equal(e[0].message,
			    "Last name is already filled by another row.");
	assert_int_equal(e[1].index, 3);
}

static void test_validate_counts_beyond_max(void **state)
{
	struct mapping *m = parse("{\"resource\":\"charge\",\"fields\":["
				  "{\"source\":\"x\",\"target\":\"y\"}]}");
	struct mapping_error e[1];
	size_t n = 0;

	(void)state;
	assert_int_equal(mapping_validate(m, NULL, NULL, e, 1, &n),
			 SL_ERR_INVALID);
	assert_int_equal(n, 3);
	assert_int_equal(e[0].problem, MAPPING_EMAIL_MISSING);
	assert_int_equal(mapping_validate(m, NULL, NULL, NULL, 5, NULL),
			 SL_ERR_INVALID);
	mapping_free(m);
}

/* ---- mapping: fields an event of another API version may lack ---------- */

/* A subscription mapping reading a nested path, an array element, a free
 * metadata key and the customer; each row: an object and what is missing. */
static const struct {
	const char *object;
	const char *missing;   /* NULL: nothing */
} missing_cases[] = {
	{"{\"customer\":\"cus_1\",\"items\":{\"data\":[{\"price\":{\"id\":\"p\"}}]},"
	 "\"metadata\":{},\"status\":\"active\"}", NULL},
	{"{\"customer\":\"cus_1\",\"items\":{\"data\":[]},\"metadata\":{},"
	 "\"status\":\"active\"}", NULL},                 /* a short array is data */
	{"{\"customer\":\"cus_1\",\"items\":null,\"metadata\":{},\"status\":null}",
	 NULL},                                            /* null is present */
	{"{\"customer\":\"cus_1\",\"items\":{\"data\":[{\"price\":{\"id\":\"p\"}}]},"
	 "\"metadata\":{}}", "status"},
	{"{\"customer\":\"cus_1\",\"items\":{\"data\":[{\"plan\":{}}]},\"metadata\":{},"
	 "\"status\":\"active\"}", "items.data.0.price.id"},
	{"{\"customer\":\"cus_1\",\"items\":{\"data\":[]},\"status\":\"active\"}",
	 "metadata.plan"},                                 /* the parent of a free key */
};

static void test_missing_field(void **state)
{
	(void)state;
	struct mapping *m = mapping_new(RESOURCE_SUBSCRIPTION);
	assert_non_null(m);
	assert_int_equal(mapping_set_email(m, "customer.email"), SL_OK);
	assert_int_equal(mapping_add_rule(m, "status", "first_name"), SL_OK);
	assert_int_equal(mapping_add_rule(m, "items.data.0.price.id", "last_name"), SL_OK);
	assert_int_equal(mapping_add_rule(m, "metadata.plan", "phone"), SL_OK);
	for (size_t i = 0; i < sizeof missing_cases / sizeof missing_cases[0]; i++) {
		json_object *o = json_tokener_parse(missing_cases[i].object);
		assert_non_null(o);
		const char *got = mapping_missing_field(m, o);
		if (missing_cases[i].missing)
			assert_string_equal(got, missing_cases[i].missing);
		else
			assert_null(got);
		json_object_put(o);
	}
	mapping_free(m);
}

/* ---- mapping: applying (beyond the data cases) -------------------------- */

static void test_apply_odd_input(void **state)
{
	struct mapping *m = mapping_default(RESOURCE_CHARGE);
	struct change_set cs;
	json_object *o;

	(void)state;
	change_set_init(&cs);
	assert_int_equal(mapping_apply(m, NULL, NULL, &cs), SL_ERR_INVALID);
	assert_non_null(strstr(cs.skip_reason, "not an object"));
	o = json_tokener_parse("[1,2]");
	assert_int_equal(mapping_apply(m, o, NULL, &cs), SL_ERR_INVALID);
	assert_non_null(strstr(cs.skip_reason, "a list, not an object"));
	json_object_put(o);
	o = json_tokener_parse("{\"object\":\"invoice\",\"id\":\"in_1\"}");
	assert_int_equal(mapping_apply(m, o, NULL, &cs), SL_ERR_INVALID);
	assert_string_equal(cs.skip_reason,
			    "the Stripe object is of type \"invoice\", but "
			    "the mapping is for \"charge\"");
	assert_string_equal(cs.object_id, "in_1");
	json_object_put(o);

	/* applying again releases what the change set held */
	o = json_tokener_parse("{\"object\":\"charge\",\"id\":\"ch_1\","
			       "\"amount\":100,"
			       "\"billing_details\":{\"email\":\"a@b.c\"}}");
	assert_int_equal(mapping_apply(m, o, NULL, &cs), SL_OK);
	assert_int_equal(mapping_apply(m, o, NULL, &cs), SL_OK);
	assert_string_equal(cs.email, "a@b.c");
	assert_null(cs.skip_reason);
	assert_int_equal(change_set_add_tag(&cs, "stripe-integration-x"),
			 SL_OK);
	assert_int_equal(cs.tag_count, 2);
	while (cs.tag_count < CHANGE_SET_MAX_TAGS)
		assert_int_equal(change_set_add_tag(&cs, "t"), SL_OK);
	assert_int_equal(change_set_add_tag(&cs, "t"), SL_ERR_TOO_LARGE);
	json_object_put(o);
	change_set_clear(&cs);
	change_set_clear(&cs);
	mapping_free(m);
}

static void test_apply_many_long_values(void **state)
{
	/* values larger than the first storage chunk force more chunks */
	struct mapping *m = mapping_new(RESOURCE_CUSTOMER);
	struct change_set cs;
	json_object *o = json_object_new_object(), *md = json_object_new_object();
	char key[32], big[3000];

	(void)state;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(mapping_set_email(m, "email"), SL_OK);
	json_object_object_add(o, "object", json_object_new_string("customer"));
	json_object_object_add(o, "email", json_object_new_string("a@b.c"));
	json_object_object_add(o, "metadata", md);
	for (int i = 0; i < MAPPING_MAX_RULES; i++) {
		snprintf(key, sizeof key, "k%d", i);
		json_object_object_add(md, key, json_object_new_string(big));
		snprintf(key, sizeof key, "metadata.k%d", i);
		assert_int_equal(mapping_add_rule(m, key, key + 9), SL_OK);
	}
	change_set_init(&cs);
	assert_int_equal(mapping_apply(m, o, NULL, &cs), SL_OK);
	assert_int_equal(cs.field_count, MAPPING_MAX_RULES);
	for (size_t i = 0; i < cs.field_count; i++)
		assert_int_equal(strlen(cs.fields[i].value), sizeof big - 1);
	assert_string_equal(cs.fields[31].key, "k31");
	change_set_clear(&cs);
	json_object_put(o);
	mapping_free(m);
}

/* ---- data-driven cases -------------------------------------------------- */

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

/* Compares expected against actual: objects key by key (only the keys of
 * expected), null as "absent", anything else exactly. On a difference
 * writes where to diff and returns false. */
static bool subset(json_object *expected, json_object *actual,
		   const char *where, char *diff, size_t cap)
{
	if (!expected) {
		if (!actual)
			return true;
		snprintf(diff, cap, "%s: expected absent, got %s", where,
			 json_object_to_json_string(actual));
		return false;
	}
	if (json_object_is_type(expected, json_type_object)) {
		if (!json_object_is_type(actual, json_type_object)) {
			snprintf(diff, cap, "%s: expected an object, got %s",
				 where, actual ?
				 json_object_to_json_string(actual) : "nothing");
			return false;
		}
		json_object_object_foreach(expected, key, val) {
			char inner[256];

			snprintf(inner, sizeof inner, "%s.%s", where, key);
			if (!subset(val, get(actual, key), inner, diff, cap))
				return false;
		}
		return true;
	}
	if (!actual || !json_object_equal(expected, actual)) {
		snprintf(diff, cap, "%s: expected %s, got %s", where,
			 json_object_to_json_string(expected),
			 actual ? json_object_to_json_string(actual) :
				  "nothing");
		return false;
	}
	return true;
}

static bool any_custom_key(const char *key, void *ctx)
{
	(void)ctx;
	return catalog_key_is_valid(key);
}

static struct mapping *case_mapping(json_object *doc, const char *slug)
{
	json_object *spec = get(doc, "mapping");
	struct mapping *m;
	char *err = NULL;

	if (json_object_is_type(spec, json_type_string)) {
		if (strcmp(json_object_get_string(spec), "default") != 0)
			fail_msg("\"mapping\" is neither an object nor "
				 "\"default\"");
		return mapping_default(catalog_resource_by_slug(slug));
	}
	if (!json_object_is_type(spec, json_type_object))
		fail_msg("\"mapping\" is missing");
	if (!get(spec, "resource"))
		json_object_object_add(spec, "resource",
				       json_object_new_string(slug));
	m = mapping_from_json(json_object_to_json_string(spec), &err);
	if (!m)
		fail_msg("mapping: %s", err ? err : "out of memory");
	return m;
}

static void check_case_shape(json_object *doc)
{
	static const char *const keys[] = {"description", "resource", "object",
					   "customer", "mapping", "expect",
					   "money"};

	if (!json_object_is_type(doc, json_type_object))
		fail_msg("the case is not a JSON object");
	json_object_object_foreach(doc, key, val) {
		size_t k = 0;

		(void)val;
		while (k < sizeof keys / sizeof keys[0] &&
		       strcmp(keys[k], key) != 0)
			k++;
		if (k == sizeof keys / sizeof keys[0])
			fail_msg("unknown key \"%s\" in the case", key);
	}
	if (!json_object_is_type(get(doc, "description"), json_type_string))
		fail_msg("\"description\" is missing");
	if (!json_object_is_type(get(doc, "expect"), json_type_object))
		fail_msg("\"expect\" is missing");
	if (!get(doc, "object"))
		fail_msg("\"object\" is missing");
	if (get(doc, "money"))
		return;
	if (catalog_resource_by_slug(json_object_get_string(
		    get(doc, "resource"))) == RESOURCE__MAX)
		fail_msg("\"resource\" is not a resource slug");
}

/* What one case holds; released by case_teardown() even when the case
 * fails half-way (cmocka leaves a failing test by longjmp). */
static struct {
	json_object *doc;
	json_object *actual;
	struct mapping *m;
	struct mapping *again;
	char *text;
	char *text2;
	struct change_set cs;
} run;

static int case_teardown(void **state)
{
	(void)state;
	json_object_put(run.doc);
	json_object_put(run.actual);
	mapping_free(run.m);
	mapping_free(run.again);
	free(run.text);
	free(run.text2);
	change_set_clear(&run.cs);
	memset(&run, 0, sizeof run);
	return 0;
}

static void run_case(void **state)
{
	const char *path = *state;
	json_object *expect, *skip, *needs;
	struct mapping_error errors[4];
	size_t n_errors = 0;
	char diff[1024];
	sl_err rc;

	change_set_init(&run.cs);
	run.doc = json_object_from_file(path);
	if (!run.doc)
		fail_msg("%s: not readable JSON", path);
	check_case_shape(run.doc);
	expect = get(run.doc, "expect");
	if (get(run.doc, "money")) {
		const char *kind = json_object_get_string(get(run.doc, "money"));
		enum event_effect effect = strcmp(kind, "refund") == 0 ? EFFECT_REFUND :
					   strcmp(kind, "dispute") == 0 ? EFFECT_DISPUTE :
					   EFFECT_NONE;
		if (effect == EFFECT_NONE)
			fail_msg("\"money\" is neither \"refund\" nor \"dispute\"");
		rc = mapping_apply_money(effect, get(run.doc, "object"), &run.cs);
		goto applied;
	}
	run.m = case_mapping(run.doc,
			     json_object_get_string(get(run.doc, "resource")));

	if (mapping_validate(run.m, any_custom_key, NULL, errors, 4,
			     &n_errors))
		fail_msg("the case's mapping is invalid: %s",
			 errors[0].message);
	run.text = mapping_to_json(run.m);
	run.again = mapping_from_json(run.text, NULL);
	assert_non_null(run.again);
	run.text2 = mapping_to_json(run.again);
	assert_string_equal(run.text, run.text2);

	needs = get(expect, "needs_customer");
	if (needs)
		assert_int_equal(mapping_needs_customer(run.m,
						get(run.doc, "object")),
				 json_object_get_boolean(needs));

	rc = mapping_apply(run.m, get(run.doc, "object"),
			   get(run.doc, "customer"), &run.cs);
applied:
	skip = get(expect, "skip");
	if (skip) {
		if (rc != SL_ERR_INVALID)
			fail_msg("expected a skip, got %s", err_name(rc));
		assert_non_null(run.cs.skip_reason);
		if (!strstr(run.cs.skip_reason, json_object_get_string(skip)))
			fail_msg("skip reason \"%s\" lacks \"%s\"",
				 run.cs.skip_reason,
				 json_object_get_string(skip));
	} else if (rc != SL_OK) {
		fail_msg("mapping_apply: %s (%s)", err_name(rc),
			 run.cs.skip_reason ? run.cs.skip_reason :
					      "no reason");
	}
	run.actual = change_set_to_json(&run.cs);
	assert_non_null(run.actual);
	json_object_object_foreach(expect, key, val) {
		if (strcmp(key, "skip") == 0 ||
		    strcmp(key, "needs_customer") == 0)
			continue;
		if (!subset(val, get(run.actual, key), key, diff, sizeof diff))
			fail_msg("%s\nchange set: %s", diff,
				 json_object_to_json_string_ext(run.actual,
					JSON_C_TO_STRING_PRETTY |
					JSON_C_TO_STRING_NOSLASHESCAPE));
	}
}

struct case_list {
	struct CMUnitTest *tests;
	size_t count;
	size_t cap;
};

static int add_case(struct case_list *list, const char *path)
{
	struct CMUnitTest *t;
	const char *base = strrchr(path, '/');

	if (list->count == list->cap) {
		size_t cap = list->cap ? 2 * list->cap : 64;

		t = realloc(list->tests, cap * sizeof *t);
		if (!t)
			return -1;
		list->tests = t;
		list->cap = cap;
	}
	t = &list->tests[list->count];
	memset(t, 0, sizeof *t);
	t->initial_state = strdup(path);
	t->name = strdup(base ? base + 1 : path);
	t->test_func = run_case;
	t->teardown_func = case_teardown;
	if (!t->initial_state || !t->name) {
		free(t->initial_state);
		free((char *)t->name);
		return -1;
	}
	list->count++;
	return 0;
}

static bool is_case_file(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".json") == 0 && name[0] != '.';
}

static int by_name(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Adds the cases of a directory (sorted by name) or one case file. */
static int collect(struct case_list *list, const char *path)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL, full[4096];
	size_t n = 0, cap = 0;
	int rc = 0;
	DIR *dir;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "test_mapping: %s: not found\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return add_case(list, path);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((de = readdir(dir))) {
		if (!is_case_file(de->d_name))
			continue;
		if (n == cap) {
			char **more = realloc(names, (cap = cap ? 2 * cap : 64) *
							     sizeof *names);
			if (!more) {
				rc = -1;
				goto out;
			}
			names = more;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -1;
			goto out;
		}
		n++;
	}
	if (n)
		qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n && rc == 0; i++) {
		snprintf(full, sizeof full, "%s/%s", path, names[i]);
		rc = add_case(list, full);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(dir);
	return rc;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest catalog_tests[] = {
		cmocka_unit_test(test_resources_round_trip),
		cmocka_unit_test(test_fields_are_consistent),
		cmocka_unit_test(test_field_find),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_targets),
	};
	const struct CMUnitTest mapping_tests[] = {
		cmocka_unit_test(test_defaults_are_valid),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_build_limits),
		cmocka_unit_test(test_validate_ok),
		cmocka_unit_test(test_validate_errors),
		cmocka_unit_test(test_validate_counts_beyond_max),
		cmocka_unit_test(test_apply_odd_input),
		cmocka_unit_test(test_missing_field),
		cmocka_unit_test(test_apply_many_long_values),
	};
	struct case_list cases = {0};
	int failed = 0;

	for (int i = 1; i < argc; i++)
		if (collect(&cases, argv[i]) != 0)
			failed = 1;
	if (argc < 2 && collect(&cases, DEFAULT_CASE_DIR) != 0)
		failed = 1;
	if (!failed && cases.count == 0) {
		fprintf(stderr, "test_mapping: no mapping cases (*.json) "
				"found\n");
		failed = 1;
	}
	if (!failed) {
		failed |= cmocka_run_group_tests_name("catalog", catalog_tests,
						      NULL, NULL);
		failed |= cmocka_run_group_tests_name("mapping", mapping_tests,
						      NULL, NULL);
		failed |= _cmocka_run_group_tests("mapping cases",
						  cases.tests, cases.count,
						  NULL, NULL);
	}
	for (size_t i = 0; i < cases.count; i++) {
		free(cases.tests[i].initial_state);
		free((char *)cases.tests[i].name);
	}
	free(cases.tests);
	return failed ? 1 : 0;
}
