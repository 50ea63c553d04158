/*
 * test_ledger.c - unit tests for src/ledger.c: the status tables and the
 * refunded-amount rule (pure), then refunds and disputes recorded by id on
 * a fresh database (partial refunds add up, a repeated event changes
 * nothing, out of order converges, failed and canceled refunds stop
 * counting, the charge's own amount_refunded as a fallback, lost disputes
 * against net revenue), and a deleted customer's link.
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

#include <json-c/json.h>

#include "arena.h"
#include "err.h"
#include "ledger.h"
#include "mapping.h"
#include "store.h"

/* ---- the pure rules ---- */

static void test_refund_statuses(void **state)
{
	(void)state;
	static const struct {
		const char *status;
		bool counts;
		int rank;
	} rows[] = {
		{"pending", true, 0},
		{"requires_action", true, 0},
		{"succeeded", true, 1},
		{"failed", false, 2},
		{"canceled", false, 2},
		{"something_new", true, 0},   /* counts until it fails, like Stripe's total */
		{NULL, true, 0},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		assert_int_equal(ledger_refund_counts(rows[i].status), rows[i].counts);
		assert_int_equal(ledger_refund_rank(rows[i].status), rows[i].rank);
	}
}

static void test_dispute_statuses(void **state)
{
	(void)state;
	static const struct {
		const char *status;
		bool lost;
		int rank;
	} rows[] = {
		{"warning_needs_response", false, 0},
		{"warning_under_review", false, 0},
		{"needs_response", false, 0},
		{"under_review", false, 0},
		{"won", false, 1},
		{"lost", true, 1},
		{"warning_closed", false, 1},
		{"prevented", false, 1},
		{"unheard_of", false, 0},
		{NULL, false, 0},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		assert_int_equal(ledger_dispute_lost(rows[i].status), rows[i].lost);
		assert_int_equal(ledger_dispute_rank(rows[i].status), rows[i].rank);
	}
}

static void test_refunded_rule(void **state)
{
	(void)state;
	/* counted + max(0, reported - included) */
	assert_int_equal(ledger_refunded(0, 0, 0), 0);
	assert_int_equal(ledger_refunded(500, 0, 0), 500);          /* refunds only */
	assert_int_equal(ledger_refunded(0, 800, 0), 800);          /* the charge's word only */
	assert_int_equal(ledger_refunded(300, 800, 300), 800);      /* one refund named, the rest not */
	assert_int_equal(ledger_refunded(800, 800, 800), 800);      /* all named: no double count */
	assert_int_equal(ledger_refunded(300, 800, 800), 300);      /* one named refund failed since */
	assert_int_equal(ledger_refunded(900, 800, 800), 900);      /* a newer refund than the report */
	assert_int_equal(ledger_refunded(300, 200, 500), 300);      /* never below what counts */
}

static void test_order_status(void **state)
{
	(void)state;
	assert_string_equal(ledger_order_status(1000, 1000, "paid"), "refunded");
	assert_string_equal(ledger_order_status(1000, 1200, "paid"), "refunded");
	assert_string_equal(ledger_order_status(1000, 1, "paid"), "partially_refunded");
	assert_string_equal(ledger_order_status(1000, 0, "paid"), "paid");
	assert_string_equal(ledger_order_status(1000, 0, "refunded"), "paid");
	assert_string_equal(ledger_order_status(1000, 0, "partially_refunded"), "paid");
	assert_string_equal(ledger_order_status(1000, 0, "failed"), "failed");
	assert_string_equal(ledger_order_status(0, 0, "paid"), "paid");
}

/* ---- on a database ---- */

struct fixture {
	char dir[64];
	char path[128];
	struct store *db;
	struct arena *a;
	long long contact;
	struct change_set cs;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof *fx);
	if (!fx)
		return -1;
	snprintf(fx->dir, sizeof fx->dir, "/tmp/sl-test-ledger-XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof fx->path, "%s/test.db", fx->dir);
	sl_err e;
	fx->db = store_open(fx->path, &e);
	if (!fx->db || e || store_migrate(fx->db))
		return -1;
	fx->a = arena_new();
	bool created;
	if (store_contact_upsert(fx->db, "ann@example.com", "ann@example.com", 1, &fx->contact, &created))
		return -1;
	change_set_init(&fx->cs);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char p[160];
	change_set_clear(&fx->cs);
	store_close(fx->db);
	arena_free(fx->a);
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
		snprintf(p, sizeof p, "%s%s", fx->path, suffixes[i]);
		unlink(p);
	}
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* A charge's order, as a charge event leaves it: upserted, its own
 * amount_refunded reported at version, settled. */
static void charge(struct fixture *fx, const char *id, long long amount, long long reported,
		   long long version)
{
	struct order_row o = {.stripe_id = id, .connection_id = 1, .contact_id = fx->contact,
			      .amount = amount, .amount_refunded = reported, .currency = "usd",
			      .status = "paid", .created = "2025-01-01T00:00:00Z", .updated_at = 1};
	char before[LEDGER_STATUS_MAX], after[LEDGER_STATUS_MAX];
	assert_int_equal(store_order_upsert(fx->db, &o), SL_OK);
	assert_int_equal(ledger_charge_reported(fx->db, id, reported, version), SL_OK);
	assert_int_equal(ledger_settle(fx->db, id, 1, before, after), SL_OK);
}

/* A refund event at version: the object through mapping_apply_money, as the
 * webhook reads it. */
static void refund(struct fixture *fx, const char *id, const char *charge_id, long long amount,
		   const char *status, long long created, long long version)
{
	char json[512];
	snprintf(json, sizeof json, "{\"id\":\"%s\",\"object\":\"refund\",\"charge\":\"%s\","
		 "\"amount\":%lld,\"currency\":\"usd\",\"status\":\"%s\",\"created\":%lld}",
		 id, charge_id, amount, status, created);
	json_object *obj = json_tokener_parse(json);
	char before[LEDGER_STATUS_MAX], after[LEDGER_STATUS_MAX];
	assert_int_equal(mapping_apply_money(EFFECT_REFUND, obj, &fx->cs), SL_OK);
	assert_int_equal(ledger_refunds(fx->db, &fx->cs, 1, version, 1), SL_OK);
	assert_int_equal(ledger_settle(fx->db, charge_id, 1, before, after), SL_OK);
	json_object_put(obj);
}

/* A dispute event at version; returns whether it was new. */
static bool dispute(struct fixture *fx, const char *id, const char *charge_id, long long amount,
		    const char *status, long long version)
{
	char json[512];
	snprintf(json, sizeof json, "{\"id\":\"%s\",\"object\":\"dispute\",\"charge\":\"%s\","
		 "\"amount\":%lld,\"currency\":\"usd\",\"status\":\"%s\",\"reason\":\"fraudulent\","
		 "\"created\":%lld}", id, charge_id, amount, status, version);
	json_object *obj = json_tokener_parse(json);
	char before[LEDGER_STATUS_MAX], after[LEDGER_STATUS_MAX];
	bool first = false;
	assert_int_equal(mapping_apply_money(EFFECT_DISPUTE, obj, &fx->cs), SL_OK);
	assert_int_equal(ledger_dispute(fx->db, &fx->cs, 1, version, 1, &first), SL_OK);
	assert_int_equal(ledger_settle(fx->db, charge_id, 1, before, after), SL_OK);
	json_object_put(obj);
	return first;
}

/* The order's refunded amount and status as the contact page reads them. */
static long long refunded_of(struct fixture *fx, const char *id, const char **status)
{
	struct order_row *orders;
	size_t n;
	assert_int_equal(store_contact_orders(fx->db, fx->a, fx->contact, &orders, &n), SL_OK);
	for (size_t i = 0; i < n; i++)
		if (strcmp(orders[i].stripe_id, id) == 0) {
			if (status)
				*status = orders[i].status;
			return orders[i].amount_refunded;
		}
	fail_msg("no order %s", id);
	return -1;
}

/* Net revenue in usd of the contact's summary. */
static long long net_usd(struct fixture *fx)
{
	struct contact_summary s;
	assert_int_equal(store_contact_summary(fx->db, fx->a, fx->contact, &s), SL_OK);
	for (size_t i = 0; i < s.n_revenue; i++)
		if (strcmp(s.revenue[i].currency, "usd") == 0)
			return s.revenue[i].amount;
	return 0;
}

static void test_partial_refunds_add_up(void **state)
{
	struct fixture *fx = *state;
	const char *status;
	charge(fx, "ch_1", 1000, 0, 100);
	refund(fx, "re_1", "ch_1", 300, "succeeded", 110, 110);
	assert_int_equal(refunded_of(fx, "ch_1", &status), 300);
	assert_string_equal(status, "partially_refunded");
	refund(fx, "re_2", "ch_1", 200, "pending", 120, 120);
	assert_int_equal(refunded_of(fx, "ch_1", &status), 500);
	/* the same events again: nothing changes */
	refund(fx, "re_1", "ch_1", 300, "succeeded", 110, 110);
	refund(fx, "re_2", "ch_1", 200, "pending", 120, 120);
	assert_int_equal(refunded_of(fx, "ch_1", &status), 500);
	refund(fx, "re_3", "ch_1", 500, "succeeded", 130, 130);
	assert_int_equal(refunded_of(fx, "ch_1", &status), 1000);
	assert_string_equal(status, "refunded");
	assert_int_equal(net_usd(fx), 0);
}

static void test_failed_and_canceled_stop_counting(void **state)
{
	struct fixture *fx = *state;
	const char *status;
	charge(fx, "ch_1", 1000, 0, 100);
	refund(fx, "re_1", "ch_1", 300, "succeeded", 110, 110);
	refund(fx, "re_2", "ch_1", 200, "pending", 120, 120);
	refund(fx, "re_2", "ch_1", 200, "failed", 120, 140);
	assert_int_equal(refunded_of(fx, "ch_1", &status), 300);
	/* an older event of re_2 arriving late changes nothing */
	refund(fx, "re_2", "ch_1", 200, "succeeded", 120, 130);
	assert_int_equal(refunded_of(fx, "ch_1", &status), 300);
	refund(fx, "re_1", "ch_1", 300, "canceled", 110, 150);
	assert_int_equal(refunded_of(fx, "ch_1", &status), 0);
	assert_string_equal(status, "paid");
	assert_int_equal(net_usd(fx), 1000);
}

static void test_same_second_the_final_status_wins(void **state)
{
	struct fixture *fx = *state;
	charge(fx, "ch_1", 1000, 0, 100);
	charge(fx, "ch_2", 1000, 0, 100);
	/* succeeded then failed, and failed then succeeded, in the same second */
	refund(fx, "re_1", "ch_1", 400, "succeeded", 110, 110);
	refund(fx, "re_1", "ch_1", 400, "failed", 110, 110);
	refund(fx, "re_2", "ch_2", 400, "failed", 110, 110);
	refund(fx, "re_2", "ch_2", 400, "succeeded", 110, 110);
	assert_int_equal(refunded_of(fx, "ch_1", NULL), 0);
	assert_int_equal(refunded_of(fx, "ch_2", NULL), 0);
}

static void test_refund_before_its_charge(void **state)
{
	struct fixture *fx = *state;
	const char *status;
	long long contact = -1;
	refund(fx, "re_1", "ch_late", 250, "succeeded", 110, 110);
	assert_int_equal(store_order_contact(fx->db, "ch_late", &contact), SL_ERR_NOT_FOUND);
	/* the charge arrives (its own event is older, it says nothing refunded) */
	charge(fx, "ch_late", 1000, 0, 100);
	assert_int_equal(refunded_of(fx, "ch_late", &status), 250);
	assert_string_equal(status, "partially_refunded");
	assert_int_equal(store_order_contact(fx->db, "ch_late", &contact), SL_OK);
	assert_int_equal(contact, fx->contact);
}

static void test_charge_amount_refunded_fallback(void **state)
{
	struct fixture *fx = *state;
	const char *status;
	/* charge.refunded of an API version without a refunds list: 800 in all */
	charge(fx, "ch_1", 1000, 800, 200);
	assert_int_equal(refunded_of(fx, "ch_1", &status), 800);
	/* the refunds' own events name them: no double count */
	refund(fx, "re_1", "ch_1", 300, "succeeded", 150, 150);
	assert_int_equal(refunded_of(fx, "ch_1", NULL), 800);
	refund(fx, "re_2", "ch_1", 500, "succeeded", 190, 190);
	assert_int_equal(refunded_of(fx, "ch_1", NULL), 800);
	/* one of them fails after the charge said 800: it stops counting */
	refund(fx, "re_2", "ch_1", 500, "failed", 190, 300);
	assert_int_equal(refunded_of(fx, "ch_1", NULL), 300);
	/* a newer refund than the charge's report adds */
	refund(fx, "re_3", "ch_1", 100, "succeeded", 310, 310);
	assert_int_equal(refunded_of(fx, "ch_1", NULL), 400);
	/* an older charge report changes nothing */
	assert_int_equal(ledger_charge_reported(fx->db, "ch_1", 1000, 120), SL_OK);
	char before[LEDGER_STATUS_MAX], after[LEDGER_STATUS_MAX];
	assert_int_equal(ledger_settle(fx->db, "ch_1", 1, before, after), SL_OK);
	assert_string_equal(before, "partially_refunded");
	assert_string_equal(after, "partially_refunded");
	assert_int_equal(refunded_of(fx, "ch_1", NULL), 400);
}

static void test_refund_listed_on_the_charge(void **state)
{
	struct fixture *fx = *state;
	/* charge.refunded with refunds.data, then the same refund's own event */
	charge(fx, "ch_1", 1000, 0, 100);
	fx->cs.refund_count = 0;
	json_object *obj = json_tokener_parse(
		"{\"id\":\"ch_1\",\"object\":\"charge\",\"amount\":1000,\"amount_refunded\":600,"
		"\"currency\":\"usd\",\"status\":\"succeeded\",\"billing_details\":{\"email\":\"ann@example.com\"},"
		"\"refunds\":{\"data\":[{\"id\":\"re_a\",\"amount\":400,\"status\":\"succeeded\",\"created\":150},"
		"{\"id\":\"re_b\",\"amount\":200,\"status\":\"succeeded\",\"created\":160}]}}");
	struct mapping *m = mapping_default(RESOURCE_CHARGE);
	char before[LEDGER_STATUS_MAX], after[LEDGER_STATUS_MAX];
	assert_int_equal(mapping_apply(m, obj, NULL, &fx->cs), SL_OK);
	assert_int_equal(fx->cs.refund_count, 2);
	assert_int_equal(ledger_charge_reported(fx->db, "ch_1", 600, 170), SL_OK);
	assert_int_equal(ledger_refunds(fx->db, &fx->cs, 1, 170, 1), SL_OK);
	assert_int_equal(ledger_settle(fx->db, "ch_1", 1, before, after), SL_OK);
	assert_int_equal(refunded_of(fx, "ch_1", NULL), 600);
	refund(fx, "re_b", "ch_1", 200, "succeeded", 160, 160);
	assert_int_equal(refunded_of(fx, "ch_1", NULL), 600);
	mapping_free(m);
	json_object_put(obj);
}

static void test_disputes(void **state)
{
	struct fixture *fx = *state;
	charge(fx, "ch_1", 1000, 0, 100);
	charge(fx, "ch_2", 2000, 0, 100);
	charge(fx, "ch_3", 500, 0, 100);
	refund(fx, "re_1", "ch_2", 500, "succeeded", 110, 110);
	assert_int_equal(net_usd(fx), 1000 + 1500 + 500);
	assert_true(dispute(fx, "dp_1", "ch_1", 1000, "needs_response", 200));
	assert_false(dispute(fx, "dp_1", "ch_1", 1000, "needs_response", 200));   /* repeated */
	assert_true(dispute(fx, "dp_2", "ch_2", 1500, "needs_response", 200));
	assert_true(dispute(fx, "dp_3", "ch_3", 500, "warning_needs_response", 200));
	assert_int_equal(net_usd(fx), 3000);   /* open disputes take nothing yet */
	assert_false(dispute(fx, "dp_1", "ch_1", 1000, "lost", 300));
	assert_false(dispute(fx, "dp_2", "ch_2", 1500, "won", 300));
	assert_false(dispute(fx, "dp_3", "ch_3", 500, "warning_closed", 300));
	assert_int_equal(net_usd(fx), 2000);   /* the lost one only */
	/* an older update arriving late does not reopen it */
	assert_false(dispute(fx, "dp_1", "ch_1", 1000, "under_review", 250));
	assert_int_equal(net_usd(fx), 2000);
	struct dispute_row *d;
	size_t n;
	assert_int_equal(store_contact_disputes(fx->db, fx->a, fx->contact, &d, &n), SL_OK);
	assert_int_equal(n, 3);
	assert_string_equal(d[0].charge_id, "ch_1");
	assert_string_equal(d[0].status, "lost");
	assert_string_equal(d[0].reason, "fraudulent");
	assert_int_equal(d[0].amount, 1000);
}

static void test_customer_deleted(void **state)
{
	struct fixture *fx = *state;
	struct customer_link *l;
	size_t n;
	assert_int_equal(store_customer_link(fx->db, "cus_a", fx->contact), SL_OK);
	assert_int_equal(store_customer_link(fx->db, "cus_b", fx->contact), SL_OK);
	assert_int_equal(store_customer_deleted(fx->db, "cus_a", 1700000000), SL_OK);
	assert_int_equal(store_customer_deleted(fx->db, "cus_a", 1800000000), SL_OK);  /* the first counts */
	assert_int_equal(store_customer_link(fx->db, "cus_a", fx->contact), SL_OK);   /* a later event */
	assert_int_equal(store_contact_links(fx->db, fx->a, fx->contact, &l, &n), SL_OK);
	assert_int_equal(n, 2);
	assert_string_equal(l[0].customer_id, "cus_a");
	assert_int_equal(l[0].deleted_at, 1700000000);
	assert_string_equal(l[1].customer_id, "cus_b");
	assert_int_equal(l[1].deleted_at, 0);
	long long contact;
	assert_int_equal(store_customer_contact(fx->db, "cus_a", &contact), SL_OK);   /* still linked */
	assert_int_equal(contact, fx->contact);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refund_statuses),
		cmocka_unit_test(test_dispute_statuses),
		cmocka_unit_test(test_refunded_rule),
		cmocka_unit_test(test_order_status),
		cmocka_unit_test_setup_teardown(test_partial_refunds_add_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_and_canceled_stop_counting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_second_the_final_status_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refund_before_its_charge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_charge_amount_refunded_fallback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refund_listed_on_the_charge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disputes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_customer_deleted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
