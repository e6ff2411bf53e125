/* SPDX-License-Identifier: MIT */
/*
 * tpm_ops: driven by tpm-swtpm.sh against a private swtpm (TCTI in
 * OC_TEST_TCTI). Prints TAP lines without a plan; the script numbers
 * nothing itself for these, it relays them.
 *
 *   tpm_ops stress N   N mixed operations (assertions, key loads, seal +
 *                      unseal with and without PCR policy, refused blobs);
 *                      the TPM must hold exactly our own handles during the
 *                      run and none of them afterwards
 *   tpm_ops count      print "transient T sessions S"
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpm/tpm.h"

static int failures;

static void result(bool good, const char *what)
{
    printf("%s - %s\n", good ? "ok" : "not ok", what);
    if (!good) {
        failures++;
    }
}

static struct oc_tpm *open_or_die(void)
{
    struct oc_tpm_options opt = {.tcti = getenv("OC_TEST_TCTI")};
    struct oc_tpm *tpm = NULL;
    char err[1024];

    if (opt.tcti == NULL) {
        fprintf(stderr, "OC_TEST_TCTI is not set\n");
        exit(2);
    }
    if (oc_tpm_open(&opt, &tpm, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    return tpm;
}

static int stress(unsigned n)
{
    struct oc_tpm *tpm = open_or_die();
    struct oc_tpm_key *key = NULL;
    uint8_t *rsa_blob = NULL, *ecc_blob = NULL, *pcr_blob = NULL, *bad = NULL;
    size_t rsa_len = 0, ecc_len = 0, pcr_len = 0;
    X509 *cert = NULL;
    struct oc_seal_options pcr_opt = {.pcr_bank = TPM2_ALG_SHA256, .pcr_mask = 1u << 23};
    unsigned done = 0, errors = 0;
    uint32_t transient = 0, sessions = 0;
    char msg[160];

    if (oc_tpm_keygen(tpm, OC_TPM_KEY_RSA2048, 1, &rsa_blob, &rsa_len) < 0 ||
        oc_tpm_keygen(tpm, OC_TPM_KEY_ECC_P256, 1, &ecc_blob, &ecc_len) < 0 ||
        oc_tpm_seal(tpm, (const uint8_t *)"pcr23", 5, &pcr_opt, 1, &pcr_blob, &pcr_len) < 0 ||
        oc_tpm_key_load(tpm, ecc_blob, ecc_len, &key) < 0 ||
        oc_tpm_cert_create(key, "stress", 1, 1800000000, &cert) < 0) {
        fprintf(stderr, "setup: %s\n", oc_tpm_strerror(tpm));
        return 1;
    }
    bad = malloc(rsa_len);
    memcpy(bad, rsa_blob, rsa_len);
    bad[rsa_len / 2] ^= 0x40;

    for (unsigned i = 0; i < n; i++) {
        int r = 0;
        switch (i % 5) {
        case 0: {
            struct oc_assertion_params p = {
                    .client_id = "c", .audience = "https://a/token", .now = 1800000000 + i};
            char *jwt = NULL;
            r = oc_tpm_client_assertion(key, cert, &p, &jwt);
            free(jwt);
            break;
        }
        case 1: {
            struct oc_tpm_key *k2 = NULL;
            uint8_t d[32] = {1}, sig[OC_TPM_SIG_MAX];
            size_t sl = 0;
            r = oc_tpm_key_load(tpm, rsa_blob, rsa_len, &k2);
            if (r == 0) {
                r = oc_tpm_key_sign(k2, (i & 1) != 0 ? OC_JWS_PS256 : OC_JWS_RS256, d, sig, &sl);
                oc_tpm_key_free(k2);
            }
            break;
        }
        case 2: {
            uint8_t *blob = NULL, *secret = NULL;
            size_t bl = 0, sl = 0;
            r = oc_tpm_seal(tpm, (const uint8_t *)"s3cr3t", 6, NULL, 1, &blob, &bl);
            if (r == 0) {
                r = oc_tpm_unseal(tpm, blob, bl, NULL, 0, &secret, &sl);
                if (r == 0 && (sl != 6 || memcmp(secret, "s3cr3t", 6) != 0)) {
                    r = -EIO;
                }
                oc_tpm_secret_free(secret, sl);
            }
            free(blob);
            break;
        }
        case 3: {
            uint8_t *secret = NULL;
            size_t sl = 0;
            r = oc_tpm_unseal(tpm, pcr_blob, pcr_len, NULL, 0, &secret, &sl);
            oc_tpm_secret_free(secret, sl);
            break;
        }
        case 4: {
            /* refused paths must not leave anything behind either */
            struct oc_tpm_key *k3 = NULL;
            uint8_t *secret = NULL;
            size_t sl = 0;
            if (oc_tpm_key_load(tpm, bad, rsa_len, &k3) == 0 ||
                oc_tpm_unseal(tpm, rsa_blob, rsa_len, NULL, 0, &secret, &sl) == 0) {
                r = -EIO;
            }
            break;
        }
        }
        if (r < 0) {
            if (errors++ < 3) {
                fprintf(stderr, "op %u: %s\n", i, oc_tpm_strerror(tpm));
            }
        } else {
            done++;
        }
    }
    snprintf(msg, sizeof(msg), "%u of %u mixed TPM operations succeeded", done, n);
    result(done == n, msg);
    if (oc_tpm_handle_counts(tpm, &transient, &sessions) < 0) {
        fprintf(stderr, "%s\n", oc_tpm_strerror(tpm));
        return 1;
    }
    snprintf(msg, sizeof(msg),
             "during the run the TPM holds only our primary + key and our session "
             "(transient %u, sessions %u)",
             transient, sessions);
    result(transient == 2 && sessions == 1, msg);
    X509_free(cert);
    oc_tpm_key_free(key);
    oc_tpm_close(tpm);
    free(rsa_blob);
    free(ecc_blob);
    free(pcr_blob);
    free(bad);
    return failures > 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "stress") == 0) {
        return stress((unsigned)strtoul(argv[2], NULL, 10));
    }
    if (argc == 2 && strcmp(argv[1], "count") == 0) {
        struct oc_tpm *tpm = open_or_die();
        uint32_t t = 0, s = 0;
        int r = oc_tpm_handle_counts(tpm, &t, &s);
        oc_tpm_close(tpm);
        if (r < 0) {
            return 1;
        }
        /* minus what this very process holds: its primary and its session */
        printf("transient %u sessions %u\n", t - 1, s - 1);
        return 0;
    }
    fprintf(stderr, "usage: tpm_ops stress N | count\n");
    return 2;
}
