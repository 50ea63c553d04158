/*
 * metrics.c - counters and the Prometheus text format; see metrics.h.
 */
#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "writer.h"

/* Delivery results, in the order the integration log knows them. */
static const char *const results[] = {
	"processed", "duplicate", "skipped", "ignored", "rejected", "failed", "waiting", "other",
};
#define N_RESULTS (sizeof results / sizeof results[0])

/* Latency buckets' upper bounds, seconds. */
static const double buckets[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define N_BUCKETS (sizeof buckets / sizeof buckets[0])

/* Plain numbers: what a snapshot file holds, and what rendering reads. */
struct snapshot {
	uint32_t magic;               /* SNAPSHOT_MAGIC, and the layout's size */
	uint64_t deliveries[N_RESULTS];
	uint64_t latency[N_BUCKETS + 1];   /* per bucket, the last one +Inf */
	uint64_t latency_count, latency_sum_us;
	uint64_t stripe[METRICS_STATUS_MAX];
	struct {
		int64_t id;           /* 0: free slot; -1: every connection past the table */
		uint64_t objects, pages, rate_limited, waits, wait_ns;
	} conn[METRICS_CONNECTIONS + 1];
	uint64_t waiting_parses[2];   /* [0] parsed again, [1] the arrival's parse reused */
	uint64_t writer_groups, writer_jobs, writer_largest;
	uint64_t rss_bytes;
	int64_t written_at;
};
#define SNAPSHOT_MAGIC (0x534c4d00u ^ (uint32_t)sizeof(struct snapshot))

/* The live counters: the same shape, atomic. */
static struct {
	_Atomic uint64_t deliveries[N_RESULTS];
	_Atomic uint64_t latency[N_BUCKETS + 1];
	_Atomic uint64_t latency_count, latency_sum_us;
	_Atomic uint64_t stripe[METRICS_STATUS_MAX];
	struct {
		_Atomic int64_t id;
		_Atomic uint64_t objects, pages, rate_limited, waits, wait_ns;
	} conn[METRICS_CONNECTIONS + 1];
	_Atomic uint64_t waiting_parses[2];
} live;

static _Thread_local long long current_connection;

void metrics_delivery(const char *result, double seconds)
{
	size_t i = 0;
	while (i < N_RESULTS - 1 && strcmp(results[i], result ? result : "") != 0)
		i++;
	atomic_fetch_add_explicit(&live.deliveries[i], 1, memory_order_relaxed);
	size_t b = 0;
	while (b < N_BUCKETS && seconds > buckets[b])
		b++;
	atomic_fetch_add_explicit(&live.latency[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&live.latency_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&live.latency_sum_us, (uint64_t)(seconds * 1e6), memory_order_relaxed);
}

void metrics_stripe_status(long status)
{
	if (status < 0 || status >= METRICS_STATUS_MAX)
		status = 0;
	atomic_fetch_add_explicit(&live.stripe[status], 1, memory_order_relaxed);
	if (status == 429 && current_connection)
		metrics_rate_limit_wait(current_connection, -1);
}

/* The slot of a connection: found, claimed, or the shared last one. */
static size_t slot_of(long long id)
{
	for (size_t i = 0; i < METRICS_CONNECTIONS; i++) {
		int64_t have = atomic_load_explicit(&live.conn[i].id, memory_order_acquire);
		if (have == id)
			return i;
		if (have == 0) {
			int64_t expected = 0;
			if (atomic_compare_exchange_strong(&live.conn[i].id, &expected, (int64_t)id) ||
			    expected == id)
				return i;
		}
	}
	atomic_store(&live.conn[METRICS_CONNECTIONS].id, -1);
	return METRICS_CONNECTIONS;
}

void metrics_sync_page(long long connection_id, long long objects)
{
	size_t s = slot_of(connection_id);
	atomic_fetch_add_explicit(&live.conn[s].pages, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&live.conn[s].objects, (uint64_t)objects, memory_order_relaxed);
}

/* waited_ns -1 counts a 429 instead of a wait. */
void metrics_rate_limit_wait(long long connection_id, long long waited_ns)
{
	if (!connection_id)
		connection_id = current_connection;
	if (!connection_id)
		return;
	size_t s = slot_of(connection_id);
	if (waited_ns < 0) {
		atomic_fetch_add_explicit(&live.conn[s].rate_limited, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&live.conn[s].waits, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&live.conn[s].wait_ns, (uint64_t)waited_ns, memory_order_relaxed);
}

void metrics_waiting_parse(bool reused)
{
	atomic_fetch_add_explicit(&live.waiting_parses[reused], 1, memory_order_relaxed);
}

void metrics_set_connection(long long connection_id)
{
	current_connection = connection_id;
}

long long metrics_connection(void)
{
	return current_connection;
}

static uint64_t rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void take(struct snapshot *s, const struct writer_stats *w)
{
	memset(s, 0, sizeof *s);
	s->magic = SNAPSHOT_MAGIC;
	for (size_t i = 0; i < N_RESULTS; i++)
		s->deliveries[i] = atomic_load(&live.deliveries[i]);
	for (size_t i = 0; i <= N_BUCKETS; i++)
		s->latency[i] = atomic_load(&live.latency[i]);
	s->latency_count = atomic_load(&live.latency_count);
	s->latency_sum_us = atomic_load(&live.latency_sum_us);
	for (size_t i = 0; i < METRICS_STATUS_MAX; i++)
		s->stripe[i] = atomic_load(&live.stripe[i]);
	for (size_t i = 0; i <= METRICS_CONNECTIONS; i++) {
		s->conn[i].id = atomic_load(&live.conn[i].id);
		s->conn[i].objects = atomic_load(&live.conn[i].objects);
		s->conn[i].pages = atomic_load(&live.conn[i].pages);
		s->conn[i].rate_limited = atomic_load(&live.conn[i].rate_limited);
		s->conn[i].waits = atomic_load(&live.conn[i].waits);
		s->conn[i].wait_ns = atomic_load(&live.conn[i].wait_ns);
	}
	for (size_t i = 0; i < 2; i++)
		s->waiting_parses[i] = atomic_load(&live.waiting_parses[i]);
	if (w) {
		s->writer_groups = w->groups;
		s->writer_jobs = w->jobs;
		s->writer_largest = w->largest;
	}
	s->rss_bytes = rss_bytes();
	s->written_at = (int64_t)time(NULL);
}

sl_err metrics_snapshot_write(const char *path, const struct writer_stats *writer)
{
	struct snapshot s;
	take(&s, writer);
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (!f)
		return SL_ERR_IO;
	bool ok = fwrite(&s, sizeof s, 1, f) == 1;
	ok = fclose(f) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return SL_ERR_IO;
	}
	return SL_OK;
}

/* Reads the other process's snapshot; false when missing, stale (its
 * process stopped writing over a minute ago) or of another build. */
static bool snapshot_read(const char *path, struct snapshot *s)
{
	FILE *f = path ? fopen(path, "rb") : NULL;
	if (!f)
		return false;
	bool ok = fread(s, sizeof *s, 1, f) == 1 && s->magic == SNAPSHOT_MAGIC &&
		  (int64_t)time(NULL) - s->written_at < 60;
	fclose(f);
	return ok;
}

/* ---- the text format ---- */

static void family(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Every series of one family for each process that has a snapshot. */
struct procs {
	const char *name[2];
	const struct snapshot *s[2];
	int n;
};

static void render_conn(struct buf *out, const struct procs *p, const char *name,
			const char *type, const char *help, int which)
{
	family(out, name, type, help);
	for (int k = 0; k < p->n; k++)
		for (size_t i = 0; i <= METRICS_CONNECTIONS; i++) {
			const struct snapshot *s = p->s[k];
			if (!s->conn[i].id)
				continue;
			char conn[32];
			if (s->conn[i].id < 0)
				snprintf(conn, sizeof conn, "other");
			else
				snprintf(conn, sizeof conn, "%lld", (long long)s->conn[i].id);
			uint64_t v = which == 0 ? s->conn[i].objects : which == 1 ? s->conn[i].pages
				   : which == 2 ? s->conn[i].rate_limited : s->conn[i].waits;
			if (which == 4)
				buf_printf(out, "%s{process=\"%s\",connection=\"%s\"} %.6f\n", name, p->name[k], conn,
					   (double)s->conn[i].wait_ns / 1e9);
			else
				buf_printf(out, "%s{process=\"%s\",connection=\"%s\"} %llu\n", name, p->name[k], conn,
					   (unsigned long long)v);
		}
}

void metrics_render(struct buf *out, const struct writer_stats *writer,
		    const char *sync_snapshot_path)
{
	struct snapshot web, sync;
	take(&web, writer);
	struct procs p = {{"web", "sync"}, {&web, &sync}, 1};
	if (snapshot_read(sync_snapshot_path, &sync))
		p.n = 2;

	family(out, "stripelink_webhook_deliveries_total", "counter", "Webhook deliveries answered, by result.");
	for (size_t i = 0; i < N_RESULTS; i++)
		buf_printf(out, "stripelink_webhook_deliveries_total{result=\"%s\"} %llu\n", results[i],
			   (unsigned long long)web.deliveries[i]);

	family(out, "stripelink_webhook_duration_seconds", "histogram",
	       "Time to verify, apply, commit and answer a webhook delivery.");
	uint64_t cumulative = 0;
	for (size_t b = 0; b <= N_BUCKETS; b++) {
		cumulative += web.latency[b];
		if (b < N_BUCKETS)
			buf_printf(out, "stripelink_webhook_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[b],
				   (unsigned long long)cumulative);
		else
			buf_printf(out, "stripelink_webhook_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
				   (unsigned long long)cumulative);
	}
	buf_printf(out, "stripelink_webhook_duration_seconds_sum %.6f\n", (double)web.latency_sum_us / 1e6);
	buf_printf(out, "stripelink_webhook_duration_seconds_count %llu\n", (unsigned long long)web.latency_count);

	static const struct {
		const char *name, *help;
	} writer_rows[] = {
		{"stripelink_writer_groups_total", "Transactions the writer committed (one disk sync each)."},
		{"stripelink_writer_jobs_total", "Jobs the writer ran; jobs per group = jobs / groups."},
	};
	for (size_t r = 0; r < sizeof writer_rows / sizeof writer_rows[0]; r++) {
		family(out, writer_rows[r].name, "counter", writer_rows[r].help);
		for (int k = 0; k < p.n; k++)
			buf_printf(out, "%s{process=\"%s\"} %llu\n", writer_rows[r].name, p.name[k],
				   (unsigned long long)(r == 0 ? p.s[k]->writer_groups : p.s[k]->writer_jobs));
	}
	family(out, "stripelink_waiting_event_parses_total", "counter",
	       "Waiting webhook events completed in the writer job of their customer or charge, by "
	       "whether the parse made when the event arrived was reused or the body parsed again.");
	for (int k = 0; k < p.n; k++)
		for (int reused = 1; reused >= 0; reused--)
			buf_printf(out, "stripelink_waiting_event_parses_total{process=\"%s\",parse=\"%s\"} %llu\n",
				   p.name[k], reused ? "reused" : "again",
				   (unsigned long long)p.s[k]->waiting_parses[reused]);

	family(out, "stripelink_writer_largest_group", "gauge", "The most jobs committed in one group so far.");
	for (int k = 0; k < p.n; k++)
		buf_printf(out, "stripelink_writer_largest_group{process=\"%s\"} %llu\n", p.name[k],
			   (unsigned long long)p.s[k]->writer_largest);

	family(out, "stripelink_stripe_requests_total", "counter",
	       "Stripe API request attempts by HTTP status (0: no answer: network or timeout).");
	for (int k = 0; k < p.n; k++)
		for (int st = 0; st < METRICS_STATUS_MAX; st++)
			if (p.s[k]->stripe[st])
				buf_printf(out, "stripelink_stripe_requests_total{process=\"%s\",status=\"%d\"} %llu\n",
					   p.name[k], st, (unsigned long long)p.s[k]->stripe[st]);

	render_conn(out, &p, "stripelink_sync_objects_total", "counter",
		    "Objects the historical sync committed, per connection.", 0);
	render_conn(out, &p, "stripelink_sync_pages_total", "counter",
		    "List pages the historical sync committed, per connection.", 1);
	render_conn(out, &p, "stripelink_sync_rate_limited_total", "counter",
		    "429 answers from Stripe to the sync and catch-ups, per connection.", 2);
	render_conn(out, &p, "stripelink_sync_rate_limit_waits_total", "counter",
		    "Requests the shared rate limiter held back, per connection.", 3);
	render_conn(out, &p, "stripelink_sync_rate_limit_wait_seconds_total", "counter",
		    "Time requests waited for the shared rate limiter, per connection.", 4);

	family(out, "stripelink_resident_memory_bytes", "gauge", "Resident memory of the process.");
	for (int k = 0; k < p.n; k++)
		buf_printf(out, "stripelink_resident_memory_bytes{process=\"%s\"} %llu\n", p.name[k],
			   (unsigned long long)p.s[k]->rss_bytes);
}

bool metrics_loopback(const char *addr)
{
	if (!addr)
		return false;
	if (strcmp(addr, "::1") == 0 || strcmp(addr, "::ffff:127.0.0.1") == 0)
		return true;
	unsigned a, b, c, d;
	char end;
	return sscanf(addr, "%u.%u.%u.%u%c", &a, &b, &c, &d, &end) == 4 && a == 127 &&
	       b < 256 && c < 256 && d < 256;
}
