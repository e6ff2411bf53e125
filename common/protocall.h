/* SPDX-License-Identifier: MIT */
/*
 * protocall.h: the one client of openclawd's socket protocol. Every caller
 * (pam_openclaw, openclawctl, openclaw-token, its ssh-agent) sends its
 * requests through oc_proto_call: one connection, one request frame, one
 * answer frame, close.
 *
 * It runs inside sshd, sudo and su as root, so it must never block long
 * and never crash when the daemon is absent: the connect is non-blocking
 * and the whole exchange (connect, send, answer) has one hard deadline
 * given by the caller. Root first tries the root-only socket SOCKET.root.
 * Frames are common/proto.h's. libc only; no logging.
 *
 *   -ENOENT        no socket: openclawd is not running
 *   -ECONNREFUSED  a socket but nobody listening (openclawd stopped)
 *   -ETIMEDOUT     no answer within the deadline
 *   -ECONNRESET    openclawd closed the connection without an answer
 *                  (it ends connections of peers that may not send a request)
 *   -EPROTO        an answer that is not one frame
 */
#ifndef OC_PROTOCALL_H
#define OC_PROTOCALL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Send request (a JSON object, NUL-terminated) to the daemon at
 * socket_path and read one answer frame within timeout_ms. *ret_answer is
 * malloc'd, NUL-terminated, *ret_len bytes; it may hold a token: free it
 * with oc_free_wipe(answer, len + 1).
 */
int oc_proto_call(const char *socket_path, const char *request, int timeout_ms, char **ret_answer,
                  size_t *ret_len);

/* A short English text for a negative return of oc_proto_call. */
const char *oc_proto_call_strerror(int r);

/* Did the call that returned r reach a listening daemon (false: nothing
 * was sent: no socket, nobody listening, no permission, bad path)? */
bool oc_proto_call_connected(int r);

#endif /* OC_PROTOCALL_H */
