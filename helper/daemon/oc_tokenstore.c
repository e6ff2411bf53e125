/* SPDX-License-Identifier: MIT */
/* oc_tokenstore.c: tokens.db format: header, AES-256-GCM, payload (see oc_tokenstore.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "helper/daemon/oc_tokenstore.h"
#include "util.h"

#define PAYLOAD_FIXED (4 + OC_TOKENSTORE_GUID_LEN + 8)
/* Bytes of one entry besides its variable strings. */
#define ENTRY_FIXED (1 + OC_TOKENSTORE_GUID_LEN + 2 + 2 + 8 + 8)

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)get16(p) << 16) | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
    return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

int oc_tokenstore_header_parse(const uint8_t *file, size_t len,
                               struct oc_tokenstore_header *ret_header, const char **ret_why)
{
    struct oc_tokenstore_header h;

    if (len < OC_TOKENSTORE_HEADER_SIZE + OC_TOKENSTORE_TAG_SIZE) {
        *ret_why = "shorter than a header and a tag (truncated)";
        return -EINVAL;
    }
    if (memcmp(file, OC_TOKENSTORE_MAGIC, 4) != 0) {
        *ret_why = "no OCTS magic: not a token store";
        return -EINVAL;
    }
    h.version = get16(file + 4);
    if (h.version != OC_TOKENSTORE_VERSION) {
        *ret_why = "another format version";
        return -EPROTONOSUPPORT;
    }
    if (get16(file + 6) != OC_TOKENSTORE_HEADER_SIZE) {
        *ret_why = "wrong header size";
        return -EINVAL;
    }
    h.flags = get32(file + 8);
    if (h.flags != 0) {
        *ret_why = "unknown flags";
        return -EINVAL;
    }
    h.ciphertext_len = get32(file + 12);
    if (h.ciphertext_len > OC_TOKENSTORE_PAYLOAD_MAX) {
        *ret_why = "payload length over the cap";
        return -EINVAL;
    }
    if (get32(file + 36) != 0) {
        *ret_why = "reserved bytes are not zero";
        return -EINVAL;
    }
    if (len != (size_t)OC_TOKENSTORE_HEADER_SIZE + h.ciphertext_len + OC_TOKENSTORE_TAG_SIZE) {
        *ret_why =
                len < (size_t)OC_TOKENSTORE_HEADER_SIZE + h.ciphertext_len + OC_TOKENSTORE_TAG_SIZE
                        ? "shorter than its header says (truncated)"
                        : "bytes after the tag";
        return -EINVAL;
    }
    memcpy(h.key_id, file + 16, OC_TOKENSTORE_KEYID_SIZE);
    memcpy(h.nonce, file + 24, OC_TOKENSTORE_NONCE_SIZE);
    *ret_header = h;
    return 0;
}

void oc_tokenstore_key_id(const uint8_t key[OC_TOKENSTORE_KEY_SIZE],
                          uint8_t ret_id[OC_TOKENSTORE_KEYID_SIZE])
{
    static const char label[] = "openclaw tokens.db key id";
    uint8_t buf[sizeof(label) - 1 + OC_TOKENSTORE_KEY_SIZE], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;

    memcpy(buf, label, sizeof(label) - 1);
    memcpy(buf + sizeof(label) - 1, key, OC_TOKENSTORE_KEY_SIZE);
    if (EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen < OC_TOKENSTORE_KEYID_SIZE) {
        memset(md, 0, sizeof(md)); /* never matches a real id by chance: decrypt then fails */
    }
    memcpy(ret_id, md, OC_TOKENSTORE_KEYID_SIZE);
    OPENSSL_cleanse(buf, sizeof(buf));
}

/* AES-256-GCM one shot; on decrypt, tag is checked. 0, -EBADMSG or -ENOMEM. */
static int gcm(bool enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad,
               size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, r = -ENOMEM;

    if (c == NULL) {
        return -ENOMEM;
    }
    if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc ? 1 : 0) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, OC_TOKENSTORE_NONCE_SIZE, NULL) != 1 ||
        EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc ? 1 : 0) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) != 1 ||
        (len > 0 && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)) {
        goto out;
    }
    if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, OC_TOKENSTORE_TAG_SIZE, tag) != 1) {
        goto out;
    }
    if (EVP_CipherFinal_ex(c, out + (len > 0 ? n : 0), &n) != 1) {
        r = enc ? -ENOMEM : -EBADMSG;
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, OC_TOKENSTORE_TAG_SIZE, tag) != 1) {
        goto out;
    }
    r = 0;
out:
    EVP_CIPHER_CTX_free(c);
    return r;
}

int oc_tokenstore_decrypt(const uint8_t key[OC_TOKENSTORE_KEY_SIZE], const uint8_t *file,
                          size_t len, uint8_t **ret_payload, size_t *ret_len, const char **ret_why)
{
    struct oc_tokenstore_header h;
    uint8_t id[OC_TOKENSTORE_KEYID_SIZE], tag[OC_TOKENSTORE_TAG_SIZE];
    uint8_t *out;
    int r;

    r = oc_tokenstore_header_parse(file, len, &h, ret_why);
    if (r < 0) {
        return r;
    }
    oc_tokenstore_key_id(key, id);
    if (memcmp(id, h.key_id, sizeof(id)) != 0) {
        *ret_why = "written under another data key";
        return -EKEYREJECTED;
    }
    out = malloc(h.ciphertext_len + 1);
    if (out == NULL) {
        return -ENOMEM;
    }
    memcpy(tag, file + OC_TOKENSTORE_HEADER_SIZE + h.ciphertext_len, sizeof(tag));
    r = gcm(false, key, h.nonce, file, OC_TOKENSTORE_HEADER_SIZE, file + OC_TOKENSTORE_HEADER_SIZE,
            h.ciphertext_len, out, tag);
    if (r < 0) {
        oc_free_wipe(out, h.ciphertext_len + 1);
        *ret_why = r == -EBADMSG ? "the authentication tag does not verify (modified or corrupt)"
                                 : "out of memory";
        return r;
    }
    *ret_payload = out;
    *ret_len = h.ciphertext_len;
    return 0;
}

int oc_tokenstore_encrypt(const uint8_t key[OC_TOKENSTORE_KEY_SIZE], const uint8_t *payload,
                          size_t len, uint8_t **ret_file, size_t *ret_len)
{
    size_t total = OC_TOKENSTORE_HEADER_SIZE + len + OC_TOKENSTORE_TAG_SIZE;
    uint8_t *f;
    int r;

    if (len > OC_TOKENSTORE_PAYLOAD_MAX) {
        return -E2BIG;
    }
    f = calloc(1, total);
    if (f == NULL) {
        return -ENOMEM;
    }
    memcpy(f, OC_TOKENSTORE_MAGIC, 4);
    put16(f + 4, OC_TOKENSTORE_VERSION);
    put16(f + 6, OC_TOKENSTORE_HEADER_SIZE);
    put32(f + 8, 0);
    put32(f + 12, (uint32_t)len);
    oc_tokenstore_key_id(key, f + 16);
    if (RAND_bytes(f + 24, OC_TOKENSTORE_NONCE_SIZE) != 1) {
        free(f);
        return -EIO;
    }
    r = gcm(true, key, f + 24, f, OC_TOKENSTORE_HEADER_SIZE, payload, len,
            f + OC_TOKENSTORE_HEADER_SIZE, f + OC_TOKENSTORE_HEADER_SIZE + len);
    if (r < 0) {
        oc_free_wipe(f, total);
        return r;
    }
    *ret_file = f;
    *ret_len = total;
    return 0;
}

/* Printable ASCII without spaces: what scopes and compact tokens are made of. */
static bool printable(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= 0x20 || s[i] >= 0x7f) {
            return false;
        }
    }
    return true;
}

static bool guid_ok(const uint8_t *s)
{
    char g[OC_GUID_SIZE];

    memcpy(g, s, OC_TOKENSTORE_GUID_LEN);
    g[OC_TOKENSTORE_GUID_LEN] = '\0';
    return oc_is_guid(g);
}

static bool times_ok(int64_t expires_on, int64_t obtained)
{
    return obtained > 0 && expires_on > obtained &&
           expires_on - obtained <= OC_TOKENSTORE_LIFETIME_MAX;
}

void oc_tokenstore_free(struct oc_tokenstore *ts)
{
    for (size_t i = 0; i < ts->n; i++) {
        free(ts->items[i].scope);
        oc_free_wipe_str(ts->items[i].access_token);
    }
    free(ts->items);
    memset(ts, 0, sizeof(*ts));
}

int oc_tokenstore_add(struct oc_tokenstore *ts, const char *agent, const char *app_id,
                      const char *scope, const char *access_token, int64_t expires_on,
                      int64_t obtained)
{
    size_t sl = strlen(scope), tl = strlen(access_token), need;
    struct oc_stored_token *p, *it;

    if (!oc_valid_user_name(agent) || strlen(agent) > OC_USER_NAME_MAX || !oc_is_guid(app_id) ||
        sl == 0 || sl > OC_TOKENSTORE_SCOPE_MAX || !printable((const uint8_t *)scope, sl) ||
        tl == 0 || tl > OC_TOKENSTORE_TOKEN_MAX || !printable((const uint8_t *)access_token, tl) ||
        !times_ok(expires_on, obtained)) {
        return -EINVAL;
    }
    if (ts->payload_len == 0) {
        ts->payload_len = PAYLOAD_FIXED;
    }
    need = ENTRY_FIXED + strlen(agent) + sl + tl;
    if (ts->n >= OC_TOKENSTORE_ENTRIES_MAX || ts->payload_len + need > OC_TOKENSTORE_PAYLOAD_MAX) {
        return -ENOSPC;
    }
    p = realloc(ts->items, (ts->n + 1) * sizeof(*p));
    if (p == NULL) {
        return -ENOMEM;
    }
    ts->items = p;
    it = &p[ts->n];
    memset(it, 0, sizeof(*it));
    oc_strscpy(it->agent, sizeof(it->agent), agent);
    oc_strscpy(it->app_id, sizeof(it->app_id), app_id);
    it->scope = strdup(scope);
    it->access_token = strdup(access_token);
    if (it->scope == NULL || it->access_token == NULL) {
        free(it->scope);
        oc_free_wipe_str(it->access_token);
        return -ENOMEM;
    }
    it->expires_on = expires_on;
    it->obtained = obtained;
    ts->n++;
    ts->payload_len += need;
    return 0;
}

int oc_tokenstore_build(const struct oc_tokenstore *ts, uint8_t **ret_payload, size_t *ret_len)
{
    size_t len = PAYLOAD_FIXED, off = 0;
    uint8_t *p;

    if (ts->n > OC_TOKENSTORE_ENTRIES_MAX || strlen(ts->tenant_id) != OC_TOKENSTORE_GUID_LEN) {
        return -EINVAL;
    }
    for (size_t i = 0; i < ts->n; i++) {
        const struct oc_stored_token *e = &ts->items[i];
        size_t nl = strlen(e->agent), al = strlen(e->app_id), sl = strlen(e->scope),
               tl = strlen(e->access_token);

        if (nl == 0 || nl > OC_USER_NAME_MAX || al != OC_TOKENSTORE_GUID_LEN || sl == 0 ||
            sl > OC_TOKENSTORE_SCOPE_MAX || tl == 0 || tl > OC_TOKENSTORE_TOKEN_MAX) {
            return -EINVAL;
        }
        len += ENTRY_FIXED + nl + sl + tl;
    }
    if (len > OC_TOKENSTORE_PAYLOAD_MAX) {
        return -E2BIG;
    }
    p = malloc(len);
    if (p == NULL) {
        return -ENOMEM;
    }
    put32(p, (uint32_t)ts->n);
    memcpy(p + 4, ts->tenant_id, OC_TOKENSTORE_GUID_LEN);
    put64(p + 4 + OC_TOKENSTORE_GUID_LEN, (uint64_t)ts->written);
    off = PAYLOAD_FIXED;
    for (size_t i = 0; i < ts->n; i++) {
        const struct oc_stored_token *e = &ts->items[i];
        size_t nl = strlen(e->agent), sl = strlen(e->scope), tl = strlen(e->access_token);

        p[off++] = (uint8_t)nl;
        memcpy(p + off, e->agent, nl);
        off += nl;
        memcpy(p + off, e->app_id, OC_TOKENSTORE_GUID_LEN);
        off += OC_TOKENSTORE_GUID_LEN;
        put16(p + off, (uint16_t)sl);
        off += 2;
        memcpy(p + off, e->scope, sl);
        off += sl;
        put16(p + off, (uint16_t)tl);
        off += 2;
        memcpy(p + off, e->access_token, tl);
        off += tl;
        put64(p + off, (uint64_t)e->expires_on);
        put64(p + off + 8, (uint64_t)e->obtained);
        off += 16;
    }
    *ret_payload = p;
    *ret_len = len;
    return 0;
}

/* Take n bytes at *off of a payload of len bytes, or NULL when they are not there. */
static const uint8_t *take(const uint8_t *p, size_t len, size_t *off, size_t n)
{
    const uint8_t *r;

    if (n > len - *off) {
        return NULL;
    }
    r = p + *off;
    *off += n;
    return r;
}

static char *dupn(const uint8_t *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* One entry at *off: added to ts. 0, -EBADMSG (*why says what) or -ENOMEM. */
static int parse_entry(const uint8_t *payload, size_t len, size_t *off, struct oc_tokenstore *ts,
                       const char **ret_why)
{
    const uint8_t *q;
    int r;
    char name[OC_USER_NAME_MAX + 1], app[OC_GUID_SIZE];
    char *scope = NULL, *token = NULL;
    const uint8_t *sp, *tp;
    size_t nl, sl, tl;
    int64_t exp, got;

    *ret_why = "an entry is truncated";
    if ((q = take(payload, len, off, 1)) == NULL) {
        return -EBADMSG;
    }
    nl = q[0];
    if (nl == 0 || nl > OC_USER_NAME_MAX || (q = take(payload, len, off, nl)) == NULL) {
        *ret_why = nl == 0 || nl > OC_USER_NAME_MAX ? "an agent name length is out of range"
                                                    : *ret_why;
        return -EBADMSG;
    }
    memcpy(name, q, nl);
    name[nl] = '\0';
    if (memchr(name, 0, nl) != NULL || !oc_valid_user_name(name)) {
        *ret_why = "an agent name is not a valid user name";
        return -EBADMSG;
    }
    if ((q = take(payload, len, off, OC_TOKENSTORE_GUID_LEN)) == NULL) {
        return -EBADMSG;
    }
    if (!guid_ok(q)) {
        *ret_why = "an app id is not a GUID";
        return -EBADMSG;
    }
    memcpy(app, q, OC_TOKENSTORE_GUID_LEN);
    app[OC_TOKENSTORE_GUID_LEN] = '\0';
    if ((q = take(payload, len, off, 2)) == NULL) {
        return -EBADMSG;
    }
    sl = get16(q);
    if (sl == 0 || sl > OC_TOKENSTORE_SCOPE_MAX) {
        *ret_why = "a scope length is out of range";
        return -EBADMSG;
    }
    if ((sp = take(payload, len, off, sl)) == NULL) {
        return -EBADMSG;
    }
    if (!printable(sp, sl)) {
        *ret_why = "a scope is not printable ASCII";
        return -EBADMSG;
    }
    if ((q = take(payload, len, off, 2)) == NULL) {
        return -EBADMSG;
    }
    tl = get16(q);
    if (tl == 0 || tl > OC_TOKENSTORE_TOKEN_MAX) {
        *ret_why = "a token length is out of range";
        return -EBADMSG;
    }
    if ((tp = take(payload, len, off, tl)) == NULL) {
        return -EBADMSG;
    }
    if (!printable(tp, tl)) {
        *ret_why = "a token is not printable ASCII";
        return -EBADMSG;
    }
    if ((q = take(payload, len, off, 16)) == NULL) {
        return -EBADMSG;
    }
    exp = (int64_t)get64(q);
    got = (int64_t)get64(q + 8);
    if (!times_ok(exp, got)) {
        *ret_why = "an entry's times are impossible";
        return -EBADMSG;
    }
    for (size_t j = 0; j < ts->n; j++) {
        if (strcmp(ts->items[j].agent, name) == 0 && strlen(ts->items[j].scope) == sl &&
            memcmp(ts->items[j].scope, sp, sl) == 0) {
            *ret_why = "an (agent, scope) pair appears twice";
            return -EBADMSG;
        }
    }
    scope = dupn(sp, sl);
    token = dupn(tp, tl);
    r = scope == NULL || token == NULL ? -ENOMEM
                                       : oc_tokenstore_add(ts, name, app, scope, token, exp, got);
    free(scope);
    if (token != NULL) {
        oc_free_wipe(token, tl + 1);
    }
    if (r < 0) {
        *ret_why = r == -ENOMEM ? "out of memory" : "an entry is refused";
        return r == -ENOMEM ? -ENOMEM : -EBADMSG;
    }
    return 0;
}

int oc_tokenstore_parse(const uint8_t *payload, size_t len, struct oc_tokenstore *ret,
                        const char **ret_why)
{
    struct oc_tokenstore ts;
    size_t off = 0;
    uint32_t n;
    int r = -EBADMSG;

    memset(&ts, 0, sizeof(ts));
    if (len < PAYLOAD_FIXED || len > OC_TOKENSTORE_PAYLOAD_MAX) {
        *ret_why = len < PAYLOAD_FIXED ? "payload too short" : "payload over the cap";
        return -EBADMSG;
    }
    n = get32(payload);
    if (n > OC_TOKENSTORE_ENTRIES_MAX) {
        *ret_why = "more entries than the cap";
        return -EBADMSG;
    }
    if (!guid_ok(payload + 4)) {
        *ret_why = "the tenant id is not a GUID";
        return -EBADMSG;
    }
    memcpy(ts.tenant_id, payload + 4, OC_TOKENSTORE_GUID_LEN);
    ts.payload_len = PAYLOAD_FIXED;
    ts.written = (int64_t)get64(payload + 4 + OC_TOKENSTORE_GUID_LEN);
    off = PAYLOAD_FIXED;
    for (uint32_t i = 0; i < n; i++) {
        r = parse_entry(payload, len, &off, &ts, ret_why);
        if (r < 0) {
            goto fail;
        }
    }
    r = -EBADMSG;
    if (off != len) {
        *ret_why = "bytes after the last entry";
        goto fail;
    }
    *ret = ts;
    return 0;
fail:
    oc_tokenstore_free(&ts);
    return r;
}
