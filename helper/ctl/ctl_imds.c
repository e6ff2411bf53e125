/* SPDX-License-Identifier: MIT */
/*
 * ctl_imds.c: openclawctl imds-address check|add|remove — the privileged
 * half of mi_endpoint = imds (docs/mi-endpoint.md, "Azure IMDS's own
 * address").
 *
 * openclawd, unprivileged, serves the managed-identity endpoint on
 * 169.254.169.254:80 only with a listening socket that systemd made and
 * passed to it (openclawd-imds.socket). That unit runs this as root
 * before it binds (ExecStartPre=... add) and after it closes
 * (ExecStopPost=... remove):
 *  - check: refuse (exit 1) where a real instance metadata service
 *    answers: something speaking HTTP on 169.254.169.254:80 (an Azure VM)
 *    or on 127.0.0.1:40342 (the Azure Arc agent, himds). Their agents use
 *    credential = managed-identity / azure-arc instead.
 *  - add: check, then put 169.254.169.254/32 on lo with scope host
 *    (RTM_NEWADDR): the address is local, so no packet for it leaves the
 *    host, and a packet from elsewhere cannot carry it as its source.
 *    Checked on every start: the unit's own socket is not bound yet then.
 *  - remove: take it off lo again (RTM_DELADDR); nothing to do is success.
 * No input but the command line; rtnetlink only in the network namespace
 * it runs in.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "conf.h"
#include "helper/ctl/ctl.h"
#include "util.h"

#define IMDS_PROBE_MS  1000  /* per address probed */
#define ARC_HIMDS_PORT 40342 /* the Azure Arc agent's local endpoint */

static void usage(FILE *f)
{
    fprintf(f, "Usage: openclawctl imds-address check|add|remove\n"
               "The address " OC_MI_IMDS_ADDR " on lo for mi_endpoint = imds (run by\n"
               "openclawd-imds.socket, as root):\n"
               "  check   exit 1 when a real instance metadata service answers here\n"
               "  add     check, then put " OC_MI_IMDS_ADDR "/32 on lo (scope host)\n"
               "  remove  take it off lo\n");
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Does something answer HTTP on addr:port within IMDS_PROBE_MS? 1 yes, 0 no. */
static int answers_http(const char *addr, uint16_t port, const char *path)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    char req[256], buf[16];
    int64_t deadline = now_ms() + IMDS_PROBE_MS;
    size_t got = 0, sent = 0, n;
    int fd, r = 0;

    (void)inet_pton(AF_INET, addr, &sa.sin_addr);
    n = (size_t)snprintf(
            req, sizeof(req),
            "GET %s HTTP/1.1\r\nHost: %s\r\nMetadata: true\r\nConnection: close\r\n\r\n", path,
            addr);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return 0;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        goto out; /* refused, unreachable: nothing there */
    }
    while (got < 5) {
        struct pollfd p = {.fd = fd, .events = sent < n ? POLLOUT : POLLIN};
        int64_t left = deadline - now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
            goto out;
        }
        if (sent < n) {
            int err = 0;
            socklen_t el = sizeof(err);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
                goto out;
            }
            ssize_t w = send(fd, req + sent, n - sent, MSG_NOSIGNAL);
            if (w <= 0) {
                goto out;
            }
            sent += (size_t)w;
            continue;
        }
        ssize_t rd = recv(fd, buf + got, sizeof(buf) - got, 0);
        if (rd <= 0) {
            goto out;
        }
        got += (size_t)rd;
    }
    r = memcmp(buf, "HTTP/", 5) == 0;
out:
    close(fd);
    return r;
}

static int check(void)
{
    if (answers_http(OC_MI_IMDS_ADDR, OC_MI_IMDS_PORT,
                     "/metadata/instance?api-version=2021-02-01")) {
        fprintf(stderr,
                "openclawctl imds-address: a real instance metadata service answers on "
                "%s:%u (an Azure VM): mi_endpoint = imds is refused here; its agents use "
                "credential = managed-identity, or set mi_endpoint = 127.0.0.1:PORT\n",
                OC_MI_IMDS_ADDR, (unsigned)OC_MI_IMDS_PORT);
        return CTL_EXIT_REFUSED;
    }
    if (answers_http("127.0.0.1", ARC_HIMDS_PORT,
                     "/metadata/identity/oauth2/token?api-version=2019-11-01")) {
        fprintf(stderr,
                "openclawctl imds-address: the Azure Arc agent (himds) answers on "
                "127.0.0.1:%u: mi_endpoint = imds is refused here; its agents use "
                "credential = azure-arc, or set mi_endpoint = 127.0.0.1:PORT\n",
                (unsigned)ARC_HIMDS_PORT);
        return CTL_EXIT_REFUSED;
    }
    return CTL_EXIT_OK;
}

/* RTM_NEWADDR / RTM_DELADDR of 169.254.169.254/32 on lo. 0 or -errno. */
static int rtnl_addr(int type)
{
    struct {
        struct nlmsghdr nh;
        struct ifaddrmsg ifa;
        char attrs[64];
    } req;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    struct in_addr a;
    char ans[512];
    struct rtattr *rta;
    unsigned lo = if_nametoindex("lo");
    int fd, r;

    if (lo == 0) {
        return -ENODEV;
    }
    (void)inet_pton(AF_INET, OC_MI_IMDS_ADDR, &a);
    memset(&req, 0, sizeof(req));
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
    req.nh.nlmsg_type = (unsigned short)type;
    req.nh.nlmsg_flags =
            NLM_F_REQUEST | NLM_F_ACK | (type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
    req.nh.nlmsg_seq = 1;
    req.ifa.ifa_family = AF_INET;
    req.ifa.ifa_prefixlen = 32;
    req.ifa.ifa_scope = RT_SCOPE_HOST;
    req.ifa.ifa_index = lo;
    for (unsigned short kind = IFA_LOCAL;; kind = IFA_ADDRESS) {
        rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.nh.nlmsg_len));
        rta->rta_type = kind;
        rta->rta_len = RTA_LENGTH(sizeof(a));
        memcpy(RTA_DATA(rta), &a, sizeof(a));
        req.nh.nlmsg_len = NLMSG_ALIGN(req.nh.nlmsg_len) + RTA_ALIGN(rta->rta_len);
        if (kind == IFA_ADDRESS) {
            break;
        }
    }
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        return -errno;
    }
    if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    ssize_t n = recv(fd, ans, sizeof(ans), 0);
    r = n < 0 ? -errno : -EPROTO;
    if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
        const struct nlmsghdr *h = (const struct nlmsghdr *)ans;
        if (h->nlmsg_type == NLMSG_ERROR) {
            r = ((const struct nlmsgerr *)NLMSG_DATA(h))->error;
        }
    }
    close(fd);
    return r;
}

int ctl_imds_address(int argc, char **argv)
{
    int r;

    if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc == 2 ? stdout : stderr);
        return argc == 2 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "check") == 0) {
        return check();
    }
    if (strcmp(argv[1], "add") != 0 && strcmp(argv[1], "remove") != 0) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "openclawctl imds-address: %s needs root (openclawd-imds.socket runs it)\n",
                argv[1]);
        return CTL_EXIT_REFUSED;
    }
    if (strcmp(argv[1], "remove") == 0) {
        r = rtnl_addr(RTM_DELADDR);
        if (r < 0 && r != -EADDRNOTAVAIL && r != -ENOENT && r != -ENODEV) {
            fprintf(stderr, "openclawctl imds-address: cannot take %s off lo: %s\n",
                    OC_MI_IMDS_ADDR, strerror(-r));
            return CTL_EXIT_REFUSED;
        }
        return CTL_EXIT_OK;
    }
    /* Checked every time, a restart too: the unit's own socket is not bound
     * yet, so whatever answers there is another server. */
    r = check();
    if (r != CTL_EXIT_OK) {
        return r;
    }
    r = rtnl_addr(RTM_NEWADDR);
    if (r < 0 && r != -EEXIST) {
        fprintf(stderr, "openclawctl imds-address: cannot put %s/32 on lo: %s\n", OC_MI_IMDS_ADDR,
                strerror(-r));
        return CTL_EXIT_REFUSED;
    }
    printf("%s/32 on lo (scope host), for openclawd's managed-identity endpoint\n",
           OC_MI_IMDS_ADDR);
    return CTL_EXIT_OK;
}
