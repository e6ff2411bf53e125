/* SPDX-License-Identifier: MIT */
/* Unit tests of the ssh-agent message codec of `openclaw-token --ssh-agent`. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper/client/sshagent.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A SIGN_REQUEST body: string key, string data, uint32 flags. */
static size_t sign_request(uint8_t *out, const char *key, const char *data, uint32_t flags)
{
    size_t kl = strlen(key), dl = strlen(data), off = 0;

    out[off++] = OC_SSH_AGENTC_SIGN_REQUEST;
    put32(out + off, (uint32_t)kl);
    memcpy(out + off + 4, key, kl);
    off += 4 + kl;
    put32(out + off, (uint32_t)dl);
    memcpy(out + off + 4, data, dl);
    off += 4 + dl;
    put32(out + off, flags);
    return off + 4;
}

static void test_parse_request_identities(void **state)
{
    const uint8_t ok[] = {OC_SSH_AGENTC_REQUEST_IDENTITIES};
    const uint8_t trailing[] = {OC_SSH_AGENTC_REQUEST_IDENTITIES, 0};
    struct oc_sshagent_msg m;
    (void)state;

    assert_int_equal(oc_sshagent_parse(ok, sizeof(ok), &m), 0);
    assert_int_equal(m.type, OC_SSH_AGENTC_REQUEST_IDENTITIES);
    assert_int_equal(oc_sshagent_parse(trailing, sizeof(trailing), &m), -EINVAL);
    assert_int_equal(oc_sshagent_parse(ok, 0, &m), -EINVAL);
}

static void test_parse_sign_request(void **state)
{
    uint8_t b[256];
    size_t n = sign_request(b, "KEYBLOB", "to be signed", 4);
    struct oc_sshagent_msg m;
    (void)state;

    assert_int_equal(oc_sshagent_parse(b, n, &m), 0);
    assert_int_equal(m.type, OC_SSH_AGENTC_SIGN_REQUEST);
    assert_int_equal(m.key_len, 7);
    assert_memory_equal(m.key, "KEYBLOB", 7);
    assert_int_equal(m.data_len, 12);
    assert_memory_equal(m.data, "to be signed", 12);
    assert_int_equal(m.flags, 4);
    /* empty data is a valid ssh-agent message (the daemon refuses it) */
    n = sign_request(b, "K", "", 0);
    assert_int_equal(oc_sshagent_parse(b, n, &m), 0);
    assert_int_equal(m.data_len, 0);
}

static void test_parse_sign_request_malformed(void **state)
{
    uint8_t b[256], c[256];
    size_t n = sign_request(b, "KEYBLOB", "data", 0);
    struct oc_sshagent_msg m;
    (void)state;

    /* every truncation is refused */
    for (size_t i = 1; i < n; i++) {
        if (oc_sshagent_parse(b, i, &m) != -EINVAL) {
            fail_msg("accepted a sign request cut at %zu of %zu bytes", i, n);
        }
    }
    /* a byte after flags */
    memcpy(c, b, n);
    c[n] = 0;
    assert_int_equal(oc_sshagent_parse(c, n + 1, &m), -EINVAL);
    /* a key length past the end, and one that would wrap */
    memcpy(c, b, n);
    put32(c + 1, 0xffffffffu);
    assert_int_equal(oc_sshagent_parse(c, n, &m), -EINVAL);
    put32(c + 1, (uint32_t)n);
    assert_int_equal(oc_sshagent_parse(c, n, &m), -EINVAL);
    /* data length off by one either way */
    memcpy(c, b, n);
    put32(c + 1 + 4 + 7, 5);
    assert_int_equal(oc_sshagent_parse(c, n, &m), -EINVAL);
    put32(c + 1 + 4 + 7, 3);
    assert_int_equal(oc_sshagent_parse(c, n, &m), -EINVAL);
    /* empty key */
    n = sign_request(c, "", "data", 0);
    assert_int_equal(oc_sshagent_parse(c, n, &m), -EINVAL);
}

static void test_parse_other_types_are_answered_failure(void **state)
{
    /* add-identity, remove-all, lock, extension: never served, not parsed */
    const uint8_t types[] = {17, 19, 22, 27, 0, 255};
    struct oc_sshagent_msg m;
    (void)state;

    for (size_t i = 0; i < sizeof(types); i++) {
        uint8_t b[3] = {types[i], 0xde, 0xad};
        assert_int_equal(oc_sshagent_parse(b, sizeof(b), &m), 0);
        assert_int_equal(m.type, types[i]);
        assert_null(m.key);
    }
}

/* An EXTENSION body: string name, then string fields, then a bool. */
static size_t extension(uint8_t *out, const char *name, const char *const *fields, size_t n,
                        int last)
{
    size_t off = 0;

    out[off++] = OC_SSH_AGENTC_EXTENSION;
    put32(out + off, (uint32_t)strlen(name));
    memcpy(out + off + 4, name, strlen(name));
    off += 4 + strlen(name);
    for (size_t i = 0; i < n; i++) {
        put32(out + off, (uint32_t)strlen(fields[i]));
        memcpy(out + off + 4, fields[i], strlen(fields[i]));
        off += 4 + strlen(fields[i]);
    }
    if (last >= 0) {
        out[off++] = (uint8_t)last;
    }
    return off;
}

static void test_parse_session_bind(void **state)
{
    const char *const f[] = {"hostkey-blob", "0123456789abcdef0123456789abcdef", "sig"};
    const char *const empty_sid[] = {"hostkey-blob", "", "sig"};
    uint8_t b[256];
    struct oc_sshagent_msg m;
    size_t n;
    (void)state;

    n = extension(b, OC_SSH_SESSION_BIND, f, 3, 1);
    assert_int_equal(oc_sshagent_parse(b, n, &m), 0);
    assert_true(m.session_bind);
    assert_true(m.forwarding);
    assert_int_equal(m.session_id_len, 32);
    assert_memory_equal(m.session_id, f[1], 32);
    assert_int_equal(m.hostkey_len, strlen(f[0]));
    assert_int_equal(m.signature_len, 3);
    assert_memory_equal(m.signature, "sig", 3);
    n = extension(b, OC_SSH_SESSION_BIND, f, 3, 0);
    assert_int_equal(oc_sshagent_parse(b, n, &m), 0);
    assert_false(m.forwarding);
    /* malformed session-binds: -EINVAL (the agent answers a failure and signs nothing more) */
    n = extension(b, OC_SSH_SESSION_BIND, f, 3, 2);
    assert_int_equal(oc_sshagent_parse(b, n, &m), -EINVAL);
    n = extension(b, OC_SSH_SESSION_BIND, f, 3, -1);
    assert_int_equal(oc_sshagent_parse(b, n, &m), -EINVAL);
    n = extension(b, OC_SSH_SESSION_BIND, empty_sid, 3, 0);
    assert_int_equal(oc_sshagent_parse(b, n, &m), -EINVAL);
    n = extension(b, OC_SSH_SESSION_BIND, f, 3, 0);
    b[n++] = 0;
    assert_int_equal(oc_sshagent_parse(b, n, &m), -EINVAL);
    /* another extension: not served (answered failure) */
    n = extension(b, "query", NULL, 0, -1);
    assert_int_equal(oc_sshagent_parse(b, n, &m), 0);
    assert_false(m.session_bind);
}

static void test_reader_byte_by_byte_and_two_messages(void **state)
{
    const uint8_t stream[] = {0, 0, 0, 1, 11, 0, 0, 0, 3, 13, 1, 2};
    struct oc_sshagent_reader r;
    uint8_t *body = NULL;
    size_t used = 0, len = 0, off = 0;
    int got = 0;
    (void)state;

    oc_sshagent_reader_init(&r);
    while (off < sizeof(stream)) {
        int k = oc_sshagent_reader_feed(&r, stream + off, 1, &used, &body, &len);
        assert_int_equal(used, 1);
        off += used;
        if (k == 1) {
            got++;
            assert_int_equal(len, got == 1 ? 1 : 3);
            assert_int_equal(body[0], got == 1 ? 11 : 13);
            free(body);
        }
    }
    assert_int_equal(got, 2);
    /* both in one buffer: the reader stops at the first message's end */
    oc_sshagent_reader_init(&r);
    assert_int_equal(oc_sshagent_reader_feed(&r, stream, sizeof(stream), &used, &body, &len), 1);
    assert_int_equal(used, 5);
    free(body);
    assert_int_equal(
            oc_sshagent_reader_feed(&r, stream + used, sizeof(stream) - used, &used, &body, &len),
            1);
    assert_int_equal(len, 3);
    free(body);
    oc_sshagent_reader_reset(&r);
}

static void test_reader_length_cap(void **state)
{
    struct oc_sshagent_reader r;
    uint8_t hdr[4], *body = NULL, *big;
    size_t used = 0, len = 0;
    (void)state;

    oc_sshagent_reader_init(&r);
    put32(hdr, 0);
    assert_int_equal(oc_sshagent_reader_feed(&r, hdr, 4, &used, &body, &len), -EMSGSIZE);
    oc_sshagent_reader_reset(&r);
    put32(hdr, OC_SSHAGENT_MSG_MAX + 1);
    assert_int_equal(oc_sshagent_reader_feed(&r, hdr, 4, &used, &body, &len), -EMSGSIZE);
    oc_sshagent_reader_reset(&r);
    /* exactly the cap is accepted */
    big = calloc(1, 4 + OC_SSHAGENT_MSG_MAX);
    assert_non_null(big);
    put32(big, OC_SSHAGENT_MSG_MAX);
    big[4] = 27;
    assert_int_equal(oc_sshagent_reader_feed(&r, big, 4 + OC_SSHAGENT_MSG_MAX, &used, &body, &len),
                     1);
    assert_int_equal(len, OC_SSHAGENT_MSG_MAX);
    free(body);
    free(big);
    oc_sshagent_reader_reset(&r);
}

static void test_build_messages(void **state)
{
    static const uint8_t failure[] = {0, 0, 0, 1, OC_SSH_AGENT_FAILURE};
    struct oc_sshagent_identity ids[2];
    uint8_t blob1[] = {1, 2, 3}, blob2[] = {9};
    uint8_t *m = NULL;
    size_t n = 0;
    (void)state;

    assert_int_equal(oc_sshagent_build_failure(&m, &n), 0);
    assert_int_equal(n, sizeof(failure));
    assert_memory_equal(m, failure, n);
    free(m);

    memset(ids, 0, sizeof(ids));
    ids[0].blob = blob1;
    ids[0].blob_len = sizeof(blob1);
    strcpy(ids[0].comment, "c1");
    ids[1].blob = blob2;
    ids[1].blob_len = sizeof(blob2);
    assert_int_equal(oc_sshagent_build_identities(ids, 2, &m, &n), 0);
    {
        static const uint8_t want[] = {0, 0, 0, 27, 12,  0,   0, 0, 2, 0, 0, 0, 3, 1, 2, 3,
                                       0, 0, 0, 2,  'c', '1', 0, 0, 0, 1, 9, 0, 0, 0, 0};
        assert_int_equal(n, sizeof(want));
        assert_memory_equal(m, want, n);
    }
    free(m);
    assert_int_equal(oc_sshagent_build_identities(ids, 0, &m, &n), 0);
    assert_int_equal(n, 9);
    free(m);

    assert_int_equal(oc_sshagent_build_sign_response(blob1, sizeof(blob1), &m, &n), 0);
    {
        static const uint8_t want[] = {0, 0, 0, 8, 14, 0, 0, 0, 3, 1, 2, 3};
        assert_int_equal(n, sizeof(want));
        assert_memory_equal(m, want, n);
    }
    free(m);
    assert_int_equal(oc_sshagent_build_sign_response(blob1, 0, &m, &n), -EINVAL);
}

/* Two host keys (ssh-ed25519 and ecdsa-sha2-nistp256, from ssh-keygen), as
 * .pub lines and as known_hosts lines. */
#define ED_B64 "AAAAC3NzaC1lZDI1NTE5AAAAIG7QQOU9HUvXSe9VtluvEti4Y7WNuRGEoPc9pSHfvPiu"
#define EC_B64                                                                                     \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNBd9nrQKtlarCbgKKVhuTqC68CKXQJNHCjTca"   \
    "gMdY1n4UQHj5pFMB/lbQbOG7RlGG8iXx0kTtiK2t+rDkTW9Uc="

static int dest_file(const char *text, struct oc_sshagent_dests *d, size_t *line, const char **why)
{
    char path[] = "/tmp/oc-test-dest.XXXXXX";
    int fd = mkstemp(path), r;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    r = oc_sshagent_load_destinations(path, d, line, why);
    unlink(path);
    return r;
}

static void test_destination_file(void **state)
{
    struct oc_sshagent_dests d;
    const char *why = NULL;
    size_t line = 0;
    uint8_t ed[51];
    (void)state;

    assert_int_equal(dest_file("# allowed hosts\n\nssh-ed25519 " ED_B64 " host-a\n"
                               "[127.0.0.1]:22 ecdsa-sha2-nistp256 " EC_B64 "\n"
                               "|1|c2FsdA==|aGFzaA== ssh-ed25519 " ED_B64 "\n",
                               &d, &line, &why),
                     0);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.lens[0], 51);
    memcpy(ed, d.keys[0], sizeof(ed));
    assert_true(oc_sshagent_dest_listed(&d, ed, sizeof(ed)));
    ed[50] ^= 1;
    assert_false(oc_sshagent_dest_listed(&d, ed, sizeof(ed)));
    assert_false(oc_sshagent_dest_listed(&d, ed, 50));
    oc_sshagent_free_destinations(&d);

    /* refused: no key, a marker, a type that is not the key's, bad
     * base64, an unsupported type; the line is named */
    assert_int_equal(dest_file("# nothing\n", &d, &line, &why), -EINVAL);
    assert_int_equal(line, 0);
    assert_int_equal(dest_file("ssh-ed25519 " ED_B64 "\n@revoked * ssh-ed25519 " ED_B64 "\n", &d,
                               &line, &why),
                     -EINVAL);
    assert_int_equal(line, 2);
    assert_int_equal(dest_file("ssh-rsa " ED_B64 "\n", &d, &line, &why), -EINVAL);
    assert_int_equal(line, 1);
    assert_int_equal(dest_file("ssh-ed25519 AAAA*AAA\n", &d, &line, &why), -EINVAL);
    assert_int_equal(dest_file("ssh-dss AAAAB3NzaC1kc3MAAAAA\n", &d, &line, &why), -EINVAL);
    assert_int_equal(dest_file("host.example\n", &d, &line, &why), -EINVAL);
    assert_int_equal(oc_sshagent_load_destinations("/nonexistent/dest", &d, &line, &why), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_request_identities),
            cmocka_unit_test(test_parse_sign_request),
            cmocka_unit_test(test_parse_sign_request_malformed),
            cmocka_unit_test(test_parse_other_types_are_answered_failure),
            cmocka_unit_test(test_parse_session_bind),
            cmocka_unit_test(test_reader_byte_by_byte_and_two_messages),
            cmocka_unit_test(test_reader_length_cap),
            cmocka_unit_test(test_build_messages),
            cmocka_unit_test(test_destination_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
