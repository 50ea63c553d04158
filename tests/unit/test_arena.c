/*
 * test_arena.c - unit tests for src/arena.c and src/buf.c's formatting:
 * arena_printf formats into the current block when the text fits and
 * anywhere else when it does not, keeping later allocations aligned and
 * zeroed; buf_printf appends whatever the room left.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"

/* n copies of c, NUL-terminated (caller frees). */
static char *run_of(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_arena_printf_lengths(void **state)
{
	(void)state;
	/* every length around the block's (8 KB) and its alignment, after a
	 * varying amount of the block is used */
	static const size_t lens[] = {0, 1, 15, 16, 17, 100, 8000, 8175, 8176, 8177, 8191, 8192, 8193, 20000};
	static const size_t before[] = {0, 1, 16, 4000, 8100, 8176, 8192};
	for (size_t b = 0; b < sizeof before / sizeof before[0]; b++)
		for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
			struct arena *a = arena_new();
			if (before[b])
				memset(arena_alloc(a, before[b]), 'x', before[b]);
			char *want = run_of('a' + (char)(l % 26), lens[l]);
			char *got = arena_printf(a, "%s", want);
			assert_string_equal(got, want);
			char *next = arena_printf(a, "<%zu|%s>", lens[l], "z");
			unsigned char *after = arena_alloc(a, 33);
			assert_int_equal((uintptr_t)got % 16, 0);
			assert_int_equal((uintptr_t)next % 16, 0);
			assert_int_equal((uintptr_t)after % 16, 0);
			for (size_t i = 0; i < 33; i++)
				assert_int_equal(after[i], 0);
			memset(after, 0xff, 33);            /* nothing written here shows elsewhere */
			assert_string_equal(got, want);
			char expect[64];
			snprintf(expect, sizeof expect, "<%zu|z>", lens[l]);
			assert_string_equal(next, expect);
			free(want);
			arena_free(a);
		}
}

static void test_arena_printf_after_reset(void **state)
{
	(void)state;
	struct arena *a = arena_new();
	char *big = run_of('q', 30000);
	assert_string_equal(arena_printf(a, "%s", big), big);
	arena_reset(a);
	assert_string_equal(arena_printf(a, "%d-%s", 42, "x"), "42-x");
	free(big);
	arena_free(a);
}

static void test_buf_printf_lengths(void **state)
{
	(void)state;
	static const size_t lens[] = {0, 1, 62, 63, 64, 65, 255, 256, 257, 5000};
	for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
		for (size_t pre = 0; pre < 300; pre += 37) {
			struct buf b = BUF_INIT;
			char *head = run_of('h', pre), *want = run_of('w', lens[l]);
			buf_puts(&b, head);
			buf_printf(&b, "%s", want);
			buf_printf(&b, "[%d]", 7);
			assert_int_equal(b.len, pre + lens[l] + 3);
			assert_memory_equal(b.data, head, pre);
			assert_memory_equal(b.data + pre, want, lens[l]);
			assert_string_equal(b.data + pre + lens[l], "[7]");
			free(head);
			free(want);
			buf_free(&b);
		}
}

static void test_buf_reserve_keeps(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	buf_puts(&b, "head");
	buf_reserve(&b, 100000);
	assert_true(b.cap > b.len + 100000);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "head", 4);
	memset(b.data + b.len, 'x', 100000);   /* the room is writable */
	b.len = 0;                              /* reused from the start, as fcgi.c does */
	buf_reserve(&b, 10);
	buf_puts(&b, "again");
	assert_string_equal(b.data, "again");
	buf_free(&b);
	buf_reserve(&b, 0);                     /* an empty buffer gets room too */
	assert_non_null(b.data);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_printf_lengths),
		cmocka_unit_test(test_arena_printf_after_reset),
		cmocka_unit_test(test_buf_printf_lengths),
		cmocka_unit_test(test_buf_reserve_keeps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
