/* test_json.c: strict JSON front end (validator, duplicates, typed getters). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static cJSON *parse_ok(const char *s)
{
    cJSON *o = NULL;
    const char *why = NULL;

    assert_int_equal(oc_json_parse_object(s, strlen(s), &o, &why), 0);
    assert_non_null(o);
    return o;
}

static void refuse(const char *s, size_t len, const char *want_reason)
{
    cJSON *o = (cJSON *)0x1;
    const char *why = NULL;

    assert_int_equal(oc_json_parse_object(s, len, &o, &why), -EINVAL);
    assert_ptr_equal(o, (cJSON *)0x1);
    assert_non_null(why);
    if (want_reason != NULL) {
        assert_string_equal(why, want_reason);
    }
}

#define REFUSE(lit, reason) refuse((lit), sizeof(lit) - 1, (reason))

static void test_accepts_plain_objects(void **state)
{
    cJSON *o = parse_ok(" {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\ud83d\\ude00\"],"
                        " \"b\": {\"c\": \"\xc3\xa9\xf0\x9f\x98\x80\"}} \n");
    cJSON_Delete(o);
}

static void test_refuses_duplicate_members(void **state)
{
    REFUSE("{\"a\":1,\"a\":2}", "duplicate member name");
    REFUSE("{\"x\":{\"a\":1,\"b\":2,\"a\":3}}", "duplicate member name");
    /* escapes decode to the same name */
    REFUSE("{\"exp\":1,\"e\\u0078p\":2}", "duplicate member name");
    /* same name, different case: distinct members */
    cJSON_Delete(parse_ok("{\"exp\":1,\"Exp\":2}"));
}

static void test_refuses_duplicates_in_large_objects(void **state)
{
    char buf[8192];
    size_t o = 0;

    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "{");
    for (int i = 0; i < 100; i++) {
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"k%d\":%d,", i, i);
    }
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\"k42\":0}");
    refuse(buf, o, "duplicate member name");
}

static void test_refuses_too_many_members(void **state)
{
    char *buf = malloc(16 * (OC_JSON_MAX_MEMBERS + 2));
    size_t o = 0;

    assert_non_null(buf);
    buf[o++] = '{';
    for (int i = 0; i <= OC_JSON_MAX_MEMBERS; i++) {
        o += (size_t)sprintf(buf + o, "%s\"m%d\":0", i > 0 ? "," : "", i);
    }
    buf[o++] = '}';
    refuse(buf, o, "object has too many members");
    free(buf);
}

static void test_depth_limit(void **state)
{
    char ok[2 * OC_JSON_MAX_DEPTH + 8], bad[2 * OC_JSON_MAX_DEPTH + 8];
    size_t o = 0;

    ok[o++] = '{';
    ok[o++] = '"';
    ok[o++] = 'a';
    ok[o++] = '"';
    ok[o++] = ':';
    for (int i = 1; i < OC_JSON_MAX_DEPTH; i++) {
        ok[o++] = '[';
    }
    for (int i = 1; i < OC_JSON_MAX_DEPTH; i++) {
        ok[o++] = ']';
    }
    ok[o++] = '}';
    cJSON *obj = NULL;
    assert_int_equal(oc_json_parse_object(ok, o, &obj, NULL), 0);
    cJSON_Delete(obj);

    memcpy(bad, ok, 5);
    o = 5;
    for (int i = 0; i < OC_JSON_MAX_DEPTH; i++) {
        bad[o++] = '[';
    }
    for (int i = 0; i < OC_JSON_MAX_DEPTH; i++) {
        bad[o++] = ']';
    }
    bad[o++] = '}';
    refuse(bad, o, "nesting deeper than 32 levels");
}

static void test_100k_deep_is_refused_by_the_scan(void **state)
{
    size_t n = 100000;
    char *buf = malloc(2 * n + 1);

    assert_non_null(buf);
    memset(buf, '[', n);
    memset(buf + n, ']', n);
    refuse(buf, 2 * n, "nesting deeper than 32 levels");
    buf[0] = '{';
    refuse(buf, 2 * n, "nesting deeper than 32 levels");
    free(buf);
}

static void test_refuses_nul_escape_and_bad_surrogates(void **state)
{
    REFUSE("{\"kid\":\"ab\\u0000cd\"}", "\\u0000 in string");
    REFUSE("{\"a\":\"\\ud83d\"}", "unpaired high surrogate in string");
    REFUSE("{\"a\":\"\\ud83dx\"}", "unpaired high surrogate in string");
    REFUSE("{\"a\":\"\\ud83d\\u0041\"}", "unpaired high surrogate in string");
    REFUSE("{\"a\":\"\\ude00\"}", "unpaired low surrogate in string");
    REFUSE("{\"a\":\"\\u12\"}", "invalid \\u escape");
    REFUSE("{\"a\":\"\\x41\"}", "invalid escape in string");
}

static void test_refuses_invalid_utf8(void **state)
{
    REFUSE("{\"a\":\"\xff\"}", "invalid UTF-8 in string");
    REFUSE("{\"a\":\"\xc0\xaf\"}", "invalid UTF-8 in string");         /* overlong */
    REFUSE("{\"a\":\"\xe0\x80\xaf\"}", "invalid UTF-8 in string");     /* overlong */
    REFUSE("{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8 in string");     /* surrogate */
    REFUSE("{\"a\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8 in string"); /* > U+10FFFF */
    REFUSE("{\"a\":\"\xe2\x82\"}", "invalid UTF-8 in string");         /* truncated */
    REFUSE("{\"a\xff\":1}", "invalid UTF-8 in string");
    REFUSE("{\"a\":1}\xef\xbb\xbf", "trailing data after the document");
}

static void test_refuses_raw_control_and_nul_bytes(void **state)
{
    REFUSE("{\"a\":\"x\ty\"}", "control character in string");
    REFUSE("{\"a\":\"x\0y\"}", "control character in string");
    REFUSE("{\"a\":1}\0", "trailing data after the document");
}

static void test_refuses_grammar_errors(void **state)
{
    REFUSE("{\"a\":01}", "invalid number");
    REFUSE("{\"a\":1x}", "invalid number");
    REFUSE("{\"a\":1.}", "invalid number");
    REFUSE("{\"a\":-}", "invalid number");
    REFUSE("{\"a\":tru}", "invalid literal");
    REFUSE("{\"a\":1", "truncated document");
    REFUSE("{\"a\":1]", "mismatched brackets");
    REFUSE("{\"a\":1}}", "trailing data after the document");
    REFUSE("{\"a\":1} {}", "trailing data after the document");
    REFUSE("[1]", "document is not an object");
    REFUSE("\"s\"", "document is not an object or array");
    REFUSE("", "empty document");
    REFUSE("{'a':1}", "unexpected character");
    REFUSE("{\"a\" 1}", "malformed JSON");
    REFUSE("{\"a\":1,}", "malformed JSON");
}

static void test_get_int64_is_strict(void **state)
{
    cJSON *o = parse_ok("{\"i\":1700000000,\"s\":\"123\",\"f\":1.5,\"big\":1e300,\"neg\":-5,"
                        "\"e\":1e3,\"max\":9007199254740991,\"over\":9007199254740993,"
                        "\"t\":true,\"n\":null}");
    int64_t v = 42;

    assert_int_equal(oc_json_get_int64(o, "i", 0, INT64_MAX, &v), 0);
    assert_int_equal(v, 1700000000);
    v = 42;
    assert_int_equal(oc_json_get_int64(o, "s", 0, INT64_MAX, &v), -EINVAL);
    assert_int_equal(oc_json_get_int64(o, "f", 0, INT64_MAX, &v), -EINVAL);
    assert_int_equal(oc_json_get_int64(o, "big", 0, INT64_MAX, &v), -ERANGE);
    assert_int_equal(oc_json_get_int64(o, "neg", 0, INT64_MAX, &v), -ERANGE);
    assert_int_equal(oc_json_get_int64(o, "t", 0, INT64_MAX, &v), -EINVAL);
    assert_int_equal(oc_json_get_int64(o, "n", 0, INT64_MAX, &v), -EINVAL);
    assert_int_equal(oc_json_get_int64(o, "over", INT64_MIN, INT64_MAX, &v), -ERANGE);
    assert_int_equal(oc_json_get_int64(o, "absent", 0, INT64_MAX, &v), -ENOENT);
    assert_int_equal(oc_json_get_int64(o, "I", 0, INT64_MAX, &v), -ENOENT);
    assert_int_equal(v, 42);
    assert_int_equal(oc_json_get_int64(o, "neg", -10, 0, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(oc_json_get_int64(o, "max", 0, OC_JSON_INT_MAX, &v), 0);
    assert_int_equal(v, OC_JSON_INT_MAX);
    assert_int_equal(oc_json_get_int64(o, "e", 0, INT64_MAX, &v), 0);
    assert_int_equal(v, 1000);
    cJSON_Delete(o);
}

static void test_get_string_and_arrays(void **state)
{
    cJSON *o = parse_ok("{\"s\":\"hello\",\"n\":5,\"a\":[\"x\",\"yy\"],\"mixed\":[\"x\",1],"
                        "\"empty\":[],\"b\":true}");
    const char *s = NULL;
    const char **items = NULL;
    size_t n = 0;
    bool b = false;

    assert_int_equal(oc_json_get_string(o, "s", 5, &s), 0);
    assert_string_equal(s, "hello");
    assert_int_equal(oc_json_get_string(o, "s", 4, &s), -E2BIG);
    assert_int_equal(oc_json_get_string(o, "n", 10, &s), -EINVAL);
    assert_int_equal(oc_json_get_string(o, "zz", 10, &s), -ENOENT);
    assert_int_equal(oc_json_get_string_array(o, "a", 2, 2, &items, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(items[1], "yy");
    free(items);
    assert_int_equal(oc_json_get_string_array(o, "a", 1, 2, &items, &n), -E2BIG);
    assert_int_equal(oc_json_get_string_array(o, "a", 2, 1, &items, &n), -E2BIG);
    assert_int_equal(oc_json_get_string_array(o, "mixed", 5, 5, &items, &n), -EINVAL);
    assert_int_equal(oc_json_get_string_array(o, "s", 5, 5, &items, &n), -EINVAL);
    assert_int_equal(oc_json_get_string_array(o, "empty", 5, 5, &items, &n), 0);
    assert_int_equal(n, 0);
    assert_null(items);
    assert_int_equal(oc_json_get_bool(o, "b", &b), 0);
    assert_true(b);
    assert_int_equal(oc_json_get_bool(o, "s", &b), -EINVAL);
    cJSON_Delete(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_accepts_plain_objects),
            cmocka_unit_test(test_refuses_duplicate_members),
            cmocka_unit_test(test_refuses_duplicates_in_large_objects),
            cmocka_unit_test(test_refuses_too_many_members),
            cmocka_unit_test(test_depth_limit),
            cmocka_unit_test(test_100k_deep_is_refused_by_the_scan),
            cmocka_unit_test(test_refuses_nul_escape_and_bad_surrogates),
            cmocka_unit_test(test_refuses_invalid_utf8),
            cmocka_unit_test(test_refuses_raw_control_and_nul_bytes),
            cmocka_unit_test(test_refuses_grammar_errors),
            cmocka_unit_test(test_get_int64_is_strict),
            cmocka_unit_test(test_get_string_and_arrays),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
