/*
 * refetch.c - versions by Stripe's clock and same-second ties; see
 * refetch.h.
 */
#include "refetch.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "stripe.h"

#define REFETCH_ID_MAX 255   /* longer ids are not Stripe's */

static atomic_bool said_no_date;

long long refetch_answer_version(const struct stripe_client *c, const char *what)
{
	long long date = stripe_last_date(c);
	if (date > 0)
		return date - 1;
	if (!atomic_exchange(&said_no_date, true))
		fprintf(stderr, "stripelink: Stripe's answer to %s had no Date header: the state it "
				"holds is versioned by this machine's clock instead (said once)\n", what);
	return (long long)time(NULL) - 1;
}

bool refetch_is_tie(enum resource r, long long applied, long long created)
{
	const struct catalog_resource *res = catalog_resource(r);
	return res && res->refetch_on_tie && applied == created;
}

/* Stripe ids are letters, digits and '_': nothing a path could misread. */
static bool stripe_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > REFETCH_ID_MAX)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

sl_err refetch_object(struct stripe_client *c, const char *key, enum resource r, const char *id,
		      long long created, json_object **out, long long *version,
		      struct stripe_error *err)
{
	const struct catalog_resource *res = catalog_resource(r);
	*out = NULL;
	if (!res || !stripe_id(id)) {
		memset(err, 0, sizeof *err);
		snprintf(err->message, sizeof err->message, "not a Stripe object id");
		return SL_ERR_INVALID;
	}
	char path[REFETCH_ID_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", res->list_path, id);
	sl_err e = stripe_request(c, key, STRIPE_GET, path, NULL, out, err);
	if (e)
		return e;
	json_object *got;
	if (!json_object_is_type(*out, json_type_object) ||
	    !json_object_object_get_ex(*out, "id", &got) || !json_object_is_type(got, json_type_string) ||
	    strcmp(json_object_get_string(got), id) != 0) {
		json_object_put(*out);
		*out = NULL;
		snprintf(err->message, sizeof err->message, "Stripe's answer to GET %s is not that object", path);
		return SL_ERR_REMOTE;
	}
	long long v = refetch_answer_version(c, path);
	*version = v > created ? v : created;
	return SL_OK;
}
