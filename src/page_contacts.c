/*
 * page_contacts.c - the contacts list, a contact's page and the CSV export.
 */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "catalog.h"
#include "csv.h"
#include "page_filter.h"
#include "store.h"
#include "view.h"

#define CONTACTS_PER_PAGE 50

/* "1,234.56 USD", "1,000 JPY", "1.234 KWD": minor units shown with the
 * currency's own decimals (see catalog_money_format). */
static const char *money(struct arena *a, long long minor, const char *currency)
{
	char buf[CATALOG_MONEY_MAX];
	return arena_strdup(a, catalog_money_format(buf, minor, currency));
}

/* "12.34 USD; 1,000 JPY" from per-currency amounts, "" for none; with
 * monthly, "(n with unknown amount)" after a currency that has some. */
static const char *money_list(struct arena *a, const struct money_row *m, size_t n)
{
	const char *s = "";
	for (size_t i = 0; i < n; i++) {
		const char *one = m[i].count > m[i].unknown ? money(a, m[i].amount, m[i].currency) : "";
		if (m[i].unknown)
			one = arena_printf(a, "%s%s%lld with unknown amount%s", one, *one ? " (" : "",
					   m[i].unknown, *one ? ")" : "");
		s = arena_printf(a, "%s%s%s", s, *s ? "; " : "", one);
	}
	return s;
}

/* The contact's summary as text cells: net revenue, orders, first and
 * last order, active recurring payments, their monthly amount. */
enum summary_cell {
	SUMMARY_NET_REVENUE,
	SUMMARY_ORDERS,
	SUMMARY_FIRST_ORDER,
	SUMMARY_LAST_ORDER,
	SUMMARY_ACTIVE_RECURRING,
	SUMMARY_MONTHLY_RECURRING,
	SUMMARY__MAX
};

static const char *const summary_columns[] = {
	[SUMMARY_NET_REVENUE] = "net_revenue",
	[SUMMARY_ORDERS] = "orders",
	[SUMMARY_FIRST_ORDER] = "first_order",
	[SUMMARY_LAST_ORDER] = "last_order",
	[SUMMARY_ACTIVE_RECURRING] = "active_recurring",
	[SUMMARY_MONTHLY_RECURRING] = "monthly_recurring",
};
_Static_assert(sizeof summary_columns / sizeof summary_columns[0] == SUMMARY__MAX,
	       "every summary cell needs a column name");

static sl_err summary_cells(struct store *db, struct arena *a, long long contact_id,
			    const char *cells[SUMMARY__MAX])
{
	struct contact_summary s;
	sl_err e = store_contact_summary(db, a, contact_id, &s);
	if (e)
		return e;
	long long active = 0;
	for (size_t i = 0; i < s.n_monthly; i++)
		active += s.monthly[i].count;
	cells[SUMMARY_NET_REVENUE] = money_list(a, s.revenue, s.n_revenue);
	cells[SUMMARY_ORDERS] = arena_printf(a, "%lld", s.orders);
	cells[SUMMARY_FIRST_ORDER] = s.first_order;
	cells[SUMMARY_LAST_ORDER] = s.last_order;
	cells[SUMMARY_ACTIVE_RECURRING] = arena_printf(a, "%lld", active);
	cells[SUMMARY_MONTHLY_RECURRING] = money_list(a, s.monthly, s.n_monthly);
	return SL_OK;
}

/* "lost (fraudulent): 10.00 USD" for each dispute of the order whose Stripe
 * id is order_id, joined by "; "; "" when it has none. */
static const char *dispute_words(struct arena *a, const struct dispute_row *d, size_t n,
				 const char *order_id)
{
	const char *s = "";
	for (size_t i = 0; i < n; i++) {
		if (strcmp(d[i].charge_id, order_id) != 0)
			continue;
		s = arena_printf(a, "%s%s%s%s%s%s: %s", s, *s ? "; " : "", d[i].status,
				 *d[i].reason ? " (" : "", d[i].reason, *d[i].reason ? ")" : "",
				 money(a, d[i].amount, d[i].currency));
	}
	return s;
}

/* Adds one TAGS section row per ';'-separated tag. */
static void add_tags(struct arena *a, struct view_dict *d, const char *tags)
{
	const char *p = tags;
	while (p && *p) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		struct view_dict *t = view_section(d, "TAGS");
		const char *name = arena_strndup(a, p, n);
		view_set(t, "TAG", name);
		view_set(t, "TAG_QUERY", http_url_encode(a, name));
		p = end ? end + 1 : NULL;
	}
}

/* Loads saved segment id into f; SL_ERR_NOT_FOUND when there is none. */
static sl_err load_segment(struct http_request *r, long long id, struct segment_row *s,
			   struct page_filter *f)
{
	struct segment_def def;
	sl_err e = store_segment_get(r->thread->db, r->arena, id, s);
	if (e)
		return e;
	if (segment_from_json(r->arena, s->definition, &def))
		def.n = 0;
	return page_filter_from_def(r, &def, f);
}

/* The "segment" parameter as an id: 0 when absent, -1 when malformed. */
static long long segment_param(struct http_request *r)
{
	const char *s = http_param(r, "segment");
	if (!s || !*s)
		return 0;
	char *end;
	long long id = strtoll(s, &end, 10);
	return *end || id <= 0 ? -1 : id;
}

HANDLER(page_contacts_get)
{
	struct page_filter f;
	struct segment_row s;
	long long segment_id = segment_param(r);
	sl_err e;
	if (segment_id < 0)
		return SL_ERR_NOT_FOUND;
	/* a segment opens with its saved conditions; once the builder
	 * submits rows, those are what is being edited */
	if (segment_id && !http_param(r, "c0_kind") && !http_param(r, "add"))
		e = load_segment(r, segment_id, &s, &f);
	else
		e = page_filter_read(r, &f);
	return e ? e : page_contacts_filtered(r, resp, &f, segment_id, NULL);
}

sl_err page_contacts_filtered(struct http_request *r, struct http_response *resp,
			      const struct page_filter *f, long long segment_id, const char *error)
{
	struct arena *a = r->arena;
	const char *page_s = http_param(r, "page");
	long long page = page_s ? atoll(page_s) : 1;
	if (page < 1)
		page = 1;
	struct contact_query q = {
		.text = http_param(r, "q"),
		.tag = http_param(r, "tag"),
		.offset = (page - 1) * CONTACTS_PER_PAGE,
		.limit = CONTACTS_PER_PAGE,
	};
	struct contact *contacts = NULL;
	size_t n = 0;
	long long total = 0;
	sl_err e = SL_OK;
	if (f->n == 0) {
		e = store_contacts_search(r->thread->db, a, &q, &contacts, &n, &total);
	} else if (!f->invalid) {
		/* the search box and the tag menu narrow the conditions further */
		struct segment_def def = f->def;
		if (q.text && *q.text && def.n < SEG_MAX_CONDS)
			def.conds[def.n++] = (struct seg_cond){SEG_TEXT, q.text, ""};
		if (q.tag && *q.tag && def.n < SEG_MAX_CONDS)
			def.conds[def.n++] = (struct seg_cond){SEG_HAS_TAG, q.tag, ""};
		long long now = (long long)time(NULL);
		e = store_segment_count(r->thread->db, a, &def, now, &total);
		if (!e)
			e = store_segment_contacts(r->thread->db, a, &def, now, q.offset, q.limit,
						   &contacts, &n);
	}
	if (e)
		return e;
	const char **tags;
	size_t n_tags;
	if ((e = store_tags_list(r->thread->db, a, &tags, &n_tags)))
		return e;

	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", "Contacts");
	view_set(d, "Q", q.text);
	view_set_int(d, "TOTAL", total);
	for (size_t i = 0; i < n_tags; i++) {
		struct view_dict *t = view_section(d, "TAG_OPTIONS");
		view_set(t, "TAG", tags[i]);
		if (q.tag && strcmp(q.tag, tags[i]) == 0)
			view_set(t, "SELECTED", "selected");
	}
	if ((e = page_filter_show(r, f, d))) {
		view_dict_free(d);
		return e;
	}
	const char *filter_q = page_filter_query(r, f);
	view_set(d, "SAVE_LABEL", "Save as segment");
	struct segment_row s;
	if (segment_id && store_segment_get(r->thread->db, a, segment_id, &s) == SL_OK) {
		view_show(d, "EDITING");
		view_set_int(d, "SEGMENT_ID", segment_id);
		view_set(d, "SEGMENT_NAME", s.name);
		view_set(d, "SAVE_NAME", s.name);
		view_set(d, "SAVE_LABEL", "Update segment");
		filter_q = arena_printf(a, "%s&segment=%lld", filter_q, segment_id);
	}
	if (error) {
		view_show(d, "SAVE_ERROR");
		view_set(d, "SAVE_ERROR_MESSAGE", error);
		const char *name = http_param(r, "name");
		if (name)
			view_set(d, "SAVE_NAME", name);
	}
	view_set(d, "CSV_URL", segment_id && f->n == f->def.n && !http_param(r, "c0_kind")
		 ? arena_printf(a, "/contacts.csv?segment=%lld", segment_id)
		 : arena_printf(a, "/contacts.csv?%s", *filter_q ? filter_q + 1 : ""));
	if (f->invalid)
		view_show(d, "NO_MATCHES");
	else if (n == 0)
		view_show(d, total == 0 && !q.text && !q.tag && f->n == 0 ? "NO_CONTACTS" : "NO_MATCHES");
	else
		view_show(d, "HAVE_CONTACTS");
	for (size_t i = 0; i < n; i++) {
		struct view_dict *row = view_section(d, "CONTACTS");
		view_set_int(row, "ID", contacts[i].id);
		view_set(row, "EMAIL", contacts[i].email);
		view_set(row, "NAME", arena_printf(a, "%s%s%s", contacts[i].first_name,
						   *contacts[i].first_name && *contacts[i].last_name ? " " : "",
						   contacts[i].last_name));
		add_tags(a, row, contacts[i].tags);
	}
	long long pages = (total + CONTACTS_PER_PAGE - 1) / CONTACTS_PER_PAGE;
	if (pages > 1) {
		view_show(d, "PAGER");
		view_set_int(d, "PAGE", page);
		view_set_int(d, "PAGES", pages);
		const char *base = arena_printf(a, "/contacts?q=%s&tag=%s%s",
						http_url_encode(a, q.text ? q.text : ""),
						http_url_encode(a, q.tag ? q.tag : ""), filter_q);
		if (page > 1) {
			view_show(d, "PREV");
			view_set(d, "PREV_URL", arena_printf(a, "%s&page=%lld", base, page - 1));
		}
		if (page < pages) {
			view_show(d, "NEXT");
			view_set(d, "NEXT_URL", arena_printf(a, "%s&page=%lld", base, page + 1));
		}
	}
	e = page_render(r, resp, "contacts", "CONTACTS", d);
	if (error)
		resp->status = 422;
	return e;
}

HANDLER(page_contact_get)
{
	struct arena *a = r->arena;
	long long id;
	sl_err e = page_id_param(r, 0, &id);
	if (e)
		return e;
	struct contact c;
	e = store_contact_get(r->thread->db, a, id, &c);
	if (e)
		return e;
	struct contact_value *values;
	size_t n;
	if ((e = store_contact_values(r->thread->db, a, id, &values, &n)))
		return e;
	struct view_dict *d = view_dict_new();
	view_set(d, "TITLE", c.email);
	view_set(d, "EMAIL", c.email);
	view_set(d, "FIRST_NAME", c.first_name);
	view_set(d, "LAST_NAME", c.last_name);
	view_set(d, "PHONE", c.phone);
	view_set(d, "CREATED", page_time(r, c.created_at));
	view_set(d, "UPDATED", page_time(r, c.updated_at));
	add_tags(a, d, c.tags);
	if (!*c.tags)
		view_show(d, "NO_TAGS");
	for (size_t i = 0; i < n; i++) {
		struct view_dict *row = view_section(d, "VALUES");
		view_set(row, "LABEL", values[i].label);
		view_set(row, "VALUE", values[i].value);
	}
	struct order_row *orders;
	struct recurring_row *recurring;
	struct dispute_row *disputes;
	struct customer_link *links;
	size_t n_orders, n_recurring, n_disputes, n_links;
	if ((e = store_contact_orders(r->thread->db, a, id, &orders, &n_orders)) ||
	    (e = store_contact_recurring(r->thread->db, a, id, &recurring, &n_recurring)) ||
	    (e = store_contact_disputes(r->thread->db, a, id, &disputes, &n_disputes)) ||
	    (e = store_contact_links(r->thread->db, a, id, &links, &n_links))) {
		view_dict_free(d);
		return e;
	}
	if (n_links)
		view_show(d, "HAVE_LINKS");
	for (size_t i = 0; i < n_links; i++) {
		struct view_dict *row = view_section(d, "STRIPE_CUSTOMERS");
		view_set(row, "CUSTOMER_ID", links[i].customer_id);
		if (links[i].deleted_at) {
			struct view_dict *del = view_section(row, "DELETED");
			view_set(del, "DELETED_AT", page_time(r, links[i].deleted_at));
		}
	}
	const char *cells[SUMMARY__MAX];
	if ((e = summary_cells(r->thread->db, a, id, cells))) {
		view_dict_free(d);
		return e;
	}
	view_set(d, "NET_REVENUE", *cells[SUMMARY_NET_REVENUE] ? cells[SUMMARY_NET_REVENUE] : "none");
	view_set(d, "ORDER_COUNT", cells[SUMMARY_ORDERS]);
	view_set(d, "FIRST_ORDER", *cells[SUMMARY_FIRST_ORDER] ? cells[SUMMARY_FIRST_ORDER] : "none");
	view_set(d, "LAST_ORDER", *cells[SUMMARY_LAST_ORDER] ? cells[SUMMARY_LAST_ORDER] : "none");
	view_set(d, "ACTIVE_RECURRING", cells[SUMMARY_ACTIVE_RECURRING]);
	view_set(d, "MONTHLY_RECURRING", *cells[SUMMARY_MONTHLY_RECURRING] ? cells[SUMMARY_MONTHLY_RECURRING] : "none");
	view_show(d, n_orders ? "HAVE_ORDERS" : "NO_ORDERS");
	for (size_t i = 0; i < n_orders; i++) {
		struct view_dict *row = view_section(d, "ORDERS");
		view_set(row, "STRIPE_ID", orders[i].stripe_id);
		view_set(row, "AMOUNT", money(a, orders[i].amount, orders[i].currency));
		view_set(row, "REFUNDED", orders[i].amount_refunded
					  ? money(a, orders[i].amount_refunded, orders[i].currency) : "");
		view_set(row, "STATUS", orders[i].status);
		view_set(row, "CREATED", orders[i].created);
		view_set(row, "DISPUTE", dispute_words(a, disputes, n_disputes, orders[i].stripe_id));
	}
	view_show(d, n_recurring ? "HAVE_RECURRING" : "NO_RECURRING");
	for (size_t i = 0; i < n_recurring; i++) {
		struct view_dict *row = view_section(d, "RECURRING");
		view_set(row, "SUBSCRIPTION_ID", recurring[i].subscription_id);
		view_set(row, "STATUS", recurring[i].status);
		view_set(row, "AMOUNT", recurring[i].has_amount
			 ? money(a, recurring[i].amount, recurring[i].currency) : "unknown");
		view_set(row, "INTERVAL", recurring[i].interval);
		view_set(row, "PERIOD_END", recurring[i].current_period_end);
		view_set(row, "CANCELED_AT", recurring[i].canceled_at);
	}
	return page_render(r, resp, "contact", "CONTACTS", d);
}

/* The CSV export is streamed: rows go out in pieces of about
 * CSV_CHUNK bytes as the contacts are read, so memory stays flat however
 * many contacts there are. */
#define CSV_CHUNK 16384

struct csv_ctx {
	struct store *db;
	struct buf out;           /* the piece being filled */
	const char **header;      /* header cells, from the request's arena */
	size_t n_header;
	long long *custom;        /* custom field ids, in column order */
	size_t n_custom;
	http_write_fn write;
	void *sink;
	const long long *only;    /* ascending ids of the filter's contacts; NULL: every one */
	size_t n_only;
	struct arena *row;        /* the money summary of one row; reset per row */
};

static int cmp_id(const void *x, const void *y)
{
	long long a = *(const long long *)x, b = *(const long long *)y;
	return (a > b) - (a < b);
}

static sl_err csv_flush(struct csv_ctx *ctx, size_t at_least)
{
	if (ctx->out.len < at_least || ctx->out.len == 0)
		return SL_OK;
	sl_err e = ctx->write(ctx->sink, ctx->out.data, ctx->out.len);
	ctx->out.len = 0;
	return e;
}

static sl_err csv_contact(void *p, const struct contact *c, const char *const *values)
{
	struct csv_ctx *ctx = p;
	if (ctx->only && !bsearch(&c->id, ctx->only, ctx->n_only, sizeof *ctx->only, cmp_id))
		return SL_OK;
	csv_cell(&ctx->out, c->email, true);
	csv_cell(&ctx->out, c->first_name, false);
	csv_cell(&ctx->out, c->last_name, false);
	csv_cell(&ctx->out, c->phone, false);
	csv_cell(&ctx->out, c->tags, false);
	for (size_t i = 0; i < ctx->n_custom; i++)
		csv_cell(&ctx->out, values[i], false);
	const char *cells[SUMMARY__MAX];
	arena_reset(ctx->row);
	sl_err e = summary_cells(ctx->db, ctx->row, c->id, cells);
	if (e)
		return e;
	for (size_t i = 0; i < SUMMARY__MAX; i++)
		csv_cell(&ctx->out, cells[i], false);
	csv_end_row(&ctx->out);
	return csv_flush(ctx, CSV_CHUNK);
}

static sl_err csv_stream(void *p, http_write_fn write, void *sink)
{
	struct csv_ctx *ctx = p;
	ctx->write = write;
	ctx->sink = sink;
	for (size_t i = 0; i < ctx->n_header; i++)
		csv_cell(&ctx->out, ctx->header[i], i == 0);
	csv_end_row(&ctx->out);
	sl_err e = store_contacts_each(ctx->db, ctx->custom, ctx->n_custom, csv_contact, ctx);
	if (!e)
		e = csv_flush(ctx, 0);
	buf_free(&ctx->out);
	arena_free(ctx->row);
	return e;
}

HANDLER(page_contacts_csv)
{
	struct field *fields;
	size_t n_fields;
	sl_err e = store_fields_list(r->thread->db, r->arena, &fields, &n_fields);
	if (e)
		return e;
	/* /contacts.csv?segment=<id> or the builder's rows: only those contacts */
	struct page_filter f;
	struct segment_row s;
	long long segment_id = segment_param(r);
	if (segment_id < 0)
		return SL_ERR_NOT_FOUND;
	/* as on the list: the builder's rows, when given, are what is shown */
	bool saved = segment_id && !http_param(r, "c0_kind");
	e = saved ? load_segment(r, segment_id, &s, &f) : page_filter_read(r, &f);
	if (e)
		return e;
	if (f.invalid || (saved && f.n == 0))  /* never "everyone" by mistake */
		return SL_ERR_INVALID;
	long long *only = NULL;
	size_t n_only = 0;
	if (f.n && (e = store_segment_ids(r->thread->db, r->arena, &f.def, (long long)time(NULL),
					  &only, &n_only)))
		return e;
	static const char *const fixed[] = {"email", "first_name", "last_name", "phone", "tags"};
	enum { N_FIXED = sizeof fixed / sizeof fixed[0] };
	struct csv_ctx *ctx = arena_alloc(r->arena, sizeof *ctx);
	*ctx = (struct csv_ctx){.db = r->thread->db, .out = BUF_INIT, .only = only, .n_only = n_only};
	ctx->header = arena_alloc(r->arena, (N_FIXED + n_fields + SUMMARY__MAX) * sizeof *ctx->header);
	ctx->custom = arena_alloc(r->arena, (n_fields + 1) * sizeof *ctx->custom);
	for (size_t i = 0; i < N_FIXED; i++)
		ctx->header[ctx->n_header++] = fixed[i];
	for (size_t i = 0; i < n_fields; i++) {
		if (fields[i].builtin)
			continue;
		ctx->custom[ctx->n_custom++] = fields[i].id;
		ctx->header[ctx->n_header++] = fields[i].label;
	}
	for (size_t i = 0; i < SUMMARY__MAX; i++)   /* after the custom fields: their places stay */
		ctx->header[ctx->n_header++] = summary_columns[i];
	ctx->row = arena_new();
	resp->stream = csv_stream;
	resp->stream_ctx = ctx;
	resp->content_type = "text/csv; charset=utf-8";
	http_header(resp, "Content-Disposition", "attachment; filename=\"contacts.csv\"");
	return SL_OK;
}
