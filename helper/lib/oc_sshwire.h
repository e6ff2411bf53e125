/* SPDX-License-Identifier: MIT */
/*
 * oc_sshwire.h: the project's one ssh wire encoder: the field writer
 * (RFC 4251 5: byte, uint32, string, mpint) that every ssh message and
 * blob built in openclaw goes through (ssh-sign in openclawd, the
 * ssh-agent of openclaw-token, the directory sync's ssh keys) and the
 * matching field reader (the ssh-agent's requests, what ssh-sign may
 * sign), public key blobs (RFC 4253 6.6, RFC 5656 3.1), signature blobs (RFC 4253 6.6,
 * RFC 5656 3.1.2, RFC 8332 3) and SHA-256 fingerprints as ssh-keygen -l
 * prints them. OpenSSL only; no TPM, no I/O, no logging.
 */
#ifndef OC_SSHWIRE_H
#define OC_SSHWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define OC_SSH_ALG_RSA        "ssh-rsa"
#define OC_SSH_ALG_RSA_SHA256 "rsa-sha2-256"
#define OC_SSH_ALG_RSA_SHA512 "rsa-sha2-512"
#define OC_SSH_ALG_P256       "ecdsa-sha2-nistp256"
#define OC_SSH_CURVE_P256     "nistp256"
/* Longest raw RSA signature taken (RSA-2048; the TPM code's OC_TPM_SIG_MAX). */
#define OC_SSH_RAW_SIG_MAX 256u

/* Largest ssh signature blob built here (string alg + RSA-2048 bytes or two mpints). */
#define OC_SSH_SIG_BLOB_MAX 512u
/* "SHA256:" + 43 base64 characters + NUL, as ssh-keygen -l prints it. */
#define OC_SSH_FP_SIZE 51u

/* ---- the field writer (RFC 4251 5) ---- */

/*
 * Fields written one after the other into the caller's buffer (cap bytes:
 * oc_ssh_wbuf_fixed) or into one that grows up to max bytes
 * (oc_ssh_wbuf_alloc; not for secrets: growing leaves old copies
 * unwiped). The first field that does not fit sets err and every later one
 * is dropped, so a builder checks once, at the end. No offset is ever
 * computed by hand: a length known only afterwards (an ssh-agent message,
 * a signature's inner string) is a string_begin/string_end pair.
 */
struct oc_ssh_wbuf {
    uint8_t *p;
    size_t len, cap;
    size_t max; /* growing buffer: most bytes; 0: the caller's buffer */
    int err;    /* 0, -ENOBUFS (over cap or max) or -ENOMEM */
};

void oc_ssh_wbuf_fixed(struct oc_ssh_wbuf *w, uint8_t *buf, size_t cap);
void oc_ssh_wbuf_alloc(struct oc_ssh_wbuf *w, size_t max);
/* A growing buffer handed over: 0 with *ret_buf (free() it) and *ret_len,
 * or its err (the buffer freed). w is empty afterwards either way. */
int oc_ssh_wbuf_take(struct oc_ssh_wbuf *w, uint8_t **ret_buf, size_t *ret_len);

void oc_ssh_put_bytes(struct oc_ssh_wbuf *w, const void *d, size_t n);
void oc_ssh_put_u8(struct oc_ssh_wbuf *w, uint8_t v);
void oc_ssh_put_u32(struct oc_ssh_wbuf *w, uint32_t v);
void oc_ssh_put_string(struct oc_ssh_wbuf *w, const void *d, size_t n);
void oc_ssh_put_cstring(struct oc_ssh_wbuf *w, const char *s);
/* An unsigned big-endian integer of n bytes as an mpint (leading zeros
 * dropped, a zero byte in front when the high bit is set). */
void oc_ssh_put_mpint(struct oc_ssh_wbuf *w, const uint8_t *d, size_t n);
/* A string whose content is written next: begin writes its length field
 * and returns where it is; end sets it to the bytes written since. */
size_t oc_ssh_string_begin(struct oc_ssh_wbuf *w);
void oc_ssh_string_end(struct oc_ssh_wbuf *w, size_t at);

/* ---- the field reader (RFC 4251 5) ---- */

/* Fields read one after the other from len bytes at p, from off on. A
 * getter that finds too few bytes left returns false and reads nothing. */
struct oc_ssh_rbuf {
    const uint8_t *p;
    size_t len;
    size_t off;
};

bool oc_ssh_get_u8(struct oc_ssh_rbuf *r, uint8_t *ret);
bool oc_ssh_get_u32(struct oc_ssh_rbuf *r, uint32_t *ret);
/* *ret points into the buffer (not NUL-terminated). */
bool oc_ssh_get_string(struct oc_ssh_rbuf *r, const uint8_t **ret, size_t *ret_len);

/* ---- keys, signatures, fingerprints ---- */

/* The ssh wire-format public key blob of pkey: "ssh-rsa" (e, n) or
 * "ecdsa-sha2-nistp256/384/521" (curve, Q). -EOPNOTSUPP for other keys,
 * -ENOBUFS when it is over cap bytes. */
int oc_ssh_pubkey_blob(EVP_PKEY *pkey, uint8_t *buf, size_t cap, size_t *ret_len);

/* pkey as an authorized_keys line without a comment, "TYPE BASE64"
 * (malloc'd), its blob at most blob_max bytes. As oc_ssh_pubkey_blob, or
 * -ENOMEM. */
int oc_ssh_pubkey_line(EVP_PKEY *pkey, size_t blob_max, char **ret_line);

/* "SHA256:<unpadded base64 of SHA-256(blob)>". */
int oc_ssh_fingerprint(const uint8_t *blob, size_t len, char ret_fp[OC_SSH_FP_SIZE]);

/*
 * The ssh signature blob for a raw signature from oc_tpm_key_sign():
 * algo is "rsa-sha2-256" or "rsa-sha2-512" (raw = the RSA signature bytes) or
 * "ecdsa-sha2-nistp256" (raw = r||s, 64 bytes, written as two mpints).
 */
int oc_ssh_sig_blob(const char *algo, const uint8_t *raw, size_t raw_len, uint8_t *buf, size_t cap,
                    size_t *ret_len);

/* ---- what ssh-sign may sign (docs/ssh.md) ---- */

#define OC_SSH_MSG_USERAUTH_REQUEST 50
#define OC_SSH_USERAUTH_SERVICE     "ssh-connection"
#define OC_SSH_METHOD_PUBLICKEY     "publickey"
#define OC_SSH_METHOD_HOSTBOUND     "publickey-hostbound-v00@openssh.com"
#define OC_SSHSIG_MAGIC             "SSHSIG"
#define OC_SSH_SESSION_ID_MAX       64u  /* SHA-512 exchange hash */
#define OC_SSH_USER_MAX             256u /* user name kept for the audit line */
#define OC_SSH_NAMESPACE_MAX        128u
/* Namespaces SSHSIG blobs may use when the config names none. */
#define OC_SSH_NAMESPACES_DEFAULT "file", "git"

struct oc_ssh_signable {
    bool sshsig;                               /* false: a userauth request */
    bool hostbound;                            /* userauth by publickey-hostbound-v00@openssh.com */
    char user[OC_SSH_USER_MAX + 1];            /* userauth: its user, non-printables as '?' */
    char ns[OC_SSH_NAMESPACE_MAX + 1];         /* SSHSIG: its namespace */
    uint8_t session_id[OC_SSH_SESSION_ID_MAX]; /* userauth */
    size_t session_id_len;
};

/*
 * Is data something the agent's key may sign? Exactly one of, with
 * nothing after:
 *  - an SSH_MSG_USERAUTH_REQUEST (RFC 4252 7): string session id (1..64
 *    bytes), byte 50, string user, string "ssh-connection", string
 *    "publickey" (or OpenSSH's "publickey-hostbound-v00@openssh.com",
 *    followed by the server's host key), boolean TRUE, string algo (the
 *    algorithm the signature will be made with) and string key (this
 *    agent's own key blob, byte for byte);
 *  - an SSHSIG blob (OpenSSH PROTOCOL.sshsig): "SSHSIG", string namespace
 *    (one of namespaces), string reserved (empty), string "sha256" or
 *    "sha512", string digest of that hash's length.
 * Anything else - a JWS signing input, a TLS or X.509 to-be-signed, a
 * userauth request for another key - is refused: the key is also the
 * agent's Entra credential. 0 with *ret filled, or -EPERM and *ret_why.
 */
int oc_ssh_signable_check(const uint8_t *data, size_t len, const uint8_t *key, size_t key_len,
                          const char *algo, const char *const *namespaces, size_t n_namespaces,
                          struct oc_ssh_signable *ret, const char **ret_why);

#endif
