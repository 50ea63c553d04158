/*
 * page_sync.c - historical sync controls on the Stripe app page: "Sync
 * history now", pause, resume and cancel. The work itself is done by the
 * sync worker process, never by a request.
 */
#include "handlers.h"

#include <string.h>

#include "app.h"
#include "catalog.h"
#include "store.h"
#include "view.h"
#include "writer.h"

/* What each control does: the state it moves a job to and from. */
static const struct {
	const char *action;
	const char *to;
	const char *from;   /* JSON array for store_job_control */
} controls[] = {
	{"pause", "paused", "[\"queued\",\"running\"]"},
	{"resume", "queued", "[\"paused\",\"failed\"]"},
	{"cancel", "cancelled", "[\"queued\",\"running\",\"paused\",\"failed\"]"},
};

struct queue_job {
	long long connection_id, now;
	const char *resource;
};

static sl_err queue_job(struct store *db, void *arg)
{
	struct queue_job *j = arg;
	long long id;
	sl_err e = store_job_queue(db, j->connection_id, j->resource, j->now, &id);
	return e == SL_ERR_EXISTS ? SL_OK : e;   /* one is already on its way */
}

HANDLER(page_sync_post)
{
	struct connection_row c;
	sl_err e = page_load_connection(r, &c);
	if (e)
		return e;
	if (strcmp(c.status, "connected") != 0)
		return SL_ERR_INVALID;
	const char *resource = http_param(r, "resource");
	struct resource_row res;
	if (!resource || catalog_resource_by_slug(resource) == RESOURCE__MAX ||
	    store_resource_get(r->thread->db, r->arena, c.id, resource, &res) != SL_OK)
		return SL_ERR_NOT_FOUND;
	struct queue_job j = {c.id, r->now, resource};
	if ((e = writer_run(r->thread->writer, queue_job, &j)))
		return e;
	http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld#sync", c.id));
	return SL_OK;
}

struct control_job {
	long long job_id, connection_id, now;
	const char *to, *from;
};

static sl_err control_job(struct store *db, void *arg)
{
	struct control_job *j = arg;
	return store_job_control(db, j->job_id, j->connection_id, j->to, j->from, j->now);
}

HANDLER(page_sync_control_post)
{
	struct connection_row c;
	sl_err e = page_load_connection(r, &c);
	if (e)
		return e;
	long long job_id;
	if ((e = page_id_param(r, 1, &job_id)))
		return e;
	if (strcmp(c.status, "connected") != 0)
		return SL_ERR_INVALID;   /* a disconnected account's jobs stay stopped */
	const char *action = http_param(r, "action");
	for (size_t i = 0; action && i < sizeof controls / sizeof controls[0]; i++) {
		if (strcmp(action, controls[i].action) != 0)
			continue;
		struct control_job j = {job_id, c.id, r->now, controls[i].to, controls[i].from};
		if ((e = writer_run(r->thread->writer, control_job, &j)) && e != SL_ERR_INVALID)
			return e;
		/* SL_ERR_INVALID: the job moved on meanwhile; the page shows where it is */
		http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld#sync", c.id));
		return SL_OK;
	}
	return SL_ERR_INVALID;
}

/* "1 h 02 min", "3 min 05 s", "12 s" from milliseconds, in the arena. */
static const char *duration(struct arena *a, long long ms)
{
	long long s = ms / 1000;
	if (s >= 3600)
		return arena_printf(a, "%lld h %02lld min", s / 3600, (s % 3600) / 60);
	if (s >= 60)
		return arena_printf(a, "%lld min %02lld s", s / 60, s % 60);
	return arena_printf(a, "%lld.%01lld s", s, (ms % 1000) / 100);
}

void page_sync_jobs(struct http_request *r, struct view_dict *d, long long connection_id,
		    bool connected)
{
	struct sync_job_row *jobs;
	size_t n;
	if (store_jobs_list(r->thread->db, r->arena, connection_id, &jobs, &n) != SL_OK)
		return;
	bool active = false;
	view_show(d, n ? "HAVE_JOBS" : "NO_JOBS");
	for (size_t i = 0; i < n; i++) {
		const struct sync_job_row *j = &jobs[i];
		struct view_dict *row = view_section(d, "JOBS");
		enum resource kind = catalog_resource_by_slug(j->resource);
		view_set_int(row, "JOB", j->id);
		view_set(row, "RESOURCE_LABEL", kind < RESOURCE__MAX ? catalog_resource(kind)->label : j->resource);
		view_set(row, "STATE", j->state);
		view_set_int(row, "OBJECTS", j->objects);
		view_set_int(row, "PAGES", j->pages);
		view_set_int(row, "CREATED", j->contacts_created);
		view_set_int(row, "UPDATED", j->contacts_updated);
		view_set_int(row, "SKIPPED", j->skipped);
		view_set(row, "ELAPSED", duration(r->arena, j->elapsed_ms));
		double fraction = 0;
		bool known = false;
		store_job_progress(r->thread->db, j->id, &fraction, &known);
		if (!strcmp(j->state, "done"))
			fraction = 1, known = true;
		view_set_int(row, "PERCENT", known ? (long long)(fraction * 100) : 0);
		if (*j->error) {
			view_show(row, "JOB_ERROR");
			view_set(row, "ERROR", j->error);
		}
		bool running = !strcmp(j->state, "running") || !strcmp(j->state, "queued");
		active |= running;
		if (connected) {
			if (running)
				view_show(row, "CAN_PAUSE");
			if (!strcmp(j->state, "paused") || !strcmp(j->state, "failed"))
				view_show(row, "CAN_RESUME");
			if (running || !strcmp(j->state, "paused") || !strcmp(j->state, "failed"))
				view_show(row, "CAN_CANCEL");
		}
	}
	if (active)
		view_show(d, "REFRESH");
}
