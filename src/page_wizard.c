/*
 * page_wizard.c - steps 2 (Resource) and 3 (Map fields) of the Stripe
 * wizard, the confirmation, and editing a saved mapping later.
 *
 * Step 3 works without script: "Add field mapping" and "Remove" are submit
 * buttons that re-render the form with one row more or less.
 */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "catalog.h"
#include "mapping.h"
#include "store.h"
#include "view.h"
#include "writer.h"

#define WIZARD_MAX_ROWS MAPPING_MAX_RULES

static const struct {
	const char *value;
	const char *label;
} sync_types[] = {
	{"historical", "Sync historical and new records"},
	{"new", "Only sync new records"},
};

static bool known_sync_type(const char *t)
{
	for (size_t i = 0; t && i < sizeof sync_types / sizeof sync_types[0]; i++)
		if (strcmp(t, sync_types[i].value) == 0)
			return true;
	return false;
}

/* ---- step 2: resource ---- */

static sl_err resource_form(struct http_request *r, struct http_response *resp,
			    const struct connection_row *c, int status, const char *error)
{
	const char *chosen = http_param(r, "resource");
	const char *sync = http_param(r, "sync_type");
	struct resource_row saved;
	if (!sync && chosen &&
	    store_resource_get(r->thread->db, r->arena, c->id, chosen, &saved) == SL_OK)
		sync = saved.sync_type;   /* going back keeps what was chosen */
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Choose a resource");
	view_set_int(d, "ID", c->id);
	page_wizard_steps(d, 2);
	for (int k = 0; k < RESOURCE__MAX; k++) {
		const struct catalog_resource *res = catalog_resource((enum resource)k);
		struct view_dict *o = view_section(d, "RESOURCE_OPTIONS");
		view_set(o, "VALUE", res->slug);
		view_set(o, "LABEL", res->label);
		if (chosen && strcmp(chosen, res->slug) == 0)
			view_set(o, "SELECTED", "selected");
	}
	for (size_t i = 0; i < sizeof sync_types / sizeof sync_types[0]; i++) {
		struct view_dict *o = view_section(d, "SYNC_OPTIONS");
		view_set(o, "VALUE", sync_types[i].value);
		view_set(o, "LABEL", sync_types[i].label);
		if ((sync && strcmp(sync, sync_types[i].value) == 0) || (!sync && i == 0))
			view_set(o, "CHECKED", "checked");
	}
	if (error) {
		view_show(d, "ERROR");
		view_set(d, "ERROR_MESSAGE", error);
	}
	sl_err e = page_render(r, resp, "wizard_resource", "APPS", d);
	resp->status = status;
	return e;
}

/* The connection must be connected for the wizard. */
static sl_err load_connected(struct http_request *r, struct connection_row *c)
{
	sl_err e = page_load_connection(r, c);
	if (!e && strcmp(c->status, "connected") != 0)
		e = SL_ERR_NOT_FOUND;
	return e;
}

HANDLER(page_wizard_resource_get)
{
	struct connection_row c;
	sl_err e = load_connected(r, &c);
	return e ? e : resource_form(r, resp, &c, 200, NULL);
}

struct resource_job {
	long long connection_id, now;
	const char *resource, *sync_type;
};

/* Queues the history of a resource the first time it is both mapped and
 * set to "historical and new" (later runs: "Sync history now"). */
static sl_err queue_first_history(struct store *db, long long connection_id,
				  const char *resource, long long now)
{
	long long jobs, id;
	sl_err e = store_jobs_count(db, connection_id, resource, &jobs);
	if (e || jobs > 0)
		return e;
	e = store_job_queue(db, connection_id, resource, now, &id);
	return e == SL_ERR_EXISTS ? SL_OK : e;
}

static sl_err resource_job(struct store *db, void *arg)
{
	struct resource_job *j = arg;
	sl_err e = store_resource_upsert(db, j->connection_id, j->resource, j->sync_type, j->now);
	if (e || strcmp(j->sync_type, "historical") != 0)
		return e;
	struct arena *a = arena_new();
	struct resource_row row;
	e = store_resource_get(db, a, j->connection_id, j->resource, &row);
	if (!e && row.mapping)
		e = queue_first_history(db, j->connection_id, j->resource, j->now);
	arena_free(a);
	return e;
}

HANDLER(page_wizard_resource_post)
{
	struct connection_row c;
	sl_err e = load_connected(r, &c);
	if (e)
		return e;
	const char *resource = http_param(r, "resource");
	const char *sync = http_param(r, "sync_type");
	if (!resource || catalog_resource_by_slug(resource) == RESOURCE__MAX)
		return resource_form(r, resp, &c, 422, "Choose a resource.");
	if (!known_sync_type(sync))
		return resource_form(r, resp, &c, 422, "Choose a sync type.");
	struct resource_job j = {c.id, r->now, resource, sync};
	if ((e = writer_run(r->thread->writer, resource_job, &j)))
		return e;
	http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld/mapping/%s", c.id, resource));
	return SL_OK;
}

/* ---- step 3: map fields ---- */

/* One row of the form as the person left it. */
struct form_row {
	const char *path;      /* catalogue path; a wildcard "…metadata.*" takes meta_key */
	const char *meta_key;  /* for metadata.* */
	const char *target;
	const char *error;
};

struct mapping_form {
	enum resource resource;
	const char *email_path;
	const char *email_error;
	const char *id_path;
	const char *id_target;
	const char *id_error;
	struct form_row rows[WIZARD_MAX_ROWS];
	size_t n_rows;
	const char *general_error;
};

/* Fills the form from a saved mapping (editing) or the defaults. */
static void form_from_mapping(struct arena *a, const struct mapping *m, struct mapping_form *f)
{
	f->email_path = m->email.text ? arena_strdup(a, m->email.text) : "";
	if (m->has_id_rule) {
		f->id_path = arena_strdup(a, m->id_rule.source.text);
		f->id_target = arena_strdup(a, m->id_rule.target);
	}
	for (size_t i = 0; i < m->rule_count && f->n_rows < WIZARD_MAX_ROWS; i++) {
		struct form_row *row = &f->rows[f->n_rows++];
		const char *path = m->rules[i].source.text ? m->rules[i].source.text : "";
		const struct catalog_field *field = catalog_field_find(m->resource, path);
		if (field && catalog_field_is_wildcard(field)) {
			/* "customer.metadata.plan" is the row "customer.metadata.*" + key */
			size_t prefix = strlen(field->path) - 1;
			row->path = field->path;
			row->meta_key = arena_strdup(a, path + prefix);
		} else {
			row->path = arena_strdup(a, path);
		}
		row->target = arena_strdup(a, m->rules[i].target);
	}
}

/* Reads the posted form; returns the action ("add", "finish", "remove"). */
static const char *form_from_post(struct http_request *r, struct mapping_form *f, long *remove)
{
	f->email_path = http_param(r, "email_path");
	f->id_path = http_param(r, "id_path");
	f->id_target = http_param(r, "id_target");
	const char *rows_s = http_param(r, "rows");
	long rows = rows_s ? strtol(rows_s, NULL, 10) : 0;
	if (rows < 0)
		rows = 0;
	if (rows > WIZARD_MAX_ROWS)
		rows = WIZARD_MAX_ROWS;
	for (long i = 0; i < rows; i++) {
		struct form_row *row = &f->rows[f->n_rows++];
		row->path = http_param(r, arena_printf(r->arena, "path_%ld", i));
		row->meta_key = http_param(r, arena_printf(r->arena, "meta_%ld", i));
		row->target = http_param(r, arena_printf(r->arena, "target_%ld", i));
	}
	const char *rm = http_param(r, "remove");
	if (rm) {
		*remove = strtol(rm, NULL, 10);
		return "remove";
	}
	const char *action = http_param(r, "action");
	return action ? action : "finish";
}

/* The Stripe path a row stands for, from the arena; "" for a blank row. */
static const char *row_path(struct arena *a, const struct form_row *row)
{
	if (!row->path || !*row->path)
		return "";
	size_t n = strlen(row->path);
	if (n >= 2 && strcmp(row->path + n - 2, ".*") == 0)   /* a metadata row: path + key */
		return arena_printf(a, "%.*s%s", (int)(n - 1), row->path, row->meta_key ? row->meta_key : "");
	return row->path;
}

/* Adds one option per catalogue field of the resource that passes keep. */
static void path_options(struct view_dict *row, const char *section, enum resource res,
			 const char *selected, bool (*keep)(const struct catalog_field *))
{
	for (size_t i = 0; i < catalog_field_count(res); i++) {
		const struct catalog_field *field = catalog_field_at(res, i);
		if (!keep(field))
			continue;
		struct view_dict *o = view_section(row, section);
		view_set(o, "VALUE", field->path);
		view_set(o, "LABEL", field->label);
		if (selected && strcmp(selected, field->path) == 0)
			view_set(o, "SELECTED", "selected");
	}
}

static bool any_field(const struct catalog_field *f) { (void)f; return true; }
static bool email_field(const struct catalog_field *f) { return f->is_email_candidate; }
static bool id_field(const struct catalog_field *f) { return f->type == FIELD_TYPE_ID; }

/* Adds the CRM targets: existing fields (but Email, the first row's) and
 * the full-name splitter. */
static void target_options(struct view_dict *row, const char *section, const struct field *fields,
			   size_t n_fields, const char *selected, bool with_full_name)
{
	for (size_t i = 0; i < n_fields; i++) {
		if (strcmp(fields[i].key, "email") == 0)
			continue;
		struct view_dict *o = view_section(row, section);
		view_set(o, "VALUE", fields[i].key);
		view_set(o, "LABEL", fields[i].label);
		if (selected && strcmp(selected, fields[i].key) == 0)
			view_set(o, "SELECTED", "selected");
	}
	if (with_full_name) {
		struct view_dict *o = view_section(row, section);
		view_set(o, "VALUE", "full_name");
		view_set(o, "LABEL", "Full name (split into First and Last name)");
		if (selected && strcmp(selected, "full_name") == 0)
			view_set(o, "SELECTED", "selected");
	}
}

static sl_err mapping_page(struct http_request *r, struct http_response *resp,
			   const struct connection_row *c, const struct mapping_form *f,
			   int status, bool editing)
{
	struct field *fields;
	size_t n_fields;
	sl_err e = store_fields_list(r->thread->db, r->arena, &fields, &n_fields);
	if (e)
		return e;
	const struct catalog_resource *res = catalog_resource(f->resource);
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", arena_printf(r->arena, "Map %s fields", res->label));
	view_set_int(d, "ID", c->id);
	view_set(d, "RESOURCE", res->slug);
	view_set(d, "RESOURCE_LABEL", res->label);
	view_set_int(d, "ROWS", (long long)f->n_rows);
	if (!editing)
		page_wizard_steps(d, 3);
	view_show(d, editing ? "EDITING" : "WIZARD");
	if (f->general_error) {
		view_show(d, "ERROR");
		view_set(d, "ERROR_MESSAGE", f->general_error);
	}

	struct view_dict *email = view_section(d, "EMAIL_ROW");
	path_options(email, "OPTIONS", f->resource, f->email_path, email_field);
	if (f->email_error) {
		view_show(email, "ROW_ERROR");
		view_set(email, "MESSAGE", f->email_error);
	}
	struct view_dict *idrow = view_section(d, "ID_ROW");
	path_options(idrow, "OPTIONS", f->resource, f->id_path, id_field);
	target_options(idrow, "TARGETS", fields, n_fields, f->id_target, false);
	if (f->id_error) {
		view_show(idrow, "ROW_ERROR");
		view_set(idrow, "MESSAGE", f->id_error);
	}
	for (size_t i = 0; i < f->n_rows; i++) {
		const struct form_row *fr = &f->rows[i];
		struct view_dict *row = view_section(d, "FIELD_ROWS");
		view_set_int(row, "N", (long long)i);
		view_set_int(row, "NUMBER", (long long)i + 3);
		path_options(row, "OPTIONS", f->resource, fr->path, any_field);
		view_set(row, "META_KEY", fr->meta_key);
		target_options(row, "TARGETS", fields, n_fields, fr->target, true);
		if (fr->error) {
			view_show(row, "ROW_ERROR");
			view_set(row, "MESSAGE", fr->error);
		}
	}
	if (f->n_rows < WIZARD_MAX_ROWS)
		view_show(d, "CAN_ADD");
	e = page_render(r, resp, "wizard_mapping", "APPS", d);
	resp->status = status;
	return e;
}

/* Loads the connection and its resource row named by the route. */
static sl_err load_resource(struct http_request *r, struct connection_row *c,
			    struct resource_row *res, enum resource *kind)
{
	sl_err e = load_connected(r, c);
	if (e)
		return e;
	*kind = catalog_resource_by_slug(r->params[1]);
	if (*kind == RESOURCE__MAX)
		return SL_ERR_NOT_FOUND;
	return store_resource_get(r->thread->db, r->arena, c->id, r->params[1], res);
}

HANDLER(page_wizard_mapping_get)
{
	struct connection_row c;
	struct resource_row res;
	struct mapping_form f = {0};
	sl_err e = load_resource(r, &c, &res, &f.resource);
	if (e)
		return e;
	struct mapping *m = res.mapping ? mapping_from_json(res.mapping, NULL) : NULL;
	if (!m)
		m = mapping_default(f.resource);
	if (!m)
		return SL_ERR_NOMEM;
	form_from_mapping(r->arena, m, &f);
	mapping_free(m);
	return mapping_page(r, resp, &c, &f, 200, res.mapping != NULL);
}

struct save_job {
	long long connection_id, now;
	const char *resource, *json;
	bool queue_history;      /* "historical and new": the first time, queue it */
};

static sl_err save_job(struct store *db, void *arg)
{
	struct save_job *j = arg;
	sl_err e = store_resource_set_mapping(db, j->connection_id, j->resource, j->json, j->now);
	if (e || !j->queue_history)
		return e;
	return queue_first_history(db, j->connection_id, j->resource, j->now);
}

/* Builds the mapping from the form and validates it against the fields
 * that exist, attaching each error to its row. Returns the mapping (caller
 * frees) when valid, NULL otherwise. */
static struct mapping *build(struct http_request *r, struct mapping_form *f)
{
	struct field *fields;
	size_t n_fields;
	if (store_fields_list(r->thread->db, r->arena, &fields, &n_fields))
		return NULL;
	const char **keys = arena_alloc(r->arena, (n_fields + 1) * sizeof *keys);
	for (size_t i = 0; i < n_fields; i++)
		keys[i] = fields[i].key;
	struct mapping *m = mapping_new(f->resource);
	size_t rule_row[WIZARD_MAX_ROWS];   /* rule index → form row */
	size_t n_rules = 0;
	bool ok = m != NULL;
	if (ok && mapping_set_email(m, f->email_path && *f->email_path ? f->email_path : NULL))
		ok = false;
	if (ok && f->id_path && *f->id_path &&
	    mapping_set_id_rule(m, f->id_path, f->id_target ? f->id_target : ""))
		ok = false;
	for (size_t i = 0; ok && i < f->n_rows; i++) {
		const char *path = row_path(r->arena, &f->rows[i]);
		const char *target = f->rows[i].target ? f->rows[i].target : "";
		if (!*path && !*target)
			continue;   /* a blank row is ignored */
		if (mapping_add_rule(m, path, target)) {
			f->rows[i].error = "This row could not be read.";
			ok = false;
		}
		rule_row[n_rules++] = i;
	}
	if (!ok) {
		mapping_free(m);
		return NULL;
	}
	/* at most two problems per row, plus the email and id rows' own */
	struct mapping_error errors[2 * MAPPING_MAX_RULES + 4];
	size_t n_errors = 0;
	if (mapping_validate(m, mapping_key_in_list, keys, errors,
			     sizeof errors / sizeof errors[0], &n_errors) == SL_OK)
		return m;
	/* n_errors counts every problem, even those past the array */
	if (n_errors > sizeof errors / sizeof errors[0])
		n_errors = sizeof errors / sizeof errors[0];
	for (size_t i = 0; i < n_errors; i++) {
		const char *msg = arena_strdup(r->arena, errors[i].message);
		switch (errors[i].row) {
		case MAPPING_ROW_EMAIL:
			f->email_error = msg;
			break;
		case MAPPING_ROW_ID:
			f->id_error = msg;
			break;
		case MAPPING_ROW_FIELD:
			if (errors[i].index < n_rules && !f->rows[rule_row[errors[i].index]].error)
				f->rows[rule_row[errors[i].index]].error = msg;
			break;
		}
	}
	f->general_error = "Some rows need attention: see the messages next to them.";
	mapping_free(m);
	return NULL;
}

HANDLER(page_wizard_mapping_post)
{
	struct connection_row c;
	struct resource_row res;
	struct mapping_form f = {0};
	sl_err e = load_resource(r, &c, &res, &f.resource);
	if (e)
		return e;
	bool editing = res.mapping != NULL;
	long remove = -1;
	const char *action = form_from_post(r, &f, &remove);
	if (strcmp(action, "add") == 0) {
		if (f.n_rows < WIZARD_MAX_ROWS)
			f.rows[f.n_rows++] = (struct form_row){0};
		return mapping_page(r, resp, &c, &f, 200, editing);
	}
	if (strcmp(action, "remove") == 0) {
		if (remove >= 0 && (size_t)remove < f.n_rows) {
			memmove(&f.rows[remove], &f.rows[remove + 1],
				(f.n_rows - (size_t)remove - 1) * sizeof f.rows[0]);
			f.n_rows--;
		}
		return mapping_page(r, resp, &c, &f, 200, editing);
	}
	struct mapping *m = build(r, &f);
	if (!m) {
		if (!f.general_error)
			return SL_ERR_NOMEM;
		return mapping_page(r, resp, &c, &f, 422, editing);
	}
	char *json = mapping_to_json(m);
	mapping_free(m);
	if (!json)
		return SL_ERR_NOMEM;
	struct save_job j = {c.id, r->now, res.resource, json,
			     strcmp(res.sync_type, "historical") == 0};
	e = writer_run(r->thread->writer, save_job, &j);
	free(json);
	if (e)
		return e;
	http_redirect(resp, arena_printf(r->arena, "/apps/stripe/%lld/done?resource=%s%s", c.id,
					 res.resource, editing ? "&edited=1" : ""));
	return SL_OK;
}

HANDLER(page_wizard_done_get)
{
	struct connection_row c;
	sl_err e = load_connected(r, &c);
	if (e)
		return e;
	const char *slug = http_get(&r->query, "resource");
	enum resource kind = slug ? catalog_resource_by_slug(slug) : RESOURCE__MAX;
	struct resource_row res;
	if (kind == RESOURCE__MAX ||
	    (e = store_resource_get(r->thread->db, r->arena, c.id, slug, &res)))
		return SL_ERR_NOT_FOUND;
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Your Stripe integration is set up");
	view_set_int(d, "ID", c.id);
	view_set(d, "RESOURCE_LABEL", catalog_resource(kind)->label);
	view_set(d, "ACCOUNT", c.account_name);
	if (strcmp(res.sync_type, "historical") == 0)
		view_show(d, "HISTORICAL");
	else
		view_show(d, "NEW_ONLY");
	if (http_get(&r->query, "edited"))
		view_show(d, "EDITED");
	return page_render(r, resp, "wizard_done", "APPS", d);
}
