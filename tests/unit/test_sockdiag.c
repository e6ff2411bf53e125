/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of helper/daemon/oc_sockdiag.c against the running kernel: the owner
 * uid of the peer of a loopback TCP connection, IPv4 and IPv6, a peer
 * under another uid (when the test runs as root), an unprivileged caller,
 * a peer that already closed, and sockets that are not loopback TCP.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper/daemon/oc_sockdiag.h"

#define OTHER_UID 65534u /* nobody: a peer under another uid */

struct conn {
    int listen_fd;
    int client_fd;
    int server_fd;
};

/* A listener on addr (port 0), a client connected to it, the accepted end.
 * src: bind the client to this address first (NULL: any). false when the
 * address family is not available here. */
static bool make_conn(int family, const char *addr, const char *src, struct conn *c)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    c->listen_fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->listen_fd < 0) {
        return false;
    }
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
        sl = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
        sl = sizeof(*s6);
    }
    if (bind(c->listen_fd, (struct sockaddr *)&ss, sl) < 0) {
        close(c->listen_fd);
        return false;
    }
    assert_int_equal(listen(c->listen_fd, 4), 0);
    assert_int_equal(getsockname(c->listen_fd, (struct sockaddr *)&ss, &sl), 0);
    c->client_fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->client_fd >= 0);
    if (src != NULL) {
        struct sockaddr_in s4 = {.sin_family = AF_INET};
        assert_int_equal(inet_pton(AF_INET, src, &s4.sin_addr), 1);
        assert_int_equal(bind(c->client_fd, (struct sockaddr *)&s4, sizeof(s4)), 0);
    }
    assert_int_equal(connect(c->client_fd, (struct sockaddr *)&ss, sl), 0);
    c->server_fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(c->server_fd >= 0);
    return true;
}

static void close_conn(struct conn *c)
{
    if (c->client_fd >= 0) {
        close(c->client_fd);
    }
    close(c->server_fd);
    close(c->listen_fd);
}

static void test_ipv4_peer_is_our_uid(void **state)
{
    struct conn c;
    uint32_t uid = 12345;
    int nl = oc_sockdiag_open();

    (void)state;
    assert_true(nl >= 0);
    assert_true(make_conn(AF_INET, "127.0.0.1", NULL, &c));
    assert_int_equal(oc_sockdiag_peer_uid(nl, c.server_fd, 1, &uid), 0);
    assert_int_equal(uid, geteuid());
    /* The listener's side asked from the client's end works too. */
    uid = 12345;
    assert_int_equal(oc_sockdiag_peer_uid(nl, c.client_fd, 2, &uid), 0);
    assert_int_equal(uid, geteuid());
    close_conn(&c);
    close(nl);
}

static void test_ipv4_other_loopback_source(void **state)
{
    struct conn c;
    uint32_t uid = 12345;
    int nl = oc_sockdiag_open();

    (void)state;
    assert_true(make_conn(AF_INET, "127.0.0.1", "127.0.0.2", &c));
    assert_int_equal(oc_sockdiag_peer_uid(nl, c.server_fd, 7, &uid), 0);
    assert_int_equal(uid, geteuid());
    close_conn(&c);
    close(nl);
}

static void test_ipv6_peer_is_our_uid(void **state)
{
    struct conn c;
    uint32_t uid = 12345;
    int nl = oc_sockdiag_open();

    (void)state;
    if (!make_conn(AF_INET6, "::1", NULL, &c)) {
        close(nl);
        skip(); /* no IPv6 loopback on this machine */
    }
    assert_int_equal(oc_sockdiag_peer_uid(nl, c.server_fd, 3, &uid), 0);
    assert_int_equal(uid, geteuid());
    close_conn(&c);
    close(nl);
}

static void test_closed_peer_has_no_owner(void **state)
{
    struct conn c;
    uint32_t uid = 12345;
    int nl = oc_sockdiag_open(), r;

    (void)state;
    assert_true(make_conn(AF_INET, "127.0.0.1", NULL, &c));
    close(c.client_fd);
    c.client_fd = -1;
    usleep(20000); /* let the FIN arrive: the orphan becomes a TIME_WAIT socket */
    r = oc_sockdiag_peer_uid(nl, c.server_fd, 4, &uid);
    assert_true(r == -ENOTCONN || r == -ENOENT);
    assert_int_equal(uid, 12345); /* untouched on failure */
    close_conn(&c);
    close(nl);
}

static void test_not_tcp_loopback(void **state)
{
    int sv[2], nl = oc_sockdiag_open();
    uint32_t uid = 12345;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(oc_sockdiag_peer_uid(nl, sv[0], 5, &uid), -EAFNOSUPPORT);
    close(sv[0]);
    close(sv[1]);
    /* Not connected: getpeername fails. */
    sv[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(oc_sockdiag_peer_uid(nl, sv[0], 6, &uid), -ENOTCONN);
    close(sv[0]);
    assert_int_equal(uid, 12345);
    close(nl);
}

/* Root only: the peer belongs to another uid (a child that dropped to
 * OTHER_UID before creating its socket); and an unprivileged process can
 * ask too. */
static void test_peer_under_another_uid(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    int lfd, fd, nl, pfd[2], status;
    uint32_t uid = 12345;
    char b = 0;
    pid_t pid;

    (void)state;
    if (geteuid() != 0) {
        skip();
    }
    nl = oc_sockdiag_open();
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    assert_int_equal(pipe(pfd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct conn c;
        uint32_t u = 0;
        int s;

        if (setgroups(0, NULL) < 0 || setresgid(OTHER_UID, OTHER_UID, OTHER_UID) < 0 ||
            setresuid(OTHER_UID, OTHER_UID, OTHER_UID) < 0) {
            _exit(10);
        }
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            _exit(11);
        }
        /* Unprivileged: look up the peer of a connection of our own. */
        if (!make_conn(AF_INET, "127.0.0.1", NULL, &c)) {
            _exit(12);
        }
        int cnl = oc_sockdiag_open();
        if (cnl < 0 || oc_sockdiag_peer_uid(cnl, c.server_fd, 9, &u) < 0 || u != OTHER_UID) {
            _exit(13);
        }
        /* Hold the connection until the parent has asked. */
        if (read(pfd[0], &b, 1) != 1) {
            _exit(14);
        }
        _exit(0);
    }
    close(pfd[0]);
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(oc_sockdiag_peer_uid(nl, fd, 8, &uid), 0);
    assert_int_equal(uid, OTHER_UID);
    assert_int_equal(write(pfd[1], &b, 1), 1);
    close(pfd[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(fd);
    close(lfd);
    close(nl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ipv4_peer_is_our_uid),
            cmocka_unit_test(test_ipv4_other_loopback_source),
            cmocka_unit_test(test_ipv6_peer_is_our_uid),
            cmocka_unit_test(test_closed_peer_has_no_owner),
            cmocka_unit_test(test_not_tcp_loopback),
            cmocka_unit_test(test_peer_under_another_uid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
