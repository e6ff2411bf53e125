/* b64url.c: strict base64url codec (see b64url.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"

static const char enc_table[64] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63 for the base64url alphabet, 0xff for every other byte value
 * (generated from enc_table; one row per 16 byte values). */
/* clang-format off */
static const uint8_t dec_table[256] = {
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255,
         52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255, 255, 255, 255,
        255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
         15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255,  63,
        255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
         41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};
/* clang-format on */

static inline uint8_t dec_char(uint8_t c)
{
    return dec_table[c];
}

int oc_b64url_valid(const char *in, size_t len)
{
    if (in == NULL && len > 0) {
        return 0;
    }
    if (len % 4 == 1) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (dec_char((uint8_t)in[i]) == 0xff) {
            return 0;
        }
    }
    return 1;
}

int oc_b64url_decode_into(const char *in, size_t len, uint8_t *out, size_t out_cap, size_t *ret_len)
{
    size_t full = len / 4;
    size_t rest = len % 4;
    size_t need = full * 3 + (rest == 0 ? 0 : rest - 1);
    size_t o = 0;
    const uint8_t *p = (const uint8_t *)in;

    if ((in == NULL && len > 0) || rest == 1) {
        return -EINVAL;
    }
    if (need > out_cap) {
        return -ENOBUFS;
    }
    for (size_t i = 0; i < full; i++, p += 4) {
        uint8_t a = dec_char(p[0]), b = dec_char(p[1]), c = dec_char(p[2]), d = dec_char(p[3]);
        if ((a | b | c | d) == 0xff || ((a | b | c | d) & 0xc0) != 0) {
            return -EINVAL;
        }
        uint32_t v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6) | d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    if (rest == 2) {
        uint8_t a = dec_char(p[0]), b = dec_char(p[1]);
        if (a == 0xff || b == 0xff || (b & 0x0f) != 0) {
            return -EINVAL;
        }
        out[o++] = (uint8_t)((a << 2) | (b >> 4));
    } else if (rest == 3) {
        uint8_t a = dec_char(p[0]), b = dec_char(p[1]), c = dec_char(p[2]);
        if (a == 0xff || b == 0xff || c == 0xff || (c & 0x03) != 0) {
            return -EINVAL;
        }
        out[o++] = (uint8_t)((a << 2) | (b >> 4));
        out[o++] = (uint8_t)((b << 4) | (c >> 2));
    }
    *ret_len = o;
    return 0;
}

int oc_b64url_decode(const char *in, size_t len, uint8_t **ret_buf, size_t *ret_len)
{
    size_t cap = OC_B64URL_DECODED_MAX(len);
    size_t n = 0;
    uint8_t *buf;
    int r;

    if (ret_buf == NULL || ret_len == NULL) {
        return -EINVAL;
    }
    buf = malloc(cap + 1);
    if (buf == NULL) {
        return -ENOMEM;
    }
    r = oc_b64url_decode_into(in, len, buf, cap, &n);
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[n] = '\0';
    *ret_buf = buf;
    *ret_len = n;
    return 0;
}

int oc_b64url_encode_into(const uint8_t *in, size_t len, char *out, size_t cap)
{
    size_t o = 0, i = 0;

    if ((in == NULL && len > 0) || out == NULL) {
        return -EINVAL;
    }
    if (len > (SIZE_MAX / 4) - 4 || cap < OC_B64URL_ENCODED_LEN(len) + 1) {
        return -ENOBUFS;
    }
    for (; i + 3 <= len; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = enc_table[(v >> 18) & 63];
        out[o++] = enc_table[(v >> 12) & 63];
        out[o++] = enc_table[(v >> 6) & 63];
        out[o++] = enc_table[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = enc_table[(v >> 18) & 63];
        out[o++] = enc_table[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = enc_table[(v >> 18) & 63];
        out[o++] = enc_table[(v >> 12) & 63];
        out[o++] = enc_table[(v >> 6) & 63];
    }
    out[o] = '\0';
    return 0;
}

int oc_b64url_encode(const uint8_t *in, size_t len, char **ret_str)
{
    size_t olen;
    char *s;
    int r;

    if ((in == NULL && len > 0) || ret_str == NULL) {
        return -EINVAL;
    }
    if (len > (SIZE_MAX / 4) - 4) {
        return -EOVERFLOW;
    }
    olen = OC_B64URL_ENCODED_LEN(len);
    s = malloc(olen + 1);
    if (s == NULL) {
        return -ENOMEM;
    }
    r = oc_b64url_encode_into(in, len, s, olen + 1);
    if (r < 0) {
        free(s);
        return r;
    }
    *ret_str = s;
    return 0;
}
