/* test_jwt.c: compact JWS parsing and header rules. */
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

#include "b64url.h"
#include "fixtures/load.h"
#include "json.h"
#include "jwt.h"

/* header/payload JSON -> "b64(header).b64(payload).sig" (unsigned, for
 * checks that run before any signature). */
static char *make_token(const char *header, const char *payload, const char *sig)
{
    char *h = NULL, *p = NULL, *out;
    size_t n;

    assert_int_equal(oc_b64url_encode((const uint8_t *)header, strlen(header), &h), 0);
    assert_int_equal(oc_b64url_encode((const uint8_t *)payload, strlen(payload), &p), 0);
    n = strlen(h) + strlen(p) + strlen(sig) + 3;
    out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%s.%s.%s", h, p, sig);
    free(h);
    free(p);
    return out;
}

static struct oc_refusal refused_str(const char *tok, size_t len, unsigned mask)
{
    struct oc_refusal why = {NULL, ""};
    struct oc_jwt *jwt = (struct oc_jwt *)0x1;

    assert_int_equal(oc_jwt_parse(tok, len, mask, &jwt, &why), -EACCES);
    assert_ptr_equal(jwt, (struct oc_jwt *)0x1);
    assert_non_null(why.check);
    return why;
}

static void expect_refusal(const char *tok, const char *check)
{
    struct oc_refusal why = refused_str(tok, strlen(tok), OC_ALG_ALL);
    assert_string_equal(why.check, check);
}

static void expect_fixture_refusal(const char *name, unsigned mask, const char *check,
                                   const char *detail_part)
{
    size_t len = 0;
    char *tok = fx_token(name, &len);
    struct oc_refusal why = refused_str(tok, len, mask);

    assert_string_equal(why.check, check);
    if (detail_part != NULL) {
        assert_non_null(strstr(why.detail, detail_part));
    }
    free(tok);
}

static struct oc_jwt *parse_fixture(const char *name, char **ret_tok)
{
    size_t len = 0;
    char *tok = fx_token(name, &len);
    struct oc_jwt *jwt = NULL;
    struct oc_refusal why = {NULL, ""};

    assert_int_equal(oc_jwt_parse(tok, len, OC_ALG_ALL, &jwt, &why), 0);
    assert_non_null(jwt);
    *ret_tok = tok;
    return jwt;
}

static void test_parses_v1_header_with_kid_and_x5t(void **state)
{
    char *tok;
    struct oc_jwt *jwt = parse_fixture("v1-rs256", &tok);

    assert_int_equal(jwt->alg, OC_ALG_RS256);
    assert_string_equal(jwt->alg_name, "RS256");
    assert_string_equal(jwt->kid, FX_KID_A);
    assert_true(jwt->has_x5t);
    assert_false(jwt->kid_from_x5t);
    assert_int_equal(jwt->sig_len, 256);
    assert_ptr_equal(jwt->signing_input, tok);
    assert_int_equal(tok[jwt->signing_input_len], '.');
    oc_jwt_free(jwt);
    free(tok);
}

static void test_x5t_alone_is_used_as_kid(void **state)
{
    char *tok;
    struct oc_jwt *jwt = parse_fixture("v1-x5t-only", &tok);

    assert_string_equal(jwt->kid, FX_KID_A);
    assert_true(jwt->kid_from_x5t);
    oc_jwt_free(jwt);
    free(tok);
}

static void test_es256_and_at_jwt(void **state)
{
    char *tok;
    struct oc_jwt *jwt = parse_fixture("v2-es256", &tok);

    assert_int_equal(jwt->alg, OC_ALG_ES256);
    assert_int_equal(jwt->sig_len, 64);
    oc_jwt_free(jwt);
    free(tok);
    jwt = parse_fixture("v2-at-jwt", &tok);
    oc_jwt_free(jwt);
    free(tok);
}

static void test_payload_decoded_only_on_request(void **state)
{
    char *tok;
    struct oc_jwt *jwt = parse_fixture("dup-claims", &tok);
    struct oc_refusal why = {NULL, ""};
    cJSON *payload = NULL;

    /* header is fine; the duplicate claim is seen when the payload is decoded */
    assert_int_equal(oc_jwt_decode_payload(jwt, &payload, &why), -EACCES);
    assert_string_equal(why.check, "payload");
    assert_non_null(strstr(why.detail, "duplicate"));
    oc_jwt_free(jwt);
    free(tok);

    jwt = parse_fixture("non-utf8", &tok);
    assert_int_equal(oc_jwt_decode_payload(jwt, &payload, &why), -EACCES);
    assert_string_equal(why.check, "payload");
    assert_non_null(strstr(why.detail, "UTF-8"));
    oc_jwt_free(jwt);
    free(tok);

    jwt = parse_fixture("v2-rs256", &tok);
    assert_int_equal(oc_jwt_decode_payload(jwt, &payload, &why), 0);
    assert_non_null(oc_json_member(payload, "azp"));
    cJSON_Delete(payload);
    oc_jwt_free(jwt);
    free(tok);
}

static void test_alg_none_is_refused(void **state)
{
    expect_fixture_refusal("alg-none", OC_ALG_ALL, "alg", "never accepted");
    expect_refusal("eyJhbGciOiJOb25lIn0.e30.", "alg"); /* {"alg":"None"} */
}

static void test_hs256_with_public_key_is_refused(void **state)
{
    expect_fixture_refusal("hs256-pubkey", OC_ALG_ALL, "alg", "HMAC");
}

static void test_other_algs_are_refused(void **state)
{
    const char *algs[] = {"RS384", "ES512", "EdDSA", "PS512", "rs256", "RSA-OAEP"};
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        char hdr[64];
        snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"k\"}", algs[i]);
        char *tok = make_token(hdr, "{}", "AAAA");
        struct oc_refusal why = refused_str(tok, strlen(tok), OC_ALG_ALL);
        assert_string_equal(why.check, "alg");
        assert_non_null(strstr(why.detail, "not supported"));
        free(tok);
    }
    char *tok = make_token("{\"kid\":\"k\"}", "{}", "AAAA");
    expect_refusal(tok, "alg");
    free(tok);
    tok = make_token("{\"alg\":256,\"kid\":\"k\"}", "{}", "AAAA");
    expect_refusal(tok, "alg");
    free(tok);
}

static void test_alg_mask_restricts(void **state)
{
    expect_fixture_refusal("v2-ps256", OC_ALG_RS256 | OC_ALG_ES256, "alg", "not enabled");
    expect_fixture_refusal("v2-es256", OC_ALG_RS256, "alg", "not enabled");
}

static void test_kid_rules(void **state)
{
    char *tok;
    struct oc_jwt *jwt;

    expect_fixture_refusal("kid-4k", OC_ALG_ALL, "kid", "4096 bytes");
    /* \u0000 is refused by the JSON layer before kid is looked at */
    expect_fixture_refusal("kid-nul", OC_ALG_ALL, "header", "\\u0000");
    /* a path-looking kid is just an opaque (unknown) lookup key */
    jwt = parse_fixture("kid-dotdot", &tok);
    assert_string_equal(jwt->kid, "../../../etc/passwd");
    oc_jwt_free(jwt);
    free(tok);

    tok = make_token("{\"alg\":\"RS256\"}", "{}", "AAAA");
    expect_refusal(tok, "kid");
    free(tok);
    tok = make_token("{\"alg\":\"RS256\",\"kid\":\"a b\"}", "{}", "AAAA");
    expect_refusal(tok, "kid");
    free(tok);
    tok = make_token("{\"alg\":\"RS256\",\"kid\":\"\xc3\xa9\"}", "{}", "AAAA");
    expect_refusal(tok, "kid");
    free(tok);
    tok = make_token("{\"alg\":\"RS256\",\"kid\":7}", "{}", "AAAA");
    expect_refusal(tok, "kid");
    free(tok);
    tok = make_token("{\"alg\":\"RS256\",\"kid\":\"\"}", "{}", "AAAA");
    expect_refusal(tok, "kid");
    free(tok);
}

static void test_header_rules(void **state)
{
    char *tok;

    expect_fixture_refusal("crit", OC_ALG_ALL, "header", "crit");
    expect_fixture_refusal("dup-header", OC_ALG_ALL, "header", "duplicate");
    tok = make_token("{\"alg\":\"RS256\",\"kid\":\"k\",\"typ\":\"JOSE\"}", "{}", "AAAA");
    expect_refusal(tok, "header");
    free(tok);
    tok = make_token("{\"alg\":\"RS256\",\"kid\":\"k\",\"nonce\":\"abc\"}", "{}", "AAAA");
    expect_refusal(tok, "header");
    free(tok);
    tok = make_token("[\"alg\",\"RS256\"]", "{}", "AAAA");
    expect_refusal(tok, "header");
    free(tok);
    /* typ is compared case-insensitively */
    tok = make_token("{\"alg\":\"RS256\",\"kid\":\"k\",\"typ\":\"jwt\"}", "{}", "AAAA");
    struct oc_jwt *jwt = NULL;
    assert_int_equal(oc_jwt_parse(tok, strlen(tok), OC_ALG_ALL, &jwt, NULL), 0);
    oc_jwt_free(jwt);
    free(tok);
}

static void test_deeply_nested_header_is_refused(void **state)
{
    size_t depth = 5000;
    char *hdr = malloc(2 * depth + 32);
    size_t o = 0;

    assert_non_null(hdr);
    o += (size_t)sprintf(hdr, "{\"alg\":\"RS256\",\"x\":");
    memset(hdr + o, '[', depth);
    o += depth;
    memset(hdr + o, ']', depth);
    o += depth;
    hdr[o++] = '}';
    hdr[o] = '\0';
    char *tok = make_token(hdr, "{}", "AAAA");
    assert_true(strlen(tok) <= OC_TOKEN_MAX);
    struct oc_refusal why = refused_str(tok, strlen(tok), OC_ALG_ALL);
    assert_string_equal(why.check, "header");
    assert_non_null(strstr(why.detail, "nesting"));
    free(tok);
    free(hdr);
}

static void test_size_is_checked_first(void **state)
{
    size_t big = 1024 * 1024;
    char *tok = malloc(big);
    struct oc_refusal why;

    assert_non_null(tok);
    /* garbage everywhere: only the length may be looked at */
    memset(tok, '*', big);
    why = refused_str(tok, big, OC_ALG_ALL);
    assert_string_equal(why.check, "size");
    why = refused_str(tok, OC_TOKEN_MAX + 1, OC_ALG_ALL);
    assert_string_equal(why.check, "size");
    why = refused_str(tok, OC_TOKEN_MAX, OC_ALG_ALL);
    assert_string_equal(why.check, "format");
    why = refused_str(tok, 0, OC_ALG_ALL);
    assert_string_equal(why.check, "size");
    free(tok);
}

static void test_format_rules(void **state)
{
    size_t len = 0;
    char *good = fx_token("v2-rs256", &len);
    char *t = malloc(len + 16);
    const char *dot1 = strchr(good, '.');
    const char *dot2 = strrchr(good, '.');
    struct oc_refusal why;

    assert_non_null(t);
    /* truncated: only the header, then header + payload */
    why = refused_str(good, (size_t)(dot1 - good), OC_ALG_ALL);
    assert_string_equal(why.check, "format");
    why = refused_str(good, (size_t)(dot2 - good), OC_ALG_ALL);
    assert_string_equal(why.check, "format");
    /* 4 segments */
    snprintf(t, len + 16, "%s.AAAA", good);
    why = refused_str(t, strlen(t), OC_ALG_ALL);
    assert_string_equal(why.check, "format");
    assert_non_null(strstr(why.detail, "found 4"));
    /* '=' padding on the signature */
    snprintf(t, len + 16, "%s==", good);
    why = refused_str(t, strlen(t), OC_ALG_ALL);
    assert_string_equal(why.check, "format");
    assert_non_null(strstr(why.detail, "padding"));
    /* characters outside base64url, in each segment */
    const size_t where[] = {3, (size_t)(dot1 - good) + 3, (size_t)(dot2 - good) + 3};
    const char bad[] = {'+', '/', ' ', '*', '\n'};
    for (size_t w = 0; w < 3; w++) {
        for (size_t b = 0; b < sizeof(bad); b++) {
            memcpy(t, good, len + 1);
            t[where[w]] = bad[b];
            why = refused_str(t, len, OC_ALG_ALL);
            assert_string_equal(why.check, "format");
        }
    }
    /* empty header / payload */
    why = refused_str(dot1, strlen(dot1), OC_ALG_ALL);
    assert_string_equal(why.check, "format");
    expect_refusal("a..b", "format");
    /* trailing newline is not silently accepted */
    snprintf(t, len + 16, "%s\n", good);
    why = refused_str(t, strlen(t), OC_ALG_ALL);
    assert_string_equal(why.check, "format");
    /* non-canonical trailing bits in the payload segment */
    expect_refusal("eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.e31.AAAA", "format");
    free(t);
    free(good);
}

static void test_fingerprint_is_short_and_stable(void **state)
{
    char a[17], b[17];
    assert_int_equal(oc_token_fingerprint("abc", 3, a), 0);
    assert_int_equal(oc_token_fingerprint("abc", 3, b), 0);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 16);
    /* SHA-256("abc") starts ba7816bf8f01cfea */
    assert_string_equal(a, "ba7816bf8f01cfea");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parses_v1_header_with_kid_and_x5t),
            cmocka_unit_test(test_x5t_alone_is_used_as_kid),
            cmocka_unit_test(test_es256_and_at_jwt),
            cmocka_unit_test(test_payload_decoded_only_on_request),
            cmocka_unit_test(test_alg_none_is_refused),
            cmocka_unit_test(test_hs256_with_public_key_is_refused),
            cmocka_unit_test(test_other_algs_are_refused),
            cmocka_unit_test(test_alg_mask_restricts),
            cmocka_unit_test(test_kid_rules),
            cmocka_unit_test(test_header_rules),
            cmocka_unit_test(test_deeply_nested_header_is_refused),
            cmocka_unit_test(test_size_is_checked_first),
            cmocka_unit_test(test_format_rules),
            cmocka_unit_test(test_fingerprint_is_short_and_stable),
    };
    return cmocka_run_group_tests_name("jwt", tests, NULL, NULL);
}
