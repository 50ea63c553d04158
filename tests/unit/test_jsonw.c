/*
 * test_jsonw.c - unit tests for src/jsonw.c: the exact text written
 * (separators, nesting, null, escapes), and that json-c reads back every
 * byte of a string that needs escaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <limits.h>
#include <string.h>

#include "jsonw.h"

static void test_document(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct jsonw w;
	jsonw_init(&w, &b);
	jsonw_object(&w, NULL);
	jsonw_string(&w, "id", "sl_1");
	jsonw_string(&w, "none", NULL);
	jsonw_int(&w, "min", LLONG_MIN);
	jsonw_bool(&w, "yes", true);
	jsonw_bool(&w, "no", false);
	jsonw_object(&w, "empty");
	jsonw_object_end(&w);
	jsonw_array(&w, "tags");
	jsonw_string(&w, NULL, "a");
	jsonw_string_len(&w, NULL, "bc;d", 2);
	jsonw_object(&w, NULL);
	jsonw_int(&w, "n", 1);
	jsonw_object_end(&w);
	jsonw_array(&w, NULL);
	jsonw_array_end(&w);
	jsonw_array_end(&w);
	jsonw_object(&w, "last");
	jsonw_int(&w, "k", 0);
	jsonw_object_end(&w);
	jsonw_object_end(&w);
	assert_string_equal(buf_cstr(&b),
			    "{\"id\":\"sl_1\",\"none\":null,\"min\":-9223372036854775808,\"yes\":true,\"no\":false,"
			    "\"empty\":{},\"tags\":[\"a\",\"bc\",{\"n\":1},[]],\"last\":{\"k\":0}}");
	assert_int_equal(w.depth, 0);
	buf_free(&b);
}

static void test_escapes(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	struct jsonw w;
	jsonw_init(&w, &b);
	jsonw_object(&w, NULL);
	jsonw_string(&w, "k\"ey", "q\" b\\ n\n r\r t\t b\b f\f x\x01 y\x1f / \xc3\xa9 end");
	jsonw_object_end(&w);
	assert_string_equal(buf_cstr(&b), "{\"k\\\"ey\":\"q\\\" b\\\\ n\\n r\\r t\\t b\\b f\\f x\\u0001 y\\u001f "
					  "/ \xc3\xa9 end\"}");
	buf_free(&b);
}

/* Every byte from 1 to 255 in one string: json-c reads the same bytes back. */
static void test_round_trip(void **state)
{
	(void)state;
	char all[256];
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	struct buf b = BUF_INIT;
	struct jsonw w;
	jsonw_init(&w, &b);
	jsonw_array(&w, NULL);
	jsonw_string(&w, NULL, all);
	jsonw_string_len(&w, NULL, "", 0);
	jsonw_array_end(&w);
	struct json_tokener *tok = json_tokener_new();
	json_tokener_set_flags(tok, 0);   /* not strict: bytes from 0x80 are not UTF-8 here */
	struct json_object *doc = json_tokener_parse_ex(tok, buf_cstr(&b), (int)b.len);
	assert_non_null(doc);
	assert_int_equal(json_object_array_length(doc), 2);
	struct json_object *s = json_object_array_get_idx(doc, 0);
	assert_int_equal(json_object_get_string_len(s), 255);
	assert_memory_equal(json_object_get_string(s), all, 255);
	assert_int_equal(json_object_get_string_len(json_object_array_get_idx(doc, 1)), 0);
	json_object_put(doc);
	json_tokener_free(tok);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
