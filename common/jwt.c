/* jwt.c: compact JWS parsing and header checks (see jwt.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "b64url.h"
#include "json.h"
#include "jwt.h"

#define OC_TYP_MAX      64 /* typ header value */
#define OC_ALG_NAME_MAX 32 /* alg header value */

static const struct {
    const char *name;
    unsigned bit;
} supported_algs[] = {
        {"RS256", OC_ALG_RS256},
        {"PS256", OC_ALG_PS256},
        {"ES256", OC_ALG_ES256},
};

const char *oc_alg_name(unsigned alg)
{
    for (size_t i = 0; i < sizeof(supported_algs) / sizeof(supported_algs[0]); i++) {
        if (supported_algs[i].bit == alg) {
            return supported_algs[i].name;
        }
    }
    return NULL;
}

int oc_alg_from_name(const char *name, unsigned *ret_alg)
{
    if (name == NULL) {
        return -ENOENT;
    }
    for (size_t i = 0; i < sizeof(supported_algs) / sizeof(supported_algs[0]); i++) {
        if (strcmp(supported_algs[i].name, name) == 0) {
            *ret_alg = supported_algs[i].bit;
            return 0;
        }
    }
    return -ENOENT;
}

int oc_refuse(struct oc_refusal *why, const char *check, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL) {
        why->check = check;
        va_start(ap, fmt);
        vsnprintf(why->detail, sizeof(why->detail), fmt, ap);
        va_end(ap);
    }
    return -EACCES;
}

void oc_safe_copy(char *dst, size_t cap, const char *src)
{
    size_t i = 0;

    if (dst == NULL || cap == 0) {
        return;
    }
    if (src == NULL) {
        src = "(null)";
    }
    for (; src[i] != '\0' && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst[i] = '\0';
    if (src[i] != '\0' && cap >= 4) {
        memcpy(dst + cap - 4, "...", 4);
    }
}

int oc_token_fingerprint(const char *token, size_t len, char ret_hex[17])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if ((token == NULL && len > 0) || ret_hex == NULL) {
        return -EINVAL;
    }
    if (EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 8) {
        return -EINVAL;
    }
    for (int i = 0; i < 8; i++) {
        ret_hex[2 * i] = hex[md[i] >> 4];
        ret_hex[2 * i + 1] = hex[md[i] & 15];
    }
    ret_hex[16] = '\0';
    return 0;
}

/* kid/x5t: 1..OC_KID_MAX bytes of printable ASCII without spaces. */
static bool kid_chars_ok(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) {
            return false;
        }
    }
    return true;
}

static int segment_refusal(struct oc_refusal *why, const char *what, const char *seg, size_t n)
{
    if (memchr(seg, '=', n) != NULL) {
        return oc_refuse(why, "format", "%s segment has '=' padding (not allowed in JWS)", what);
    }
    return oc_refuse(why, "format", "%s segment is not strict base64url", what);
}

static int check_alg(const cJSON *hdr, unsigned alg_mask, struct oc_jwt *jwt,
                     struct oc_refusal *why)
{
    char shown[OC_ALG_NAME_MAX];
    const char *alg = NULL;
    unsigned bit = 0;
    int r;

    r = oc_json_get_string(hdr, "alg", OC_ALG_NAME_MAX, &alg);
    if (r == -ENOENT) {
        return oc_refuse(why, "alg", "header has no alg");
    }
    if (r == -E2BIG) {
        return oc_refuse(why, "alg", "alg is longer than %d bytes", OC_ALG_NAME_MAX);
    }
    if (r < 0) {
        return oc_refuse(why, "alg", "alg is not a string");
    }
    oc_safe_copy(shown, sizeof(shown), alg);
    if (strcasecmp(alg, "none") == 0) {
        return oc_refuse(why, "alg", "alg '%s' (unsigned token) is never accepted", shown);
    }
    if (strncasecmp(alg, "HS", 2) == 0) {
        return oc_refuse(why, "alg", "alg '%s' (shared-secret HMAC) is never accepted", shown);
    }
    if (oc_alg_from_name(alg, &bit) < 0) {
        return oc_refuse(why, "alg", "alg '%s' is not supported (RS256, PS256, ES256 only)", shown);
    }
    if ((bit & alg_mask) == 0) {
        return oc_refuse(why, "alg", "alg '%s' is not enabled by policy", shown);
    }
    jwt->alg = bit;
    jwt->alg_name = oc_alg_name(bit);
    return 0;
}

static int get_kid_like(const cJSON *hdr, const char *name, const char **ret,
                        struct oc_refusal *why)
{
    const char *v = NULL;
    int r = oc_json_get_string(hdr, name, OC_KID_MAX, &v);

    if (r == -ENOENT) {
        *ret = NULL;
        return 0;
    }
    if (r == -E2BIG) {
        const cJSON *m = oc_json_member(hdr, name);
        return oc_refuse(why, "kid", "%s is %zu bytes (max %d)", name, strlen(m->valuestring),
                         OC_KID_MAX);
    }
    if (r < 0) {
        return oc_refuse(why, "kid", "%s is not a string", name);
    }
    if (v[0] == '\0') {
        return oc_refuse(why, "kid", "%s is empty", name);
    }
    if (!kid_chars_ok(v)) {
        return oc_refuse(why, "kid", "%s contains bytes outside printable ASCII", name);
    }
    *ret = v;
    return 0;
}

static int check_header(const cJSON *hdr, struct oc_refusal *why)
{
    const char *typ = NULL;
    int r;

    if (oc_json_member(hdr, "crit") != NULL) {
        return oc_refuse(why, "header", "crit header parameter is not supported");
    }
    if (oc_json_member(hdr, "nonce") != NULL) {
        return oc_refuse(why, "header",
                         "header carries a nonce (a Microsoft Graph token?): such tokens "
                         "cannot be verified by third parties");
    }
    if (oc_json_member(hdr, "zip") != NULL) {
        return oc_refuse(why, "header", "zip header parameter is not supported");
    }
    r = oc_json_get_string(hdr, "typ", OC_TYP_MAX, &typ);
    if (r == -ENOENT) {
        return 0;
    }
    if (r < 0) {
        return oc_refuse(why, "header", "typ is not a short string");
    }
    if (strcasecmp(typ, "JWT") != 0 && strcasecmp(typ, "at+jwt") != 0) {
        char shown[OC_TYP_MAX];
        oc_safe_copy(shown, sizeof(shown), typ);
        return oc_refuse(why, "header", "typ '%s' is not JWT or at+jwt", shown);
    }
    return 0;
}

int oc_jwt_parse(const char *token, size_t len, unsigned alg_mask, struct oc_jwt **ret_jwt,
                 struct oc_refusal *why)
{
    const char *dot1, *dot2, *end, *reason = NULL;
    const char *kid = NULL, *x5t = NULL;
    struct oc_jwt *jwt = NULL;
    uint8_t *hdr_raw = NULL;
    size_t hdr_len = 0, hlen, plen, slen;
    int r;

    if (token == NULL || ret_jwt == NULL) {
        return -EINVAL;
    }
    /* size: first, before anything looks at the bytes */
    if (len > OC_TOKEN_MAX) {
        r = oc_refuse(why, "size", "token is %zu bytes (max %d)", len, OC_TOKEN_MAX);
        goto out;
    }
    if (len == 0) {
        r = oc_refuse(why, "size", "token is empty");
        goto out;
    }

    /* format */
    end = token + len;
    dot1 = memchr(token, '.', len);
    dot2 = dot1 == NULL ? NULL : memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
    if (dot1 == NULL || dot2 == NULL) {
        r = oc_refuse(why, "format", "expected 3 dot-separated segments, found %d",
                      dot1 == NULL ? 1 : 2);
        goto out;
    }
    if (memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL) {
        size_t n = 3;
        for (const char *q = dot2 + 1; q < end; q++) {
            n += *q == '.';
        }
        r = oc_refuse(why, "format", "expected 3 dot-separated segments, found %zu", n);
        goto out;
    }
    hlen = (size_t)(dot1 - token);
    plen = (size_t)(dot2 - dot1 - 1);
    slen = (size_t)(end - dot2 - 1);
    if (hlen == 0 || plen == 0) {
        r = oc_refuse(why, "format", "%s segment is empty", hlen == 0 ? "header" : "payload");
        goto out;
    }
    if (!oc_b64url_valid(token, hlen)) {
        r = segment_refusal(why, "header", token, hlen);
        goto out;
    }
    if (!oc_b64url_valid(dot1 + 1, plen)) {
        r = segment_refusal(why, "payload", dot1 + 1, plen);
        goto out;
    }
    if (!oc_b64url_valid(dot2 + 1, slen)) {
        r = segment_refusal(why, "signature", dot2 + 1, slen);
        goto out;
    }
    if (OC_B64URL_DECODED_MAX(slen) > OC_SIG_MAX + 2) {
        r = oc_refuse(why, "format", "signature segment is longer than %d bytes decoded",
                      OC_SIG_MAX);
        goto out;
    }
    jwt = calloc(1, sizeof(*jwt));
    if (jwt == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = oc_b64url_decode(token, hlen, &hdr_raw, &hdr_len);
    if (r == 0) {
        r = oc_b64url_decode(dot2 + 1, slen, &jwt->sig, &jwt->sig_len);
    }
    if (r == -ENOMEM) {
        goto out;
    }
    if (r < 0) {
        r = oc_refuse(why, "format", "segment does not decode as canonical base64url");
        goto out;
    }
    /* re-check canonical decoding of the payload bits without keeping it */
    if (plen % 4 == 2 || plen % 4 == 3) {
        uint8_t tail[2];
        size_t tl;
        if (oc_b64url_decode_into(dot1 + 1 + (plen - plen % 4), plen % 4, tail, sizeof(tail), &tl) <
            0) {
            r = oc_refuse(why, "format", "payload segment is not canonical base64url");
            goto out;
        }
    }

    /* header */
    r = oc_json_parse_object_nt((const char *)hdr_raw, hdr_len, &jwt->header, &reason);
    if (r == -ENOMEM) {
        goto out;
    }
    if (r < 0) {
        r = oc_refuse(why, "header", "header is not strict JSON: %s", reason);
        goto out;
    }
    r = check_header(jwt->header, why);
    if (r < 0) {
        goto out;
    }

    /* alg */
    r = check_alg(jwt->header, alg_mask, jwt, why);
    if (r < 0) {
        goto out;
    }

    /* kid */
    r = get_kid_like(jwt->header, "kid", &kid, why);
    if (r < 0) {
        goto out;
    }
    r = get_kid_like(jwt->header, "x5t", &x5t, why);
    if (r < 0) {
        goto out;
    }
    if (kid == NULL && x5t == NULL) {
        r = oc_refuse(why, "kid", "header has neither kid nor x5t");
        goto out;
    }
    jwt->has_x5t = x5t != NULL;
    jwt->kid_from_x5t = kid == NULL;
    snprintf(jwt->kid, sizeof(jwt->kid), "%s", kid != NULL ? kid : x5t);

    jwt->signing_input = token;
    jwt->signing_input_len = (size_t)(dot2 - token);
    jwt->payload_b64 = dot1 + 1;
    jwt->payload_b64_len = plen;
    *ret_jwt = jwt;
    jwt = NULL;
    r = 0;
out:
    free(hdr_raw);
    oc_jwt_free(jwt);
    return r;
}

int oc_jwt_decode_payload(const struct oc_jwt *jwt, cJSON **ret_payload, struct oc_refusal *why)
{
    const char *reason = NULL;
    uint8_t *raw = NULL;
    size_t n = 0;
    cJSON *payload = NULL;
    int r;

    if (jwt == NULL || ret_payload == NULL) {
        return -EINVAL;
    }
    r = oc_b64url_decode(jwt->payload_b64, jwt->payload_b64_len, &raw, &n);
    if (r == -ENOMEM) {
        goto out;
    }
    if (r < 0) {
        r = oc_refuse(why, "payload", "payload is not canonical base64url");
        goto out;
    }
    r = oc_json_parse_object_nt((const char *)raw, n, &payload, &reason);
    if (r == -ENOMEM) {
        goto out;
    }
    if (r < 0) {
        r = oc_refuse(why, "payload", "payload is not strict JSON: %s", reason);
        goto out;
    }
    *ret_payload = payload;
    r = 0;
out:
    free(raw);
    return r;
}

void oc_jwt_free(struct oc_jwt *jwt)
{
    if (jwt == NULL) {
        return;
    }
    cJSON_Delete(jwt->header);
    free(jwt->sig);
    free(jwt);
}
