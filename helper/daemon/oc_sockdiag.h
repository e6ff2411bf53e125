/* SPDX-License-Identifier: MIT */
/*
 * oc_sockdiag.h: who owns the other end of a loopback TCP connection,
 * asked from the kernel.
 *
 * For a connection accepted on a loopback address, the client's socket
 * is a socket of this host in this network namespace: its local address
 * and port are our peer's, its remote ones are ours. One NETLINK_SOCK_DIAG
 * request (SOCK_DIAG_BY_FAMILY, inet_diag, an exact lookup of that
 * 4-tuple, no dump) returns it, with the uid that owns it (the fsuid of
 * the process that created it; only a privileged process can change it
 * with fchown). This needs no privilege, like `ss -e`.
 *
 * The answer is trusted only when it is the kernel's (netlink port 0),
 * answers this request (sequence number), names exactly the 4-tuple
 * asked for, and describes a live socket held open by a process: state
 * ESTABLISHED, FIN_WAIT1 or FIN_WAIT2, and an inode. A socket that was
 * already closed (TIME_WAIT, orphaned) has no owner and is refused: the
 * kernel reports uid 0 for those. No logging; no allocation.
 */
#ifndef OC_SOCKDIAG_H
#define OC_SOCKDIAG_H

#include <stdint.h>

/* A NETLINK_SOCK_DIAG socket (close-on-exec), or a negative errno. */
int oc_sockdiag_open(void);

/*
 * The uid owning the peer socket of conn_fd, a TCP connection whose both
 * ends are loopback addresses (127.0.0.0/8, ::1, or 169.254.169.254 as
 * mi_endpoint = imds puts it on lo). seq numbers the request
 * (use a new one per call). Returns 0, or:
 *   -EAFNOSUPPORT  not an AF_INET/AF_INET6 socket, or the families differ
 *   -EPERM         an end is not a loopback address
 *   -ENOENT        the kernel knows no such socket (not a local peer)
 *   -ENOTCONN      the peer socket is closed or has no owner any more
 *   -EPROTO        the kernel's answer does not match the request
 *   other negative errno from the syscalls
 */
int oc_sockdiag_peer_uid(int nl_fd, int conn_fd, uint32_t seq, uint32_t *ret_uid);

#endif
