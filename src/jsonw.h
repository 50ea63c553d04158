/*
 * jsonw.h - writes a JSON document straight into a buf, member by member:
 * no tree and no allocation per value. For documents built on a hot path
 * (an automation's webhook, inside the writer's transaction: there
 * json-c's tree, its serialization and its free were a fifth of the
 * automation's cost). Strings are escaped per RFC 8259; bytes from 0x80
 * up are copied as they are (as json-c does).
 *
 * Each value call takes the member's key inside an object, NULL inside an
 * array or for the document itself. A NULL string is written as null.
 * Nesting deeper than JSONW_DEPTH is a programming error (assert).
 */
#ifndef STRIPELINK_JSONW_H
#define STRIPELINK_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

#define JSONW_DEPTH 32

struct jsonw {
	struct buf *out;   /* borrowed: the document is appended to it */
	int depth;
	uint32_t started;  /* bit d: the container at depth d has a member */
};

void jsonw_init(struct jsonw *w, struct buf *out);

void jsonw_object(struct jsonw *w, const char *key);
void jsonw_object_end(struct jsonw *w);
void jsonw_array(struct jsonw *w, const char *key);
void jsonw_array_end(struct jsonw *w);

void jsonw_string(struct jsonw *w, const char *key, const char *s);
void jsonw_string_len(struct jsonw *w, const char *key, const char *s, size_t n);
void jsonw_int(struct jsonw *w, const char *key, long long v);
void jsonw_bool(struct jsonw *w, const char *key, bool v);

#endif
