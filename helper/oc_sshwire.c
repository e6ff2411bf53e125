/* SPDX-License-Identifier: MIT */
/* oc_sshwire.c: ssh public key and signature blobs, fingerprints (see oc_sshwire.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "oc_sshwire.h"

/* ---- ssh wire format (RFC 4251 5) ---- */

struct wbuf {
    uint8_t *p;
    size_t cap;
    size_t len;
    bool overflow;
};

static void put_bytes(struct wbuf *w, const void *d, size_t n)
{
    if (w->overflow || n > w->cap - w->len) {
        w->overflow = true;
        return;
    }
    memcpy(w->p + w->len, d, n);
    w->len += n;
}

static void put_u32(struct wbuf *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put_bytes(w, b, sizeof(b));
}

static void put_string(struct wbuf *w, const void *d, size_t n)
{
    if (n > UINT32_MAX) {
        w->overflow = true;
        return;
    }
    put_u32(w, (uint32_t)n);
    put_bytes(w, d, n);
}

static void put_cstring(struct wbuf *w, const char *s)
{
    put_string(w, s, strlen(s));
}

/* An unsigned big-endian integer as an mpint: no leading zero bytes, one
 * zero byte in front when the high bit is set, zero as the empty string. */
static void put_mpint(struct wbuf *w, const uint8_t *d, size_t n)
{
    while (n > 0 && d[0] == 0) {
        d++;
        n--;
    }
    if (n > 0 && (d[0] & 0x80) != 0) {
        put_u32(w, (uint32_t)n + 1);
        put_bytes(w, "", 1);
        put_bytes(w, d, n);
    } else {
        put_string(w, d, n);
    }
}

static int put_bn_param(struct wbuf *w, EVP_PKEY *pkey, const char *name)
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
    put_mpint(w, b, (size_t)n);
    return 0;
}

int oc_ssh_pubkey_blob(EVP_PKEY *pkey, uint8_t *buf, size_t cap, size_t *ret_len)
{
    struct wbuf w = {.p = buf, .cap = cap};
    int r;

    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
        put_cstring(&w, OC_SSH_ALG_RSA);
        r = put_bn_param(&w, pkey, OSSL_PKEY_PARAM_RSA_E);
        r = r < 0 ? r : put_bn_param(&w, pkey, OSSL_PKEY_PARAM_RSA_N);
        if (r < 0) {
            return r;
        }
    } else if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
        char group[64];
        uint8_t point[65];
        size_t plen = 0;

        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                           NULL) != 1 ||
            strcmp(group, "prime256v1") != 0) {
            return -EOPNOTSUPP;
        }
        if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                            sizeof(point), &plen) != 1 ||
            plen != sizeof(point) || point[0] != 0x04) {
            return -EINVAL;
        }
        put_cstring(&w, OC_SSH_ALG_P256);
        put_cstring(&w, OC_SSH_CURVE_P256);
        put_string(&w, point, plen);
    } else {
        return -EOPNOTSUPP;
    }
    if (w.overflow) {
        return -ENOBUFS;
    }
    *ret_len = w.len;
    return 0;
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
    struct wbuf w = {.p = buf, .cap = cap};

    put_cstring(&w, algo);
    if (strcmp(algo, OC_SSH_ALG_P256) == 0) {
        uint8_t inner[2 * (4 + 33)];
        struct wbuf iw = {.p = inner, .cap = sizeof(inner)};

        if (raw_len != 64) {
            return -EINVAL;
        }
        put_mpint(&iw, raw, 32);
        put_mpint(&iw, raw + 32, 32);
        if (iw.overflow) {
            return -ENOBUFS;
        }
        put_string(&w, inner, iw.len);
    } else if (strcmp(algo, OC_SSH_ALG_RSA_SHA256) == 0 ||
               strcmp(algo, OC_SSH_ALG_RSA_SHA512) == 0) {
        if (raw_len == 0 || raw_len > OC_SSH_RAW_SIG_MAX) {
            return -EINVAL;
        }
        put_string(&w, raw, raw_len);
    } else {
        return -EOPNOTSUPP;
    }
    if (w.overflow) {
        return -ENOBUFS;
    }
    *ret_len = w.len;
    return 0;
}
