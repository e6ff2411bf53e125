/* SPDX-License-Identifier: MIT */
/*
 * bench/tpm: TPM commands issued and milliseconds per client-assertion
 * signature and per unseal, on a private swtpm (started here, stopped by
 * PID) or on the TPM named by OC_TEST_TCTI. Commands are counted by the
 * counting TCTI inside liboctpm, so ESAPI's own traffic is included.
 * The peer is OpenSSL signing the same JWT with an in-memory software key.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tpm/tpm.h"

#include "table.h"

#ifndef OC_SWTPM
#define OC_SWTPM ""
#endif

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char swtpm_dir[96];
static pid_t swtpm_pid;

static void stop_swtpm(void)
{
    char path[384];

    if (swtpm_pid > 0) {
        kill(swtpm_pid, SIGTERM);
        for (int i = 0; i < 50 && kill(swtpm_pid, 0) == 0; i++) {
            usleep(100000);
        }
        kill(swtpm_pid, SIGKILL);
        swtpm_pid = 0;
    }
    if (swtpm_dir[0] != '\0') {
        DIR *d = opendir(swtpm_dir);
        struct dirent *e;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                snprintf(path, sizeof(path), "%s/%s", swtpm_dir, e->d_name);
                unlink(path);
            }
        }
        if (d != NULL) {
            closedir(d);
        }
        rmdir(swtpm_dir);
        swtpm_dir[0] = '\0';
    }
}

/* Start swtpm on a Unix socket in a new temporary directory; returns the TCTI. */
static int start_swtpm(char *tcti, size_t len)
{
    const char *bin = getenv("SWTPM") != NULL ? getenv("SWTPM") : OC_SWTPM;
    char state[128], server[160], ctrl[160], pidfile[128], sock[128];
    struct stat st;
    pid_t child;
    int status;

    if (bin[0] == '\0') {
        return -ENOENT;
    }
    const char *tmp =
            getenv("TMPDIR") != NULL && strlen(getenv("TMPDIR")) < 64 ? getenv("TMPDIR") : "/tmp";
    snprintf(swtpm_dir, sizeof(swtpm_dir), "%s/oc-bench-tpm.XXXXXX", tmp);
    if (mkdtemp(swtpm_dir) == NULL) {
        swtpm_dir[0] = '\0';
        return -errno;
    }
    snprintf(state, sizeof(state), "dir=%s", swtpm_dir);
    snprintf(sock, sizeof(sock), "%s/sock", swtpm_dir);
    snprintf(server, sizeof(server), "type=unixio,path=%s", sock);
    snprintf(ctrl, sizeof(ctrl), "type=unixio,path=%s.ctrl", sock);
    snprintf(pidfile, sizeof(pidfile), "file=%s/pid", swtpm_dir);
    child = fork();
    if (child < 0) {
        return -errno;
    }
    if (child == 0) {
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execl(bin, bin, "socket", "--tpm2", "--tpmstate", state, "--server", server, "--ctrl", ctrl,
              "--flags", "not-need-init,startup-clear", "--pid", pidfile, "--daemon", (char *)NULL);
        _exit(127);
    }
    if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return -EIO;
    }
    snprintf(pidfile, sizeof(pidfile), "%s/pid", swtpm_dir);
    for (int i = 0; i < 100; i++) {
        FILE *f = fopen(pidfile, "re");
        long pid = 0;
        if (f != NULL) {
            if (fscanf(f, "%ld", &pid) != 1) {
                pid = 0;
            }
            fclose(f);
        }
        if (pid > 0 && stat(sock, &st) == 0) {
            swtpm_pid = (pid_t)pid;
            snprintf(tcti, len, "swtpm:path=%s", sock);
            return 0;
        }
        usleep(50000);
    }
    return -ETIMEDOUT;
}

/* OpenSSL signing the same input with a software key: the peer figure. */
static double software_sign_ms(const char *alg, int n)
{
    EVP_PKEY *pkey = strcmp(alg, "RS256") == 0 ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    unsigned char sig[512];
    const char *msg = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2xvZ2luIn0";
    double t0;

    if (pkey == NULL) {
        return -1;
    }
    t0 = now_ms();
    for (int i = 0; i < n; i++) {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        size_t sl = sizeof(sig);
        if (c == NULL || EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, pkey) != 1 ||
            EVP_DigestSign(c, sig, &sl, (const unsigned char *)msg, strlen(msg)) != 1) {
            EVP_MD_CTX_free(c);
            EVP_PKEY_free(pkey);
            return -1;
        }
        EVP_MD_CTX_free(c);
    }
    EVP_PKEY_free(pkey);
    return (now_ms() - t0) / n;
}

static int fail(struct oc_tpm *tpm, const char *what)
{
    fprintf(stderr, "bench/tpm: %s: %s\n", what, oc_tpm_strerror(tpm));
    return 1;
}

/* Rows of the swtpm run also go to the combined table (bench/run). */
static bool table_on;

static void table_row(const char *what, double cmds, double signs, double ms, double peer)
{
    char goal[64] = "";
    if (signs > 0) {
        snprintf(goal, sizeof(goal), "1 TPM command per assertion: %s",
                 cmds > 0.995 && cmds < 1.005 ? "met" : "not met");
    }
    if (peer > 0) {
        bench_row("TPM (swtpm)",
                  "%s | %.2f ms, %.2f TPM cmds | OpenSSL software key %.3f ms | "
                  "%.0f× slower | %s",
                  what, ms, cmds, peer, ms / peer, goal);
    } else {
        bench_row("TPM (swtpm)", "%s | %.2f ms, %.2f TPM cmds | – | – | %s", what, ms, cmds, goal);
    }
}

static void row(const char *what, double cmds, double signs, double ms, double peer)
{
    if (table_on) {
        table_row(what, cmds, signs, ms, peer);
    }
    if (peer > 0) {
        printf("%-36s %8.2f %8.2f %10.3f %10.3f %8.1fx\n", what, cmds, signs, ms, peer, ms / peer);
    } else {
        printf("%-36s %8.2f %8.2f %10.3f %10s %9s\n", what, cmds, signs, ms, "-", "-");
    }
}

static int run(const char *tcti)
{
    struct oc_tpm_options opt = {.tcti = tcti};
    struct oc_tpm *tpm = NULL;
    struct oc_tpm_key *rsa = NULL, *ecc = NULL;
    uint8_t *rsa_blob = NULL, *ecc_blob = NULL, *sealed[3] = {NULL, NULL, NULL};
    size_t rsa_len = 0, ecc_len = 0, sealed_len[3] = {0, 0, 0};
    X509 *rsa_cert = NULL, *ecc_cert = NULL;
    char err[1024];
    uint64_t c0, s0;
    double t0;
    const int n_sign = 200, n_unseal = 100;
    int rc = 1;

    t0 = now_ms();
    if (oc_tpm_open(&opt, &tpm, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench/tpm: %s\n", err);
        bench_row("TPM (swtpm)", "all | not measured (%s) | – | – | –", err);
        return 1;
    }
    table_on = true;
    printf("%-36s %8s %8s %10s %10s %9s\n", "operation (swtpm)", "TPM cmds", "signs", "ms/op",
           "peer ms", "ratio");
    row("open (primary + salted session)", (double)oc_tpm_commands(tpm), 0, now_ms() - t0, 0);

    c0 = oc_tpm_commands(tpm);
    t0 = now_ms();
    if (oc_tpm_keygen(tpm, OC_TPM_KEY_RSA2048, 1, &rsa_blob, &rsa_len) < 0) {
        rc = fail(tpm, "keygen rsa");
        goto out;
    }
    row("keygen RSA-2048", (double)(oc_tpm_commands(tpm) - c0), 0, now_ms() - t0, 0);
    c0 = oc_tpm_commands(tpm);
    t0 = now_ms();
    if (oc_tpm_keygen(tpm, OC_TPM_KEY_ECC_P256, 1, &ecc_blob, &ecc_len) < 0) {
        rc = fail(tpm, "keygen ecc");
        goto out;
    }
    row("keygen ECC P-256", (double)(oc_tpm_commands(tpm) - c0), 0, now_ms() - t0, 0);
    c0 = oc_tpm_commands(tpm);
    t0 = now_ms();
    if (oc_tpm_key_load(tpm, rsa_blob, rsa_len, &rsa) < 0) {
        rc = fail(tpm, "load rsa");
        goto out;
    }
    row("key load (once per process)", (double)(oc_tpm_commands(tpm) - c0), 0, now_ms() - t0, 0);
    if (oc_tpm_key_load(tpm, ecc_blob, ecc_len, &ecc) < 0 ||
        oc_tpm_cert_create(rsa, "bench", 1, 1800000000, &rsa_cert) < 0 ||
        oc_tpm_cert_create(ecc, "bench", 1, 1800000000, &ecc_cert) < 0) {
        rc = fail(tpm, "setup");
        goto out;
    }

    static const struct {
        const char *name;
        enum oc_jws_alg alg;
        const char *peer;
    } algs[] = {
            {"client assertion RS256", OC_JWS_RS256, "RS256"},
            {"client assertion PS256", OC_JWS_PS256, NULL},
            {"client assertion ES256", OC_JWS_ES256, "ES256"},
    };
    for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
        struct oc_tpm_key *k = algs[a].alg == OC_JWS_ES256 ? ecc : rsa;
        X509 *cert = algs[a].alg == OC_JWS_ES256 ? ecc_cert : rsa_cert;
        c0 = oc_tpm_commands(tpm);
        s0 = oc_tpm_sign_commands(tpm);
        t0 = now_ms();
        for (int i = 0; i < n_sign; i++) {
            struct oc_assertion_params p = {
                    .client_id = "6f1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d",
                    .audience = "https://login.microsoftonline.com/t/oauth2/v2.0/token",
                    .now = 1800000000 + i,
                    .alg = algs[a].alg};
            char *jwt = NULL;
            if (oc_tpm_client_assertion(k, cert, &p, &jwt) < 0) {
                rc = fail(tpm, algs[a].name);
                goto out;
            }
            free(jwt);
        }
        double ms = (now_ms() - t0) / n_sign;
        row(algs[a].name, (double)(oc_tpm_commands(tpm) - c0) / n_sign,
            (double)(oc_tpm_sign_commands(tpm) - s0) / n_sign, ms,
            algs[a].peer != NULL ? software_sign_ms(algs[a].peer, n_sign) : 0);
    }
    oc_tpm_key_free(ecc);
    ecc = NULL;

    /* unseal: short secret, long secret (AES-GCM), PCR policy */
    static const char *const unseal_names[] = {"unseal 32 B (salted session)",
                                               "unseal 4 KiB (sealed key + AES-GCM)",
                                               "unseal 32 B, PCR 16 policy"};
    uint8_t secret[4096];
    memset(secret, 'k', sizeof(secret));
    for (int u = 0; u < 3; u++) {
        struct oc_seal_options so = {.pcr_bank = TPM2_ALG_SHA256,
                                     .pcr_mask = u == 2 ? 1u << 16 : 0};
        if (oc_tpm_seal(tpm, secret, u == 1 ? sizeof(secret) : 32, &so, 1, &sealed[u],
                        &sealed_len[u]) < 0) {
            rc = fail(tpm, "seal");
            goto out;
        }
        c0 = oc_tpm_commands(tpm);
        t0 = now_ms();
        for (int i = 0; i < n_unseal; i++) {
            uint8_t *out = NULL;
            size_t ol = 0;
            if (oc_tpm_unseal(tpm, sealed[u], sealed_len[u], NULL, 0, &out, &ol) < 0) {
                rc = fail(tpm, unseal_names[u]);
                goto out;
            }
            oc_tpm_secret_free(out, ol);
        }
        row(unseal_names[u], (double)(oc_tpm_commands(tpm) - c0) / n_unseal, 0,
            (now_ms() - t0) / n_unseal, 0);
    }
    printf("\nTPM cmds: commands through the TCTI per operation (ESAPI included); signs: "
           "TPM2_Sign per operation.\npeer: OpenSSL signing the same JWT with a software key "
           "in memory (no TPM binding).\n");
    rc = 0;
out:
    table_on = false;
    X509_free(rsa_cert);
    X509_free(ecc_cert);
    oc_tpm_key_free(rsa);
    oc_tpm_key_free(ecc);
    oc_tpm_close(tpm);
    free(rsa_blob);
    free(ecc_blob);
    for (int u = 0; u < 3; u++) {
        free(sealed[u]);
    }
    return rc;
}

/* Software keys (allow_software_keys = yes): no TPM, OpenSSL signs. */
static int run_software(void)
{
    char dir[] = "/tmp/oc-bench-soft-XXXXXX", keys[64], host[128];
    struct oc_tpm_options opt = {.parent = OC_TPM_PARENT_SOFTWARE, .allow_software_keys = true};
    struct oc_tpm *tpm = NULL;
    struct oc_tpm_key *key[2] = {NULL, NULL};
    uint8_t *blob[2] = {NULL, NULL};
    size_t len[2] = {0, 0};
    X509 *cert[2] = {NULL, NULL};
    static const struct {
        const char *name;
        enum oc_jws_alg alg;
        int k;
    } algs[] = {
            {"software assertion RS256", OC_JWS_RS256, 0},
            {"software assertion PS256", OC_JWS_PS256, 0},
            {"software assertion ES256", OC_JWS_ES256, 1},
    };
    const int n_sign = 200, n_load = 50;
    char err[1024];
    double t0;
    int rc = 1;

    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    snprintf(keys, sizeof(keys), "%s/keys", dir);
    snprintf(host, sizeof(host), "%s/%s", keys, OC_SOFTKEY_HOST_KEY_FILE);
    opt.keys_dir = keys;
    if (oc_tpm_open(&opt, &tpm, err, sizeof(err)) < 0) {
        fprintf(stderr, "bench/tpm: %s\n", err);
        goto out;
    }
    printf("\n%-36s %8s %8s %10s\n", "operation (software key, no TPM)", "TPM cmds", "signs",
           "ms/op");
    for (int k = 0; k < 2; k++) {
        t0 = now_ms();
        if (oc_tpm_keygen_software(tpm, k == 0 ? OC_TPM_KEY_RSA2048 : OC_TPM_KEY_ECC_P256, 1,
                                   &blob[k], &len[k]) < 0) {
            rc = fail(tpm, "software keygen");
            goto out;
        }
        row(k == 0 ? "software keygen RSA-2048" : "software keygen ECC P-256", 0, 0, now_ms() - t0,
            0);
    }
    t0 = now_ms();
    for (int i = 0; i < n_load; i++) {
        struct oc_tpm_key *tmp = NULL;
        if (oc_tpm_key_load(tpm, blob[0], len[0], &tmp) < 0) {
            rc = fail(tpm, "software key load");
            goto out;
        }
        oc_tpm_key_free(tmp);
    }
    row("software key load RSA (host key+GCM)", 0, 0, (now_ms() - t0) / n_load, 0);
    for (int k = 0; k < 2; k++) {
        if (oc_tpm_key_load(tpm, blob[k], len[k], &key[k]) < 0 ||
            oc_tpm_cert_create(key[k], "bench", 1, 1800000000, &cert[k]) < 0) {
            rc = fail(tpm, "software setup");
            goto out;
        }
    }
    for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
        t0 = now_ms();
        for (int i = 0; i < n_sign; i++) {
            struct oc_assertion_params p = {
                    .client_id = "6f1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d",
                    .audience = "https://login.microsoftonline.com/t/oauth2/v2.0/token",
                    .now = 1800000000 + i,
                    .alg = algs[a].alg};
            char *jwt = NULL;
            if (oc_tpm_client_assertion(key[algs[a].k], cert[algs[a].k], &p, &jwt) < 0) {
                rc = fail(tpm, algs[a].name);
                goto out;
            }
            free(jwt);
        }
        row(algs[a].name, (double)oc_tpm_commands(tpm), 0, (now_ms() - t0) / n_sign, 0);
    }
    rc = 0;
out:
    for (int k = 0; k < 2; k++) {
        X509_free(cert[k]);
        free(blob[k]);
    }
    oc_tpm_close(tpm); /* frees the loaded keys */
    unlink(host);
    rmdir(keys);
    rmdir(dir);
    return rc;
}

int main(void)
{
    const char *tcti = getenv("OC_TEST_TCTI");
    char own[160];
    int r;

    setenv("TSS2_LOG", "all+none", 0);
    if (tcti == NULL) {
        r = start_swtpm(own, sizeof(own));
        if (r < 0) {
            fprintf(stderr,
                    "bench/tpm: cannot start swtpm (%s); set OC_TEST_TCTI or install "
                    "swtpm\n",
                    strerror(-r));
            bench_row("TPM (swtpm)", "all | not measured (swtpm does not start: %s) | – | – | –",
                      strerror(-r));
            stop_swtpm();
            return 1;
        }
        tcti = own;
    }
    r = run(tcti);
    stop_swtpm();
    if (r == 0) {
        r = run_software();
    }
    return r;
}
