/* SPDX-License-Identifier: MIT */
/* oc_credparse.c: Arc challenge and OIDC discovery parsers (see oc_credparse.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "helper/creds/oc_credparse.h"
#include "util.h"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int oc_arc_challenge_realm(const char *value, char *ret_path, size_t len, const char **ret_why)
{
    static const char scheme[] = "basic", param[] = "realm=";
    const char *p = value, *end;
    size_t n;

    while (is_space(*p)) {
        p++;
    }
    if (strncasecmp(p, scheme, sizeof(scheme) - 1) != 0 || !is_space(p[sizeof(scheme) - 1])) {
        *ret_why = "the challenge is not \"Basic realm=PATH\"";
        return -EBADMSG;
    }
    p += sizeof(scheme) - 1;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (strncasecmp(p, param, sizeof(param) - 1) != 0) {
        *ret_why = "the challenge has no realm";
        return -EBADMSG;
    }
    p += sizeof(param) - 1;
    end = p + strlen(p);
    while (end > p && is_space(end[-1])) {
        end--;
    }
    if (end > p && *p == '"') {
        if (end - p < 2 || end[-1] != '"') {
            *ret_why = "the realm has an unbalanced quote";
            return -EBADMSG;
        }
        p++;
        end--;
    }
    n = (size_t)(end - p);
    if (n == 0) {
        *ret_why = "the realm is empty";
        return -EBADMSG;
    }
    for (const char *q = p; q < end; q++) {
        /* Printable ASCII, no quote, comma or space: one path, nothing else. */
        if (*q <= ' ' || *q >= 0x7f || *q == '"' || *q == ',' || *q == '\\') {
            *ret_why = "the realm holds a space, quote, comma, backslash or a non-ASCII byte";
            return -EBADMSG;
        }
    }
    if (n >= len || n > OC_CONFIG_PATH_MAX) {
        *ret_why = "the realm path is too long";
        return -ENAMETOOLONG;
    }
    memcpy(ret_path, p, n);
    ret_path[n] = '\0';
    return 0;
}

int oc_arc_realm_check(const char *path, const char *dir, const char **ret_why)
{
    size_t dlen = strlen(dir), plen = strlen(path), slen = strlen(OC_ARC_KEY_SUFFIX);
    const char *leaf, *p;

    if (path[0] != '/') {
        *ret_why = "the realm is not an absolute path";
        return -EPERM;
    }
    for (p = path; *p != '\0';) {
        const char *c = p + 1, *e = strchr(c, '/');
        size_t n = e != NULL ? (size_t)(e - c) : strlen(c);

        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) {
            *ret_why = "the realm is not a canonical path (empty, \".\" or \"..\" component)";
            return -EPERM;
        }
        p = c + n;
    }
    /* The allowed directory "/" has dlen 1 and no separator of its own. */
    if (dlen == 1 && dir[0] == '/') {
        dlen = 0;
    }
    if (dlen >= plen || strncmp(path, dir, dlen) != 0 || path[dlen] != '/' ||
        strchr(path + dlen + 1, '/') != NULL) {
        *ret_why = "the realm is not a file directly inside the allowed Arc token directory";
        return -EPERM;
    }
    leaf = path + dlen + 1;
    if (leaf[0] == '.' || strlen(leaf) <= slen ||
        strcmp(leaf + strlen(leaf) - slen, OC_ARC_KEY_SUFFIX) != 0) {
        *ret_why = "the realm file name does not end in .key";
        return -EPERM;
    }
    return 0;
}

int oc_issuer_expand(const char *tmpl, const char *tid, char *buf, size_t len)
{
    size_t o = 0, pl = strlen(OC_TENANT_PLACEHOLDER), tl = strlen(tid);

    for (const char *p = tmpl; *p != '\0';) {
        if (strncmp(p, OC_TENANT_PLACEHOLDER, pl) == 0) {
            if (o + tl >= len) {
                return -ENAMETOOLONG;
            }
            memcpy(buf + o, tid, tl);
            o += tl;
            p += pl;
        } else {
            if (o + 1 >= len) {
                return -ENAMETOOLONG;
            }
            buf[o++] = *p++;
        }
    }
    if (o >= len) {
        return -ENAMETOOLONG;
    }
    buf[o] = '\0';
    return 0;
}

/* Length of "https://host[:port]" at the start of an https URL, or 0. */
static size_t origin_len(const char *url)
{
    static const char https[] = "https://";
    size_t n;

    if (strncmp(url, https, sizeof(https) - 1) != 0) {
        return 0;
    }
    n = sizeof(https) - 1 + strcspn(url + sizeof(https) - 1, "/");
    return n > sizeof(https) - 1 ? n : 0;
}

enum endpoint_fault { EP_OK, EP_MISSING, EP_NOT_HTTPS, EP_BAD_CHAR, EP_FOREIGN, EP_N };

static enum endpoint_fault check_endpoint(const char *url, const char *authority)
{
    size_t n = origin_len(url), an = origin_len(authority);

    if (n == 0) {
        return EP_NOT_HTTPS;
    }
    for (const char *p = url; *p != '\0'; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '?' || *p == '#' || *p == '{' || *p == '}' ||
            *p == '\\' || *p == '@') {
            return EP_BAD_CHAR;
        }
    }
    /* Byte-wise: Entra's documents use the host exactly as the authority does. */
    if (an == 0 || n != an || strncmp(url, authority, n) != 0) {
        return EP_FOREIGN;
    }
    return EP_OK;
}

#define EP_MSG(name)                                                                               \
    {                                                                                              \
        NULL, name " is missing, not a string or too long", name " is not an https URL",           \
                name " holds a space, non-ASCII byte, query, fragment, brace, backslash or "       \
                     "user info",                                                                  \
                name " is not on the configured authority's host (scheme, host and port)",         \
    }

int oc_discovery_parse(const char *buf, size_t len, const char *issuer, const char *authority,
                       struct oc_discovery *ret, const char **ret_why)
{
    static const char *const names[] = {"token_endpoint", "jwks_uri"};
    static const char *const msgs[][EP_N] = {EP_MSG("token_endpoint"), EP_MSG("jwks_uri")};
    struct oc_discovery d;
    cJSON *obj = NULL;
    const char *s = NULL;
    enum endpoint_fault f;

    if (len > OC_DISCOVERY_MAX) {
        *ret_why = "the document is larger than 64 KiB";
        return -EBADMSG;
    }
    if (oc_json_parse_object(buf, len, &obj, NULL) < 0) {
        *ret_why = "the document is not a strict JSON object";
        return -EBADMSG;
    }
    if (oc_json_get_string(obj, "issuer", OC_CONFIG_PATH_MAX, &s) < 0 || strcmp(s, issuer) != 0) {
        cJSON_Delete(obj);
        *ret_why = "its issuer is missing or is not the configured issuer_v2 for this tenant";
        return -EBADMSG;
    }
    memset(&d, 0, sizeof(d));
    for (size_t i = 0; i < OC_ELEMENTSOF(names); i++) {
        char *dst = i == 0 ? d.token_endpoint : d.jwks_uri;

        s = NULL;
        f = oc_json_get_string(obj, names[i], OC_CONFIG_PATH_MAX, &s) < 0
                    ? EP_MISSING
                    : check_endpoint(s, authority);
        if (f != EP_OK) {
            cJSON_Delete(obj);
            *ret_why = msgs[i][f];
            return -EBADMSG;
        }
        oc_strscpy(dst, OC_CONFIG_PATH_MAX + 1, s);
    }
    cJSON_Delete(obj);
    *ret = d;
    return 0;
}
