/*
 * jsonw.c - a JSON document written straight into a buf (see jsonw.h).
 */
#include "jsonw.h"

#include <assert.h>
#include <string.h>

void jsonw_init(struct jsonw *w, struct buf *out)
{
	*w = (struct jsonw){.out = out};
}

static void quoted(struct buf *out, const char *s, size_t n);

/* The separator before a value and its key, if it has one. */
static void member(struct jsonw *w, const char *key)
{
	uint32_t bit = UINT32_C(1) << w->depth;
	if (w->depth > 0 && (w->started & bit))
		buf_putc(w->out, ',');
	w->started |= bit;
	if (key) {
		quoted(w->out, key, strlen(key));
		buf_putc(w->out, ':');
	}
}

/* The string's bytes, escaped, between quotes; no separator. */
static void quoted(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	buf_reserve(out, n + 2);
	buf_putc(out, '"');
	size_t run = 0;   /* bytes copied as they are, not yet appended */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			run++;
			continue;
		}
		buf_append(out, s + i - run, run);
		run = 0;
		char esc[7] = {'\\', 0};
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
		}
		buf_puts(out, esc);
	}
	buf_append(out, s + n - run, run);
	buf_putc(out, '"');
}

static void open_container(struct jsonw *w, const char *key, char c)
{
	member(w, key);
	buf_putc(w->out, c);
	w->depth++;
	assert(w->depth < JSONW_DEPTH);
	w->started &= ~(UINT32_C(1) << w->depth);
}

static void close_container(struct jsonw *w, char c)
{
	assert(w->depth > 0);
	w->depth--;
	buf_putc(w->out, c);
}

void jsonw_object(struct jsonw *w, const char *key)
{
	open_container(w, key, '{');
}

void jsonw_object_end(struct jsonw *w)
{
	close_container(w, '}');
}

void jsonw_array(struct jsonw *w, const char *key)
{
	open_container(w, key, '[');
}

void jsonw_array_end(struct jsonw *w)
{
	close_container(w, ']');
}

void jsonw_string_len(struct jsonw *w, const char *key, const char *s, size_t n)
{
	member(w, key);
	quoted(w->out, s, n);
}

void jsonw_string(struct jsonw *w, const char *key, const char *s)
{
	if (!s) {
		member(w, key);
		buf_puts(w->out, "null");
		return;
	}
	jsonw_string_len(w, key, s, strlen(s));
}

void jsonw_int(struct jsonw *w, const char *key, long long v)
{
	member(w, key);
	buf_printf(w->out, "%lld", v);
}

void jsonw_bool(struct jsonw *w, const char *key, bool v)
{
	member(w, key);
	buf_puts(w->out, v ? "true" : "false");
}
