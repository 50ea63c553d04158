/*
 * arena.c - bump allocator in linked blocks; see arena.h.
 */
#include "arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 8192
#define ARENA_ALIGN 16

struct block {
	struct block *next;
	size_t size;   /* usable bytes in data */
	size_t used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena {
	struct block *head;  /* current block; older blocks follow */
};

static struct block *block_new(size_t min)
{
	size_t size = min > ARENA_BLOCK ? min : ARENA_BLOCK;
	struct block *b = malloc(sizeof *b + size);
	if (!b) {
		fputs("stripelink: out of memory\n", stderr);
		abort();
	}
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

struct arena *arena_new(void)
{
	struct arena *a = calloc(1, sizeof *a);
	if (!a) {
		fputs("stripelink: out of memory\n", stderr);
		abort();
	}
	a->head = block_new(ARENA_BLOCK);
	return a;
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	struct block *b = a->head;
	while (b) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
	free(a);
}

void arena_reset(struct arena *a)
{
	struct block *b = a->head;
	while (b && b->next) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
	/* keep the oldest block only when it is the standard size */
	if (b && b->size != ARENA_BLOCK) {
		free(b);
		b = block_new(ARENA_BLOCK);
	}
	b->used = 0;
	a->head = b;
}

void *arena_alloc(struct arena *a, size_t n)
{
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (need < n) {
		fputs("stripelink: allocation overflow\n", stderr);
		abort();
	}
	struct block *b = a->head;
	if (b->size - b->used < need) {
		b = block_new(need);
		b->next = a->head;
		a->head = b;
	}
	void *p = b->data + b->used;
	b->used += need;
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap, again;
	va_start(ap, fmt);
	va_copy(again, ap);
	/* formatted once into the current block when it fits there; measured
	 * and formatted again only when it does not */
	struct block *b = a->head;
	char *p = (char *)b->data + b->used;
	size_t room = b->size - b->used;
	int n = vsnprintf(p, room, fmt, ap);
	va_end(ap);
	if (n < 0) {
		va_end(again);
		return arena_strdup(a, "");
	}
	if ((size_t)n < room) {
		size_t need = ((size_t)n + 1 + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
		b->used += need <= room ? need : room;
	} else {
		p = arena_alloc(a, (size_t)n + 1);
		vsnprintf(p, (size_t)n + 1, fmt, again);
	}
	va_end(again);
	return p;
}
