/* SPDX-License-Identifier: MIT */
/* oc_sshwire.c: the ssh wire writer, ssh public key and signature blobs, fingerprints
 * (see oc_sshwire.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "helper/lib/oc_sshwire.h"

/* ---- ssh wire format (RFC 4251 5) ---- */

/* A growing buffer's first allocation. */
#define WBUF_FIRST 256u

void oc_ssh_wbuf_fixed(struct oc_ssh_wbuf *w, uint8_t *buf, size_t cap)
{
    *w = (struct oc_ssh_wbuf){.p = buf, .cap = cap};
}

void oc_ssh_wbuf_alloc(struct oc_ssh_wbuf *w, size_t max)
{
    *w = (struct oc_ssh_wbuf){.max = max};
}

/* Room for n more bytes: in the caller's buffer, or by growing ours. */
static bool wbuf_room(struct oc_ssh_wbuf *w, size_t n)
{
    size_t cap;
    uint8_t *p;

    if (w->err != 0) {
        return false;
    }
    if (n <= w->cap - w->len) {
        return true;
    }
    if (w->max == 0 || n > w->max - w->len) {
        w->err = -ENOBUFS;
        return false;
    }
    cap = w->cap;
    if (cap == 0) {
        cap = WBUF_FIRST < w->max ? WBUF_FIRST : w->max;
    }
    while (cap < w->len + n) {
        cap = cap > w->max / 2 ? w->max : cap * 2;
    }
    p = realloc(w->p, cap);
    if (p == NULL) {
        w->err = -ENOMEM;
        return false;
    }
    w->p = p;
    w->cap = cap;
    return true;
}

int oc_ssh_wbuf_take(struct oc_ssh_wbuf *w, uint8_t **ret_buf, size_t *ret_len)
{
    int r = w->err;

    if (r == 0 && w->p == NULL) {
        r = wbuf_room(w, 1) ? 0 : w->err; /* nothing written: still a buffer to free() */
    }
    if (r < 0) {
        if (w->max > 0) {
            free(w->p); /* ours, never the caller's buffer */
        }
    } else {
        *ret_buf = w->p;
        *ret_len = w->len;
    }
    *w = (struct oc_ssh_wbuf){0};
    return r;
}

void oc_ssh_put_bytes(struct oc_ssh_wbuf *w, const void *d, size_t n)
{
    if (n == 0 || !wbuf_room(w, n)) {
        return;
    }
    memcpy(w->p + w->len, d, n);
    w->len += n;
}

void oc_ssh_put_u8(struct oc_ssh_wbuf *w, uint8_t v)
{
    oc_ssh_put_bytes(w, &v, 1);
}

void oc_ssh_put_u32(struct oc_ssh_wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    oc_ssh_put_bytes(w, b, sizeof(b));
}

void oc_ssh_put_string(struct oc_ssh_wbuf *w, const void *d, size_t n)
{
    if (n > UINT32_MAX) {
        w->err = w->err != 0 ? w->err : -ENOBUFS;
        return;
    }
    oc_ssh_put_u32(w, (uint32_t)n);
    oc_ssh_put_bytes(w, d, n);
}

void oc_ssh_put_cstring(struct oc_ssh_wbuf *w, const char *s)
{
    oc_ssh_put_string(w, s, strlen(s));
}

/* An unsigned big-endian integer as an mpint: no leading zero bytes, one
 * zero byte in front when the high bit is set, zero as the empty string. */
void oc_ssh_put_mpint(struct oc_ssh_wbuf *w, const uint8_t *d, size_t n)
{
    while (n > 0 && d[0] == 0) {
        d++;
        n--;
    }
    if (n > 0 && (d[0] & 0x80) != 0) {
        oc_ssh_put_u32(w, (uint32_t)n + 1);
        oc_ssh_put_u8(w, 0);
        oc_ssh_put_bytes(w, d, n);
    } else {
        oc_ssh_put_string(w, d, n);
    }
}

size_t oc_ssh_string_begin(struct oc_ssh_wbuf *w)
{
    size_t at = w->len;

    oc_ssh_put_u32(w, 0);
    return at;
}

void oc_ssh_string_end(struct oc_ssh_wbuf *w, size_t at)
{
    size_t n;

    if (w->err != 0 || at > w->len || w->len - at < 4) {
        return;
    }
    n = w->len - at - 4;
    if (n > UINT32_MAX) {
        w->err = -ENOBUFS;
        return;
    }
    w->p[at] = (uint8_t)(n >> 24);
    w->p[at + 1] = (uint8_t)(n >> 16);
    w->p[at + 2] = (uint8_t)(n >> 8);
    w->p[at + 3] = (uint8_t)n;
}

static int put_bn_param(struct oc_ssh_wbuf *w, EVP_PKEY *pkey, const char *name)
{
    BIGNUM *bn = NULL;
    uint8_t b[1024];
    int n;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
        return -EINVAL;
    }
    n = BN_num_bytes(bn);
    if (n < 0 || (size_t)n > sizeof(b) || BN_bn2bin(bn, b) != n) {
        BN_free(bn);
        return -EOVERFLOW;
    }
    BN_free(bn);
    oc_ssh_put_mpint(w, b, (size_t)n);
    return 0;
}

int oc_ssh_pubkey_blob(EVP_PKEY *pkey, uint8_t *buf, size_t cap, size_t *ret_len)
{
    struct oc_ssh_wbuf w;
    int r;

    oc_ssh_wbuf_fixed(&w, buf, cap);
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
        oc_ssh_put_cstring(&w, OC_SSH_ALG_RSA);
        r = put_bn_param(&w, pkey, OSSL_PKEY_PARAM_RSA_E);
        r = r < 0 ? r : put_bn_param(&w, pkey, OSSL_PKEY_PARAM_RSA_N);
        if (r < 0) {
            return r;
        }
    } else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
        static const struct {
            const char *group, *alt, *alg, *curve;
            size_t point; /* uncompressed: 0x04 || X || Y */
        } curves[] = {
                {"prime256v1", "P-256", OC_SSH_ALG_P256, OC_SSH_CURVE_P256, 65},
                {"secp384r1", "P-384", "ecdsa-sha2-nistp384", "nistp384", 97},
                {"secp521r1", "P-521", "ecdsa-sha2-nistp521", "nistp521", 133},
        };
        char group[64];
        uint8_t point[133];
        size_t plen = 0, c;

        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                           NULL) != 1) {
            return -EOPNOTSUPP;
        }
        for (c = 0; c < sizeof(curves) / sizeof(curves[0]); c++) {
            if (strcmp(group, curves[c].group) == 0 || strcmp(group, curves[c].alt) == 0) {
                break;
            }
        }
        if (c == sizeof(curves) / sizeof(curves[0])) {
            return -EOPNOTSUPP;
        }
        /* The uncompressed point (OpenSSL's default encoding), as OpenSSH writes it. */
        if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                            sizeof(point), &plen) != 1 ||
            plen != curves[c].point || point[0] != 0x04) {
            return -EINVAL;
        }
        oc_ssh_put_cstring(&w, curves[c].alg);
        oc_ssh_put_cstring(&w, curves[c].curve);
        oc_ssh_put_string(&w, point, plen);
    } else {
        return -EOPNOTSUPP;
    }
    if (w.err != 0) {
        return -ENOBUFS;
    }
    *ret_len = w.len;
    return 0;
}

int oc_ssh_pubkey_line(EVP_PKEY *pkey, size_t blob_max, char **ret_line)
{
    uint8_t *blob = malloc(blob_max);
    size_t len = 0, tl;
    char *line = NULL;
    int r = blob == NULL ? -ENOMEM : oc_ssh_pubkey_blob(pkey, blob, blob_max, &len);

    if (r == 0) {
        /* the blob starts with its key type, a string */
        tl = (size_t)blob[0] << 24 | (size_t)blob[1] << 16 | (size_t)blob[2] << 8 | blob[3];
        line = malloc(tl + 1 + 4 * ((len + 2) / 3) + 1);
        if (line == NULL) {
            r = -ENOMEM;
        } else {
            memcpy(line, blob + 4, tl);
            line[tl] = ' ';
            EVP_EncodeBlock((unsigned char *)line + tl + 1, blob, (int)len);
            *ret_line = line;
        }
    }
    free(blob);
    return r;
}

int oc_ssh_fingerprint(const uint8_t *blob, size_t len, char ret_fp[OC_SSH_FP_SIZE])
{
    uint8_t md[SHA256_DIGEST_LENGTH];
    unsigned char b64[48];
    int n;

    SHA256(blob, len, md);
    n = EVP_EncodeBlock(b64, md, sizeof(md));
    if (n != 44) {
        return -EINVAL;
    }
    /* ssh-keygen prints it unpadded */
    snprintf(ret_fp, OC_SSH_FP_SIZE, "SHA256:%.43s", (const char *)b64);
    return 0;
}

int oc_ssh_sig_blob(const char *algo, const uint8_t *raw, size_t raw_len, uint8_t *buf, size_t cap,
                    size_t *ret_len)
{
    struct oc_ssh_wbuf w;

    oc_ssh_wbuf_fixed(&w, buf, cap);
    oc_ssh_put_cstring(&w, algo);
    if (strcmp(algo, OC_SSH_ALG_P256) == 0) {
        size_t at;

        if (raw_len != 64) {
            return -EINVAL;
        }
        /* string (mpint r, mpint s) */
        at = oc_ssh_string_begin(&w);
        oc_ssh_put_mpint(&w, raw, 32);
        oc_ssh_put_mpint(&w, raw + 32, 32);
        oc_ssh_string_end(&w, at);
    } else if (strcmp(algo, OC_SSH_ALG_RSA_SHA256) == 0 ||
               strcmp(algo, OC_SSH_ALG_RSA_SHA512) == 0) {
        if (raw_len == 0 || raw_len > OC_SSH_RAW_SIG_MAX) {
            return -EINVAL;
        }
        oc_ssh_put_string(&w, raw, raw_len);
    } else {
        return -EOPNOTSUPP;
    }
    if (w.err != 0) {
        return -ENOBUFS;
    }
    *ret_len = w.len;
    return 0;
}

/* ---- the field reader ---- */

bool oc_ssh_get_u8(struct oc_ssh_rbuf *r, uint8_t *ret)
{
    if (r->off >= r->len) {
        return false;
    }
    *ret = r->p[r->off++];
    return true;
}

bool oc_ssh_get_u32(struct oc_ssh_rbuf *r, uint32_t *ret)
{
    if (r->len - r->off < 4) {
        return false;
    }
    *ret = (uint32_t)r->p[r->off] << 24 | (uint32_t)r->p[r->off + 1] << 16 |
           (uint32_t)r->p[r->off + 2] << 8 | (uint32_t)r->p[r->off + 3];
    r->off += 4;
    return true;
}

bool oc_ssh_get_string(struct oc_ssh_rbuf *r, const uint8_t **ret, size_t *ret_len)
{
    struct oc_ssh_rbuf at = *r;
    uint32_t n;

    if (!oc_ssh_get_u32(&at, &n) || n > at.len - at.off) {
        return false;
    }
    *ret = at.p + at.off;
    *ret_len = n;
    r->off = at.off + (size_t)n;
    return true;
}

/* ---- what ssh-sign may sign ---- */

static bool string_is(const uint8_t *s, size_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

static void copy_printable(char *dst, size_t cap, const uint8_t *s, size_t n)
{
    size_t i;

    for (i = 0; i < n && i + 1 < cap; i++) {
        dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
    }
    dst[i] = '\0';
}

static int refuse(const char **ret_why, const char *why)
{
    *ret_why = why;
    return -EPERM;
}

static int check_userauth(struct oc_ssh_rbuf *r, const uint8_t *key, size_t key_len,
                          const char *algo, struct oc_ssh_signable *out, const char **ret_why)
{
    const uint8_t *s;
    size_t n;

    if (!oc_ssh_get_string(r, &s, &n) || n == 0 || n > OC_SSH_SESSION_ID_MAX) {
        return refuse(ret_why, "neither an ssh userauth request nor an SSHSIG blob");
    }
    memcpy(out->session_id, s, n);
    out->session_id_len = n;
    if (r->off >= r->len || r->p[r->off] != OC_SSH_MSG_USERAUTH_REQUEST) {
        return refuse(ret_why, "neither an ssh userauth request nor an SSHSIG blob");
    }
    r->off++;
    if (!oc_ssh_get_string(r, &s, &n)) {
        return refuse(ret_why, "userauth request: no user");
    }
    copy_printable(out->user, sizeof(out->user), s, n);
    if (!oc_ssh_get_string(r, &s, &n) || !string_is(s, n, OC_SSH_USERAUTH_SERVICE)) {
        return refuse(ret_why, "userauth request: service is not ssh-connection");
    }
    if (!oc_ssh_get_string(r, &s, &n)) {
        return refuse(ret_why, "userauth request: no method");
    }
    if (string_is(s, n, OC_SSH_METHOD_HOSTBOUND)) {
        out->hostbound = true;
    } else if (!string_is(s, n, OC_SSH_METHOD_PUBLICKEY)) {
        return refuse(ret_why, "userauth request: method is not publickey");
    }
    if (r->off >= r->len || r->p[r->off] != 1) {
        return refuse(ret_why, "userauth request: not a signature request (flag is not TRUE)");
    }
    r->off++;
    if (!oc_ssh_get_string(r, &s, &n) || algo == NULL || !string_is(s, n, algo)) {
        return refuse(ret_why, "userauth request: its algorithm is not the one signed with");
    }
    if (!oc_ssh_get_string(r, &s, &n) || n != key_len || memcmp(s, key, n) != 0) {
        return refuse(ret_why, "userauth request: for another key than the agent's");
    }
    if (out->hostbound && (!oc_ssh_get_string(r, &s, &n) || n == 0)) {
        return refuse(ret_why, "userauth request: hostbound without a host key");
    }
    return 0;
}

static int check_sshsig(struct oc_ssh_rbuf *r, const char *const *namespaces, size_t n_namespaces,
                        struct oc_ssh_signable *out, const char **ret_why)
{
    const uint8_t *s;
    size_t n, want;
    bool allowed = false;

    r->off = sizeof(OC_SSHSIG_MAGIC) - 1;
    if (!oc_ssh_get_string(r, &s, &n) || n == 0 || n > OC_SSH_NAMESPACE_MAX) {
        return refuse(ret_why, "SSHSIG: no namespace");
    }
    copy_printable(out->ns, sizeof(out->ns), s, n);
    for (size_t i = 0; i < n_namespaces; i++) {
        allowed = allowed || string_is(s, n, namespaces[i]);
    }
    if (!allowed) {
        return refuse(ret_why, "SSHSIG: namespace not allowed (ssh_namespaces in openclaw.conf)");
    }
    if (!oc_ssh_get_string(r, &s, &n) || n != 0) {
        return refuse(ret_why, "SSHSIG: reserved field not empty");
    }
    if (!oc_ssh_get_string(r, &s, &n)) {
        return refuse(ret_why, "SSHSIG: no hash algorithm");
    }
    want = string_is(s, n, "sha256") ? 32 : string_is(s, n, "sha512") ? 64 : 0;
    if (want == 0) {
        return refuse(ret_why, "SSHSIG: hash algorithm is not sha256 or sha512");
    }
    if (!oc_ssh_get_string(r, &s, &n) || n != want) {
        return refuse(ret_why, "SSHSIG: digest length does not match the hash");
    }
    out->sshsig = true;
    return 0;
}

int oc_ssh_signable_check(const uint8_t *data, size_t len, const uint8_t *key, size_t key_len,
                          const char *algo, const char *const *namespaces, size_t n_namespaces,
                          struct oc_ssh_signable *ret, const char **ret_why)
{
    static const char *const defaults[] = {OC_SSH_NAMESPACES_DEFAULT};
    struct oc_ssh_signable out;
    struct oc_ssh_rbuf r = {.p = data, .len = len, .off = 0};
    int rc;

    memset(&out, 0, sizeof(out));
    if (data == NULL || key == NULL || ret == NULL || ret_why == NULL) {
        return -EINVAL;
    }
    if (n_namespaces == 0) {
        namespaces = defaults;
        n_namespaces = sizeof(defaults) / sizeof(defaults[0]);
    }
    if (len >= sizeof(OC_SSHSIG_MAGIC) - 1 &&
        memcmp(data, OC_SSHSIG_MAGIC, sizeof(OC_SSHSIG_MAGIC) - 1) == 0) {
        rc = check_sshsig(&r, namespaces, n_namespaces, &out, ret_why);
    } else {
        rc = check_userauth(&r, key, key_len, algo, &out, ret_why);
    }
    if (rc == 0 && r.off != r.len) {
        rc = refuse(ret_why, "trailing bytes after an ssh userauth request or SSHSIG blob");
    }
    if (rc == 0) {
        *ret = out;
    }
    return rc;
}
