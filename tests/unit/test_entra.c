/* test_entra.c: the verification entry point and the Entra claim rules,
 * against tokens made by an independent implementation (fixtures/gen.py). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "b64url.h"
#include "entra.h"
#include "fixtures/load.h"
#include "json.h"
#include "jwks.h"

#define ISS_V1_TEMPLATE "https://sts.windows.net/{tenantid}/"
#define ISS_V2_TEMPLATE "https://login.microsoftonline.com/{tenantid}/v2.0"
#define SKEW            300

static struct oc_jwks *jwks_common, *jwks_tenant, *jwks_other;

/* the host's client id configured in upper case: GUIDs compare case-insensitively */
static const char *const audiences[] = {FX_HOST_APP_URI, "6E3C5A1D-0B2F-4C7E-9D8A-1F2E3D4C5B6A"};

static const char *const all_checks[] = {
        "size",    "format",     "header",    "alg",     "kid",      "signature",
        "payload", "key-issuer", "issuer",    "version", "tenant",   "audience",
        "expiry",  "not-before", "issued-at", "max-age", "app-only", "identity",
};

static struct oc_verify_policy policy(void)
{
    struct oc_verify_policy p = {
            .tenant_id = FX_TENANT,
            .issuer_v1 = ISS_V1_TEMPLATE,
            .issuer_v2 = ISS_V2_TEMPLATE,
            .audiences = audiences,
            .n_audiences = sizeof(audiences) / sizeof(audiences[0]),
            .alg_mask = 0,
            .now = FX_NOW,
            .clock_skew = SKEW,
            .max_token_age = 0,
    };
    return p;
}

static struct oc_jwks *load_jwks(const char *name)
{
    char path[4096];
    struct oc_jwks *k = NULL;

    fx_path(path, sizeof(path), name);
    if (oc_jwks_load_file(path, &k, NULL) < 0) {
        return NULL;
    }
    return k;
}

static int setup(void **state)
{
    jwks_common = load_jwks("jwks-common.json");
    jwks_tenant = load_jwks("jwks-tenant.json");
    jwks_other = load_jwks("jwks-other-tenant.json");
    return jwks_common != NULL && jwks_tenant != NULL && jwks_other != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    oc_jwks_free(jwks_common);
    oc_jwks_free(jwks_tenant);
    oc_jwks_free(jwks_other);
    return 0;
}

/* No detail may carry the token's signature (or the token). */
static void assert_report_leaks_nothing(const struct oc_verify_report *rep, const char *tok,
                                        size_t len)
{
    const char *dot = memrchr(tok, '.', len);
    char sig_prefix[17];

    if (dot == NULL || (size_t)(tok + len - dot - 1) < 16) {
        return;
    }
    memcpy(sig_prefix, dot + 1, 16);
    sig_prefix[16] = '\0';
    for (size_t i = 0; i < rep->n; i++) {
        assert_null(strstr(rep->checks[i].detail, sig_prefix));
    }
}

static struct oc_verify_result *accept_tok(const char *tok, size_t len, const struct oc_jwks *keys,
                                           const struct oc_verify_policy *p)
{
    struct oc_verify_result *res = NULL;
    struct oc_verify_report rep = {.explain = true};
    int r = oc_verify_token(tok, len, keys, p, &res, &rep);

    if (r != 0) {
        fail_msg("refused (%d) at %s: %s", r, oc_verify_report_failed(&rep),
                 rep.n > 0 ? rep.checks[rep.n - 1].detail : "");
    }
    assert_non_null(res);
    assert_null(rep.failed);
    assert_int_equal(rep.n, sizeof(all_checks) / sizeof(all_checks[0]));
    for (size_t i = 0; i < rep.n; i++) {
        assert_string_equal(rep.checks[i].name, all_checks[i]);
        assert_true(rep.checks[i].ok);
        assert_true(rep.checks[i].detail[0] != '\0'); /* explain = true */
    }
    assert_report_leaks_nothing(&rep, tok, len);
    return res;
}

static struct oc_verify_result *accept_with(const char *name, const struct oc_jwks *keys,
                                            const struct oc_verify_policy *p)
{
    size_t len = 0;
    char *tok = fx_token(name, &len);
    struct oc_verify_result *res = accept_tok(tok, len, keys, p);

    free(tok);
    return res;
}

static struct oc_verify_result *accept_fx(const char *name)
{
    struct oc_verify_policy p = policy();
    return accept_with(name, jwks_common, &p);
}

/* Refusal: return code, failing check, and the failing check is the last
 * entry, preceded by passed checks in the documented order. */
static void refuse_tok(const char *tok, size_t len, const struct oc_jwks *keys,
                       const struct oc_verify_policy *p, int want_rc, const char *check,
                       const char *detail_part)
{
    struct oc_verify_result *res = (struct oc_verify_result *)0x1;
    struct oc_verify_report rep = {.explain = (len % 2) == 0};
    int r = oc_verify_token(tok, len, keys, p, &res, &rep);

    if (r != want_rc || rep.failed == NULL || strcmp(rep.failed, check) != 0) {
        fail_msg("want %d at '%s', got %d at '%s': %s", want_rc, check, r,
                 oc_verify_report_failed(&rep), rep.n > 0 ? rep.checks[rep.n - 1].detail : "");
    }
    assert_ptr_equal(res, (struct oc_verify_result *)0x1);
    assert_true(rep.n >= 1);
    assert_string_equal(rep.checks[rep.n - 1].name, check);
    assert_false(rep.checks[rep.n - 1].ok);
    for (size_t i = 0; i + 1 < rep.n; i++) {
        assert_true(rep.checks[i].ok);
        assert_string_equal(rep.checks[i].name, all_checks[i]);
    }
    if (detail_part != NULL && strstr(rep.checks[rep.n - 1].detail, detail_part) == NULL) {
        fail_msg("detail '%s' lacks '%s'", rep.checks[rep.n - 1].detail, detail_part);
    }
    assert_report_leaks_nothing(&rep, tok, len);
}

static void refuse_with(const char *name, const struct oc_jwks *keys,
                        const struct oc_verify_policy *p, int want_rc, const char *check,
                        const char *detail_part)
{
    size_t len = 0;
    char *tok = fx_token(name, &len);

    refuse_tok(tok, len, keys, p, want_rc, check, detail_part);
    free(tok);
}

static void refuse_fx(const char *name, const char *check, const char *detail_part)
{
    struct oc_verify_policy p = policy();
    refuse_with(name, jwks_common, &p, -EACCES, check, detail_part);
}

/* ---- accepted tokens ---------------------------------------------------- */

static void test_valid_v1_rs256(void **state)
{
    struct oc_verify_result *res = accept_fx("v1-rs256");

    assert_int_equal(res->version, 1);
    assert_string_equal(res->tid, FX_TENANT);
    assert_string_equal(res->iss, "https://sts.windows.net/" FX_TENANT "/");
    assert_string_equal(res->aud, FX_HOST_APP_URI);
    assert_string_equal(res->appid, FX_AGENT_APP_ID);
    assert_string_equal(res->appidacr, "2");
    assert_string_equal(res->oid, FX_AGENT_OID);
    assert_string_equal(res->sub, FX_AGENT_OID);
    assert_string_equal(res->idtyp, "app");
    assert_string_equal(res->uti, "k3J1cQxL0UeQ2Yv9nW4bAA");
    assert_ptr_equal(res->log_id, res->uti);
    assert_null(res->jti);
    assert_int_equal(res->n_roles, 2);
    assert_string_equal(res->roles[0], "Host.Login");
    assert_string_equal(res->roles[1], "Host.Sudo");
    assert_int_equal(res->iat, FX_IAT);
    assert_int_equal(res->nbf, FX_IAT);
    assert_int_equal(res->exp, FX_EXP);
    assert_true(res->has_iat);
    assert_true(res->has_nbf);
    assert_false(res->is_agent_identity);
    assert_int_equal(res->alg, OC_ALG_RS256);
    assert_string_equal(res->kid, FX_KID_A);
    oc_verify_result_free(res);
}

static void test_valid_v1_variants(void **state)
{
    struct oc_verify_result *res = accept_fx("v1-x5t-only");
    assert_string_equal(res->kid, FX_KID_A);
    oc_verify_result_free(res);
    res = accept_fx("v1-no-idtyp");
    assert_null(res->idtyp);
    oc_verify_result_free(res);
}

static void test_valid_v2_rs256_ps256_es256(void **state)
{
    struct oc_verify_result *res = accept_fx("v2-rs256");
    assert_int_equal(res->version, 2);
    assert_string_equal(res->appid, FX_AGENT_APP_ID);
    assert_string_equal(res->aud, FX_HOST_APP_ID);
    assert_string_equal(res->iss, "https://login.microsoftonline.com/" FX_TENANT "/v2.0");
    assert_int_equal(res->n_roles, 1);
    oc_verify_result_free(res);

    res = accept_fx("v2-ps256");
    assert_int_equal(res->alg, OC_ALG_PS256);
    oc_verify_result_free(res);

    res = accept_fx("v2-es256");
    assert_int_equal(res->alg, OC_ALG_ES256);
    assert_string_equal(res->kid, FX_KID_EC);
    oc_verify_result_free(res);

    res = accept_fx("v2-at-jwt");
    oc_verify_result_free(res);
}

static void test_valid_agent_identity(void **state)
{
    struct oc_verify_result *res = accept_fx("v2-agent");

    assert_true(res->is_agent_identity);
    assert_string_equal(res->xms_act_fct, "3 9 11");
    assert_string_equal(res->xms_sub_fct, "9 3 11");
    assert_string_equal(res->xms_par_app_azp, FX_BLUEPRINT_APP_ID);
    oc_verify_result_free(res);
}

static void test_aud_as_array(void **state)
{
    struct oc_verify_result *res = accept_fx("v2-aud-array");
    assert_string_equal(res->aud, FX_HOST_APP_ID);
    oc_verify_result_free(res);
    refuse_fx("wrong-aud-array", "audience", "none of the 2 aud values");
}

static void test_tenant_endpoint_jwks_accepts_v1_and_v2(void **state)
{
    struct oc_verify_policy p = policy();
    struct oc_verify_result *res = accept_with("v1-rs256", jwks_tenant, &p);
    oc_verify_result_free(res);
    res = accept_with("v2-rs256", jwks_tenant, &p);
    oc_verify_result_free(res);
}

static void test_key_issuer_of_another_tenant_is_refused(void **state)
{
    struct oc_verify_policy p = policy();
    refuse_with("v1-rs256", jwks_other, &p, -EACCES, "key-issuer", FX_OTHER_TENANT);
    refuse_with("v2-rs256", jwks_other, &p, -EACCES, "key-issuer", NULL);
}

/* ---- refused before the signature ------------------------------------- */

static void test_alg_none_and_hmac_are_refused(void **state)
{
    refuse_fx("alg-none", "alg", "never accepted");
    refuse_fx("hs256-pubkey", "alg", "HMAC");
}

static void test_alg_disabled_by_policy(void **state)
{
    struct oc_verify_policy p = policy();
    p.alg_mask = OC_ALG_RS256;
    refuse_with("v2-es256", jwks_common, &p, -EACCES, "alg", "not enabled");
    refuse_with("v2-ps256", jwks_common, &p, -EACCES, "alg", "not enabled");
}

static void test_unknown_kid_asks_for_refresh(void **state)
{
    struct oc_verify_policy p = policy();
    refuse_with("unknown-kid", jwks_common, &p, -ENOKEY, "kid", "no key with kid 'no-such-kid'");
    refuse_with("kid-dotdot", jwks_common, &p, -ENOKEY, "kid", "../../../etc/passwd");
}

static void test_kid_nul_and_oversized(void **state)
{
    refuse_fx("kid-nul", "header", "\\u0000");
    refuse_fx("kid-4k", "kid", "4096 bytes (max 256)");
}

static void test_rsa_1024_key_is_not_used(void **state)
{
    refuse_fx("weak-key", "kid", "1024 bits");
}

static void test_key_bound_to_other_alg(void **state)
{
    refuse_fx("ps256-on-rs256-key", "kid", "may not be used with PS256");
}

static void test_crit_and_duplicate_header(void **state)
{
    refuse_fx("crit", "header", "crit");
    refuse_fx("dup-header", "header", "duplicate");
}

/* ---- signature ---------------------------------------------------------- */

static void test_signature_from_wrong_key(void **state)
{
    refuse_fx("wrong-key", "signature", "RS256 signature does not verify");
    refuse_fx("es256-wrong-key", "signature", "ES256");
}

static void test_tampered_payload_fails_signature(void **state)
{
    size_t len = 0;
    char *tok = fx_token("v2-rs256", &len);
    char *dot = strchr(tok, '.');
    struct oc_verify_policy p = policy();

    /* flip one payload character to another base64url character */
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    refuse_tok(tok, len, jwks_common, &p, -EACCES, "signature", NULL);
    free(tok);
}

/* ---- claims --------------------------------------------------------------- */

static void test_expired(void **state)
{
    struct oc_verify_policy p = policy();
    struct oc_verify_result *res;
    char want[128];

    p.now = FX_EXP + SKEW + 42;
    snprintf(want, sizeof(want), "exp %lld is %d s in the past (skew %d s)", (long long)FX_EXP,
             SKEW + 42, SKEW);
    refuse_with("v1-rs256", jwks_common, &p, -EACCES, "expiry", want);
    p.now = FX_EXP + SKEW;
    refuse_with("v2-rs256", jwks_common, &p, -EACCES, "expiry", NULL);
    p.now = FX_EXP + SKEW - 1;
    res = accept_with("v2-rs256", jwks_common, &p);
    oc_verify_result_free(res);
    p.clock_skew = 0;
    p.now = FX_EXP;
    refuse_with("v2-rs256", jwks_common, &p, -EACCES, "expiry", "(skew 0 s)");
}

static void test_not_yet_valid(void **state)
{
    struct oc_verify_policy p = policy();
    struct oc_verify_result *res;

    p.now = FX_IAT - SKEW - 10;
    refuse_with("v2-rs256", jwks_common, &p, -EACCES, "not-before", "310 s in the future");
    p.now = FX_IAT - SKEW;
    res = accept_with("v2-rs256", jwks_common, &p);
    oc_verify_result_free(res);
}

static void test_exp_must_be_a_strict_integer(void **state)
{
    refuse_fx("exp-string", "expiry", "not an integer");
    refuse_fx("exp-float", "expiry", "not an integer");
    refuse_fx("exp-1e300", "expiry", "out of range");
    refuse_fx("exp-negative", "expiry", "out of range");
    refuse_fx("no-exp", "expiry", "missing");
}

static void test_exp_before_iat(void **state)
{
    struct oc_verify_policy p = policy();
    p.now = FX_IAT - 200;
    refuse_with("exp-before-iat", jwks_common, &p, -EACCES, "issued-at", "not after iat");
}

static void test_max_age(void **state)
{
    struct oc_verify_policy p = policy();
    struct oc_verify_result *res;

    p.max_token_age = 200; /* token is 600 s old; 600 > 200 + 300 */
    refuse_with("v2-rs256", jwks_common, &p, -EACCES, "max-age", "600 s old");
    p.max_token_age = 3600;
    res = accept_with("v2-rs256", jwks_common, &p);
    oc_verify_result_free(res);
}

static void test_issuer_tenant_audience(void **state)
{
    refuse_fx("wrong-iss", "issuer", "not the v1 or v2 issuer");
    refuse_fx("wrong-iss-host", "issuer", "login.example.com");
    refuse_fx("wrong-tid", "tenant", FX_OTHER_TENANT);
    refuse_fx("no-tid", "key-issuer", "tid claim is missing");
    refuse_fx("wrong-aud", "audience", "is not a configured audience");
}

static void test_issuer_form_and_ver_must_agree(void **state)
{
    refuse_fx("v1-iss-ver2", "version", "ver '2.0' does not match the v1");
    refuse_fx("v2-iss-ver1", "version", "ver '1.0' does not match the v2");
}

static void test_disabled_issuer_form(void **state)
{
    struct oc_verify_policy p = policy();
    p.issuer_v1 = NULL;
    refuse_with("v1-rs256", jwks_common, &p, -EACCES, "issuer", NULL);
}

static void test_delegated_tokens_are_refused(void **state)
{
    refuse_fx("scp", "app-only", "scp claim ('User.Read')");
    refuse_fx("v1-scp", "app-only", "delegated");
    refuse_fx("idtyp-user", "app-only", "idtyp 'user'");
    refuse_fx("v2-no-idtyp", "app-only", "idtyp");
}

static void test_payload_strictness(void **state)
{
    refuse_fx("dup-claims", "payload", "duplicate member name");
    refuse_fx("non-utf8", "payload", "UTF-8");
}

static void test_identity_claims(void **state)
{
    refuse_fx("no-oid", "identity", "oid");
    refuse_fx("azp-not-guid", "identity", "azp");
    refuse_fx("roles-not-strings", "identity", "roles");
    /* appid and azp both present: they must name the same application */
    refuse_fx("v1-azp-disagrees", "identity", "different applications");
    refuse_fx("v2-appid-disagrees", "identity", "different applications");
}

static void test_appid_and_azp_that_agree(void **state)
{
    struct oc_verify_result *res = accept_fx("v2-appid-agrees");

    oc_verify_result_free(res);
}

/* ---- shape of the token ----------------------------------------------------- */

static void test_truncated_and_extra_segments(void **state)
{
    size_t len = 0;
    char *tok = fx_token("v1-rs256", &len);
    char *t = malloc(len + 8);
    struct oc_verify_policy p = policy();
    const char *dot2 = strrchr(tok, '.');

    assert_non_null(t);
    refuse_tok(tok, (size_t)(dot2 - tok), jwks_common, &p, -EACCES, "format", "found 2");
    refuse_tok(tok, 20, jwks_common, &p, -EACCES, "format", "found 1");
    /* signature cut short: still 3 segments, the signature does not verify */
    refuse_tok(tok, len - 2, jwks_common, &p, -EACCES, "signature", NULL);
    snprintf(t, len + 8, "%s.abcd", tok);
    refuse_tok(t, strlen(t), jwks_common, &p, -EACCES, "format", "found 4");
    snprintf(t, len + 8, "%s=", tok);
    refuse_tok(t, strlen(t), jwks_common, &p, -EACCES, "format", "padding");
    memcpy(t, tok, len + 1);
    t[10] = '+';
    refuse_tok(t, len, jwks_common, &p, -EACCES, "format", "base64url");
    memcpy(t, tok, len + 1);
    t[len - 3] = '/';
    refuse_tok(t, len, jwks_common, &p, -EACCES, "format", "base64url");
    free(t);
    free(tok);
}

static void test_1mib_token_refused_by_size(void **state)
{
    size_t big = 1024 * 1024, len = 0;
    char *tok = fx_token("v2-rs256", &len);
    char *t = malloc(big);
    struct oc_verify_policy p = policy();

    assert_non_null(t);
    memset(t, 'A', big);
    memcpy(t, tok, len);
    refuse_tok(t, big, jwks_common, &p, -EACCES, "size", "1048576 bytes (max 16384)");
    free(t);
    free(tok);
}

static void test_nested_header_refused(void **state)
{
    size_t depth = 5000;
    char *hdr = malloc(2 * depth + 64), *h = NULL, *t;
    struct oc_verify_policy p = policy();
    size_t o;

    assert_non_null(hdr);
    o = (size_t)sprintf(hdr, "{\"alg\":\"RS256\",\"kid\":\"%s\",\"x\":", FX_KID_A);
    memset(hdr + o, '[', depth);
    memset(hdr + o + depth, ']', depth);
    o += 2 * depth;
    strcpy(hdr + o, "}");
    assert_int_equal(oc_b64url_encode((const uint8_t *)hdr, strlen(hdr), &h), 0);
    t = malloc(strlen(h) + 16);
    assert_non_null(t);
    sprintf(t, "%s.e30.AAAA", h);
    refuse_tok(t, strlen(t), jwks_common, &p, -EACCES, "header", "nesting deeper than 32");
    free(t);
    free(h);
    free(hdr);
}

static void test_invalid_policy(void **state)
{
    struct oc_verify_policy p = policy();
    struct oc_verify_result *res = NULL;
    struct oc_verify_report rep = {.explain = false};
    size_t len = 0;
    char *tok = fx_token("v2-rs256", &len);

    p.tenant_id = "contoso.onmicrosoft.com";
    assert_int_equal(oc_verify_token(tok, len, jwks_common, &p, &res, &rep), -EINVAL);
    assert_string_equal(rep.failed, "policy");
    p = policy();
    p.clock_skew = OC_SKEW_MAX + 1;
    assert_int_equal(oc_verify_token(tok, len, jwks_common, &p, &res, &rep), -EINVAL);
    p = policy();
    p.n_audiences = 0;
    assert_int_equal(oc_verify_token(tok, len, jwks_common, &p, &res, &rep), -EINVAL);
    p = policy();
    p.alg_mask = 1u << 7;
    assert_int_equal(oc_verify_token(tok, len, jwks_common, &p, &res, &rep), -EINVAL);
    p = policy();
    assert_int_equal(oc_verify_token(tok, len, NULL, &p, &res, &rep), -EINVAL);
    /* a NULL report is allowed */
    assert_int_equal(oc_verify_token(tok, len, jwks_common, &p, &res, NULL), 0);
    oc_verify_result_free(res);
    free(tok);
}

/* ---- claim rules alone (no signature) -------------------------------------- */

static int claims_only(const char *json, const char *key_issuer, struct oc_verify_result **res,
                       struct oc_verify_report *rep)
{
    struct oc_verify_policy p = policy();
    cJSON *c = NULL;

    assert_int_equal(oc_json_parse_object(json, strlen(json), &c, NULL), 0);
    return oc_verify_claims(c, key_issuer, &p, res, rep);
}

#define V2_BASE "\"aud\":\"" FX_HOST_APP_ID "\"," V2_REST
#define V2_REST                                                                                    \
    "\"iss\":\"https://login.microsoftonline.com/" FX_TENANT "/v2.0\",\"tid\":\"" FX_TENANT        \
    "\",\"ver\":\"2.0\",\"exp\":1750004199,\"idtyp\":\"app\","                                     \
    "\"azp\":\"" FX_AGENT_APP_ID "\",\"oid\":\"" FX_AGENT_OID "\""

static void test_facets(void **state)
{
    struct oc_verify_result *res = NULL;
    struct oc_verify_report rep = {.explain = true};

    assert_int_equal(claims_only("{" V2_BASE ",\"xms_sub_fct\":\"11\"}", NULL, &res, &rep), 0);
    assert_true(res->is_agent_identity);
    assert_int_equal(res->n_roles, 0);
    assert_false(res->has_iat);
    oc_verify_result_free(res);
    assert_int_equal(claims_only("{" V2_BASE ",\"xms_act_fct\":\"1 111 21\"}", NULL, &res, &rep),
                     0);
    assert_false(res->is_agent_identity);
    oc_verify_result_free(res);
    res = NULL;
    assert_int_equal(claims_only("{" V2_BASE ",\"xms_act_fct\":\"3 x 11\"}", NULL, &res, &rep),
                     -EACCES);
    assert_string_equal(rep.failed, "identity");
    assert_int_equal(claims_only("{" V2_BASE ",\"xms_act_fct\":\"3  11\"}", NULL, &res, &rep),
                     -EACCES);
    assert_int_equal(claims_only("{" V2_BASE ",\"xms_sub_fct\":11}", NULL, &res, &rep), -EACCES);
    assert_int_equal(claims_only("{" V2_BASE ",\"xms_par_app_azp\":\"x\"}", NULL, &res, &rep),
                     -EACCES);
    assert_int_equal(claims_only("{" V2_BASE ",\"scp\":7}", NULL, &res, &rep), -EACCES);
    assert_string_equal(rep.failed, "app-only");
    assert_int_equal(claims_only("{" V2_REST ",\"aud\":[]}", NULL, &res, &rep), -EACCES);
    assert_null(res);
}

/* ---- concurrency ------------------------------------------------------------- */

struct worker {
    const char *tok;
    size_t len;
    int failures;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct oc_verify_policy p = policy();

    for (int i = 0; i < 200; i++) {
        struct oc_verify_result *res = NULL;
        if (oc_verify_token(w->tok, w->len, jwks_common, &p, &res, NULL) != 0 ||
            strcmp(res->oid, FX_AGENT_OID) != 0) {
            w->failures++;
        }
        oc_verify_result_free(res);
    }
    return NULL;
}

static void test_concurrent_verifications_share_one_key_set(void **state)
{
    const char *names[] = {"v1-rs256", "v2-ps256", "v2-es256", "v2-agent"};
    pthread_t th[4];
    struct worker w[4];
    char *toks[4];

    for (int i = 0; i < 4; i++) {
        toks[i] = fx_token(names[i], &w[i].len);
        w[i].tok = toks[i];
        w[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
        free(toks[i]);
    }
}

/* A fresh key set whose per-key prepared verification contexts are set up
 * by whichever thread gets there first: eight threads released together
 * verify good and bad tokens of every algorithm against it. Every answer
 * must be right (a context for one algorithm must never serve another),
 * and the sanitizer build catches a context freed twice or leaked. */
struct race {
    const struct oc_jwks *keys;
    pthread_barrier_t *start;
    int wrong;
};

static void *race_main(void *arg)
{
    static const struct {
        const char *name;
        bool good;
    } cases[] = {
            {"v2-ps256", true}, {"v1-rs256", true},         {"ps256-on-rs256-key", false},
            {"v2-es256", true}, {"es256-wrong-key", false}, {"v2-agent", true},
    };
    struct race *rc = arg;
    struct oc_verify_policy p = policy();
    char *toks[6];
    size_t lens[6];

    for (int c = 0; c < 6; c++) {
        toks[c] = fx_token(cases[c].name, &lens[c]);
    }
    pthread_barrier_wait(rc->start);
    for (int i = 0; i < 50; i++) {
        for (int c = 0; c < 6; c++) {
            struct oc_verify_result *res = NULL;
            int r = oc_verify_token(toks[c], lens[c], rc->keys, &p, &res, NULL);
            if ((r == 0) != cases[c].good) {
                rc->wrong++;
            }
            oc_verify_result_free(res);
        }
    }
    for (int c = 0; c < 6; c++) {
        free(toks[c]);
    }
    return NULL;
}

static void test_first_use_of_a_key_set_from_many_threads(void **state)
{
    enum { N = 8 };
    struct oc_jwks *keys = load_jwks("jwks-common.json");
    pthread_barrier_t start;
    pthread_t th[N];
    struct race rc[N];

    assert_non_null(keys);
    assert_int_equal(pthread_barrier_init(&start, NULL, N), 0);
    for (int i = 0; i < N; i++) {
        rc[i] = (struct race){keys, &start, 0};
        assert_int_equal(pthread_create(&th[i], NULL, race_main, &rc[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(rc[i].wrong, 0);
    }
    pthread_barrier_destroy(&start);
    oc_jwks_free(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_valid_v1_rs256),
            cmocka_unit_test(test_valid_v1_variants),
            cmocka_unit_test(test_valid_v2_rs256_ps256_es256),
            cmocka_unit_test(test_valid_agent_identity),
            cmocka_unit_test(test_aud_as_array),
            cmocka_unit_test(test_tenant_endpoint_jwks_accepts_v1_and_v2),
            cmocka_unit_test(test_key_issuer_of_another_tenant_is_refused),
            cmocka_unit_test(test_alg_none_and_hmac_are_refused),
            cmocka_unit_test(test_alg_disabled_by_policy),
            cmocka_unit_test(test_unknown_kid_asks_for_refresh),
            cmocka_unit_test(test_kid_nul_and_oversized),
            cmocka_unit_test(test_rsa_1024_key_is_not_used),
            cmocka_unit_test(test_key_bound_to_other_alg),
            cmocka_unit_test(test_crit_and_duplicate_header),
            cmocka_unit_test(test_signature_from_wrong_key),
            cmocka_unit_test(test_tampered_payload_fails_signature),
            cmocka_unit_test(test_expired),
            cmocka_unit_test(test_not_yet_valid),
            cmocka_unit_test(test_exp_must_be_a_strict_integer),
            cmocka_unit_test(test_exp_before_iat),
            cmocka_unit_test(test_max_age),
            cmocka_unit_test(test_issuer_tenant_audience),
            cmocka_unit_test(test_issuer_form_and_ver_must_agree),
            cmocka_unit_test(test_disabled_issuer_form),
            cmocka_unit_test(test_delegated_tokens_are_refused),
            cmocka_unit_test(test_payload_strictness),
            cmocka_unit_test(test_identity_claims),
            cmocka_unit_test(test_appid_and_azp_that_agree),
            cmocka_unit_test(test_truncated_and_extra_segments),
            cmocka_unit_test(test_1mib_token_refused_by_size),
            cmocka_unit_test(test_nested_header_refused),
            cmocka_unit_test(test_invalid_policy),
            cmocka_unit_test(test_facets),
            cmocka_unit_test(test_concurrent_verifications_share_one_key_set),
            cmocka_unit_test(test_first_use_of_a_key_set_from_many_threads),
    };
    return cmocka_run_group_tests_name("entra", tests, setup, teardown);
}
