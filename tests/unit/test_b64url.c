/* test_b64url.c: strict base64url codec. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "b64url.h"

static void decodes(const char *in, const char *want, size_t want_len)
{
    uint8_t *out = NULL;
    size_t n = 0;

    assert_int_equal(oc_b64url_decode(in, strlen(in), &out, &n), 0);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(out[n], 0);
    free(out);
}

static void refuses(const char *in, size_t len)
{
    uint8_t *out = (uint8_t *)0x1;
    size_t n = 77;

    assert_int_equal(oc_b64url_decode(in, len, &out, &n), -EINVAL);
    /* outputs untouched on failure */
    assert_ptr_equal(out, (uint8_t *)0x1);
    assert_int_equal(n, 77);
}

static void test_rfc4648_vectors_decode(void **state)
{
    decodes("", "", 0);
    decodes("Zg", "f", 1);
    decodes("Zm8", "fo", 2);
    decodes("Zm9v", "foo", 3);
    decodes("Zm9vYg", "foob", 4);
    decodes("Zm9vYmE", "fooba", 5);
    decodes("Zm9vYmFy", "foobar", 6);
    decodes("-_-_", "\xfb\xff\xbf", 3);
}

static void test_padding_is_refused(void **state)
{
    refuses("Zg==", 4);
    refuses("Zm8=", 4);
    refuses("Zg=", 3);
}

static void test_foreign_alphabet_is_refused(void **state)
{
    refuses("Zm9v+g", 6);
    refuses("Zm9v/g", 6);
    refuses("Zm 9v", 5);
    refuses("Zm9v\n", 5);
    refuses("Zm9v.g", 6);
    refuses("Zm\0v", 4);
    refuses("Zm9\xc3\xa9", 5);
}

static void test_length_1_mod_4_is_refused(void **state)
{
    refuses("Z", 1);
    refuses("Zm9vY", 5);
}

static void test_noncanonical_trailing_bits_are_refused(void **state)
{
    /* "Zg" is canonical for "f"; "Zh" carries non-zero unused bits */
    refuses("Zh", 2);
    refuses("Zm9", 3);
    decodes("Zm8", "fo", 2);
}

static void test_decode_into_checks_capacity(void **state)
{
    uint8_t buf[2];
    size_t n = 0;

    assert_int_equal(oc_b64url_decode_into("Zm9v", 4, buf, sizeof(buf), &n), -ENOBUFS);
    assert_int_equal(oc_b64url_decode_into("Zm8", 3, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, 2);
}

static void test_encode_round_trip(void **state)
{
    uint8_t data[256];
    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 7 + 3);
    }
    for (size_t len = 0; len <= sizeof(data); len++) {
        char *s = NULL;
        uint8_t *back = NULL;
        size_t n = 0;
        assert_int_equal(oc_b64url_encode(data, len, &s), 0);
        assert_int_equal(strlen(s), OC_B64URL_ENCODED_LEN(len));
        assert_null(strchr(s, '='));
        assert_true(oc_b64url_valid(s, strlen(s)));
        assert_int_equal(oc_b64url_decode(s, strlen(s), &back, &n), 0);
        assert_int_equal(n, len);
        if (len > 0) {
            assert_memory_equal(back, data, len);
        }
        free(s);
        free(back);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_rfc4648_vectors_decode),
            cmocka_unit_test(test_padding_is_refused),
            cmocka_unit_test(test_foreign_alphabet_is_refused),
            cmocka_unit_test(test_length_1_mod_4_is_refused),
            cmocka_unit_test(test_noncanonical_trailing_bits_are_refused),
            cmocka_unit_test(test_decode_into_checks_capacity),
            cmocka_unit_test(test_encode_round_trip),
    };
    return cmocka_run_group_tests_name("b64url", tests, NULL, NULL);
}
