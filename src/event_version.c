/*
 * event_version.c - events of another Stripe API version; see
 * event_version.h.
 */
#include "event_version.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "mapping.h"
#include "stripe.h"

#define EVENT_VERSIONS_NOTED 32   /* beyond this many, later ones are noted every time */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char noted[EVENT_VERSIONS_NOTED][64];
static size_t n_noted;

static bool first_seen(const char *version)
{
	bool first = true;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_noted && first; i++)
		first = strcmp(noted[i], version) != 0;
	if (first && n_noted < EVENT_VERSIONS_NOTED)
		snprintf(noted[n_noted++], sizeof noted[0], "%s", version);
	pthread_mutex_unlock(&lock);
	return first;
}

const char *event_version_check(struct arena *a, const struct mapping *m, json_object *object,
				const char *version, long long connection_id, const char **note)
{
	*note = NULL;
	if (!version || strcmp(version, STRIPE_API_VERSION) == 0)
		return NULL;
	const char *missing = mapping_missing_field(m, object);
	if (missing)
		return arena_printf(a, "the event was made with Stripe API version %s (this install reads %s) "
				    "and has no %s, which the mapping uses", version, STRIPE_API_VERSION, missing);
	if (first_seen(version)) {
		*note = arena_printf(a, "made with Stripe API version %s (this install reads %s); every field "
				     "the mapping uses is present, so it was mapped", version, STRIPE_API_VERSION);
		fprintf(stderr, "stripelink: connection %lld: events made with Stripe API version %s (ours is %s) "
				"arrive; mapped while the fields the mapping uses are present, skipped with the "
				"reason otherwise\n", connection_id, version, STRIPE_API_VERSION);
	}
	return NULL;
}
