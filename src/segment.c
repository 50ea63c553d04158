/*
 * segment.c - the segment condition catalogue and its compiler; see
 * segment.h.
 */
#include "segment.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"

/* Net revenue of a contact's orders in one currency: the one place that
 * says which orders count and what is subtracted (refunds and lost
 * disputes, see ledger.h). A charge partly or wholly refunded still counts
 * with what is left of it. */
#define SEG_REVENUE_ORDERS "o.contact_id IS NOT NULL AND o.currency = ? AND o.status IN" \
	" ('paid','succeeded','partially_refunded','refunded')"
#define SEG_NET_REVENUE "sum(o.amount - o.amount_refunded - o.amount_lost)"
#define SEG_REVENUE_SET(cmp) \
	"c.id IN (SELECT o.contact_id FROM orders o WHERE " SEG_REVENUE_ORDERS \
	" GROUP BY o.contact_id HAVING " SEG_NET_REVENUE " " cmp " ?)"
#define SEG_TAGGED "(SELECT ct.contact_id FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id WHERE t.name = ?)"
#define SEG_ORDERED_SINCE "(SELECT o.contact_id FROM orders o WHERE o.contact_id IS NOT NULL AND o.created >= ?)"
#define SEG_FIELD_VALUE "(SELECT v.contact_id FROM contact_values v JOIN fields f ON f.id = v.field_id" \
	" WHERE f.key = ? AND "

struct seg_entry {
	struct seg_kind_info info;
	const char *sql;         /* fixed fragment; its "?" take the operands in bind order */
};

static const struct seg_entry catalogue[] = {
	[SEG_HAS_TAG] = {{"has_tag", "Has tag", SEG_OPS_TAG, "tag", NULL},
			 "c.id IN " SEG_TAGGED},
	[SEG_NOT_TAG] = {{"not_tag", "Has not tag", SEG_OPS_TAG, "tag", NULL},
			 "c.id NOT IN " SEG_TAGGED},
	[SEG_RECURRING_ACTIVE] = {{"recurring_active", "Has an active recurring payment", SEG_OPS_NONE, NULL, NULL},
				  "EXISTS (SELECT 1 FROM recurring_payments r WHERE r.contact_id = c.id"
				  " AND r.status IN ('active','trialing'))"},
	[SEG_REVENUE_GTE] = {{"revenue_gte", "Net revenue at least", SEG_OPS_MONEY, "amount, e.g. 100.00", "currency, e.g. usd"},
			     SEG_REVENUE_SET(">=")},
	/* below an amount: everyone not at or above it (no orders is 0) */
	[SEG_REVENUE_LT] = {{"revenue_lt", "Net revenue below", SEG_OPS_MONEY, "amount, e.g. 100.00", "currency, e.g. usd"},
			    "NOT " SEG_REVENUE_SET(">=")},
	[SEG_ORDER_WITHIN] = {{"order_within", "Last order within (days)", SEG_OPS_DAYS, "days", NULL},
			      "c.id IN " SEG_ORDERED_SINCE},
	[SEG_ORDER_NOT_WITHIN] = {{"order_not_within", "No order within (days)", SEG_OPS_DAYS, "days", NULL},
				  "c.id NOT IN " SEG_ORDERED_SINCE},
	[SEG_ORDERS_GTE] = {{"orders_gte", "Number of orders at least", SEG_OPS_COUNT, "count", NULL},
			    "c.id IN (SELECT o.contact_id FROM orders o WHERE o.contact_id IS NOT NULL"
			    " GROUP BY o.contact_id HAVING count(*) >= ?)"},
	[SEG_CREATED_BETWEEN] = {{"created_between", "Created between", SEG_OPS_DATES, "from YYYY-MM-DD", "to YYYY-MM-DD"},
				 "c.created_at >= ? AND c.created_at < ?"},
	[SEG_FIELD_EQUALS] = {{"field_equals", "Custom field equals", SEG_OPS_FIELD_TEXT, "value", "field key"},
			      "c.id IN " SEG_FIELD_VALUE "v.value = ?)"},
	[SEG_FIELD_CONTAINS] = {{"field_contains", "Custom field contains", SEG_OPS_FIELD_TEXT, "text", "field key"},
				"c.id IN " SEG_FIELD_VALUE "v.value LIKE ? ESCAPE '\\')"},
	[SEG_FIELD_EMPTY] = {{"field_empty", "Custom field is empty", SEG_OPS_FIELD, NULL, "field key"},
			     "c.id NOT IN " SEG_FIELD_VALUE "v.value <> '')"},
	[SEG_TEXT] = {{"text", "Email or name contains", SEG_OPS_TEXT, "text", NULL},
		      "EXISTS (SELECT 1 FROM (SELECT ? AS p) m WHERE c.email_key LIKE m.p ESCAPE '\\'"
		      " OR (c.first_name || ' ' || c.last_name) LIKE m.p ESCAPE '\\')"},
};
_Static_assert(sizeof catalogue / sizeof catalogue[0] == SEG__MAX, "every condition kind needs a row");

const struct seg_kind_info *segment_kind_info(enum seg_kind k)
{
	return &catalogue[k].info;
}

bool segment_kind_find(const char *name, enum seg_kind *out)
{
	for (int k = 0; name && k < SEG__MAX; k++)
		if (strcmp(catalogue[k].info.name, name) == 0) {
			*out = (enum seg_kind)k;
			return true;
		}
	return false;
}

/* ---- operand parsers: each returns NULL when s is good, else why not ---- */

static const char *parse_int(const char *s, long long lo, long long hi, long long *out)
{
	if (!*s)
		return "enter a whole number";
	if (strlen(s) > 12)
		return "too large";
	long long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return "enter a whole number";
		v = v * 10 + (*p - '0');
	}
	if (v < lo || v > hi)
		return "out of range";
	*out = v;
	return NULL;
}

/* "123", "123.4", "123.45" → minor units. */
static const char *parse_amount(const char *s, long long *out)
{
	const char *dot = strchr(s, '.');
	size_t whole = dot ? (size_t)(dot - s) : strlen(s);
	size_t frac = dot ? strlen(dot + 1) : 0;
	if (whole == 0 || whole > 12 || (dot && (frac == 0 || frac > 2)))
		return "enter an amount like 100 or 99.50";
	long long v = 0;
	for (size_t i = 0; i < whole; i++) {
		if (!isdigit((unsigned char)s[i]))
			return "enter an amount like 100 or 99.50";
		v = v * 10 + (s[i] - '0');
	}
	long long cents = 0;
	for (size_t i = 0; i < 2; i++) {
		char ch = i < frac ? dot[1 + i] : '0';
		if (!isdigit((unsigned char)ch))
			return "enter an amount like 100 or 99.50";
		cents = cents * 10 + (ch - '0');
	}
	*out = v * 100 + cents;
	return NULL;
}

static const char *parse_currency(struct arena *a, const char *s, const char **out)
{
	if (strlen(s) != 3)
		return "enter a three-letter currency code such as usd";
	char *c = arena_strdup(a, s);
	for (int i = 0; i < 3; i++) {
		if (!isalpha((unsigned char)c[i]))
			return "enter a three-letter currency code such as usd";
		c[i] = (char)tolower((unsigned char)c[i]);
	}
	*out = c;
	return NULL;
}

/* YYYY-MM-DD (a real day) → unix seconds at 00:00 UTC. */
static const char *parse_date(const char *s, long long *out)
{
	int y, m, d;
	char tail;
	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || s[4] != '-' || s[7] != '-')
		return "enter a date as YYYY-MM-DD";
	if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
		return "enter a date as YYYY-MM-DD";
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
	time_t t = timegm(&tm);
	struct tm back;
	gmtime_r(&t, &back);
	if (back.tm_mday != d || back.tm_mon != m - 1)
		return "no such day";
	*out = (long long)t;
	return NULL;
}

static const char *check_field(const char *key, const char *const *keys, size_t n)
{
	if (!*key)
		return "choose a custom field";
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return NULL;
	return "there is no such custom field";
}

static void iso_time(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Escapes %, _ and \ for LIKE ... ESCAPE '\' and wraps in %. */
static const char *like_pattern(struct arena *a, const char *text)
{
	size_t n = strlen(text);
	char *p = arena_alloc(a, 2 * n + 3), *d = p;
	*d++ = '%';
	for (; *text; text++) {
		if (*text == '%' || *text == '_' || *text == '\\')
			*d++ = '\\';
		*d++ = *text;
	}
	*d++ = '%';
	*d = '\0';
	return p;
}

/* Parses one condition's operands into binds (n_binds grows); field_keys
 * NULL skips the field-exists check. Returns NULL or why the row is bad. */
static const char *cond_binds(struct arena *a, const struct seg_cond *c, long long now,
			      const char *const *field_keys, size_t n_fields,
			      struct seg_bind *b, size_t *n_binds)
{
	const char *v = c->value ? c->value : "", *x = c->extra ? c->extra : "";
	const char *why = NULL;
	long long i1, i2;
	const char *s;
	if (strlen(v) > SEG_OPERAND_MAX || strlen(x) > SEG_OPERAND_MAX)
		return "too long (at most 200 characters)";
	switch (catalogue[c->kind].info.ops) {
	case SEG_OPS_NONE:
		break;
	case SEG_OPS_TAG:
		if (!*v)
			return "choose a tag";
		b[(*n_binds)++] = (struct seg_bind){.text = true, .s = v};
		break;
	case SEG_OPS_MONEY:
		if ((why = parse_amount(v, &i1)) || (why = parse_currency(a, x, &s)))
			return why;
		b[(*n_binds)++] = (struct seg_bind){.text = true, .s = s};
		b[(*n_binds)++] = (struct seg_bind){.i = i1};
		break;
	case SEG_OPS_DAYS: {
		if ((why = parse_int(v, 1, 36500, &i1)))
			return why[0] == 'o' ? "enter between 1 and 36500 days" : why;
		char iso[32];
		iso_time(now - i1 * 86400, iso);
		b[(*n_binds)++] = (struct seg_bind){.text = true, .s = arena_strdup(a, iso)};
		break;
	}
	case SEG_OPS_COUNT:
		if ((why = parse_int(v, 1, 1000000, &i1)))
			return why[0] == 'o' ? "enter a count of at least 1" : why;
		b[(*n_binds)++] = (struct seg_bind){.i = i1};
		break;
	case SEG_OPS_DATES:
		if ((why = parse_date(v, &i1)) || (why = parse_date(x, &i2)))
			return why;
		if (i2 < i1)
			return "the end date is before the start date";
		b[(*n_binds)++] = (struct seg_bind){.i = i1};
		b[(*n_binds)++] = (struct seg_bind){.i = i2 + 86400};
		break;
	case SEG_OPS_TEXT:
		if (!*v)
			return "enter the text to look for";
		b[(*n_binds)++] = (struct seg_bind){.text = true, .s = like_pattern(a, v)};
		break;
	case SEG_OPS_FIELD_TEXT:
	case SEG_OPS_FIELD:
		if (field_keys && (why = check_field(x, field_keys, n_fields)))
			return why;
		if (!*x)
			return "choose a custom field";
		b[(*n_binds)++] = (struct seg_bind){.text = true, .s = x};
		if (catalogue[c->kind].info.ops == SEG_OPS_FIELD)
			break;
		if (!*v && c->kind == SEG_FIELD_CONTAINS)
			return "enter the text to look for";
		b[(*n_binds)++] = (struct seg_bind){.text = true,
						    .s = c->kind == SEG_FIELD_CONTAINS ? like_pattern(a, v) : v};
		break;
	}
	return NULL;
}

sl_err segment_validate(struct arena *a, const struct segment_def *def,
			const char *const *field_keys, size_t n_fields,
			const char **errors)
{
	sl_err e = SL_OK;
	for (size_t i = 0; i < def->n; i++) {
		struct seg_bind b[2];
		size_t n = 0;
		errors[i] = def->conds[i].kind < SEG__MAX
			? cond_binds(a, &def->conds[i], 0, field_keys, n_fields, b, &n)
			: "unknown condition";
		if (errors[i])
			e = SL_ERR_INVALID;
	}
	return e;
}

sl_err segment_compile(struct arena *a, const struct segment_def *def, long long now,
		       struct seg_sql *out)
{
	if (def->n > SEG_MAX_CONDS)
		return SL_ERR_INVALID;
	struct buf where = {0};
	sl_err e = SL_OK;
	out->n_binds = 0;
	buf_puts(&where, def->n ? "" : "1 = 1");   /* a boolean in both engines */
	for (size_t i = 0; i < def->n; i++) {
		const struct seg_cond *c = &def->conds[i];
		if (c->kind >= SEG__MAX ||
		    cond_binds(a, c, now, NULL, 0, out->binds, &out->n_binds)) {
			e = SL_ERR_INVALID;
			goto out;
		}
		buf_puts(&where, i ? " AND (" : "(");
		buf_puts(&where, catalogue[c->kind].sql);
		buf_puts(&where, ")");
	}
	out->where = arena_strndup(a, where.data ? where.data : "", where.len);
out:
	buf_free(&where);
	return e;
}

const char *segment_to_json(struct arena *a, const struct segment_def *def)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < def->n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "kind", json_object_new_string(catalogue[def->conds[i].kind].info.name));
		json_object_object_add(o, "value", json_object_new_string(def->conds[i].value ? def->conds[i].value : ""));
		json_object_object_add(o, "extra", json_object_new_string(def->conds[i].extra ? def->conds[i].extra : ""));
		json_object_array_add(arr, o);
	}
	const char *s = arena_strdup(a, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	json_object_put(arr);
	return s;
}

static const char *member(struct arena *a, json_object *o, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return arena_strdup(a, json_object_get_string(v));
}

sl_err segment_from_json(struct arena *a, const char *json, struct segment_def *out)
{
	sl_err e = SL_OK;
	json_object *arr = json_tokener_parse(json ? json : "");
	out->n = 0;
	if (!arr || !json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) > SEG_MAX_CONDS) {
		e = SL_ERR_INVALID;
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct seg_cond *c = &out->conds[out->n];
		const char *kind = o ? member(a, o, "kind") : NULL;
		c->value = o ? member(a, o, "value") : NULL;
		c->extra = o ? member(a, o, "extra") : NULL;
		if (!kind || !c->value || !c->extra || !segment_kind_find(kind, &c->kind)) {
			e = SL_ERR_INVALID;
			goto out;
		}
		out->n++;
	}
out:
	json_object_put(arr);
	return e;
}
