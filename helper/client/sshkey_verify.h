/* SPDX-License-Identifier: MIT */
/*
 * sshkey_verify.h: ssh public keys and signatures made by them, as the
 * ssh-agent of `openclaw-token --ssh-agent` needs them to check OpenSSH's
 * session-bind@openssh.com (PROTOCOL.agent 1): the server's host key
 * signed the session identifier in the first key exchange, and the agent
 * verifies that signature before it binds a connection to the session.
 *
 * Keys (RFC 4253 6.6, RFC 5656 3.1, RFC 8709): ssh-ed25519,
 * ecdsa-sha2-nistp256/384/521, ssh-rsa (1024..16384 bits). Signatures:
 * ssh-ed25519, ecdsa-sha2-* with the curve's hash, rsa-sha2-256 and
 * rsa-sha2-512. An ssh-rsa (SHA-1) signature is refused, as is every
 * other key or signature type. OpenSSL only; no I/O, no logging.
 */
#ifndef OC_SSHKEY_VERIFY_H
#define OC_SSHKEY_VERIFY_H

#include <stddef.h>
#include <stdint.h>

/* Longest public key blob taken (an RSA-16384 key is about 2 KiB). */
#define OC_SSHKEY_BLOB_MAX 4096u
/* Longest signature blob taken. */
#define OC_SSHKEY_SIG_MAX 4096u
/* Longest key type name returned. */
#define OC_SSHKEY_TYPE_MAX 32u

/*
 * Is blob a well-formed public key of a supported type, with nothing
 * after it? 0 and its type name in ret_type (may be NULL); -EOPNOTSUPP
 * for another type; -EINVAL when malformed (*ret_why says what).
 */
int oc_sshkey_check(const uint8_t *blob, size_t len, char ret_type[OC_SSHKEY_TYPE_MAX],
                    const char **ret_why);

/*
 * Verify sig (an ssh signature blob: string type, string signature) over
 * data with the public key blob. 0: it verifies. -EBADMSG: it does not.
 * -EOPNOTSUPP: a key or signature type not supported here (ssh-rsa SHA-1
 * included). -EINVAL: a malformed key or signature blob. -ENOMEM.
 * *ret_why (always set on failure) is a short phrase for a log line.
 */
int oc_sshkey_verify(const uint8_t *blob, size_t blob_len, const uint8_t *sig, size_t sig_len,
                     const uint8_t *data, size_t data_len, const char **ret_why);

#endif
