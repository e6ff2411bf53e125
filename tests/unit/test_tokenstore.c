/* SPDX-License-Identifier: MIT */
/* test_tokenstore: the tokens.db format (header, AES-256-GCM, payload), without a TPM. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper/daemon/oc_tokenstore.h"

#define TENANT "5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c"
#define APP_A  "a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f"
#define APP_B  "b1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a"
#define TOKEN  "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"

static const uint8_t key1[OC_TOKENSTORE_KEY_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t key2[OC_TOKENSTORE_KEY_SIZE] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static void two_entries(struct oc_tokenstore *ts)
{
    memset(ts, 0, sizeof(*ts));
    strcpy(ts->tenant_id, TENANT);
    ts->written = 1764300000;
    assert_int_equal(oc_tokenstore_add(ts, "agent-alpha", APP_A, "api://openclaw-host/.default",
                                       TOKEN, 1764303600, 1764300000),
                     0);
    assert_int_equal(oc_tokenstore_add(ts, "agent-beta", APP_B, "api://other/.default", "opaque~1",
                                       1764301000, 1764300500),
                     0);
}

/* payload of ts, encrypted under key */
static void make_file(const struct oc_tokenstore *ts, const uint8_t *key, uint8_t **file,
                      size_t *len)
{
    uint8_t *p = NULL;
    size_t plen = 0;

    assert_int_equal(oc_tokenstore_build(ts, &p, &plen), 0);
    assert_int_equal(plen, ts->payload_len);
    assert_int_equal(oc_tokenstore_encrypt(key, p, plen, file, len), 0);
    assert_int_equal(*len, OC_TOKENSTORE_HEADER_SIZE + plen + OC_TOKENSTORE_TAG_SIZE);
    free(p);
}

static void test_round_trip(void **state)
{
    struct oc_tokenstore ts, back;
    uint8_t *file = NULL, *p = NULL;
    size_t len = 0, plen = 0;
    const char *why = NULL;
    (void)state;

    two_entries(&ts);
    make_file(&ts, key1, &file, &len);
    assert_memory_equal(file, "OCTS", 4);
    assert_null(memmem(file, len, "eyJ", 3)); /* no token in clear */
    assert_int_equal(oc_tokenstore_decrypt(key1, file, len, &p, &plen, &why), 0);
    assert_int_equal(oc_tokenstore_parse(p, plen, &back, &why), 0);
    assert_int_equal(back.n, 2);
    assert_string_equal(back.tenant_id, TENANT);
    assert_int_equal(back.written, 1764300000);
    assert_string_equal(back.items[0].agent, "agent-alpha");
    assert_string_equal(back.items[0].app_id, APP_A);
    assert_string_equal(back.items[0].scope, "api://openclaw-host/.default");
    assert_string_equal(back.items[0].access_token, TOKEN);
    assert_int_equal(back.items[0].expires_on, 1764303600);
    assert_int_equal(back.items[0].obtained, 1764300000);
    assert_string_equal(back.items[1].access_token, "opaque~1");
    oc_tokenstore_free(&back);
    free(p);
    free(file);
    oc_tokenstore_free(&ts);
}

static void test_empty_store(void **state)
{
    struct oc_tokenstore ts, back;
    uint8_t *file = NULL, *p = NULL;
    size_t len = 0, plen = 0;
    const char *why = NULL;
    (void)state;

    memset(&ts, 0, sizeof(ts));
    strcpy(ts.tenant_id, TENANT);
    ts.written = 5;
    assert_int_equal(oc_tokenstore_build(&ts, &p, &plen), 0);
    assert_int_equal(oc_tokenstore_encrypt(key1, p, plen, &file, &len), 0);
    free(p);
    assert_int_equal(oc_tokenstore_decrypt(key1, file, len, &p, &plen, &why), 0);
    assert_int_equal(oc_tokenstore_parse(p, plen, &back, &why), 0);
    assert_int_equal(back.n, 0);
    oc_tokenstore_free(&back);
    free(p);
    free(file);
}

static void test_fresh_nonce_per_write(void **state)
{
    struct oc_tokenstore ts;
    uint8_t *f1 = NULL, *f2 = NULL;
    size_t l1 = 0, l2 = 0;
    (void)state;

    two_entries(&ts);
    make_file(&ts, key1, &f1, &l1);
    make_file(&ts, key1, &f2, &l2);
    assert_int_equal(l1, l2);
    assert_memory_not_equal(f1 + 24, f2 + 24, OC_TOKENSTORE_NONCE_SIZE);
    assert_memory_not_equal(f1 + OC_TOKENSTORE_HEADER_SIZE, f2 + OC_TOKENSTORE_HEADER_SIZE,
                            l1 - OC_TOKENSTORE_HEADER_SIZE);
    free(f1);
    free(f2);
    oc_tokenstore_free(&ts);
}

static void test_every_flipped_byte_is_refused(void **state)
{
    struct oc_tokenstore ts;
    uint8_t *file = NULL, *p = NULL;
    size_t len = 0, plen = 0;
    (void)state;

    two_entries(&ts);
    make_file(&ts, key1, &file, &len);
    for (size_t i = 0; i < len; i++) {
        const char *why = NULL;
        int r;

        file[i] ^= 0x01;
        r = oc_tokenstore_decrypt(key1, file, len, &p, &plen, &why);
        file[i] ^= 0x01;
        if (r == 0) {
            fail_msg("a flipped bit at offset %zu was accepted", i);
        }
        assert_non_null(why);
    }
    free(file);
    oc_tokenstore_free(&ts);
}

static void test_header_errors(void **state)
{
    struct oc_tokenstore ts;
    struct oc_tokenstore_header h;
    uint8_t *file = NULL, *p = NULL, *big;
    size_t len = 0, plen = 0;
    const char *why = NULL;
    (void)state;

    two_entries(&ts);
    make_file(&ts, key1, &file, &len);
    assert_int_equal(oc_tokenstore_header_parse(file, len, &h, &why), 0);
    assert_int_equal(h.version, OC_TOKENSTORE_VERSION);
    assert_int_equal(h.ciphertext_len, len - OC_TOKENSTORE_HEADER_SIZE - OC_TOKENSTORE_TAG_SIZE);
    /* truncated anywhere */
    for (size_t n = 0; n < len; n++) {
        assert_int_equal(oc_tokenstore_decrypt(key1, file, n, &p, &plen, &why), -EINVAL);
    }
    /* a byte after the tag */
    big = malloc(len + 1);
    memcpy(big, file, len);
    big[len] = 0;
    assert_int_equal(oc_tokenstore_header_parse(big, len + 1, &h, &why), -EINVAL);
    assert_string_equal(why, "bytes after the tag");
    free(big);
    /* another version */
    file[5] = 2;
    assert_int_equal(oc_tokenstore_decrypt(key1, file, len, &p, &plen, &why), -EPROTONOSUPPORT);
    file[5] = 1;
    /* not ours */
    file[0] = 'X';
    assert_int_equal(oc_tokenstore_header_parse(file, len, &h, &why), -EINVAL);
    file[0] = 'O';
    /* another data key: told apart from corruption */
    assert_int_equal(oc_tokenstore_decrypt(key2, file, len, &p, &plen, &why), -EKEYREJECTED);
    /* a tag that does not verify */
    file[len - 1] ^= 0x80;
    assert_int_equal(oc_tokenstore_decrypt(key1, file, len, &p, &plen, &why), -EBADMSG);
    free(file);
    oc_tokenstore_free(&ts);
}

/* Parse a payload built from ts after edit() changed bytes at off. */
static int parse_edited(const struct oc_tokenstore *ts, size_t off, uint8_t val, size_t cut)
{
    struct oc_tokenstore back;
    uint8_t *p = NULL;
    size_t plen = 0;
    const char *why = NULL;
    int r;

    assert_int_equal(oc_tokenstore_build(ts, &p, &plen), 0);
    if (off < plen) {
        p[off] = val;
    }
    r = oc_tokenstore_parse(p, plen - cut, &back, &why);
    if (r == 0) {
        oc_tokenstore_free(&back);
    } else {
        assert_non_null(why);
    }
    free(p);
    return r;
}

static void test_payload_refusals(void **state)
{
    struct oc_tokenstore ts;
    /* offsets in the payload: count 0..3, tenant 4..39, written 40..47,
     * entry 0 at 48: name length 48, name 49..59 ("agent-alpha"), app 60..95,
     * scope length 96..97, scope 98.., ... */
    const size_t first = 48, scope_len = first + 1 + 11 + 36;
    (void)state;

    two_entries(&ts);
    assert_int_equal(parse_edited(&ts, SIZE_MAX, 0, 0), 0);
    for (size_t cut = 1; cut < ts.payload_len; cut++) {
        assert_int_equal(parse_edited(&ts, SIZE_MAX, 0, cut), -EBADMSG); /* truncated */
    }
    assert_int_equal(parse_edited(&ts, 3, 3, 0), -EBADMSG);               /* count too high */
    assert_int_equal(parse_edited(&ts, 3, 1, 0), -EBADMSG);               /* trailing entry */
    assert_int_equal(parse_edited(&ts, 0, 0xff, 0), -EBADMSG);            /* count over cap */
    assert_int_equal(parse_edited(&ts, 5, 'X', 0), -EBADMSG);             /* tenant not a GUID */
    assert_int_equal(parse_edited(&ts, first, 0, 0), -EBADMSG);           /* name length 0 */
    assert_int_equal(parse_edited(&ts, first, 33, 0), -EBADMSG);          /* name too long */
    assert_int_equal(parse_edited(&ts, first + 1, '/', 0), -EBADMSG);     /* not a user name */
    assert_int_equal(parse_edited(&ts, first + 1, 0, 0), -EBADMSG);       /* NUL in the name */
    assert_int_equal(parse_edited(&ts, first + 12, 'z', 0), -EBADMSG);    /* app id */
    assert_int_equal(parse_edited(&ts, scope_len, 0xff, 0), -EBADMSG);    /* scope over cap */
    assert_int_equal(parse_edited(&ts, scope_len + 2, ' ', 0), -EBADMSG); /* space in scope */
    oc_tokenstore_free(&ts);
}

static void test_add_checks(void **state)
{
    struct oc_tokenstore ts;
    char *long_token;
    (void)state;

    memset(&ts, 0, sizeof(ts));
    strcpy(ts.tenant_id, TENANT);
    assert_int_equal(oc_tokenstore_add(&ts, "../x", APP_A, "s", "t", 20, 10), -EINVAL);
    assert_int_equal(oc_tokenstore_add(&ts, "a", "not-a-guid", "s", "t", 20, 10), -EINVAL);
    assert_int_equal(oc_tokenstore_add(&ts, "a", APP_A, "", "t", 20, 10), -EINVAL);
    assert_int_equal(oc_tokenstore_add(&ts, "a", APP_A, "s", "t t", 20, 10), -EINVAL);
    assert_int_equal(oc_tokenstore_add(&ts, "a", APP_A, "s", "t", 10, 10), -EINVAL);
    assert_int_equal(oc_tokenstore_add(&ts, "a", APP_A, "s", "t", 10 + 8 * 86400, 10), -EINVAL);
    long_token = malloc(OC_TOKENSTORE_TOKEN_MAX + 2);
    memset(long_token, 'A', OC_TOKENSTORE_TOKEN_MAX + 1);
    long_token[OC_TOKENSTORE_TOKEN_MAX + 1] = '\0';
    assert_int_equal(oc_tokenstore_add(&ts, "a", APP_A, "s", long_token, 20, 10), -EINVAL);
    long_token[OC_TOKENSTORE_TOKEN_MAX] = '\0';
    assert_int_equal(oc_tokenstore_add(&ts, "a", APP_A, "s", long_token, 20, 10), 0);
    free(long_token);
    for (size_t i = 1; i < OC_TOKENSTORE_ENTRIES_MAX; i++) {
        char scope[32];
        snprintf(scope, sizeof(scope), "s%zu", i);
        assert_int_equal(oc_tokenstore_add(&ts, "a", APP_A, scope, "t", 20, 10), 0);
    }
    assert_int_equal(oc_tokenstore_add(&ts, "a", APP_A, "one-more", "t", 20, 10), -ENOSPC);
    oc_tokenstore_free(&ts);
    assert_int_equal(ts.n, 0);
}

static void test_duplicate_pair_refused(void **state)
{
    struct oc_tokenstore ts, back;
    uint8_t *p = NULL;
    size_t plen = 0;
    const char *why = NULL;
    (void)state;

    memset(&ts, 0, sizeof(ts));
    strcpy(ts.tenant_id, TENANT);
    assert_int_equal(oc_tokenstore_add(&ts, "a", APP_A, "s", "t1", 20, 10), 0);
    assert_int_equal(oc_tokenstore_add(&ts, "a", APP_A, "s", "t2", 20, 10), 0);
    assert_int_equal(oc_tokenstore_build(&ts, &p, &plen), 0);
    assert_int_equal(oc_tokenstore_parse(p, plen, &back, &why), -EBADMSG);
    assert_string_equal(why, "an (agent, scope) pair appears twice");
    free(p);
    oc_tokenstore_free(&ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_round_trip),
            cmocka_unit_test(test_empty_store),
            cmocka_unit_test(test_fresh_nonce_per_write),
            cmocka_unit_test(test_every_flipped_byte_is_refused),
            cmocka_unit_test(test_header_errors),
            cmocka_unit_test(test_payload_refusals),
            cmocka_unit_test(test_add_checks),
            cmocka_unit_test(test_duplicate_pair_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
