/* SPDX-License-Identifier: MIT */
/* oc_store.c: tokens at rest under a TPM-sealed data key (see oc_store.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "clock.h"
#include "helper/daemon/oc_store.h"
#include "helper/lib/oc_privfile.h"
#include "helper/daemon/oc_tokenstore.h"
#include "tpm/tpm.h"
#include "util.h"

#define FRESH "tokens will be acquired fresh"

struct oc_store {
    const struct oc_config *config;
    char dir[OC_CONFIG_PATH_MAX + 1];
    char key_path[OC_CONFIG_PATH_MAX + 32];
    char db_path[OC_CONFIG_PATH_MAX + 32];
    uint8_t key[OC_TOKENSTORE_KEY_SIZE];
    bool write_failing; /* the last write failed: log only the change */
};

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logmsg(const char *fmt, ...)
{
    char line[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "openclawd: %s\n", line);
}

/* Make a new data key, seal it to this TPM, write tokens.key; drop tokens.db. */
static int new_key(struct oc_store *s, struct oc_tpm *tpm)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    int r;

    if (RAND_priv_bytes(s->key, sizeof(s->key)) != 1) {
        logmsg("token store: no randomness for a data key: tokens are not persisted");
        return -EIO;
    }
    r = oc_tpm_seal(tpm, s->key, sizeof(s->key), NULL, (uint64_t)oc_now(), &blob, &len);
    if (r < 0) {
        logmsg("token store: the TPM cannot seal a data key (%s): tokens are not persisted",
               oc_tpm_strerror(tpm));
        return r;
    }
    /* Any tokens.db left belongs to a key that is gone. */
    if (unlink(s->db_path) == 0) {
        logmsg("token store: removed %s, written under a key that is gone", s->db_path);
    }
    r = oc_tpm_blob_write_file(s->key_path, blob, len);
    free(blob);
    if (r < 0) {
        logmsg("token store: cannot write %s (%s): tokens are not persisted; check that the "
               "state directory is writable by openclawd",
               s->key_path, strerror(-r));
        return r;
    }
    logmsg("token store: new data key sealed to this TPM in %s", s->key_path);
    return 0;
}

void oc_store_open(const struct oc_config *config, const char *state_dir,
                   struct oc_store **ret_store)
{
    struct oc_tpm_options opt = {.tcti = config->global.tcti, .keys_dir = config->global.keys_dir};
    struct oc_store *s = calloc(1, sizeof(*s));
    struct oc_tpm *tpm = NULL;
    struct oc_tpmblob b;
    uint8_t *blob = NULL, *secret = NULL;
    size_t len = 0, secret_len = 0;
    const char *why = NULL;
    char err[512];
    int r, rk;

    *ret_store = NULL;
    if (s == NULL) {
        return;
    }
    s->config = config;
    if (oc_strscpy(s->dir, sizeof(s->dir), state_dir) < 0 ||
        snprintf(s->key_path, sizeof(s->key_path), "%s/%s", state_dir, OC_STORE_KEY_FILE) < 0 ||
        snprintf(s->db_path, sizeof(s->db_path), "%s/%s", state_dir, OC_STORE_DB_FILE) < 0) {
        logmsg("token store: state directory name too long: tokens are not persisted");
        free(s);
        return;
    }
    (void)mkdir(state_dir, 0755);
    rk = oc_tpm_blob_read_file(s->key_path, &blob, &len);
    if (rk == 0 && (oc_tpmblob_parse(blob, len, &b, &why) < 0 || b.type != OC_TPMBLOB_SEALED)) {
        rk = -EBADMSG;
    }
    if (rk == 0) {
        opt.parent = b.parent;
        opt.persistent_srk = b.parent_handle;
    }
    r = oc_tpm_open(&opt, &tpm, err, sizeof(err));
    if (r < 0) {
        logmsg("token store: no TPM (%s): tokens are NOT persisted; a restart needs fresh tokens "
               "from Entra",
               err);
        goto fail;
    }
    if (rk == -ENOENT) {
        r = new_key(s, tpm);
        goto done;
    }
    if (rk < 0) {
        logmsg("token store: %s is unusable (%s): ignored; " FRESH
               ", and a new key is sealed to this TPM",
               s->key_path, rk == -EBADMSG ? "not a sealed key" : strerror(-rk));
        r = new_key(s, tpm);
        goto done;
    }
    r = oc_tpm_unseal(tpm, blob, len, NULL, 0, &secret, &secret_len);
    if (r == 0 && secret_len != sizeof(s->key)) {
        oc_tpm_secret_free(secret, secret_len);
        r = -EBADMSG;
    }
    if (r == -EKEYREJECTED || r == -EBADMSG || r == -EPROTONOSUPPORT || r == -EINVAL) {
        logmsg("token store: state directory from another TPM (or a damaged %s: %s): "
               "ignored; " FRESH ", and a new key is sealed to this TPM",
               s->key_path, r == -EBADMSG ? "the key has the wrong size" : oc_tpm_strerror(tpm));
        r = new_key(s, tpm);
        goto done;
    }
    if (r < 0) {
        logmsg("token store: cannot unseal %s now (%s): tokens are not persisted in this run; "
               "the files are kept",
               s->key_path, oc_tpm_strerror(tpm));
        goto done;
    }
    memcpy(s->key, secret, sizeof(s->key));
    oc_tpm_secret_free(secret, secret_len);
done:
    oc_tpm_close(tpm);
    if (r == 0) {
        free(blob);
        *ret_store = s;
        return;
    }
fail:
    free(blob);
    OPENSSL_cleanse(s->key, sizeof(s->key));
    free(s);
}

void oc_store_close(struct oc_store *s)
{
    if (s != NULL) {
        OPENSSL_cleanse(s->key, sizeof(s->key));
        free(s);
    }
}

/* tokens.db: regular, not a symlink, capped. 0, -ENOENT, or another -errno. */
static int read_db(const char *path, uint8_t **ret_buf, size_t *ret_len)
{
    return oc_private_file_read(path, OC_TOKENSTORE_FILE_MAX, 0, ret_buf, ret_len);
}

static const char *decrypt_error(int r)
{
    switch (r) {
    case -EKEYREJECTED:
        return "it was written under another data key (tokens.key was replaced, or files of "
               "two hosts were mixed)";
    case -EBADMSG:
        return "it fails authentication (modified or corrupt)";
    case -EPROTONOSUPPORT:
        return "it has another format version (written by another openclawd version)";
    default:
        return "it is corrupt or truncated";
    }
}

static ssize_t agent_index(const struct oc_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_agents; i++) {
        if (strcmp(cfg->agents[i].name, name) == 0) {
            return (ssize_t)i;
        }
    }
    return -1;
}

void oc_store_load(struct oc_store *s, struct oc_tokens *t)
{
    const struct oc_config *cfg;
    struct oc_tokenstore ts;
    uint8_t *file = NULL, *payload = NULL;
    size_t len = 0, plen = 0, restored = 0, dropped = 0;
    const char *why = NULL;
    int64_t now = oc_now();
    int r;

    if (s == NULL) {
        return;
    }
    cfg = s->config;
    r = read_db(s->db_path, &file, &len);
    if (r == -ENOENT) {
        return;
    }
    if (r < 0) {
        logmsg("token store: cannot read %s (%s): ignored; " FRESH, s->db_path, strerror(-r));
        (void)unlink(s->db_path);
        return;
    }
    r = oc_tokenstore_decrypt(s->key, file, len, &payload, &plen, &why);
    free(file);
    if (r < 0) {
        logmsg("token store: %s is unreadable: %s (%s): ignored and replaced; " FRESH, s->db_path,
               decrypt_error(r), why != NULL ? why : "?");
        (void)unlink(s->db_path);
        return;
    }
    r = oc_tokenstore_parse(payload, plen, &ts, &why);
    oc_free_wipe(payload, plen + 1);
    if (r < 0) {
        logmsg("token store: %s decrypts but its content is malformed (%s): ignored and "
               "replaced; " FRESH,
               s->db_path, why != NULL ? why : strerror(-r));
        (void)unlink(s->db_path);
        return;
    }
    if (!oc_guid_equal(ts.tenant_id, cfg->global.tenant_id)) {
        logmsg("token store: %s holds tokens of another tenant: ignored and replaced; " FRESH,
               s->db_path);
        oc_tokenstore_free(&ts);
        (void)unlink(s->db_path);
        return;
    }
    for (size_t i = 0; i < ts.n; i++) {
        struct oc_stored_token *e = &ts.items[i];
        ssize_t a = agent_index(cfg, e->agent);
        const struct oc_agent *ag = a >= 0 ? &cfg->agents[a] : NULL;

        if (ag == NULL || !oc_guid_equal(ag->app_id, e->app_id) ||
            oc_agent_unusable(cfg, ag) != NULL ||
            (ag->scopes.n > 0 && !oc_strlist_contains(&ag->scopes, e->scope)) ||
            e->expires_on - OC_TOKEN_MIN_VALIDITY <= now ||
            oc_tokens_restore(t, (size_t)a, e->scope, e->access_token, e->expires_on, e->obtained) <
                    0) {
            dropped++;
            continue;
        }
        e->access_token = NULL; /* the entry owns it now */
        restored++;
    }
    oc_tokenstore_free(&ts);
    logmsg("token store: %zu token(s) restored from %s, %zu dropped (expired, or the agent, app "
           "id or scopes changed)",
           restored, s->db_path, dropped);
    if (dropped > 0) {
        t->dirty = true; /* rewrite without them */
    }
}

/* Write the file atomically: temporary .tokens.db.XXXXXX next to it (0600),
 * fsync, rename, directory fsync. */
static int write_db(const struct oc_store *s, const uint8_t *data, size_t len)
{
    return oc_replace_file(s->db_path, NULL, data, len, 0600, (uid_t)-1, (gid_t)-1);
}

void oc_store_flush(struct oc_store *s, struct oc_tokens *t)
{
    const struct oc_config *cfg;
    struct oc_tokenstore ts;
    uint8_t *payload = NULL, *file = NULL;
    size_t plen = 0, flen = 0;
    int64_t now = oc_now();
    int r = 0;

    if (s == NULL || !t->dirty) {
        return;
    }
    t->dirty = false;
    cfg = s->config;
    memset(&ts, 0, sizeof(ts));
    oc_strscpy(ts.tenant_id, sizeof(ts.tenant_id), cfg->global.tenant_id);
    ts.written = now;
    for (size_t i = 0; i < t->n && r != -ENOSPC; i++) {
        const struct oc_token_entry *e = &t->entries[i];
        const struct oc_agent *ag = &cfg->agents[e->agent];

        if (oc_tokens_valid(e, now) == NULL) {
            continue;
        }
        r = oc_tokenstore_add(&ts, ag->name, ag->app_id, e->scope, e->token.access_token,
                              e->token.expires_on, e->obtained);
        if (r == -ENOMEM) {
            break;
        }
    }
    r = r == -ENOMEM ? r : oc_tokenstore_build(&ts, &payload, &plen);
    oc_tokenstore_free(&ts);
    if (r == 0) {
        r = oc_tokenstore_encrypt(s->key, payload, plen, &file, &flen);
        oc_free_wipe(payload, plen);
    }
    if (r == 0) {
        r = write_db(s, file, flen);
        free(file); /* ciphertext only */
    }
    if (r < 0 && !s->write_failing) {
        logmsg("token store: cannot write %s (%s): the tokens stay in memory only until this "
               "works again; check the state directory",
               s->db_path, strerror(-r));
    } else if (r == 0 && s->write_failing) {
        logmsg("token store: %s written again", s->db_path);
    }
    s->write_failing = r < 0;
}
