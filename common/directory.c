/* SPDX-License-Identifier: MIT */
/* directory.c: the directory cache file, writer and strict parser (see directory.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "directory.h"
#include "json.h"
#include "nsscache.h"
#include "util.h"

/* 2^53 - 1 bounds every time value (JSON numbers are doubles). */
#define TIME_MAX OC_JSON_INT_MAX

bool oc_dir_valid_role(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0') {
        return false;
    }
    for (i = 0; s[i] != '\0'; i++) {
        char ch = s[i];

        if (i >= OC_DIR_ROLE_MAX) {
            return false;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '-')) {
            return false;
        }
    }
    return true;
}

static bool is_lower_hex(const char *s, size_t len)
{
    if (strlen(s) != len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* "TYPE BASE64" with a known key type and a plausible base64 body. */
static bool valid_ssh_key(const char *s)
{
    static const char *const types[] = {"ssh-rsa ", "ecdsa-sha2-nistp256 ", "ecdsa-sha2-nistp384 ",
                                        "ecdsa-sha2-nistp521 ", "ssh-ed25519 "};
    const char *p = NULL;
    size_t n;

    for (size_t i = 0; i < OC_ELEMENTSOF(types); i++) {
        if (strncmp(s, types[i], strlen(types[i])) == 0) {
            p = s + strlen(types[i]);
            break;
        }
    }
    if (p == NULL) {
        return false;
    }
    n = strlen(p);
    if (n < 16 || n % 4 != 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        bool pad = ch == '=' && i >= n - 2;

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '/' || pad)) {
            return false;
        }
        if (i > 0 && p[i - 1] == '=' && ch != '=') {
            return false;
        }
    }
    return true;
}

/* A canonical lowercase GUID member (the writer only writes those). */
static int get_guid(const cJSON *o, const char *name, char out[OC_GUID_SIZE])
{
    const char *s = NULL;

    if (oc_json_get_string(o, name, OC_GUID_LEN, &s) < 0 || oc_guid_normalize(s, out) < 0 ||
        strcmp(s, out) != 0) {
        return -EINVAL;
    }
    return 0;
}

/* Every member of o must be in names. */
static bool only_members(const cJSON *o, const char *const *names, size_t n)
{
    const cJSON *m;

    cJSON_ArrayForEach(m, o)
    {
        bool known = false;

        for (size_t i = 0; i < n && !known; i++) {
            known = m->string != NULL && strcmp(m->string, names[i]) == 0;
        }
        if (!known) {
            return false;
        }
    }
    return true;
}

int oc_dir_key_from_json(const cJSON *o, struct oc_dir_key *k, const char **ret_why)
{
    static const char *const names[] = {"key_id", "not_before", "not_after",
                                        "sha1",   "sha256",     "ssh"};
    const char *s = NULL;
    int r;

    if (!cJSON_IsObject(o) || !only_members(o, names, OC_ELEMENTSOF(names))) {
        *ret_why = "a key is not an object of key_id, not_before, not_after, sha1, sha256, ssh";
        return -EINVAL;
    }
    if (get_guid(o, "key_id", k->key_id) < 0) {
        *ret_why = "a key's key_id is not a lowercase GUID";
        return -EINVAL;
    }
    if (oc_json_get_int64(o, "not_before", 0, TIME_MAX, &k->not_before) < 0 ||
        oc_json_get_int64(o, "not_after", 0, TIME_MAX, &k->not_after) < 0) {
        *ret_why = "a key's not_before or not_after is not a time";
        return -EINVAL;
    }
    if (oc_json_get_string(o, "sha1", OC_DIR_SHA1_HEX_LEN, &s) < 0 ||
        !is_lower_hex(s, OC_DIR_SHA1_HEX_LEN)) {
        *ret_why = "a key's sha1 is not 40 lowercase hex digits";
        return -EINVAL;
    }
    memcpy(k->sha1, s, OC_DIR_SHA1_HEX_LEN + 1);
    if (oc_json_get_string(o, "sha256", OC_DIR_SHA256_HEX_LEN, &s) < 0 ||
        !is_lower_hex(s, OC_DIR_SHA256_HEX_LEN)) {
        *ret_why = "a key's sha256 is not 64 lowercase hex digits";
        return -EINVAL;
    }
    memcpy(k->sha256, s, OC_DIR_SHA256_HEX_LEN + 1);
    r = oc_json_get_string(o, "ssh", OC_DIR_SSH_KEY_MAX, &s);
    if (r == -ENOENT) {
        return 0;
    }
    if (r < 0 || !valid_ssh_key(s)) {
        *ret_why = "a key's ssh is not an authorized_keys public key (TYPE BASE64)";
        return r == -E2BIG ? -E2BIG : -EINVAL;
    }
    k->ssh = strdup(s);
    return k->ssh != NULL ? 0 : -ENOMEM;
}

static int parse_agent(const cJSON *o, uint32_t uid_min, uint32_t uid_max, struct oc_dir_agent *a,
                       const char **ret_why)
{
    static const char *const names[] = {"name",         "app_id", "object_id", "uid", "enabled",
                                        "display_name", "roles",  "source",    "keys"};
    const cJSON *arr, *it;
    const char *s = NULL;
    int64_t uid = 0;
    int r;

    if (!cJSON_IsObject(o) || !only_members(o, names, OC_ELEMENTSOF(names))) {
        *ret_why = "an agent is not an object of the known members";
        return -EINVAL;
    }
    if (oc_json_get_string(o, "name", OC_USER_NAME_MAX, &s) < 0 || !oc_valid_user_name(s)) {
        *ret_why = "an agent's name is not a valid user name";
        return -EINVAL;
    }
    (void)oc_strscpy(a->name, sizeof(a->name), s);
    if (get_guid(o, "app_id", a->app_id) < 0 || get_guid(o, "object_id", a->object_id) < 0) {
        *ret_why = "an agent's app_id or object_id is not a lowercase GUID";
        return -EINVAL;
    }
    r = oc_json_get_int64(o, "uid", 1, UINT32_MAX, &uid);
    if (r < 0 || uid == 0 || uid < uid_min || uid > uid_max) {
        *ret_why = "an agent's uid is missing or outside uid_min .. uid_max of the config";
        return -ERANGE;
    }
    a->uid = (uint32_t)uid;
    if (oc_json_get_bool(o, "enabled", &a->enabled) < 0) {
        *ret_why = "an agent's enabled is not a boolean";
        return -EINVAL;
    }
    r = oc_json_get_string(o, "display_name", OC_DIR_DISPLAY_MAX, &s);
    if (r < 0) {
        *ret_why = "an agent's display_name is missing or too long";
        return -EINVAL;
    }
    a->display_name = strdup(s);
    if (a->display_name == NULL) {
        return -ENOMEM;
    }
    if (oc_json_get_string(o, "source", 16, &s) < 0) {
        *ret_why = "an agent's source is missing";
        return -EINVAL;
    }
    if (strcmp(s, "graph") == 0) {
        a->source = OC_DIR_SRC_GRAPH;
    } else if (strcmp(s, "config") == 0) {
        a->source = OC_DIR_SRC_CONFIG;
    } else {
        *ret_why = "an agent's source is neither graph nor config";
        return -EINVAL;
    }
    arr = oc_json_member(o, "roles");
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > OC_DIR_ROLES_MAX) {
        *ret_why = "an agent's roles is not an array of at most 64 role values";
        return -EINVAL;
    }
    a->roles = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(char *));
    if (a->roles == NULL) {
        return -ENOMEM;
    }
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || !oc_dir_valid_role(it->valuestring)) {
            *ret_why = "an agent's roles holds something that is not a role value";
            return -EINVAL;
        }
        for (size_t i = 0; i < a->n_roles; i++) {
            if (strcmp(a->roles[i], it->valuestring) == 0) {
                *ret_why = "an agent's roles holds a role twice";
                return -EINVAL;
            }
        }
        a->roles[a->n_roles] = strdup(it->valuestring);
        if (a->roles[a->n_roles] == NULL) {
            return -ENOMEM;
        }
        a->n_roles++;
    }
    arr = oc_json_member(o, "keys");
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > OC_DIR_KEYS_MAX) {
        *ret_why = "an agent's keys is not an array of at most 16 keys";
        return -EINVAL;
    }
    a->keys = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*a->keys));
    if (a->keys == NULL) {
        return -ENOMEM;
    }
    cJSON_ArrayForEach(it, arr)
    {
        r = oc_dir_key_from_json(it, &a->keys[a->n_keys], ret_why);
        if (r < 0) {
            free(a->keys[a->n_keys].ssh);
            a->keys[a->n_keys].ssh = NULL;
            return r;
        }
        a->n_keys++;
    }
    return 0;
}

/* Sorting agents by one field, to find duplicates in O(n log n). */
static int by_name(const void *x, const void *y)
{
    return strcmp((*(const struct oc_dir_agent *const *)x)->name,
                  (*(const struct oc_dir_agent *const *)y)->name);
}

static int by_uid(const void *x, const void *y)
{
    uint32_t a = (*(const struct oc_dir_agent *const *)x)->uid;
    uint32_t b = (*(const struct oc_dir_agent *const *)y)->uid;

    return a < b ? -1 : a > b;
}

static int by_app_id(const void *x, const void *y)
{
    return strcmp((*(const struct oc_dir_agent *const *)x)->app_id,
                  (*(const struct oc_dir_agent *const *)y)->app_id);
}

static int by_object_id(const void *x, const void *y)
{
    return strcmp((*(const struct oc_dir_agent *const *)x)->object_id,
                  (*(const struct oc_dir_agent *const *)y)->object_id);
}

static int check_unique(const struct oc_dir *d, const char **ret_why)
{
    static const struct {
        int (*cmp)(const void *, const void *);
        const char *why;
    } keys[] = {
            {by_name, "two agents have the same name"},
            {by_uid, "two agents have the same uid"},
            {by_app_id, "two agents have the same app_id or object_id"},
            {by_object_id, "two agents have the same app_id or object_id"},
    };
    const struct oc_dir_agent **v;
    int r = 0;

    if (d->n_agents < 2) {
        return 0;
    }
    v = malloc(d->n_agents * sizeof(*v));
    if (v == NULL) {
        *ret_why = "out of memory";
        return -ENOMEM;
    }
    for (size_t i = 0; i < d->n_agents; i++) {
        v[i] = &d->agents[i];
    }
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && r == 0; k++) {
        qsort(v, d->n_agents, sizeof(*v), keys[k].cmp);
        for (size_t i = 1; i < d->n_agents; i++) {
            if (keys[k].cmp(&v[i - 1], &v[i]) == 0) {
                *ret_why = keys[k].why;
                r = -EINVAL;
                break;
            }
        }
    }
    free(v);
    return r;
}

int oc_dir_parse(const char *buf, size_t len, uint32_t uid_min, uint32_t uid_max,
                 struct oc_dir **ret, const char **ret_why)
{
    static const char *const names[] = {"version", "tenant_id", "synced_at", "source", "agents"};
    const char *why = "out of memory", *s = NULL;
    const cJSON *arr, *it;
    cJSON *root = NULL;
    struct oc_dir *d = NULL;
    int64_t v = 0;
    int r;

    if (ret == NULL || (buf == NULL && len > 0)) {
        return -EINVAL;
    }
    if (len > OC_DIR_FILE_MAX) {
        why = "the file is larger than the cap";
        r = -E2BIG;
        goto fail;
    }
    r = oc_json_parse_object(buf != NULL ? buf : "", len, &root, &why);
    if (r < 0) {
        goto fail;
    }
    if (!only_members(root, names, OC_ELEMENTSOF(names))) {
        why = "unknown top-level member";
        r = -EINVAL;
        goto fail;
    }
    r = oc_json_get_int64(root, "version", 0, 1000000, &v);
    if (r < 0) {
        why = "no version";
        r = -EINVAL;
        goto fail;
    }
    if (v != OC_DIR_VERSION) {
        why = "unsupported version";
        r = -EPROTONOSUPPORT;
        goto fail;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        r = -ENOMEM;
        goto fail;
    }
    d->version = (uint32_t)v;
    if (get_guid(root, "tenant_id", d->tenant_id) < 0) {
        why = "tenant_id is not a lowercase GUID";
        r = -EINVAL;
        goto fail;
    }
    if (oc_json_get_int64(root, "synced_at", 0, TIME_MAX, &d->synced_at) < 0) {
        why = "synced_at is not a time";
        r = -EINVAL;
        goto fail;
    }
    if (oc_json_get_string(root, "source", OC_DIR_SOURCE_MAX, &s) < 0) {
        why = "source is missing or too long";
        r = -EINVAL;
        goto fail;
    }
    d->source = strdup(s);
    if (d->source == NULL) {
        r = -ENOMEM;
        goto fail;
    }
    arr = oc_json_member(root, "agents");
    if (!cJSON_IsArray(arr)) {
        why = "agents is not an array";
        r = -EINVAL;
        goto fail;
    }
    if (cJSON_GetArraySize(arr) > OC_DIR_AGENTS_MAX) {
        why = "more agents than the cap";
        r = -E2BIG;
        goto fail;
    }
    d->agents = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*d->agents));
    if (d->agents == NULL) {
        r = -ENOMEM;
        goto fail;
    }
    cJSON_ArrayForEach(it, arr)
    {
        /* Counted first: a half-parsed agent is freed with the rest. */
        d->n_agents++;
        r = parse_agent(it, uid_min, uid_max, &d->agents[d->n_agents - 1], &why);
        if (r < 0) {
            goto fail;
        }
    }
    r = check_unique(d, &why);
    if (r < 0) {
        goto fail;
    }
    cJSON_Delete(root);
    *ret = d;
    return 0;
fail:
    cJSON_Delete(root);
    oc_dir_free(d);
    if (ret_why != NULL) {
        *ret_why = r == -ENOMEM ? "out of memory" : why;
    }
    return r;
}

int oc_dir_load_fd(int fd, uint32_t uid_min, uint32_t uid_max, struct oc_dir **ret,
                   const char **ret_why)
{
    struct stat st;
    char *buf;
    size_t off;
    int r;

    if (ret_why != NULL) {
        *ret_why = "cannot read the file";
    }
    if (fstat(fd, &st) < 0) {
        return -errno;
    }
    if (!S_ISREG(st.st_mode)) {
        if (ret_why != NULL) {
            *ret_why = "not a regular file";
        }
        return -EINVAL;
    }
    if ((st.st_mode & 0022) != 0) {
        if (ret_why != NULL) {
            *ret_why = "writable by group or others (openclaw-sync writes it 0644)";
        }
        return -EPERM;
    }
    if (st.st_size > (off_t)OC_DIR_FILE_MAX) {
        if (ret_why != NULL) {
            *ret_why = "the file is larger than the cap";
        }
        return -E2BIG;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        return -ENOMEM;
    }
    /* a file that shrank while read: parse what is there (it will fail) */
    r = oc_read_full(fd, buf, (size_t)st.st_size, &off);
    if (r < 0) {
        free(buf);
        return r;
    }
    r = oc_dir_parse(buf, off, uid_min, uid_max, ret, ret_why);
    free(buf);
    return r;
}

int oc_dir_load_file(const char *path, uint32_t uid_min, uint32_t uid_max, struct oc_dir **ret,
                     const char **ret_why)
{
    int fd, r;

    if (ret_why != NULL) {
        *ret_why = "cannot read the file";
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        return -errno;
    }
    r = oc_dir_load_fd(fd, uid_min, uid_max, ret, ret_why);
    close(fd);
    return r;
}

void oc_dir_free(struct oc_dir *d)
{
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->n_agents; i++) {
        struct oc_dir_agent *a = &d->agents[i];

        free(a->display_name);
        for (size_t j = 0; a->roles != NULL && j < a->n_roles; j++) {
            free(a->roles[j]);
        }
        free(a->roles);
        for (size_t j = 0; a->keys != NULL && j < a->n_keys; j++) {
            free(a->keys[j].ssh);
        }
        free(a->keys);
    }
    free(d->agents);
    free(d->source);
    free(d);
}

cJSON *oc_dir_key_to_json(const struct oc_dir_key *k)
{
    cJSON *ko = cJSON_CreateObject();

    if (ko == NULL) {
        return NULL;
    }
    cJSON_AddStringToObject(ko, "key_id", k->key_id);
    cJSON_AddNumberToObject(ko, "not_before", (double)k->not_before);
    cJSON_AddNumberToObject(ko, "not_after", (double)k->not_after);
    cJSON_AddStringToObject(ko, "sha1", k->sha1);
    cJSON_AddStringToObject(ko, "sha256", k->sha256);
    if (k->ssh != NULL) {
        cJSON_AddStringToObject(ko, "ssh", k->ssh);
    }
    return ko;
}

static cJSON *format_agent(const struct oc_dir_agent *a)
{
    cJSON *o = cJSON_CreateObject(), *roles = cJSON_CreateArray(), *keys = cJSON_CreateArray();

    if (o == NULL || roles == NULL || keys == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(roles);
        cJSON_Delete(keys);
        return NULL;
    }
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddStringToObject(o, "app_id", a->app_id);
    cJSON_AddStringToObject(o, "object_id", a->object_id);
    cJSON_AddNumberToObject(o, "uid", (double)a->uid);
    cJSON_AddBoolToObject(o, "enabled", a->enabled);
    cJSON_AddStringToObject(o, "display_name", a->display_name != NULL ? a->display_name : "");
    for (size_t i = 0; i < a->n_roles; i++) {
        cJSON_AddItemToArray(roles, cJSON_CreateString(a->roles[i]));
    }
    cJSON_AddItemToObject(o, "roles", roles);
    cJSON_AddStringToObject(o, "source", a->source == OC_DIR_SRC_GRAPH ? "graph" : "config");
    for (size_t i = 0; i < a->n_keys; i++) {
        cJSON *ko = oc_dir_key_to_json(&a->keys[i]);

        if (ko == NULL) {
            break;
        }
        cJSON_AddItemToArray(keys, ko);
    }
    cJSON_AddItemToObject(o, "keys", keys);
    return o;
}

int oc_dir_format(const struct oc_dir *d, char **ret_text, size_t *ret_len)
{
    cJSON *root = cJSON_CreateObject(), *agents = cJSON_CreateArray();
    char *text;

    if (root == NULL || agents == NULL) {
        cJSON_Delete(root);
        cJSON_Delete(agents);
        return -ENOMEM;
    }
    cJSON_AddNumberToObject(root, "version", OC_DIR_VERSION);
    cJSON_AddStringToObject(root, "tenant_id", d->tenant_id);
    cJSON_AddNumberToObject(root, "synced_at", (double)d->synced_at);
    cJSON_AddStringToObject(root, "source", d->source != NULL ? d->source : "");
    cJSON_AddItemToObject(root, "agents", agents);
    for (size_t i = 0; i < d->n_agents; i++) {
        cJSON *a = format_agent(&d->agents[i]);

        if (a == NULL) {
            cJSON_Delete(root);
            return -ENOMEM;
        }
        cJSON_AddItemToArray(agents, a);
    }
    text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) {
        return -ENOMEM;
    }
    *ret_text = text;
    *ret_len = strlen(text);
    return 0;
}

int oc_dir_write_file(const char *path, const struct oc_dir *d)
{
    char *text = NULL;
    size_t len = 0;
    int r = oc_dir_format(d, &text, &len);

    if (r < 0) {
        return r;
    }
    /* The same atomic replace as the NSS cache (temp, fsync, rename, dir fsync, 0644). */
    r = oc_nssc_write_file(path, text, len);
    free(text);
    return r;
}

const struct oc_dir_agent *oc_dir_by_name(const struct oc_dir *d, const char *name)
{
    for (size_t i = 0; d != NULL && name != NULL && i < d->n_agents; i++) {
        if (strcmp(d->agents[i].name, name) == 0) {
            return &d->agents[i];
        }
    }
    return NULL;
}

const struct oc_dir_agent *oc_dir_by_app_id(const struct oc_dir *d, const char *app_id)
{
    for (size_t i = 0; d != NULL && app_id != NULL && i < d->n_agents; i++) {
        if (oc_guid_equal(d->agents[i].app_id, app_id)) {
            return &d->agents[i];
        }
    }
    return NULL;
}

bool oc_dir_agent_has_role(const struct oc_dir_agent *a, const char *role)
{
    for (size_t i = 0; a != NULL && role != NULL && i < a->n_roles; i++) {
        if (strcmp(a->roles[i], role) == 0) {
            return true;
        }
    }
    return false;
}
