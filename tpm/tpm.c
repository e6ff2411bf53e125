/* SPDX-License-Identifier: MIT */
/*
 * tpm.c: the TPM context (TCTI, storage primary, salted session), error
 * reporting, signing keys and PCR helpers. Sealing is in seal.c; the
 * certificate and the client assertion in cert.c and assertion.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>
#include <tss2/tss2_rc.h>

#include "tpm/tpm-internal.h"
#include "util.h"

/* ---- a TCTI that counts the commands passing through it ---- */

#define COUNT_TCTI_MAGIC 0x6f63636e74746369ULL /* "occnttci" */

static struct oc_tpm *tpm_of_tcti(TSS2_TCTI_CONTEXT *ctx)
{
    return (struct oc_tpm *)((char *)ctx - offsetof(struct oc_tpm, counter));
}

static TSS2_RC count_transmit(TSS2_TCTI_CONTEXT *ctx, size_t size, const uint8_t *command)
{
    struct oc_tpm *tpm = tpm_of_tcti(ctx);

    if (size >= 10) {
        uint32_t cc = (uint32_t)command[6] << 24 | (uint32_t)command[7] << 16 |
                      (uint32_t)command[8] << 8 | command[9];
        tpm->n_commands++;
        if (cc == TPM2_CC_Sign) {
            tpm->n_sign++;
        }
    }
    return Tss2_Tcti_Transmit(tpm->inner, size, command);
}

static TSS2_RC count_receive(TSS2_TCTI_CONTEXT *ctx, size_t *size, uint8_t *response,
                             int32_t timeout)
{
    return Tss2_Tcti_Receive(tpm_of_tcti(ctx)->inner, size, response, timeout);
}

static void count_finalize(TSS2_TCTI_CONTEXT *ctx)
{
    /* the inner TCTI is finalized by oc_tpm_close() */
}

static TSS2_RC count_cancel(TSS2_TCTI_CONTEXT *ctx)
{
    return Tss2_Tcti_Cancel(tpm_of_tcti(ctx)->inner);
}

static TSS2_RC count_get_poll_handles(TSS2_TCTI_CONTEXT *ctx, TSS2_TCTI_POLL_HANDLE *handles,
                                      size_t *num_handles)
{
    return Tss2_Tcti_GetPollHandles(tpm_of_tcti(ctx)->inner, handles, num_handles);
}

static TSS2_RC count_set_locality(TSS2_TCTI_CONTEXT *ctx, uint8_t locality)
{
    return Tss2_Tcti_SetLocality(tpm_of_tcti(ctx)->inner, locality);
}

static TSS2_RC count_make_sticky(TSS2_TCTI_CONTEXT *ctx, TPM2_HANDLE *handle, uint8_t sticky)
{
    return Tss2_Tcti_MakeSticky(tpm_of_tcti(ctx)->inner, handle, sticky);
}

static void count_tcti_init(TSS2_TCTI_CONTEXT_COMMON_V2 *c)
{
    memset(c, 0, sizeof(*c));
    c->v1.magic = COUNT_TCTI_MAGIC;
    c->v1.version = 2;
    c->v1.transmit = count_transmit;
    c->v1.receive = count_receive;
    c->v1.finalize = count_finalize;
    c->v1.cancel = count_cancel;
    c->v1.getPollHandles = count_get_poll_handles;
    c->v1.setLocality = count_set_locality;
    c->makeSticky = count_make_sticky;
}

uint64_t oc_tpm_commands(const struct oc_tpm *tpm)
{
    return tpm->n_commands;
}

uint64_t oc_tpm_sign_commands(const struct oc_tpm *tpm)
{
    return tpm->n_sign;
}

/* ---- errors ---- */

const char *oc_tpm_strerror(const struct oc_tpm *tpm)
{
    if (tpm == NULL || tpm->err[0] == '\0') {
        return "no error";
    }
    return tpm->err;
}

int oc_tpm_set_error(struct oc_tpm *tpm, int r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tpm->err, sizeof(tpm->err), fmt, ap);
    va_end(ap);
    return r;
}

TSS2_RC oc_tpm_rc_base(TSS2_RC rc)
{
    TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;

    if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER) {
        return rc;
    }
    rc &= ~TSS2_RC_LAYER_MASK;
    if ((rc & TPM2_RC_FMT1) != 0) {
        return rc & (TPM2_RC_FMT1 | 0x3f);
    }
    return rc & 0xfff;
}

static const char *advice(TSS2_RC rc)
{
    TSS2_RC base = oc_tpm_rc_base(rc);

    if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER) {
        return "the TPM is unreachable: check the tcti setting, that the device exists and "
               "that this user may open it (group tss)";
    }
    switch (base) {
    case TPM2_RC_LOCKOUT:
        return "the TPM is in dictionary-attack lockout after repeated wrong auth values: "
               "wait for the lockout interval to pass, or have the TPM owner reset the "
               "lockout with the lockout authorization (tpm2_dictionarylockout --clear-lockout)";
    case TPM2_RC_POLICY_FAIL:
    case TPM2_RC_PCR:
        return "the PCR policy is not satisfied: the measured boot state differs from the one "
               "at sealing time (firmware, boot loader or kernel update, or a PCR extended "
               "since boot). If the change is expected, re-seal the secret on this host "
               "(openclawctl tpm seal); see docs/tpm.md, recovery";
    case TPM2_RC_PCR_CHANGED:
        return "the PCR values kept changing while unsealing: retry when the system is idle";
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH:
        return "wrong auth value for this object; repeated failures lock the TPM out";
    case TPM2_RC_INTEGRITY:
    case TPM2_RC_BINDING:
        return "the TPM refuses this blob: it was made on another TPM, or this TPM was "
               "cleared since (new storage key). Create a new key (openclawctl tpm keygen, "
               "then register the new certificate) or re-seal the secret on this host";
    case TPM2_RC_OBJECT_MEMORY:
    case TPM2_RC_SESSION_MEMORY:
        return "the TPM's object or session memory is full: another program left objects "
               "loaded; use the kernel resource manager (tcti = device:/dev/tpmrm0)";
    case TPM2_RC_RETRY:
    case TPM2_RC_TESTING:
    case TPM2_RC_YIELDED:
        return "the TPM is busy: retry";
    default:
        return "see docs/tpm.md";
    }
}

int oc_tpm_errno(TSS2_RC rc)
{
    TSS2_RC base = oc_tpm_rc_base(rc);

    if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER) {
        return -ENODEV;
    }
    switch (base) {
    case TPM2_RC_LOCKOUT:
        return -EBUSY;
    case TPM2_RC_POLICY_FAIL:
    case TPM2_RC_PCR:
    case TPM2_RC_PCR_CHANGED:
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH:
        return -EACCES;
    case TPM2_RC_INTEGRITY:
    case TPM2_RC_BINDING:
        return -EKEYREJECTED;
    case TPM2_RC_OBJECT_MEMORY:
    case TPM2_RC_SESSION_MEMORY:
        return -ENOSPC;
    default:
        return -EPROTO;
    }
}

int oc_tpm_fail(struct oc_tpm *tpm, const char *what, TSS2_RC rc)
{
    return oc_tpm_set_error(tpm, oc_tpm_errno(rc), "%s failed: %s (0x%x): %s", what,
                            Tss2_RC_Decode(rc), (unsigned)rc, advice(rc));
}

/* ---- the context ---- */

static const TPMT_SYM_DEF session_symmetric = {
        .algorithm = TPM2_ALG_AES,
        .keyBits = {.aes = 128},
        .mode = {.aes = TPM2_ALG_CFB},
};

const TPMT_SYM_DEF *oc_tpm_session_symmetric(void)
{
    return &session_symmetric;
}

/* The storage primary template of the TCG provisioning guidance. */
static void srk_template(uint16_t parent, TPM2B_PUBLIC *t)
{
    memset(t, 0, sizeof(*t));
    t->publicArea.nameAlg = TPM2_ALG_SHA256;
    t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                     TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                     TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |
                                     TPMA_OBJECT_DECRYPT;
    if (parent == OC_TPM_PARENT_RSA_SRK) {
        t->publicArea.type = TPM2_ALG_RSA;
        t->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
        t->publicArea.parameters.rsaDetail.symmetric.keyBits.aes = 128;
        t->publicArea.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        t->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        t->publicArea.parameters.rsaDetail.keyBits = 2048;
        t->publicArea.parameters.rsaDetail.exponent = 0;
        t->publicArea.unique.rsa.size = 256;
    } else {
        t->publicArea.type = TPM2_ALG_ECC;
        t->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
        t->publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
        t->publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
        t->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        t->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        t->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
        t->publicArea.unique.ecc.x.size = 32;
        t->publicArea.unique.ecc.y.size = 32;
    }
}

static int open_primary(struct oc_tpm *tpm)
{
    TSS2_RC rc;

    if (tpm->parent == OC_TPM_PARENT_PERSISTENT) {
        rc = Esys_TR_FromTPMPublic(tpm->esys, tpm->persistent, ESYS_TR_NONE, ESYS_TR_NONE,
                                   ESYS_TR_NONE, &tpm->primary);
        if (rc != TSS2_RC_SUCCESS) {
            return oc_tpm_set_error(
                    tpm, oc_tpm_errno(rc) == -EPROTO ? -ENOENT : oc_tpm_errno(rc),
                    "reading the persistent storage key 0x%08x failed: %s (0x%x): check the "
                    "configured handle (tpm2_getcap handles-persistent)",
                    (unsigned)tpm->persistent, Tss2_RC_Decode(rc), (unsigned)rc);
        }
        tpm->primary_transient = false;
        return 0;
    }

    TPM2B_SENSITIVE_CREATE sens;
    TPM2B_PUBLIC tmpl;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION creation_pcr;

    memset(&sens, 0, sizeof(sens));
    memset(&outside, 0, sizeof(outside));
    memset(&creation_pcr, 0, sizeof(creation_pcr));
    srk_template(tpm->parent, &tmpl);
    rc = Esys_CreatePrimary(tpm->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                            ESYS_TR_NONE, &sens, &tmpl, &outside, &creation_pcr, &tpm->primary,
                            NULL, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        return oc_tpm_fail(tpm, "creating the storage primary key (owner hierarchy)", rc);
    }
    tpm->primary_transient = true;
    return 0;
}

int oc_tpm_session_attrs(struct oc_tpm *tpm, TPMA_SESSION flags)
{
    TSS2_RC rc = Esys_TRSess_SetAttributes(
            tpm->esys, tpm->session, (TPMA_SESSION)(flags | TPMA_SESSION_CONTINUESESSION), 0xff);

    return rc == TSS2_RC_SUCCESS ? 0 : oc_tpm_fail(tpm, "setting session attributes", rc);
}

int oc_tpm_open(const struct oc_tpm_options *opt, struct oc_tpm **ret_tpm, char *err, size_t errlen)
{
    struct oc_tpm *tpm;
    const char *tcti = opt != NULL && opt->tcti != NULL ? opt->tcti : OC_TPM_DEFAULT_TCTI;
    TSS2_RC rc;
    int r;

    const char *keys_dir =
            opt != NULL && opt->keys_dir != NULL ? opt->keys_dir : OC_TPM_DEFAULT_KEYS_DIR;

    if (strlen(tcti) >= OC_TPM_TCTI_MAX || strlen(keys_dir) >= OC_TPM_KEYS_DIR_MAX) {
        if (err != NULL && errlen > 0) {
            snprintf(err, errlen, "the tcti or keys_dir setting is longer than %d bytes",
                     OC_TPM_TCTI_MAX - 1);
        }
        return -EINVAL;
    }
    tpm = calloc(1, sizeof(*tpm));
    if (tpm == NULL) {
        return -ENOMEM;
    }
    snprintf(tpm->tcti, sizeof(tpm->tcti), "%s", tcti);
    tpm->parent = opt != NULL && opt->parent != 0 ? opt->parent : OC_TPM_PARENT_ECC_SRK;
    tpm->persistent = opt != NULL ? opt->persistent_srk : 0;
    tpm->primary = ESYS_TR_NONE;
    tpm->session = ESYS_TR_NONE;
    tpm->allow_software_keys = opt != NULL && opt->allow_software_keys;
    snprintf(tpm->keys_dir, sizeof(tpm->keys_dir), "%s", keys_dir);
    if (tpm->parent == OC_TPM_PARENT_SOFTWARE) {
        /* software keys only: no TPM is contacted, and only on the admin's word */
        if (!tpm->allow_software_keys) {
            r = oc_tpm_set_error(tpm, -EPERM,
                                 "software keys (not bound to a TPM) are refused: the "
                                 "configuration does not set allow_software_keys = yes");
            goto fail;
        }
        *ret_tpm = tpm;
        return 0;
    }
    if (tpm->parent != OC_TPM_PARENT_ECC_SRK && tpm->parent != OC_TPM_PARENT_RSA_SRK &&
        tpm->parent != OC_TPM_PARENT_PERSISTENT) {
        r = oc_tpm_set_error(tpm, -EINVAL, "unknown storage parent type");
        goto fail;
    }
    if (tpm->parent == OC_TPM_PARENT_PERSISTENT &&
        (tpm->persistent < OC_TPM_PERSISTENT_FIRST || tpm->persistent > OC_TPM_PERSISTENT_LAST)) {
        r = oc_tpm_set_error(tpm, -EINVAL,
                             "the persistent storage key handle must be in 0x81000000-0x81ffffff");
        goto fail;
    }

    rc = Tss2_TctiLdr_Initialize(tpm->tcti, &tpm->inner);
    if (rc != TSS2_RC_SUCCESS) {
        r = oc_tpm_set_error(
                tpm, -ENODEV,
                "cannot open the TPM through TCTI '%s': %s (0x%x): check the tcti setting, "
                "that the device exists and that this user may open it (group tss). %s",
                tpm->tcti, Tss2_RC_Decode(rc), (unsigned)rc,
                tpm->allow_software_keys
                        ? "There is no silent fallback: allow_software_keys = yes is set, so a "
                          "software key (not bound to a TPM) can be made explicitly with "
                          "openclawctl tpm keygen --software"
                        : "Software keys are refused: they need allow_software_keys = yes in "
                          "the configuration and an explicit openclawctl tpm keygen --software");
        goto fail;
    }
    count_tcti_init(&tpm->counter);
    rc = Esys_Initialize(&tpm->esys, (TSS2_TCTI_CONTEXT *)&tpm->counter, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        r = oc_tpm_fail(tpm, "initializing ESAPI", rc);
        goto fail;
    }
    r = open_primary(tpm);
    if (r < 0) {
        goto fail;
    }
    /* salted with the storage key: session key unknown to anyone on the bus */
    rc = Esys_StartAuthSession(tpm->esys, tpm->primary, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &session_symmetric,
                               TPM2_ALG_SHA256, &tpm->session);
    if (rc != TSS2_RC_SUCCESS) {
        r = oc_tpm_fail(tpm, "starting the salted session", rc);
        goto fail;
    }
    r = oc_tpm_session_attrs(tpm, 0);
    if (r < 0) {
        goto fail;
    }
    *ret_tpm = tpm;
    return 0;
fail:
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen, "%s", tpm->err);
    }
    oc_tpm_close(tpm);
    return r;
}

void oc_tpm_close(struct oc_tpm *tpm)
{
    if (tpm == NULL) {
        return;
    }
    while (tpm->keys != NULL) {
        struct oc_tpm_key *k = tpm->keys;
        oc_tpm_key_free(k);
    }
    if (tpm->esys != NULL) {
        if (tpm->session != ESYS_TR_NONE) {
            Esys_FlushContext(tpm->esys, tpm->session);
        }
        if (tpm->primary != ESYS_TR_NONE && tpm->primary_transient) {
            Esys_FlushContext(tpm->esys, tpm->primary);
        }
        Esys_Finalize(&tpm->esys);
    }
    if (tpm->inner != NULL) {
        Tss2_TctiLdr_Finalize(&tpm->inner);
    }
    free(tpm);
}

int oc_tpm_require_device(struct oc_tpm *tpm)
{
    if (tpm->esys != NULL) {
        return 0;
    }
    return oc_tpm_set_error(tpm, -ENODEV,
                            "this context was opened for software keys only and reaches no "
                            "TPM: open the TPM for TPM keys and sealed secrets");
}

int oc_tpm_check_parent(struct oc_tpm *tpm, const struct oc_tpmblob *b)
{
    static const char *const names[] = {"?", "the ECC P-256 storage key",
                                        "the RSA-2048 storage key", "a persistent storage key",
                                        "no TPM (software)"};

    if (oc_tpm_require_device(tpm) < 0) {
        return -ENODEV;
    }
    if (b->parent != tpm->parent ||
        (b->parent == OC_TPM_PARENT_PERSISTENT && b->parent_handle != tpm->persistent)) {
        return oc_tpm_set_error(
                tpm, -EINVAL,
                "the blob was made under %s, but this context uses %s: open the TPM with the "
                "blob's parent",
                names[b->parent <= 4 ? b->parent : 0], names[tpm->parent <= 4 ? tpm->parent : 0]);
    }
    return 0;
}

/* ---- capabilities ---- */

static int count_handles(struct oc_tpm *tpm, TPM2_HANDLE first, uint32_t *ret)
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = TPM2_NO;
    uint32_t n = 0;
    TSS2_RC rc;

    do {
        rc = Esys_GetCapability(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                TPM2_CAP_HANDLES, first, TPM2_MAX_CAP_HANDLES, &more, &cap);
        if (rc != TSS2_RC_SUCCESS) {
            return oc_tpm_fail(tpm, "reading the TPM's handles", rc);
        }
        uint32_t count = cap->data.handles.count;
        n += count;
        if (count == 0) {
            more = TPM2_NO;
        } else {
            first = cap->data.handles.handle[count - 1] + 1;
        }
        Esys_Free(cap);
        cap = NULL;
    } while (more == TPM2_YES);
    *ret = n;
    return 0;
}

int oc_tpm_handle_counts(struct oc_tpm *tpm, uint32_t *ret_transient, uint32_t *ret_sessions)
{
    uint32_t t, loaded, saved;
    int r;

    r = oc_tpm_require_device(tpm);
    if (r < 0) {
        return r;
    }
    r = count_handles(tpm, OC_TPM_TRANSIENT_FIRST, &t);
    if (r < 0) {
        return r;
    }
    r = count_handles(tpm, OC_TPM_LOADED_SESSION_FIRST, &loaded);
    if (r < 0) {
        return r;
    }
    r = count_handles(tpm, OC_TPM_SAVED_SESSION_FIRST, &saved);
    if (r < 0) {
        return r;
    }
    /* loaded sessions, and sessions context-saved out of the TPM (still active) */
    *ret_transient = t;
    *ret_sessions = loaded + saved;
    return 0;
}

static int get_props(struct oc_tpm *tpm, TPM2_PT first, uint32_t count, TPMS_CAPABILITY_DATA **cap)
{
    TPMI_YES_NO more;
    TSS2_RC rc = Esys_GetCapability(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    TPM2_CAP_TPM_PROPERTIES, first, count, &more, cap);

    return rc == TSS2_RC_SUCCESS ? 0 : oc_tpm_fail(tpm, "reading TPM properties", rc);
}

static bool prop(const TPMS_CAPABILITY_DATA *cap, TPM2_PT pt, uint32_t *v)
{
    for (uint32_t i = 0; i < cap->data.tpmProperties.count; i++) {
        if (cap->data.tpmProperties.tpmProperty[i].property == pt) {
            *v = cap->data.tpmProperties.tpmProperty[i].value;
            return true;
        }
    }
    return false;
}

static void fourcc(uint32_t v, char out[5])
{
    for (int i = 0; i < 4; i++) {
        char c = (char)(v >> (24 - 8 * i));
        out[i] = c >= 0x20 && c < 0x7f ? c : ' ';
    }
    out[4] = '\0';
}

int oc_tpm_describe(struct oc_tpm *tpm, char *buf, size_t len)
{
    static const char *const parents[] = {"?", "ecc-p256 (TCG template, transient)",
                                          "rsa2048 (TCG template, transient)", "persistent"};
    TPMS_CAPABILITY_DATA *fixed = NULL, *var = NULL;
    uint32_t v = 0, fw1 = 0, fw2 = 0, permanent = 0, lockcount = 0, maxfail = 0;
    uint32_t transient = 0, sessions = 0;
    char manu[5] = "?", vendor[17] = "";
    int r;

    r = oc_tpm_require_device(tpm);
    if (r < 0) {
        return r;
    }
    r = get_props(tpm, TPM2_PT_FIXED, TPM2_MAX_TPM_PROPERTIES, &fixed);
    if (r < 0) {
        return r;
    }
    r = get_props(tpm, TPM2_PT_VAR, TPM2_MAX_TPM_PROPERTIES, &var);
    if (r < 0) {
        Esys_Free(fixed);
        return r;
    }
    if (prop(fixed, TPM2_PT_MANUFACTURER, &v)) {
        fourcc(v, manu);
    }
    for (int i = 0; i < 4; i++) {
        if (prop(fixed, TPM2_PT_VENDOR_STRING_1 + (TPM2_PT)i, &v)) {
            fourcc(v, vendor + 4 * i);
        }
    }
    prop(fixed, TPM2_PT_FIRMWARE_VERSION_1, &fw1);
    prop(fixed, TPM2_PT_FIRMWARE_VERSION_2, &fw2);
    prop(var, TPM2_PT_PERMANENT, &permanent);
    prop(var, TPM2_PT_LOCKOUT_COUNTER, &lockcount);
    prop(var, TPM2_PT_MAX_AUTH_FAIL, &maxfail);
    Esys_Free(fixed);
    Esys_Free(var);
    r = oc_tpm_handle_counts(tpm, &transient, &sessions);
    if (r < 0) {
        return r;
    }
    snprintf(buf, len,
             "tcti: %s\nmanufacturer: %s\nvendor: %s\nfirmware: %08x.%08x\n"
             "storage parent: %s",
             tpm->tcti, oc_strstrip_spaces(manu), oc_strstrip_spaces(vendor), (unsigned)fw1,
             (unsigned)fw2, parents[tpm->parent <= 3 ? tpm->parent : 0]);
    if (tpm->parent == OC_TPM_PARENT_PERSISTENT) {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, " 0x%08x", (unsigned)tpm->persistent);
    }
    size_t n = strlen(buf);
    snprintf(buf + n, len - n,
             "\nlockout: %s (%u of %u failed authorizations)\n"
             "transient objects: %u (this process holds %u)\nsessions: %u (this process holds 1)\n",
             (permanent & TPMA_PERMANENT_INLOCKOUT) != 0 ? "IN LOCKOUT" : "no", lockcount, maxfail,
             transient, tpm->primary_transient ? 1 + tpm->n_keys : tpm->n_keys, sessions);
    return 0;
}

const char *oc_strstrip_spaces(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && s[n - 1] == ' ') {
        s[--n] = '\0';
    }
    while (*s == ' ') {
        s++;
    }
    return s;
}

int oc_tpm_pcr_extend(struct oc_tpm *tpm, unsigned pcr, const void *data, size_t len)
{
    TPML_DIGEST_VALUES d;
    unsigned int n = 0;
    TSS2_RC rc;

    if (pcr > 23) {
        return -EINVAL;
    }
    if (oc_tpm_require_device(tpm) < 0) {
        return -ENODEV;
    }
    memset(&d, 0, sizeof(d));
    d.count = 1;
    d.digests[0].hashAlg = TPM2_ALG_SHA256;
    if (EVP_Digest(data, len, (unsigned char *)&d.digests[0].digest.sha256, &n, EVP_sha256(),
                   NULL) != 1) {
        return -EIO;
    }
    rc = Esys_PCR_Extend(tpm->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                         ESYS_TR_NONE, &d);
    return rc == TSS2_RC_SUCCESS ? 0 : oc_tpm_fail(tpm, "extending the PCR", rc);
}

int oc_tpm_parse_pcrs(const char *s, uint16_t *ret_bank, uint32_t *ret_mask)
{
    uint16_t bank = TPM2_ALG_SHA256;
    uint32_t mask = 0;
    const char *p = s, *colon = strchr(s, ':');

    if (colon != NULL) {
        size_t n = (size_t)(colon - s);
        if (n == 4 && strncmp(s, "sha1", 4) == 0) {
            bank = TPM2_ALG_SHA1;
        } else if (n == 6 && strncmp(s, "sha256", 6) == 0) {
            bank = TPM2_ALG_SHA256;
        } else if (n == 6 && strncmp(s, "sha384", 6) == 0) {
            bank = TPM2_ALG_SHA384;
        } else {
            return -EINVAL;
        }
        p = colon + 1;
    }
    for (;;) {
        unsigned v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            v = v * 10 + (unsigned)(*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || v > 23) {
            return -EINVAL;
        }
        mask |= 1u << v;
        if (*p == '\0') {
            break;
        }
        if (*p != ',' && *p != '+') {
            return -EINVAL;
        }
        p++;
    }
    *ret_bank = bank;
    *ret_mask = mask;
    return 0;
}

void oc_tpm_pcr_selection(uint16_t bank, uint32_t mask, TPML_PCR_SELECTION *sel)
{
    memset(sel, 0, sizeof(*sel));
    sel->count = 1;
    sel->pcrSelections[0].hash = bank;
    sel->pcrSelections[0].sizeofSelect = 3;
    sel->pcrSelections[0].pcrSelect[0] = (uint8_t)mask;
    sel->pcrSelections[0].pcrSelect[1] = (uint8_t)(mask >> 8);
    sel->pcrSelections[0].pcrSelect[2] = (uint8_t)(mask >> 16);
}

/* ---- signing keys ---- */

static void key_template(enum oc_tpm_key_alg alg, TPM2B_PUBLIC *t)
{
    memset(t, 0, sizeof(*t));
    t->publicArea.nameAlg = TPM2_ALG_SHA256;
    /* no auth value: NODA, the key is useless off this TPM anyway */
    t->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                     TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                     TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_NODA;
    if (alg == OC_TPM_KEY_RSA2048) {
        t->publicArea.type = TPM2_ALG_RSA;
        t->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
        t->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
        t->publicArea.parameters.rsaDetail.keyBits = 2048;
        t->publicArea.parameters.rsaDetail.exponent = 0;
    } else {
        t->publicArea.type = TPM2_ALG_ECC;
        t->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
        t->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
        t->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
        t->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    }
}

int oc_tpm_keygen(struct oc_tpm *tpm, enum oc_tpm_key_alg alg, uint64_t now, uint8_t **ret_blob,
                  size_t *ret_len)
{
    TPM2B_SENSITIVE_CREATE sens;
    TPM2B_PUBLIC tmpl;
    TPM2B_DATA outside;
    TPML_PCR_SELECTION creation_pcr;
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    struct oc_tpmblob b;
    TSS2_RC rc;
    int r;

    if (alg != OC_TPM_KEY_RSA2048 && alg != OC_TPM_KEY_ECC_P256) {
        return -EINVAL;
    }
    r = oc_tpm_require_device(tpm);
    if (r < 0) {
        return r;
    }
    memset(&sens, 0, sizeof(sens));
    memset(&outside, 0, sizeof(outside));
    memset(&creation_pcr, 0, sizeof(creation_pcr));
    key_template(alg, &tmpl);
    r = oc_tpm_session_attrs(tpm, TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT);
    if (r < 0) {
        return r;
    }
    rc = Esys_Create(tpm->esys, tpm->primary, tpm->session, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                     &tmpl, &outside, &creation_pcr, &priv, &pub, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        return oc_tpm_fail(tpm, "creating the signing key", rc);
    }
    memset(&b, 0, sizeof(b));
    b.type = OC_TPMBLOB_SIGNING_KEY;
    b.key_alg = (uint16_t)alg;
    b.parent = tpm->parent;
    b.parent_handle = tpm->parent == OC_TPM_PARENT_PERSISTENT ? tpm->persistent : 0;
    b.created = now;
    b.pub = *pub;
    b.priv = *priv;
    r = oc_tpmblob_write(&b, ret_blob, ret_len);
    OPENSSL_cleanse(&b.priv, sizeof(b.priv));
    Esys_Free(priv);
    Esys_Free(pub);
    return r;
}

int oc_tpm_key_load(struct oc_tpm *tpm, const uint8_t *blob, size_t len,
                    struct oc_tpm_key **ret_key)
{
    struct oc_tpmblob b;
    struct oc_tpm_key *key;
    const char *why = NULL;
    TSS2_RC rc;
    int r;

    r = oc_tpmblob_parse(blob, len, &b, &why);
    if (r < 0) {
        return oc_tpm_set_error(tpm, r, "the key file is not usable: %s", why);
    }
    if (b.type == OC_TPMBLOB_SOFTWARE_KEY) {
        key = calloc(1, sizeof(*key));
        if (key == NULL) {
            return -ENOMEM;
        }
        r = oc_soft_key_load(tpm, &b, key);
        if (r < 0) {
            free(key);
            return r;
        }
        key->handle = ESYS_TR_NONE;
        goto link;
    }
    if (b.type != OC_TPMBLOB_SIGNING_KEY) {
        return oc_tpm_set_error(tpm, -EINVAL, "the file holds a sealed secret, not a key");
    }
    r = oc_tpm_check_parent(tpm, &b);
    if (r < 0) {
        return r;
    }
    key = calloc(1, sizeof(*key));
    if (key == NULL) {
        return -ENOMEM;
    }
    r = oc_tpm_session_attrs(tpm, TPMA_SESSION_DECRYPT);
    if (r < 0) {
        free(key);
        return r;
    }
    rc = Esys_Load(tpm->esys, tpm->primary, tpm->session, ESYS_TR_NONE, ESYS_TR_NONE, &b.priv,
                   &b.pub, &key->handle);
    OPENSSL_cleanse(&b.priv, sizeof(b.priv));
    if (rc != TSS2_RC_SUCCESS) {
        free(key);
        return oc_tpm_fail(tpm, "loading the key", rc);
    }
link:
    key->tpm = tpm;
    key->pub = b.pub;
    key->alg = (enum oc_tpm_key_alg)b.key_alg;
    key->next = tpm->keys;
    if (tpm->keys != NULL) {
        tpm->keys->prev = key;
    }
    tpm->keys = key;
    tpm->n_keys++;
    *ret_key = key;
    return key->soft != NULL ? OC_TPM_SOFTWARE_KEY : 0;
}

bool oc_tpm_key_is_software(const struct oc_tpm_key *key)
{
    return key != NULL && key->soft != NULL;
}

void oc_tpm_key_free(struct oc_tpm_key *key)
{
    struct oc_tpm *tpm;

    if (key == NULL) {
        return;
    }
    tpm = key->tpm;
    if (key->prev != NULL) {
        key->prev->next = key->next;
    } else {
        tpm->keys = key->next;
    }
    if (key->next != NULL) {
        key->next->prev = key->prev;
    }
    tpm->n_keys--;
    if (key->soft != NULL) {
        EVP_PKEY_free(key->soft);
    } else {
        Esys_FlushContext(tpm->esys, key->handle);
    }
    free(key);
}

enum oc_tpm_key_alg oc_tpm_key_alg(const struct oc_tpm_key *key)
{
    return key->alg;
}

enum oc_jws_alg oc_tpm_key_default_alg(const struct oc_tpm_key *key)
{
    return key->alg == OC_TPM_KEY_RSA2048 ? OC_JWS_RS256 : OC_JWS_ES256;
}

const char *oc_jws_alg_name(enum oc_jws_alg alg)
{
    switch (alg) {
    case OC_JWS_RS256:
        return "RS256";
    case OC_JWS_PS256:
        return "PS256";
    case OC_JWS_ES256:
        return "ES256";
    default:
        return NULL;
    }
}

int oc_tpm_key_public(const struct oc_tpm_key *key, EVP_PKEY **ret_pkey)
{
    const TPMT_PUBLIC *p = &key->pub.publicArea;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = NULL, *e = NULL;
    uint8_t point[65];
    int r = -EIO;

    if (bld == NULL) {
        return -ENOMEM;
    }
    if (key->alg == OC_TPM_KEY_RSA2048) {
        uint32_t exp =
                p->parameters.rsaDetail.exponent != 0 ? p->parameters.rsaDetail.exponent : 65537;
        n = BN_bin2bn(p->unique.rsa.buffer, p->unique.rsa.size, NULL);
        e = BN_new();
        if (n == NULL || e == NULL || BN_set_word(e, exp) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1) {
            goto out;
        }
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    } else {
        const TPM2B_ECC_PARAMETER *x = &p->unique.ecc.x, *y = &p->unique.ecc.y;
        if (x->size > 32 || y->size > 32) {
            r = -EBADMSG;
            goto out;
        }
        memset(point, 0, sizeof(point));
        point[0] = 0x04;
        memcpy(point + 1 + 32 - x->size, x->buffer, x->size);
        memcpy(point + 33 + 32 - y->size, y->buffer, y->size);
        if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
                    1 ||
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) !=
                    1) {
            goto out;
        }
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    if (ctx == NULL || params == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        goto out;
    }
    *ret_pkey = pkey;
    r = 0;
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    return r;
}

/* Copy a big-endian integer into a fixed-size field, left-padded. */
static int put_fixed(const uint8_t *in, size_t n, uint8_t *out, size_t size)
{
    while (n > size && *in == 0) {
        in++;
        n--;
    }
    if (n > size) {
        return -EBADMSG;
    }
    memset(out, 0, size - n);
    memcpy(out + size - n, in, n);
    return 0;
}

/* TPM2_Sign of an outside digest with KEY under SCHEME/HASH (no hash
 * ticket: the TPM did not compute the digest). 0 and *ret (Esys_Free it),
 * or a negative errno with the error recorded as "WHAT: ..."; the TPM's own
 * code, when it answered, in *ret_rc for callers that tell codes apart. */
int oc_tpm_esys_sign(struct oc_tpm_key *key, TPMI_ALG_SIG_SCHEME scheme_alg, TPMI_ALG_HASH hash,
                     const uint8_t *digest, size_t len, const char *what, TPMT_SIGNATURE **ret,
                     TSS2_RC *ret_rc)
{
    struct oc_tpm *tpm = key->tpm;
    TPM2B_DIGEST d;
    TPMT_SIG_SCHEME scheme;
    TPMT_TK_HASHCHECK validation;
    TSS2_RC rc;
    int r;

    *ret_rc = TSS2_RC_SUCCESS;
    if (len > sizeof(d.buffer)) {
        return oc_tpm_set_error(tpm, -EINVAL, "%s: a digest of %zu bytes is too long", what, len);
    }
    memset(&scheme, 0, sizeof(scheme));
    scheme.scheme = scheme_alg;
    scheme.details.any.hashAlg = hash;
    memset(&d, 0, sizeof(d));
    d.size = (UINT16)len;
    memcpy(d.buffer, digest, len);
    memset(&validation, 0, sizeof(validation));
    validation.tag = TPM2_ST_HASHCHECK;
    validation.hierarchy = TPM2_RH_NULL;
    /* the response's first parameter is not a TPM2B: decrypt only */
    r = oc_tpm_session_attrs(tpm, TPMA_SESSION_DECRYPT);
    if (r < 0) {
        return r;
    }
    rc = Esys_Sign(tpm->esys, key->handle, tpm->session, ESYS_TR_NONE, ESYS_TR_NONE, &d, &scheme,
                   &validation, ret);
    if (rc != TSS2_RC_SUCCESS) {
        *ret_rc = rc;
        return oc_tpm_fail(tpm, what, rc);
    }
    return 0;
}

int oc_tpm_key_sign(struct oc_tpm_key *key, enum oc_jws_alg alg, const uint8_t digest[32],
                    uint8_t sig[OC_TPM_SIG_MAX], size_t *ret_len)
{
    struct oc_tpm *tpm = key->tpm;
    TPMI_ALG_SIG_SCHEME scheme;
    TPMT_SIGNATURE *s = NULL;
    TSS2_RC rc;
    int r;

    if (key->soft != NULL) {
        return oc_soft_key_sign(key, alg, digest, sig, ret_len);
    }
    if (key->alg == OC_TPM_KEY_RSA2048 && alg == OC_JWS_RS256) {
        scheme = TPM2_ALG_RSASSA;
    } else if (key->alg == OC_TPM_KEY_RSA2048 && alg == OC_JWS_PS256) {
        scheme = TPM2_ALG_RSAPSS;
    } else if (key->alg == OC_TPM_KEY_ECC_P256 && alg == OC_JWS_ES256) {
        scheme = TPM2_ALG_ECDSA;
    } else {
        return oc_tpm_set_error(tpm, -EINVAL, "algorithm %s does not fit a %s key",
                                oc_jws_alg_name(alg) != NULL ? oc_jws_alg_name(alg) : "?",
                                oc_tpm_key_alg_name(key->alg));
    }
    r = oc_tpm_esys_sign(key, scheme, TPM2_ALG_SHA256, digest, 32, "signing in the TPM", &s, &rc);
    if (r < 0) {
        return r;
    }
    if (scheme == TPM2_ALG_ECDSA) {
        if (s->sigAlg != TPM2_ALG_ECDSA ||
            put_fixed(s->signature.ecdsa.signatureR.buffer, s->signature.ecdsa.signatureR.size, sig,
                      32) < 0 ||
            put_fixed(s->signature.ecdsa.signatureS.buffer, s->signature.ecdsa.signatureS.size,
                      sig + 32, 32) < 0) {
            r = oc_tpm_set_error(tpm, -EPROTO, "the TPM returned a malformed ECDSA signature");
        } else {
            *ret_len = 64;
        }
    } else {
        const TPM2B_PUBLIC_KEY_RSA *rs = &s->signature.rsassa.sig;
        if (s->sigAlg != scheme || rs->size != 256) {
            r = oc_tpm_set_error(tpm, -EPROTO, "the TPM returned a malformed RSA signature");
        } else {
            memcpy(sig, rs->buffer, rs->size);
            *ret_len = rs->size;
        }
    }
    Esys_Free(s);
    return r;
}

/* ---- blob files ---- */

int oc_tpm_blob_read_file(const char *path, uint8_t **ret_buf, size_t *ret_len)
{
    struct stat st;
    uint8_t *buf;
    size_t n;
    int fd, r;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    if (st.st_size > (off_t)OC_TPMBLOB_FILE_MAX) {
        close(fd);
        return -EFBIG;
    }
    /* one byte more than the cap, to notice a file that grew meanwhile */
    buf = malloc(OC_TPMBLOB_FILE_MAX + 1);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    r = oc_read_full(fd, buf, OC_TPMBLOB_FILE_MAX + 1, &n);
    close(fd);
    if (r == 0 && n > OC_TPMBLOB_FILE_MAX) {
        r = -EFBIG;
    }
    if (r < 0) {
        free(buf);
        return r;
    }
    *ret_buf = buf;
    *ret_len = n;
    return 0;
}

int oc_tpm_blob_write_file(const char *path, const uint8_t *buf, size_t len)
{
    return oc_tpm_blob_write_file_owned(path, buf, len, (uid_t)-1, (gid_t)-1);
}

int oc_tpm_blob_write_file_owned(const char *path, const uint8_t *buf, size_t len, uid_t uid,
                                 gid_t gid)
{
    /* PATH.tmpXXXXXX, 0600, the owner set before the name appears */
    return oc_replace_file(path, ".tmp", buf, len, 0600, uid, gid);
}
