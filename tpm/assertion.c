/* SPDX-License-Identifier: MIT */
/*
 * assertion.c: the OAuth 2.0 client_assertion (RFC 7523) that proves
 * possession of the TPM key to Entra ID: a JWT with aud = the token
 * endpoint, iss = sub = the client id, a random jti, nbf = iat = now,
 * exp = now + lifetime (at most 10 minutes). The header names the
 * registered certificate by thumbprint. One TPM command per assertion.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "b64url.h"
#include "tpm/tpm-internal.h"

/* Upper bound of the JSON escaping of a field: \u00XX is 6 bytes per byte. */
#define ESCAPED_MAX (OC_ASSERTION_FIELD_MAX * 6 + 1)

/* JSON string body of s (without quotes) into out. 0 or -EINVAL (control or non-UTF-8 checks are
 * left to the caller; we escape everything below 0x20, quote and backslash). */
static int json_escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (o + 7 > cap) {
            return -ENOBUFS;
        }
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return 0;
}

static bool field_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && strlen(s) <= OC_ASSERTION_FIELD_MAX;
}

int oc_tpm_client_assertion(struct oc_tpm_key *key, X509 *cert,
                            const struct oc_assertion_params *params, char **ret_jwt)
{
    struct oc_tpm *tpm = key->tpm;
    enum oc_jws_alg alg = params->alg != 0 ? params->alg : oc_tpm_key_default_alg(key);
    uint32_t lifetime = params->lifetime != 0 ? params->lifetime : OC_ASSERTION_LIFETIME_DEFAULT;
    char x5t[OC_X5T_SIZE], x5t256[OC_X5T_S256_SIZE];
    char *client = NULL, *aud = NULL, *header = NULL, *claims = NULL, *jwt = NULL;
    char *h64 = NULL, *c64 = NULL, sig64[OC_TPM_SIG_MAX * 2];
    uint8_t jti_raw[16], digest[32], sig[OC_TPM_SIG_MAX];
    char jti[40];
    size_t sig_len = 0, hl, cl, n;
    unsigned int dn = 0;
    int r;

    if (!field_ok(params->client_id) || !field_ok(params->audience)) {
        return oc_tpm_set_error(tpm, -EINVAL, "client id and audience must be 1 to %d bytes",
                                OC_ASSERTION_FIELD_MAX);
    }
    if (lifetime > OC_ASSERTION_LIFETIME_MAX) {
        return oc_tpm_set_error(tpm, -EINVAL, "an assertion may live at most %d seconds",
                                OC_ASSERTION_LIFETIME_MAX);
    }
    if (params->now <= 0) {
        return oc_tpm_set_error(tpm, -EINVAL, "no time given for the assertion");
    }
    r = oc_cert_thumbprints(cert, x5t, x5t256);
    if (r < 0) {
        return oc_tpm_set_error(tpm, r, "cannot compute the certificate thumbprints");
    }
    if (RAND_bytes(jti_raw, sizeof(jti_raw)) != 1) {
        return oc_tpm_set_error(tpm, -EIO, "no randomness for the jti");
    }
    /* a random (version 4) UUID */
    jti_raw[6] = (uint8_t)((jti_raw[6] & 0x0f) | 0x40);
    jti_raw[8] = (uint8_t)((jti_raw[8] & 0x3f) | 0x80);
    snprintf(jti, sizeof(jti),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", jti_raw[0],
             jti_raw[1], jti_raw[2], jti_raw[3], jti_raw[4], jti_raw[5], jti_raw[6], jti_raw[7],
             jti_raw[8], jti_raw[9], jti_raw[10], jti_raw[11], jti_raw[12], jti_raw[13],
             jti_raw[14], jti_raw[15]);

    r = -ENOMEM;
    client = malloc(ESCAPED_MAX);
    aud = malloc(ESCAPED_MAX);
    header = malloc(256);
    claims = malloc(2 * ESCAPED_MAX + 256);
    if (client == NULL || aud == NULL || header == NULL || claims == NULL) {
        goto out;
    }
    if (json_escape(params->client_id, client, ESCAPED_MAX) < 0 ||
        json_escape(params->audience, aud, ESCAPED_MAX) < 0) {
        r = -EINVAL;
        goto out;
    }
    if (alg == OC_JWS_RS256) {
        snprintf(header, 256, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5t\":\"%s\"}", x5t);
    } else {
        snprintf(header, 256, "{\"alg\":\"%s\",\"typ\":\"JWT\",\"x5t#S256\":\"%s\"}",
                 oc_jws_alg_name(alg) != NULL ? oc_jws_alg_name(alg) : "?", x5t256);
    }
    snprintf(claims, 2 * ESCAPED_MAX + 256,
             "{\"aud\":\"%s\",\"iss\":\"%s\",\"sub\":\"%s\",\"jti\":\"%s\",\"nbf\":%" PRId64
             ",\"iat\":%" PRId64 ",\"exp\":%" PRId64 "}",
             aud, client, client, jti, params->now, params->now, params->now + (int64_t)lifetime);
    hl = strlen(header);
    cl = strlen(claims);
    h64 = malloc(hl * 4 / 3 + 4);
    c64 = malloc(cl * 4 / 3 + 4);
    if (h64 == NULL || c64 == NULL) {
        goto out;
    }
    if (oc_b64url_encode_into((const uint8_t *)header, hl, h64, hl * 4 / 3 + 4) < 0 ||
        oc_b64url_encode_into((const uint8_t *)claims, cl, c64, cl * 4 / 3 + 4) < 0) {
        r = -EIO;
        goto out;
    }
    n = strlen(h64) + 1 + strlen(c64);
    jwt = malloc(n + 1 + sizeof(sig64));
    if (jwt == NULL) {
        goto out;
    }
    snprintf(jwt, n + 1, "%s.%s", h64, c64);
    if (EVP_Digest(jwt, n, digest, &dn, EVP_sha256(), NULL) != 1) {
        r = -EIO;
        goto out;
    }
    r = oc_tpm_key_sign(key, alg, digest, sig, &sig_len);
    if (r < 0) {
        goto out;
    }
    if (oc_b64url_encode_into(sig, sig_len, sig64, sizeof(sig64)) < 0) {
        r = -EIO;
        goto out;
    }
    snprintf(jwt + n, 1 + sizeof(sig64), ".%s", sig64);
    *ret_jwt = jwt;
    jwt = NULL;
    r = key->soft != NULL ? OC_TPM_SOFTWARE_KEY : 0;
out:
    free(client);
    free(aud);
    free(header);
    free(claims);
    free(h64);
    free(c64);
    free(jwt);
    return r;
}
