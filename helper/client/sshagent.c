/* SPDX-License-Identifier: MIT */
/* sshagent.c: the ssh-agent of `openclaw-token --ssh-agent` (see sshagent.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "b64url.h"
#include "json.h"
#include "helper/lib/oc_sshwire.h"
#include "proto.h"
#include "protocall.h"
#include "helper/client/sshagent.h"
#include "helper/client/sshkey_verify.h"
#include "util.h"

#define AGENT_CLIENTS_MAX 16    /* connections at once; more are closed */
#define DAEMON_TIMEOUT_MS 10000 /* one answer from openclawd */
#define PARENT_CHECK_MS   1000  /* how often the starting process is looked for */
#define KEY_BLOB_MAX      2048u /* as OC_SSH_KEY_BLOB_MAX in the daemon */
#define SIGN_DATA_MAX     (16u * 1024u)
#define SIGNATURE_MAX     1024u
#define SOCKET_DIR_PREFIX "openclaw-ssh-"
#define AGENT_HOPS_MAX    16u /* session binds kept per connection, as OpenSSH's ssh-agent */
#define DEST_LINE_MAX     (16u * 1024u)
#define AGENT_LOG         "openclaw-token --ssh-agent: "

/* ------------------------------------------------------------------ */
/* Codec                                                              */
/* ------------------------------------------------------------------ */

int oc_sshagent_parse(const uint8_t *msg, size_t len, struct oc_sshagent_msg *ret)
{
    struct oc_sshagent_msg m;
    struct oc_ssh_rbuf r = {.p = msg, .len = len};
    uint8_t fwd;

    if (msg == NULL || len == 0 || len > OC_SSHAGENT_MSG_MAX) {
        return -EINVAL;
    }
    memset(&m, 0, sizeof(m));
    (void)oc_ssh_get_u8(&r, &m.type);
    switch (m.type) {
    case OC_SSH_AGENTC_REQUEST_IDENTITIES:
        if (len != 1) {
            return -EINVAL;
        }
        break;
    case OC_SSH_AGENTC_SIGN_REQUEST:
        if (!oc_ssh_get_string(&r, &m.key, &m.key_len) ||
            !oc_ssh_get_string(&r, &m.data, &m.data_len) || !oc_ssh_get_u32(&r, &m.flags) ||
            r.off != len || m.key_len == 0) {
            return -EINVAL;
        }
        break;
    case OC_SSH_AGENTC_EXTENSION: {
        const uint8_t *name;
        size_t name_len;
        if (!oc_ssh_get_string(&r, &name, &name_len) || name_len != strlen(OC_SSH_SESSION_BIND) ||
            memcmp(name, OC_SSH_SESSION_BIND, name_len) != 0) {
            break; /* another extension: answered SSH_AGENT_FAILURE */
        }
        if (!oc_ssh_get_string(&r, &m.hostkey, &m.hostkey_len) ||
            !oc_ssh_get_string(&r, &m.session_id, &m.session_id_len) ||
            !oc_ssh_get_string(&r, &m.signature, &m.signature_len) || !oc_ssh_get_u8(&r, &fwd) ||
            r.off != len || fwd > 1 || m.hostkey_len == 0 || m.session_id_len == 0 ||
            m.session_id_len > OC_SSH_SESSION_ID_MAX || m.signature_len == 0) {
            return -EINVAL;
        }
        m.forwarding = fwd == 1;
        m.session_bind = true;
        break;
    }
    default:
        break; /* answered SSH_AGENT_FAILURE, body not looked at */
    }
    *ret = m;
    return 0;
}

void oc_sshagent_reader_init(struct oc_sshagent_reader *r)
{
    memset(r, 0, sizeof(*r));
}

void oc_sshagent_reader_reset(struct oc_sshagent_reader *r)
{
    if (r->body != NULL) {
        oc_free_wipe(r->body, r->body_len);
    }
    oc_sshagent_reader_init(r);
}

int oc_sshagent_reader_feed(struct oc_sshagent_reader *r, const uint8_t *data, size_t len,
                            size_t *ret_used, uint8_t **ret_body, size_t *ret_len)
{
    size_t used = 0, n;

    if (r->hdr_have < sizeof(r->hdr)) {
        n = sizeof(r->hdr) - r->hdr_have;
        n = n < len ? n : len;
        memcpy(r->hdr + r->hdr_have, data, n);
        r->hdr_have += n;
        used += n;
        if (r->hdr_have < sizeof(r->hdr)) {
            *ret_used = used;
            return 0;
        }
        struct oc_ssh_rbuf h = {.p = r->hdr, .len = sizeof(r->hdr)};
        uint32_t body_len = 0;
        (void)oc_ssh_get_u32(&h, &body_len);
        r->body_len = body_len;
        if (r->body_len == 0 || r->body_len > OC_SSHAGENT_MSG_MAX) {
            *ret_used = used;
            return -EMSGSIZE;
        }
        r->body = malloc(r->body_len);
        if (r->body == NULL) {
            *ret_used = used;
            return -ENOMEM;
        }
        r->body_have = 0;
    }
    n = r->body_len - r->body_have;
    n = n < len - used ? n : len - used;
    memcpy(r->body + r->body_have, data + used, n);
    r->body_have += n;
    used += n;
    *ret_used = used;
    if (r->body_have < r->body_len) {
        return 0;
    }
    *ret_body = r->body;
    *ret_len = r->body_len;
    r->body = NULL;
    oc_sshagent_reader_init(r);
    return 1;
}

/* Start a message in a buffer that grows up to the largest one: its
 * length field (a string's: set by msg_end) and its type. */
static size_t msg_begin(struct oc_ssh_wbuf *w, uint8_t type)
{
    size_t at;

    oc_ssh_wbuf_alloc(w, 4 + OC_SSHAGENT_MSG_MAX);
    at = oc_ssh_string_begin(w);
    oc_ssh_put_u8(w, type);
    return at;
}

/* The message complete, length field included, handed over. */
static int msg_end(struct oc_ssh_wbuf *w, size_t at, uint8_t **ret_msg, size_t *ret_len)
{
    oc_ssh_string_end(w, at);
    return oc_ssh_wbuf_take(w, ret_msg, ret_len);
}

/* A message that is its type alone (SSH_AGENT_FAILURE, SSH_AGENT_SUCCESS). */
static int build_bare(uint8_t type, uint8_t **ret_msg, size_t *ret_len)
{
    struct oc_ssh_wbuf w;
    size_t at = msg_begin(&w, type);

    return msg_end(&w, at, ret_msg, ret_len);
}

int oc_sshagent_build_failure(uint8_t **ret_msg, size_t *ret_len)
{
    return build_bare(OC_SSH_AGENT_FAILURE, ret_msg, ret_len);
}

/* SSH_AGENT_IDENTITIES_ANSWER: uint32 count, then per key string blob,
 * string comment. */
int oc_sshagent_build_identities(const struct oc_sshagent_identity *ids, size_t n,
                                 uint8_t **ret_msg, size_t *ret_len)
{
    struct oc_ssh_wbuf w;
    size_t at;

    if (n > OC_SSHAGENT_IDS_MAX) {
        return -E2BIG;
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i].blob_len > KEY_BLOB_MAX) {
            return -E2BIG;
        }
    }
    at = msg_begin(&w, OC_SSH_AGENT_IDENTITIES_ANSWER);
    oc_ssh_put_u32(&w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        oc_ssh_put_string(&w, ids[i].blob, ids[i].blob_len);
        oc_ssh_put_cstring(&w, ids[i].comment);
    }
    return msg_end(&w, at, ret_msg, ret_len);
}

/* SSH_AGENT_SIGN_RESPONSE: string signature (the blob openclawd built). */
int oc_sshagent_build_sign_response(const uint8_t *sig, size_t sig_len, uint8_t **ret_msg,
                                    size_t *ret_len)
{
    struct oc_ssh_wbuf w;
    size_t at;

    if (sig_len == 0 || sig_len > SIGNATURE_MAX) {
        return -EINVAL;
    }
    at = msg_begin(&w, OC_SSH_AGENT_SIGN_RESPONSE);
    oc_ssh_put_string(&w, sig, sig_len);
    return msg_end(&w, at, ret_msg, ret_len);
}

/* ------------------------------------------------------------------ */
/* Destination host keys (--destination)                              */
/* ------------------------------------------------------------------ */

/* Standard base64 (with padding), as .pub and known_hosts files carry it. */
static int b64_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len)
{
    size_t pad;
    uint8_t *out;
    int n;

    if (len < 4 || len % 4 != 0 || len / 4 * 3 > OC_SSHKEY_BLOB_MAX + 2) {
        return -EINVAL;
    }
    pad = in[len - 1] != '=' ? 0 : in[len - 2] != '=' ? 1 : 2;
    out = malloc(len / 4 * 3);
    if (out == NULL) {
        return -ENOMEM;
    }
    n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0 || (size_t)n < pad) {
        free(out);
        return -EINVAL;
    }
    *ret = out;
    *ret_len = (size_t)n - pad;
    return 0;
}

static bool looks_like_key_type(const char *t)
{
    return strncmp(t, "ssh-", 4) == 0 || strncmp(t, "ecdsa-", 6) == 0 || strncmp(t, "sk-", 3) == 0;
}

/* One line's key: "TYPE BASE64 ..." or "HOSTS TYPE BASE64 ...". 1: a key,
 * 0: nothing on the line, <0: refused with *ret_why. */
static int dest_line(char *line, uint8_t **ret_key, size_t *ret_len, const char **ret_why)
{
    char *save = NULL, *f[3] = {NULL, NULL, NULL}, *type, *b64;
    char got[OC_SSHKEY_TYPE_MAX];
    uint8_t *blob = NULL;
    size_t len = 0;
    int r;

    for (size_t i = 0; i < 3; i++) {
        f[i] = strtok_r(i == 0 ? line : NULL, " \t\r\n", &save);
    }
    if (f[0] == NULL || f[0][0] == '#') {
        return 0;
    }
    if (f[0][0] == '@') {
        *ret_why = "marker lines (@cert-authority, @revoked) are not taken";
        return -EINVAL;
    }
    /* a .pub line's second field is base64 and never looks like a type */
    if (f[1] != NULL && looks_like_key_type(f[1])) {
        type = f[1];
        b64 = f[2];
    } else {
        type = f[0];
        b64 = f[1];
    }
    if (b64 == NULL || b64_decode(b64, strlen(b64), &blob, &len) < 0) {
        *ret_why = "not a public key (TYPE BASE64 [comment], or a known_hosts line)";
        return -EINVAL;
    }
    r = oc_sshkey_check(blob, len, got, ret_why);
    if (r == -EOPNOTSUPP) {
        *ret_why = "key type not supported (ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa)";
    } else if (r == 0 && strcmp(got, type) != 0) {
        *ret_why = "the key's type is not the one the line names";
        r = -EINVAL;
    }
    if (r < 0) {
        free(blob);
        return -EINVAL;
    }
    *ret_key = blob;
    *ret_len = len;
    return 1;
}

void oc_sshagent_free_destinations(struct oc_sshagent_dests *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->keys[i]);
    }
    free(d->keys);
    free(d->lens);
    memset(d, 0, sizeof(*d));
}

int oc_sshagent_load_destinations(const char *path, struct oc_sshagent_dests *ret, size_t *ret_line,
                                  const char **ret_why)
{
    struct oc_sshagent_dests d = {NULL, NULL, 0};
    FILE *f = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int r = 0;

    *ret_line = 0;
    if (f == NULL) {
        *ret_why = strerror(errno);
        return -errno;
    }
    d.keys = calloc(OC_SSHAGENT_DEST_MAX, sizeof(*d.keys));
    d.lens = calloc(OC_SSHAGENT_DEST_MAX, sizeof(*d.lens));
    if (d.keys == NULL || d.lens == NULL) {
        r = -ENOMEM;
        *ret_why = "out of memory";
    }
    while (r == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)n > DEST_LINE_MAX || memchr(line, '\0', (size_t)n) != NULL) {
            *ret_why = "line too long or not text";
            r = -EINVAL;
        } else if (d.n == OC_SSHAGENT_DEST_MAX) {
            *ret_why = "more than 1024 host keys";
            r = -EINVAL;
        } else {
            r = dest_line(line, &d.keys[d.n], &d.lens[d.n], ret_why);
            d.n += r == 1 ? 1 : 0;
            r = r < 0 ? r : 0;
        }
        if (r < 0) {
            *ret_line = lineno;
        }
    }
    if (r == 0 && ferror(f)) {
        r = -EIO;
        *ret_why = "read error";
    }
    if (r == 0 && d.n == 0) {
        *ret_why = "no host key in it (an empty list would refuse every login)";
        r = -EINVAL;
    }
    free(line);
    fclose(f);
    if (r < 0) {
        oc_sshagent_free_destinations(&d);
        return r;
    }
    *ret = d;
    return 0;
}

bool oc_sshagent_dest_listed(const struct oc_sshagent_dests *d, const uint8_t *key, size_t len)
{
    for (size_t i = 0; i < d->n; i++) {
        if (d->lens[i] == len && memcmp(d->keys[i], key, len) == 0) {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* Talking to openclawd                                               */
/* ------------------------------------------------------------------ */

/* One request to openclawd, one parsed answer (bounded wait). */
static int daemon_call(const char *path, cJSON *req, cJSON **ret_answer)
{
    char *text = cJSON_PrintUnformatted(req), *body = NULL;
    size_t len = 0;
    int r;

    if (text == NULL) {
        return -ENOMEM;
    }
    r = oc_proto_call(path, text, DAEMON_TIMEOUT_MS, &body, &len);
    free(text);
    if (r == 0) {
        r = oc_json_parse_object(body, len, ret_answer, NULL);
        oc_free_wipe(body, len + 1);
    }
    return r;
}

static void warn_daemon(const cJSON *answer)
{
    const char *code = "error", *msg = "";

    (void)oc_json_get_string(answer, "error", 256, &code);
    (void)oc_json_get_string(answer, "message", 4096, &msg);
    fprintf(stderr, "openclaw-token --ssh-agent: openclawd: %s: %s\n", code, msg);
}

static void identities_free(struct oc_sshagent_identity *ids)
{
    for (size_t i = 0; i < OC_SSHAGENT_IDS_MAX; i++) {
        free(ids[i].blob);
    }
}

/* openclawd's ssh identities for our uid: 0 with ids[0..*ret_n) (possibly
 * none); ids is cleared first, so identities_free() may always follow. */
static int fetch_identities(const char *path, struct oc_sshagent_identity *ids, size_t *ret_n)
{
    cJSON *req = cJSON_CreateObject(), *ans = NULL;
    const cJSON *arr, *it;
    size_t n = 0;
    bool ok = false;
    int r;

    memset(ids, 0, OC_SSHAGENT_IDS_MAX * sizeof(*ids));
    if (req == NULL) {
        return -ENOMEM;
    }
    cJSON_AddStringToObject(req, "type", "ssh-identities");
    r = daemon_call(path, req, &ans);
    cJSON_Delete(req);
    if (r < 0) {
        fprintf(stderr, "openclaw-token --ssh-agent: cannot reach openclawd at %s: %s\n", path,
                strerror(-r));
        return r;
    }
    if (oc_json_get_bool(ans, "ok", &ok) < 0 || !ok) {
        warn_daemon(ans);
        cJSON_Delete(ans);
        return -EACCES;
    }
    arr = oc_json_member(ans, "identities");
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > (int)OC_SSHAGENT_IDS_MAX) {
        cJSON_Delete(ans);
        return -EBADMSG;
    }
    cJSON_ArrayForEach(it, arr)
    {
        const char *k = NULL, *c = "";
        if (oc_json_get_string(it, "key", OC_B64URL_ENCODED_LEN(KEY_BLOB_MAX), &k) < 0 ||
            oc_json_get_string(it, "comment", OC_SSHAGENT_COMMENT_MAX, &c) == -E2BIG ||
            oc_b64url_decode(k, strlen(k), &ids[n].blob, &ids[n].blob_len) < 0 ||
            ids[n].blob_len == 0 || ids[n].blob_len > KEY_BLOB_MAX) {
            r = -EBADMSG;
            break;
        }
        oc_strscpy(ids[n].comment, sizeof(ids[n].comment), c);
        n++;
    }
    cJSON_Delete(ans);
    if (r == 0) {
        *ret_n = n;
    }
    return r;
}

/* SSH_AGENTC_REQUEST_IDENTITIES → the answer message (possibly empty). */
static int do_identities(const char *path, uint8_t **ret_msg, size_t *ret_len)
{
    struct oc_sshagent_identity ids[OC_SSHAGENT_IDS_MAX];
    size_t n = 0;
    int r = fetch_identities(path, ids, &n);

    if (r == 0) {
        r = oc_sshagent_build_identities(ids, n, ret_msg, ret_len);
    }
    identities_free(ids);
    return r;
}

/* SSH_AGENTC_SIGN_REQUEST → SSH_AGENT_SIGN_RESPONSE, or an error (failure). */
static int do_sign(const char *path, const struct oc_sshagent_msg *m, uint8_t **ret_msg,
                   size_t *ret_len)
{
    cJSON *req, *ans = NULL;
    char *k = NULL, *d = NULL;
    const char *s = NULL;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    bool ok = false;
    int r;

    if (m->key_len > KEY_BLOB_MAX || m->data_len == 0 || m->data_len > SIGN_DATA_MAX) {
        return -E2BIG;
    }
    if (oc_b64url_encode(m->key, m->key_len, &k) < 0 ||
        oc_b64url_encode(m->data, m->data_len, &d) < 0) {
        free(k);
        return -ENOMEM;
    }
    req = cJSON_CreateObject();
    if (req == NULL) {
        free(k);
        free(d);
        return -ENOMEM;
    }
    cJSON_AddStringToObject(req, "type", "ssh-sign");
    cJSON_AddStringToObject(req, "key", k);
    cJSON_AddStringToObject(req, "data", d);
    cJSON_AddNumberToObject(req, "flags", (double)m->flags);
    free(k);
    free(d);
    r = daemon_call(path, req, &ans);
    cJSON_Delete(req);
    if (r < 0) {
        fprintf(stderr, "openclaw-token --ssh-agent: cannot reach openclawd at %s: %s\n", path,
                strerror(-r));
        return r;
    }
    if (oc_json_get_bool(ans, "ok", &ok) < 0 || !ok) {
        warn_daemon(ans);
        cJSON_Delete(ans);
        return -EACCES;
    }
    if (oc_json_get_string(ans, "signature", OC_B64URL_ENCODED_LEN(SIGNATURE_MAX), &s) < 0 ||
        oc_b64url_decode(s, strlen(s), &sig, &sig_len) < 0) {
        cJSON_Delete(ans);
        return -EBADMSG;
    }
    cJSON_Delete(ans);
    r = oc_sshagent_build_sign_response(sig, sig_len, ret_msg, ret_len);
    free(sig);
    return r;
}

/* ------------------------------------------------------------------ */
/* The agent's socket and loop                                        */
/* ------------------------------------------------------------------ */

/* One verified session-bind@openssh.com: an ssh session this connection serves. */
struct agent_hop {
    uint8_t *hostkey;
    size_t hostkey_len;
    uint8_t sid[OC_SSH_SESSION_ID_MAX];
    size_t sid_len;
    bool forwarded;
};

struct agent_client {
    int fd;
    struct oc_sshagent_reader rd;
    /* the session binds of this connection, in order: forwarding hops,
     * then at most one bound for authentication (the last) */
    struct agent_hop hops[AGENT_HOPS_MAX];
    size_t n_hops;
    bool bind_refused; /* a bind was refused: this connection signs nothing */
    uint8_t *out;
    size_t out_len;
    size_t out_off;
};

struct agent {
    const struct oc_sshagent_options *opt;
    char dir[PATH_MAX];
    char sock[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
    int listen_fd;
    int signal_fd;
    pid_t watch;
    struct oc_sshagent_dests dests; /* --destination; n = 0: none */
    struct agent_client clients[AGENT_CLIENTS_MAX];
    size_t n;
};

static void client_drop(struct agent *a, size_t i)
{
    struct agent_client *c = &a->clients[i];

    close(c->fd);
    oc_sshagent_reader_reset(&c->rd);
    free(c->out);
    for (size_t h = 0; h < c->n_hops; h++) {
        free(c->hops[h].hostkey);
    }
    a->clients[i] = a->clients[a->n - 1];
    a->n--;
}

static void accept_one(struct agent *a)
{
    struct ucred cred;
    socklen_t sl = sizeof(cred);
    int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (fd < 0) {
        return;
    }
    /* The peer is checked before a byte of it is read: only our own uid. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &sl) < 0 || sl != sizeof(cred) ||
        cred.uid != getuid()) {
        fprintf(stderr,
                "openclaw-token --ssh-agent: refused a connection from uid %d pid %d (only uid "
                "%u may use this agent)\n",
                sl == sizeof(cred) ? (int)cred.uid : -1, sl == sizeof(cred) ? (int)cred.pid : -1,
                (unsigned)getuid());
        close(fd);
        return;
    }
    if (a->n >= AGENT_CLIENTS_MAX) {
        fprintf(stderr, "openclaw-token --ssh-agent: too many connections (%u); refusing one\n",
                AGENT_CLIENTS_MAX);
        close(fd);
        return;
    }
    memset(&a->clients[a->n], 0, sizeof(a->clients[a->n]));
    a->clients[a->n].fd = fd;
    oc_sshagent_reader_init(&a->clients[a->n].rd);
    a->n++;
}

static bool bytes_eq(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

/*
 * session-bind@openssh.com (OpenSSH PROTOCOL.agent 1): ssh tells the agent
 * which session (host key, session id) this connection serves, and
 * whether it is a forwarded one, with the host key's signature over the
 * session id from the first key exchange. Taken as OpenSSH's ssh-agent
 * takes it: the signature must verify; a connection bound for
 * authentication takes no further bind; forwarding hops accumulate (at
 * most AGENT_HOPS_MAX), the same bind again changes nothing, a session id
 * seen with another host key is refused. A refused bind leaves the
 * connection unable to sign anything (as a failed bind leaves a
 * destination-constrained key unusable in OpenSSH).
 */
static int session_bind(struct agent_client *c, const struct oc_sshagent_msg *m)
{
    char fp[OC_SSH_FP_SIZE] = "(unreadable key)", type[OC_SSHKEY_TYPE_MAX] = "?";
    const char *why = NULL, *check_why = NULL;
    struct agent_hop *h;
    int r;

    (void)oc_ssh_fingerprint(m->hostkey, m->hostkey_len, fp);
    (void)oc_sshkey_check(m->hostkey, m->hostkey_len, type, &check_why);
    r = oc_sshkey_verify(m->hostkey, m->hostkey_len, m->signature, m->signature_len, m->session_id,
                         m->session_id_len, &why);
    if (r == -ENOMEM) {
        return r;
    }
    for (size_t i = 0; r == 0 && i < c->n_hops; i++) {
        h = &c->hops[i];
        if (!h->forwarded) {
            why = "this connection is already bound to an ssh session for authentication";
            r = -EPERM;
        } else if (bytes_eq(h->sid, h->sid_len, m->session_id, m->session_id_len)) {
            if (bytes_eq(h->hostkey, h->hostkey_len, m->hostkey, m->hostkey_len)) {
                return 0; /* the same bind again */
            }
            why = "this session id is already bound to another host key";
            r = -EPERM;
        }
    }
    if (r == 0 && c->n_hops == AGENT_HOPS_MAX) {
        why = "too many session binds on one connection (16)";
        r = -EPERM;
    }
    if (r < 0) {
        c->bind_refused = true;
        fprintf(stderr,
                AGENT_LOG "refused session-bind@openssh.com for %s host key %s: %s; this "
                          "connection will sign nothing\n",
                type, fp, why);
        return -EPERM;
    }
    h = &c->hops[c->n_hops];
    h->hostkey = malloc(m->hostkey_len);
    if (h->hostkey == NULL) {
        return -ENOMEM;
    }
    memcpy(h->hostkey, m->hostkey, m->hostkey_len);
    h->hostkey_len = m->hostkey_len;
    memcpy(h->sid, m->session_id, m->session_id_len);
    h->sid_len = m->session_id_len;
    h->forwarded = m->forwarding;
    c->n_hops++;
    fprintf(stderr,
            AGENT_LOG "connection bound to an ssh session (host key %s %s, signature verified%s, "
                      "hop %zu)\n",
            type, fp, m->forwarding ? ", forwarded agent" : "", c->n_hops);
    return 0;
}

/* The fields of an SSH_MSG_USERAUTH_REQUEST the agent looks at: the
 * session id and, for publickey-hostbound-v00@openssh.com, the server's
 * host key (NULL otherwise). openclawd checks the whole request. */
static int userauth_fields(const uint8_t *d, size_t len, const uint8_t **ret_sid,
                           size_t *ret_sid_len, const uint8_t **ret_hostkey, size_t *ret_hk_len)
{
    struct oc_ssh_rbuf r = {.p = d, .len = len};
    const uint8_t *s;
    size_t n;
    uint8_t type, flag;

    *ret_hostkey = NULL;
    *ret_hk_len = 0;
    if (!oc_ssh_get_string(&r, ret_sid, ret_sid_len) || !oc_ssh_get_u8(&r, &type) ||
        type != OC_SSH_MSG_USERAUTH_REQUEST) {
        return -EINVAL;
    }
    if (!oc_ssh_get_string(&r, &s, &n) || !oc_ssh_get_string(&r, &s, &n) ||
        !oc_ssh_get_string(&r, &s, &n)) {
        return -EINVAL; /* user, service, method */
    }
    if (bytes_eq(s, n, (const uint8_t *)OC_SSH_METHOD_HOSTBOUND, strlen(OC_SSH_METHOD_HOSTBOUND))) {
        if (!oc_ssh_get_u8(&r, &flag) || !oc_ssh_get_string(&r, &s, &n) ||
            !oc_ssh_get_string(&r, &s, &n) || !oc_ssh_get_string(&r, ret_hostkey, ret_hk_len)) {
            return -EINVAL; /* TRUE, algorithm, key, host key */
        }
    }
    return 0;
}

/*
 * May this connection have data signed? Without --destination: not after
 * a refused bind, and on a connection whose last bind is for
 * authentication only a userauth request for that session (OpenSSH's
 * rule). With --destination, as OpenSSH applies a key's destination
 * constraints: a userauth request only on a connection bound for
 * authentication, for the session it is bound to (and the host key in a
 * host-bound request is that session's), through hops whose host keys
 * are all in the list; SSHSIG data only on a connection not bound to any
 * ssh session (a local one: never through a forwarded agent). Refusals
 * are logged with the reason.
 */
static bool sign_permitted(const struct agent *a, const struct agent_client *c,
                           const struct oc_sshagent_msg *m)
{
    const struct agent_hop *last = c->n_hops > 0 ? &c->hops[c->n_hops - 1] : NULL;
    bool sshsig = m->data_len >= sizeof(OC_SSHSIG_MAGIC) - 1 &&
                  memcmp(m->data, OC_SSHSIG_MAGIC, sizeof(OC_SSHSIG_MAGIC) - 1) == 0;
    bool dest = a->dests.n > 0;
    const uint8_t *sid = NULL, *hk = NULL;
    size_t sid_len = 0, hk_len = 0;
    char fp[OC_SSH_FP_SIZE], why[256];

    why[0] = '\0';
    if (c->bind_refused) {
        snprintf(why, sizeof(why), "a session-bind@openssh.com on this connection was refused");
    } else if (sshsig) {
        if (dest && last != NULL) {
            snprintf(why, sizeof(why),
                     "SSHSIG data through a connection bound to an ssh session (%s); with "
                     "--destination only local connections sign it",
                     last->forwarded ? "a forwarded agent" : "an ssh login");
        }
    } else if (userauth_fields(m->data, m->data_len, &sid, &sid_len, &hk, &hk_len) < 0) {
        if (dest) {
            snprintf(why, sizeof(why), "neither an ssh userauth request nor SSHSIG data");
        }
        /* else openclawd refuses it and audits the refusal */
    } else if (!dest) {
        if (last != NULL && !last->forwarded && !bytes_eq(sid, sid_len, last->sid, last->sid_len)) {
            snprintf(why, sizeof(why),
                     "a userauth request for another ssh session than the one this connection "
                     "is bound to");
        }
    } else if (last == NULL) {
        snprintf(why, sizeof(why),
                 "a userauth request on a connection not bound to an ssh session (with "
                 "--destination, ssh must be OpenSSH 8.9 or later on every hop)");
    } else if (last->forwarded) {
        snprintf(why, sizeof(why),
                 "a userauth request through a forwarded agent whose last host did not bind "
                 "its own session (ssh older than OpenSSH 8.9 there, or not ssh)");
    } else if (!bytes_eq(sid, sid_len, last->sid, last->sid_len)) {
        snprintf(why, sizeof(why),
                 "a userauth request for another ssh session than the one this connection is "
                 "bound to");
    } else if (c->n_hops > 1 && hk == NULL) {
        snprintf(why, sizeof(why),
                 "a userauth request through a forwarded agent names no host key");
    } else if (hk != NULL && !bytes_eq(hk, hk_len, last->hostkey, last->hostkey_len)) {
        snprintf(why, sizeof(why),
                 "the host key in the userauth request is not the bound session's");
    } else {
        for (size_t i = 0; i < c->n_hops && why[0] == '\0'; i++) {
            const struct agent_hop *h = &c->hops[i];
            if (!oc_sshagent_dest_listed(&a->dests, h->hostkey, h->hostkey_len)) {
                if (oc_ssh_fingerprint(h->hostkey, h->hostkey_len, fp) < 0) {
                    snprintf(fp, sizeof(fp), "?");
                }
                snprintf(why, sizeof(why),
                         "host key %s (%s %zu of %zu) is not in the --destination file %s", fp,
                         h->forwarded ? "forwarding hop" : "login, hop", i + 1, c->n_hops,
                         a->opt->destination_file);
            }
        }
    }
    if (why[0] != '\0') {
        fprintf(stderr, AGENT_LOG "refused a signature: %s\n", why);
        return false;
    }
    return true;
}

/* One message from a client; its answer queued. <0: end the connection. */
static int handle_msg(struct agent *a, struct agent_client *c, const uint8_t *body, size_t len)
{
    struct oc_sshagent_msg m;
    uint8_t *out = NULL;
    size_t out_len = 0;
    int r;

    memset(&m, 0, sizeof(m));
    r = oc_sshagent_parse(body, len, &m);
    if (r < 0 && body[0] == OC_SSH_AGENTC_EXTENSION) {
        /* only a session-bind@openssh.com is malformed here: refused as a
         * bind that does not verify is (OpenSSH answers it with a failure) */
        c->bind_refused = true;
        fprintf(stderr, AGENT_LOG "refused a malformed session-bind@openssh.com; this connection "
                                  "will sign nothing\n");
        m.type = OC_SSH_AGENTC_EXTENSION;
    } else if (r < 0) {
        fprintf(stderr, AGENT_LOG "malformed request (type %u); connection closed\n",
                (unsigned)body[0]);
        return -EPROTO;
    }
    if (m.type == OC_SSH_AGENTC_REQUEST_IDENTITIES) {
        r = do_identities(a->opt->daemon_socket, &out, &out_len);
    } else if (m.type == OC_SSH_AGENTC_SIGN_REQUEST) {
        r = sign_permitted(a, c, &m) ? do_sign(a->opt->daemon_socket, &m, &out, &out_len) : -EPERM;
    } else if (m.session_bind) {
        r = session_bind(c, &m);
        if (r == 0) {
            r = build_bare(OC_SSH_AGENT_SUCCESS, &out, &out_len);
        }
    } else {
        r = -EOPNOTSUPP;
    }
    if (r < 0 && oc_sshagent_build_failure(&out, &out_len) < 0) {
        return -ENOMEM;
    }
    c->out = out;
    c->out_len = out_len;
    c->out_off = 0;
    return 0;
}

/* Readable client. <0: end the connection. */
static int client_read(struct agent *a, struct agent_client *c)
{
    uint8_t buf[4096];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    size_t off = 0;

    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return 0;
    }
    if (n <= 0) {
        return -1;
    }
    while (off < (size_t)n) {
        uint8_t *body = NULL;
        size_t used = 0, len = 0;
        int r;

        if (c->out != NULL) {
            return -1; /* one request at a time: the answer is still being sent */
        }
        r = oc_sshagent_reader_feed(&c->rd, buf + off, (size_t)n - off, &used, &body, &len);
        off += used;
        if (r < 0) {
            fprintf(stderr,
                    "openclaw-token --ssh-agent: message length 0 or over %u bytes; "
                    "connection closed\n",
                    OC_SSHAGENT_MSG_MAX);
            return -1;
        }
        if (r == 1) {
            r = handle_msg(a, c, body, len);
            oc_free_wipe(body, len);
            if (r < 0) {
                return -1;
            }
        }
    }
    return 0;
}

static int client_write(struct agent_client *c)
{
    if (c->out != NULL) {
        int r = oc_send_pending(c->fd, c->out, c->out_len, &c->out_off);
        if (r <= 0) {
            return r;
        }
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    return 0;
}

/* The private directory (0700, ours) and the listening socket (0600) in it. */
static int agent_listen(struct agent *a)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *base = a->opt->socket_dir;
    struct stat st;
    mode_t old;
    int n, fd;

    if (base != NULL && *base != '/') {
        fprintf(stderr, "openclaw-token --ssh-agent: --socket-dir must be an absolute path\n");
        return -1;
    }
    if (base == NULL) {
        base = getenv("XDG_RUNTIME_DIR");
        if (base == NULL || *base != '/' || stat(base, &st) < 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != getuid()) {
            base = "/tmp";
        }
    }
    n = snprintf(a->dir, sizeof(a->dir), "%s/" SOCKET_DIR_PREFIX "XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof(a->dir) || mkdtemp(a->dir) == NULL) {
        fprintf(stderr, "openclaw-token --ssh-agent: cannot create a directory in %s: %s\n", base,
                strerror(errno));
        a->dir[0] = '\0';
        return -1;
    }
    if (lstat(a->dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
        (st.st_mode & 077) != 0) {
        fprintf(stderr, "openclaw-token --ssh-agent: %s is not a private directory\n", a->dir);
        return -1;
    }
    n = snprintf(a->sock, sizeof(a->sock), "%s/agent.%ld", a->dir, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof(a->sock)) {
        fprintf(stderr,
                "openclaw-token --ssh-agent: socket path too long under %s (use --socket-dir)\n",
                base);
        a->sock[0] = '\0';
        return -1;
    }
    memcpy(sa.sun_path, a->sock, (size_t)n + 1);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    old = umask(0177);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
        fprintf(stderr, "openclaw-token --ssh-agent: cannot listen on %s: %s\n", a->sock,
                strerror(errno));
        umask(old);
        close(fd);
        a->sock[0] = '\0';
        return -1;
    }
    umask(old);
    a->listen_fd = fd;
    return 0;
}

static void agent_cleanup(struct agent *a)
{
    while (a->n > 0) {
        client_drop(a, a->n - 1);
    }
    if (a->listen_fd >= 0) {
        close(a->listen_fd);
    }
    if (a->signal_fd >= 0) {
        close(a->signal_fd);
    }
    if (a->sock[0] != '\0') {
        unlink(a->sock);
    }
    if (a->dir[0] != '\0') {
        rmdir(a->dir);
    }
    oc_sshagent_free_destinations(&a->dests);
}

static int agent_loop(struct agent *a)
{
    for (;;) {
        struct pollfd p[2 + AGENT_CLIENTS_MAX];
        size_t n = a->n;
        int k;

        p[0] = (struct pollfd){.fd = a->listen_fd, .events = POLLIN};
        p[1] = (struct pollfd){.fd = a->signal_fd, .events = POLLIN};
        for (size_t i = 0; i < n; i++) {
            p[2 + i] = (struct pollfd){.fd = a->clients[i].fd,
                                       .events = a->clients[i].out != NULL ? POLLOUT : POLLIN};
        }
        k = poll(p, 2 + n, PARENT_CHECK_MS);
        if (k < 0 && errno != EINTR) {
            return 1;
        }
        if (a->watch > 1 && kill(a->watch, 0) < 0 && errno == ESRCH) {
            return 0; /* the session it was started in has ended */
        }
        if (k <= 0) {
            continue;
        }
        if ((p[1].revents & POLLIN) != 0) {
            return 0; /* SIGTERM, SIGINT, SIGHUP */
        }
        /* clients first, from the last: dropping one moves the last into its place */
        for (size_t i = n; i-- > 0;) {
            struct agent_client *c = &a->clients[i];
            int r = 0;

            if ((p[2 + i].revents & (POLLERR | POLLNVAL)) != 0) {
                r = -1;
            } else if ((p[2 + i].revents & POLLOUT) != 0) {
                r = client_write(c);
            } else if ((p[2 + i].revents & (POLLIN | POLLHUP)) != 0) {
                r = client_read(a, c);
                if (r == 0 && c->out != NULL) {
                    r = client_write(c);
                }
            }
            if (r < 0) {
                client_drop(a, i);
            }
        }
        if ((p[0].revents & POLLIN) != 0) {
            accept_one(a);
        }
    }
}

/* Not fatal: the agent may start before openclawd (or its key); say so
 * now, when the admin is looking. */
static void warn_without_keys(const char *daemon_socket)
{
    struct oc_sshagent_identity ids[OC_SSHAGENT_IDS_MAX];
    size_t n = 0;

    if (fetch_identities(daemon_socket, ids, &n) == 0 && n == 0) {
        fprintf(stderr,
                "openclaw-token --ssh-agent: warning: openclawd has no ssh key for "
                "uid %u (is it an agent with credential = tpm-certificate?)\n",
                (unsigned)getuid());
    }
    identities_free(ids);
}

int oc_sshagent_run(const struct oc_sshagent_options *opt)
{
    struct agent a;
    sigset_t mask;
    pid_t pid;
    int rc, nul;

    memset(&a, 0, sizeof(a));
    a.opt = opt;
    a.listen_fd = a.signal_fd = -1;
    /* The session it was started in: its leader (the login shell, the ssh
     * session) going away ends the agent; a leader itself watches its parent.
     * getsid() gives 0 when the leader lives outside our PID namespace (a
     * container entered with exec): then nothing is watched and the agent
     * lives until it is killed, as ssh-agent does. Never the plain parent
     * otherwise: under eval "$(...)" that is a subshell which exits at once. */
    a.watch = getsid(0);
    if (a.watch == getpid()) {
        a.watch = getppid();
    }
    if (a.watch <= 1) {
        a.watch = 0;
    }
    if (opt->destination_file != NULL) {
        const char *why = "";
        size_t line = 0;
        if (oc_sshagent_load_destinations(opt->destination_file, &a.dests, &line, &why) < 0) {
            if (line > 0) {
                fprintf(stderr, AGENT_LOG "--destination %s, line %zu: %s\n", opt->destination_file,
                        line, why);
            } else {
                fprintf(stderr, AGENT_LOG "--destination %s: %s\n", opt->destination_file, why);
            }
            return 1;
        }
        fprintf(stderr,
                AGENT_LOG "%zu destination host key(s) from %s: the key signs ssh logins "
                          "only to those hosts\n",
                a.dests.n, opt->destination_file);
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    /* blocked before the socket exists: a signal never leaves it behind */
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || agent_listen(&a) < 0) {
        agent_cleanup(&a);
        return 1;
    }
    warn_without_keys(opt->daemon_socket);
    fflush(stdout);
    pid = opt->foreground ? getpid() : fork();
    if (pid < 0) {
        fprintf(stderr, "openclaw-token --ssh-agent: fork: %s\n", strerror(errno));
        agent_cleanup(&a);
        return 1;
    }
    if (pid != 0 || opt->foreground) {
        printf("SSH_AUTH_SOCK=%s; export SSH_AUTH_SOCK;\n"
               "SSH_AGENT_PID=%ld; export SSH_AGENT_PID;\n"
               "echo Agent pid %ld;\n",
               a.sock, (long)pid, (long)pid);
        fflush(stdout);
        if (!opt->foreground) {
            /* the child owns the socket now */
            close(a.listen_fd);
            _exit(0);
        }
    } else {
        (void)setsid();
        if (chdir("/") < 0) {
            /* nothing in the loop uses relative paths */
        }
        nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nul >= 0) {
            (void)dup2(nul, STDIN_FILENO);
            (void)dup2(nul, STDOUT_FILENO);
            (void)dup2(nul, STDERR_FILENO);
            if (nul > STDERR_FILENO) {
                close(nul);
            }
        }
    }
    a.signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (a.signal_fd < 0) {
        agent_cleanup(&a);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = agent_loop(&a);
    agent_cleanup(&a);
    return rc;
}
