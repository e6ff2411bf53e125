/* SPDX-License-Identifier: MIT */
/* Unit tests for helper/creds/oc_credparse.c: the Azure Arc challenge and realm
 * path checks, and the OIDC discovery validator. */
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

#include "helper/creds/oc_credparse.h"

#define DIR  "/var/opt/azcmagent/tokens"
#define AUTH "https://login.microsoftonline.com"
#define TID  "5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c"
#define ISS  AUTH "/" TID "/v2.0"
#define TOK  AUTH "/" TID "/oauth2/v2.0/token"
#define KEYS AUTH "/" TID "/discovery/v2.0/keys"

static void realm_ok(const char *value, const char *want)
{
    char path[OC_CONFIG_PATH_MAX + 1];
    const char *why = NULL;

    if (oc_arc_challenge_realm(value, path, sizeof(path), &why) != 0) {
        fail_msg("'%s' refused: %s", value, why);
    }
    assert_string_equal(path, want);
}

static void realm_bad(const char *value, const char *want_why)
{
    char path[OC_CONFIG_PATH_MAX + 1] = "untouched";
    const char *why = NULL;

    assert_true(oc_arc_challenge_realm(value, path, sizeof(path), &why) < 0);
    assert_non_null(why);
    if (strstr(why, want_why) == NULL) {
        fail_msg("'%s': expected '%s', got '%s'", value, want_why, why);
    }
}

static void test_challenge_realm(void **state)
{
    (void)state;
    realm_ok("Basic realm=" DIR "/a.key", DIR "/a.key");
    realm_ok("  basic   REALM=\"" DIR "/a.key\"\r\n", DIR "/a.key");
    realm_ok("BASIC realm=/x", "/x");
    realm_bad("Bearer realm=\"\"", "not \"Basic realm=PATH\"");
    realm_bad("Basicrealm=/x", "not \"Basic realm=PATH\"");
    realm_bad("Basic", "not \"Basic realm=PATH\"");
    realm_bad("Basic charset=utf-8", "no realm");
    realm_bad("Basic realm=", "empty");
    realm_bad("Basic realm=\"\"", "empty");
    realm_bad("Basic realm=\"/x", "unbalanced quote");
    realm_bad("Basic realm=/a b.key", "space");
    realm_bad("Basic realm=/a.key, charset=x", "comma");
    realm_bad("Basic realm=/a\\b.key", "backslash");
    realm_bad("Basic realm=/\xc3\xa9.key", "non-ASCII");
}

static void test_challenge_realm_length(void **state)
{
    char value[OC_CONFIG_PATH_MAX + 64], path[OC_CONFIG_PATH_MAX + 1];
    const char *why = NULL;

    (void)state;
    strcpy(value, "Basic realm=/");
    memset(value + strlen(value), 'a', OC_CONFIG_PATH_MAX);
    value[strlen("Basic realm=/") + OC_CONFIG_PATH_MAX] = '\0';
    assert_int_equal(oc_arc_challenge_realm(value, path, sizeof(path), &why), -ENAMETOOLONG);
    /* A small output buffer is respected too. */
    assert_int_equal(oc_arc_challenge_realm("Basic realm=/abcdef.key", path, 4, &why),
                     -ENAMETOOLONG);
}

static void check_ok(const char *path, const char *dir)
{
    const char *why = NULL;

    if (oc_arc_realm_check(path, dir, &why) != 0) {
        fail_msg("'%s' in '%s' refused: %s", path, dir, why);
    }
}

static void check_bad(const char *path, const char *dir, const char *want_why)
{
    const char *why = NULL;

    assert_int_equal(oc_arc_realm_check(path, dir, &why), -EPERM);
    if (why == NULL || strstr(why, want_why) == NULL) {
        fail_msg("'%s': expected '%s', got '%s'", path, want_why, why);
    }
}

static void test_realm_path(void **state)
{
    (void)state;
    check_ok(DIR "/0b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e.key", DIR);
    check_ok(DIR "/x.key", DIR);
    check_ok("/x.key", "/");
    check_bad("x.key", DIR, "not an absolute path");
    check_bad(DIR "/../tokens/x.key", DIR, "not a canonical path");
    check_bad(DIR "/./x.key", DIR, "not a canonical path");
    check_bad(DIR "//x.key", DIR, "not a canonical path");
    check_bad(DIR "/x.key/", DIR, "not a canonical path");
    check_bad(DIR "/..", DIR, "not a canonical path");
    check_bad("/var/opt/azcmagent/tokensX/x.key", DIR, "not a file directly inside");
    check_bad("/var/opt/azcmagent/x.key", DIR, "not a file directly inside");
    check_bad(DIR "/sub/x.key", DIR, "not a file directly inside");
    check_bad(DIR, DIR, "not a file directly inside");
    check_bad("/tmp/x.key", DIR, "not a file directly inside");
    check_bad(DIR "/x.txt", DIR, "does not end in .key");
    check_bad(DIR "/.key", DIR, "does not end in .key");
    check_bad(DIR "/.hidden.key", DIR, "does not end in .key");
    check_bad(DIR "/x.key.bak", DIR, "does not end in .key");
}

static void test_issuer_expand(void **state)
{
    char buf[128];

    (void)state;
    assert_int_equal(oc_issuer_expand(AUTH "/{tenantid}/v2.0", TID, buf, sizeof(buf)), 0);
    assert_string_equal(buf, ISS);
    assert_int_equal(oc_issuer_expand("{tenantid}{tenantid}", "ab", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "abab");
    assert_int_equal(oc_issuer_expand("no placeholder", TID, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "no placeholder");
    assert_int_equal(oc_issuer_expand(AUTH "/{tenantid}/v2.0", TID, buf, 40), -ENAMETOOLONG);
    assert_int_equal(oc_issuer_expand("abc", "", buf, 3), -ENAMETOOLONG);
    assert_int_equal(oc_issuer_expand("abc", "", buf, 4), 0);
}

static int disc(const char *doc, struct oc_discovery *d, const char **why)
{
    return oc_discovery_parse(doc, strlen(doc), ISS, AUTH, d, why);
}

static void disc_bad(const char *doc, const char *want_why)
{
    struct oc_discovery d;
    const char *why = NULL;

    assert_int_equal(disc(doc, &d, &why), -EBADMSG);
    if (why == NULL || strstr(why, want_why) == NULL) {
        fail_msg("expected '%s', got '%s' for %s", want_why, why, doc);
    }
}

#define DOC(iss, tok, keys)                                                                        \
    "{\"issuer\":\"" iss "\",\"token_endpoint\":\"" tok "\",\"jwks_uri\":\"" keys                  \
    "\",\"scopes_supported\":[\"openid\"]}"

static void test_discovery(void **state)
{
    struct oc_discovery d;
    const char *why = NULL;

    (void)state;
    assert_int_equal(disc(DOC(ISS, TOK, KEYS), &d, &why), 0);
    assert_string_equal(d.token_endpoint, TOK);
    assert_string_equal(d.jwks_uri, KEYS);
    /* The authority's own port, and a path-less endpoint, are fine. */
    assert_int_equal(oc_discovery_parse(DOC(ISS, "https://h:8443/t", "https://h:8443"),
                                        strlen(DOC(ISS, "https://h:8443/t", "https://h:8443")), ISS,
                                        "https://h:8443", &d, &why),
                     0);

    disc_bad(DOC("https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0", TOK,
                 KEYS),
             "issuer is missing or is not the configured issuer_v2");
    disc_bad(DOC(AUTH "/{tenantid}/v2.0", TOK, KEYS), "issuer");
    disc_bad("{\"token_endpoint\":\"" TOK "\",\"jwks_uri\":\"" KEYS "\"}", "issuer");
    disc_bad(DOC(ISS, "http://login.microsoftonline.com/t", KEYS),
             "token_endpoint is not an https URL");
    disc_bad(DOC(ISS, "HTTPS://login.microsoftonline.com/t", KEYS),
             "token_endpoint is not an https URL");
    disc_bad(DOC(ISS, TOK, "https://evil.example/keys"),
             "jwks_uri is not on the configured authority's host");
    disc_bad(DOC(ISS, "https://login.microsoftonline.com.evil.example/t", KEYS),
             "token_endpoint is not on the configured authority's host");
    disc_bad(DOC(ISS, "https://login.microsoftonline.com:444/t", KEYS),
             "token_endpoint is not on the configured authority's host");
    disc_bad(DOC(ISS, "https://user@login.microsoftonline.com/t", KEYS), "user info");
    disc_bad(DOC(ISS, TOK "?x=1", KEYS), "query");
    disc_bad(DOC(ISS, TOK "#f", KEYS), "fragment");
    disc_bad(DOC(ISS, AUTH "/{tenantid}/t", KEYS), "brace");
    disc_bad(DOC(ISS, AUTH "/a b", KEYS), "space");
    disc_bad(DOC(ISS, "https://", KEYS), "token_endpoint is not an https URL");
    disc_bad("{\"issuer\":\"" ISS "\",\"token_endpoint\":\"" TOK "\"}",
             "jwks_uri is missing, not a string or too long");
    disc_bad("{\"issuer\":\"" ISS "\",\"token_endpoint\":42,\"jwks_uri\":\"" KEYS "\"}",
             "token_endpoint is missing");
    disc_bad("{\"issuer\":\"" ISS "\",\"issuer\":\"" ISS "\",\"token_endpoint\":\"" TOK
             "\",\"jwks_uri\":\"" KEYS "\"}",
             "not a strict JSON object");
    disc_bad("[1]", "not a strict JSON object");
    disc_bad(DOC(ISS, TOK, KEYS) "x", "not a strict JSON object");
}

static void test_discovery_size_cap(void **state)
{
    size_t n = OC_DISCOVERY_MAX + 1;
    char *big = malloc(n + 1);
    struct oc_discovery d;
    const char *why = NULL;
    const char *doc = DOC(ISS, TOK, KEYS);

    (void)state;
    assert_non_null(big);
    /* A valid document padded with spaces past the cap is refused by size. */
    memset(big, ' ', n);
    memcpy(big, doc, strlen(doc));
    big[n] = '\0';
    assert_int_equal(oc_discovery_parse(big, n, ISS, AUTH, &d, &why), -EBADMSG);
    assert_non_null(strstr(why, "larger than 64 KiB"));
    assert_int_equal(oc_discovery_parse(big, OC_DISCOVERY_MAX, ISS, AUTH, &d, &why), 0);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_challenge_realm), cmocka_unit_test(test_challenge_realm_length),
            cmocka_unit_test(test_realm_path),      cmocka_unit_test(test_issuer_expand),
            cmocka_unit_test(test_discovery),       cmocka_unit_test(test_discovery_size_cap),
    };

    return cmocka_run_group_tests_name("credparse", tests, NULL, NULL);
}
