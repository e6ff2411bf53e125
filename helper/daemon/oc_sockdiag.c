/* SPDX-License-Identifier: MIT */
/* oc_sockdiag.c: owner uid of a loopback TCP peer via NETLINK_SOCK_DIAG (see oc_sockdiag.h). */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "helper/daemon/oc_sockdiag.h"

/* Room for one answer (inet_diag_msg, no attributes asked for) or an error. */
#define OC_SOCKDIAG_BUF 1024
/* Messages read before giving up on finding the answer to our request. */
#define OC_SOCKDIAG_READS_MAX 8

int oc_sockdiag_open(void)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);

    if (fd < 0) {
        return -errno;
    }
    /* Bound to an automatic port id: only the kernel can send to it (sock_diag
     * does not let unprivileged processes send to other sockets). */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* 127.0.0.0/8, ::1, or 169.254.169.254: Azure IMDS's address, which
 * mi_endpoint = imds puts on lo (a packet from elsewhere cannot carry a
 * local source address; the exact lookup below finds only local sockets). */
static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        uint32_t a = ntohl(s4->sin_addr.s_addr);
        return (a >> 24) == 127 || a == 0xa9fea9feu; /* 169.254.169.254 */
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
    }
    return false;
}

/* Address (network order) and port (network order) of ss into the diag id layout. */
static void to_diag(const struct sockaddr_storage *ss, __be32 addr[4], __be16 *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        memcpy(addr, &s4->sin_addr, 4);
        *port = s4->sin_port;
    } else {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        memcpy(addr, &s6->sin6_addr, 16);
        *port = s6->sin6_port;
    }
}

static bool same_id(const struct inet_diag_sockid *a, const struct inet_diag_sockid *b, size_t alen)
{
    return a->idiag_sport == b->idiag_sport && a->idiag_dport == b->idiag_dport &&
           memcmp(a->idiag_src, b->idiag_src, alen) == 0 &&
           memcmp(a->idiag_dst, b->idiag_dst, alen) == 0;
}

/* 1: answered (*ret_r set), 0: not the answer to seq (ignore), -EPROTO: malformed. */
static int check_answer(const struct nlmsghdr *h, uint32_t seq, const struct inet_diag_req_v2 *req,
                        size_t alen, int *ret_r, uint32_t *ret_uid)
{
    const struct inet_diag_msg *m;

    if (h->nlmsg_seq != seq) {
        return 0;
    }
    if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
            return -EPROTO;
        }
        /* error 0 would be an acknowledgement, which we never ask for. */
        *ret_r = e->error < 0 ? e->error : -EPROTO;
        return 1;
    }
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m))) {
        return -EPROTO;
    }
    m = NLMSG_DATA(h);
    if (m->idiag_family != req->sdiag_family || !same_id(&m->id, &req->id, alen)) {
        *ret_r = -EPROTO;
        return 1;
    }
    /* A closed socket (TIME_WAIT mini-socket, orphan) has no owner: the kernel
     * reports uid 0 and inode 0 for it. Only a socket a process holds counts. */
    if ((m->idiag_state != TCP_ESTABLISHED && m->idiag_state != TCP_FIN_WAIT1 &&
         m->idiag_state != TCP_FIN_WAIT2) ||
        m->idiag_inode == 0) {
        *ret_r = -ENOTCONN;
        return 1;
    }
    *ret_uid = m->idiag_uid;
    *ret_r = 0;
    return 1;
}

int oc_sockdiag_peer_uid(int nl_fd, int conn_fd, uint32_t seq, uint32_t *ret_uid)
{
    struct sockaddr_storage local, peer;
    socklen_t llen = sizeof(local), plen = sizeof(peer);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;
    union {
        struct nlmsghdr h;
        uint8_t b[OC_SOCKDIAG_BUF];
    } buf;
    size_t alen;
    uint32_t uid = 0;
    int r = -EPROTO;

    memset(&local, 0, sizeof(local));
    memset(&peer, 0, sizeof(peer));
    if (getsockname(conn_fd, (struct sockaddr *)&local, &llen) < 0 ||
        getpeername(conn_fd, (struct sockaddr *)&peer, &plen) < 0) {
        return -errno;
    }
    if ((local.ss_family != AF_INET && local.ss_family != AF_INET6) ||
        peer.ss_family != local.ss_family) {
        return -EAFNOSUPPORT;
    }
    if (!is_loopback(&local) || !is_loopback(&peer)) {
        return -EPERM;
    }
    alen = local.ss_family == AF_INET ? 4 : 16;

    /* The client's socket: its source is our peer, its destination is us. */
    memset(&req, 0, sizeof(req));
    req.nlh.nlmsg_len = sizeof(req);
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST;
    req.nlh.nlmsg_seq = seq;
    req.r.sdiag_family = (uint8_t)local.ss_family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = (1u << TCP_ESTABLISHED) | (1u << TCP_FIN_WAIT1) | (1u << TCP_FIN_WAIT2);
    to_diag(&peer, req.r.id.idiag_src, &req.r.id.idiag_sport);
    to_diag(&local, req.r.id.idiag_dst, &req.r.id.idiag_dport);
    req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

    for (;;) {
        ssize_t n = sendto(nl_fd, &req, sizeof(req), MSG_NOSIGNAL, (struct sockaddr *)&kernel,
                           sizeof(kernel));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n != (ssize_t)sizeof(req)) {
            return n < 0 ? -errno : -EIO;
        }
        break;
    }
    /* The kernel answers inside sendto(): the reply is queued already, so the
     * non-blocking reads below never wait. */
    for (unsigned i = 0; i < OC_SOCKDIAG_READS_MAX; i++) {
        struct sockaddr_nl from;
        socklen_t flen = sizeof(from);
        struct nlmsghdr *h;
        ssize_t n = recvfrom(nl_fd, &buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
                             (struct sockaddr *)&from, &flen);
        size_t left;

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno == EAGAIN ? -EPROTO : -errno;
        }
        if ((size_t)n > sizeof(buf) || flen != sizeof(from) || from.nl_family != AF_NETLINK ||
            from.nl_pid != 0) {
            continue; /* truncated, or not from the kernel: never trusted */
        }
        left = (size_t)n;
        for (h = &buf.h; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            int a = check_answer(h, seq, &req.r, alen, &r, &uid);
            if (a < 0) {
                return a;
            }
            if (a == 1) {
                if (r == 0) {
                    *ret_uid = uid;
                }
                return r;
            }
        }
    }
    return -EPROTO;
}
