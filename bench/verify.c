/* bench/verify.c: throughput and latency of full token verification
 * (parse + signature + claim rules) next to the raw EVP signature
 * verification of the same key, measured in the same run on one core.
 *
 * The key pairs and tokens are generated here with OpenSSL (benchmark
 * only; the unit tests use tokens from an independent implementation).
 * Goal: full RS256 verification >= 80% of the raw RSA-2048 verify rate
 * (a fresh EVP context per call, as a plain caller does it). A second peer,
 * the same verify from a context prepared once and copied, is the floor
 * for openclaw, which keeps such a context per key: full verification
 * against it shows what parsing and the claim rules cost. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "b64url.h"
#include "entra.h"
#include "jwks.h"
#include "table.h"

#define BENCH_SECONDS  1.0
#define BENCH_MAX_RUNS 400000
#define TENANT         "8f0c1a2b-3d4e-4f50-9a6b-7c8d9e0f1a2b"
#define CLIENT_ID      "6e3c5a1d-0b2f-4c7e-9d8a-1f2e3d4c5b6a"
#define NOW            INT64_C(1750000600)

static const char *const audiences[] = {CLIENT_ID};
static EVP_MD *sha256; /* fetched once, as the library does per key */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "bench/verify: %s\n", what);
    exit(1);
}

static char *b64(const uint8_t *p, size_t n)
{
    char *s = NULL;
    if (oc_b64url_encode(p, n, &s) < 0) {
        die("encode");
    }
    return s;
}

static char *bn_b64(const EVP_PKEY *k, const char *name)
{
    BIGNUM *bn = NULL;
    uint8_t buf[1024];
    int n;
    char *s;

    if (EVP_PKEY_get_bn_param(k, name, &bn) != 1) {
        die("get bn");
    }
    n = BN_bn2bin(bn, buf);
    s = b64(buf, (size_t)n);
    BN_free(bn);
    return s;
}

/* Signs header.payload; ES256 signatures converted from DER to r||s. */
static char *make_token(EVP_PKEY *k, const char *alg, const char *kid)
{
    char header[256], payload[1400], *h, *p, *tok, *sig_b64;
    uint8_t sig[1024];
    size_t sig_len = sizeof(sig), n;
    EVP_MD_CTX *m = EVP_MD_CTX_new();

    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg, kid);
    snprintf(payload, sizeof(payload),
             "{\"aud\":\"" CLIENT_ID "\",\"iss\":\"https://login.microsoftonline.com/" TENANT
             "/v2.0\",\"iat\":1750000000,\"nbf\":1750000000,\"exp\":1750004199,"
             "\"aio\":\"k2BgYPh0c/bJq7xV2m9zS1Xg0wYA\",\"azp\":\"0a1b2c3d-4e5f-4a6b-8c7d-"
             "9e0f1a2b3c4d\",\"azpacr\":\"2\",\"idtyp\":\"app\",\"oid\":\"5d6e7f80-9a0b-4c1d-8e2f-"
             "3a4b5c6d7e8f\",\"rh\":\"1.AUEAKxoMjz5NUE-aa3yNng8aK11aPG4vC35MnYofLj1MW2pBAAA.\","
             "\"roles\":[\"Host.Login\",\"Host.Sudo\"],\"sub\":\"5d6e7f80-9a0b-4c1d-8e2f-"
             "3a4b5c6d7e8f\",\"tid\":\"" TENANT "\",\"uti\":\"Zq8xVb3mS0C7lR5tYk2aAQ\","
             "\"ver\":\"2.0\",\"xms_idrel\":\"7 22\",\"xms_act_fct\":\"3 9 11\","
             "\"xms_sub_fct\":\"9 3 11\",\"xms_par_app_azp\":\"c0ffee00-1234-4abc-9def-"
             "0123456789ab\"}");
    h = b64((const uint8_t *)header, strlen(header));
    p = b64((const uint8_t *)payload, strlen(payload));
    n = strlen(h) + strlen(p) + 2;
    tok = malloc(n + 2048);
    snprintf(tok, n, "%s.%s", h, p);
    if (m == NULL || EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k) != 1 ||
        EVP_DigestSign(m, sig, &sig_len, (const uint8_t *)tok, strlen(tok)) != 1) {
        die("sign");
    }
    if (strcmp(alg, "ES256") == 0) {
        const uint8_t *q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)sig_len);
        uint8_t raw[64];
        if (es == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32) != 32 ||
            BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32) != 32) {
            die("ecdsa sig");
        }
        ECDSA_SIG_free(es);
        memcpy(sig, raw, 64);
        sig_len = 64;
    }
    sig_b64 = b64(sig, sig_len);
    strcat(tok, ".");
    strcat(tok, sig_b64);
    free(sig_b64);
    free(h);
    free(p);
    EVP_MD_CTX_free(m);
    return tok;
}

struct stats {
    double per_sec, p50_us, p99_us;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef int (*op_fn)(void *ctx);

static struct stats measure(op_fn op, void *ctx)
{
    static double samples[BENCH_MAX_RUNS];
    double start = now_ns(), total;
    size_t n = 0;
    struct stats s;

    for (int i = 0; i < 200; i++) { /* warm up */
        if (op(ctx) != 0) {
            die("operation failed during warm-up");
        }
    }
    start = now_ns();
    while (n < BENCH_MAX_RUNS) {
        double t0 = now_ns();
        if (op(ctx) != 0) {
            die("operation failed");
        }
        samples[n++] = now_ns() - t0;
        if (now_ns() - start > BENCH_SECONDS * 1e9) {
            break;
        }
    }
    total = now_ns() - start;
    qsort(samples, n, sizeof(samples[0]), cmp_double);
    s.per_sec = (double)n / (total / 1e9);
    s.p50_us = samples[n / 2] / 1e3;
    s.p99_us = samples[(n * 99) / 100] / 1e3;
    return s;
}

struct raw_ctx {
    EVP_PKEY *pkey;
    const char *tok;
    size_t si_len;
    uint8_t der[80];
    size_t der_len;
    uint8_t *sig;
    size_t sig_len;
    EVP_MD_CTX *prepared; /* for raw_verify_prepared */
};

/* What a verifier must do at least: one EVP digest-verify with a fresh
 * context and a pre-fetched SHA-256, on the same signing input and key. */
static int raw_verify(void *arg)
{
    struct raw_ctx *c = arg;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m != NULL && EVP_DigestVerifyInit(m, NULL, sha256, NULL, c->pkey) == 1 &&
             EVP_DigestVerify(m, c->sig, c->sig_len, (const uint8_t *)c->tok, c->si_len) == 1;
    EVP_MD_CTX_free(m);
    return ok ? 0 : -1;
}

/* The floor: the same EVP digest-verify from a context set up once and
 * copied per call, which is what oc_jwk_verify() does with each key after
 * its first use. The difference between it and full verification is what
 * openclaw adds (parsing, claim rules, result). */
static int raw_verify_prepared(void *arg)
{
    struct raw_ctx *c = arg;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m != NULL && EVP_MD_CTX_copy_ex(m, c->prepared) == 1 &&
             EVP_DigestVerify(m, c->sig, c->sig_len, (const uint8_t *)c->tok, c->si_len) == 1;
    EVP_MD_CTX_free(m);
    return ok ? 0 : -1;
}

struct full_ctx {
    const char *tok;
    size_t len;
    const struct oc_jwks *keys;
    struct oc_verify_policy policy;
    int want;
    bool explain;
};

static int full_verify(void *arg)
{
    struct full_ctx *c = arg;
    struct oc_verify_result *res = NULL;
    struct oc_verify_report rep = {.explain = c->explain};
    int r = oc_verify_token(c->tok, c->len, c->keys, &c->policy, &res, &rep);
    oc_verify_result_free(res);
    return r == c->want ? 0 : -1;
}

static void raw_setup(struct raw_ctx *c, EVP_PKEY *k, const char *tok, int ecdsa)
{
    const char *dot = strrchr(tok, '.');
    uint8_t *sig = NULL;
    size_t n = 0;

    c->pkey = k;
    c->tok = tok;
    c->prepared = EVP_MD_CTX_new();
    if (c->prepared == NULL || EVP_DigestVerifyInit(c->prepared, NULL, sha256, NULL, k) != 1) {
        die("prepare verify context");
    }
    c->si_len = (size_t)(dot - tok);
    if (oc_b64url_decode(dot + 1, strlen(dot + 1), &sig, &n) < 0) {
        die("decode sig");
    }
    if (ecdsa) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        uint8_t *q = c->der;
        BN_bin2bn(sig, 32, NULL);
        ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
        c->der_len = (size_t)i2d_ECDSA_SIG(es, &q);
        ECDSA_SIG_free(es);
        c->sig = c->der;
        c->sig_len = c->der_len;
        free(sig);
    } else {
        c->sig = sig;
        c->sig_len = n;
    }
}

int main(void)
{
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char jwks_doc[4096], *n, *e, *x, *y, *t_rs, *t_es;
    uint8_t pub[65];
    size_t pub_len = 0;
    struct oc_jwks *keys = NULL;
    struct raw_ctx raw_rs, raw_es;
    struct full_ctx full_rs, full_rs_explain, full_es, big;
    struct stats s_raw_rs, s_prep_rs, s_full_rs, s_full_rs_explain, s_raw_es, s_prep_es, s_full_es,
            s_big;
    char *huge;

    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (rsa == NULL || ec == NULL || sha256 == NULL) {
        die("keygen");
    }
    if (EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub), &pub_len) !=
                1 ||
        pub_len != 65) {
        die("ec public key");
    }
    n = bn_b64(rsa, OSSL_PKEY_PARAM_RSA_N);
    e = bn_b64(rsa, OSSL_PKEY_PARAM_RSA_E);
    x = b64(pub + 1, 32);
    y = b64(pub + 33, 32);
    snprintf(jwks_doc, sizeof(jwks_doc),
             "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"bench-rsa\",\"n\":\"%s\","
             "\"e\":\"%s\",\"issuer\":\"https://login.microsoftonline.com/{tenantid}/v2.0\"},"
             "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"bench-ec\",\"x\":\"%s\",\"y\":\"%s\"}]}",
             n, e, x, y);
    if (oc_jwks_parse(jwks_doc, strlen(jwks_doc), &keys, NULL) < 0) {
        die("jwks");
    }
    t_rs = make_token(rsa, "RS256", "bench-rsa");
    t_es = make_token(ec, "ES256", "bench-ec");

    struct oc_verify_policy p = {
            .tenant_id = TENANT,
            .issuer_v1 = "https://sts.windows.net/{tenantid}/",
            .issuer_v2 = "https://login.microsoftonline.com/{tenantid}/v2.0",
            .audiences = audiences,
            .n_audiences = 1,
            .now = NOW,
            .clock_skew = 300,
    };
    full_rs = (struct full_ctx){t_rs, strlen(t_rs), keys, p, 0, false};
    full_rs_explain = (struct full_ctx){t_rs, strlen(t_rs), keys, p, 0, true};
    full_es = (struct full_ctx){t_es, strlen(t_es), keys, p, 0, false};
    huge = malloc(1 << 20);
    memset(huge, 'A', 1 << 20);
    big = (struct full_ctx){huge, 1 << 20, keys, p, -EACCES, false};
    raw_setup(&raw_rs, rsa, t_rs, 0);
    raw_setup(&raw_es, ec, t_es, 1);

    s_raw_rs = measure(raw_verify, &raw_rs);
    s_prep_rs = measure(raw_verify_prepared, &raw_rs);
    s_full_rs = measure(full_verify, &full_rs);
    s_full_rs_explain = measure(full_verify, &full_rs_explain);
    s_raw_es = measure(raw_verify, &raw_es);
    s_prep_es = measure(raw_verify_prepared, &raw_es);
    s_full_es = measure(full_verify, &full_es);
    s_big = measure(full_verify, &big);

    printf("openclaw token verification, one core, %.1f s per row (token %zu bytes)\n",
           BENCH_SECONDS, strlen(t_rs));
    printf("%-40s %12s %10s %10s %10s\n", "operation", "ops/s", "p50 us", "p99 us", "vs raw");
    printf("%-40s %12.0f %10.2f %10.2f %9s\n", "raw EVP verify RSA-2048 (RS256)", s_raw_rs.per_sec,
           s_raw_rs.p50_us, s_raw_rs.p99_us, "100%");
    printf("%-40s %12.0f %10.2f %10.2f %9.1f%%\n", "raw EVP verify, prepared context",
           s_prep_rs.per_sec, s_prep_rs.p50_us, s_prep_rs.p99_us,
           100.0 * s_prep_rs.per_sec / s_raw_rs.per_sec);
    printf("%-40s %12.0f %10.2f %10.2f %9.1f%%\n", "full oc_verify_token RS256", s_full_rs.per_sec,
           s_full_rs.p50_us, s_full_rs.p99_us, 100.0 * s_full_rs.per_sec / s_raw_rs.per_sec);
    printf("%-40s %12.0f %10.2f %10.2f %9.1f%%\n", "full RS256, explain (admin tool)",
           s_full_rs_explain.per_sec, s_full_rs_explain.p50_us, s_full_rs_explain.p99_us,
           100.0 * s_full_rs_explain.per_sec / s_raw_rs.per_sec);
    printf("%-40s %12.0f %10.2f %10.2f %9s\n", "raw EVP verify P-256 (ES256)", s_raw_es.per_sec,
           s_raw_es.p50_us, s_raw_es.p99_us, "100%");
    printf("%-40s %12.0f %10.2f %10.2f %9.1f%%\n", "raw EVP verify P-256, prepared context",
           s_prep_es.per_sec, s_prep_es.p50_us, s_prep_es.p99_us,
           100.0 * s_prep_es.per_sec / s_raw_es.per_sec);
    printf("%-40s %12.0f %10.2f %10.2f %9.1f%%\n", "full oc_verify_token ES256", s_full_es.per_sec,
           s_full_es.p50_us, s_full_es.p99_us, 100.0 * s_full_es.per_sec / s_raw_es.per_sec);
    printf("%-40s %12.0f %10.2f %10.2f %9s\n", "refuse 1 MiB token (size check)", s_big.per_sec,
           s_big.p50_us, s_big.p99_us, "-");
    /* the median ratio is the robust one on a busy machine */
    printf("goal: full RS256 >= 80%% of raw RSA-2048 verify: %s (throughput %.1f%%, median "
           "latency %.1f%%)\n",
           s_full_rs.per_sec >= 0.8 * s_raw_rs.per_sec ? "met" : "NOT met",
           100.0 * s_full_rs.per_sec / s_raw_rs.per_sec,
           100.0 * s_raw_rs.p50_us / s_full_rs.p50_us);

    /* The combined table (bench/run). */
    double rs_pct = 100.0 * s_full_rs.per_sec / s_raw_rs.per_sec;
    char a[32], b[32];
    bench_row("verify",
              "full RS256 verification, ops/s | %s | raw EVP verify RSA-2048 %s | "
              "%.1f %% of raw | ≥ 80 %% of raw: %s",
              bench_num(a, sizeof(a), s_full_rs.per_sec), bench_num(b, sizeof(b), s_raw_rs.per_sec),
              rs_pct, rs_pct >= 80 ? "met" : "not met");
    bench_row("verify",
              "full RS256 verification, ops/s | %s | raw EVP verify RSA-2048 from a context "
              "prepared once (the floor) %s | %.1f %% of the floor | ",
              bench_num(a, sizeof(a), s_full_rs.per_sec),
              bench_num(b, sizeof(b), s_prep_rs.per_sec),
              100.0 * s_full_rs.per_sec / s_prep_rs.per_sec);
    bench_row("verify",
              "full RS256 verification, p50 | %.1f µs | raw EVP verify %.1f µs | "
              "%.1f %% of raw (by p50) | ",
              s_full_rs.p50_us, s_raw_rs.p50_us, 100.0 * s_raw_rs.p50_us / s_full_rs.p50_us);
    bench_row("verify",
              "full RS256 with the admin explanation, ops/s | %s | raw EVP verify "
              "RSA-2048 %s | %.1f %% of raw | ",
              bench_num(a, sizeof(a), s_full_rs_explain.per_sec),
              bench_num(b, sizeof(b), s_raw_rs.per_sec),
              100.0 * s_full_rs_explain.per_sec / s_raw_rs.per_sec);
    bench_row("verify",
              "full ES256 verification, ops/s | %s | raw EVP verify P-256 %s | "
              "%.1f %% of raw | ",
              bench_num(a, sizeof(a), s_full_es.per_sec), bench_num(b, sizeof(b), s_raw_es.per_sec),
              100.0 * s_full_es.per_sec / s_raw_es.per_sec);
    bench_row("verify",
              "full ES256 verification, ops/s | %s | raw EVP verify P-256 from a context "
              "prepared once (the floor) %s | %.1f %% of the floor | ",
              bench_num(a, sizeof(a), s_full_es.per_sec),
              bench_num(b, sizeof(b), s_prep_es.per_sec),
              100.0 * s_full_es.per_sec / s_prep_es.per_sec);
    bench_row("verify", "refusing a 1 MiB token (size check), ops/s | %s | – | – | ",
              bench_num(a, sizeof(a), s_big.per_sec));

    free(huge);
    free(raw_rs.sig);
    EVP_MD_CTX_free(raw_rs.prepared);
    EVP_MD_CTX_free(raw_es.prepared);
    free(t_rs);
    free(t_es);
    free(n);
    free(e);
    free(x);
    free(y);
    oc_jwks_free(keys);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
    EVP_MD_free(sha256);
    return 0;
}
