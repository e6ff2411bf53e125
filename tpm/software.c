/* SPDX-License-Identifier: MIT */
/*
 * software.c: software signing keys, the fallback for hosts without a
 * TPM, made and used only when the admin set allow_software_keys = yes.
 *
 * The key (RSA-2048 or ECC P-256) is made by OpenSSL and kept in a blob of
 * type OC_TPMBLOB_SOFTWARE_KEY: the public key as a TPM2B_PUBLIC (so the
 * certificate and assertion code treat both kinds alike) and the PKCS#8
 * private key encrypted with AES-256-GCM under a 32-byte host key,
 * <keys_dir>/software-host.key. The GCM additional data is the blob header
 * and the marshalled public part: every plaintext field is authenticated.
 *
 * This protects a key file read on its own (a backup of keys_dir without
 * the host key), not a copied disk or root on the host: docs/tpm.md.
 * Plaintext key material lives in buffers wiped before they are freed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tpm/tpm-internal.h"

#define HOST_KEY_TMP_TRIES 8

/* AES-256-GCM over in (len bytes) into out, with aad; tag is read (decrypt) or written. */
static int gcm(bool enc, const uint8_t key[OC_SOFTKEY_HOST_KEY_SIZE],
               const uint8_t nonce[OC_TPM_AEAD_NONCE], const uint8_t *aad1, size_t aad1_len,
               const uint8_t *aad2, size_t aad2_len, const uint8_t *in, size_t len, uint8_t *out,
               uint8_t tag[OC_TPM_AEAD_TAG])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok;

    if (c == NULL || len > (size_t)INT32_MAX) {
        EVP_CIPHER_CTX_free(c);
        return -ENOMEM;
    }
    ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, OC_TPM_AEAD_NONCE, NULL) == 1 &&
         EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc ? 1 : 0) == 1 &&
         EVP_CipherUpdate(c, NULL, &n, aad1, (int)aad1_len) == 1 &&
         EVP_CipherUpdate(c, NULL, &n, aad2, (int)aad2_len) == 1 &&
         EVP_CipherUpdate(c, out, &n, in, (int)len) == 1;
    if (ok && !enc) {
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, OC_TPM_AEAD_TAG, tag) == 1;
    }
    ok = ok && EVP_CipherFinal_ex(c, out + n, &n) == 1;
    if (ok && enc) {
        ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, OC_TPM_AEAD_TAG, tag) == 1;
    }
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -EBADMSG;
}

/* ---- the host key ---- */

/* keys_dir as a directory fd: not a symlink, owned by us or root, no access for others. */
static int open_keys_dir(struct oc_tpm *tpm, bool create, int *ret_fd)
{
    struct stat st;
    int fd;

    if (create && mkdir(tpm->keys_dir, 0700) < 0 && errno != EEXIST) {
        return oc_tpm_set_error(tpm, -errno, "cannot create keys_dir %s: %s", tpm->keys_dir,
                                strerror(errno));
    }
    fd = open(tpm->keys_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        return oc_tpm_set_error(tpm, e == ELOOP || e == ENOTDIR ? -EPERM : -e,
                                "cannot open keys_dir %s: %s", tpm->keys_dir,
                                e == ELOOP || e == ENOTDIR ? "a symbolic link or not a directory"
                                                           : strerror(e));
    }
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return oc_tpm_set_error(tpm, -e, "cannot stat keys_dir %s: %s", tpm->keys_dir, strerror(e));
    }
    if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & 077) != 0) {
        close(fd);
        return oc_tpm_set_error(tpm, -EPERM,
                                "keys_dir %s must be a directory of this user or root with mode "
                                "0700 (it is %04o): chmod 700 it",
                                tpm->keys_dir, (unsigned)(st.st_mode & 07777));
    }
    *ret_fd = fd;
    return 0;
}

/* Write a new random host key under a temporary name and link it into place. */
static int create_host_key(struct oc_tpm *tpm, int dfd)
{
    uint8_t key[OC_SOFTKEY_HOST_KEY_SIZE];
    char tmp[64];
    int fd = -1, r = 0;

    for (int i = 0; i < HOST_KEY_TMP_TRIES && fd < 0; i++) {
        uint8_t rnd[6];
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            return oc_tpm_set_error(tpm, -EIO, "no randomness for the host key");
        }
        snprintf(tmp, sizeof(tmp), ".%s.%02x%02x%02x%02x%02x%02x", OC_SOFTKEY_HOST_KEY_FILE, rnd[0],
                 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno != EEXIST) {
            return oc_tpm_set_error(tpm, -errno, "cannot create the host key in %s: %s",
                                    tpm->keys_dir, strerror(errno));
        }
    }
    if (fd < 0) {
        return oc_tpm_set_error(tpm, -EEXIST, "cannot create the host key in %s", tpm->keys_dir);
    }
    if (RAND_priv_bytes(key, sizeof(key)) != 1) {
        r = -EIO;
    }
    for (size_t off = 0; r == 0 && off < sizeof(key);) {
        ssize_t k = write(fd, key + off, sizeof(key) - off);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            r = -errno;
            break;
        }
        off += (size_t)k;
    }
    OPENSSL_cleanse(key, sizeof(key));
    if (r == 0 && fsync(fd) < 0) {
        r = -errno;
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    /* link, not rename: a host key made meanwhile by another process wins */
    if (r == 0 && linkat(dfd, tmp, dfd, OC_SOFTKEY_HOST_KEY_FILE, 0) < 0 && errno != EEXIST) {
        r = -errno;
    }
    unlinkat(dfd, tmp, 0);
    if (r < 0) {
        return oc_tpm_set_error(tpm, r, "cannot write the host key %s/%s: %s", tpm->keys_dir,
                                OC_SOFTKEY_HOST_KEY_FILE, strerror(-r));
    }
    (void)fsync(dfd);
    return 0;
}

/* Read <keys_dir>/software-host.key (creating it when create is set). */
static int read_host_key(struct oc_tpm *tpm, bool create, uint8_t key[OC_SOFTKEY_HOST_KEY_SIZE])
{
    struct stat st;
    size_t n = 0;
    int dfd = -1, fd = -1, r;

    r = open_keys_dir(tpm, create, &dfd);
    if (r < 0) {
        return r;
    }
    fd = openat(dfd, OC_SOFTKEY_HOST_KEY_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0 && errno == ENOENT && create) {
        r = create_host_key(tpm, dfd);
        if (r < 0) {
            goto out;
        }
        fd = openat(dfd, OC_SOFTKEY_HOST_KEY_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    }
    if (fd < 0) {
        int e = errno;
        r = oc_tpm_set_error(
                tpm, e == ELOOP ? -EPERM : -e, "cannot open the host key %s/%s: %s%s",
                tpm->keys_dir, OC_SOFTKEY_HOST_KEY_FILE,
                e == ELOOP ? "a symbolic link (refused)" : strerror(e),
                e == ENOENT ? ": a software key cannot be decrypted without the host key it was "
                              "made with (made on another host, or the host key was lost)"
                            : "");
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        r = oc_tpm_set_error(tpm, -errno, "cannot stat the host key: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        r = oc_tpm_set_error(tpm, -EPERM,
                             "the host key %s/%s must be a regular file of this user with mode "
                             "0600 (it is %04o, owner %u): refused; chmod 600 it and make a new "
                             "software key, the old one may have been read",
                             tpm->keys_dir, OC_SOFTKEY_HOST_KEY_FILE,
                             (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
        goto out;
    }
    if (st.st_size != OC_SOFTKEY_HOST_KEY_SIZE) {
        r = oc_tpm_set_error(tpm, -EBADMSG, "the host key %s/%s is not %d bytes long",
                             tpm->keys_dir, OC_SOFTKEY_HOST_KEY_FILE, OC_SOFTKEY_HOST_KEY_SIZE);
        goto out;
    }
    while (n < OC_SOFTKEY_HOST_KEY_SIZE) {
        ssize_t k = read(fd, key + n, OC_SOFTKEY_HOST_KEY_SIZE - n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            OPENSSL_cleanse(key, OC_SOFTKEY_HOST_KEY_SIZE);
            r = oc_tpm_set_error(tpm, k < 0 ? -errno : -EBADMSG, "cannot read the host key");
            goto out;
        }
        n += (size_t)k;
    }
    r = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    close(dfd);
    return r;
}

/* ---- key generation ---- */

static int bn_param(const EVP_PKEY *pkey, const char *name, uint8_t *out, size_t size)
{
    BIGNUM *bn = NULL;
    int ok = EVP_PKEY_get_bn_param(pkey, name, &bn) == 1 &&
             BN_bn2binpad(bn, out, (int)size) == (int)size;

    BN_free(bn);
    return ok ? 0 : -EIO;
}

/* The public key as the TPM2B_PUBLIC a software blob stores (no fixedTPM). */
static int public_area(const EVP_PKEY *pkey, enum oc_tpm_key_alg alg, TPM2B_PUBLIC *pub)
{
    TPMT_PUBLIC *p = &pub->publicArea;

    memset(pub, 0, sizeof(*pub));
    p->nameAlg = TPM2_ALG_SHA256;
    p->objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA;
    if (alg == OC_TPM_KEY_RSA2048) {
        uint8_t e[4];
        p->type = TPM2_ALG_RSA;
        p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        p->parameters.rsaDetail.keyBits = 2048;
        p->parameters.rsaDetail.exponent = 0; /* 65537, checked below */
        p->unique.rsa.size = 256;
        if (bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, p->unique.rsa.buffer, 256) < 0 ||
            bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, e, sizeof(e)) < 0 ||
            memcmp(e, "\x00\x01\x00\x01", 4) != 0) {
            return -EIO;
        }
        return 0;
    }
    p->type = TPM2_ALG_ECC;
    p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    p->unique.ecc.x.size = 32;
    p->unique.ecc.y.size = 32;
    if (bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, p->unique.ecc.x.buffer, 32) < 0 ||
        bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, p->unique.ecc.y.buffer, 32) < 0) {
        return -EIO;
    }
    return 0;
}

/* PKCS#8 DER of pkey into a new buffer (OPENSSL_clear_free() it). */
static int pkcs8_der(EVP_PKEY *pkey, uint8_t **ret_der, size_t *ret_len)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
    unsigned char *der = NULL;
    int len;

    if (p8 == NULL) {
        return -EIO;
    }
    len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
    PKCS8_PRIV_KEY_INFO_free(p8); /* clears the key octets it held */
    if (len <= 0) {
        return -EIO;
    }
    *ret_der = der;
    *ret_len = (size_t)len;
    return 0;
}

int oc_tpm_keygen_software(struct oc_tpm *tpm, enum oc_tpm_key_alg alg, uint64_t now,
                           uint8_t **ret_blob, size_t *ret_len)
{
    uint8_t host[OC_SOFTKEY_HOST_KEY_SIZE], *der = NULL, *payload = NULL, *out = NULL, *pl;
    size_t der_len = 0, payload_len, out_len = 0, pub_len;
    struct oc_tpmblob b;
    EVP_PKEY *pkey = NULL;
    int r;

    if (!tpm->allow_software_keys) {
        return oc_tpm_set_error(tpm, -EPERM,
                                "software keys (not bound to a TPM) are refused: the "
                                "configuration does not set allow_software_keys = yes");
    }
    if (alg != OC_TPM_KEY_RSA2048 && alg != OC_TPM_KEY_ECC_P256) {
        return oc_tpm_set_error(tpm, -EINVAL, "unknown key algorithm");
    }
    r = read_host_key(tpm, true, host);
    if (r < 0) {
        return r;
    }
    pkey = alg == OC_TPM_KEY_RSA2048 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                                     : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (pkey == NULL) {
        r = oc_tpm_set_error(tpm, -EIO, "OpenSSL could not generate the key");
        goto out;
    }
    memset(&b, 0, sizeof(b));
    b.type = OC_TPMBLOB_SOFTWARE_KEY;
    b.key_alg = (uint16_t)alg;
    b.parent = OC_TPM_PARENT_SOFTWARE;
    b.created = now;
    if (public_area(pkey, alg, &b.pub) < 0 || pkcs8_der(pkey, &der, &der_len) < 0) {
        r = oc_tpm_set_error(tpm, -EIO, "cannot encode the software key");
        goto out;
    }
    if (der_len > OC_SOFTKEY_DER_MAX) {
        r = oc_tpm_set_error(tpm, -EFBIG, "the encoded key is larger than %u bytes",
                             OC_SOFTKEY_DER_MAX);
        goto out;
    }
    /* write the blob with a placeholder payload, then encrypt in place:
     * the additional data is the header and public part as written */
    payload_len = OC_TPM_AEAD_NONCE + der_len + OC_TPM_AEAD_TAG;
    payload = calloc(1, payload_len);
    if (payload == NULL) {
        r = -ENOMEM;
        goto out;
    }
    b.payload = payload;
    b.payload_len = payload_len;
    r = oc_tpmblob_write(&b, &out, &out_len);
    if (r < 0) {
        r = oc_tpm_set_error(tpm, r, "cannot build the key file");
        goto out;
    }
    pub_len = out_len - OC_TPMBLOB_HEADER_SIZE - payload_len - OC_TPMBLOB_DIGEST_SIZE;
    pl = out + OC_TPMBLOB_HEADER_SIZE + pub_len;
    if (RAND_bytes(pl, OC_TPM_AEAD_NONCE) != 1 ||
        gcm(true, host, pl, out, OC_TPMBLOB_HEADER_SIZE, out + OC_TPMBLOB_HEADER_SIZE, pub_len, der,
            der_len, pl + OC_TPM_AEAD_NONCE, pl + OC_TPM_AEAD_NONCE + der_len) < 0 ||
        oc_tpmblob_update_checksum(out, out_len) < 0) {
        r = oc_tpm_set_error(tpm, -EIO, "cannot encrypt the software key");
        goto out;
    }
    *ret_blob = out;
    *ret_len = out_len;
    out = NULL;
    r = OC_TPM_SOFTWARE_KEY;
out:
    OPENSSL_cleanse(host, sizeof(host));
    if (der != NULL) {
        OPENSSL_clear_free(der, der_len);
    }
    free(payload);
    free(out);
    EVP_PKEY_free(pkey);
    return r;
}

/* ---- load and sign ---- */

int oc_soft_key_load(struct oc_tpm *tpm, const struct oc_tpmblob *b, struct oc_tpm_key *key)
{
    uint8_t host[OC_SOFTKEY_HOST_KEY_SIZE], tag[OC_TPM_AEAD_TAG], *der = NULL;
    size_t der_len = b->payload_len - OC_TPM_AEAD_NONCE - OC_TPM_AEAD_TAG;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    EVP_PKEY *pkey = NULL, *pub = NULL;
    struct oc_tpm_key shape;
    const unsigned char *p;
    int r;

    if (!tpm->allow_software_keys) {
        return oc_tpm_set_error(tpm, -EPERM,
                                "this is a software key (not bound to a TPM), and software keys "
                                "are refused: the configuration does not set "
                                "allow_software_keys = yes");
    }
    r = read_host_key(tpm, false, host);
    if (r < 0) {
        return r;
    }
    der = malloc(der_len);
    if (der == NULL) {
        OPENSSL_cleanse(host, sizeof(host));
        return -ENOMEM;
    }
    memcpy(tag, b->payload + b->payload_len - OC_TPM_AEAD_TAG, sizeof(tag));
    r = gcm(false, host, b->payload, b->header, OC_TPMBLOB_HEADER_SIZE, b->pub_raw, b->pub_raw_len,
            b->payload + OC_TPM_AEAD_NONCE, der_len, der, tag);
    OPENSSL_cleanse(host, sizeof(host));
    if (r < 0) {
        r = oc_tpm_set_error(tpm, -EKEYREJECTED,
                             "the software key does not authenticate under this host key "
                             "(%s/%s): it was made with another host key (another host, or the "
                             "host key was replaced), or the file was edited",
                             tpm->keys_dir, OC_SOFTKEY_HOST_KEY_FILE);
        goto out;
    }
    p = der;
    p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der_len);
    if (p8 == NULL || p != der + der_len || (pkey = EVP_PKCS82PKEY(p8)) == NULL) {
        r = oc_tpm_set_error(tpm, -EBADMSG, "the software key does not decode as PKCS#8");
        goto out;
    }
    /* the private key must be the one the (authenticated) public part names */
    memset(&shape, 0, sizeof(shape));
    shape.pub = b->pub;
    shape.alg = (enum oc_tpm_key_alg)b->key_alg;
    if (oc_tpm_key_public(&shape, &pub) < 0 || EVP_PKEY_eq(pkey, pub) != 1 ||
        (b->key_alg == OC_TPM_KEY_RSA2048
                 ? !EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_get_bits(pkey) != 2048
                 : !EVP_PKEY_is_a(pkey, "EC"))) {
        r = oc_tpm_set_error(tpm, -EBADMSG,
                             "the software key's private part does not match its public part");
        goto out;
    }
    key->soft = pkey;
    pkey = NULL;
    r = 0;
out:
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(pkey);
    EVP_PKEY_free(pub);
    OPENSSL_cleanse(der, der_len);
    free(der);
    return r;
}

int oc_soft_key_sign(struct oc_tpm_key *key, enum oc_jws_alg alg, const uint8_t digest[32],
                     uint8_t sig[OC_TPM_SIG_MAX], size_t *ret_len)
{
    struct oc_tpm *tpm = key->tpm;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t der[OC_TPM_SIG_MAX];
    size_t n = sizeof(der);
    ECDSA_SIG *es = NULL;
    const unsigned char *p;
    const BIGNUM *br = NULL, *bs = NULL;
    int r = -EIO;

    if (!tpm->allow_software_keys) {
        return oc_tpm_set_error(tpm, -EPERM, "software keys are refused (allow_software_keys)");
    }
    if (!((key->alg == OC_TPM_KEY_RSA2048 && (alg == OC_JWS_RS256 || alg == OC_JWS_PS256)) ||
          (key->alg == OC_TPM_KEY_ECC_P256 && alg == OC_JWS_ES256))) {
        return oc_tpm_set_error(tpm, -EINVAL, "algorithm %s does not fit a %s key",
                                oc_jws_alg_name(alg) != NULL ? oc_jws_alg_name(alg) : "?",
                                oc_tpm_key_alg_name(key->alg));
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->soft, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
        goto out;
    }
    if (alg == OC_JWS_RS256 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) {
        goto out;
    }
    /* PS256 as JOSE verifiers expect it: MGF1-SHA-256, salt as long as the hash */
    if (alg == OC_JWS_PS256 && (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                                EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1 ||
                                EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) != 1)) {
        goto out;
    }
    if (EVP_PKEY_sign(ctx, der, &n, digest, 32) != 1) {
        goto out;
    }
    if (alg != OC_JWS_ES256) {
        if (n != 256) {
            goto out;
        }
        memcpy(sig, der, n);
        *ret_len = n;
        r = OC_TPM_SOFTWARE_KEY;
        goto out;
    }
    p = der;
    es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    if (es == NULL) {
        goto out;
    }
    ECDSA_SIG_get0(es, &br, &bs);
    if (BN_bn2binpad(br, sig, 32) != 32 || BN_bn2binpad(bs, sig + 32, 32) != 32) {
        goto out;
    }
    *ret_len = 64;
    r = OC_TPM_SOFTWARE_KEY;
out:
    if (r < 0) {
        oc_tpm_set_error(tpm, r, "OpenSSL could not sign with the software key");
    }
    ECDSA_SIG_free(es);
    EVP_PKEY_CTX_free(ctx);
    return r;
}
