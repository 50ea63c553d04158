/*
 * arena.h - a bump allocator for per-request memory.
 *
 * Everything a request allocates comes from its arena and is released at
 * one point, arena_free(), when the request ends. Allocation never returns
 * NULL: on out-of-memory the arena aborts the process (a FastCGI worker
 * that cannot allocate a few KB cannot answer anyway; the supervisor
 * restarts it).
 */
#ifndef STRIPELINK_ARENA_H
#define STRIPELINK_ARENA_H

#include <stddef.h>

struct arena;

/* Returns a new empty arena; caller frees with arena_free(). */
struct arena *arena_new(void);

/* Releases the arena and everything allocated from it. Accepts NULL. */
void arena_free(struct arena *a);

/* Releases every allocation but keeps the first block for reuse. */
void arena_reset(struct arena *a);

/* Returns n bytes aligned for any type, zero-filled, owned by the arena. */
void *arena_alloc(struct arena *a, size_t n);

/* Copies n bytes of s and a terminating NUL into the arena. */
char *arena_strndup(struct arena *a, const char *s, size_t n);

/* Copies a NUL-terminated string into the arena; NULL gives NULL. */
char *arena_strdup(struct arena *a, const char *s);

/* printf into a string owned by the arena. */
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
