/* test_jwks.c: JWKS parsing, key selection, skip reasons, raw verification. */
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

#include "fixtures/load.h"
#include "json.h"
#include "jwks.h"
#include "jwt.h"

static struct oc_jwks *load(const char *name)
{
    char path[4096];
    struct oc_jwks *jwks = NULL;
    const char *why = NULL;

    fx_path(path, sizeof(path), name);
    assert_int_equal(oc_jwks_load_file(path, &jwks, &why), 0);
    assert_non_null(jwks);
    return jwks;
}

/* n and e of key A, copied out of the fixture JWKS. */
struct rsa_parts {
    char n[1024];
    char e[16];
    char x[64];
    char y[64];
};

static void fixture_parts(struct rsa_parts *out)
{
    char *doc = fx_read("jwks-common.json", NULL);
    cJSON *root = NULL;
    const cJSON *keys;

    assert_int_equal(oc_json_parse_object(doc, strlen(doc), &root, NULL), 0);
    keys = oc_json_member(root, "keys");
    for (const cJSON *k = keys->child; k != NULL; k = k->next) {
        const char *kid = NULL, *v = NULL;
        assert_int_equal(oc_json_get_string(k, "kid", 256, &kid), 0);
        if (strcmp(kid, FX_KID_A) == 0) {
            assert_int_equal(oc_json_get_string(k, "n", 1000, &v), 0);
            snprintf(out->n, sizeof(out->n), "%s", v);
            assert_int_equal(oc_json_get_string(k, "e", 10, &v), 0);
            snprintf(out->e, sizeof(out->e), "%s", v);
        } else if (strcmp(kid, FX_KID_EC) == 0) {
            assert_int_equal(oc_json_get_string(k, "x", 60, &v), 0);
            snprintf(out->x, sizeof(out->x), "%s", v);
            assert_int_equal(oc_json_get_string(k, "y", 60, &v), 0);
            snprintf(out->y, sizeof(out->y), "%s", v);
        }
    }
    cJSON_Delete(root);
    free(doc);
}

/* Parses {"keys":[<good RSA key "good">, <entry>]} and returns the skip
 * reason recorded for kid "t" ("" when the entry was accepted). */
static void one_entry(const char *entry, char *ret_reason, size_t cap, size_t *ret_keys)
{
    struct rsa_parts parts;
    char *doc = malloc(8192);
    struct oc_jwks *jwks = NULL;
    const struct oc_jwk_skipped *sk;

    assert_non_null(doc);
    fixture_parts(&parts);
    snprintf(doc, 8192,
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"good\",\"n\":\"%s\",\"e\":\"%s\"},%s]}",
             parts.n, parts.e, entry);
    assert_int_equal(oc_jwks_parse(doc, strlen(doc), &jwks, NULL), 0);
    sk = oc_jwks_find_skipped(jwks, "t");
    snprintf(ret_reason, cap, "%s", sk != NULL ? sk->reason : "");
    *ret_keys = jwks->n_keys;
    oc_jwks_free(jwks);
    free(doc);
}

static void expect_skip(const char *entry, const char *reason_part)
{
    char reason[OC_JWK_SKIP_REASON];
    size_t n = 0;

    one_entry(entry, reason, sizeof(reason), &n);
    assert_int_equal(n, 1);
    if (strstr(reason, reason_part) == NULL) {
        fail_msg("skip reason '%s' lacks '%s'", reason, reason_part);
    }
}

static void test_common_jwks_keys_and_skips(void **state)
{
    struct oc_jwks *jwks = load("jwks-common.json");
    const struct oc_jwk *k;
    const struct oc_jwk_skipped *sk;

    assert_int_equal(jwks->n_keys, 4);
    assert_int_equal(jwks->n_skipped, 3);
    k = oc_jwks_find(jwks, FX_KID_A, false);
    assert_non_null(k);
    assert_int_equal(k->type, OC_JWK_RSA);
    assert_int_equal(k->bits, 2048);
    assert_int_equal(k->alg_mask, OC_ALG_RS256 | OC_ALG_PS256);
    assert_string_equal(k->issuer, "https://login.microsoftonline.com/{tenantid}/v2.0");
    assert_string_equal(k->x5t, FX_KID_A);
    k = oc_jwks_find(jwks, FX_KID_A_RS256, false);
    assert_non_null(k);
    assert_int_equal(k->alg_mask, OC_ALG_RS256);
    k = oc_jwks_find(jwks, FX_KID_EC, false);
    assert_non_null(k);
    assert_int_equal(k->type, OC_JWK_EC_P256);
    assert_int_equal(k->alg_mask, OC_ALG_ES256);
    assert_null(oc_jwks_find(jwks, FX_KID_WEAK, false));
    assert_null(oc_jwks_find(jwks, "../../../etc/passwd", false));
    sk = oc_jwks_find_skipped(jwks, FX_KID_WEAK);
    assert_non_null(sk);
    assert_non_null(strstr(sk->reason, "1024 bits"));
    sk = oc_jwks_find_skipped(jwks, "rsa-b-enc");
    assert_non_null(sk);
    assert_non_null(strstr(sk->reason, "enc"));
    sk = oc_jwks_find_skipped(jwks, "okp-1");
    assert_non_null(sk);
    assert_non_null(strstr(sk->reason, "OKP"));
    oc_jwks_free(jwks);
}

static void test_tenant_jwks_has_concrete_issuer(void **state)
{
    struct oc_jwks *jwks = load("jwks-tenant.json");
    const struct oc_jwk *k = oc_jwks_find(jwks, FX_KID_A, false);

    assert_non_null(k);
    assert_string_equal(k->issuer, "https://login.microsoftonline.com/" FX_TENANT "/v2.0");
    oc_jwks_free(jwks);
}

static void test_x5t_lookup_only_for_x5t_tokens(void **state)
{
    struct rsa_parts p;
    char doc[2048];
    struct oc_jwks *jwks = NULL;

    fixture_parts(&p);
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"K\",\"x5t\":\"T\",\"n\":\"%s\","
             "\"e\":\"%s\"}]}",
             p.n, p.e);
    assert_int_equal(oc_jwks_parse(doc, strlen(doc), &jwks, NULL), 0);
    assert_non_null(oc_jwks_find(jwks, "T", true));
    assert_null(oc_jwks_find(jwks, "T", false));
    assert_non_null(oc_jwks_find(jwks, "K", true));
    oc_jwks_free(jwks);
}

static void test_zero_usable_keys_is_an_error(void **state)
{
    char path[4096];
    struct oc_jwks *jwks = (struct oc_jwks *)0x1;
    const char *why = NULL;

    fx_path(path, sizeof(path), "jwks-weak-only.json");
    assert_int_equal(oc_jwks_load_file(path, &jwks, &why), -EINVAL);
    assert_ptr_equal(jwks, (struct oc_jwks *)0x1);
    assert_string_equal(why, "JWKS has no usable key");
    assert_int_equal(oc_jwks_parse("{\"keys\":[]}", 11, &jwks, &why), -EINVAL);
    assert_int_equal(oc_jwks_parse("{\"kys\":[]}", 10, &jwks, &why), -EINVAL);
    assert_string_equal(why, "JWKS has no 'keys' array");
    assert_int_equal(oc_jwks_parse("{\"keys\":[],\"keys\":[]}", 21, &jwks, &why), -EINVAL);
    assert_string_equal(why, "duplicate member name");
}

static void test_off_curve_ec_point_is_skipped(void **state)
{
    struct oc_jwks *jwks = load("jwks-ec-offcurve.json");
    const struct oc_jwk_skipped *sk = oc_jwks_find_skipped(jwks, "bad-ec");

    assert_int_equal(jwks->n_keys, 1);
    assert_non_null(sk);
    assert_non_null(strstr(sk->reason, "curve"));
    oc_jwks_free(jwks);
}

static void test_key_skip_reasons(void **state)
{
    struct rsa_parts p;
    char e[1400];

    fixture_parts(&p);
    expect_skip("{\"kty\":\"RSA\",\"kid\":\"t\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"}",
                "sig");
    expect_skip("{\"kty\":\"oct\",\"kid\":\"t\",\"k\":\"AAAA\"}", "private");
    expect_skip("{\"kty\":\"oct\",\"kid\":\"t\"}", "kty 'oct'");
    expect_skip("{\"kty\":\"RSA\",\"kid\":\"t\",\"alg\":\"RS384\"}", "alg 'RS384'");
    expect_skip("{\"kty\":\"RSA\",\"kid\":\"t\",\"alg\":\"ES256\"}", "does not fit");
    expect_skip("{\"kty\":\"RSA\",\"kid\":\"t\",\"key_ops\":[\"encrypt\"]}", "key_ops");
    expect_skip("{\"kty\":\"RSA\",\"kid\":\"t\",\"n\":\"AQAB\"}", "missing 'e'");
    expect_skip("{\"kty\":\"RSA\",\"kid\":\"t\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", "bits");
    snprintf(e, sizeof(e), "{\"kty\":\"RSA\",\"kid\":\"t\",\"n\":\"%s\",\"e\":\"AQAA\"}", p.n);
    expect_skip(e, "exponent");
    snprintf(e, sizeof(e), "{\"kty\":\"RSA\",\"kid\":\"t\",\"n\":\"%s\",\"e\":\"AQ\"}", p.n);
    expect_skip(e, "exponent");
    snprintf(e, sizeof(e), "{\"kty\":\"RSA\",\"kid\":\"t\",\"n\":\"%s\",\"e\":\"AAEAAQ\"}", p.n);
    expect_skip(e, "minimally");
    expect_skip("{\"kty\":\"RSA\",\"kid\":\"t\",\"n\":\"AQA=\",\"e\":\"AQAB\"}",
                "strict base64url");
    snprintf(e, sizeof(e), "{\"kty\":\"RSA\",\"kid\":\"t\",\"n\":\"AAAA%s\",\"e\":\"AQAB\"}", p.n);
    expect_skip(e, "minimally");
    snprintf(e, sizeof(e),
             "{\"kty\":\"RSA\",\"kid\":\"t\",\"n\":\"%s\",\"e\":\"%s\",\"d\":\"AQAB\"}", p.n, p.e);
    expect_skip(e, "private");
    snprintf(e, sizeof(e), "{\"kty\":\"RSA\",\"kid\":\"good\",\"n\":\"%s\",\"e\":\"%s\"}", p.n,
             p.e);
    {
        /* a second key with the same kid: the first one wins */
        char reason[OC_JWK_SKIP_REASON];
        size_t n = 0;
        one_entry(e, reason, sizeof(reason), &n);
        assert_int_equal(n, 1);
    }
    snprintf(e, sizeof(e),
             "{\"kty\":\"EC\",\"kid\":\"t\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\"}", p.x,
             p.y);
    expect_skip(e, "P-384");
    snprintf(e, sizeof(e),
             "{\"kty\":\"EC\",\"kid\":\"t\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"AQAB\"}", p.x);
    expect_skip(e, "32 bytes");
    snprintf(e, sizeof(e),
             "{\"kty\":\"EC\",\"kid\":\"t\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\","
             "\"alg\":\"RS256\"}",
             p.x, p.y);
    expect_skip(e, "does not fit");
    expect_skip("{\"kty\":\"RSA\",\"kid\":\"t\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"issuer\":7}",
                "issuer");
    expect_skip("{\"kty\":\"RSA\",\"kid\":\"t\",\"x5t\":\"a b\"}", "x5t");
}

static void test_caps_on_document_and_key_count(void **state)
{
    struct rsa_parts p;
    size_t cap = OC_JWKS_MAX_BYTES + 64;
    char *doc = malloc(cap);
    struct oc_jwks *jwks = NULL;
    const char *why = NULL;
    size_t o;

    assert_non_null(doc);
    fixture_parts(&p);
    /* 65 keys */
    o = (size_t)snprintf(doc, cap, "{\"keys\":[");
    for (int i = 0; i <= OC_JWKS_MAX_KEYS; i++) {
        o += (size_t)snprintf(doc + o, cap - o,
                              "%s{\"kty\":\"RSA\",\"kid\":\"k%d\",\"n\":\"%s\","
                              "\"e\":\"%s\"}",
                              i > 0 ? "," : "", i, p.n, p.e);
    }
    o += (size_t)snprintf(doc + o, cap - o, "]}");
    assert_int_equal(oc_jwks_parse(doc, o, &jwks, &why), -EINVAL);
    assert_string_equal(why, "JWKS has more than 64 keys");
    /* exactly 64 keys is fine */
    char *cut = strstr(doc, ",{\"kty\":\"RSA\",\"kid\":\"k64\"");
    assert_non_null(cut);
    strcpy(cut, "]}");
    assert_int_equal(oc_jwks_parse(doc, strlen(doc), &jwks, &why), 0);
    assert_int_equal(jwks->n_keys, 64);
    oc_jwks_free(jwks);
    /* larger than 256 KiB: refused before parsing */
    memset(doc, ' ', OC_JWKS_MAX_BYTES + 1);
    assert_int_equal(oc_jwks_parse(doc, OC_JWKS_MAX_BYTES + 1, &jwks, &why), -EFBIG);
    free(doc);
}

static void test_load_file_errors(void **state)
{
    struct oc_jwks *jwks = NULL;
    const char *why = NULL;
    char path[4096];

    assert_int_equal(oc_jwks_load_file("/nonexistent/openclaw/jwks.json", &jwks, &why), -ENOENT);
    fx_path(path, sizeof(path), "tokens");
    assert_int_equal(oc_jwks_load_file(path, &jwks, &why), -EINVAL);
    fx_path(path, sizeof(path), "tokens/v2-rs256.jwt");
    assert_int_equal(oc_jwks_load_file(path, &jwks, &why), -EINVAL);
    assert_null(jwks);
}

static void test_raw_signature_verification(void **state)
{
    struct oc_jwks *jwks = load("jwks-common.json");
    size_t len = 0;
    char *tok = fx_token("v2-rs256", &len);
    struct oc_jwt *jwt = NULL;
    const struct oc_jwk *ka = oc_jwks_find(jwks, FX_KID_A, false);
    const struct oc_jwk *kb = oc_jwks_find(jwks, FX_KID_B, false);
    const struct oc_jwk *kec = oc_jwks_find(jwks, FX_KID_EC, false);

    assert_int_equal(oc_jwt_parse(tok, len, OC_ALG_ALL, &jwt, NULL), 0);
    assert_int_equal(oc_jwk_verify(ka, OC_ALG_RS256, jwt->signing_input, jwt->signing_input_len,
                                   jwt->sig, jwt->sig_len),
                     0);
    assert_int_equal(oc_jwk_verify(kb, OC_ALG_RS256, jwt->signing_input, jwt->signing_input_len,
                                   jwt->sig, jwt->sig_len),
                     -EBADMSG);
    /* same bytes as PSS: refused */
    assert_int_equal(oc_jwk_verify(ka, OC_ALG_PS256, jwt->signing_input, jwt->signing_input_len,
                                   jwt->sig, jwt->sig_len),
                     -EBADMSG);
    assert_int_equal(oc_jwk_verify(kec, OC_ALG_RS256, jwt->signing_input, jwt->signing_input_len,
                                   jwt->sig, jwt->sig_len),
                     -EINVAL);
    jwt->sig[10] ^= 1;
    assert_int_equal(oc_jwk_verify(ka, OC_ALG_RS256, jwt->signing_input, jwt->signing_input_len,
                                   jwt->sig, jwt->sig_len),
                     -EBADMSG);
    assert_int_equal(oc_jwk_verify(ka, OC_ALG_RS256, jwt->signing_input, jwt->signing_input_len,
                                   jwt->sig, jwt->sig_len - 1),
                     -EBADMSG);
    oc_jwt_free(jwt);
    free(tok);

    tok = fx_token("v2-es256", &len);
    assert_int_equal(oc_jwt_parse(tok, len, OC_ALG_ALL, &jwt, NULL), 0);
    assert_int_equal(oc_jwk_verify(kec, OC_ALG_ES256, jwt->signing_input, jwt->signing_input_len,
                                   jwt->sig, jwt->sig_len),
                     0);
    /* s = 0 and r = 0 are refused */
    uint8_t zero[64] = {0};
    assert_int_equal(oc_jwk_verify(kec, OC_ALG_ES256, jwt->signing_input, jwt->signing_input_len,
                                   zero, sizeof(zero)),
                     -EBADMSG);
    memset(jwt->sig + 32, 0xff, 32);
    assert_int_equal(oc_jwk_verify(kec, OC_ALG_ES256, jwt->signing_input, jwt->signing_input_len,
                                   jwt->sig, jwt->sig_len),
                     -EBADMSG);
    oc_jwt_free(jwt);
    free(tok);
    oc_jwks_free(jwks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_common_jwks_keys_and_skips),
            cmocka_unit_test(test_tenant_jwks_has_concrete_issuer),
            cmocka_unit_test(test_x5t_lookup_only_for_x5t_tokens),
            cmocka_unit_test(test_zero_usable_keys_is_an_error),
            cmocka_unit_test(test_off_curve_ec_point_is_skipped),
            cmocka_unit_test(test_key_skip_reasons),
            cmocka_unit_test(test_caps_on_document_and_key_count),
            cmocka_unit_test(test_load_file_errors),
            cmocka_unit_test(test_raw_signature_verification),
    };
    return cmocka_run_group_tests_name("jwks", tests, NULL, NULL);
}
