/*
 * buf.h - a growable byte buffer (response bodies, CSV, form encoding).
 */
#ifndef STRIPELINK_BUF_H
#define STRIPELINK_BUF_H

#include <stddef.h>

struct buf {
	char *data;   /* always NUL-terminated when len > 0 or after buf_cstr */
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

/* Makes room for n more bytes and a NUL at data + len, keeping the
 * contents. Aborts on out-of-memory (see arena.h for why). */
void buf_reserve(struct buf *b, size_t n);

/* Appends n bytes. Aborts on out-of-memory (see arena.h for why). */
void buf_append(struct buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string. */
void buf_puts(struct buf *b, const char *s);

/* Appends one byte. */
void buf_putc(struct buf *b, char c);

/* printf onto the end of the buffer. */
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Returns the contents as a NUL-terminated string (never NULL); borrowed. */
const char *buf_cstr(struct buf *b);

/* Hands the malloc'd contents to the caller (who frees them) and empties
 * the buffer. Never NULL. */
char *buf_take(struct buf *b);

/* Frees the contents; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);

#endif
