/* b64url.h: strict base64url (RFC 4648 section 5, no padding), as JOSE uses it.
 *
 * Decoding accepts only the alphabet A-Z a-z 0-9 - _, no '=' padding, no
 * whitespace, no length that is 1 modulo 4, and no non-zero unused trailing
 * bits (so every byte string has exactly one accepted encoding).
 * Library code: no logging, no global state. */
#ifndef OC_B64URL_H
#define OC_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Upper bound of the decoded size of an n-character input. */
#define OC_B64URL_DECODED_MAX(n) (((n) / 4) * 3 + 2)
/* Exact encoded size (without the terminating NUL) of n bytes. */
#define OC_B64URL_ENCODED_LEN(n) (((n) / 3) * 4 + (((n) % 3) == 0 ? 0 : ((n) % 3) + 1))

/* Decode into a caller buffer of out_cap bytes. Returns 0, -EINVAL on any
 * non-canonical or foreign input, -ENOBUFS when out_cap is too small. */
int oc_b64url_decode_into(const char *in, size_t len, uint8_t *out, size_t out_cap,
                          size_t *ret_len);

/* Decode into a new buffer (NUL-terminated one byte past the data, so a
 * decoded JSON text can be handed to a parser as a C string); free(). */
int oc_b64url_decode(const char *in, size_t len, uint8_t **ret_buf, size_t *ret_len);

/* True when every character is in the base64url alphabet and the length is
 * a possible unpadded length (cheap pre-check, no decoding). */
int oc_b64url_valid(const char *in, size_t len);

/* Encode into a new NUL-terminated string; free(). */
int oc_b64url_encode(const uint8_t *in, size_t len, char **ret_str);

/* Encode into out (cap bytes, NUL-terminated): -ENOBUFS when it does not
 * fit. The one base64url encoder (tpm/ signs JWS with it too). */
int oc_b64url_encode_into(const uint8_t *in, size_t len, char *out, size_t cap);

#endif
