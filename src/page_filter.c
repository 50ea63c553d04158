/*
 * page_filter.c - the contacts filter builder's form (numbered condition
 * rows), shared by the contacts page and the Segments pages; see
 * page_filter.h. It calls neither page: both call it.
 */
#include "page_filter.h"

#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "store.h"
#include "view.h"

#define TAG_PREFIX "stripe-integration"

/* The custom (not built-in) field keys, for validation and the datalist. */
static sl_err custom_fields(struct http_request *r, const char ***keys, size_t *n)
{
	struct field *fields;
	size_t n_fields;
	sl_err e = store_fields_list(r->thread->db, r->arena, &fields, &n_fields);
	if (e)
		return e;
	*keys = arena_alloc(r->arena, (n_fields + 1) * sizeof **keys);
	*n = 0;
	for (size_t i = 0; i < n_fields; i++)
		if (!fields[i].builtin)
			(*keys)[(*n)++] = fields[i].key;
	return SL_OK;
}

sl_err page_filter_read(struct http_request *r, struct page_filter *f)
{
	struct arena *a = r->arena;
	memset(f, 0, sizeof *f);
	const char *remove_s = http_param(r, "remove");
	long remove = remove_s && *remove_s ? strtol(remove_s, NULL, 10) : -1;
	for (int i = 0; i < SEG_MAX_CONDS; i++) {
		const char *kind = http_param(r, arena_printf(a, "c%d_kind", i));
		if (!kind || !*kind || i == remove)
			continue;
		struct page_filter_row *row = &f->rows[f->n++];
		row->kind_name = kind;
		row->value = http_param(r, arena_printf(a, "c%d_value", i));
		row->extra = http_param(r, arena_printf(a, "c%d_extra", i));
		if (!row->value)
			row->value = "";
		if (!row->extra)
			row->extra = "";
	}
	f->add_row = http_param(r, "add") != NULL && f->n < SEG_MAX_CONDS;
	return page_filter_check(r, f);
}

sl_err page_filter_from_def(struct http_request *r, const struct segment_def *def,
			    struct page_filter *f)
{
	memset(f, 0, sizeof *f);
	for (size_t i = 0; i < def->n; i++) {
		f->rows[i].kind_name = segment_kind_info(def->conds[i].kind)->name;
		f->rows[i].value = def->conds[i].value;
		f->rows[i].extra = def->conds[i].extra;
	}
	f->n = def->n;
	return page_filter_check(r, f);
}

sl_err page_filter_check(struct http_request *r, struct page_filter *f)
{
	const char **keys;
	size_t n_keys;
	sl_err e = custom_fields(r, &keys, &n_keys);
	if (e)
		return e;
	f->def.n = 0;
	f->invalid = false;
	for (size_t i = 0; i < f->n; i++) {
		struct page_filter_row *row = &f->rows[i];
		struct seg_cond *c = &f->def.conds[f->def.n];
		row->error = NULL;
		if (!segment_kind_find(row->kind_name, &c->kind)) {
			row->error = "choose a condition";
			f->invalid = true;
			continue;
		}
		c->value = row->value;
		c->extra = row->extra;
		struct segment_def one = {.n = 1, .conds = {*c}};
		const char *errors[1];
		if (segment_validate(r->arena, &one, keys, n_keys, errors)) {
			row->error = errors[0];
			f->invalid = true;
			continue;
		}
		f->def.n++;
	}
	return SL_OK;
}

sl_err page_filter_show(struct http_request *r, const struct page_filter *f, struct view_dict *d)
{
	struct arena *a = r->arena;
	const char **keys, **tags;
	size_t n_keys, n_tags;
	sl_err e = custom_fields(r, &keys, &n_keys);
	if (e || (e = store_tags_list(r->thread->db, a, &tags, &n_tags)))
		return e;
	size_t shown = f->n + (f->add_row || f->n == 0 ? 1 : 0);
	for (size_t i = 0; i < shown; i++) {
		const struct page_filter_row *row = i < f->n ? &f->rows[i] : NULL;
		struct view_dict *rd = view_section(d, "COND_ROWS");
		view_set_int(rd, "I", (long long)i);
		view_set(rd, "VALUE", row ? row->value : "");
		view_set(rd, "EXTRA", row ? row->extra : "");
		if (row && row->error) {
			view_show(rd, "ROW_ERROR");
			view_set(rd, "ROW_ERROR_MESSAGE", row->error);
		}
		for (int k = 0; k < SEG__MAX; k++) {
			const struct seg_kind_info *info = segment_kind_info((enum seg_kind)k);
			struct view_dict *o = view_section(rd, "KINDS");
			view_set(o, "KIND", info->name);
			view_set(o, "KIND_LABEL", info->label);
			view_set(o, "VALUE_HINT", info->value_hint ? info->value_hint : "");
			view_set(o, "EXTRA_HINT", info->extra_hint ? info->extra_hint : "");
			if (row && strcmp(row->kind_name, info->name) == 0)
				view_set(o, "SELECTED", "selected");
		}
	}
	/* tags for the value box: the integration's first */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n_tags; i++) {
			bool stripe = strncmp(tags[i], TAG_PREFIX, strlen(TAG_PREFIX)) == 0;
			if (stripe == (pass == 0))
				view_set(view_section(d, "TAG_LIST"), "TAG", tags[i]);
		}
	for (size_t i = 0; i < n_keys; i++)
		view_set(view_section(d, "FIELD_LIST"), "KEY", keys[i]);
	/* the valid conditions again, as hidden inputs of the save form */
	for (size_t i = 0; !f->invalid && i < f->def.n; i++) {
		struct view_dict *h = view_section(d, "SAVE_ROWS");
		view_set_int(h, "I", (long long)i);
		view_set(h, "KIND", segment_kind_info(f->def.conds[i].kind)->name);
		view_set(h, "VALUE", f->def.conds[i].value);
		view_set(h, "EXTRA", f->def.conds[i].extra);
	}
	if (!f->invalid && f->def.n)
		view_show(d, "CAN_SAVE");
	if (f->invalid)
		view_show(d, "FILTER_INVALID");
	return SL_OK;
}

const char *page_filter_query(struct http_request *r, const struct page_filter *f)
{
	struct arena *a = r->arena;
	const char *q = "";
	for (size_t i = 0; i < f->n; i++)
		q = arena_printf(a, "%s&c%zu_kind=%s&c%zu_value=%s&c%zu_extra=%s", q,
				 i, http_url_encode(a, f->rows[i].kind_name),
				 i, http_url_encode(a, f->rows[i].value),
				 i, http_url_encode(a, f->rows[i].extra));
	return q;
}
