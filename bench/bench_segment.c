/*
 * bench_segment.c - how long counting a segment takes on a database of
 * N contacts (default 100,000) with tags, orders, recurring payments and
 * a custom field, through the same store functions the Segments page uses.
 *
 * Usage: bench_segment [CONTACTS [RUNS]]
 * The database is filled in a temporary directory (one transaction), then
 * each typical segment is counted RUNS times (default 5); the median and
 * the slowest are printed with the count, and the time of one page of 50
 * contacts. A micro-benchmark, not a test: it prints, it does not judge.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "segment.h"
#include "store.h"

#define DAY 86400LL

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void iso(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int fill(struct store *db, long long n, long long now)
{
	long long field_id;
	if (store_field_create(db, "plan", "Plan", "text", &field_id) || store_begin(db))
		return -1;
	static const char *const plans[] = {"gold", "silver", NULL};
	long long order_no = 0;
	for (long long i = 1; i <= n; i++) {
		char email[64], id[32], created[32];
		long long contact;
		bool made;
		snprintf(email, sizeof email, "user%lld@example.com", i);
		if (store_contact_upsert(db, email, email, now - (i % 1000) * DAY, &contact, &made))
			return -1;
		if ((i % 5 != 0 && store_contact_tag(db, contact, "stripe-integration")) ||
		    (i % 10 == 0 && store_contact_tag(db, contact, "vip")) ||
		    (i % 3 == 0 && store_contact_tag(db, contact, "stripe-integration-charge-succeeded")))
			return -1;
		if (plans[i % 3] && store_contact_set(db, contact, "plan", plans[i % 3], now))
			return -1;
		for (long long k = 0; k < i % 4; k++) {
			snprintf(id, sizeof id, "ch_%lld", ++order_no);
			iso(now - ((i * 7 + k * 31) % 365) * DAY, created);
			struct order_row o = {.stripe_id = id, .connection_id = 1, .contact_id = contact,
					      .amount = 1000 + (i * 37 + k) % 20000,
					      .amount_refunded = k == 2 ? 500 : 0,
					      .currency = i % 11 == 0 ? "eur" : "usd",
					      .status = k == 1 && i % 6 == 0 ? "failed" : "paid",
					      .created = created, .updated_at = now};
			if (store_order_upsert(db, &o))
				return -1;
		}
		if (i % 5 == 0 || i % 7 == 0) {
			snprintf(id, sizeof id, "sub_%lld", i);
			struct recurring_row r = {.subscription_id = id, .connection_id = 1, .contact_id = contact,
						  .status = i % 5 == 0 ? "active" : "canceled", .updated_at = now};
			if (store_recurring_upsert(db, &r))
				return -1;
		}
	}
	return store_commit(db) ? -1 : 0;
}

struct bench_case {
	const char *name;
	struct seg_cond conds[3];
	size_t n;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long long n = argc > 1 ? atoll(argv[1]) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	if (n < 1 || runs < 1 || runs > 100) {
		fprintf(stderr, "usage: bench_segment [CONTACTS [RUNS]]\n");
		return 2;
	}
	char dir[] = "/tmp/sl-bench-segment-XXXXXX", path[64];
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof path, "%s/bench.db", dir);
	sl_err e;
	struct store *db = store_open(path, &e);
	long long now = (long long)time(NULL);
	char from[16], to[16], buf[32];
	iso(now - 200 * DAY, buf);
	snprintf(from, sizeof from, "%.10s", buf);
	iso(now - 100 * DAY, buf);
	snprintf(to, sizeof to, "%.10s", buf);
	const struct bench_case cases[] = {
		{"has tag vip", {{SEG_HAS_TAG, "vip", ""}}, 1},
		{"has not tag stripe-integration", {{SEG_NOT_TAG, "stripe-integration", ""}}, 1},
		{"active recurring payment", {{SEG_RECURRING_ACTIVE, "", ""}}, 1},
		{"net revenue >= 150.00 usd", {{SEG_REVENUE_GTE, "150", "usd"}}, 1},
		{"net revenue < 50.00 usd", {{SEG_REVENUE_LT, "50", "usd"}}, 1},
		{"last order within 30 days", {{SEG_ORDER_WITHIN, "30", ""}}, 1},
		{"no order within 90 days", {{SEG_ORDER_NOT_WITHIN, "90", ""}}, 1},
		{"orders >= 2", {{SEG_ORDERS_GTE, "2", ""}}, 1},
		{"created between", {{SEG_CREATED_BETWEEN, from, to}}, 1},
		{"plan equals gold", {{SEG_FIELD_EQUALS, "gold", "plan"}}, 1},
		{"plan contains ilv", {{SEG_FIELD_CONTAINS, "ilv", "plan"}}, 1},
		{"plan is empty", {{SEG_FIELD_EMPTY, "", "plan"}}, 1},
		{"tag + revenue >= 100 usd + active recurring",
		 {{SEG_HAS_TAG, "stripe-integration-charge-succeeded", ""}, {SEG_REVENUE_GTE, "100", "usd"},
		  {SEG_RECURRING_ACTIVE, "", ""}}, 3},
	};
	int rc = 1;
	struct arena *a = arena_new();
	if (!db || e || store_migrate(db))
		goto out;
	double t0 = now_ms();
	if (fill(db, n, now)) {
		fprintf(stderr, "bench_segment: filling the database failed\n");
		goto out;
	}
	printf("filled %lld contacts in %.1f s\n", n, (now_ms() - t0) / 1e3);
	printf("%-46s %9s %10s %10s %12s\n", "segment", "count", "median ms", "max ms", "page of 50 ms");
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct segment_def def = {.n = cases[c].n};
		memcpy(def.conds, cases[c].conds, cases[c].n * sizeof cases[c].conds[0]);
		double ms[100];
		long long count = 0;
		for (int i = 0; i < runs; i++) {
			double s = now_ms();
			if (store_segment_count(db, a, &def, now, &count))
				goto out;
			ms[i] = now_ms() - s;
			arena_reset(a);
		}
		qsort(ms, (size_t)runs, sizeof ms[0], cmp_double);
		struct contact *page;
		size_t got;
		double s = now_ms();
		if (store_segment_contacts(db, a, &def, now, 0, 50, &page, &got))
			goto out;
		double page_ms = now_ms() - s;
		arena_reset(a);
		printf("%-46s %9lld %10.1f %10.1f %12.1f\n", cases[c].name, count, ms[runs / 2], ms[runs - 1], page_ms);
	}
	rc = 0;
out:
	arena_free(a);
	store_close(db);
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		char p[80];
		snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
		unlink(p);
	}
	rmdir(dir);
	return rc;
}
