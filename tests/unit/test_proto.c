/* SPDX-License-Identifier: MIT */
/* Unit tests of the openclawd frame codec, request table and request parser. */
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

#include "helper/oc_request.h"
#include "proto.h"

static size_t frame(uint8_t *out, const char *body)
{
    size_t len = strlen(body);
    assert_int_equal(oc_proto_header(out, len), 0);
    memcpy(out + OC_PROTO_HEADER, body, len);
    return OC_PROTO_HEADER + len;
}

static void test_header_is_big_endian(void **state)
{
    uint8_t h[4];
    (void)state;
    assert_int_equal(oc_proto_header(h, 0x0102), 0);
    assert_int_equal(h[0], 0);
    assert_int_equal(h[1], 0);
    assert_int_equal(h[2], 1);
    assert_int_equal(h[3], 2);
    assert_int_equal(oc_proto_header(h, 0), -EMSGSIZE);
    assert_int_equal(oc_proto_header(h, OC_PROTO_FRAME_MAX), 0);
    assert_int_equal(oc_proto_header(h, OC_PROTO_FRAME_MAX + 1), -EMSGSIZE);
}

static void test_reader_whole_frame(void **state)
{
    struct oc_proto_reader r;
    uint8_t buf[64], *body = NULL;
    size_t n = frame(buf, "{\"type\":\"ping\"}"), used = 0, len = 0;
    (void)state;

    oc_proto_reader_init(&r);
    assert_int_equal(oc_proto_reader_feed(&r, buf, n, &used, &body, &len), 1);
    assert_int_equal(used, n);
    assert_int_equal(len, n - 4);
    assert_memory_equal(body, "{\"type\":\"ping\"}", len);
    assert_int_equal(body[len], 0);
    free(body);
}

static void test_reader_byte_by_byte_and_two_frames(void **state)
{
    struct oc_proto_reader r;
    uint8_t buf[128], *body = NULL;
    size_t n, got = 0, len = 0;
    (void)state;

    n = frame(buf, "{\"a\":1}");
    n += frame(buf + n, "{\"bb\":2}");
    oc_proto_reader_init(&r);
    for (size_t i = 0; i < n; i++) {
        size_t used = 0;
        int rc = oc_proto_reader_feed(&r, buf + i, 1, &used, &body, &len);
        assert_int_equal(used, 1);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1) {
            got++;
            assert_int_equal(len, got == 1 ? 7 : 8);
            free(body);
        }
    }
    assert_int_equal(got, 2);
    oc_proto_reader_reset(&r);
}

static void test_reader_stops_at_frame_end(void **state)
{
    struct oc_proto_reader r;
    uint8_t buf[128], *body = NULL;
    size_t n, used = 0, len = 0, first;
    (void)state;

    first = frame(buf, "{\"a\":1}");
    n = first + frame(buf + first, "{\"b\":2}");
    oc_proto_reader_init(&r);
    assert_int_equal(oc_proto_reader_feed(&r, buf, n, &used, &body, &len), 1);
    assert_int_equal(used, first);
    free(body);
    assert_int_equal(oc_proto_reader_feed(&r, buf + used, n - used, &used, &body, &len), 1);
    assert_memory_equal(body, "{\"b\":2}", 7);
    free(body);
}

static void test_reader_refuses_oversize_and_zero(void **state)
{
    struct oc_proto_reader r;
    uint8_t big[4] = {0, 1, 0, 1}, zero[4] = {0, 0, 0, 0}, huge[4] = {0xff, 0xff, 0xff, 0xff};
    uint8_t *body = NULL;
    size_t used = 0, len = 0;
    (void)state;

    oc_proto_reader_init(&r);
    assert_int_equal(oc_proto_reader_feed(&r, big, 4, &used, &body, &len), -EMSGSIZE);
    assert_null(r.body);
    oc_proto_reader_reset(&r);
    assert_int_equal(oc_proto_reader_feed(&r, zero, 4, &used, &body, &len), -EMSGSIZE);
    oc_proto_reader_reset(&r);
    assert_int_equal(oc_proto_reader_feed(&r, huge, 4, &used, &body, &len), -EMSGSIZE);
    oc_proto_reader_reset(&r);
}

static void test_reader_exact_cap_accepted(void **state)
{
    struct oc_proto_reader r;
    uint8_t hdr[4], *body = NULL, *data = malloc(OC_PROTO_FRAME_MAX);
    size_t used = 0, len = 0;
    (void)state;

    assert_non_null(data);
    memset(data, 'x', OC_PROTO_FRAME_MAX);
    assert_int_equal(oc_proto_header(hdr, OC_PROTO_FRAME_MAX), 0);
    oc_proto_reader_init(&r);
    assert_int_equal(oc_proto_reader_feed(&r, hdr, 4, &used, &body, &len), 0);
    assert_int_equal(oc_proto_reader_feed(&r, data, OC_PROTO_FRAME_MAX, &used, &body, &len), 1);
    assert_int_equal(len, OC_PROTO_FRAME_MAX);
    free(body);
    free(data);
}

static void test_table_who_may_send(void **state)
{
    const struct oc_proto_request_def *d;
    size_t n = 0;
    (void)state;

    assert_non_null(oc_proto_request_table(&n));
    assert_true(n >= 6); /* the table grows with features; each is looked up below */
    d = oc_proto_request_lookup("get-token", 9);
    assert_non_null(d);
    assert_true(oc_proto_peer_may_send(d, 1879048193));
    d = oc_proto_request_lookup("refresh-jwks", 12);
    assert_non_null(d);
    assert_true(oc_proto_peer_may_send(d, 0));
    assert_false(oc_proto_peer_may_send(d, 1000));
    assert_true(oc_proto_peer_may_send(oc_proto_request_lookup("status", 6), 1000));
    assert_true(oc_proto_peer_may_send(oc_proto_request_lookup("ping", 4), 65534));
    assert_null(oc_proto_request_lookup("get-tokens", 10));
    assert_null(oc_proto_request_lookup("ping", 3));
    assert_null(oc_proto_request_lookup("", 0));
    assert_false(oc_proto_peer_may_send(NULL, 0));
}

static void test_request_parse_ssh(void **state)
{
    static const char *bad[] = {
            "{\"type\":\"ssh-sign\",\"data\":\"aGk\"}",                   /* no key */
            "{\"type\":\"ssh-sign\",\"key\":\"AAEC\"}",                   /* no data */
            "{\"type\":\"ssh-sign\",\"key\":\"\",\"data\":\"aGk\"}",      /* empty key */
            "{\"type\":\"ssh-sign\",\"key\":\"AAEC\",\"data\":\"aGk=\"}", /* padding */
            "{\"type\":\"ssh-sign\",\"key\":\"AA+C\",\"data\":\"aGk\"}",  /* not url-safe */
            "{\"type\":\"ssh-sign\",\"key\":\"AAEC\",\"data\":\"aGk\",\"flags\":-1}",
            "{\"type\":\"ssh-sign\",\"key\":\"AAEC\",\"data\":\"aGk\",\"flags\":4294967296}",
            "{\"type\":\"ssh-sign\",\"key\":\"AAEC\",\"data\":\"aGk\",\"flags\":2.5}",
            "{\"type\":\"ssh-sign\",\"key\":1,\"data\":\"aGk\"}",
            "{\"type\":\"ssh-identities\",\"key\":\"AAEC\"}", /* ssh members elsewhere */
            "{\"type\":\"get-token\",\"flags\":0}",
    };
    const char *ok = "{\"type\":\"ssh-sign\",\"key\":\"AAEC\",\"data\":\"aGk\",\"flags\":4}";
    struct oc_request q;
    const char *why = NULL;
    char *big;
    size_t n;
    (void)state;

    assert_int_equal(oc_request_parse(ok, strlen(ok), &q, &why), 0);
    assert_int_equal(q.def->type, OC_REQ_SSH_SIGN);
    assert_int_equal(q.ssh.key_len, 3);
    assert_memory_equal(q.ssh.key, "\x00\x01\x02", 3);
    assert_int_equal(q.ssh.data_len, 2);
    assert_memory_equal(q.ssh.data, "hi", 2);
    assert_int_equal(q.ssh.flags, 4);
    ok = "{\"type\":\"ssh-identities\"}";
    assert_int_equal(oc_request_parse(ok, strlen(ok), &q, &why), 0);
    assert_int_equal(q.def->type, OC_REQ_SSH_IDENTITIES);
    assert_int_equal(q.ssh.key_len, 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (oc_request_parse(bad[i], strlen(bad[i]), &q, &why) != -EINVAL) {
            fail_msg("accepted bad ssh request #%zu: %s", i, bad[i]);
        }
    }
    /* data: 16 KiB accepted, one byte more refused (base64url of zero bytes is 'A's) */
    big = malloc(64 * 1024);
    assert_non_null(big);
    for (size_t len = OC_SSH_DATA_MAX; len <= OC_SSH_DATA_MAX + 1; len++) {
        size_t chars = len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
        n = (size_t)snprintf(big, 64, "{\"type\":\"ssh-sign\",\"key\":\"AAEC\",\"data\":\"");
        memset(big + n, 'A', chars);
        n += chars;
        n += (size_t)snprintf(big + n, 8, "\"}");
        assert_int_equal(oc_request_parse(big, n, &q, &why), len == OC_SSH_DATA_MAX ? 0 : -EINVAL);
    }
    free(big);
}

static void test_request_parse_good(void **state)
{
    struct oc_request q;
    const char *b = "{\"type\":\"get-token\",\"scope\":\"api://x/.default\",\"agent\":\"bot-1\"}";
    (void)state;

    assert_int_equal(oc_request_parse(b, strlen(b), &q, NULL), 0);
    assert_int_equal(q.def->type, OC_REQ_GET_TOKEN);
    assert_string_equal(q.scope, "api://x/.default");
    assert_string_equal(q.agent, "bot-1");
    b = "{\"type\":\"ping\"}";
    assert_int_equal(oc_request_parse(b, strlen(b), &q, NULL), 0);
    assert_int_equal(q.def->type, OC_REQ_PING);
    assert_string_equal(q.scope, "");
}

static void test_request_parse_bad(void **state)
{
    static const char *bad[] = {
            "",
            "[]",
            "{}",
            "{\"type\":\"shutdown\"}",
            "{\"type\":1}",
            "{\"type\":\"ping\",\"extra\":1}",
            "{\"type\":\"ping\",\"type\":\"status\"}",
            "{\"type\":\"get-token\",\"scope\":\"a b\"}",
            "{\"type\":\"get-token\",\"scope\":\"\"}",
            "{\"type\":\"get-token\",\"scope\":\"x\\n\"}",
            "{\"type\":\"get-token\",\"agent\":\"../root\"}",
            "{\"type\":\"get-token\",\"agent\":7}",
            "{\"type\":\"ping\"} trailing",
            "{\"type\":\"ping\"",
            "{\"type\":\"pi\\u0000ng\"}",
    };
    struct oc_request q;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        int r = oc_request_parse(bad[i], strlen(bad[i]), &q, &why);
        if (r != -EINVAL) {
            fail_msg("accepted bad request #%zu: %s", i, bad[i]);
        }
        assert_non_null(why);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_header_is_big_endian),
            cmocka_unit_test(test_reader_whole_frame),
            cmocka_unit_test(test_reader_byte_by_byte_and_two_frames),
            cmocka_unit_test(test_reader_stops_at_frame_end),
            cmocka_unit_test(test_reader_refuses_oversize_and_zero),
            cmocka_unit_test(test_reader_exact_cap_accepted),
            cmocka_unit_test(test_table_who_may_send),
            cmocka_unit_test(test_request_parse_good),
            cmocka_unit_test(test_request_parse_bad),
            cmocka_unit_test(test_request_parse_ssh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
