/* SPDX-License-Identifier: MIT */
/* oc_sshsign.c: ssh identities and signatures by agents' TPM keys (see oc_sshsign.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "b64url.h"
#include "helper/daemon/oc_decide.h"
#include "helper/creds/oc_fetch.h"
#include "helper/daemon/oc_sshsign.h"
#include "tpm/tpm.h"
#include "util.h"

/* ---- daemon requests ---- */

static cJSON *error_answer(const char *code, const char *msg)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL) {
        return NULL;
    }
    cJSON_AddBoolToObject(o, "ok", 0);
    cJSON_AddStringToObject(o, "error", code);
    cJSON_AddStringToObject(o, "message", msg);
    return o;
}

/* The agent's loaded key and its ssh public key blob. */
static int agent_key(struct oc_fetch_ctx *fetch, size_t agent, struct oc_tpm_key **ret_key,
                     uint8_t blob[OC_SSH_KEY_BLOB_MAX], size_t *ret_len, struct oc_fetch_error *err)
{
    struct oc_tpm_key *key = NULL;
    EVP_PKEY *pkey = NULL;
    int r;

    memset(err, 0, sizeof(*err));
    r = oc_fetch_agent_key(fetch, agent, &key, err);
    if (r < 0) {
        return r;
    }
    r = oc_tpm_key_public(key, &pkey);
    if (r < 0) {
        snprintf(err->msg, sizeof(err->msg), "the public part of the agent's TPM key is unusable");
        return r;
    }
    r = oc_ssh_pubkey_blob(pkey, blob, OC_SSH_KEY_BLOB_MAX, ret_len);
    EVP_PKEY_free(pkey);
    if (r < 0) {
        snprintf(err->msg, sizeof(err->msg), "the agent's TPM key has no ssh form");
        return r;
    }
    *ret_key = key;
    return 0;
}

cJSON *oc_sshsign_identities(struct oc_fetch_ctx *fetch, ssize_t agent, uint32_t peer_uid,
                             int32_t peer_pid, oc_sshsign_log_fn log)
{
    const struct oc_agent *a;
    struct oc_fetch_error err;
    struct oc_tpm_key *key = NULL;
    uint8_t blob[OC_SSH_KEY_BLOB_MAX];
    size_t len = 0;
    char comment[OC_USER_NAME_MAX + 64];
    char *b64 = NULL;
    cJSON *o, *arr, *id;
    int r;

    o = cJSON_CreateObject();
    arr = cJSON_CreateArray();
    if (o == NULL || arr == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(arr);
        return NULL;
    }
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddItemToObject(o, "identities", arr);
    /* root and uids without an agent have no ssh identity here */
    if (agent < 0 || peer_uid == 0) {
        return o;
    }
    a = &fetch->config->agents[agent];
    cJSON_AddStringToObject(o, "agent", a->name);
    if (a->credential != OC_CRED_TPM_CERTIFICATE) {
        return o;
    }
    r = agent_key(fetch, (size_t)agent, &key, blob, &len, &err);
    if (r < 0) {
        log("agent %s: no ssh identity for uid %u pid %d: %s", a->name, peer_uid, peer_pid,
            err.msg);
        cJSON_Delete(o);
        return error_answer("unusable", err.msg);
    }
    if (oc_b64url_encode(blob, len, &b64) < 0) {
        cJSON_Delete(o);
        return NULL;
    }
    snprintf(comment, sizeof(comment), "openclaw:%s (%s key)", a->name,
             oc_tpm_key_is_software(key) ? "software" : "TPM");
    id = cJSON_CreateObject();
    if (id == NULL) {
        free(b64);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(id, "key", b64);
    cJSON_AddStringToObject(id, "comment", comment);
    cJSON_AddItemToArray(arr, id);
    free(b64);
    return o;
}

/* The ssh signature algorithm for a key and the request flags, or NULL. */
static const char *sign_algo(enum oc_tpm_key_alg alg, uint32_t flags)
{
    if (alg == OC_TPM_KEY_ECC_P256) {
        return OC_SSH_ALG_P256; /* flags concern RSA keys only */
    }
    if (alg == OC_TPM_KEY_RSA2048 && (flags & OC_SSH_AGENT_RSA_SHA2_256) != 0) {
        return OC_SSH_ALG_RSA_SHA256; /* as OpenSSH's agent: 256 wins when both are set */
    }
    if (alg == OC_TPM_KEY_RSA2048 && (flags & OC_SSH_AGENT_RSA_SHA2_512) != 0) {
        return OC_SSH_ALG_RSA_SHA512;
    }
    return NULL; /* ssh-rsa (SHA-1) is never signed */
}

/* The signature itself: the digest of args->data signed with the TPM key
 * (algo decides SHA-256 or SHA-512), as an ssh signature blob, base64url.
 * 0 with *ret_b64, or -1 with *ret_err the answer (NULL: out of memory). */
static int make_signature(struct oc_fetch_ctx *fetch, struct oc_tpm_key *key,
                          const struct oc_agent *a, const char *algo,
                          const struct oc_ssh_args *args, uint32_t peer_uid, int32_t peer_pid,
                          oc_sshsign_log_fn log, char **ret_b64, cJSON **ret_err)
{
    uint8_t digest[SHA512_DIGEST_LENGTH], raw[OC_TPM_SIG_MAX], sig[OC_SSH_SIG_BLOB_MAX];
    size_t raw_len = 0, sig_len = 0;
    int r;

    if (strcmp(algo, OC_SSH_ALG_RSA_SHA512) == 0) {
        SHA512(args->data, args->data_len, digest);
        r = oc_tpm_key_sign_rsa_sha512(key, digest, raw, &raw_len);
    } else {
        SHA256(args->data, args->data_len, digest);
        r = oc_tpm_key_sign(key, oc_tpm_key_default_alg(key), digest, raw, &raw_len);
    }
    if (r == -EOPNOTSUPP) {
        log("agent %s: ssh signature for uid %u pid %d refused: this TPM does not sign with "
            "SHA-512; clients must use rsa-sha2-256 (ssh -o PubkeyAcceptedAlgorithms=rsa-sha2-256) "
            "or an ECC key",
            a->name, peer_uid, peer_pid);
        *ret_err =
                error_answer("unsupported", "this TPM cannot sign rsa-sha2-512; use rsa-sha2-256");
        return -1;
    }
    if (r < 0) {
        log("agent %s: the TPM could not make the ssh signature for uid %u pid %d: %s", a->name,
            peer_uid, peer_pid, oc_tpm_strerror(fetch->tpm));
        oc_fetch_tpm_failed(fetch, r);
        *ret_err = error_answer("unusable", "the TPM could not sign; see the openclawd log");
        return -1;
    }
    r = oc_ssh_sig_blob(algo, raw, raw_len, sig, sizeof(sig), &sig_len);
    oc_wipe(raw, sizeof(raw));
    if (r < 0) {
        *ret_err = error_answer("unusable", "cannot encode the ssh signature");
        return -1;
    }
    if (oc_b64url_encode(sig, sig_len, ret_b64) < 0) {
        *ret_err = NULL; /* out of memory */
        return -1;
    }
    return 0;
}

cJSON *oc_sshsign_sign(struct oc_fetch_ctx *fetch, struct oc_decide *decide, ssize_t agent,
                       uint32_t peer_uid, int32_t peer_pid, const struct oc_ssh_args *args,
                       oc_sshsign_log_fn log, bool *ret_close)
{
    const struct oc_agent *a;
    struct oc_fetch_error err;
    struct oc_tpm_key *key = NULL;
    uint8_t blob[OC_SSH_KEY_BLOB_MAX];
    size_t len = 0;
    char fp[OC_SSH_FP_SIZE], *b64 = NULL;
    const char *algo;
    cJSON *o = NULL;
    int r;

    struct oc_issue is = {.path = OC_ISSUE_SSH_SIGN, .uid = peer_uid, .pid = peer_pid};
    if (peer_uid == 0 || agent < 0) {
        log("denied: uid %u pid %d asked for an ssh signature (%s)", peer_uid, peer_pid,
            peer_uid == 0 ? "root has no agent ssh identity" : "no agent is mapped to this uid");
        oc_decide_refused(decide, &is, NULL, "denied",
                          peer_uid == 0 ? "root has no agent ssh identity"
                                        : "no agent is mapped to this uid");
        *ret_close = true;
        return error_answer("denied", "only the uid mapped to an agent may sign with its key");
    }
    a = &fetch->config->agents[agent];
    if (a->credential != OC_CRED_TPM_CERTIFICATE) {
        return error_answer("no-such-key", "this agent has no TPM key (credential is not "
                                           "tpm-certificate)");
    }
    r = agent_key(fetch, (size_t)agent, &key, blob, &len, &err);
    if (r < 0) {
        log("agent %s: ssh signature for uid %u pid %d impossible: %s", a->name, peer_uid, peer_pid,
            err.msg);
        return error_answer("unusable", err.msg);
    }
    if (args->key_len != len || memcmp(args->key, blob, len) != 0) {
        return error_answer("no-such-key", "this key is not the agent's TPM key");
    }
    (void)oc_ssh_fingerprint(blob, len, fp);
    algo = sign_algo(oc_tpm_key_alg(key), args->flags);
    if (algo == NULL) {
        log("agent %s: ssh signature for uid %u pid %d refused: the client asks for ssh-rsa "
            "(SHA-1), never signed; use an OpenSSH client that offers rsa-sha2-256/512",
            a->name, peer_uid, peer_pid);
        return error_answer("unsupported", "ssh-rsa (SHA-1) signatures are not made");
    }
    /* The key is also the agent's Entra credential: only SSH is signed. */
    const struct oc_strlist *ns = &fetch->config->global.ssh_namespaces;
    struct oc_ssh_signable what;
    const char *code = NULL, *why = NULL;
    char what_text[OC_SSH_USER_MAX + 64];
    if (oc_ssh_signable_check(args->data, args->data_len, blob, len, algo,
                              (const char *const *)ns->items, ns->n, &what, &why) < 0) {
        log("audit: ssh-sign: agent %s for uid %u pid %d: refused (not-ssh): %s; %zu bytes not "
            "signed",
            a->name, peer_uid, peer_pid, why, args->data_len);
        oc_decide_refused(decide, &is, a->name, "not-ssh", why);
        return error_answer("not-ssh", why);
    }
    if (what.sshsig) {
        (void)snprintf(what_text, sizeof(what_text), "SSHSIG namespace %s", what.ns);
    } else {
        (void)snprintf(what_text, sizeof(what_text), "userauth as %s%s", what.user,
                       what.hostbound ? " (host-bound)" : "");
    }
    is.agent = (size_t)agent;
    is.what = what_text;
    if (oc_decide(decide, &is, &code, &why) < 0) {
        return error_answer(code, why);
    }
    if (make_signature(fetch, key, a, algo, args, peer_uid, peer_pid, log, &b64, &o) < 0) {
        return o;
    }
    log("audit: ssh signature by agent %s for uid %u pid %d: key %s, %s, %zu bytes signed%s",
        a->name, peer_uid, peer_pid, fp, algo, args->data_len,
        oc_tpm_key_is_software(key) ? "" : " in the TPM");
    if (oc_tpm_key_is_software(key)) {
        log("warning: agent %s signed with a SOFTWARE key, not bound to a TPM "
            "(allow_software_keys = yes); replace it with a TPM key (openclawctl tpm keygen)",
            a->name);
    }
    o = cJSON_CreateObject();
    if (o == NULL) {
        free(b64);
        return NULL;
    }
    cJSON_AddBoolToObject(o, "ok", 1);
    cJSON_AddStringToObject(o, "algorithm", algo);
    cJSON_AddStringToObject(o, "signature", b64);
    free(b64);
    return o;
}
