/*
 * metrics.h - what the processes count, and /metrics in Prometheus' text
 * format.
 *
 * Counters are process-wide C11 atomics: incrementing one takes no lock.
 * The FastCGI worker serves /metrics; the sync worker (another process)
 * writes a snapshot of its own counters to a file in the data directory
 * every couple of seconds (metrics_snapshot_write), and /metrics renders
 * both, each series labelled with its process.
 */
#ifndef STRIPELINK_METRICS_H
#define STRIPELINK_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"

#define METRICS_CONNECTIONS 64     /* connections counted one by one; more share "other" */
#define METRICS_STATUS_MAX 600     /* HTTP statuses counted; 0: no answer */

struct writer_stats;

/* A webhook delivery answered with result ("processed", ...) in seconds. */
void metrics_delivery(const char *result, double seconds);

/* One attempt of a Stripe API request answered with status (0: none). */
void metrics_stripe_status(long status);

/* The historical sync committed a page of objects for a connection. */
void metrics_sync_page(long long connection_id, long long objects);

/* The rate limiter made a request of connection (0: the thread's current
 * connection, see metrics_set_connection) wait this long. */
void metrics_rate_limit_wait(long long connection_id, long long waited_ns);

/* A waiting webhook event completed in its customer's or charge's writer
 * job: the parse made when it arrived was reused, or its body parsed again. */
void metrics_waiting_parse(bool reused);

/* The connection whose Stripe requests this thread makes now (0: none), so
 * a 429 is counted against it. */
void metrics_set_connection(long long connection_id);

/* The connection this thread last said it works for (0: none). */
long long metrics_connection(void);

/* Renders every metric into out: this process's counters as process="web"
 * with its writer's stats, and the sync worker's snapshot read from
 * sync_snapshot_path when it is fresh. */
void metrics_render(struct buf *out, const struct writer_stats *writer,
		    const char *sync_snapshot_path);

/* Writes this process's counters (with its writer's stats and resident
 * memory) to path atomically, for the FastCGI worker to read. */
sl_err metrics_snapshot_write(const char *path, const struct writer_stats *writer);

/* True when addr is a loopback address (127.0.0.0/8, ::1). */
bool metrics_loopback(const char *addr);

#endif
