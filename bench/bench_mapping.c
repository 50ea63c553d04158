/*
 * bench_mapping.c - how many Stripe objects per second mapping_apply()
 * turns into change sets, on one core.
 *
 * Usage: bench_mapping [FIXTURES_JSON [SECONDS]]
 *   FIXTURES_JSON  Stripe's fixtures3.json (default
 *                  tests/fixtures/stripe/fixtures3.json, from the repo top)
 *   SECONDS        total time to spend measuring (default 2)
 *
 * The example objects of the five resources are given emails and names
 * (as real ones have), subscriptions get their customer expanded (as the
 * historical sync asks for), and each resource is mapped with its default
 * mapping plus an id row, an address part, a metadata key and a timestamp.
 * Two figures per resource and overall (round robin over the five):
 *   map only     mapping_apply() + change_set_clear() on an already parsed
 *                object: the engine itself;
 *   parse + map  json_tokener_parse() of the object's JSON text, then the
 *                same, then json_object_put(): what a webhook costs.
 * A micro-benchmark, not a test: it prints, it does not judge.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "catalog.h"
#include "mapping.h"

#define DEFAULT_FIXTURES "tests/fixtures/stripe/fixtures3.json"
#define BATCH 256 /* calls between clock reads */

struct subject {
	enum resource resource;
	json_object *object;  /* prepared example object; owned */
	char *text;           /* its JSON text; owned */
	struct mapping *mapping;
};

static volatile size_t sink; /* keeps results observable */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_path(json_object *o, const char *a, const char *b,
		     json_object *value)
{
	json_object *inner = o;

	if (b && !json_object_object_get_ex(o, a, &inner))
		return;
	json_object_object_add(inner, b ? b : a, value);
}

/* Makes a fixture look like real data: an email, a name, a city, a
 * metadata key. */
static json_object *prepare(json_object *fixtures, enum resource r)
{
	const char *name = catalog_resource(r)->object_name;
	json_object *resources, *fixture, *o = NULL, *md, *cust;

	if (!json_object_object_get_ex(fixtures, "resources", &resources) ||
	    !json_object_object_get_ex(resources, name, &fixture))
		return NULL;
	if (json_object_deep_copy(fixture, &o, NULL) != 0)
		return NULL;
	md = json_object_new_object();
	json_object_object_add(md, "plan", json_object_new_string("gold"));
	json_object_object_add(o, "metadata", md);
	switch (r) {
	case RESOURCE_CHARGE:
		set_path(o, "billing_details", "email",
			 json_object_new_string("Jenny.Rosen@example.com"));
		set_path(o, "billing_details", "name",
			 json_object_new_string("Jenny Rosen"));
		set_path(o, "customer", NULL,
			 json_object_new_string("cus_NffrFeUfNV2Hib"));
		break;
	case RESOURCE_CUSTOMER:
		set_path(o, "email", NULL,
			 json_object_new_string("jenny.rosen@example.com"));
		set_path(o, "name", NULL,
			 json_object_new_string("José Ñúñez-Łukasz"));
		set_path(o, "phone", NULL,
			 json_object_new_string("+1 555 0100"));
		break;
	case RESOURCE_SUBSCRIPTION:
		cust = prepare(fixtures, RESOURCE_CUSTOMER);
		if (cust)
			set_path(o, "customer", NULL, cust);
		break;
	case RESOURCE_INVOICE:
		set_path(o, "customer_email", NULL,
			 json_object_new_string("billing@example.com"));
		set_path(o, "customer_name", NULL,
			 json_object_new_string("Ada Lovelace"));
		set_path(o, "status", NULL, json_object_new_string("paid"));
		set_path(o, "amount_paid", NULL, json_object_new_int(1000));
		break;
	case RESOURCE_CHECKOUT_SESSION:
		set_path(o, "customer_details", "name",
			 json_object_new_string("Grace Hopper"));
		set_path(o, "amount_total", NULL, json_object_new_int(1999));
		set_path(o, "payment_status", NULL,
			 json_object_new_string("paid"));
		break;
	case RESOURCE__MAX:
		break;
	}
	return o;
}

/* The mapping benchmarked for r: the default plus a few typical rows. */
static struct mapping *bench_mapping(enum resource r)
{
	static const char *const city[] = {
		[RESOURCE_CHARGE] = "billing_details.address.city",
		[RESOURCE_CUSTOMER] = "address.city",
		[RESOURCE_SUBSCRIPTION] = "customer.address.city",
		[RESOURCE_INVOICE] = "customer_address.city",
		[RESOURCE_CHECKOUT_SESSION] = "customer_details.address.city",
	};
	struct mapping *m = mapping_default(r);
	const char *id = catalog_resource(r)->has_customer ? "customer" : "id";

	if (!m || mapping_set_id_rule(m, id, "stripe_customer_id") ||
	    mapping_add_rule(m, city[r], "city") ||
	    mapping_add_rule(m, "metadata.plan", "plan") ||
	    mapping_add_rule(m, "created", "stripe_created")) {
		mapping_free(m);
		return NULL;
	}
	return m;
}

/* Maps subjects[0..n) round robin for about seconds; returns objects/s. */
static double run(struct subject *subjects, size_t n, double seconds,
		  int parse)
{
	struct change_set cs;
	double start = now(), elapsed;
	size_t done = 0, fields = 0;

	change_set_init(&cs);
	do {
		for (int b = 0; b < BATCH; b++) {
			struct subject *s = &subjects[done++ % n];
			json_object *o = s->object;

			if (parse)
				o = json_tokener_parse(s->text);
			if (mapping_apply(s->mapping, o, NULL, &cs) == SL_OK)
				fields += cs.field_count;
			change_set_clear(&cs);
			if (parse)
				json_object_put(o);
		}
		elapsed = now() - start;
	} while (elapsed < seconds);
	sink = fields;
	return (double)done / elapsed;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : DEFAULT_FIXTURES;
	double seconds = argc > 2 ? atof(argv[2]) : 2.0, slice;
	struct subject subjects[RESOURCE__MAX] = {0};
	json_object *fixtures = json_object_from_file(path);
	struct change_set cs;
	int rc = 1;

	if (!fixtures) {
		fprintf(stderr, "bench_mapping: cannot read %s\n", path);
		return 1;
	}
	if (seconds <= 0)
		seconds = 2.0;
	/* 2 × 5 resources + 2 overall runs of twice the length */
	slice = seconds / 14;
	change_set_init(&cs);
	for (unsigned r = 0; r < RESOURCE__MAX; r++) {
		struct subject *s = &subjects[r];

		s->resource = r;
		s->object = prepare(fixtures, r);
		s->mapping = bench_mapping(r);
		if (!s->object || !s->mapping) {
			fprintf(stderr, "bench_mapping: no %s fixture\n",
				catalog_resource(r)->object_name);
			goto out;
		}
		s->text = strdup(json_object_to_json_string_ext(
			s->object, JSON_C_TO_STRING_PLAIN));
		if (mapping_apply(s->mapping, s->object, NULL, &cs) != SL_OK) {
			fprintf(stderr, "bench_mapping: %s does not map: %s\n",
				catalog_resource(r)->slug, cs.skip_reason);
			goto out;
		}
		change_set_clear(&cs);
	}

	printf("mapping_apply() + change_set_clear(), one thread, %.1f s in "
	       "all\n", seconds);
	printf("%-18s %7s %6s %16s %16s\n", "resource", "bytes", "rows",
	       "map only/s", "parse + map/s");
	for (unsigned r = 0; r < RESOURCE__MAX; r++) {
		struct subject *s = &subjects[r];
		double map = run(s, 1, slice, 0);
		double both = run(s, 1, slice, 1);

		printf("%-18s %7zu %6zu %16.0f %16.0f\n",
		       catalog_resource(r)->slug, strlen(s->text),
		       s->mapping->rule_count + 2, map, both);
	}
	printf("%-18s %7s %6s %16.0f %16.0f\n", "all (round robin)", "", "",
	       run(subjects, RESOURCE__MAX, 2 * slice, 0),
	       run(subjects, RESOURCE__MAX, 2 * slice, 1));
	printf("map only: the JSON parse is not included; parse + map: it "
	       "is.\n");
	rc = 0;
out:
	change_set_clear(&cs);
	for (unsigned r = 0; r < RESOURCE__MAX; r++) {
		json_object_put(subjects[r].object);
		free(subjects[r].text);
		mapping_free(subjects[r].mapping);
	}
	json_object_put(fixtures);
	return rc;
}
