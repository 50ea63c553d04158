/*
 * mapping.c - building, storing, validating and applying mappings.
 *
 * The hot path is mapping_apply(): it walks precomputed path segments with
 * json_object_object_get_ex(), copies the few strings it keeps into the
 * change set's chunk storage (usually one malloc per object, reused up to
 * change_set_clear()), and formats numbers and dates by hand.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "mapping.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Bytes of data in a change set's first chunk: with the chunk header this
 * stays under 1 KB, which glibc serves from its per-thread cache. */
#define CHUNK_FIRST 960

/* Longest piece of Stripe data quoted in a skip reason. */
#define QUOTE_MAX 80

/* Room for any decimal int64 or ISO-8601 time, with its NUL. */
#define NUMBER_MAX 32

struct change_set_chunk {
	struct change_set_chunk *next;
	size_t used;
	size_t cap;
	char data[];
};

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Returns a malloc'd copy of s, or NULL (strdup is not in C11). */
static char *copy_string(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* ---- paths -------------------------------------------------------------- */

static void path_free(struct mapping_path *p)
{
	free(p->text); /* storage lives in the same block */
	memset(p, 0, sizeof *p);
}

/* Returns the array index a segment of 1 to 6 digits stands for, or -1. */
static int segment_index(const char *s, size_t n)
{
	int v = 0;

	if (n == 0 || n > 6)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Splits p->storage at its dots into p->segment; under a wildcard row the
 * free key after the row's stem stays one segment, dots and all. Leaves
 * p->count 0 when a segment is empty or there are too many. */
static void path_split(struct mapping_path *p)
{
	char *s = p->storage;
	char *start = s;
	size_t last_dot = (size_t)-1; /* split at dots up to this offset */
	unsigned count = 0;

	if (p->field && catalog_field_is_wildcard(p->field))
		last_dot = strlen(p->field->path) - 2;
	p->count = 0;
	for (size_t i = 0;; i++) {
		bool end = s[i] == '\0';

		if (!end && !(s[i] == '.' && i <= last_dot))
			continue;
		if (&s[i] == start || count == MAPPING_MAX_SEGMENTS)
			return;
		s[i] = '\0';
		p->segment[count] = start;
		p->index[count] = segment_index(start, (size_t)(&s[i] - start));
		count++;
		if (end)
			break;
		start = &s[i + 1];
	}
	p->count = count;
	p->via_customer = count > 1 && strcmp(p->segment[0], "customer") == 0;
}

/* Replaces *p by text compiled for resource r; NULL or "" unsets it. On
 * error *p is unchanged. */
static sl_err path_set(struct mapping_path *p, enum resource r,
		       const char *text)
{
	struct mapping_path np = {0};
	size_t len;

	if (!text || !*text) {
		path_free(p);
		return SL_OK;
	}
	len = strlen(text);
	if (len > MAPPING_PATH_MAX)
		return SL_ERR_TOO_LARGE;
	np.text = malloc(2 * len + 2);
	if (!np.text)
		return SL_ERR_NOMEM;
	memcpy(np.text, text, len + 1);
	np.storage = np.text + len + 1;
	memcpy(np.storage, text, len + 1);
	np.field = catalog_field_find(r, text);
	path_split(&np);
	path_free(p);
	*p = np;
	return SL_OK;
}

/* Returns the length of p's text up to and including segment i. */
static int path_prefix_len(const struct mapping_path *p, unsigned i)
{
	return (int)((size_t)(p->segment[i] - p->storage) +
		     strlen(p->segment[i]));
}

/* ---- building mappings -------------------------------------------------- */

static void rule_free(struct mapping_rule *rule)
{
	path_free(&rule->source);
	free(rule->target);
	rule->target = NULL;
	rule->builtin = TARGET__MAX;
}

/* Fills an empty rule; on error it stays empty. */
static sl_err rule_set(struct mapping_rule *rule, enum resource r,
		       const char *path, const char *target)
{
	sl_err rc;

	rule->builtin = TARGET__MAX;
	rule->target = copy_string(target);
	if (!rule->target)
		return SL_ERR_NOMEM;
	rc = path_set(&rule->source, r, path);
	if (rc != SL_OK) {
		free(rule->target);
		rule->target = NULL;
		return rc;
	}
	rule->builtin = catalog_target_by_key(target);
	return SL_OK;
}

static void update_reads_customer(struct mapping *m)
{
	bool reads = m->email.via_customer ||
		     (m->has_id_rule && m->id_rule.source.via_customer);

	for (size_t i = 0; i < m->rule_count; i++)
		reads = reads || m->rules[i].source.via_customer;
	m->reads_customer = reads;
}

struct mapping *mapping_new(enum resource r)
{
	struct mapping *m;

	if ((unsigned)r >= RESOURCE__MAX)
		return NULL;
	m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->resource = r;
	m->id_rule.builtin = TARGET__MAX;
	return m;
}

void mapping_free(struct mapping *m)
{
	if (!m)
		return;
	path_free(&m->email);
	if (m->has_id_rule)
		rule_free(&m->id_rule);
	for (size_t i = 0; i < m->rule_count; i++)
		rule_free(&m->rules[i]);
	free(m);
}

sl_err mapping_set_email(struct mapping *m, const char *path)
{
	sl_err rc = path_set(&m->email, m->resource, path);

	update_reads_customer(m);
	return rc;
}

sl_err mapping_set_id_rule(struct mapping *m, const char *path,
			   const char *target)
{
	struct mapping_rule rule = {.builtin = TARGET__MAX};
	sl_err rc = SL_OK;

	if (path && *path) {
		rc = rule_set(&rule, m->resource, path, target ? target : "");
		if (rc != SL_OK)
			goto out;
	}
	if (m->has_id_rule)
		rule_free(&m->id_rule);
	m->id_rule = rule;
	m->has_id_rule = path && *path;
	update_reads_customer(m);
out:
	return rc;
}

sl_err mapping_add_rule(struct mapping *m, const char *path,
			const char *target)
{
	sl_err rc;

	if (!path || !target)
		return SL_ERR_INVALID;
	if (m->rule_count == MAPPING_MAX_RULES)
		return SL_ERR_TOO_LARGE;
	rc = rule_set(&m->rules[m->rule_count], m->resource, path, target);
	if (rc != SL_OK)
		return rc;
	m->rule_count++;
	update_reads_customer(m);
	return SL_OK;
}

struct mapping *mapping_default(enum resource r)
{
	const struct catalog_resource *res = catalog_resource(r);
	struct mapping *m = mapping_new(r);
	sl_err rc;

	if (!m)
		return NULL;
	rc = mapping_set_email(m, res->default_email);
	if (rc == SL_OK && res->default_name)
		rc = mapping_add_rule(m, res->default_name, "full_name");
	if (rc == SL_OK && res->default_phone)
		rc = mapping_add_rule(m, res->default_phone, "phone");
	if (rc != SL_OK) {
		mapping_free(m);
		m = NULL;
	}
	return m;
}

/* ---- JSON form ---------------------------------------------------------- */

#define MAPPING_JSON_VERSION 1

/* Returns a malloc'd message (NULL when memory runs out). */
__attribute__((format(printf, 1, 2)))
static char *message(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return copy_string(buf);
}

/* Reads {"source": "...", "target": "..."}; sets *source and *target
 * (borrowed from row) or returns a malloc'd message. */
static char *read_rule(json_object *row, const char *where,
		       const char **source, const char **target)
{
	json_object *s, *t;

	if (!json_object_is_type(row, json_type_object))
		return message("%s is not an object", where);
	json_object_object_foreach(row, key, val) {
		(void)val;
		if (strcmp(key, "source") != 0 && strcmp(key, "target") != 0)
			return message("%s has an unknown key \"%s\"", where,
				       key);
	}
	if (!json_object_object_get_ex(row, "source", &s) ||
	    !json_object_is_type(s, json_type_string))
		return message("%s.source is not a string", where);
	if (!json_object_object_get_ex(row, "target", &t) ||
	    !json_object_is_type(t, json_type_string))
		return message("%s.target is not a string", where);
	*source = json_object_get_string(s);
	*target = json_object_get_string(t);
	return NULL;
}

/* Builds the mapping a parsed document describes, or returns a malloc'd
 * message. */
static char *mapping_from_object(json_object *doc, struct mapping **out)
{
	static const char *const keys[] = {"version", "resource", "email",
					   "id", "fields"};
	struct mapping *m = NULL;
	json_object *v;
	char *err = NULL;
	enum resource r;
	const char *source, *target;

	if (!json_object_is_type(doc, json_type_object))
		return message("the mapping is not a JSON object");
	json_object_object_foreach(doc, key, val) {
		size_t k = 0;

		(void)val;
		while (k < N_ELEMS(keys) && strcmp(keys[k], key) != 0)
			k++;
		if (k == N_ELEMS(keys))
			return message("unknown key \"%s\"", key);
	}
	if (json_object_object_get_ex(doc, "version", &v) &&
	    (!json_object_is_type(v, json_type_int) ||
	     json_object_get_int64(v) != MAPPING_JSON_VERSION))
		return message("unsupported version (this program reads %d)",
			       MAPPING_JSON_VERSION);
	if (!json_object_object_get_ex(doc, "resource", &v) ||
	    !json_object_is_type(v, json_type_string))
		return message("\"resource\" is not a string");
	r = catalog_resource_by_slug(json_object_get_string(v));
	if (r == RESOURCE__MAX)
		return message("unknown resource \"%s\"",
			       json_object_get_string(v));
	m = mapping_new(r);
	if (!m)
		return NULL;

	if (json_object_object_get_ex(doc, "email", &v) && v) {
		if (!json_object_is_type(v, json_type_string)) {
			err = message("\"email\" is not a string");
			goto out;
		}
		if (mapping_set_email(m, json_object_get_string(v)) != SL_OK) {
			err = message("\"email\" is too long");
			goto out;
		}
	}
	if (json_object_object_get_ex(doc, "id", &v) && v) {
		err = read_rule(v, "\"id\"", &source, &target);
		if (err)
			goto out;
		if (mapping_set_id_rule(m, source, target) != SL_OK) {
			err = message("\"id\" is too long");
			goto out;
		}
	}
	if (json_object_object_get_ex(doc, "fields", &v) && v) {
		if (!json_object_is_type(v, json_type_array)) {
			err = message("\"fields\" is not a list");
			goto out;
		}
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			char where[32];
			sl_err rc;

			snprintf(where, sizeof where, "fields[%zu]", i);
			err = read_rule(json_object_array_get_idx(v, i), where,
					&source, &target);
			if (err)
				goto out;
			rc = mapping_add_rule(m, source, target);
			if (rc != SL_OK) {
				err = message("%s: %s", where, err_name(rc));
				goto out;
			}
		}
	}
out:
	if (err) {
		mapping_free(m);
		return err;
	}
	*out = m;
	return NULL;
}

struct mapping *mapping_from_json(const char *json, char **err)
{
	struct json_tokener *tok = NULL;
	json_object *doc = NULL;
	struct mapping *m = NULL;
	char *msg = NULL;
	size_t len, end;

	if (!json) {
		msg = message("no mapping");
		goto out;
	}
	tok = json_tokener_new();
	if (!tok)
		goto out;
	len = strlen(json);
	if (len > INT_MAX) {
		msg = message("the mapping is too large");
		goto out;
	}
	doc = json_tokener_parse_ex(tok, json, (int)len);
	if (json_tokener_get_error(tok) == json_tokener_continue) {
		msg = message("the mapping is not valid JSON: it ends early");
		goto out;
	}
	if (json_tokener_get_error(tok) != json_tokener_success) {
		msg = message("the mapping is not valid JSON: %s",
			      json_tokener_error_desc(
				      json_tokener_get_error(tok)));
		goto out;
	}
	end = json_tokener_get_parse_end(tok);
	while (end < len && is_space((unsigned char)json[end]))
		end++;
	if (end != len) {
		msg = message("the mapping has text after its JSON");
		goto out;
	}
	msg = mapping_from_object(doc, &m);
out:
	json_object_put(doc);
	if (tok)
		json_tokener_free(tok);
	if (err)
		*err = msg;
	else
		free(msg);
	return m;
}

/* Returns {"source": ..., "target": ...} or NULL. */
static json_object *rule_to_json(const struct mapping_rule *rule)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (json_object_object_add(o, "source", json_object_new_string(
				rule->source.text ? rule->source.text : "")) ||
	    json_object_object_add(o, "target",
				   json_object_new_string(rule->target))) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

char *mapping_to_json(const struct mapping *m)
{
	json_object *doc = json_object_new_object(), *fields = NULL, *rule;
	const char *plain;
	char *text = NULL;
	int bad = !doc;

	if (bad)
		goto out;
	bad |= json_object_object_add(doc, "version",
				      json_object_new_int(MAPPING_JSON_VERSION));
	bad |= json_object_object_add(doc, "resource",
		json_object_new_string(catalog_resource(m->resource)->slug));
	if (m->email.text)
		bad |= json_object_object_add(doc, "email",
				json_object_new_string(m->email.text));
	if (m->has_id_rule) {
		rule = rule_to_json(&m->id_rule);
		bad |= !rule || json_object_object_add(doc, "id", rule);
	}
	fields = json_object_new_array();
	bad |= !fields || json_object_object_add(doc, "fields", fields);
	for (size_t i = 0; fields && i < m->rule_count; i++) {
		rule = rule_to_json(&m->rules[i]);
		bad |= !rule || json_object_array_add(fields, rule);
	}
	if (bad)
		goto out;
	plain = json_object_to_json_string_ext(doc,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (plain)
		text = copy_string(plain);
out:
	json_object_put(doc);
	return text;
}

/* ---- validation --------------------------------------------------------- */

/* Sentences for the user; each gets two strings (used or not): the thing
 * named (path label, path or CRM field), then the resource label. */
static const char *const problem_formats[] = {
	[MAPPING_EMAIL_MISSING] =
		"Choose the Stripe field that holds the email address.",
	[MAPPING_EMAIL_NOT_EMAIL] =
		"\"%s\" does not hold an email address; choose an email "
		"field.",
	[MAPPING_PATH_MISSING] = "Choose a Stripe field.",
	[MAPPING_UNKNOWN_PATH] = "\"%s\" is not a %s field.",
	[MAPPING_ID_NOT_ID] =
		"\"%s\" is not a Stripe ID; choose an ID field.",
	[MAPPING_TARGET_MISSING] = "Choose the CRM field to fill.",
	[MAPPING_UNKNOWN_TARGET] =
		"There is no CRM field \"%s\"; new fields are created on the "
		"Fields page.",
	[MAPPING_DUPLICATE_TARGET] =
		"%s is already filled by another row.",
};
_Static_assert(N_ELEMS(problem_formats) == MAPPING_PROBLEM__MAX,
	       "every problem needs a sentence");

struct validation {
	const struct mapping *m;
	mapping_key_exists_fn exists;
	void *ctx;
	struct mapping_error *errors;
	size_t max_errors;
	size_t count;
	const char *filled[2 * MAPPING_MAX_RULES + 4]; /* CRM keys so far */
	size_t filled_count;
};

static void report(struct validation *v, enum mapping_row row, size_t index,
		   enum mapping_problem problem, const char *thing)
{
	struct mapping_error *e;

	if (v->count++ >= v->max_errors)
		return;
	e = &v->errors[v->count - 1];
	e->row = row;
	e->index = index;
	e->problem = problem;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
	snprintf(e->message, sizeof e->message, problem_formats[problem],
		 thing ? thing : "",
		 catalog_resource(v->m->resource)->label);
#pragma GCC diagnostic pop
}

/* Records that key is filled; returns false when it already was. */
static bool fill(struct validation *v, const char *key)
{
	for (size_t i = 0; i < v->filled_count; i++)
		if (strcmp(v->filled[i], key) == 0)
			return false;
	if (v->filled_count < N_ELEMS(v->filled))
		v->filled[v->filled_count++] = key;
	return true;
}

/* Returns the label of CRM key (built-in label or the key itself). */
static const char *target_label(const char *key)
{
	enum crm_target t = catalog_target_by_key(key);

	return t == TARGET__MAX ? key : catalog_target(t)->label;
}

static void validate_path(struct validation *v, enum mapping_row row,
			  size_t index, const struct mapping_path *p)
{
	if (!p->text)
		report(v, row, index, MAPPING_PATH_MISSING, NULL);
	else if (!p->field || p->count == 0)
		report(v, row, index, MAPPING_UNKNOWN_PATH, p->text);
}

static void validate_target(struct validation *v, enum mapping_row row,
			    size_t index, const struct mapping_rule *rule)
{
	const char *key = rule->target;
	bool fresh;

	if (!key || !*key) {
		report(v, row, index, MAPPING_TARGET_MISSING, NULL);
		return;
	}
	if (rule->builtin == TARGET__MAX &&
	    (!catalog_key_is_valid(key) || !v->exists ||
	     !v->exists(key, v->ctx))) {
		report(v, row, index, MAPPING_UNKNOWN_TARGET, key);
		return;
	}
	if (rule->builtin == TARGET_FULL_NAME) {
		const char *first = catalog_target(TARGET_FIRST_NAME)->key;
		const char *last = catalog_target(TARGET_LAST_NAME)->key;

		fresh = fill(v, first);
		if (!fresh) {
			report(v, row, index, MAPPING_DUPLICATE_TARGET,
			       target_label(first));
			return;
		}
		if (!fill(v, last))
			report(v, row, index, MAPPING_DUPLICATE_TARGET,
			       target_label(last));
		return;
	}
	if (!fill(v, key))
		report(v, row, index, MAPPING_DUPLICATE_TARGET,
		       target_label(key));
}

bool mapping_key_in_list(const char *key, void *ctx)
{
	const char *const *list = ctx;

	for (; list && *list; list++)
		if (strcmp(*list, key) == 0)
			return true;
	return false;
}

sl_err mapping_validate(const struct mapping *m, mapping_key_exists_fn exists,
			void *ctx, struct mapping_error *errors,
			size_t max_errors, size_t *n_errors)
{
	struct validation v = {
		.m = m, .exists = exists, .ctx = ctx,
		.errors = errors, .max_errors = errors ? max_errors : 0,
	};
	const struct mapping_path *email = &m->email;

	fill(&v, catalog_target(TARGET_EMAIL)->key);
	if (!email->text)
		report(&v, MAPPING_ROW_EMAIL, 0, MAPPING_EMAIL_MISSING, NULL);
	else if (!email->field || email->count == 0)
		report(&v, MAPPING_ROW_EMAIL, 0, MAPPING_UNKNOWN_PATH,
		       email->text);
	else if (!email->field->is_email_candidate &&
		 !catalog_field_is_wildcard(email->field))
		report(&v, MAPPING_ROW_EMAIL, 0, MAPPING_EMAIL_NOT_EMAIL,
		       email->field->label);

	if (m->has_id_rule) {
		const struct mapping_path *p = &m->id_rule.source;

		validate_path(&v, MAPPING_ROW_ID, 0, p);
		if (p->field && p->count && p->field->type != FIELD_TYPE_ID)
			report(&v, MAPPING_ROW_ID, 0, MAPPING_ID_NOT_ID,
			       p->field->label);
		validate_target(&v, MAPPING_ROW_ID, 0, &m->id_rule);
	}
	for (size_t i = 0; i < m->rule_count; i++) {
		validate_path(&v, MAPPING_ROW_FIELD, i, &m->rules[i].source);
		validate_target(&v, MAPPING_ROW_FIELD, i, &m->rules[i]);
	}
	if (n_errors)
		*n_errors = v.count;
	return v.count ? SL_ERR_INVALID : SL_OK;
}

/* ---- change sets -------------------------------------------------------- */

void change_set_init(struct change_set *cs)
{
	memset(cs, 0, sizeof *cs);
}

void change_set_clear(struct change_set *cs)
{
	struct change_set_chunk *c = cs->chunks;

	while (c) {
		struct change_set_chunk *next = c->next;

		free(c);
		c = next;
	}
	change_set_init(cs);
}

/* Returns n bytes owned by cs, or NULL when memory runs out. */
static char *cs_alloc(struct change_set *cs, size_t n)
{
	struct change_set_chunk *c = cs->chunks;
	char *p;

	if (!c || c->cap - c->used < n) {
		size_t cap = c ? 2 * c->cap : CHUNK_FIRST;

		if (cap < n)
			cap = n;
		c = malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->next = cs->chunks;
		c->used = 0;
		c->cap = cap;
		cs->chunks = c;
	}
	p = c->data + c->used;
	c->used += n;
	return p;
}

/* Returns a NUL-terminated copy of n bytes of s owned by cs, or NULL. */
static char *cs_strndup(struct change_set *cs, const char *s, size_t n)
{
	char *p = cs_alloc(cs, n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

sl_err change_set_add_tag(struct change_set *cs, const char *tag)
{
	const char *copy;

	if (cs->tag_count == CHANGE_SET_MAX_TAGS)
		return SL_ERR_TOO_LARGE;
	copy = cs_strndup(cs, tag, strlen(tag));
	if (!copy)
		return SL_ERR_NOMEM;
	cs->tags[cs->tag_count++] = copy;
	return SL_OK;
}

/* ---- number and time formatting ----------------------------------------- */

/* Writes v in decimal to out (NUMBER_MAX bytes); returns its length. */
static size_t format_int(int64_t v, char *out)
{
	char tmp[NUMBER_MAX];
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	size_t n = 0, len = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		out[len++] = '-';
	while (n)
		out[len++] = tmp[--n];
	out[len] = '\0';
	return len;
}

static void put_digits(char *out, unsigned v, int width)
{
	while (width-- > 0) {
		out[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Writes Unix time t as "2009-02-13T23:31:30Z" to out (NUMBER_MAX bytes)
 * and returns 20; returns 0 for times outside years 1 to 9999. Civil date
 * from days after Howard Hinnant's days_from_civil inverse. */
static size_t format_time(int64_t t, char *out)
{
	int64_t days, secs, z, era, doe, yoe, y, doy, mp, d, mo;

	if (t < -62135596800LL || t > 253402300799LL)
		return 0;
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	mo = mp < 10 ? mp + 3 : mp - 9;
	y += mo <= 2;

	put_digits(out, (unsigned)y, 4);
	out[4] = '-';
	put_digits(out + 5, (unsigned)mo, 2);
	out[7] = '-';
	put_digits(out + 8, (unsigned)d, 2);
	out[10] = 'T';
	put_digits(out + 11, (unsigned)(secs / 3600), 2);
	out[13] = ':';
	put_digits(out + 14, (unsigned)(secs / 60 % 60), 2);
	out[16] = ':';
	put_digits(out + 17, (unsigned)(secs % 60), 2);
	out[19] = 'Z';
	out[20] = '\0';
	return 20;
}

/* ---- applying ----------------------------------------------------------- */

enum lookup {
	LOOKUP_FOUND,
	LOOKUP_MISSING,     /* a key is not there */
	LOOKUP_NULL,        /* a value on the way (or at the end) is null */
	LOOKUP_NOT_OBJECT,  /* a value on the way is not an object */
	LOOKUP_NO_CUSTOMER, /* customer.* without a customer object */
	LOOKUP_MALFORMED,   /* the path itself is unusable */
};

enum customer_state {
	CUSTOMER_NONE,     /* the object has no customer */
	CUSTOMER_BARE_ID,  /* "customer": "cus_…", nothing given */
	CUSTOMER_MISMATCH, /* the customer given is another one */
	CUSTOMER_OBJECT,   /* a customer object to read */
};

/* Everything one mapping_apply() call works with. */
struct apply {
	const struct mapping *m;
	json_object *obj;
	json_object *customer;         /* root for customer.* paths */
	enum customer_state customer_state;
	const char *given_customer_id; /* id of the customer argument */
	struct change_set *cs;
	bool nomem;
};

/* Walks p from the object (or the customer); *value is set on
 * LOOKUP_FOUND; *at is the segment where the walk stopped. */
static enum lookup path_get(const struct apply *a,
			    const struct mapping_path *p, json_object **value,
			    unsigned *at)
{
	json_object *cur = a->obj, *next = NULL;
	unsigned i = 0;

	*at = 0;
	if (p->count == 0)
		return LOOKUP_MALFORMED;
	if (p->via_customer) {
		if (a->customer_state != CUSTOMER_OBJECT)
			return LOOKUP_NO_CUSTOMER;
		cur = a->customer;
		i = 1;
	}
	for (; i < p->count; i++) {
		*at = i;
		if (!cur) {
			*at = i - 1;
			return LOOKUP_NULL;
		}
		switch (json_object_get_type(cur)) {
		case json_type_object:
			if (!json_object_object_get_ex(cur, p->segment[i],
						       &next))
				return LOOKUP_MISSING;
			break;
		case json_type_array:
			if (p->index[i] < 0 ||
			    (size_t)p->index[i] >=
				    json_object_array_length(cur))
				return LOOKUP_MISSING;
			next = json_object_array_get_idx(cur,
							 (size_t)p->index[i]);
			break;
		default:
			*at = i - 1;
			return LOOKUP_NOT_OBJECT;
		}
		cur = next;
	}
	*at = p->count - 1;
	*value = cur;
	return cur ? LOOKUP_FOUND : LOOKUP_NULL;
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (o && json_object_get_type(o) == json_type_object)
		json_object_object_get_ex(o, key, &v);
	return v;
}

/* Returns o[key] when it is a string, else NULL. */
static const char *get_string(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	return json_object_get_type(v) == json_type_string ?
		       json_object_get_string(v) : NULL;
}

/* Sets *out to o[key] when it is an integer; returns whether it was. */
static bool get_int(json_object *o, const char *key, int64_t *out)
{
	json_object *v = get(o, key);

	if (json_object_get_type(v) != json_type_int)
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* Returns the id a value stands for: the string itself, or an expanded
 * object's "id"; NULL otherwise. */
static const char *id_of(json_object *v)
{
	if (json_object_get_type(v) == json_type_string)
		return json_object_get_string(v);
	return get_string(v, "id");
}

/* Returns a copy of s owned by the change set (NULL for NULL). */
static const char *keep(struct apply *a, const char *s)
{
	const char *copy;

	if (!s)
		return NULL;
	copy = cs_strndup(a->cs, s, strlen(s));
	if (!copy)
		a->nomem = true;
	return copy;
}

static const char *keep_time(struct apply *a, int64_t t)
{
	char buf[NUMBER_MAX];
	size_t n = format_time(t, buf);
	const char *copy;

	if (!n)
		return NULL;
	copy = cs_strndup(a->cs, buf, n);
	if (!copy)
		a->nomem = true;
	return copy;
}

static const char *json_type_words(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "true or false";
	case json_type_double:
	case json_type_int:
		return "a number";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "a list";
	case json_type_string:
		return "text";
	}
	return "of an unknown type";
}

/* Sets out->skip_reason to the formatted sentence; returns the error
 * mapping_apply() gives. */
__attribute__((format(printf, 2, 3)))
static sl_err skip(struct apply *a, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	a->cs->skip_reason = cs_strndup(a->cs, buf, (size_t)n);
	return a->cs->skip_reason ? SL_ERR_INVALID : SL_ERR_NOMEM;
}

/* Returns how many bytes of s (n long) to quote: at most QUOTE_MAX, cut
 * at a UTF-8 character boundary. */
static int quote_len(const char *s, size_t n)
{
	if (n <= QUOTE_MAX)
		return (int)n;
	n = QUOTE_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

/* Explains why path p gave no usable email, as a skip. */
static sl_err skip_no_email(struct apply *a, const struct mapping_path *p,
			    enum lookup how, unsigned at, json_object *value)
{
	const char *label = catalog_resource(a->m->resource)->label;
	int pre;

	switch (how) {
	case LOOKUP_FOUND:
		return skip(a, "no email: %s is %s, not an email address",
			    p->text, json_type_words(value));
	case LOOKUP_MALFORMED:
		return skip(a, "no email: \"%s\" is not a usable field path",
			    p->text);
	case LOOKUP_NO_CUSTOMER:
		if (a->customer_state == CUSTOMER_BARE_ID)
			return skip(a, "no email: %s needs customer %s, which "
				    "was neither expanded nor looked up",
				    p->text, a->cs->customer_id);
		if (a->customer_state == CUSTOMER_MISMATCH)
			return skip(a, "no email: %s needs customer %s, but "
				    "the customer given is %s", p->text,
				    a->cs->customer_id, a->given_customer_id);
		return skip(a, "no email: %s (the %s has no customer)",
			    p->text, label);
	case LOOKUP_MISSING:
	case LOOKUP_NULL:
	case LOOKUP_NOT_OBJECT:
		break;
	}
	if (at + 1 == p->count)
		return skip(a, "no email: %s is %s", p->text,
			    how == LOOKUP_NULL ? "null" : "missing");
	pre = path_prefix_len(p, at);
	if (how == LOOKUP_NOT_OBJECT)
		return skip(a, "no email: %s (%.*s is not an object)",
			    p->text, pre, p->text);
	return skip(a, "no email: %s (%.*s is %s)", p->text, pre, p->text,
		    how == LOOKUP_NULL ? "null" : "missing");
}

/* Returns whether s (n bytes, trimmed) looks like an email address: one
 * '@' with text on both sides, no spaces or control characters. */
static bool email_ok(const char *s, size_t n)
{
	size_t at = 0, ats = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f)
			return false;
		if (c == '@') {
			at = i;
			ats++;
		}
	}
	return ats == 1 && at > 0 && at + 1 < n;
}

/* Trims ASCII white space off s (length *n) in place of pointers. */
static const char *trim(const char *s, size_t *n)
{
	size_t len = *n;

	while (len && is_space((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len && is_space((unsigned char)s[len - 1]))
		len--;
	*n = len;
	return s;
}

static sl_err apply_email(struct apply *a)
{
	const struct mapping_path *p = &a->m->email;
	json_object *v = NULL;
	enum lookup how;
	unsigned at;
	const char *s;
	char *key;
	size_t n;

	if (!p->text)
		return skip(a, "no email: the mapping has no email field");
	how = path_get(a, p, &v, &at);
	if (how != LOOKUP_FOUND || json_object_get_type(v) != json_type_string)
		return skip_no_email(a, p, how, at, v);
	n = (size_t)json_object_get_string_len(v);
	s = trim(json_object_get_string(v), &n);
	if (n == 0)
		return skip(a, "no email: %s is empty", p->text);
	if (!email_ok(s, n))
		return skip(a, "no email: %s is not an email address (\"%.*s\")",
			    p->text, quote_len(s, n), s);
	a->cs->email = cs_strndup(a->cs, s, n);
	key = cs_strndup(a->cs, s, n);
	if (!a->cs->email || !key)
		return SL_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		if (key[i] >= 'A' && key[i] <= 'Z')
			key[i] = (char)(key[i] - 'A' + 'a');
	a->cs->email_key = key;
	return SL_OK;
}

/* Adds key: value (n bytes); key must be static or already owned by the
 * change set. */
static void add_field(struct apply *a, const char *key, const char *value,
		      size_t n)
{
	struct change_set *cs = a->cs;
	const char *copy;

	if (cs->field_count == CHANGE_SET_MAX_FIELDS)
		return;
	copy = cs_strndup(cs, value, n);
	if (!copy) {
		a->nomem = true;
		return;
	}
	cs->fields[cs->field_count].key = key;
	cs->fields[cs->field_count].value = copy;
	cs->field_count++;
}

/* Adds first_name (the first word of s) and last_name (the other words,
 * one space apart). Words are split at ASCII white space only, so any
 * UTF-8 letter is kept byte for byte. */
static void add_full_name(struct apply *a, const char *s, size_t n)
{
	const char *first = catalog_target(TARGET_FIRST_NAME)->key;
	const char *last = catalog_target(TARGET_LAST_NAME)->key;
	char *rest;
	size_t i = 0, start, len = 0;

	while (i < n && is_space((unsigned char)s[i]))
		i++;
	start = i;
	while (i < n && !is_space((unsigned char)s[i]))
		i++;
	if (i == start)
		return;
	add_field(a, first, s + start, i - start);
	rest = cs_alloc(a->cs, n - i + 1);
	if (!rest) {
		a->nomem = true;
		return;
	}
	while (i < n) {
		while (i < n && is_space((unsigned char)s[i]))
			i++;
		if (i == n)
			break;
		if (len)
			rest[len++] = ' ';
		while (i < n && !is_space((unsigned char)s[i]))
			rest[len++] = s[i++];
	}
	rest[len] = '\0';
	if (len && a->cs->field_count < CHANGE_SET_MAX_FIELDS) {
		a->cs->fields[a->cs->field_count].key = last;
		a->cs->fields[a->cs->field_count].value = rest;
		a->cs->field_count++;
	}
}

/* Which JSON types a field of each catalogue type may take; anything else
 * is a wrong type and counts as absent. Paths outside the catalogue (never
 * valid, but applied all the same) take any scalar. */
enum {
	TAKES_STRING = 1 << 0,
	TAKES_INT = 1 << 1,
	TAKES_DOUBLE = 1 << 2,
	TAKES_BOOLEAN = 1 << 3,
	TAKES_OBJECT_ID = 1 << 4, /* an expanded object, read as its id */
};

static const unsigned takes[] = {
	[FIELD_TYPE_STRING] = TAKES_STRING,
	[FIELD_TYPE_EMAIL] = TAKES_STRING,
	[FIELD_TYPE_NAME] = TAKES_STRING,
	[FIELD_TYPE_PHONE] = TAKES_STRING,
	[FIELD_TYPE_AMOUNT] = TAKES_INT,
	[FIELD_TYPE_CURRENCY] = TAKES_STRING,
	[FIELD_TYPE_TIMESTAMP] = TAKES_INT,
	[FIELD_TYPE_ID] = TAKES_STRING | TAKES_OBJECT_ID,
	[FIELD_TYPE_STATUS] = TAKES_STRING,
	[FIELD_TYPE_NUMBER] = TAKES_INT,
	[FIELD_TYPE_BOOLEAN] = TAKES_BOOLEAN,
};
_Static_assert(N_ELEMS(takes) == FIELD_TYPE__MAX,
	       "every field type needs its JSON types");

#define TAKES_ANY_SCALAR (TAKES_STRING | TAKES_INT | TAKES_DOUBLE | TAKES_BOOLEAN)

static void apply_rule(struct apply *a, const struct mapping_rule *rule)
{
	const struct mapping_path *p = &rule->source;
	unsigned ok = p->field ? takes[p->field->type] : TAKES_ANY_SCALAR;
	char buf[NUMBER_MAX];
	json_object *v = NULL;
	const char *s = NULL, *key;
	size_t n = 0;
	unsigned at;

	if (!rule->target || !*rule->target ||
	    path_get(a, p, &v, &at) != LOOKUP_FOUND)
		return;
	switch (json_object_get_type(v)) {
	case json_type_string:
		if (!(ok & TAKES_STRING))
			return;
		s = json_object_get_string(v);
		n = (size_t)json_object_get_string_len(v);
		break;
	case json_type_int:
		if (!(ok & TAKES_INT))
			return;
		s = buf;
		if (p->field && p->field->type == FIELD_TYPE_TIMESTAMP)
			n = format_time(json_object_get_int64(v), buf);
		if (n == 0)
			n = format_int(json_object_get_int64(v), buf);
		break;
	case json_type_double:
		if (!(ok & TAKES_DOUBLE))
			return;
		s = buf;
		n = (size_t)snprintf(buf, sizeof buf, "%.15g",
				     json_object_get_double(v));
		break;
	case json_type_boolean:
		if (!(ok & TAKES_BOOLEAN))
			return;
		s = json_object_get_boolean(v) ? "true" : "false";
		n = strlen(s);
		break;
	case json_type_object:
		if (!(ok & TAKES_OBJECT_ID) || !(s = get_string(v, "id")))
			return;
		n = strlen(s);
		break;
	case json_type_null:
	case json_type_array:
		return;
	}
	s = trim(s, &n);
	if (n == 0)
		return;
	if (rule->builtin == TARGET_FULL_NAME)
		add_full_name(a, s, n);
	else if (rule->builtin != TARGET__MAX)
		add_field(a, catalog_target(rule->builtin)->key, s, n);
	else if ((key = keep(a, rule->target)))
		add_field(a, key, s, n);
}

/* ---- orders and recurring payments, per resource ------------------------ */

/* Rejects the whole object: sets cs->reject_reason (and skip_reason) to
 * the sentence, once (the first reason wins). */
__attribute__((format(printf, 2, 3)))
static void reject(struct apply *a, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	if (a->cs->reject_reason)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	a->cs->reject_reason = cs_strndup(a->cs, buf, (size_t)n);
	if (!a->cs->reject_reason)
		a->nomem = true;
	a->cs->skip_reason = a->cs->reject_reason;
}

/* Reads the amount (integer minor units) at key of obj into *out and
 * returns true. An amount is never guessed: a value of another type
 * ("10.00" as text, 10.5) rejects the object; so does an absent or null
 * one when required. Returns false otherwise (*out untouched). */
static bool take_amount(struct apply *a, json_object *obj, const char *key,
			bool required, int64_t *out)
{
	json_object *v = get(obj, key);
	enum json_type t = json_object_get_type(v);

	if (t == json_type_int) {
		*out = json_object_get_int64(v);
		return true;
	}
	if (t == json_type_null && !required)
		return false;
	reject(a, "%s is %s, not an amount in minor units (an integer): "
	       "nothing recorded rather than a wrong amount", key,
	       t == json_type_double ? "a number with a fraction"
				     : json_type_words(v));
	return false;
}

/* Reads one refund object into r; charge_id is used when the refund does
 * not name its charge (an item of that charge's own list). A missing or
 * non-integer amount rejects the whole object; returns false when r is
 * not usable (no id, or rejected). */
static bool refund_from(struct apply *a, json_object *obj,
			const char *charge_id, struct change_refund *r)
{
	json_object *amount = get(obj, "amount");
	const char *id = get_string(obj, "id");
	const char *charge = id_of(get(obj, "charge"));

	if (!id)
		return false;
	if (json_object_get_type(amount) != json_type_int) {
		reject(a, "refund %s: amount is %s, not an amount in minor "
		       "units (an integer): nothing recorded rather than a "
		       "wrong amount", id,
		       json_object_get_type(amount) == json_type_double
			       ? "a number with a fraction"
			       : json_type_words(amount));
		return false;
	}
	memset(r, 0, sizeof *r);
	r->id = keep(a, id);
	r->charge_id = keep(a, charge ? charge : charge_id);
	r->amount = json_object_get_int64(amount);
	r->currency = keep(a, get_string(obj, "currency"));
	r->status = keep(a, get_string(obj, "status"));
	get_int(obj, "created", &r->created);
	return r->charge_id != NULL;
}

/* A charge's embedded refunds (refunds.data: older API versions, or when
 * expanded): each is recorded by its id (see ledger.h). Items past
 * CHANGE_SET_MAX_REFUNDS are left to the charge's amount_refunded. */
static void charge_refunds(struct apply *a)
{
	json_object *list = get(get(a->obj, "refunds"), "data");
	const char *charge_id = a->cs->order.id;
	size_t n = 0;

	if (json_object_get_type(list) == json_type_array)
		n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		struct change_set *cs = a->cs;

		if (cs->refund_count == CHANGE_SET_MAX_REFUNDS)
			break;
		if (refund_from(a, json_object_array_get_idx(list, i),
				charge_id, &cs->refunds[cs->refund_count]))
			cs->refund_count++;
	}
}

static void charge_extract(struct apply *a)
{
	struct change_order *o = &a->cs->order;
	json_object *obj = a->obj;
	json_object *refunded = get(obj, "refunded");
	const char *status = get_string(obj, "status");
	int64_t created;

	o->present = true;
	o->id = keep(a, get_string(obj, "id"));
	take_amount(a, obj, "amount", true, &o->amount);
	take_amount(a, obj, "amount_refunded", false, &o->amount_refunded);
	o->currency = keep(a, get_string(obj, "currency"));
	if ((json_object_get_type(refunded) == json_type_boolean &&
	     json_object_get_boolean(refunded)) ||
	    (o->amount > 0 && o->amount_refunded >= o->amount))
		o->status = "refunded";
	else if (o->amount_refunded > 0)
		o->status = "partially_refunded";
	else if (status && strcmp(status, "succeeded") == 0)
		o->status = "paid";
	else
		o->status = status ? keep(a, status) : "unknown";
	if (get_int(obj, "created", &created))
		o->created = keep_time(a, created);
	charge_refunds(a);
}

static void invoice_extract(struct apply *a)
{
	struct change_order *o = &a->cs->order;
	json_object *obj = a->obj;
	const char *status = get_string(obj, "status");
	const char *sub;
	int64_t paid = 0, created;

	o->present = true;
	o->id = keep(a, get_string(obj, "id"));
	if (!take_amount(a, obj, "amount_paid", false, &paid) || paid <= 0)
		take_amount(a, obj, "total", true, &paid);
	o->amount = paid;
	o->currency = keep(a, get_string(obj, "currency"));
	o->status = status ? keep(a, status) : "unknown";
	if (get_int(obj, "created", &created))
		o->created = keep_time(a, created);
	/* where the subscription is: newer API versions under parent */
	sub = id_of(get(get(get(obj, "parent"), "subscription_details"),
			"subscription"));
	if (!sub)
		sub = id_of(get(obj, "subscription"));
	a->cs->subscription_id = keep(a, sub);
	a->cs->billing_reason = keep(a, get_string(obj, "billing_reason"));
}

/* What one subscription item's price (or legacy plan) says. */
struct price_info {
	const char *id;
	const char *product;
	const char *currency;
	const char *interval;
	int64_t interval_count;
	bool has_unit_amount;
	int64_t unit_amount;
	int64_t quantity;
};

static void item_price(json_object *item, struct price_info *pi)
{
	json_object *price = get(item, "price");
	json_object *plan = get(item, "plan");

	memset(pi, 0, sizeof *pi);
	if (!get_int(item, "quantity", &pi->quantity))
		pi->quantity = 1;
	if (json_object_get_type(price) == json_type_object) {
		json_object *rec = get(price, "recurring");

		pi->id = get_string(price, "id");
		pi->product = id_of(get(price, "product"));
		pi->currency = get_string(price, "currency");
		pi->interval = get_string(rec, "interval");
		get_int(rec, "interval_count", &pi->interval_count);
		pi->has_unit_amount = get_int(price, "unit_amount",
					      &pi->unit_amount);
	} else if (json_object_get_type(plan) == json_type_object) {
		pi->id = get_string(plan, "id");
		pi->product = id_of(get(plan, "product"));
		pi->currency = get_string(plan, "currency");
		pi->interval = get_string(plan, "interval");
		get_int(plan, "interval_count", &pi->interval_count);
		pi->has_unit_amount = get_int(plan, "amount",
					      &pi->unit_amount);
	}
}

static bool same(const char *x, const char *y)
{
	return x == y || (x && y && strcmp(x, y) == 0);
}

/* Fills out->recurring from a subscription object. The amount is the sum
 * of unit_amount × quantity over the items billed like the first one
 * (same interval and currency); current_period_end is read from the
 * subscription (older API versions) or its first item (newer ones). */
static void recurring_from_subscription(struct apply *a, json_object *sub)
{
	struct change_recurring *r = &a->cs->recurring;
	json_object *items = get(get(sub, "items"), "data");
	json_object *item0 = NULL;
	struct price_info first, pi;
	int64_t end;
	size_t n = 0;

	r->present = true;
	r->subscription_id = keep(a, get_string(sub, "id"));
	r->status = keep(a, get_string(sub, "status"));
	if (json_object_get_type(items) == json_type_array)
		n = json_object_array_length(items);
	if (n)
		item0 = json_object_array_get_idx(items, 0);
	item_price(item0, &first);
	r->price_id = keep(a, first.id);
	r->product = keep(a, first.product);
	r->currency = keep(a, first.currency ? first.currency :
					      get_string(sub, "currency"));
	r->interval = keep(a, first.interval);
	r->interval_count = first.interval_count;
	r->has_amount = n > 0;
	for (size_t i = 0; i < n && r->has_amount; i++) {
		int64_t line;

		item_price(json_object_array_get_idx(items, i), &pi);
		if (!same(pi.interval, first.interval) ||
		    !same(pi.currency, first.currency))
			continue;
		if (!pi.has_unit_amount ||
		    __builtin_mul_overflow(pi.unit_amount, pi.quantity,
					   &line) ||
		    __builtin_add_overflow(r->amount, line, &r->amount))
			r->has_amount = false;
	}
	if (!r->has_amount)
		r->amount = 0;
	if (get_int(sub, "current_period_end", &end) ||
	    get_int(item0, "current_period_end", &end))
		r->current_period_end = keep_time(a, end);
	if (same(r->status, "canceled") &&
	    (get_int(sub, "ended_at", &end) ||
	     get_int(sub, "canceled_at", &end)))
		r->canceled_at = keep_time(a, end);
}

static void subscription_extract(struct apply *a)
{
	recurring_from_subscription(a, a->obj);
}

/* A session in payment or subscription mode gives an order (amount_total,
 * status = payment_status). In subscription mode it also gives a
 * recurring payment: from the subscription when expanded; otherwise its id
 * with status "active" once paid ("incomplete" before), amount_total and
 * currency; the subscription's own events fill in the rest later. */
static void checkout_session_extract(struct apply *a)
{
	json_object *obj = a->obj;
	const char *mode = get_string(obj, "mode");
	const char *payment = get_string(obj, "payment_status");
	json_object *sub = get(obj, "subscription");
	struct change_order *o = &a->cs->order;
	struct change_recurring *r = &a->cs->recurring;
	bool paid = same(payment, "paid") ||
		    same(payment, "no_payment_required");
	int64_t created;

	if (same(mode, "setup"))
		return;
	/* a null amount_total gives no order rather than a 0.00 one */
	o->present = take_amount(a, obj, "amount_total", false, &o->amount);
	o->id = keep(a, get_string(obj, "id"));
	o->currency = keep(a, get_string(obj, "currency"));
	o->status = payment ? keep(a, payment) : "unknown";
	if (get_int(obj, "created", &created))
		o->created = keep_time(a, created);

	if (!same(mode, "subscription"))
		return;
	if (json_object_get_type(sub) == json_type_object) {
		recurring_from_subscription(a, sub);
	} else if (json_object_get_type(sub) == json_type_string) {
		r->present = true;
		r->subscription_id = keep(a, json_object_get_string(sub));
		r->status = paid ? "active" : "incomplete";
		r->has_amount = get_int(obj, "amount_total", &r->amount);
		r->currency = o->currency;
	}
}

/* What each resource adds besides the contact. */
static void (*const extractors[])(struct apply *) = {
	[RESOURCE_CHARGE] = charge_extract,
	[RESOURCE_CUSTOMER] = NULL,
	[RESOURCE_SUBSCRIPTION] = subscription_extract,
	[RESOURCE_INVOICE] = invoice_extract,
	[RESOURCE_CHECKOUT_SESSION] = checkout_session_extract,
};
_Static_assert(N_ELEMS(extractors) == RESOURCE__MAX,
	       "every resource needs an extractor entry");

/* Works out which customer object customer.* paths read and which
 * customer id the contact is linked to. */
static void resolve_customer(struct apply *a, json_object *given)
{
	json_object *c;
	const char *id;

	if (json_object_get_type(given) != json_type_object)
		given = NULL;
	a->given_customer_id = get_string(given, "id");
	if (a->m->resource == RESOURCE_CUSTOMER) {
		a->customer = a->obj;
		a->customer_state = CUSTOMER_OBJECT;
		a->cs->customer_id = keep(a, get_string(a->obj, "id"));
		return;
	}
	c = get(a->obj, "customer");
	switch (json_object_get_type(c)) {
	case json_type_object:
		a->customer = c;
		a->customer_state = CUSTOMER_OBJECT;
		id = get_string(c, "id");
		break;
	case json_type_string:
		id = json_object_get_string(c);
		if (given && (!a->given_customer_id ||
			      strcmp(a->given_customer_id, id) == 0)) {
			a->customer = given;
			a->customer_state = CUSTOMER_OBJECT;
		} else {
			a->customer_state = given ? CUSTOMER_MISMATCH :
						    CUSTOMER_BARE_ID;
		}
		break;
	default:
		id = a->given_customer_id;
		a->customer = given;
		a->customer_state = given ? CUSTOMER_OBJECT : CUSTOMER_NONE;
		break;
	}
	if (id && *id)
		a->cs->customer_id = keep(a, id);
}

sl_err mapping_apply(const struct mapping *m, json_object *obj,
		     json_object *customer, struct change_set *out)
{
	const struct catalog_resource *res = catalog_resource(m->resource);
	struct apply a = {.m = m, .obj = obj, .cs = out};
	const char *type;
	int64_t created;
	sl_err rc;

	change_set_clear(out);
	if (json_object_get_type(obj) != json_type_object) {
		rc = skip(&a, "the Stripe data is %s, not an object",
			  json_type_words(obj));
		goto out;
	}
	out->object_id = keep(&a, get_string(obj, "id"));
	type = get_string(obj, "object");
	out->object_type = keep(&a, type ? type : res->object_name);
	if (get_int(obj, "created", &created))
		out->object_created = created;
	if (type && strcmp(type, res->object_name) != 0) {
		rc = skip(&a, "the Stripe object is of type \"%s\", but the "
			  "mapping is for \"%s\"", type, res->object_name);
		goto out;
	}
	resolve_customer(&a, customer);
	out->tags[out->tag_count++] = CATALOG_BASE_TAG;

	rc = apply_email(&a);
	if (rc == SL_ERR_NOMEM)
		goto out;
	if (m->has_id_rule)
		apply_rule(&a, &m->id_rule);
	for (size_t i = 0; i < m->rule_count; i++)
		apply_rule(&a, &m->rules[i]);
	if (extractors[m->resource])
		extractors[m->resource](&a);
	if (out->reject_reason) {
		out->order.present = false;     /* nothing half-known is kept */
		out->recurring.present = false;
		out->refund_count = 0;
		rc = SL_ERR_INVALID;
	}
out:
	if (a.nomem)
		rc = SL_ERR_NOMEM;
	return rc;
}

/* ---- refunds and disputes ----------------------------------------------- */

/* The object name each money effect reads. */
static const char *const money_objects[] = {
	[EFFECT_NONE] = NULL,
	[EFFECT_REFUND] = "refund",
	[EFFECT_DISPUTE] = "dispute",
	[EFFECT_CUSTOMER_DELETED] = NULL,
};

static void dispute_from(struct apply *a, json_object *obj)
{
	struct change_dispute *d = &a->cs->dispute;
	json_object *amount = get(obj, "amount");

	if (json_object_get_type(amount) != json_type_int) {
		reject(a, "dispute %s: amount is %s, not an amount in minor "
		       "units (an integer): nothing recorded rather than a "
		       "wrong amount", a->cs->object_id,
		       json_object_get_type(amount) == json_type_double
			       ? "a number with a fraction"
			       : json_type_words(amount));
		return;
	}
	d->present = true;
	d->id = a->cs->object_id;
	d->charge_id = keep(a, id_of(get(obj, "charge")));
	d->amount = json_object_get_int64(amount);
	d->currency = keep(a, get_string(obj, "currency"));
	d->status = keep(a, get_string(obj, "status"));
	d->reason = keep(a, get_string(obj, "reason"));
	get_int(obj, "created", &d->created);
}

sl_err mapping_apply_money(enum event_effect effect, json_object *obj,
			   struct change_set *out)
{
	struct apply a = {.obj = obj, .cs = out};
	const char *want = (unsigned)effect < N_ELEMS(money_objects)
				   ? money_objects[effect] : NULL;
	const char *type, *charge;
	int64_t created;
	sl_err rc = SL_OK;

	change_set_clear(out);
	if (!want || json_object_get_type(obj) != json_type_object) {
		rc = skip(&a, "the Stripe data is %s, not a refund or a dispute",
			  json_type_words(obj));
		goto out;
	}
	type = get_string(obj, "object");
	out->object_id = keep(&a, get_string(obj, "id"));
	out->object_type = keep(&a, type ? type : want);
	if (get_int(obj, "created", &created))
		out->object_created = created;
	if (type && strcmp(type, want) != 0) {
		rc = skip(&a, "the Stripe object is of type \"%s\", not a %s",
			  type, want);
		goto out;
	}
	if (!out->object_id) {
		rc = skip(&a, "the %s has no id", want);
		goto out;
	}
	charge = id_of(get(obj, "charge"));
	if (!charge || !*charge) {
		rc = skip(&a, "%s %s names no charge: there is no order to "
			  "put it on", want, out->object_id);
		goto out;
	}
	out->tags[out->tag_count++] = CATALOG_BASE_TAG;
	if (effect == EFFECT_REFUND) {
		if (refund_from(&a, obj, charge, &out->refunds[0]))
			out->refund_count = 1;
	} else {
		dispute_from(&a, obj);
	}
	if (out->reject_reason) {
		out->refund_count = 0;
		out->dispute.present = false;
		rc = SL_ERR_INVALID;
	}
out:
	if (a.nomem)
		rc = SL_ERR_NOMEM;
	return rc;
}

void change_set_past_due(struct change_set *cs)
{
	struct change_recurring *r = &cs->recurring;

	if (!cs->subscription_id)
		return;
	memset(r, 0, sizeof *r);
	r->present = true;
	r->subscription_id = cs->subscription_id;
	/* a subscription whose first payment failed never started */
	r->status = same(cs->billing_reason, "subscription_create")
			    ? "incomplete" : "past_due";
}

bool mapping_reads_customer(const struct mapping *m)
{
	return m->reads_customer;
}

bool mapping_needs_customer(const struct mapping *m, json_object *obj)
{
	return m->reads_customer && m->resource != RESOURCE_CUSTOMER &&
	       json_object_get_type(get(obj, "customer")) == json_type_string;
}

/* ---- change set as JSON ------------------------------------------------- */

/* Adds key: string unless s is NULL; returns nonzero on failure. */
static int add_string(json_object *o, const char *key, const char *s)
{
	json_object *v;

	if (!s)
		return 0;
	v = json_object_new_string(s);
	return !v || json_object_object_add(o, key, v);
}

static int add_int(json_object *o, const char *key, int64_t n)
{
	json_object *v = json_object_new_int64(n);

	return !v || json_object_object_add(o, key, v);
}

/* j when nothing went wrong building it; else NULL, j freed. */
static json_object *json_done(json_object *j, int bad)
{
	if (bad) {
		json_object_put(j);
		return NULL;
	}
	return j;
}

static json_object *order_to_json(const struct change_order *o)
{
	json_object *j = json_object_new_object();
	if (!j)
		return NULL;
	int bad = 0;
	bad |= add_string(j, "id", o->id);
	bad |= add_int(j, "amount", o->amount);
	bad |= add_int(j, "amount_refunded", o->amount_refunded);
	bad |= add_string(j, "currency", o->currency);
	bad |= add_string(j, "status", o->status);
	bad |= add_string(j, "created", o->created);
	return json_done(j, bad);
}

static json_object *recurring_to_json(const struct change_recurring *r)
{
	json_object *j = json_object_new_object();
	if (!j)
		return NULL;
	int bad = 0;
	bad |= add_string(j, "subscription_id", r->subscription_id);
	bad |= add_string(j, "status", r->status);
	bad |= add_string(j, "price_id", r->price_id);
	bad |= add_string(j, "product", r->product);
	if (r->has_amount)
		bad |= add_int(j, "amount", r->amount);
	bad |= add_string(j, "currency", r->currency);
	bad |= add_string(j, "interval", r->interval);
	if (r->interval_count)
		bad |= add_int(j, "interval_count", r->interval_count);
	bad |= add_string(j, "current_period_end", r->current_period_end);
	bad |= add_string(j, "canceled_at", r->canceled_at);
	return json_done(j, bad);
}

static json_object *refund_to_json(const struct change_refund *r)
{
	json_object *j = json_object_new_object();
	if (!j)
		return NULL;
	int bad = 0;
	bad |= add_string(j, "id", r->id);
	bad |= add_string(j, "charge_id", r->charge_id);
	bad |= add_int(j, "amount", r->amount);
	bad |= add_string(j, "currency", r->currency);
	bad |= add_string(j, "status", r->status);
	if (r->created)
		bad |= add_int(j, "created", r->created);
	return json_done(j, bad);
}

static json_object *dispute_to_json(const struct change_dispute *d)
{
	json_object *j = json_object_new_object();
	if (!j)
		return NULL;
	int bad = 0;
	bad |= add_string(j, "id", d->id);
	bad |= add_string(j, "charge_id", d->charge_id);
	bad |= add_int(j, "amount", d->amount);
	bad |= add_string(j, "currency", d->currency);
	bad |= add_string(j, "status", d->status);
	bad |= add_string(j, "reason", d->reason);
	if (d->created)
		bad |= add_int(j, "created", d->created);
	return json_done(j, bad);
}

json_object *change_set_to_json(const struct change_set *cs)
{
	json_object *j = json_object_new_object(), *fields, *tags, *part;
	char when[NUMBER_MAX];
	int bad = !j;

	if (bad)
		return NULL;
	bad |= add_string(j, "email", cs->email);
	bad |= add_string(j, "email_key", cs->email_key);
	fields = json_object_new_object();
	bad |= !fields || json_object_object_add(j, "fields", fields);
	for (size_t i = 0; fields && i < cs->field_count; i++)
		bad |= add_string(fields, cs->fields[i].key,
				  cs->fields[i].value);
	tags = json_object_new_array();
	bad |= !tags || json_object_object_add(j, "tags", tags);
	for (size_t i = 0; tags && i < cs->tag_count; i++)
		bad |= json_object_array_add(tags,
				json_object_new_string(cs->tags[i]));
	bad |= add_string(j, "object_id", cs->object_id);
	bad |= add_string(j, "object_type", cs->object_type);
	if (cs->object_created && format_time(cs->object_created, when))
		bad |= add_string(j, "object_created", when);
	bad |= add_string(j, "customer_id", cs->customer_id);
	if (cs->order.present) {
		part = order_to_json(&cs->order);
		bad |= !part || json_object_object_add(j, "order", part);
	}
	if (cs->recurring.present) {
		part = recurring_to_json(&cs->recurring);
		bad |= !part || json_object_object_add(j, "recurring", part);
	}
	if (cs->refund_count) {
		json_object *list = json_object_new_array();

		bad |= !list || json_object_object_add(j, "refunds", list);
		for (size_t i = 0; list && i < cs->refund_count; i++) {
			part = refund_to_json(&cs->refunds[i]);
			bad |= !part || json_object_array_add(list, part);
		}
	}
	if (cs->dispute.present) {
		part = dispute_to_json(&cs->dispute);
		bad |= !part || json_object_object_add(j, "dispute", part);
	}
	bad |= add_string(j, "subscription_id", cs->subscription_id);
	bad |= add_string(j, "billing_reason", cs->billing_reason);
	bad |= add_string(j, "skip_reason", cs->skip_reason);
	bad |= add_string(j, "reject_reason", cs->reject_reason);
	return json_done(j, bad);
}

/* The path p lacks in obj (p->text), or NULL. A null value, a short array
 * or a non-object on the way count as present: those are data, not the
 * shape of an API version. For a free key ("metadata.plan") only its parent
 * is looked for. */
static const char *path_missing(const struct mapping_path *p, json_object *obj)
{
	if (!p->text || !p->count || p->via_customer)
		return NULL;
	unsigned depth = p->count;
	if (p->field && catalog_field_is_wildcard(p->field)) {
		depth = 0;
		for (const char *c = p->field->path; *c; c++)
			depth += *c == '.';
	}
	json_object *cur = obj;
	for (unsigned k = 0; k < depth && cur; k++) {
		if (json_object_is_type(cur, json_type_array)) {
			if (p->index[k] < 0 || (size_t)p->index[k] >= json_object_array_length(cur))
				return NULL;
			cur = json_object_array_get_idx(cur, (size_t)p->index[k]);
		} else if (json_object_is_type(cur, json_type_object)) {
			json_object *next = NULL;
			if (!json_object_object_get_ex(cur, p->segment[k], &next))
				return p->text;
			cur = next;
		} else {
			return NULL;
		}
	}
	return NULL;
}

const char *mapping_missing_field(const struct mapping *m, json_object *obj)
{
	const char *missing = path_missing(&m->email, obj);
	if (!missing && m->has_id_rule)
		missing = path_missing(&m->id_rule.source, obj);
	for (size_t i = 0; !missing && i < m->rule_count; i++)
		missing = path_missing(&m->rules[i].source, obj);
	return missing;
}
