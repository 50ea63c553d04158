/*
 * page_fields.c - the CRM's contact fields: built-in ones and the custom
 * fields an admin creates here (integrations never create fields).
 */
#include "handlers.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "store.h"
#include "view.h"
#include "writer.h"

static const struct {
	const char *type;
	const char *label;
} custom_types[] = {
	{"text", "Text"},
	{"number", "Number"},
	{"date", "Date"},
};
#define N_CUSTOM_TYPES (sizeof custom_types / sizeof custom_types[0])

/* Keys no custom field may take: the built-ins and mapping pseudo-targets. */
static const char *const reserved_keys[] = {
	"email", "first_name", "last_name", "phone", "full_name", "tags", "id",
};

static bool known_type(const char *t)
{
	for (size_t i = 0; t && i < N_CUSTOM_TYPES; i++)
		if (strcmp(custom_types[i].type, t) == 0)
			return true;
	return false;
}

/* Derives a field key ("stripe_customer_id") from a label, in the arena. */
static char *slug(struct arena *a, const char *label)
{
	size_t n = strlen(label);
	char *s = arena_alloc(a, n + 8);
	size_t j = 0;
	for (const unsigned char *p = (const unsigned char *)label; *p && j < 48; p++) {
		if (isalnum(*p))
			s[j++] = (char)tolower(*p);
		else if (j && s[j - 1] != '_')
			s[j++] = '_';
	}
	while (j && s[j - 1] == '_')
		j--;
	s[j] = '\0';
	if (!j || isdigit((unsigned char)s[0]))
		return arena_printf(a, "field_%s", s);
	for (size_t i = 0; i < sizeof reserved_keys / sizeof reserved_keys[0]; i++)
		if (strcmp(s, reserved_keys[i]) == 0)
			return arena_printf(a, "custom_%s", s);
	return s;
}

static sl_err fields_page(struct http_request *r, struct http_response *resp,
			  int status, const char *error)
{
	struct field *fields;
	size_t n;
	sl_err e = store_fields_list(r->thread->db, r->arena, &fields, &n);
	if (e)
		return e;
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Fields");
	bool any_custom = false;
	for (size_t i = 0; i < n; i++) {
		struct view_dict *row = view_section(d, fields[i].builtin ? "BUILTIN" : "CUSTOM");
		view_set_int(row, "ID", fields[i].id);
		view_set(row, "LABEL", fields[i].label);
		view_set(row, "KEY", fields[i].key);
		view_set(row, "TYPE", fields[i].type);
		any_custom |= !fields[i].builtin;
	}
	if (!any_custom)
		view_show(d, "NO_CUSTOM");
	for (size_t i = 0; i < N_CUSTOM_TYPES; i++) {
		struct view_dict *t = view_section(d, "TYPES");
		view_set(t, "TYPE", custom_types[i].type);
		view_set(t, "TYPE_LABEL", custom_types[i].label);
	}
	if (error) {
		view_show(d, "ERROR");
		view_set(d, "ERROR_MESSAGE", error);
		view_set(d, "LABEL_VALUE", http_param(r, "label"));
	}
	const char *created = http_get(&r->query, "created");
	if (created && !error) {
		view_show(d, "CREATED");
		view_set(d, "CREATED_LABEL", created);
	}
	e = page_render(r, resp, "fields", "FIELDS", d);
	resp->status = status;
	return e;
}

HANDLER(page_fields_get)
{
	return fields_page(r, resp, 200, NULL);
}

struct field_job {
	const char *key;
	const char *label;
	const char *type;
};

/* Creates the field, suffixing the key (_2, _3...) when it is taken. */
static sl_err create_job(struct store *db, void *arg)
{
	struct field_job *j = arg;
	char key[80];
	for (int attempt = 1; attempt < 100; attempt++) {
		if (attempt == 1)
			snprintf(key, sizeof key, "%s", j->key);
		else
			snprintf(key, sizeof key, "%s_%d", j->key, attempt);
		bool exists;
		sl_err e = store_field_exists(db, key, &exists);
		if (e)
			return e;
		if (!exists)
			return store_field_create(db, key, j->label, j->type, NULL);
	}
	return SL_ERR_EXISTS;
}

HANDLER(page_fields_post)
{
	const char *label = http_param(r, "label");
	const char *type = http_param(r, "type");
	while (label && isspace((unsigned char)*label))
		label++;
	if (!label || !*label)
		return fields_page(r, resp, 422, "Give the field a label.");
	if (!known_type(type))
		return fields_page(r, resp, 422, "Choose a type: text, number or date.");
	char *trimmed = arena_strdup(r->arena, label);
	size_t n = strlen(trimmed);
	while (n && isspace((unsigned char)trimmed[n - 1]))
		trimmed[--n] = '\0';
	struct field_job j = {slug(r->arena, trimmed), trimmed, type};
	sl_err e = writer_run(r->thread->writer, create_job, &j);
	if (e == SL_ERR_EXISTS)
		return fields_page(r, resp, 409, "A field with this label already exists.");
	if (e)
		return e;
	http_redirect(resp, arena_printf(r->arena, "/fields?created=%s",
					 http_url_encode(r->arena, trimmed)));
	return SL_OK;
}

static sl_err delete_job(struct store *db, void *arg)
{
	return store_field_delete(db, *(long long *)arg);
}

HANDLER(page_field_delete_post)
{
	long long id;
	sl_err e = page_id_param(r, 0, &id);
	if (e)
		return e;
	e = writer_run(r->thread->writer, delete_job, &id);
	if (e)
		return e;
	http_redirect(resp, "/fields");
	return SL_OK;
}
