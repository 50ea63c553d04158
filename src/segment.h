/*
 * segment.h - segment conditions: the catalogue of condition kinds, their
 * validation, their JSON definition and their compilation into one SQL
 * WHERE clause over "contacts c" with bound parameters.
 *
 * The clause text is built only from fixed fragments of the catalogue;
 * every operand becomes a bound parameter (plain "?", numbered in order).
 * store.c prepares and runs what this module produces.
 */
#ifndef STRIPELINK_SEGMENT_H
#define STRIPELINK_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "err.h"

#define SEG_MAX_CONDS 16
#define SEG_MAX_BINDS (2 * SEG_MAX_CONDS)
#define SEG_OPERAND_MAX 200

enum seg_kind {
	SEG_HAS_TAG,
	SEG_NOT_TAG,
	SEG_RECURRING_ACTIVE,
	SEG_REVENUE_GTE,
	SEG_REVENUE_LT,
	SEG_ORDER_WITHIN,
	SEG_ORDER_NOT_WITHIN,
	SEG_ORDERS_GTE,
	SEG_CREATED_BETWEEN,
	SEG_FIELD_EQUALS,
	SEG_FIELD_CONTAINS,
	SEG_FIELD_EMPTY,
	SEG_TEXT,
	SEG__MAX
};

/* What a kind's two operands are (value, extra). */
enum seg_operands {
	SEG_OPS_NONE,          /* no operand */
	SEG_OPS_TAG,           /* value: tag name */
	SEG_OPS_MONEY,         /* value: amount "12.50", extra: currency "usd" */
	SEG_OPS_DAYS,          /* value: whole days 1..36500 */
	SEG_OPS_COUNT,         /* value: count 1..1000000 */
	SEG_OPS_DATES,         /* value: from YYYY-MM-DD, extra: to YYYY-MM-DD (inclusive) */
	SEG_OPS_FIELD_TEXT,    /* value: text, extra: custom field key */
	SEG_OPS_FIELD,         /* extra: custom field key */
	SEG_OPS_TEXT,          /* value: text to look for */
};

struct seg_kind_info {
	const char *name;        /* stable id used in forms and JSON */
	const char *label;       /* shown in the builder */
	enum seg_operands ops;
	const char *value_hint;  /* placeholder of the value input; NULL: unused */
	const char *extra_hint;  /* placeholder of the extra input; NULL: unused */
};

/* The catalogue row of kind k; k must be < SEG__MAX. Static storage. */
const struct seg_kind_info *segment_kind_info(enum seg_kind k);
/* The kind named name; false when there is none. */
bool segment_kind_find(const char *name, enum seg_kind *out);

/* One condition as entered: operands are kept as text (the builder shows
 * them back as typed). Strings are borrowed or arena-owned. */
struct seg_cond {
	enum seg_kind kind;
	const char *value;       /* "" when unused */
	const char *extra;       /* "" when unused */
};

struct segment_def {
	struct seg_cond conds[SEG_MAX_CONDS];
	size_t n;
};

/* Checks every condition's operands; errors[i] (array of def->n) gets a
 * clear message for a bad row, NULL for a good one (static or arena
 * storage). field_keys (n_fields, may be 0) are the custom fields that
 * exist; a field condition naming another is an error. Returns
 * SL_ERR_INVALID when any row is bad. */
sl_err segment_validate(struct arena *a, const struct segment_def *def,
			const char *const *field_keys, size_t n_fields,
			const char **errors);

/* The definition as JSON ([{"kind":..,"value":..,"extra":..}]), arena-owned. */
const char *segment_to_json(struct arena *a, const struct segment_def *def);
/* Reads a definition from segment_to_json()'s text into out (strings
 * arena-owned). SL_ERR_INVALID for malformed text or unknown kinds. */
sl_err segment_from_json(struct arena *a, const char *json, struct segment_def *out);

struct seg_bind {
	bool text;
	long long i;
	const char *s;
};

struct seg_sql {
	const char *where;       /* "1 = 1" for no conditions; fixed fragments joined by AND */
	struct seg_bind binds[SEG_MAX_BINDS];
	size_t n_binds;
};

/* Compiles a validated definition into a WHERE clause over "contacts c"
 * with its parameters, at time now (unix seconds, for "within N days").
 * SL_ERR_INVALID when a condition does not validate. Output arena-owned. */
sl_err segment_compile(struct arena *a, const struct segment_def *def, long long now,
		       struct seg_sql *out);

#endif
