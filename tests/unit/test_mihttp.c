/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of helper/daemon/oc_mihttp.c (the managed-identity endpoint's HTTP)
 * and helper/daemon/oc_mi_env.c (the session environment).
 */
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

#include "conf.h"
#include "helper/daemon/oc_mi.h"
#include "helper/daemon/oc_mihttp.h"

/* What the Azure SDK for JS (@azure/identity 4.13, msal-node 5) sends. */
#define SDK_REQUEST                                                                                \
    "GET /metadata/identity/oauth2/token/?api-version=2018-02-01&resource=api%3A%2F%2Fopenclaw-"   \
    "host HTTP/1.1\r\n"                                                                            \
    "Metadata: true\r\n"                                                                           \
    "x-client-SKU: msal.js.node\r\n"                                                               \
    "x-client-VER: 5.6.0\r\n"                                                                      \
    "x-ms-client-request-id: 967c0147-da48-4dce-a1d5-f2d4168b71eb\r\n"                             \
    "Content-Type: application/x-www-form-urlencoded;charset=utf-8\r\n"                            \
    "Accept-Encoding: gzip,deflate\r\n"                                                            \
    "User-Agent: azsdk-js-identity/4.13.1 core-rest-pipeline/1.24.0 Node/20.20.2\r\n"              \
    "Host: 127.0.0.1:47123\r\n"                                                                    \
    "Connection: keep-alive\r\n"                                                                   \
    "\r\n"

static struct oc_mihttp_request req;

static int parse(const char *s, const char **why)
{
    *why = NULL;
    return oc_mihttp_parse(s, strlen(s), &req, why);
}

static void bad_head(const char *s)
{
    const char *why;

    if (parse(s, &why) != -EINVAL) {
        fail_msg("accepted: %s", s);
    }
    assert_non_null(why);
}

static void test_sdk_request(void **state)
{
    const char *why;
    struct oc_mihttp_query q;

    (void)state;
    assert_int_equal(oc_mihttp_head_len(SDK_REQUEST, strlen(SDK_REQUEST)),
                     (ssize_t)strlen(SDK_REQUEST));
    assert_int_equal(parse(SDK_REQUEST, &why), 0);
    assert_string_equal(req.method, "GET");
    assert_string_equal(req.path, "/metadata/identity/oauth2/token/");
    assert_true(req.has_query);
    assert_string_equal(req.query, "api-version=2018-02-01&resource=api%3A%2F%2Fopenclaw-host");
    assert_int_equal(req.minor, 1);
    assert_true(req.has_host);
    assert_string_equal(req.host, "127.0.0.1:47123");
    assert_int_equal(req.metadata, 1);
    assert_false(req.forwarded);
    assert_int_equal(oc_mihttp_query_parse(req.query, &q, &why), 0);
    assert_string_equal(q.api_version, "2018-02-01");
    assert_string_equal(q.resource, "api://openclaw-host");
    assert_string_equal(q.client_id, "");
    assert_string_equal(q.object_id, "");
    assert_string_equal(q.res_id, "");
}

static void test_head_len(void **state)
{
    static char big[OC_MIHTTP_HEAD_MAX + 10];

    (void)state;
    assert_int_equal(oc_mihttp_head_len("GET / HTTP/1.1\r\n", 16), 0);
    assert_int_equal(oc_mihttp_head_len("", 0), 0);
    assert_int_equal(oc_mihttp_head_len("\r\n\r\n", 4), 4);
    assert_int_equal(oc_mihttp_head_len("a\r\n\r\nextra", 11), 5);
    memset(big, 'a', sizeof(big));
    assert_int_equal(oc_mihttp_head_len(big, OC_MIHTTP_HEAD_MAX - 1), 0);
    assert_int_equal(oc_mihttp_head_len(big, OC_MIHTTP_HEAD_MAX), -E2BIG);
    assert_int_equal(oc_mihttp_head_len(big, sizeof(big)), -E2BIG);
    /* A head ending exactly at the cap is complete; one byte more is not. */
    memcpy(big + OC_MIHTTP_HEAD_MAX - 4, "\r\n\r\n", 4);
    assert_int_equal(oc_mihttp_head_len(big, OC_MIHTTP_HEAD_MAX), OC_MIHTTP_HEAD_MAX);
    memset(big, 'a', sizeof(big));
    memcpy(big + OC_MIHTTP_HEAD_MAX - 3, "\r\n\r\n", 4);
    assert_int_equal(oc_mihttp_head_len(big, sizeof(big)), -E2BIG);
}

static void test_minimal_and_variants(void **state)
{
    const char *why;

    (void)state;
    assert_int_equal(parse("GET /x HTTP/1.0\r\n\r\n", &why), 0); /* 1.0: Host optional */
    assert_int_equal(req.minor, 0);
    assert_false(req.has_host);
    assert_int_equal(req.metadata, -1);
    assert_false(req.has_query);
    assert_int_equal(parse("GET /x? HTTP/1.1\r\nHost: h\r\n\r\n", &why), 0);
    assert_true(req.has_query);
    assert_string_equal(req.query, "");
    assert_int_equal(parse("GET / HTTP/1.1\r\nhOsT:h  \r\nMETADATA:\tTRUE\t\r\n\r\n", &why), 0);
    assert_string_equal(req.host, "h");
    assert_int_equal(req.metadata, 1);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nMetadata: false\r\n\r\n", &why), 0);
    assert_int_equal(req.metadata, 0);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nMetadata: truex\r\n\r\n", &why), 0);
    assert_int_equal(req.metadata, 0);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nMetadata:\r\n\r\n", &why), 0);
    assert_int_equal(req.metadata, 0);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &why), 0);
    assert_int_equal(parse("POST / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n", &why),
                     0);
    assert_string_equal(req.method, "POST");
    assert_true(req.forwarded);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: h\r\nforwarded: for=x\r\n\r\n", &why), 0);
    assert_true(req.forwarded);
}

static void test_malformed_heads(void **state)
{
    (void)state;
    bad_head("");
    bad_head("\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\n");                  /* no blank line */
    bad_head("GET / HTTP/1.1\r\nHost: h\r\n");       /* no blank line */
    bad_head("GET / HTTP/1.1\n\n");                  /* bare LF */
    bad_head("GET / HTTP/1.1\r\nHost: h\n\r\n");     /* bare LF in a field */
    bad_head("GET / HTTP/1.1\r\nHost: h\r\r\n\r\n"); /* CR inside */
    bad_head("get / HTTP/1.1\r\nHost: h\r\n\r\n");   /* lowercase method */
    bad_head("GET  / HTTP/1.1\r\nHost: h\r\n\r\n");  /* two spaces */
    bad_head("GET / HTTP/1.1 \r\nHost: h\r\n\r\n");  /* trailing space */
    bad_head("GET /\r\nHost: h\r\n\r\n");            /* HTTP/0.9 */
    bad_head("GET / HTTP/2.0\r\nHost: h\r\n\r\n");
    bad_head("GET / HTTP/1.10\r\nHost: h\r\n\r\n");
    bad_head("GET / http/1.1\r\nHost: h\r\n\r\n");
    bad_head("GET http://a/ HTTP/1.1\r\nHost: h\r\n\r\n"); /* absolute form */
    bad_head("GET * HTTP/1.1\r\nHost: h\r\n\r\n");
    bad_head("GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n");
    bad_head("GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n");
    bad_head("GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n");
    bad_head("GETTTTTTTTTTTTTTT / HTTP/1.1\r\nHost: h\r\n\r\n"); /* 17 letters */
    bad_head("GET / HTTP/1.1\r\n\r\n");                          /* 1.1 without Host */
    bad_head("GET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\nHost:\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\nHost : h\r\n\r\n"); /* space before the colon */
    bad_head("GET / HTTP/1.1\r\n: h\r\nHost: h\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\nHost h\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\nHost: h\r\nMetadata: true\r\nmetadata: true\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 00\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n");
    bad_head("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    {
        const char *why;
        /* A NUL inside the head: the length passed counts it. */
        static const char nul[] = "GET / HTTP/1.1\r\nHost: h\0x\r\n\r\n";
        assert_int_equal(oc_mihttp_parse(nul, sizeof(nul) - 1, &req, &why), -EINVAL);
    }
}

static void test_field_and_size_caps(void **state)
{
    static char buf[OC_MIHTTP_HEAD_MAX + 64];
    const char *why;
    size_t n;
    int i;

    (void)state;
    /* Exactly OC_MIHTTP_FIELDS_MAX fields pass, one more fails. */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (i = 1; i < OC_MIHTTP_FIELDS_MAX; i++) {
        n += (size_t)sprintf(buf + n, "X-%d: v\r\n", i);
    }
    strcpy(buf + n, "\r\n");
    assert_int_equal(parse(buf, &why), 0);
    strcpy(buf + n, "Y: v\r\n\r\n");
    bad_head(buf);

    /* The longest target passes, one byte more fails. */
    n = (size_t)sprintf(buf, "GET /");
    memset(buf + n, 'a', OC_MIHTTP_TARGET_MAX - 1);
    n += OC_MIHTTP_TARGET_MAX - 1;
    strcpy(buf + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_int_equal(parse(buf, &why), 0);
    assert_int_equal(strlen(req.path), OC_MIHTTP_TARGET_MAX);
    n = (size_t)sprintf(buf, "GET /");
    memset(buf + n, 'a', OC_MIHTTP_TARGET_MAX);
    n += OC_MIHTTP_TARGET_MAX;
    strcpy(buf + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
    bad_head(buf);

    /* A Host over its cap. */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: ");
    memset(buf + n, 'h', OC_MIHTTP_HOST_MAX + 1);
    strcpy(buf + n + OC_MIHTTP_HOST_MAX + 1, "\r\n\r\n");
    bad_head(buf);

    /* A head over OC_MIHTTP_HEAD_MAX is refused even when passed whole. */
    n = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
    memset(buf + n, 'v', OC_MIHTTP_HEAD_MAX);
    strcpy(buf + n + OC_MIHTTP_HEAD_MAX - 10, "\r\n\r\n");
    bad_head(buf);
}

static void bad_query(const char *query, const char *want)
{
    struct oc_mihttp_query q;
    const char *why = NULL;

    if (oc_mihttp_query_parse(query, &q, &why) != -EINVAL) {
        fail_msg("accepted query: %s", query);
    }
    if (why == NULL || strstr(why, want) == NULL) {
        fail_msg("query %s: wanted \"%s\", got \"%s\"", query, want, why != NULL ? why : "");
    }
}

static void test_query(void **state)
{
    struct oc_mihttp_query q;
    const char *why;

    (void)state;
    assert_int_equal(oc_mihttp_query_parse("resource=https%3a%2F%2Fmanagement.azure.com%2F&api-"
                                           "version=2019-08-01-preview&client_id=AbC",
                                           &q, &why),
                     0);
    assert_string_equal(q.resource, "https://management.azure.com/");
    assert_string_equal(q.api_version, "2019-08-01-preview");
    assert_string_equal(q.client_id, "AbC");
    assert_int_equal(
            oc_mihttp_query_parse("api-version=2018-02-01&resource=r&msi_res_id=%2Fsubscriptions"
                                  "%2Fx&xms_cc=cp1&token_sha256_to_refresh=abc",
                                  &q, &why),
            0);
    assert_string_equal(q.res_id, "/subscriptions/x");
    assert_int_equal(
            oc_mihttp_query_parse("api-version=2018-02-01&resource=r&mi_res_id=%2Fs", &q, &why), 0);
    assert_string_equal(q.res_id, "/s");
    assert_int_equal(
            oc_mihttp_query_parse("api-version=2018-02-01&resource=r&object_id=o", &q, &why), 0);
    assert_string_equal(q.object_id, "o");

    bad_query("", "'api-version' is missing");
    bad_query("resource=r", "'api-version' is missing");
    bad_query("api-version=2018-02-01", "'resource' is missing");
    bad_query("api-version=2018-02-01&resource=r&", "Malformed query");
    bad_query("&api-version=2018-02-01&resource=r", "Malformed query");
    bad_query("api-version=2018-02-01&&resource=r", "Malformed query");
    bad_query("api-version=2018-02-01&resource", "Malformed query");
    bad_query("api-version=2018-02-01&resource=", "empty");
    bad_query("api-version=2018-02-01&resource=a+b", "not printable ASCII");
    bad_query("api-version=2018-02-01&resource=a%20b", "not printable ASCII");
    bad_query("api-version=2018-02-01&resource=a%00b", "not printable ASCII");
    bad_query("api-version=2018-02-01&resource=a%0", "percent-encoded");
    bad_query("api-version=2018-02-01&resource=a%", "percent-encoded");
    bad_query("api-version=2018-02-01&resource=a%zz", "percent-encoded");
    bad_query("api-version=2018-02-01&resource=%C3%A9", "not printable ASCII");
    bad_query("api-version=2018-02-01&resource=r&resource=s", "given twice");
    bad_query("api-version=2018-02-01&resource=r&msi_res_id=a&mi_res_id=b", "given twice");
    bad_query("api-version=2018-02-01&resource=r&client_id=a&object_id=b", "Only one of");
    bad_query("api-version=2018-02-01&resource=r&bypass_cache=true", "Unknown query parameter");
    bad_query("API-VERSION=2018-02-01&resource=r", "Unknown query parameter");
    bad_query("api-version=2018-2-01&resource=r", "Invalid version");
    bad_query("api-version=latest&resource=r", "Invalid version");
    bad_query("api-version=2018-02-01-beta&resource=r", "Invalid version");
    bad_query("api-version=2018-02-01-preview-preview-preview&resource=r", "Invalid version");
}

static void test_query_value_cap(void **state)
{
    static char query[OC_MIHTTP_VALUE_MAX + 64];
    struct oc_mihttp_query q;
    const char *why;
    size_t n = (size_t)sprintf(query, "api-version=2018-02-01&resource=");

    (void)state;
    memset(query + n, 'r', OC_MIHTTP_VALUE_MAX);
    query[n + OC_MIHTTP_VALUE_MAX] = '\0';
    assert_int_equal(oc_mihttp_query_parse(query, &q, &why), 0);
    assert_int_equal(strlen(q.resource), OC_MIHTTP_VALUE_MAX);
    strcpy(query + n + OC_MIHTTP_VALUE_MAX, "r");
    bad_query(query, "too long");
}

static void test_response(void **state)
{
    char out[512];
    ssize_t n;

    (void)state;
    n = oc_mihttp_response(out, sizeof(out), 200, -1, "{\"a\":\"b\"}");
    assert_true(n > 0);
    assert_string_equal(out, "HTTP/1.1 200 OK\r\n"
                             "Content-Type: application/json; charset=utf-8\r\n"
                             "Content-Length: 9\r\n"
                             "Cache-Control: no-store\r\n"
                             "Connection: close\r\n"
                             "\r\n"
                             "{\"a\":\"b\"}");
    assert_int_equal(n, (ssize_t)strlen(out));
    n = oc_mihttp_response(out, sizeof(out), 503, 7, "{}");
    assert_true(n > 0);
    assert_non_null(strstr(out, "HTTP/1.1 503 Service Unavailable\r\n"));
    assert_non_null(strstr(out, "\r\nRetry-After: 7\r\n"));
    assert_int_equal(oc_mihttp_response(out, sizeof(out), 418, -1, "{}"), -EINVAL);
    assert_int_equal(oc_mihttp_response(out, 100, 200, -1, "{}"), -ENOBUFS);
}

static void test_session_env(void **state)
{
    static const char text[] = "[global]\ntenant_id = 6c1d2e8a-4b7f-4f3a-9e21-0d5c8b7a9f10\n"
                               "audiences = api://openclaw-host\n";
    char conf[512], value[64];
    struct oc_config *cfg;
    const char *name = NULL;

    (void)state;
    assert_int_equal(oc_config_parse(text, strlen(text), "t", 0, &cfg, NULL), 0);
    assert_int_equal(oc_mi_session_env(cfg, &name, value, sizeof(value)), -ENOENT);
    assert_null(name);
    oc_config_free(cfg);

    snprintf(conf, sizeof(conf), "%smi_endpoint = 127.0.0.1:8400\n", text);
    assert_int_equal(oc_config_parse(conf, strlen(conf), "t", 0, &cfg, NULL), 0);
    assert_int_equal(oc_mi_session_env(cfg, &name, value, sizeof(value)), 0);
    assert_string_equal(name, "AZURE_POD_IDENTITY_AUTHORITY_HOST");
    assert_string_equal(value, "http://127.0.0.1:8400");
    name = NULL;
    assert_int_equal(oc_mi_session_env(cfg, &name, value, 10), -ENOBUFS);
    assert_null(name);
    oc_config_free(cfg);

    snprintf(conf, sizeof(conf), "%smi_endpoint = [::1]:9\n", text);
    assert_int_equal(oc_config_parse(conf, strlen(conf), "t", 0, &cfg, NULL), 0);
    assert_int_equal(oc_mi_session_env(cfg, &name, value, sizeof(value)), 0);
    assert_string_equal(value, "http://[::1]:9");
    oc_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sdk_request),          cmocka_unit_test(test_head_len),
            cmocka_unit_test(test_minimal_and_variants), cmocka_unit_test(test_malformed_heads),
            cmocka_unit_test(test_field_and_size_caps),  cmocka_unit_test(test_query),
            cmocka_unit_test(test_query_value_cap),      cmocka_unit_test(test_response),
            cmocka_unit_test(test_session_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
