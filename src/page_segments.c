/*
 * page_segments.c - the Segments pages: list with live counts, save,
 * update, delete (the filter builder's form is page_filter.c's).
 */
#include "handlers.h"
#include "page_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "store.h"
#include "view.h"
#include "writer.h"

static sl_err segments_page(struct http_request *r, struct http_response *resp)
{
	struct segment_row *rows;
	size_t n;
	sl_err e = store_segments_list(r->thread->db, r->arena, &rows, &n);
	if (e)
		return e;
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Segments");
	view_show(d, n ? "HAVE_SEGMENTS" : "NO_SEGMENTS");
	long long now = (long long)time(NULL);
	for (size_t i = 0; i < n; i++) {
		struct view_dict *row = view_section(d, "SEGMENTS");
		struct segment_def def;
		long long count = 0;
		view_set_int(row, "ID", rows[i].id);
		view_set(row, "NAME", rows[i].name);
		e = segment_from_json(r->arena, rows[i].definition, &def);
		if (!e)
			e = store_segment_count(r->thread->db, r->arena, &def, now, &count);
		if (e == SL_ERR_INVALID) {
			view_set(row, "COUNT", "definition no longer valid: open and fix it");
			continue;
		}
		if (e) {
			view_dict_free(d);
			return e;
		}
		view_set_int(row, "COUNT", count);
	}
	const char *saved = http_get(&r->query, "saved");
	if (saved) {
		view_show(d, "SAVED");
		view_set(d, "SAVED_NAME", saved);
	}
	return page_render(r, resp, "segments", "SEGMENTS", d);
}

HANDLER(page_segments_get)
{
	return segments_page(r, resp);
}

struct segment_job {
	long long id;            /* 0: create */
	const char *name;
	const char *definition;
	long long now;
};

static sl_err save_job(struct store *db, void *arg)
{
	struct segment_job *j = arg;
	if (j->id)
		return store_segment_update(db, j->id, j->name, j->definition);
	return store_segment_create(db, j->name, j->definition, j->now, &j->id);
}

/* Trims name; NULL when empty or too long. */
static const char *segment_name(struct http_request *r)
{
	const char *name = http_param(r, "name");
	if (!name)
		return NULL;
	while (*name == ' ')
		name++;
	char *t = arena_strdup(r->arena, name);
	size_t n = strlen(t);
	while (n && t[n - 1] == ' ')
		t[--n] = '\0';
	return n && n <= 80 ? t : NULL;
}

static sl_err save(struct http_request *r, struct http_response *resp, long long id)
{
	struct page_filter f;
	sl_err e = page_filter_read(r, &f);
	if (e)
		return e;
	const char *name = segment_name(r);
	const char *error = NULL;
	if (f.invalid)
		error = "Fix the conditions marked below before saving.";
	else if (f.def.n == 0)
		error = "Add at least one condition before saving a segment.";
	else if (!name)
		error = "Give the segment a name (1 to 80 characters).";
	if (!error) {
		struct segment_job j = {id, name, segment_to_json(r->arena, &f.def), (long long)time(NULL)};
		e = writer_run(r->thread->writer, save_job, &j);
		if (e == SL_ERR_EXISTS)
			error = "A segment with this name already exists.";
		else if (e)
			return e;
		else {
			http_redirect(resp, arena_printf(r->arena, "/segments?saved=%s",
							 http_url_encode(r->arena, name)));
			return SL_OK;
		}
	}
	return page_contacts_filtered(r, resp, &f, id, error);
}

HANDLER(page_segments_post)
{
	return save(r, resp, 0);
}

HANDLER(page_segment_post)
{
	long long id;
	sl_err e = page_id_param(r, 0, &id);
	return e ? e : save(r, resp, id);
}

static sl_err delete_job(struct store *db, void *arg)
{
	return store_segment_delete(db, *(long long *)arg);
}

HANDLER(page_segment_delete_post)
{
	long long id;
	sl_err e = page_id_param(r, 0, &id);
	if (e || (e = writer_run(r->thread->writer, delete_job, &id)))
		return e;
	http_redirect(resp, "/segments");
	return SL_OK;
}
