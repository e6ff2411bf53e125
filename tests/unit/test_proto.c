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
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper/daemon/oc_request.h"
#include "helperclient.h"
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
    assert_int_equal(n, 12);
    d = oc_proto_request_lookup("anomaly", 7);
    assert_non_null(d);
    assert_true(oc_proto_peer_may_send(d, 0));
    assert_false(oc_proto_peer_may_send(d, 1000));
    d = oc_proto_request_lookup("cache-rebuild", 13);
    assert_non_null(d);
    assert_true(oc_proto_peer_may_send(d, 0));
    assert_false(oc_proto_peer_may_send(d, 1879048193));
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

/* Every request that changes the daemon's state or reports to it is root only. */
static void test_table_root_only_requests(void **state)
{
    static const char *root_only[] = {"refresh-jwks", "session-open", "session-close",
                                      "agent-lock",   "agent-unlock", "anomaly"};
    (void)state;

    for (size_t i = 0; i < sizeof(root_only) / sizeof(root_only[0]); i++) {
        const struct oc_proto_request_def *d =
                oc_proto_request_lookup(root_only[i], strlen(root_only[i]));
        assert_non_null(d);
        assert_true(oc_proto_peer_may_send(d, 0));
        assert_false(oc_proto_peer_may_send(d, 1));
        assert_false(oc_proto_peer_may_send(d, 1879048193));
        assert_false(oc_proto_peer_may_send(d, 65534));
        assert_true(oc_request_needs_agent(d->type) == (strcmp(root_only[i], "refresh-jwks") != 0));
    }
    assert_false(oc_request_needs_agent(OC_REQ_GET_TOKEN));
}

static void test_request_parse_agent_requests(void **state)
{
    static const struct {
        const char *body;
        enum oc_proto_type type;
    } good[] = {
            {"{\"type\":\"session-open\",\"agent\":\"bot-1\"}", OC_REQ_SESSION_OPEN},
            {"{\"agent\":\"bot-1\",\"type\":\"session-close\"}", OC_REQ_SESSION_CLOSE},
            {"{\"type\":\"agent-lock\",\"agent\":\"bot-1\"}", OC_REQ_AGENT_LOCK},
            {"{\"type\":\"agent-unlock\",\"agent\":\"bot-1\"}", OC_REQ_AGENT_UNLOCK},
            {"{\"type\":\"anomaly\",\"agent\":\"bot-1\"}", OC_REQ_ANOMALY},
    };
    struct oc_request q;
    (void)state;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(oc_request_parse(good[i].body, strlen(good[i].body), &q, NULL), 0);
        assert_int_equal(q.def->type, good[i].type);
        assert_string_equal(q.agent, "bot-1");
        assert_int_equal(q.max_age, -1);
    }
}

/* pam_openclaw's client: what it lets into a PAM environment. */
static void test_client_env_valid(void **state)
{
    char big[OC_HC_ENV_VALUE_MAX + 2];
    (void)state;

    assert_true(oc_hc_env_valid("OPENCLAW_SOCKET", "/run/openclaw/openclawd.sock"));
    assert_true(oc_hc_env_valid("IDENTITY_ENDPOINT", "http://127.0.0.1:4242/token"));
    assert_true(oc_hc_env_valid("AZURE_CLIENT_ID", ""));
    assert_true(oc_hc_env_valid("MSI_SECRET2", "x y"));
    assert_false(oc_hc_env_valid("LD_PRELOAD", "/tmp/x.so"));
    assert_false(oc_hc_env_valid("PATH", "/tmp"));
    assert_false(oc_hc_env_valid("OPENCLAW_", "x"));
    assert_false(oc_hc_env_valid("openclaw_socket", "x"));
    assert_false(oc_hc_env_valid("OPENCLAW_A=B", "x"));
    assert_false(oc_hc_env_valid("OPENCLAW-A", "x"));
    assert_false(oc_hc_env_valid("", "x"));
    assert_false(oc_hc_env_valid("OPENCLAW_X", "a\nb"));
    assert_false(oc_hc_env_valid("OPENCLAW_X", "caf\xc3\xa9"));
    assert_false(oc_hc_env_valid("OPENCLAW_X", NULL));
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(oc_hc_env_valid("OPENCLAW_X", big));
    big[OC_HC_ENV_VALUE_MAX] = '\0';
    assert_true(oc_hc_env_valid("OPENCLAW_X", big));
    char name[OC_HC_ENV_NAME_MAX + 2];
    memset(name, 'A', sizeof(name) - 1);
    memcpy(name, "OPENCLAW_", 9);
    name[sizeof(name) - 1] = '\0';
    assert_false(oc_hc_env_valid(name, "x"));
    name[OC_HC_ENV_NAME_MAX] = '\0';
    assert_true(oc_hc_env_valid(name, "x"));
}

/*
 * A one-shot server in a child process: accepts one connection, reads one
 * frame, then answers with answer (NULL: closes without answering; "":
 * never answers until killed).
 */
static pid_t fake_daemon(const char *path, const char *answer)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    pid_t pid;

    assert_true(fd >= 0);
    strcpy(sa.sun_path, path);
    unlink(path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t buf[4096], hdr[OC_PROTO_HEADER];
        int c = accept(fd, NULL, NULL);
        size_t have = 0, want = OC_PROTO_HEADER;
        /* the whole request frame, as the daemon reads it */
        while (c >= 0 && have < want && have < sizeof(buf)) {
            ssize_t n = read(c, buf + have, sizeof(buf) - have);
            if (n <= 0) {
                break;
            }
            have += (size_t)n;
            if (have >= OC_PROTO_HEADER) {
                want = OC_PROTO_HEADER + (((size_t)buf[0] << 24) | ((size_t)buf[1] << 16) |
                                          ((size_t)buf[2] << 8) | (size_t)buf[3]);
            }
        }
        if (answer != NULL && answer[0] == '\0') {
            pause();
        }
        if (answer != NULL && c >= 0) {
            (void)oc_proto_header(hdr, strlen(answer));
            (void)!write(c, hdr, sizeof(hdr));
            (void)!write(c, answer, strlen(answer));
        }
        _exit(0);
    }
    close(fd);
    return pid;
}

static void reap(pid_t pid)
{
    int st;

    kill(pid, SIGKILL);
    (void)waitpid(pid, &st, 0);
}

static void test_client_session_open_env(void **state)
{
    char dir[] = "/tmp/oc-test-hc.XXXXXX", path[64], why[OC_HC_WHY_MAX];
    char **env = NULL;
    size_t n = 0, rejected = 0;
    pid_t pid;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/s", dir);

    /* no socket: at once, ENOENT */
    assert_int_equal(oc_hc_session_open(path, "bot-1", 1000, &env, &n, &rejected, why, sizeof(why)),
                     -ENOENT);

    pid = fake_daemon(path,
                      "{\"ok\":true,\"env\":{\"OPENCLAW_SOCKET\":\"/run/s\","
                      "\"LD_PRELOAD\":\"/tmp/x.so\",\"OPENCLAW_N\":7,"
                      "\"AZURE_X\":\"a\\nb\",\"IDENTITY_ENDPOINT\":\"http://127.0.0.1:1/\"}}");
    assert_int_equal(oc_hc_session_open(path, "bot-1", 2000, &env, &n, &rejected, why, sizeof(why)),
                     0);
    reap(pid);
    assert_int_equal(n, 2);
    assert_int_equal(rejected, 3);
    assert_string_equal(env[0], "OPENCLAW_SOCKET=/run/s");
    assert_string_equal(env[1], "IDENTITY_ENDPOINT=http://127.0.0.1:1/");
    oc_hc_env_free(env, n);

    /* an error answer */
    pid = fake_daemon(path, "{\"ok\":false,\"error\":\"no-such-agent\",\"message\":\"m\"}");
    assert_int_equal(oc_hc_session_open(path, "bot-1", 2000, &env, &n, &rejected, why, sizeof(why)),
                     -EREMOTEIO);
    reap(pid);
    assert_non_null(strstr(why, "no-such-agent"));

    /* env not an object, and an answer that is not JSON */
    pid = fake_daemon(path, "{\"ok\":true,\"env\":[\"OPENCLAW_A=b\"]}");
    assert_int_equal(oc_hc_session_open(path, "bot-1", 2000, &env, &n, &rejected, why, sizeof(why)),
                     -EPROTO);
    reap(pid);
    pid = fake_daemon(path, "{\"ok\":true");
    assert_int_equal(oc_hc_session_open(path, "bot-1", 2000, &env, &n, &rejected, why, sizeof(why)),
                     -EPROTO);
    reap(pid);

    /* closed without an answer (what the daemon does to a peer it refuses) */
    pid = fake_daemon(path, NULL);
    assert_int_equal(oc_hc_agent_request(path, "anomaly", "bot-1", 2000, why, sizeof(why)),
                     -ECONNRESET);
    reap(pid);

    /* never answers: the deadline holds */
    pid = fake_daemon(path, "");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(oc_hc_agent_request(path, "anomaly", "bot-1", 300, why, sizeof(why)),
                     -ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    reap(pid);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 250 && ms < 2000);

    /* refresh-jwks, rate-limited */
    int64_t ra = 0;
    pid = fake_daemon(path, "{\"ok\":true,\"refreshed\":false,\"reason\":\"rate-limited\","
                            "\"retry_after\":17}");
    assert_int_equal(oc_hc_refresh_jwks(path, 2000, &ra, why, sizeof(why)), -EAGAIN);
    reap(pid);
    assert_int_equal(ra, 17);
    assert_non_null(strstr(why, "rate-limited"));

    unlink(path);
    rmdir(dir);
}

static void test_request_parse_max_age(void **state)
{
    static const struct {
        const char *body;
        int64_t max_age;
    } good[] = {
            {"{\"type\":\"get-token\",\"agent\":\"a\",\"max_age\":0}", 0},
            {"{\"type\":\"get-token\",\"max_age\":300}", 300},
            {"{\"type\":\"get-token\",\"max_age\":86400}", 86400},
            {"{\"type\":\"get-token\"}", -1},
    };
    struct oc_request q;
    (void)state;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(oc_request_parse(good[i].body, strlen(good[i].body), &q, NULL), 0);
        assert_int_equal(q.max_age, good[i].max_age);
    }
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
            /* requests that name an agent need one */
            "{\"type\":\"session-open\"}",
            "{\"type\":\"session-close\",\"agent\":\"\"}",
            "{\"type\":\"agent-lock\",\"agent\":\"a/b\"}",
            "{\"type\":\"agent-unlock\",\"agent\":null}",
            "{\"type\":\"anomaly\"}",
            /* max_age: get-token only, an integer in [0, 86400] */
            "{\"type\":\"get-token\",\"max_age\":-1}",
            "{\"type\":\"get-token\",\"max_age\":86401}",
            "{\"type\":\"get-token\",\"max_age\":1.5}",
            "{\"type\":\"get-token\",\"max_age\":\"300\"}",
            "{\"type\":\"get-token\",\"max_age\":1e400}",
            "{\"type\":\"ping\",\"max_age\":1}",
            "{\"type\":\"session-open\",\"agent\":\"a\",\"max_age\":1}",
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
            cmocka_unit_test(test_table_root_only_requests),
            cmocka_unit_test(test_request_parse_agent_requests),
            cmocka_unit_test(test_request_parse_max_age),
            cmocka_unit_test(test_client_env_valid),
            cmocka_unit_test(test_client_session_open_env),
            cmocka_unit_test(test_request_parse_ssh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
