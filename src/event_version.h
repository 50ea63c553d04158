/*
 * event_version.h - events made under another Stripe API version than the
 * one this install pins (STRIPE_API_VERSION): listed events carry the
 * version they were created with, and an endpoint's version can change.
 * Such an event is mapped only when every field its mapping reads is
 * present; otherwise it is skipped with the reason, never mapped to blanks.
 * Each other version is reported once per process.
 */
#ifndef STRIPELINK_EVENT_VERSION_H
#define STRIPELINK_EVENT_VERSION_H

#include <json-c/json.h>

struct arena;
struct mapping;

/* Checks an event of API version `version` (NULL or ours: nothing to
 * check) whose data.object is object, for mapping m. Returns the reason to
 * skip it (from a), or NULL to map it; then *note is, the first time this
 * process meets the version, the words for its log entry (from a; also
 * written to stderr), else NULL. */
const char *event_version_check(struct arena *a, const struct mapping *m, json_object *object,
				const char *version, long long connection_id, const char **note);

#endif
