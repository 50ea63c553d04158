/*
 * retention.h - old rows pruned in the background.
 *
 * A timer thread in the FastCGI worker wakes every prune interval and
 * removes what is older than its setting: rejected deliveries, integration
 * log entries, stored event payloads and login attempt counters. It works
 * in small writer jobs (RETENTION_BATCH rows each), so webhooks and pages
 * waiting on the writer are never held back for long.
 */
#ifndef STRIPELINK_RETENTION_H
#define STRIPELINK_RETENTION_H

#include "err.h"

#define RETENTION_BATCH 500        /* rows per writer job */
#define RETENTION_MAX_BATCHES 200  /* per kind per round; the rest waits a round */

struct writer;
struct retention;

/* Starts the timer thread using the writer (borrowed: stop retention
 * before the writer). Returns NULL and sets *err on failure. */
struct retention *retention_start(struct writer *w, sl_err *err);

/* Wakes the thread, waits for it to finish its batch and frees it.
 * Accepts NULL. */
void retention_stop(struct retention *r);

#endif
