/* SPDX-License-Identifier: MIT */
/*
 * alg.h: the JWS signature algorithms openclaw can verify, as bits.
 *
 * Shared by the config parser (libc only, [global] algorithms) and the
 * verifier; kept in its own header so neither drags the other in.
 * "none" and every HMAC algorithm are never representable here.
 */
#ifndef OC_ALG_H
#define OC_ALG_H

#define OC_ALG_RS256 (1u << 0) /* RSASSA-PKCS1-v1_5 + SHA-256 */
#define OC_ALG_PS256 (1u << 1) /* RSASSA-PSS + SHA-256, MGF1-SHA-256, salt 32 */
#define OC_ALG_ES256 (1u << 2) /* ECDSA P-256 + SHA-256, JOSE r||s */
#define OC_ALG_ALL   (OC_ALG_RS256 | OC_ALG_PS256 | OC_ALG_ES256)

#endif /* OC_ALG_H */
