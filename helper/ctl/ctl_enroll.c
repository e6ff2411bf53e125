/* SPDX-License-Identifier: MIT */
/*
 * ctl_enroll.c: `openclawctl enroll NAME`, an agent's bootstrap done safely.
 *
 *   1. a TPM-bound signing key and its self-signed certificate (ctl_tpm.h),
 *      reused when NAME's key file already exists;
 *   2. through Microsoft Graph, with an admin's access token read from a
 *      0600 file: the certificate added to an existing application
 *      (--app-id; PATCH keeping the other keys, or addKey with a proof
 *      signed by a certificate the app already trusts), or a new
 *      application + service principal (--create), found again on a rerun
 *      by its tag and display name, so nothing is created twice;
 *   3. the [agent NAME] section printed or appended atomically to the
 *      configuration, never replacing a section for another app;
 *   4. the Entra-side steps left to an admin, as exact Graph calls.
 *
 * Nothing secret is written: the private key never leaves the TPM, the
 * admin token is only read, and the certificate is public.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf.h"
#include "helper/ctl/ctl.h"
#include "helper/ctl/ctl_graph.h"
#include "helper/ctl/ctl_tpm.h"
#include "json.h"
#include "util.h"

#define ENROLL_TAG            "openclaw-agent"
#define ENROLL_DISPLAY_MAX    120  /* characters in a display name we create */
#define ENROLL_PATH_MAX       1024 /* a key or certificate path */
#define ENROLL_CERT_DAYS      365
#define ENROLL_RENEW_MARGIN   (7 * 86400) /* a certificate closer to expiry is remade */
#define ENROLL_PROOF_AUDIENCE "00000002-0000-0000-c000-000000000000"
#define GRAPH_APP_READ_ROLE   "AppRoleAssignment.ReadWrite.All"
#define GRAPH_APP_ID          "00000003-0000-0000-c000-000000000000" /* Microsoft Graph */

struct enroll {
    const char *name;
    const char *app_id; /* --app-id */
    bool create;
    const char *display_name;
    const char *token_file;
    const char *graph_url;
    const char *ca_file;
    const char *config_path;
    bool config_given;
    unsigned cflags;
    const char *tcti;
    const char *keys_dir;
    const char *alg;
    const char *proof_key;
    const char *proof_cert;
    const char *resource_app_id;
    bool print_config;
    bool write_config;

    struct oc_config *cfg; /* NULL when there is no configuration file */
    char key_file[ENROLL_PATH_MAX];
    char cert_file[ENROLL_PATH_MAX];
    char host[256];
    char dn[ENROLL_DISPLAY_MAX + 1];
    char *cert_b64;                /* base64 DER */
    char sha1_hex[41];             /* upper-case SHA-1 of the DER */
    char sha1_b64[29];             /* base64 of the 20 bytes */
    char x5t256[OC_X5T_S256_SIZE]; /* for the messages */
    X509 *cert;
    struct ctl_graph *graph;

    char obj_id[OC_GUID_SIZE]; /* application object id */
    char appid[OC_GUID_SIZE];  /* application (client) id */
    char sp_id[OC_GUID_SIZE];  /* service principal object id */
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: openclawctl enroll NAME (--app-id GUID | --create [--display-name TEXT])\n"
            "         --admin-token-file FILE [--graph URL] [--ca-file FILE]\n"
            "         [--proof-key KEY --proof-cert CERT] [--resource-app-id GUID]\n"
            "         [--print-config | --write-config] [--config FILE] [--tcti S]\n"
            "         [--keys-dir DIR] [--alg rsa|ecc]\n\n"
            "Makes NAME's TPM-bound key and certificate (reused when they exist), registers\n"
            "the certificate on an Entra application through Microsoft Graph, and prints\n"
            "the [agent NAME] section and what an Entra admin must still do.\n\n"
            "  --app-id GUID          add the certificate to this existing application\n"
            "  --create               register a new application + service principal\n"
            "  --display-name TEXT    its display name (default: NAME on this host)\n"
            "  --admin-token-file F   a Graph access token (Application.ReadWrite.All);\n"
            "                         the file must be yours and mode 0600\n"
            "  --proof-key/--proof-cert  add the key with addKey, proving possession of a\n"
            "                         certificate the app already has (no admin rights needed)\n"
            "  --graph URL            default %s\n"
            "  --ca-file FILE         CA for Graph (default: ca_file of the config, else system)\n"
            "  --resource-app-id GUID the host's resource application (for the role steps;\n"
            "                         default: a GUID in the config's audiences)\n"
            "  --write-config         append the section to the configuration (atomic)\n"
            "  --print-config         print only the section on stdout\n\n"
            "Exit status: 0 enrolled, 1 Graph or the TPM refused, 2 usage or configuration.\n",
            CTL_GRAPH_DEFAULT_URL);
}

/* ---- local side: key and certificate ---- */

static X509 *load_cert(const char *path)
{
    FILE *f = fopen(path, "re");
    X509 *x = NULL;

    if (f != NULL) {
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    return x;
}

static bool cert_current(X509 *x)
{
    time_t soon = time(NULL) + ENROLL_RENEW_MARGIN;
    return X509_cmp_current_time(X509_get0_notBefore(x)) < 0 &&
           X509_cmp_time(X509_get0_notAfter(x), &soon) > 0;
}

static int cert_encode(struct enroll *e)
{
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int dl = i2d_X509(e->cert, &der);
    char x5t[OC_X5T_SIZE];

    if (dl <= 0) {
        return -EINVAL;
    }
    e->cert_b64 = malloc(((size_t)dl + 2) / 3 * 4 + 1);
    if (e->cert_b64 == NULL || EVP_Digest(der, (size_t)dl, md, &mdlen, EVP_sha1(), NULL) != 1) {
        OPENSSL_free(der);
        return -ENOMEM;
    }
    EVP_EncodeBlock((unsigned char *)e->cert_b64, der, dl);
    OPENSSL_free(der);
    for (unsigned i = 0; i < mdlen && i < 20; i++) {
        (void)snprintf(e->sha1_hex + 2 * i, 3, "%02X", md[i]);
    }
    EVP_EncodeBlock((unsigned char *)e->sha1_b64, md, 20);
    return oc_cert_thumbprints(e->cert, x5t, e->x5t256);
}

/* Files of ours: owned by the daemon's user when root runs enroll. */
static void give_to_daemon(const char *path)
{
    struct passwd *pw;

    if (geteuid() != 0 || (pw = getpwnam("openclaw")) == NULL) {
        return;
    }
    if (chown(path, pw->pw_uid, pw->pw_gid) < 0) {
        fprintf(stderr, "enroll: warning: cannot give %s to user openclaw: %s\n", path,
                strerror(errno));
    }
}

static int make_credential(struct enroll *e)
{
    struct ctl_tpm_target t = {
            .tcti = e->tcti, .keys_dir = e->keys_dir, .allow_software_keys = false, .msg = stderr};
    char x5t[OC_X5T_SIZE], x5t256[OC_X5T_S256_SIZE], subject[300];
    bool new_key = false;
    struct stat st;
    int r;

    if (e->cfg != NULL) {
        t.allow_software_keys = e->cfg->global.allow_software_keys;
    }
    if (mkdir(e->keys_dir, 0700) == 0) {
        give_to_daemon(e->keys_dir);
    } else if (errno != EEXIST) {
        fprintf(stderr, "enroll: cannot create the keys directory %s: %s\n", e->keys_dir,
                strerror(errno));
        return CTL_EXIT_USAGE;
    }
    if (lstat(e->key_file, &st) == 0) {
        if (!S_ISREG(st.st_mode)) {
            fprintf(stderr, "enroll: %s exists and is not a regular file: remove it\n",
                    e->key_file);
            return CTL_EXIT_USAGE;
        }
        fprintf(stderr, "enroll: key %s exists: reused\n", e->key_file);
    } else {
        r = ctl_tpm_keygen_file(&t, e->alg, e->key_file);
        if (r != CTL_EXIT_OK) {
            return r;
        }
        new_key = true;
        give_to_daemon(e->key_file);
    }
    if (!new_key && (e->cert = load_cert(e->cert_file)) != NULL && cert_current(e->cert)) {
        fprintf(stderr, "enroll: certificate %s exists and is current: reused\n", e->cert_file);
    } else {
        X509_free(e->cert);
        e->cert = NULL;
        (void)snprintf(subject, sizeof(subject), "openclaw %s@%s", e->name, e->host);
        r = ctl_tpm_cert_file(&t, e->key_file, subject, ENROLL_CERT_DAYS, e->cert_file, x5t,
                              x5t256);
        if (r != CTL_EXIT_OK) {
            return r;
        }
        give_to_daemon(e->cert_file);
        e->cert = load_cert(e->cert_file);
        if (e->cert == NULL) {
            fprintf(stderr, "enroll: cannot read back %s\n", e->cert_file);
            return CTL_EXIT_REFUSED;
        }
        fprintf(stderr, "enroll: certificate %s made (CN=%s)\n", e->cert_file, subject);
    }
    if (cert_encode(e) < 0) {
        fprintf(stderr, "enroll: cannot encode the certificate %s\n", e->cert_file);
        return CTL_EXIT_REFUSED;
    }
    fprintf(stderr, "enroll: certificate thumbprint SHA-1 %s, x5t#S256 %s\n", e->sha1_hex,
            e->x5t256);
    return CTL_EXIT_OK;
}

/* ---- Graph side ---- */

/* One Graph call; non-2xx is explained. Returns 0, or CTL_EXIT_REFUSED after a message. */
static int graph(struct enroll *e, const char *what, const char *method, const char *path,
                 const cJSON *body, cJSON **ret)
{
    char err[CTL_GRAPH_ERR_MAX + 256];
    char *text = NULL;
    cJSON *j = NULL;
    long status = 0;
    int r;

    if (body != NULL && (text = cJSON_PrintUnformatted(body)) == NULL) {
        return CTL_EXIT_REFUSED;
    }
    r = ctl_graph_call(e->graph, method, path, text, &status, &j, err, sizeof(err));
    cJSON_free(text);
    if (r < 0) {
        fprintf(stderr, "enroll: %s: %s\n", what, err);
        return CTL_EXIT_REFUSED;
    }
    if (status < 200 || status > 299) {
        ctl_graph_explain(status == 401 ? "the admin token" : what, status, j, err, sizeof(err));
        fprintf(stderr, "enroll: %s\n", err);
        cJSON_Delete(j);
        return CTL_EXIT_REFUSED;
    }
    if (ret != NULL) {
        *ret = j;
    } else {
        cJSON_Delete(j);
    }
    return 0;
}

/* GET a collection with $filter=FIELD eq 'VALUE'; returns the "value" array's owner. */
static int graph_find(struct enroll *e, const char *coll, const char *field, const char *value,
                      cJSON **ret)
{
    char q[600], path[800], what[200];

    if (ctl_graph_odata_quote(value, q, sizeof(q)) < 0) {
        fprintf(stderr, "enroll: '%s' cannot be used in a Graph filter\n", value);
        return CTL_EXIT_USAGE;
    }
    (void)snprintf(path, sizeof(path), "/v1.0/%s?$filter=%s%%20eq%%20%%27%s%%27", coll, field, q);
    (void)snprintf(what, sizeof(what), "the lookup of %s by %s", coll, field);
    return graph(e, what, "GET", path, NULL, ret);
}

static const cJSON *values(const cJSON *list)
{
    const cJSON *v = oc_json_member(list, "value");
    return cJSON_IsArray(v) ? v : NULL;
}

static int copy_guid(const cJSON *obj, const char *name, char out[OC_GUID_SIZE])
{
    const char *s = NULL;
    if (oc_json_get_string(obj, name, 64, &s) < 0 || s == NULL || oc_guid_normalize(s, out) < 0) {
        return -EINVAL;
    }
    return 0;
}

static bool has_tag(const cJSON *obj, const char *tag)
{
    const cJSON *t, *tags = oc_json_member(obj, "tags");
    cJSON_ArrayForEach(t, tags)
    {
        if (cJSON_IsString(t) && strcmp(t->valuestring, tag) == 0) {
            return true;
        }
    }
    return false;
}

/* True when app's keyCredentials hold our certificate (hex or base64 thumbprint). */
static bool has_our_key(const struct enroll *e, const cJSON *app)
{
    const cJSON *k, *keys = oc_json_member(app, "keyCredentials");
    cJSON_ArrayForEach(k, keys)
    {
        const char *id = NULL;
        if (oc_json_get_string(k, "customKeyIdentifier", 128, &id) == 0 && id != NULL &&
            (oc_streq_ascii_nocase(id, e->sha1_hex) || strcmp(id, e->sha1_b64) == 0)) {
            return true;
        }
    }
    return false;
}

static cJSON *key_credential(const struct enroll *e)
{
    cJSON *k = cJSON_CreateObject();
    char dn[300];

    (void)snprintf(dn, sizeof(dn), "openclaw %s@%s (TPM)", e->name, e->host);
    if (k == NULL || cJSON_AddStringToObject(k, "type", "AsymmetricX509Cert") == NULL ||
        cJSON_AddStringToObject(k, "usage", "Verify") == NULL ||
        cJSON_AddStringToObject(k, "key", e->cert_b64) == NULL ||
        cJSON_AddStringToObject(k, "displayName", dn) == NULL) {
        cJSON_Delete(k);
        return NULL;
    }
    return k;
}

/* PATCH keyCredentials = the existing ones (by keyId, key kept) + ours. */
static int patch_add_key(struct enroll *e, const cJSON *app)
{
    cJSON *body = cJSON_CreateObject(), *arr, *k;
    const cJSON *old, *keys = oc_json_member(app, "keyCredentials");
    char path[128];
    int r = CTL_EXIT_REFUSED;

    if (body == NULL || (arr = cJSON_AddArrayToObject(body, "keyCredentials")) == NULL) {
        goto out;
    }
    cJSON_ArrayForEach(old, keys)
    {
        cJSON *c = cJSON_Duplicate(old, true);
        if (c == NULL) {
            goto out;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(c, "key"); /* null in GET: kept by keyId */
        cJSON_AddItemToArray(arr, c);
    }
    if ((k = key_credential(e)) == NULL) {
        goto out;
    }
    cJSON_AddItemToArray(arr, k);
    (void)snprintf(path, sizeof(path), "/v1.0/applications/%s", e->obj_id);
    r = graph(e, "adding the certificate to the application (PATCH keyCredentials)", "PATCH", path,
              body, NULL);
out:
    cJSON_Delete(body);
    return r;
}

/* addKey with a proof JWT signed by a certificate the app already trusts. */
static int addkey_with_proof(struct enroll *e)
{
    struct ctl_tpm_target t = {.tcti = e->tcti, .keys_dir = e->keys_dir, .msg = stderr};
    struct oc_assertion_params p = {.client_id = e->obj_id,
                                    .audience = ENROLL_PROOF_AUDIENCE,
                                    .now = (int64_t)time(NULL),
                                    .lifetime = 300};
    X509 *pc = load_cert(e->proof_cert);
    cJSON *body = NULL, *k;
    char *proof = NULL, path[160];
    int r;

    if (pc == NULL) {
        fprintf(stderr, "enroll: %s is not a PEM certificate\n", e->proof_cert);
        return CTL_EXIT_USAGE;
    }
    if (e->cfg != NULL) {
        t.allow_software_keys = e->cfg->global.allow_software_keys;
    }
    r = ctl_tpm_assertion(&t, e->proof_key, pc, &p, &proof);
    X509_free(pc);
    if (r != CTL_EXIT_OK) {
        return r;
    }
    r = CTL_EXIT_REFUSED;
    body = cJSON_CreateObject();
    if (body == NULL || (k = key_credential(e)) == NULL) {
        goto out;
    }
    cJSON_AddItemToObject(body, "keyCredential", k);
    cJSON_AddNullToObject(body, "passwordCredential");
    if (cJSON_AddStringToObject(body, "proof", proof) == NULL) {
        goto out;
    }
    (void)snprintf(path, sizeof(path), "/v1.0/applications/%s/addKey", e->obj_id);
    r = graph(e, "adding the certificate with addKey (proof of possession)", "POST", path, body,
              NULL);
out:
    cJSON_Delete(body);
    free(proof);
    return r;
}

/* Our certificate on the app (unless it is there already); then checked by a GET. */
static int ensure_key(struct enroll *e, const cJSON *app)
{
    char path[128];
    cJSON *again = NULL;
    int r;

    if (has_our_key(e, app)) {
        fprintf(stderr, "enroll: the certificate is registered on application %s\n", e->appid);
        return CTL_EXIT_OK;
    }
    r = e->proof_key != NULL ? addkey_with_proof(e) : patch_add_key(e, app);
    if (r != CTL_EXIT_OK) {
        return r;
    }
    (void)snprintf(path, sizeof(path), "/v1.0/applications/%s", e->obj_id);
    r = graph(e, "reading the application back", "GET", path, NULL, &again);
    if (r != CTL_EXIT_OK) {
        return r;
    }
    if (!has_our_key(e, again)) {
        fprintf(stderr,
                "enroll: Graph accepted the certificate but application %s does not "
                "list it: run enroll again\n",
                e->appid);
        r = CTL_EXIT_REFUSED;
    } else {
        fprintf(stderr, "enroll: certificate %s registered on application %s\n", e->sha1_hex,
                e->appid);
    }
    cJSON_Delete(again);
    return r;
}

static int app_by_appid(struct enroll *e, const char *appid, cJSON **ret_list,
                        const cJSON **ret_app)
{
    cJSON *list = NULL;
    const cJSON *v;
    int r = graph_find(e, "applications", "appId", appid, &list);

    if (r != CTL_EXIT_OK) {
        return r;
    }
    v = values(list);
    if (v == NULL || cJSON_GetArraySize(v) != 1) {
        fprintf(stderr,
                "enroll: no application with appId %s in this tenant: check the id (Entra "
                "admin center > App registrations > Application (client) ID) or use --create\n",
                appid);
        cJSON_Delete(list);
        return CTL_EXIT_REFUSED;
    }
    *ret_list = list;
    *ret_app = cJSON_GetArrayItem(v, 0);
    return CTL_EXIT_OK;
}

/* --create: find our earlier app (tag + display name), else make one. */
static int find_or_create_app(struct enroll *e, cJSON **ret_holder, const cJSON **ret_app)
{
    cJSON *list = NULL, *body = NULL, *tags, *keys, *k, *created = NULL;
    const cJSON *v, *a, *mine = NULL;
    unsigned tagged = 0;
    int r = graph_find(e, "applications", "displayName", e->dn, &list);

    if (r != CTL_EXIT_OK) {
        return r;
    }
    v = values(list);
    cJSON_ArrayForEach(a, v)
    {
        if (!has_tag(a, ENROLL_TAG)) {
            continue;
        }
        tagged++;
        if (has_our_key(e, a) || cJSON_GetArraySize(oc_json_member(a, "keyCredentials")) == 0) {
            mine = a;
        }
    }
    if (mine != NULL) {
        fprintf(stderr, "enroll: application '%s' exists (made by an earlier enroll): reused\n",
                e->dn);
        *ret_holder = list;
        *ret_app = mine;
        return CTL_EXIT_OK;
    }
    if (tagged > 0) {
        fprintf(stderr,
                "enroll: an openclaw application named '%s' already exists with other "
                "certificates: add this host's certificate to it with --app-id, or choose "
                "another --display-name\n",
                e->dn);
        cJSON_Delete(list);
        return CTL_EXIT_REFUSED;
    }
    cJSON_Delete(list);
    r = CTL_EXIT_REFUSED;
    body = cJSON_CreateObject();
    if (body == NULL || cJSON_AddStringToObject(body, "displayName", e->dn) == NULL ||
        cJSON_AddStringToObject(body, "signInAudience", "AzureADMyOrg") == NULL ||
        (tags = cJSON_AddArrayToObject(body, "tags")) == NULL ||
        (keys = cJSON_AddArrayToObject(body, "keyCredentials")) == NULL ||
        (k = key_credential(e)) == NULL) {
        goto out;
    }
    cJSON_AddItemToArray(tags, cJSON_CreateString(ENROLL_TAG));
    cJSON_AddItemToArray(keys, k);
    r = graph(e, "creating the application", "POST", "/v1.0/applications", body, &created);
    if (r == CTL_EXIT_OK) {
        fprintf(stderr, "enroll: application '%s' created\n", e->dn);
        *ret_holder = created;
        *ret_app = created;
    }
out:
    cJSON_Delete(body);
    return r;
}

/* The service principal of e->appid, created (and tagged) when missing. */
static int ensure_sp(struct enroll *e)
{
    cJSON *list = NULL, *body = NULL, *sp = NULL, *tags;
    const cJSON *v;
    int r = graph_find(e, "servicePrincipals", "appId", e->appid, &list);

    if (r != CTL_EXIT_OK) {
        return r;
    }
    v = values(list);
    if (v != NULL && cJSON_GetArraySize(v) > 0) {
        r = copy_guid(cJSON_GetArrayItem(v, 0), "id", e->sp_id) < 0 ? CTL_EXIT_REFUSED : 0;
        if (r == 0) {
            fprintf(stderr, "enroll: service principal %s exists\n", e->sp_id);
        }
        cJSON_Delete(list);
        return r;
    }
    cJSON_Delete(list);
    r = CTL_EXIT_REFUSED;
    body = cJSON_CreateObject();
    if (body == NULL || cJSON_AddStringToObject(body, "appId", e->appid) == NULL ||
        (tags = cJSON_AddArrayToObject(body, "tags")) == NULL) {
        goto out;
    }
    cJSON_AddItemToArray(tags, cJSON_CreateString(ENROLL_TAG));
    r = graph(e, "creating the service principal", "POST", "/v1.0/servicePrincipals", body, &sp);
    if (r == CTL_EXIT_OK) {
        if (copy_guid(sp, "id", e->sp_id) < 0) {
            fprintf(stderr, "enroll: Graph's service principal has no id\n");
            r = CTL_EXIT_REFUSED;
        } else {
            fprintf(stderr, "enroll: service principal %s created (tagged %s)\n", e->sp_id,
                    ENROLL_TAG);
        }
    }
out:
    cJSON_Delete(body);
    cJSON_Delete(sp);
    return r;
}

static int register_app(struct enroll *e)
{
    cJSON *holder = NULL;
    const cJSON *app = NULL;
    int r;

    if (e->app_id != NULL) {
        r = app_by_appid(e, e->app_id, &holder, &app);
    } else {
        r = find_or_create_app(e, &holder, &app);
    }
    if (r != CTL_EXIT_OK) {
        return r;
    }
    if (copy_guid(app, "id", e->obj_id) < 0 || copy_guid(app, "appId", e->appid) < 0) {
        fprintf(stderr, "enroll: Graph's application has no id or appId\n");
        cJSON_Delete(holder);
        return CTL_EXIT_REFUSED;
    }
    r = ensure_key(e, app);
    cJSON_Delete(holder);
    if (r != CTL_EXIT_OK) {
        return r;
    }
    return ensure_sp(e);
}

/* ---- configuration ---- */

static int section_text(const struct enroll *e, char *buf, size_t len)
{
    int n = snprintf(buf, len,
                     "[agent %s]\n"
                     "app_id = %s\n"
                     "object_id = %s\n"
                     "display_name = %s\n"
                     "credential = tpm-certificate\n"
                     "key_file = %s\n"
                     "cert_file = %s\n",
                     e->name, e->appid, e->sp_id, e->dn, e->key_file, e->cert_file);
    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

static int read_whole(const char *path, char **ret, size_t *ret_len, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    char *buf;
    size_t n = 0;

    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_size > OC_CONFIG_FILE_MAX) {
        close(fd);
        return -EINVAL;
    }
    buf = malloc((size_t)st->st_size + 1);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    while (n < (size_t)st->st_size) {
        ssize_t k = read(fd, buf + n, (size_t)st->st_size - n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        n += (size_t)k;
    }
    close(fd);
    buf[n] = '\0';
    *ret = buf;
    *ret_len = n;
    return 0;
}

/* Append the section: temp file in the same directory, fsync, rename. */
static int write_config(const struct enroll *e, const char *section)
{
    const struct oc_agent *a;
    struct oc_config *check = NULL;
    struct oc_config_error err;
    char *old = NULL, *all = NULL, tmp[ENROLL_PATH_MAX + 16], msg[1024];
    size_t old_len = 0, all_len;
    struct stat st;
    int fd = -1, r;

    if (e->cfg != NULL && (a = oc_config_agent_by_name(e->cfg, e->name)) != NULL) {
        if (oc_guid_equal(a->app_id, e->appid) && oc_guid_equal(a->object_id, e->sp_id)) {
            fprintf(stderr, "enroll: %s already has [agent %s] for this app: unchanged\n",
                    e->config_path, e->name);
            return CTL_EXIT_OK;
        }
        fprintf(stderr,
                "enroll: %s:%u: [agent %s] is configured for another app (%s): not replaced; "
                "remove that section yourself, or enroll under another NAME\n",
                e->config_path, a->line, e->name, a->app_id);
        return CTL_EXIT_REFUSED;
    }
    if (e->cfg != NULL && (a = oc_config_agent_by_app_id(e->cfg, e->appid)) != NULL) {
        fprintf(stderr,
                "enroll: %s:%u: app %s is already configured as [agent %s]: not added twice\n",
                e->config_path, a->line, e->appid, a->name);
        return CTL_EXIT_REFUSED;
    }
    r = read_whole(e->config_path, &old, &old_len, &st);
    if (r < 0) {
        fprintf(stderr, "enroll: cannot read %s: %s\n", e->config_path, strerror(-r));
        return CTL_EXIT_USAGE;
    }
    all_len = old_len + strlen(section) + 2;
    all = malloc(all_len + 1);
    if (all == NULL) {
        free(old);
        return CTL_EXIT_REFUSED;
    }
    (void)snprintf(all, all_len + 1, "%s%s\n%s", old,
                   old_len > 0 && old[old_len - 1] != '\n' ? "\n" : "", section);
    free(old);
    all_len = strlen(all);
    /* the result must load: a section we add never breaks the file */
    memset(&err, 0, sizeof(err));
    r = oc_config_parse(all, all_len, e->config_path, OC_CONFIG_INSECURE_OK, &check, &err);
    if (r < 0) {
        (void)oc_config_error_format(&err, msg, sizeof(msg));
        fprintf(stderr,
                "enroll: the configuration would not load with the new section (%s): "
                "nothing written\n",
                msg);
        free(all);
        return CTL_EXIT_REFUSED;
    }
    oc_config_free(check);
    (void)snprintf(tmp, sizeof(tmp), "%s.enrollXXXXXX", e->config_path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "enroll: cannot create a temporary file next to %s: %s\n", e->config_path,
                strerror(errno));
        free(all);
        return CTL_EXIT_USAGE;
    }
    r = 0;
    if (fchmod(fd, st.st_mode & 07777) < 0 ||
        (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0)) {
        r = -errno;
    }
    for (size_t off = 0; r == 0 && off < all_len;) {
        ssize_t k = write(fd, all + off, all_len - off);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            r = -errno;
            break;
        }
        off += (size_t)k;
    }
    if (r == 0 && fsync(fd) < 0) {
        r = -errno;
    }
    close(fd);
    if (r == 0 && rename(tmp, e->config_path) < 0) {
        r = -errno;
    }
    free(all);
    if (r < 0) {
        (void)unlink(tmp);
        fprintf(stderr, "enroll: cannot write %s: %s\n", e->config_path, strerror(-r));
        return CTL_EXIT_REFUSED;
    }
    fprintf(stderr, "enroll: [agent %s] added to %s\n", e->name, e->config_path);
    return CTL_EXIT_OK;
}

/* ---- what an Entra admin still does ---- */

static void role_ids(struct enroll *e, const char *res_appid, char *res_sp, size_t res_sp_len,
                     char *login, char *sudo, size_t role_len)
{
    cJSON *list = NULL;
    const cJSON *v, *sp, *r, *roles;

    (void)snprintf(res_sp, res_sp_len, "<SP id of the resource app %s>", res_appid);
    (void)snprintf(login, role_len, "<id of the app role Host.Login>");
    (void)snprintf(sudo, role_len, "<id of the app role Host.Sudo>");
    if (graph_find(e, "servicePrincipals", "appId", res_appid, &list) != CTL_EXIT_OK) {
        return;
    }
    v = values(list);
    sp = v != NULL ? cJSON_GetArrayItem(v, 0) : NULL;
    if (sp == NULL) {
        cJSON_Delete(list);
        return;
    }
    char id[OC_GUID_SIZE];
    if (copy_guid(sp, "id", id) == 0) {
        (void)snprintf(res_sp, res_sp_len, "%s", id);
    }
    roles = oc_json_member(sp, "appRoles");
    cJSON_ArrayForEach(r, roles)
    {
        const char *val = NULL;
        if (oc_json_get_string(r, "value", 256, &val) < 0 || val == NULL ||
            copy_guid(r, "id", id) < 0) {
            continue;
        }
        if (strcmp(val, "Host.Login") == 0) {
            (void)snprintf(login, role_len, "%s", id);
        } else if (strcmp(val, "Host.Sudo") == 0) {
            (void)snprintf(sudo, role_len, "%s", id);
        }
    }
    cJSON_Delete(list);
}

static void print_next_steps(struct enroll *e, FILE *out)
{
    char res_sp[128], login[64], sudo[64];
    const char *res = e->resource_app_id;

    if (res == NULL && e->cfg != NULL) {
        for (size_t i = 0; i < e->cfg->global.audiences.n; i++) {
            if (oc_is_guid(e->cfg->global.audiences.items[i])) {
                res = e->cfg->global.audiences.items[i];
                break;
            }
        }
    }
    fprintf(out,
            "\nWhat an Entra admin must still do (Graph with AppRoleAssignment.ReadWrite.All, or "
            "the portal):\n");
    if (res == NULL) {
        fprintf(out,
                "  (the host's resource application is not known: rerun with "
                "--resource-app-id GUID to get the exact calls)\n"
                "  Assign the app roles Host.Login (ssh) and Host.Sudo (sudo) of the host's "
                "resource application to the service principal %s.\n",
                e->sp_id);
        return;
    }
    role_ids(e, res, res_sp, sizeof(res_sp), login, sudo, sizeof(login));
    fprintf(out,
            "  1. Let the agent log in (app role Host.Login). For an application, the admin's\n"
            "     assignment is the consent. Needs %s; in the portal: App\n"
            "     registrations > the agent's app > API permissions > Add a permission > My APIs\n"
            "     > the host's resource app > Application permissions > Host.Login, then Grant\n"
            "     admin consent:\n"
            "       POST %s/v1.0/servicePrincipals/%s/appRoleAssignedTo\n"
            "       Content-Type: application/json\n"
            "       {\"principalId\": \"%s\", \"resourceId\": \"%s\", \"appRoleId\": \"%s\"}\n",
            GRAPH_APP_READ_ROLE, e->graph_url, res_sp, e->sp_id, res_sp, login);
    fprintf(out,
            "  2. Only if the agent may use sudo (app role Host.Sudo):\n"
            "       POST %s/v1.0/servicePrincipals/%s/appRoleAssignedTo\n"
            "       Content-Type: application/json\n"
            "       {\"principalId\": \"%s\", \"resourceId\": \"%s\", \"appRoleId\": \"%s\"}\n",
            e->graph_url, res_sp, e->sp_id, res_sp, sudo);
    fprintf(out,
            "  3. Check: GET %s/v1.0/servicePrincipals/%s/appRoleAssignments\n"
            "     Revoke later with DELETE %s/v1.0/servicePrincipals/%s/appRoleAssignedTo/"
            "{assignment id}\n",
            e->graph_url, e->sp_id, e->graph_url, res_sp);
}

/* ---- command ---- */

static bool hostile_free(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f || *p == '[' || *p == ']' || *p == '\\') {
            return false;
        }
    }
    return true;
}

static int check_name(const struct enroll *e)
{
    struct passwd *pw;

    if (!oc_valid_user_name(e->name)) {
        fprintf(stderr,
                "enroll: '%s' is not a valid agent name: use a Unix user name "
                "([a-z_][a-z0-9_-]*, at most 32 characters)\n",
                e->name);
        return -EINVAL;
    }
    pw = getpwnam(e->name);
    if (pw != NULL && (e->cfg == NULL || oc_config_agent_by_name(e->cfg, e->name) == NULL)) {
        fprintf(stderr,
                "enroll: '%s' is already a user of this host (uid %u): an agent must not take "
                "over a local account; choose another NAME\n",
                e->name, (unsigned)pw->pw_uid);
        return -EEXIST;
    }
    return 0;
}

static int load_config(struct enroll *e)
{
    struct oc_config_error err;
    char msg[1024];
    int r;

    memset(&err, 0, sizeof(err));
    r = oc_config_load(e->config_path, e->cflags, &e->cfg, &err);
    if (r == -ENOENT && !e->config_given && !e->write_config) {
        e->cfg = NULL;
        return 0;
    }
    if (r < 0) {
        if (oc_config_error_format(&err, msg, sizeof(msg)) < 0 || msg[0] == '\0') {
            (void)snprintf(msg, sizeof(msg), "%s: %s", e->config_path, strerror(-r));
        }
        fprintf(stderr, "enroll: %s\n", msg);
        return r;
    }
    return 0;
}

static int run_enroll(struct enroll *e)
{
    char section[4096], err[CTL_GRAPH_ERR_MAX + 256];
    int r;

    if (load_config(e) < 0 || check_name(e) < 0) {
        return CTL_EXIT_USAGE;
    }
    /* a section for another app is refused before anything changes in Entra */
    const struct oc_agent *known = e->cfg != NULL ? oc_config_agent_by_name(e->cfg, e->name) : NULL;
    if (known != NULL && e->app_id != NULL && !oc_guid_equal(known->app_id, e->app_id)) {
        fprintf(stderr,
                "enroll: %s:%u: [agent %s] is configured for app %s, not %s: nothing done; "
                "enroll under another NAME or remove that section first\n",
                e->config_path, known->line, e->name, known->app_id, e->app_id);
        return CTL_EXIT_REFUSED;
    }
    if (known != NULL && e->create) {
        fprintf(stderr, "enroll: [agent %s] is configured (app %s): that application is reused\n",
                e->name, known->app_id);
        e->app_id = known->app_id;
        e->create = false;
    }
    if (e->tcti == NULL && e->cfg != NULL) {
        e->tcti = e->cfg->global.tcti;
    }
    if (e->keys_dir == NULL) {
        e->keys_dir = e->cfg != NULL && e->cfg->global.keys_dir != NULL ? e->cfg->global.keys_dir
                                                                        : OC_TPM_DEFAULT_KEYS_DIR;
    }
    if (e->keys_dir[0] != '/' || !hostile_free(e->keys_dir)) {
        fprintf(stderr, "enroll: the keys directory must be an absolute path without control "
                        "characters or brackets\n");
        return CTL_EXIT_USAGE;
    }
    if (e->ca_file == NULL && e->cfg != NULL) {
        e->ca_file = e->cfg->global.ca_file;
    }
    if (gethostname(e->host, sizeof(e->host) - 1) < 0 || !hostile_free(e->host)) {
        (void)snprintf(e->host, sizeof(e->host), "localhost");
    }
    if (e->display_name != NULL) {
        (void)snprintf(e->dn, sizeof(e->dn), "%s", e->display_name);
    } else {
        (void)snprintf(e->dn, sizeof(e->dn), "%.32s on %.80s", e->name, e->host);
    }
    if ((size_t)snprintf(e->key_file, sizeof(e->key_file), "%s/%s.tpmkey", e->keys_dir, e->name) >=
                sizeof(e->key_file) ||
        (size_t)snprintf(e->cert_file, sizeof(e->cert_file), "%s/%s.crt", e->keys_dir, e->name) >=
                sizeof(e->cert_file)) {
        fprintf(stderr, "enroll: the keys directory path is too long\n");
        return CTL_EXIT_USAGE;
    }
    /* the admin token is checked before the TPM is touched */
    r = ctl_graph_open(e->graph_url, e->ca_file, e->token_file, &e->graph, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "enroll: %s\n", err);
        return CTL_EXIT_USAGE;
    }
    /* a refused admin token is found out before the TPM makes anything */
    cJSON *probe = NULL;
    r = graph_find(e, "servicePrincipals", "appId", GRAPH_APP_ID, &probe);
    cJSON_Delete(probe);
    if (r != CTL_EXIT_OK) {
        return r;
    }
    r = make_credential(e);
    if (r != CTL_EXIT_OK) {
        return r;
    }
    r = register_app(e);
    if (r != CTL_EXIT_OK) {
        fprintf(stderr,
                "enroll: the key and certificate are kept in %s; rerunning the same "
                "command continues from here\n",
                e->keys_dir);
        return r;
    }
    if (section_text(e, section, sizeof(section)) < 0) {
        return CTL_EXIT_REFUSED;
    }
    if (e->write_config) {
        r = write_config(e, section);
        if (r != CTL_EXIT_OK) {
            return r;
        }
    }
    if (e->print_config) {
        fputs(section, stdout);
        print_next_steps(e, stderr);
        return CTL_EXIT_OK;
    }
    printf("%s %s: app %s, service principal %s, certificate %s\n",
           e->write_config ? "Enrolled" : "Registered", e->name, e->appid, e->sp_id, e->sha1_hex);
    if (!e->write_config) {
        printf("\nAdd to %s (or rerun with --write-config):\n\n%s", e->config_path, section);
    }
    print_next_steps(e, stdout);
    return CTL_EXIT_OK;
}

int ctl_enroll(int argc, char **argv)
{
    static const struct option opts[] = {
            {"app-id", required_argument, NULL, 'a'},
            {"create", no_argument, NULL, 'C'},
            {"display-name", required_argument, NULL, 'n'},
            {"admin-token-file", required_argument, NULL, 't'},
            {"graph", required_argument, NULL, 'g'},
            {"ca-file", required_argument, NULL, 'A'},
            {"config", required_argument, NULL, 'c'},
            {"insecure-config", no_argument, NULL, 'I'},
            {"tcti", required_argument, NULL, 'T'},
            {"keys-dir", required_argument, NULL, 'k'},
            {"alg", required_argument, NULL, 'l'},
            {"proof-key", required_argument, NULL, 'p'},
            {"proof-cert", required_argument, NULL, 'P'},
            {"resource-app-id", required_argument, NULL, 'r'},
            {"print-config", no_argument, NULL, 'o'},
            {"write-config", no_argument, NULL, 'w'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct enroll e;
    char guid[OC_GUID_SIZE], res_guid[OC_GUID_SIZE];
    int c, rc;

    memset(&e, 0, sizeof(e));
    e.graph_url = CTL_GRAPH_DEFAULT_URL;
    e.config_path = OC_CONFIG_PATH;
    e.alg = "rsa";
    setenv("TSS2_LOG", "all+none", 0);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (oc_guid_normalize(optarg, guid) < 0) {
                fprintf(stderr, "enroll: --app-id takes an application (client) id, a GUID\n");
                return CTL_EXIT_USAGE;
            }
            e.app_id = guid;
            break;
        case 'C':
            e.create = true;
            break;
        case 'n':
            e.display_name = optarg;
            break;
        case 't':
            e.token_file = optarg;
            break;
        case 'g':
            e.graph_url = optarg;
            break;
        case 'A':
            e.ca_file = optarg;
            break;
        case 'c':
            e.config_path = optarg;
            e.config_given = true;
            break;
        case 'I':
            e.cflags |= OC_CONFIG_INSECURE_OK;
            break;
        case 'T':
            e.tcti = optarg;
            break;
        case 'k':
            e.keys_dir = optarg;
            break;
        case 'l':
            e.alg = optarg;
            break;
        case 'p':
            e.proof_key = optarg;
            break;
        case 'P':
            e.proof_cert = optarg;
            break;
        case 'r':
            if (oc_guid_normalize(optarg, res_guid) < 0) {
                fprintf(stderr, "enroll: --resource-app-id takes a GUID\n");
                return CTL_EXIT_USAGE;
            }
            e.resource_app_id = res_guid;
            break;
        case 'o':
            e.print_config = true;
            break;
        case 'w':
            e.write_config = true;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        default:
            usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    e.name = argv[optind];
    if ((e.app_id != NULL) == e.create) {
        fprintf(stderr, "enroll: say either --app-id GUID (an existing application) or --create "
                        "(a new one)\n");
        return CTL_EXIT_USAGE;
    }
    if (e.display_name != NULL &&
        (!e.create || strlen(e.display_name) == 0 || strlen(e.display_name) > ENROLL_DISPLAY_MAX ||
         !hostile_free(e.display_name) ||
         !oc_utf8_valid(e.display_name, strlen(e.display_name), NULL))) {
        fprintf(stderr,
                "enroll: --display-name goes with --create and takes 1 to %d printable "
                "characters (no brackets or backslashes)\n",
                ENROLL_DISPLAY_MAX);
        return CTL_EXIT_USAGE;
    }
    if (e.token_file == NULL) {
        fprintf(stderr, "enroll: --admin-token-file FILE is required (a Graph access token for an "
                        "admin app with Application.ReadWrite.All, in a 0600 file)\n");
        return CTL_EXIT_USAGE;
    }
    if ((e.proof_key == NULL) != (e.proof_cert == NULL) || (e.proof_key != NULL && e.create)) {
        fprintf(stderr, "enroll: --proof-key and --proof-cert go together, with --app-id\n");
        return CTL_EXIT_USAGE;
    }
    if (strcmp(e.alg, "rsa") != 0 && strcmp(e.alg, "ecc") != 0) {
        fprintf(stderr, "enroll: --alg takes rsa or ecc\n");
        return CTL_EXIT_USAGE;
    }
    if (e.print_config && e.write_config) {
        fprintf(stderr, "enroll: --print-config and --write-config exclude each other\n");
        return CTL_EXIT_USAGE;
    }
    rc = run_enroll(&e);
    ctl_graph_close(e.graph);
    X509_free(e.cert);
    free(e.cert_b64);
    oc_config_free(e.cfg);
    return rc;
}
