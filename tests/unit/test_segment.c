/*
 * test_segment.c - unit tests for the segment condition compiler
 * (src/segment.c) run by the store on a small seeded database: a table of
 * definitions and the contacts each must match; bad operands and their
 * messages; the JSON definition; saved segments and "is this contact in
 * segment S".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testdb.h"
#include "arena.h"
#include "err.h"
#include "ledger.h"
#include "mapping.h"
#include "segment.h"
#include "store.h"

#define NOW 1767225600LL  /* 2026-01-01T00:00:00Z */
#define DAY 86400LL

struct fixture {
	char dir[64];
	char path[128];
	struct store *db;
	struct arena *a;
	long long id[5];     /* contact ids by seed index 1..4 */
};

/* The seed: four contacts with tags, orders, recurring payments and a
 * custom field "plan". */
struct seed_contact {
	const char *email;
	long long created_at;
	const char *tags[3];
	const char *plan;    /* NULL: not set */
};
static const struct seed_contact contacts[] = {
	{"ann@example.com", 1748736000 /* 2025-06-01 */, {"stripe-integration", "vip"}, "gold pro"},
	{"bob@example.com", 1765756800 /* 2025-12-15 */, {"stripe-integration"}, "silver"},
	{"cat@example.com", 1704844800 /* 2024-01-10 */, {NULL}, NULL},
	{"dan@example.com", 1767139200 /* 2025-12-31 */, {"vip"}, "50%_off"},
};

struct seed_order {
	const char *stripe_id;
	int contact;         /* 1-based seed index */
	long long amount, refunded;
	const char *currency, *status, *created;
};
static const struct seed_order orders[] = {
	{"ch_1", 1, 10000, 0, "usd", "paid", "2025-12-27T00:00:00Z"},        /* 5 days ago */
	{"ch_2", 1, 5000, 2000, "usd", "succeeded", "2025-11-22T00:00:00Z"}, /* 40 days ago */
	{"ch_3", 2, 3000, 0, "usd", "paid", "2025-09-23T00:00:00Z"},         /* 100 days ago */
	{"ch_4", 2, 50000, 0, "eur", "paid", "2025-09-23T00:00:00Z"},
	{"ch_5", 4, 100000, 0, "usd", "failed", "2025-12-31T00:00:00Z"},     /* 1 day ago, not paid */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof fx->dir, "/tmp/sl-test-segment-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	if (!testdb_make(fx->dir, fx->path, sizeof fx->path)) {
		rmdir(fx->dir);
		free(fx);
		return -1;
	}
	sl_err e;
	fx->db = store_open(fx->path, &e);
	if (!fx->db || e || store_migrate(fx->db))
		return -1;
	fx->a = arena_new();
	long long field_id;
	if (store_field_create(fx->db, "plan", "Plan", "text", &field_id))
		return -1;
	for (size_t i = 0; i < sizeof contacts / sizeof contacts[0]; i++) {
		bool created;
		const struct seed_contact *c = &contacts[i];
		if (store_contact_upsert(fx->db, c->email, c->email, c->created_at, &fx->id[i + 1], &created))
			return -1;
		for (size_t t = 0; t < 3 && c->tags[t]; t++)
			if (store_contact_tag(fx->db, fx->id[i + 1], c->tags[t]))
				return -1;
		if (c->plan && store_contact_set(fx->db, fx->id[i + 1], "plan", c->plan, c->created_at))
			return -1;
	}
	for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) {
		const struct seed_order *o = &orders[i];
		struct order_row row = {.stripe_id = o->stripe_id, .connection_id = 1,
					.contact_id = fx->id[o->contact], .amount = o->amount,
					.amount_refunded = o->refunded, .currency = o->currency,
					.status = o->status, .created = o->created, .updated_at = NOW};
		if (store_order_upsert(fx->db, &row))
			return -1;
	}
	struct recurring_row subs[] = {
		{.subscription_id = "sub_1", .connection_id = 1, .contact_id = fx->id[1], .status = "active", .updated_at = NOW},
		{.subscription_id = "sub_2", .connection_id = 1, .contact_id = fx->id[2], .status = "canceled", .updated_at = NOW},
		{.subscription_id = "sub_3", .connection_id = 1, .contact_id = 0, .status = "active", .updated_at = NOW},
	};
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (store_recurring_upsert(fx->db, &subs[i]))
			return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char p[160];
	store_close(fx->db);
	arena_free(fx->a);
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		snprintf(p, sizeof p, "%s%s", fx->path, suffixes[i]);
		unlink(p);
	}
	rmdir(fx->dir);
	testdb_drop(fx->dir);
	free(fx);
	return 0;
}

/* A definition of up to three conditions and the seed contacts it matches
 * (1-based, ascending, 0-terminated). */
struct match_case {
	const char *what;
	struct seg_cond conds[3];
	size_t n;
	int expect[5];
};

static const struct match_case match_cases[] = {
	{"no condition: everyone", {{0}}, 0, {1, 2, 3, 4}},
	{"has tag", {{SEG_HAS_TAG, "vip", ""}}, 1, {1, 4}},
	{"has not tag", {{SEG_NOT_TAG, "vip", ""}}, 1, {2, 3}},
	{"unknown tag", {{SEG_HAS_TAG, "nobody", ""}}, 1, {0}},
	{"active recurring (an orphan subscription matches no one)", {{SEG_RECURRING_ACTIVE, "", ""}}, 1, {1}},
	{"net revenue >= exactly (refunds subtracted)", {{SEG_REVENUE_GTE, "130.00", "usd"}}, 1, {1}},
	{"net revenue >= a cent more", {{SEG_REVENUE_GTE, "130.01", "USD"}}, 1, {0}},
	{"net revenue < (no orders counts as 0)", {{SEG_REVENUE_LT, "130", "usd"}}, 1, {2, 3, 4}},
	{"net revenue per currency", {{SEG_REVENUE_GTE, "500", "eur"}}, 1, {2}},
	{"failed orders are not revenue", {{SEG_REVENUE_GTE, "0.01", "usd"}}, 1, {1, 2}},
	{"last order within 7 days", {{SEG_ORDER_WITHIN, "7", ""}}, 1, {1, 4}},
	{"no order within 30 days", {{SEG_ORDER_NOT_WITHIN, "30", ""}}, 1, {2, 3}},
	{"at least 2 orders", {{SEG_ORDERS_GTE, "2", ""}}, 1, {1, 2}},
	{"created between (end day inclusive)", {{SEG_CREATED_BETWEEN, "2025-12-01", "2025-12-31"}}, 1, {2, 4}},
	{"custom field equals", {{SEG_FIELD_EQUALS, "silver", "plan"}}, 1, {2}},
	{"custom field contains", {{SEG_FIELD_CONTAINS, "o", "plan"}}, 1, {1, 4}},
	{"contains escapes LIKE wildcards", {{SEG_FIELD_CONTAINS, "%_", "plan"}}, 1, {4}},
	{"custom field is empty", {{SEG_FIELD_EMPTY, "", "plan"}}, 1, {3}},
	{"conditions combine with AND",
	 {{SEG_HAS_TAG, "stripe-integration", ""}, {SEG_ORDERS_GTE, "2", ""}, {SEG_RECURRING_ACTIVE, "", ""}}, 3, {1}},
	{"email or name contains", {{SEG_TEXT, "NN@", ""}}, 1, {1}},
	{"an operand is data, never SQL", {{SEG_HAS_TAG, "vip') OR 1=1 --", ""}}, 1, {0}},
};

static void test_matches(void **state)
{
	struct fixture *fx = *state;
	for (size_t k = 0; k < sizeof match_cases / sizeof match_cases[0]; k++) {
		const struct match_case *mc = &match_cases[k];
		struct segment_def def = {.n = mc->n};
		memcpy(def.conds, mc->conds, mc->n * sizeof mc->conds[0]);
		long long *ids, count;
		size_t n;
		print_message("case: %s\n", mc->what);
		assert_int_equal(store_segment_ids(fx->db, fx->a, &def, NOW, &ids, &n), SL_OK);
		assert_int_equal(store_segment_count(fx->db, fx->a, &def, NOW, &count), SL_OK);
		size_t want = 0;
		while (want < 5 && mc->expect[want])
			want++;
		assert_int_equal(n, want);
		assert_int_equal(count, (long long)want);
		for (size_t i = 0; i < want; i++)
			assert_int_equal(ids[i], fx->id[mc->expect[i]]);
		struct contact *list;
		size_t got;
		assert_int_equal(store_segment_contacts(fx->db, fx->a, &def, NOW, 0, 2, &list, &got), SL_OK);
		assert_int_equal(got, want < 2 ? want : 2);
		if (got)  /* newest first */
			assert_int_equal(list[0].id, fx->id[mc->expect[want - 1]]);
	}
}

struct bad_case {
	struct seg_cond cond;
	const char *message;
};

static const struct bad_case bad_cases[] = {
	{{SEG_HAS_TAG, "", ""}, "choose a tag"},
	{{SEG_REVENUE_GTE, "abc", "usd"}, "enter an amount like 100 or 99.50"},
	{{SEG_REVENUE_GTE, "1.234", "usd"}, "enter an amount like 100 or 99.50"},
	{{SEG_REVENUE_LT, "10", "dollars"}, "enter a three-letter currency code such as usd"},
	{{SEG_ORDER_WITHIN, "0", ""}, "enter between 1 and 36500 days"},
	{{SEG_ORDER_NOT_WITHIN, "-3", ""}, "enter a whole number"},
	{{SEG_ORDERS_GTE, "0", ""}, "enter a count of at least 1"},
	{{SEG_CREATED_BETWEEN, "2025-02-30", "2025-03-01"}, "no such day"},
	{{SEG_CREATED_BETWEEN, "2025/01/01", "2025-03-01"}, "enter a date as YYYY-MM-DD"},
	{{SEG_CREATED_BETWEEN, "2025-03-01", "2025-01-01"}, "the end date is before the start date"},
	{{SEG_FIELD_EQUALS, "x", "nosuch"}, "there is no such custom field"},
	{{SEG_FIELD_EMPTY, "", ""}, "choose a custom field"},
	{{SEG_FIELD_CONTAINS, "", "plan"}, "enter the text to look for"},
};

static void test_bad_operands(void **state)
{
	struct fixture *fx = *state;
	static const char *const keys[] = {"plan"};
	for (size_t k = 0; k < sizeof bad_cases / sizeof bad_cases[0]; k++) {
		struct segment_def def = {.n = 2};
		def.conds[0] = (struct seg_cond){SEG_HAS_TAG, "vip", ""};
		def.conds[1] = bad_cases[k].cond;
		const char *errors[2];
		print_message("bad: %s\n", bad_cases[k].message);
		assert_int_equal(segment_validate(fx->a, &def, keys, 1, errors), SL_ERR_INVALID);
		assert_null(errors[0]);
		assert_non_null(errors[1]);
		assert_string_equal(errors[1], bad_cases[k].message);
		struct seg_sql q;
		if (strcmp(bad_cases[k].message, "there is no such custom field") != 0)
			assert_int_equal(segment_compile(fx->a, &def, NOW, &q), SL_ERR_INVALID);
	}
}

static void test_compiled_text_is_fixed(void **state)
{
	struct fixture *fx = *state;
	struct segment_def def = {.n = 2};
	def.conds[0] = (struct seg_cond){SEG_HAS_TAG, "secret-tag", ""};
	def.conds[1] = (struct seg_cond){SEG_REVENUE_GTE, "12.50", "usd"};
	struct seg_sql q;
	assert_int_equal(segment_compile(fx->a, &def, NOW, &q), SL_OK);
	assert_null(strstr(q.where, "secret-tag"));
	assert_null(strstr(q.where, "1250"));
	assert_int_equal(q.n_binds, 3);
	assert_string_equal(q.binds[0].s, "secret-tag");
	assert_string_equal(q.binds[1].s, "usd");
	assert_int_equal(q.binds[2].i, 1250);
}

static void test_json_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct segment_def def = {.n = 2}, back;
	def.conds[0] = (struct seg_cond){SEG_FIELD_CONTAINS, "a \"quoted\" value", "plan"};
	def.conds[1] = (struct seg_cond){SEG_RECURRING_ACTIVE, "", ""};
	const char *json = segment_to_json(fx->a, &def);
	assert_int_equal(segment_from_json(fx->a, json, &back), SL_OK);
	assert_int_equal(back.n, 2);
	assert_int_equal(back.conds[0].kind, SEG_FIELD_CONTAINS);
	assert_string_equal(back.conds[0].value, "a \"quoted\" value");
	assert_string_equal(back.conds[0].extra, "plan");
	assert_int_equal(back.conds[1].kind, SEG_RECURRING_ACTIVE);
	static const char *const bad[] = {"", "{}", "[{\"kind\":\"nope\",\"value\":\"\",\"extra\":\"\"}]",
					  "[{\"kind\":\"has_tag\"}]", "[1]"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(segment_from_json(fx->a, bad[i], &back), SL_ERR_INVALID);
}

static void test_saved_segments(void **state)
{
	struct fixture *fx = *state;
	struct segment_def def = {.n = 1};
	def.conds[0] = (struct seg_cond){SEG_HAS_TAG, "vip", ""};
	long long id, other;
	assert_int_equal(store_segment_create(fx->db, "VIPs", segment_to_json(fx->a, &def), NOW, &id), SL_OK);
	assert_int_equal(store_segment_create(fx->db, "vips", "[]", NOW, &other), SL_ERR_EXISTS);
	bool in;
	assert_int_equal(store_segment_contains(fx->db, id, fx->id[1], NOW, &in), SL_OK);
	assert_true(in);
	assert_int_equal(store_segment_contains(fx->db, id, fx->id[2], NOW, &in), SL_OK);
	assert_false(in);
	assert_int_equal(store_segment_contains(fx->db, id + 100, fx->id[1], NOW, &in), SL_ERR_NOT_FOUND);

	def.conds[0] = (struct seg_cond){SEG_RECURRING_ACTIVE, "", ""};
	assert_int_equal(store_segment_update(fx->db, id, "Subscribers", segment_to_json(fx->a, &def)), SL_OK);
	struct segment_row *rows;
	size_t n;
	assert_int_equal(store_segments_list(fx->db, fx->a, &rows, &n), SL_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].name, "Subscribers");
	assert_int_equal(store_segment_contains(fx->db, id, fx->id[4], NOW, &in), SL_OK);
	assert_false(in);
	assert_int_equal(store_segment_delete(fx->db, id), SL_OK);
	assert_int_equal(store_segment_delete(fx->db, id), SL_ERR_NOT_FOUND);
	assert_int_equal(store_segment_update(fx->db, id, "x", "[]"), SL_ERR_NOT_FOUND);
}

static void test_catalogue(void **state)
{
	(void)state;
	for (int k = 0; k < SEG__MAX; k++) {
		enum seg_kind found;
		const struct seg_kind_info *info = segment_kind_info((enum seg_kind)k);
		assert_true(segment_kind_find(info->name, &found));
		assert_int_equal(found, k);
		assert_non_null(info->label);
	}
	enum seg_kind unused;
	assert_false(segment_kind_find("drop_table", &unused));
}

/* Net revenue in a segment is the contact page's: a partially refunded
 * charge counts what is left of it, a lost dispute takes its amount. */
static void test_revenue_refunds_and_disputes(void **state)
{
	struct fixture *fx = *state;
	char before[LEDGER_STATUS_MAX], after[LEDGER_STATUS_MAX];
	struct order_row o6 = {.stripe_id = "ch_6", .connection_id = 1, .contact_id = fx->id[3],
			       .amount = 4500, .currency = "usd", .status = "paid",
			       .created = "2025-12-20T00:00:00Z", .updated_at = NOW};
	struct order_row o7 = o6;
	o7.stripe_id = "ch_7";
	o7.amount = 2000;
	assert_int_equal(store_order_upsert(fx->db, &o6), SL_OK);
	assert_int_equal(store_order_upsert(fx->db, &o7), SL_OK);
	struct change_set cs;
	change_set_init(&cs);
	cs.refund_count = 1;
	cs.refunds[0] = (struct change_refund){.id = "re_6", .charge_id = "ch_6", .amount = 1000,
					       .currency = "usd", .status = "succeeded", .created = 1};
	assert_int_equal(ledger_refunds(fx->db, &cs, 1, 10, NOW), SL_OK);
	assert_int_equal(ledger_settle(fx->db, "ch_6", NOW, before, after), SL_OK);
	assert_string_equal(after, "partially_refunded");
	cs.refund_count = 0;
	cs.dispute = (struct change_dispute){.present = true, .id = "dp_7", .charge_id = "ch_7",
					     .amount = 2000, .currency = "usd", .status = "lost"};
	bool first;
	assert_int_equal(ledger_dispute(fx->db, &cs, 1, 10, NOW, &first), SL_OK);
	assert_int_equal(ledger_settle(fx->db, "ch_7", NOW, before, after), SL_OK);
	struct segment_def def = {.n = 1, .conds = {{SEG_REVENUE_GTE, "35.00", "usd"}}};
	long long *ids;
	size_t n;
	assert_int_equal(store_segment_ids(fx->db, fx->a, &def, NOW, &ids, &n), SL_OK);
	assert_int_equal(n, 2);            /* ann (130.00) and cat (45 - 10 + 20 - 20), not bob (30) */
	assert_int_equal(ids[1], fx->id[3]);
	def.conds[0] = (struct seg_cond){SEG_REVENUE_GTE, "35.01", "usd"};
	assert_int_equal(store_segment_ids(fx->db, fx->a, &def, NOW, &ids, &n), SL_OK);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], fx->id[1]);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_matches),
		T(test_bad_operands),
		T(test_compiled_text_is_fixed),
		T(test_json_round_trip),
		T(test_saved_segments),
		T(test_revenue_refunds_and_disputes),
		cmocka_unit_test(test_catalogue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
