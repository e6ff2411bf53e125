/* SPDX-License-Identifier: MIT */
/*
 * ctl_tpm.c: `openclawctl tpm ...`, the admin's handle on TPM-bound
 * credentials: make a key, its certificate, a client assertion; seal and
 * unseal a secret; show the TPM's state.
 *
 * Output files are written 0600 through a temporary file and rename.
 * An unsealed secret is printed only with an explicit --stdout.
 *
 * Software keys (not bound to a TPM) are made and used only when the
 * configuration says allow_software_keys = yes (there is deliberately no
 * command-line switch for it: it is the admin's decision), and every
 * command that uses one prints a warning.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "clock.h"
#include "conf.h"
#include "helper/ctl/ctl.h"
#include "helper/ctl/ctl_tpm.h"
#include "tpm/tpm.h"

struct tpm_args {
    const char *tcti;
    const char *config;
    bool allow_software_keys;
    const char *keys_dir; /* from the configuration; NULL: the library's default */
    bool software;
    const char *alg;
    const char *out;
    const char *in;
    const char *key;
    const char *cert;
    const char *subject;
    const char *client_id;
    const char *aud;
    const char *pcrs;
    const char *auth_file;
    const char *parent;
    unsigned days;
    unsigned lifetime;
    unsigned pcr;
    bool ps256;
    bool to_stdout;
    bool check;
    FILE *msg; /* where keygen and cert say what they made; NULL: stdout */
};

static void tpm_usage(FILE *f)
{
    fprintf(f,
            "Usage: openclawctl tpm COMMAND [OPTIONS]\n\n"
            "  keygen --alg rsa|ecc --out KEY            make a TPM-bound signing key\n"
            "  keygen --software --alg rsa|ecc --out KEY a software key (not TPM-bound; only\n"
            "                                             with allow_software_keys = yes)\n"
            "  cert --key KEY --subject CN --out CERT    self-signed certificate (TPM-signed)\n"
            "       [--days N]                            and its x5t / x5t#S256 thumbprints\n"
            "  sign-assertion --key KEY --cert CERT --client-id ID --aud TOKEN-URL\n"
            "       [--ps256] [--lifetime S]              print a client_assertion JWT\n"
            "  sign --key KEY --in FILE --out SIG [--ps256]  sign FILE's SHA-256 (OpenSSL form)\n"
            "  seal --in FILE|- --out SEALED [--pcrs sha256:16,23] [--auth-file F]\n"
            "  unseal --in SEALED [--auth-file F] (--stdout | --check)\n"
            "  pcr-extend --pcr N --in FILE|-            extend a SHA-256 PCR (tests, admins)\n"
            "  info [--key KEY]                           TPM, lockout state, loaded handles,\n"
            "                                             software keys allowed, KEY's kind\n\n"
            "Common options: --tcti STRING (default: tcti from the configuration, else %s),\n"
            "  --config FILE (default %s; a missing default file is fine),\n"
            "  --parent ecc|rsa|0x81xxxxxx (storage key for keygen and seal; default ecc).\n",
            OC_TPM_DEFAULT_TCTI, OC_CONFIG_PATH);
}

/* tcti, keys_dir and allow_software_keys from the configuration, unless --tcti was given. */
static int read_config(struct tpm_args *a, char **ret_tcti, char **ret_keys_dir)
{
    struct oc_config *config = NULL;
    struct oc_config_error err;
    const char *path = a->config != NULL ? a->config : OC_CONFIG_PATH;
    char msg[1024];
    int r;

    *ret_tcti = NULL;
    *ret_keys_dir = NULL;
    if (a->tcti != NULL && a->config == NULL) {
        return 0;
    }
    r = oc_config_load(path, 0, &config, &err);
    if (r == -ENOENT && a->config == NULL) {
        return 0;
    }
    if (r < 0) {
        oc_config_error_format(&err, msg, sizeof(msg));
        fprintf(stderr, "openclawctl tpm: %s\n", msg);
        return r;
    }
    a->allow_software_keys = config->global.allow_software_keys;
    if (config->global.keys_dir != NULL) {
        *ret_keys_dir = strdup(config->global.keys_dir);
        if (*ret_keys_dir == NULL) {
            oc_config_free(config);
            return -ENOMEM;
        }
        a->keys_dir = *ret_keys_dir;
    }
    if (a->tcti == NULL && config->global.tcti != NULL) {
        *ret_tcti = strdup(config->global.tcti);
        if (*ret_tcti == NULL) {
            oc_config_free(config);
            return -ENOMEM;
        }
        a->tcti = *ret_tcti;
    }
    oc_config_free(config);
    return 0;
}

static int read_file(const char *path, size_t cap, uint8_t **ret_buf, size_t *ret_len)
{
    int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    uint8_t *buf;
    size_t n = 0;

    if (fd < 0) {
        return -errno;
    }
    buf = malloc(cap + 1);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        ssize_t k = read(fd, buf + n, cap + 1 - n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            int e = -errno;
            close(fd);
            free(buf);
            return e;
        }
        if (k == 0) {
            break;
        }
        n += (size_t)k;
        if (n > cap) {
            close(fd);
            free(buf);
            return -EFBIG;
        }
    }
    close(fd);
    *ret_buf = buf;
    *ret_len = n;
    return 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    return oc_tpm_blob_write_file(path, data, len);
}

static int parse_parent(const char *s, struct oc_tpm_options *opt)
{
    if (s == NULL || strcmp(s, "ecc") == 0) {
        opt->parent = OC_TPM_PARENT_ECC_SRK;
        return 0;
    }
    if (strcmp(s, "rsa") == 0) {
        opt->parent = OC_TPM_PARENT_RSA_SRK;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    unsigned long h = strtoul(s, &end, 16);
    if (errno != 0 || end == s || *end != '\0' || h < OC_TPM_PERSISTENT_FIRST ||
        h > OC_TPM_PERSISTENT_LAST) {
        return -EINVAL;
    }
    opt->parent = OC_TPM_PARENT_PERSISTENT;
    opt->persistent_srk = (uint32_t)h;
    return 0;
}

static int open_tpm(const struct tpm_args *a, const struct oc_tpmblob *from_blob,
                    struct oc_tpm **ret)
{
    struct oc_tpm_options opt = {.tcti = a->tcti,
                                 .allow_software_keys = a->allow_software_keys,
                                 .keys_dir = a->keys_dir};
    char err[1024];
    int r;

    if (a->software) {
        opt.parent = OC_TPM_PARENT_SOFTWARE;
    } else if (from_blob != NULL) {
        opt.parent = from_blob->parent;
        opt.persistent_srk = from_blob->parent_handle;
    } else if (parse_parent(a->parent, &opt) < 0) {
        fprintf(stderr, "openclawctl tpm: --parent must be ecc, rsa or a persistent handle "
                        "0x81000000-0x81ffffff\n");
        return -EINVAL;
    }
    r = oc_tpm_open(&opt, ret, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "openclawctl tpm: %s\n", err);
    }
    return r;
}

/* Read and pre-parse a blob file (to learn its storage parent). */
static int load_blob(const char *path, uint8_t **ret_buf, size_t *ret_len, struct oc_tpmblob *b)
{
    const char *why = NULL;
    int r = oc_tpm_blob_read_file(path, ret_buf, ret_len);

    if (r < 0) {
        fprintf(stderr, "openclawctl tpm: cannot read %s: %s\n", path,
                r == -EFBIG    ? "larger than any valid blob"
                : r == -ELOOP  ? "a symbolic link (refused)"
                : r == -EINVAL ? "not a regular file"
                               : strerror(-r));
        return r;
    }
    r = oc_tpmblob_parse(*ret_buf, *ret_len, b, &why);
    if (r < 0) {
        fprintf(stderr, "openclawctl tpm: %s is not usable: %s\n", path, why);
        free(*ret_buf);
        return r;
    }
    return 0;
}

/* Said on every command that uses a software key. */
static void warn_software(const char *path)
{
    fprintf(stderr,
            "warning: software key %s is not bound to a TPM (allow_software_keys = yes): a "
            "copy of this host's disk or root on it can use it; prefer a TPM key\n",
            path);
}

/* Without the configuration's opt-in: exit 2, naming the option. */
static int refuse_software(const char *what)
{
    fprintf(stderr,
            "openclawctl tpm: %s: software keys (not bound to a TPM) are refused; the admin must "
            "set allow_software_keys = yes in the configuration to allow them\n",
            what);
    return CTL_EXIT_USAGE;
}

static int fail_tpm(struct oc_tpm *tpm)
{
    fprintf(stderr, "openclawctl tpm: %s\n", oc_tpm_strerror(tpm));
    oc_tpm_close(tpm);
    return CTL_EXIT_REFUSED;
}

static int cmd_keygen(const struct tpm_args *a)
{
    FILE *msg = a->msg != NULL ? a->msg : stdout;
    enum oc_tpm_key_alg alg;
    struct oc_tpm *tpm = NULL;
    uint8_t *blob = NULL;
    size_t len = 0;
    int r;

    if (a->alg == NULL || a->out == NULL) {
        fprintf(stderr, "openclawctl tpm keygen: --alg rsa|ecc and --out KEY are required\n");
        return CTL_EXIT_USAGE;
    }
    if (strcmp(a->alg, "rsa") == 0 || strcmp(a->alg, "rsa2048") == 0) {
        alg = OC_TPM_KEY_RSA2048;
    } else if (strcmp(a->alg, "ecc") == 0 || strcmp(a->alg, "ecc-p256") == 0) {
        alg = OC_TPM_KEY_ECC_P256;
    } else {
        fprintf(stderr, "openclawctl tpm keygen: --alg must be rsa or ecc\n");
        return CTL_EXIT_USAGE;
    }
    if (a->software && !a->allow_software_keys) {
        return refuse_software("keygen --software");
    }
    if (open_tpm(a, NULL, &tpm) < 0) {
        return CTL_EXIT_REFUSED;
    }
    r = a->software ? oc_tpm_keygen_software(tpm, alg, (uint64_t)oc_now(), &blob, &len)
                    : oc_tpm_keygen(tpm, alg, (uint64_t)oc_now(), &blob, &len);
    if (r < 0) {
        return fail_tpm(tpm);
    }
    oc_tpm_close(tpm);
    r = write_file(a->out, blob, len);
    free(blob);
    if (r < 0) {
        fprintf(stderr, "openclawctl tpm keygen: cannot write %s: %s\n", a->out, strerror(-r));
        return CTL_EXIT_REFUSED;
    }
    if (a->software) {
        warn_software(a->out);
        fprintf(msg, "key: %s (%s, SOFTWARE key encrypted under %s/%s, not bound to a TPM)\n",
                a->out, oc_tpm_key_alg_name((uint16_t)alg),
                a->keys_dir != NULL ? a->keys_dir : OC_TPM_DEFAULT_KEYS_DIR,
                OC_SOFTKEY_HOST_KEY_FILE);
    } else {
        fprintf(msg, "key: %s (%s, bound to this TPM)\n", a->out,
                oc_tpm_key_alg_name((uint16_t)alg));
    }
    return CTL_EXIT_OK;
}

/*
 * Open the TPM under the key's parent (no TPM for a software key) and load
 * the key. Returns the exit code to use on failure (CTL_EXIT_USAGE when the
 * configuration forbids software keys), or CTL_EXIT_OK.
 */
static int with_key(const struct tpm_args *a, struct oc_tpm **ret_tpm, struct oc_tpm_key **ret_key)
{
    struct oc_tpmblob b;
    uint8_t *buf = NULL;
    size_t len = 0;
    int r;

    if (load_blob(a->key, &buf, &len, &b) < 0) {
        return CTL_EXIT_REFUSED;
    }
    if (b.type == OC_TPMBLOB_SOFTWARE_KEY && !a->allow_software_keys) {
        free(buf);
        return refuse_software(a->key);
    }
    if (open_tpm(a, &b, ret_tpm) < 0) {
        free(buf);
        return CTL_EXIT_REFUSED;
    }
    r = oc_tpm_key_load(*ret_tpm, buf, len, ret_key);
    free(buf);
    if (r < 0) {
        fail_tpm(*ret_tpm);
        return CTL_EXIT_REFUSED;
    }
    if (r == OC_TPM_SOFTWARE_KEY) {
        warn_software(a->key);
    }
    return CTL_EXIT_OK;
}

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "re");
    X509 *x;

    if (f == NULL) {
        fprintf(stderr, "openclawctl tpm: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL) {
        fprintf(stderr, "openclawctl tpm: %s is not a PEM certificate\n", path);
    }
    return x;
}

/* The certificate of a->key into a->out; its thumbprints into x5t, x5t256. */
static int make_cert(const struct tpm_args *a, char x5t[OC_X5T_SIZE], char x5t256[OC_X5T_S256_SIZE])
{
    struct oc_tpm *tpm = NULL;
    struct oc_tpm_key *key = NULL;
    X509 *x = NULL;
    BIO *bio = NULL;
    char *pem = NULL;
    long pem_len;
    int r;

    if (a->key == NULL || a->subject == NULL || a->out == NULL) {
        fprintf(stderr, "openclawctl tpm cert: --key, --subject and --out are required\n");
        return CTL_EXIT_USAGE;
    }
    r = with_key(a, &tpm, &key);
    if (r != CTL_EXIT_OK) {
        return r;
    }
    if (oc_tpm_cert_create(key, a->subject, a->days != 0 ? a->days : 365, oc_now(), &x) < 0) {
        return fail_tpm(tpm);
    }
    oc_tpm_close(tpm);
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_X509(bio, x) != 1 ||
        (pem_len = BIO_get_mem_data(bio, &pem)) <= 0 || oc_cert_thumbprints(x, x5t, x5t256) < 0) {
        fprintf(stderr, "openclawctl tpm cert: cannot encode the certificate\n");
        BIO_free(bio);
        X509_free(x);
        return CTL_EXIT_REFUSED;
    }
    r = write_file(a->out, pem, (size_t)pem_len);
    BIO_free(bio);
    X509_free(x);
    if (r < 0) {
        fprintf(stderr, "openclawctl tpm cert: cannot write %s: %s\n", a->out, strerror(-r));
        return CTL_EXIT_REFUSED;
    }
    return CTL_EXIT_OK;
}

static int cmd_cert(const struct tpm_args *a)
{
    char x5t[OC_X5T_SIZE], x5t256[OC_X5T_S256_SIZE];
    int r = make_cert(a, x5t, x5t256);

    if (r == CTL_EXIT_OK) {
        fprintf(a->msg != NULL ? a->msg : stdout, "certificate: %s\nx5t: %s\nx5t#S256: %s\n",
                a->out, x5t, x5t256);
    }
    return r;
}

/* ---- for other subcommands (ctl_tpm.h) ---- */

static void target_args(const struct ctl_tpm_target *t, struct tpm_args *a)
{
    memset(a, 0, sizeof(*a));
    a->tcti = t->tcti;
    a->keys_dir = t->keys_dir;
    a->allow_software_keys = t->allow_software_keys;
    a->msg = t->msg;
    a->pcr = 99;
}

int ctl_tpm_keygen_file(const struct ctl_tpm_target *t, const char *alg, const char *out)
{
    struct tpm_args a;

    target_args(t, &a);
    a.alg = alg;
    a.out = out;
    return cmd_keygen(&a);
}

int ctl_tpm_cert_file(const struct ctl_tpm_target *t, const char *key, const char *subject,
                      unsigned days, const char *out, char ret_x5t[OC_X5T_SIZE],
                      char ret_x5t256[OC_X5T_S256_SIZE])
{
    struct tpm_args a;

    target_args(t, &a);
    a.key = key;
    a.subject = subject;
    a.days = days;
    a.out = out;
    return make_cert(&a, ret_x5t, ret_x5t256);
}

int ctl_tpm_assertion(const struct ctl_tpm_target *t, const char *key, X509 *cert,
                      const struct oc_assertion_params *p, char **ret_jwt)
{
    struct oc_tpm *tpm = NULL;
    struct oc_tpm_key *k = NULL;
    struct tpm_args a;
    int r;

    target_args(t, &a);
    a.key = key;
    r = with_key(&a, &tpm, &k);
    if (r != CTL_EXIT_OK) {
        return r;
    }
    if (oc_tpm_client_assertion(k, cert, p, ret_jwt) < 0) {
        return fail_tpm(tpm);
    }
    oc_tpm_close(tpm);
    return CTL_EXIT_OK;
}

static int cmd_sign_assertion(const struct tpm_args *a)
{
    struct oc_tpm *tpm = NULL;
    struct oc_tpm_key *key = NULL;
    struct oc_assertion_params p;
    X509 *x;
    char *jwt = NULL;
    int r;

    if (a->key == NULL || a->cert == NULL || a->client_id == NULL || a->aud == NULL) {
        fprintf(stderr, "openclawctl tpm sign-assertion: --key, --cert, --client-id and --aud "
                        "are required\n");
        return CTL_EXIT_USAGE;
    }
    x = read_cert(a->cert);
    if (x == NULL) {
        return CTL_EXIT_USAGE;
    }
    r = with_key(a, &tpm, &key);
    if (r != CTL_EXIT_OK) {
        X509_free(x);
        return r;
    }
    memset(&p, 0, sizeof(p));
    p.client_id = a->client_id;
    p.audience = a->aud;
    p.now = oc_now();
    p.lifetime = a->lifetime;
    p.alg = a->ps256 ? OC_JWS_PS256 : 0;
    if (oc_tpm_client_assertion(key, x, &p, &jwt) < 0) {
        X509_free(x);
        return fail_tpm(tpm);
    }
    X509_free(x);
    oc_tpm_close(tpm);
    printf("%s\n", jwt);
    free(jwt);
    return CTL_EXIT_OK;
}

static int cmd_sign(const struct tpm_args *a)
{
    struct oc_tpm *tpm = NULL;
    struct oc_tpm_key *key = NULL;
    uint8_t *data = NULL, digest[32], sig[OC_TPM_SIG_MAX];
    size_t len = 0, sig_len = 0;
    unsigned int dn = 0;
    enum oc_jws_alg alg;
    int r;

    if (a->key == NULL || a->in == NULL || a->out == NULL) {
        fprintf(stderr, "openclawctl tpm sign: --key, --in and --out are required\n");
        return CTL_EXIT_USAGE;
    }
    r = read_file(a->in, 16u * 1024 * 1024, &data, &len);
    if (r < 0) {
        fprintf(stderr, "openclawctl tpm sign: cannot read %s: %s\n", a->in, strerror(-r));
        return CTL_EXIT_USAGE;
    }
    r = EVP_Digest(data, len, digest, &dn, EVP_sha256(), NULL);
    free(data);
    if (r != 1) {
        return CTL_EXIT_REFUSED;
    }
    r = with_key(a, &tpm, &key);
    if (r != CTL_EXIT_OK) {
        return r;
    }
    alg = a->ps256 ? OC_JWS_PS256 : oc_tpm_key_default_alg(key);
    if (oc_tpm_key_sign(key, alg, digest, sig, &sig_len) < 0) {
        return fail_tpm(tpm);
    }
    oc_tpm_close(tpm);
    if (alg == OC_JWS_ES256) {
        /* OpenSSL's form: an ECDSA-Sig-Value */
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *br = BN_bin2bn(sig, 32, NULL), *bs = BN_bin2bn(sig + 32, 32, NULL);
        unsigned char *der = NULL;
        int dl = -1;
        if (es != NULL && br != NULL && bs != NULL && ECDSA_SIG_set0(es, br, bs) == 1) {
            br = bs = NULL;
            dl = i2d_ECDSA_SIG(es, &der);
        }
        BN_free(br);
        BN_free(bs);
        ECDSA_SIG_free(es);
        if (dl <= 0) {
            return CTL_EXIT_REFUSED;
        }
        r = write_file(a->out, der, (size_t)dl);
        OPENSSL_free(der);
    } else {
        r = write_file(a->out, sig, sig_len);
    }
    if (r < 0) {
        fprintf(stderr, "openclawctl tpm sign: cannot write %s: %s\n", a->out, strerror(-r));
        return CTL_EXIT_REFUSED;
    }
    return CTL_EXIT_OK;
}

static int read_auth(const char *path, uint8_t auth[OC_TPM_AUTH_MAX], size_t *ret_len)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = read_file(path, OC_TPM_AUTH_MAX + 1, &buf, &len);

    if (r < 0) {
        fprintf(stderr, "openclawctl tpm: cannot read the auth file %s: %s\n", path, strerror(-r));
        return r;
    }
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
    }
    if (len == 0 || len > OC_TPM_AUTH_MAX) {
        fprintf(stderr, "openclawctl tpm: the auth value must be 1 to %d bytes\n", OC_TPM_AUTH_MAX);
        OPENSSL_cleanse(buf, len);
        free(buf);
        return -EINVAL;
    }
    memcpy(auth, buf, len);
    OPENSSL_cleanse(buf, len);
    free(buf);
    *ret_len = len;
    return 0;
}

/* Open the TPM under a->parent, seal, write a->out atomically (given to
 * uid:gid before it appears). The secret is the caller's to wipe. */
static int seal_and_write(const struct tpm_args *a, const struct oc_seal_options *opt,
                          const uint8_t *secret, size_t len, uid_t uid, gid_t gid)
{
    struct oc_tpm *tpm = NULL;
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    int r;

    if (open_tpm(a, NULL, &tpm) < 0) {
        return CTL_EXIT_REFUSED;
    }
    r = oc_tpm_seal(tpm, secret, len, opt, (uint64_t)oc_now(), &blob, &blob_len);
    if (r < 0) {
        return fail_tpm(tpm);
    }
    oc_tpm_close(tpm);
    r = oc_tpm_blob_write_file_owned(a->out, blob, blob_len, uid, gid);
    free(blob);
    if (r < 0) {
        fprintf(stderr, "openclawctl: cannot write %s: %s\n", a->out, strerror(-r));
        return CTL_EXIT_REFUSED;
    }
    return CTL_EXIT_OK;
}

static int cmd_seal(const struct tpm_args *a)
{
    struct oc_seal_options opt;
    uint8_t *secret = NULL, auth[OC_TPM_AUTH_MAX];
    size_t len = 0, auth_len = 0;
    int r;

    if (a->in == NULL || a->out == NULL) {
        fprintf(stderr, "openclawctl tpm seal: --in FILE|- and --out SEALED are required\n");
        return CTL_EXIT_USAGE;
    }
    memset(&opt, 0, sizeof(opt));
    if (a->pcrs != NULL && oc_tpm_parse_pcrs(a->pcrs, &opt.pcr_bank, &opt.pcr_mask) < 0) {
        fprintf(stderr, "openclawctl tpm seal: --pcrs takes [sha1:|sha256:|sha384:]N[,N...] "
                        "with N in 0..23\n");
        return CTL_EXIT_USAGE;
    }
    if (a->auth_file != NULL) {
        if (read_auth(a->auth_file, auth, &auth_len) < 0) {
            return CTL_EXIT_USAGE;
        }
        opt.auth = auth;
        opt.auth_len = auth_len;
    }
    r = read_file(a->in, OC_TPM_SECRET_MAX, &secret, &len);
    if (r < 0 || len == 0) {
        fprintf(stderr, "openclawctl tpm seal: cannot read the secret from %s: %s\n", a->in,
                r == -EFBIG ? "longer than 64 KiB"
                : r < 0     ? strerror(-r)
                            : "empty");
        OPENSSL_cleanse(auth, sizeof(auth));
        if (secret != NULL) {
            oc_tpm_secret_free(secret, len);
        }
        return CTL_EXIT_USAGE;
    }
    r = seal_and_write(a, &opt, secret, len, (uid_t)-1, (gid_t)-1);
    oc_tpm_secret_free(secret, len);
    OPENSSL_cleanse(auth, sizeof(auth));
    if (r != CTL_EXIT_OK) {
        return r;
    }
    printf("sealed: %s (%zu bytes%s%s)\n", a->out, len, opt.pcr_mask != 0 ? ", PCR policy" : "",
           auth_len > 0 ? ", auth value" : "");
    return CTL_EXIT_OK;
}

int ctl_tpm_seal_file(const struct ctl_tpm_target *t, const char *parent, const char *pcrs,
                      const uint8_t *secret, size_t len, const char *out, uid_t uid, gid_t gid)
{
    struct oc_seal_options opt;
    struct tpm_args a;

    target_args(t, &a);
    a.parent = parent;
    a.out = out;
    memset(&opt, 0, sizeof(opt));
    if (pcrs != NULL && oc_tpm_parse_pcrs(pcrs, &opt.pcr_bank, &opt.pcr_mask) < 0) {
        fprintf(stderr, "openclawctl: --pcrs takes [sha1:|sha256:|sha384:]N[,N...] with N in "
                        "0..23\n");
        return CTL_EXIT_USAGE;
    }
    if (len == 0 || len > OC_TPM_SECRET_MAX) {
        fprintf(stderr, "openclawctl: the secret must be 1 to %d bytes\n", OC_TPM_SECRET_MAX);
        return CTL_EXIT_USAGE;
    }
    return seal_and_write(&a, &opt, secret, len, uid, gid);
}

static int cmd_unseal(const struct tpm_args *a)
{
    struct oc_tpmblob b;
    struct oc_tpm *tpm = NULL;
    uint8_t *buf = NULL, *secret = NULL, auth[OC_TPM_AUTH_MAX];
    size_t len = 0, secret_len = 0, auth_len = 0;
    int r, rc = CTL_EXIT_OK;

    if (a->in == NULL) {
        fprintf(stderr, "openclawctl tpm unseal: --in SEALED is required\n");
        return CTL_EXIT_USAGE;
    }
    if (!a->to_stdout && !a->check) {
        fprintf(stderr, "openclawctl tpm unseal: say --stdout to print the secret, or --check "
                        "to only test that it unseals\n");
        return CTL_EXIT_USAGE;
    }
    if (a->auth_file != NULL && read_auth(a->auth_file, auth, &auth_len) < 0) {
        return CTL_EXIT_USAGE;
    }
    if (load_blob(a->in, &buf, &len, &b) < 0) {
        OPENSSL_cleanse(auth, sizeof(auth));
        return CTL_EXIT_REFUSED;
    }
    if (b.type != OC_TPMBLOB_SEALED) {
        fprintf(stderr, "openclawctl tpm unseal: %s holds a signing key, not a sealed secret\n",
                a->in);
        free(buf);
        OPENSSL_cleanse(auth, sizeof(auth));
        return CTL_EXIT_REFUSED;
    }
    if (open_tpm(a, &b, &tpm) < 0) {
        free(buf);
        OPENSSL_cleanse(auth, sizeof(auth));
        return CTL_EXIT_REFUSED;
    }
    r = oc_tpm_unseal(tpm, buf, len, auth_len > 0 ? auth : NULL, auth_len, &secret, &secret_len);
    OPENSSL_cleanse(auth, sizeof(auth));
    free(buf);
    if (r < 0) {
        return fail_tpm(tpm);
    }
    oc_tpm_close(tpm);
    if (a->to_stdout) {
        if (fwrite(secret, 1, secret_len, stdout) != secret_len || fflush(stdout) != 0) {
            rc = CTL_EXIT_REFUSED;
        }
    } else {
        printf("unsealed: %zu bytes (not shown)\n", secret_len);
    }
    oc_tpm_secret_free(secret, secret_len);
    return rc;
}

static int cmd_pcr_extend(const struct tpm_args *a)
{
    struct oc_tpm *tpm = NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    int r;

    if (a->in == NULL || a->pcr > 23) {
        fprintf(stderr, "openclawctl tpm pcr-extend: --pcr N (0..23) and --in FILE|- are "
                        "required\n");
        return CTL_EXIT_USAGE;
    }
    r = read_file(a->in, 1024u * 1024, &data, &len);
    if (r < 0) {
        fprintf(stderr, "openclawctl tpm pcr-extend: cannot read %s: %s\n", a->in, strerror(-r));
        return CTL_EXIT_USAGE;
    }
    if (open_tpm(a, NULL, &tpm) < 0) {
        free(data);
        return CTL_EXIT_REFUSED;
    }
    r = oc_tpm_pcr_extend(tpm, a->pcr, data, len);
    free(data);
    if (r < 0) {
        return fail_tpm(tpm);
    }
    oc_tpm_close(tpm);
    return CTL_EXIT_OK;
}

/* The kind of a key file, for info --key. */
static int describe_key(const char *path)
{
    struct oc_tpmblob b;
    uint8_t *buf = NULL;
    size_t len = 0;

    if (load_blob(path, &buf, &len, &b) < 0) {
        return -EINVAL;
    }
    free(buf);
    if (b.type == OC_TPMBLOB_SOFTWARE_KEY) {
        printf("key %s: SOFTWARE key (%s), not bound to a TPM\n", path,
               oc_tpm_key_alg_name(b.key_alg));
    } else if (b.type == OC_TPMBLOB_SIGNING_KEY) {
        printf("key %s: TPM-bound (%s, storage key %s)\n", path, oc_tpm_key_alg_name(b.key_alg),
               b.parent == OC_TPM_PARENT_RSA_SRK   ? "rsa2048 template"
               : b.parent == OC_TPM_PARENT_ECC_SRK ? "ecc-p256 template"
                                                   : "persistent");
    } else {
        printf("key %s: a sealed secret, not a key\n", path);
    }
    return 0;
}

static int cmd_info(const struct tpm_args *a)
{
    struct oc_tpm *tpm = NULL;
    char buf[2048];
    int rc = CTL_EXIT_OK;

    /* without a TPM, still say what the configuration allows and what the key is */
    if (open_tpm(a, NULL, &tpm) < 0) {
        rc = CTL_EXIT_REFUSED;
        printf("tpm: unreachable\n");
    } else if (oc_tpm_describe(tpm, buf, sizeof(buf)) < 0) {
        rc = fail_tpm(tpm);
    } else {
        oc_tpm_close(tpm);
        fputs(buf, stdout);
    }
    if (a->allow_software_keys) {
        printf("software keys: ALLOWED by the configuration (allow_software_keys = yes; host key "
               "%s/%s); every use is logged as a warning\n",
               a->keys_dir != NULL ? a->keys_dir : OC_TPM_DEFAULT_KEYS_DIR,
               OC_SOFTKEY_HOST_KEY_FILE);
    } else {
        printf("software keys: refused (allow_software_keys = no)\n");
    }
    if (a->key != NULL && describe_key(a->key) < 0) {
        rc = CTL_EXIT_REFUSED;
    }
    return rc;
}

static int parse_uint(const char *name, const char *s, unsigned max, unsigned *ret)
{
    char *end = NULL;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max) {
        fprintf(stderr, "openclawctl tpm: %s takes a number up to %u\n", name, max);
        return -EINVAL;
    }
    *ret = (unsigned)v;
    return 0;
}

static int run(const char *cmd, const struct tpm_args *a);

int ctl_tpm(int argc, char **argv)
{
    static const struct option opts[] = {
            {"tcti", required_argument, NULL, 't'},
            {"config", required_argument, NULL, 'F'},
            {"alg", required_argument, NULL, 'a'},
            {"out", required_argument, NULL, 'o'},
            {"in", required_argument, NULL, 'i'},
            {"key", required_argument, NULL, 'k'},
            {"cert", required_argument, NULL, 'c'},
            {"subject", required_argument, NULL, 's'},
            {"client-id", required_argument, NULL, 'C'},
            {"aud", required_argument, NULL, 'A'},
            {"pcrs", required_argument, NULL, 'p'},
            {"pcr", required_argument, NULL, 'P'},
            {"auth-file", required_argument, NULL, 'u'},
            {"parent", required_argument, NULL, 'R'},
            {"days", required_argument, NULL, 'd'},
            {"lifetime", required_argument, NULL, 'l'},
            {"ps256", no_argument, NULL, 'S'},
            {"stdout", no_argument, NULL, 'O'},
            {"check", no_argument, NULL, 'K'},
            {"software", no_argument, NULL, 'W'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct tpm_args a;
    const char *cmd;
    char *tcti_copy = NULL, *keys_dir_copy = NULL;
    int c, r;

    memset(&a, 0, sizeof(a));
    a.pcr = 99;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        tpm_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
    }
    cmd = argv[1];
    /* tpm2-tss logs failed commands to stderr itself; we explain them once */
    setenv("TSS2_LOG", "all+none", 0);
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            a.tcti = optarg;
            break;
        case 'F':
            a.config = optarg;
            break;
        case 'a':
            a.alg = optarg;
            break;
        case 'o':
            a.out = optarg;
            break;
        case 'i':
            a.in = optarg;
            break;
        case 'k':
            a.key = optarg;
            break;
        case 'c':
            a.cert = optarg;
            break;
        case 's':
            a.subject = optarg;
            break;
        case 'C':
            a.client_id = optarg;
            break;
        case 'A':
            a.aud = optarg;
            break;
        case 'p':
            a.pcrs = optarg;
            break;
        case 'P':
            if (parse_uint("--pcr", optarg, 23, &a.pcr) < 0) {
                return CTL_EXIT_USAGE;
            }
            break;
        case 'u':
            a.auth_file = optarg;
            break;
        case 'R':
            a.parent = optarg;
            break;
        case 'd':
            if (parse_uint("--days", optarg, 3650, &a.days) < 0) {
                return CTL_EXIT_USAGE;
            }
            break;
        case 'l':
            if (parse_uint("--lifetime", optarg, OC_ASSERTION_LIFETIME_MAX, &a.lifetime) < 0) {
                return CTL_EXIT_USAGE;
            }
            break;
        case 'S':
            a.ps256 = true;
            break;
        case 'O':
            a.to_stdout = true;
            break;
        case 'K':
            a.check = true;
            break;
        case 'W':
            a.software = true;
            break;
        case 'h':
            tpm_usage(stdout);
            return CTL_EXIT_OK;
        default:
            tpm_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "openclawctl tpm %s: unexpected argument '%s'\n", cmd, argv[optind + 1]);
        return CTL_EXIT_USAGE;
    }
    if (a.software && strcmp(cmd, "keygen") != 0) {
        fprintf(stderr, "openclawctl tpm %s: --software applies to keygen only\n", cmd);
        return CTL_EXIT_USAGE;
    }
    if (read_config(&a, &tcti_copy, &keys_dir_copy) < 0) {
        return CTL_EXIT_USAGE;
    }
    r = run(cmd, &a);
    free(tcti_copy);
    free(keys_dir_copy);
    return r;
}

static int run(const char *cmd, const struct tpm_args *a)
{
    if (strcmp(cmd, "keygen") == 0) {
        return cmd_keygen(a);
    }
    if (strcmp(cmd, "cert") == 0) {
        return cmd_cert(a);
    }
    if (strcmp(cmd, "sign-assertion") == 0) {
        return cmd_sign_assertion(a);
    }
    if (strcmp(cmd, "sign") == 0) {
        return cmd_sign(a);
    }
    if (strcmp(cmd, "seal") == 0) {
        return cmd_seal(a);
    }
    if (strcmp(cmd, "unseal") == 0) {
        return cmd_unseal(a);
    }
    if (strcmp(cmd, "pcr-extend") == 0) {
        return cmd_pcr_extend(a);
    }
    if (strcmp(cmd, "info") == 0) {
        return cmd_info(a);
    }
    fprintf(stderr, "openclawctl tpm: unknown command '%s' (see 'openclawctl tpm --help')\n", cmd);
    return CTL_EXIT_USAGE;
}
