/* SPDX-License-Identifier: MIT */
/* protocall.c: one request to openclawd with a hard deadline (see protocall.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "protocall.h"
#include "util.h"

static int64_t now_ms(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline. 0 ready, -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd p = {.fd = fd, .events = events};
        int r;

        if (left <= 0) {
            return -ETIMEDOUT;
        }
        r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            return -errno;
        }
        if (r == 0) {
            return -ETIMEDOUT;
        }
        return 0;
    }
}

static int connect_deadline(int fd, const struct sockaddr_un *sa, int64_t deadline)
{
    for (;;) {
        int err = 0;
        socklen_t sl = sizeof(err);
        int r;

        if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN) {
            /* AF_UNIX: the daemon's backlog is full; try again shortly. */
            if (now_ms() + 10 >= deadline) {
                return -ETIMEDOUT;
            }
            (void)poll(NULL, 0, 10);
            continue;
        }
        if (errno != EINPROGRESS) {
            return -errno;
        }
        r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0) {
            return r;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0) {
            return -errno;
        }
        return err != 0 ? -err : 0;
    }
}

/*
 * Root (pam_openclaw, openclawctl) first tries openclawd's root-only socket,
 * SOCKET.root (0600): a flood of the main socket by local users cannot
 * delay it. Without it (an older daemon, a path too long), the main one.
 */
static int connect_any(int fd, const char *socket_path, struct sockaddr_un *sa, int64_t deadline)
{
    struct sockaddr_un root = {.sun_family = AF_UNIX};

    if (geteuid() == 0 &&
        snprintf(root.sun_path, sizeof(root.sun_path), "%s.root", socket_path) <
                (int)sizeof(root.sun_path) &&
        connect_deadline(fd, &root, deadline) == 0) {
        return 0;
    }
    return connect_deadline(fd, sa, deadline);
}

int oc_proto_call(const char *socket_path, const char *request, int timeout_ms, char **ret_answer,
                  size_t *ret_len)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct oc_proto_reader rd;
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
    uint8_t hdr[OC_PROTO_HEADER], buf[4096];
    size_t len = strlen(request), off = 0;
    uint8_t *body = NULL;
    size_t body_len = 0;
    int fd, r;

    if (socket_path == NULL || oc_strscpy(sa.sun_path, sizeof(sa.sun_path), socket_path) < 0) {
        return -ENAMETOOLONG;
    }
    r = oc_proto_header(hdr, len);
    if (r < 0) {
        return r;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -errno;
    }
    oc_proto_reader_init(&rd);
    r = connect_any(fd, socket_path, &sa, deadline);
    /* Header and body, in order, each sent whole. */
    for (int part = 0; r == 0 && part < 2; part++) {
        const uint8_t *p = part == 0 ? hdr : (const uint8_t *)request;
        size_t n = part == 0 ? sizeof(hdr) : len;
        for (off = 0; r == 0 && off < n;) {
            ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
            if (w > 0) {
                off += (size_t)w;
            } else if (w < 0 && errno == EINTR) {
                continue;
            } else if (w < 0 && errno == EAGAIN) {
                r = wait_fd(fd, POLLOUT, deadline);
            } else {
                r = w < 0 ? -errno : -EIO;
            }
        }
    }
    while (r == 0 && body == NULL) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        size_t used = 0;
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            r = wait_fd(fd, POLLIN, deadline);
            continue;
        }
        if (n < 0) {
            r = errno == EPIPE ? -ECONNRESET : -errno;
            break;
        }
        if (n == 0) {
            r = -ECONNRESET;
            break;
        }
        /* One answer is expected: bytes after it are ignored. */
        r = oc_proto_reader_feed(&rd, buf, (size_t)n, &used, &body, &body_len);
        r = r == 1 ? 0 : r;
        if (r == 0 && body == NULL && used < (size_t)n) {
            r = -EPROTO;
        }
    }
    oc_wipe(buf, sizeof(buf));
    oc_proto_reader_reset(&rd);
    close(fd);
    if (r < 0) {
        if (body != NULL) {
            oc_free_wipe(body, body_len + 1);
        }
        return r == -EMSGSIZE ? -EPROTO : r;
    }
    *ret_answer = (char *)body;
    *ret_len = body_len;
    return 0;
}

const char *oc_proto_call_strerror(int r)
{
    switch (r) {
    case -ENOENT:
        return "openclawd is not running (no socket)";
    case -ECONNREFUSED:
        return "openclawd is not running (nobody listens on the socket)";
    case -ETIMEDOUT:
        return "openclawd did not answer in time";
    case -ECONNRESET:
        return "openclawd closed the connection without an answer (see its log)";
    case -EPROTO:
        return "openclawd sent an answer that does not parse";
    case -ENAMETOOLONG:
        return "the socket path is too long";
    case -EACCES:
        return "no permission to connect to the socket";
    default:
        return strerror(-r);
    }
}

bool oc_proto_call_connected(int r)
{
    switch (r) {
    case -ENOENT:
    case -ECONNREFUSED:
    case -EACCES:
    case -EPERM:
    case -ENOTSOCK:
    case -ENAMETOOLONG:
    case -EMFILE:
    case -ENFILE:
        return false;
    default:
        return true;
    }
}
