/* SPDX-License-Identifier: MIT */
/*
 * bench/helper-load: the load generator and the peer of bench/helper.
 *
 *   helper-load client SOCKET CLIENTS SECONDS JSON
 *       CLIENTS threads, each with its own connection, send the request
 *       JSON as fast as the answers come back for SECONDS, reconnecting
 *       whenever the server ends a connection (openclawd allows 64
 *       requests per connection). Prints one line of key=value figures:
 *       requests, req/s, p50 and p99 latency (µs, request written to
 *       answer read, connects not included), reconnects, errors.
 *
 *   helper-load serve SOCKET ANSWER_BYTES
 *       The peer: a one-threaded epoll server with openclawd's framing
 *       and connection rules (SO_PEERCRED read on accept, 64 requests per
 *       connection) that answers every frame with a fixed JSON object of
 *       ANSWER_BYTES bytes, doing no other work: the floor of one request
 *       over a Unix socket. Runs until SIGTERM.
 *
 * Not a test: nothing here is asserted.
 */
#include "config.h"

#define _GNU_SOURCE 1
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define LOAD_THREADS_MAX  256
#define LOAD_SAMPLES_MAX  (1u << 20) /* latency samples kept per thread */
#define LOAD_PER_CONN     64         /* like openclawd */
#define LOAD_FRAME_MAX    (64u * 1024u)
#define SERVE_CLIENTS_MAX 256

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* client                                                              */
/* ------------------------------------------------------------------ */

struct worker {
    pthread_t thread;
    const char *path;
    const uint8_t *frame;
    size_t frame_len;
    uint64_t deadline;
    uint32_t *samples; /* nanoseconds, capped at UINT32_MAX */
    size_t n_samples;
    uint64_t requests, reconnects, errors;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    uint8_t *ans = malloc(LOAD_FRAME_MAX);
    int fd = -1;
    unsigned on_conn = 0;

    if (ans == NULL) {
        w->errors++;
        return NULL;
    }
    while (now_ns() < w->deadline) {
        if (fd < 0) {
            fd = connect_unix(w->path);
            if (fd < 0) {
                w->errors++;
                usleep(1000);
                continue;
            }
            on_conn = 0;
        }
        uint64_t t0 = now_ns();
        uint8_t hdr[4];
        if (write_all(fd, w->frame, w->frame_len) < 0 || read_all(fd, hdr, 4) < 0) {
            /* the server ended the connection (its per-connection cap) */
            close(fd);
            fd = -1;
            w->reconnects++;
            continue;
        }
        uint32_t n =
                (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
        if (n == 0 || n > LOAD_FRAME_MAX || read_all(fd, ans, n) < 0) {
            w->errors++;
            close(fd);
            fd = -1;
            continue;
        }
        uint64_t dt = now_ns() - t0;
        if (memmem(ans, n, "\"ok\":true", 9) == NULL) {
            w->errors++;
        }
        w->requests++;
        if (w->n_samples < LOAD_SAMPLES_MAX) {
            w->samples[w->n_samples++] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
        }
        if (++on_conn == LOAD_PER_CONN) {
            close(fd); /* the server closes after this many anyway */
            fd = -1;
            w->reconnects++;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    free(ans);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int run_client(const char *path, unsigned clients, unsigned seconds, const char *json)
{
    size_t jl = strlen(json);
    if (clients == 0 || clients > LOAD_THREADS_MAX || seconds == 0 || jl == 0 ||
        jl > LOAD_FRAME_MAX) {
        fprintf(stderr, "helper-load: bad arguments\n");
        return 2;
    }
    uint8_t *frame = malloc(4 + jl);
    struct worker *w = calloc(clients, sizeof(*w));
    if (frame == NULL || w == NULL) {
        return 1;
    }
    frame[0] = (uint8_t)(jl >> 24);
    frame[1] = (uint8_t)(jl >> 16);
    frame[2] = (uint8_t)(jl >> 8);
    frame[3] = (uint8_t)jl;
    memcpy(frame + 4, json, jl);

    uint64_t start = now_ns(), deadline = start + (uint64_t)seconds * 1000000000u;
    for (unsigned i = 0; i < clients; i++) {
        w[i] = (struct worker){
                .path = path, .frame = frame, .frame_len = 4 + jl, .deadline = deadline};
        w[i].samples = malloc(LOAD_SAMPLES_MAX * sizeof(uint32_t));
        if (w[i].samples == NULL || pthread_create(&w[i].thread, NULL, worker_run, &w[i]) != 0) {
            fprintf(stderr, "helper-load: cannot start thread %u\n", i);
            return 1;
        }
    }
    uint64_t requests = 0, reconnects = 0, errors = 0;
    size_t n_all = 0;
    for (unsigned i = 0; i < clients; i++) {
        pthread_join(w[i].thread, NULL);
        requests += w[i].requests;
        reconnects += w[i].reconnects;
        errors += w[i].errors;
        n_all += w[i].n_samples;
    }
    double elapsed = (double)(now_ns() - start) / 1e9;
    uint32_t *all = malloc((n_all ? n_all : 1) * sizeof(uint32_t));
    if (all == NULL) {
        return 1;
    }
    size_t k = 0;
    for (unsigned i = 0; i < clients; i++) {
        memcpy(all + k, w[i].samples, w[i].n_samples * sizeof(uint32_t));
        k += w[i].n_samples;
        free(w[i].samples);
    }
    qsort(all, n_all, sizeof(uint32_t), cmp_u32);
    double p50 = n_all ? all[n_all / 2] / 1e3 : 0, p99 = n_all ? all[n_all * 99 / 100] / 1e3 : 0;
    printf("requests=%llu rps=%.0f p50_us=%.1f p99_us=%.1f reconnects=%llu errors=%llu\n",
           (unsigned long long)requests, (double)requests / elapsed, p50, p99,
           (unsigned long long)reconnects, (unsigned long long)errors);
    free(all);
    free(w);
    free(frame);
    return errors > 0 ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* serve: the peer                                                     */
/* ------------------------------------------------------------------ */

struct conn {
    int fd;
    uint8_t buf[LOAD_FRAME_MAX + 4];
    size_t have;
    unsigned served;
};

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static int run_serve(const char *path, size_t answer_bytes)
{
    if (answer_bytes < 16 || answer_bytes > LOAD_FRAME_MAX) {
        fprintf(stderr, "helper-load: ANSWER_BYTES must be 16..65536\n");
        return 2;
    }
    /* {"ok":true,"access_token":"xxxx...x"} padded to answer_bytes */
    uint8_t *answer = malloc(4 + answer_bytes);
    if (answer == NULL) {
        return 1;
    }
    const char *head = "{\"ok\":true,\"access_token\":\"";
    size_t hl = strlen(head);
    memcpy(answer + 4, head, hl);
    memset(answer + 4 + hl, 'x', answer_bytes - hl - 2);
    memcpy(answer + 4 + answer_bytes - 2, "\"}", 2);
    answer[0] = (uint8_t)(answer_bytes >> 24);
    answer[1] = (uint8_t)(answer_bytes >> 16);
    answer[2] = (uint8_t)(answer_bytes >> 8);
    answer[3] = (uint8_t)answer_bytes;

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        return 2;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    (void)unlink(path);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 64) < 0) {
        perror("helper-load: listen");
        return 1;
    }
    (void)chmod(path, 0666);
    struct sigaction act = {.sa_handler = on_term};
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);

    while (!stop) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 200);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd < 0) {
                    continue;
                }
                struct ucred cred;
                socklen_t cl = sizeof(cred);
                c = calloc(1, sizeof(*c));
                if (c == NULL || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
                    free(c);
                    close(fd);
                    continue;
                }
                c->fd = fd;
                struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                continue;
            }
            ssize_t r = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
            bool done = r <= 0;
            if (r > 0) {
                c->have += (size_t)r;
                while (!done && c->have >= 4) {
                    uint32_t len = (uint32_t)c->buf[0] << 24 | (uint32_t)c->buf[1] << 16 |
                                   (uint32_t)c->buf[2] << 8 | c->buf[3];
                    if (len == 0 || len > LOAD_FRAME_MAX) {
                        done = true;
                        break;
                    }
                    if (c->have < 4 + len) {
                        break;
                    }
                    /* one write; the answer is far below the socket buffer */
                    if (write(c->fd, answer, 4 + answer_bytes) != (ssize_t)(4 + answer_bytes)) {
                        done = true;
                        break;
                    }
                    memmove(c->buf, c->buf + 4 + len, c->have - 4 - len);
                    c->have -= 4 + len;
                    if (++c->served == LOAD_PER_CONN) {
                        done = true;
                    }
                }
            }
            if (done) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                free(c);
            }
        }
    }
    close(lfd);
    (void)unlink(path);
    free(answer);
    return 0;
}

int main(int argc, char **argv)
{
    /* a connection openclawd refused (over its per-uid or total limit) is
     * closed at once: a write to it must fail, not kill the load */
    signal(SIGPIPE, SIG_IGN);
    if (argc == 6 && strcmp(argv[1], "client") == 0) {
        return run_client(argv[2], (unsigned)strtoul(argv[3], NULL, 10),
                          (unsigned)strtoul(argv[4], NULL, 10), argv[5]);
    }
    if (argc == 4 && strcmp(argv[1], "serve") == 0) {
        return run_serve(argv[2], (size_t)strtoul(argv[3], NULL, 10));
    }
    fprintf(stderr, "usage: helper-load client SOCKET CLIENTS SECONDS JSON\n"
                    "       helper-load serve SOCKET ANSWER_BYTES\n");
    return 2;
}
