/* SPDX-License-Identifier: MIT */
/*
 * conf.c: strict parser for openclaw.conf (see conf.h, openclaw.conf(5)).
 *
 * One table (keytab) describes every key: its section, how its value is
 * parsed, where it is stored, its range and an example used in error
 * messages. Adding a key is one row plus a field in conf.h. Checks that
 * involve several keys run when a section ends (local) or after the whole
 * file is read (across sections), with the line of the key at fault.
 *
 * Error style: goto to one cleanup label.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "idmap.h"
#include "util.h"

/* Longest value echoed back in an error message. */
#define ECHO_MAX 80
/* Longest key name; longer is unknown anyway. */
#define KEY_NAME_MAX 64
/* Distance at which an unknown key gets a "did you mean" hint. */
#define SUGGEST_DISTANCE 2

enum section_kind {
    SEC_NONE,
    SEC_GLOBAL,
    SEC_SERVICE,
    SEC_AGENT,
    SEC_ROLES,
    SEC_DIRECTORY,
};

struct ctx;
struct keydef;

typedef int (*parse_fn)(struct ctx *c, const struct keydef *k, const char *value, void *field);

struct keydef {
    enum section_kind sec;
    const char *name;
    parse_fn parse;
    size_t offset; /* into struct oc_global / oc_service / oc_agent */
    uint32_t min, max;
    const char *unit; /* for numbers: " seconds" or "" */
    const char *example;
    bool required;
};

/*
 * Room for the key table; a static assertion below keeps it honest. Per
 * section instance we remember the line where each key was set (0: not
 * set): duplicates, required keys and cross-key checks use it.
 */
#define KEYTAB_MAX 96

struct ctx {
    unsigned flags; /* OC_CONFIG_* (none affects parsing yet) */
    struct oc_config_error *err;
    struct oc_config *cfg;
    unsigned line;

    enum section_kind sec;
    void *obj;            /* struct being filled for the current section */
    unsigned *seen;       /* KEYTAB_N lines for the current section */
    char title[128];      /* "[agent foo]" for messages */
    unsigned header_line; /* line of the current section header */
    unsigned global_seen[KEYTAB_MAX];
    unsigned **agent_seen;   /* per agent, parallel to cfg->agents */
    unsigned **service_seen; /* per service, parallel to cfg->services */
    size_t agents_cap, services_cap, roles_cap, agent_seen_cap, service_seen_cap;
    unsigned global_line, roles_line, directory_line;
    unsigned directory_seen[KEYTAB_MAX];
};

static int fail(struct ctx *c, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, unsigned line, const char *fmt, ...)
{
    va_list ap;

    if (c->err != NULL) {
        size_t bad;

        c->err->line = line;
        va_start(ap, fmt);
        (void)vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
        va_end(ap);
        /* A precision or the buffer size may have cut a UTF-8 sequence:
         * the message must stay valid text for every log and terminal. */
        if (!oc_utf8_valid(c->err->msg, strlen(c->err->msg), &bad)) {
            c->err->msg[bad] = '\0';
        }
    }
    return -EINVAL;
}

/* Copy at most ECHO_MAX bytes of s, cut on a UTF-8 boundary, "..." if cut. */
static void echo(const char *s, char *buf, size_t len)
{
    size_t n = strlen(s);

    if (n <= ECHO_MAX) {
        (void)oc_strscpy(buf, len, s);
        return;
    }
    n = ECHO_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        n--;
    }
    (void)oc_strnscpy(buf, len, s, n);
    if (strlen(buf) + 4 <= len) {
        strcat(buf, "...");
    }
}

/* "KEY = VALUE: <what> (e.g. EXAMPLE)" at the current line. */
static int fail_value(struct ctx *c, const struct keydef *k, const char *value, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static int fail_value(struct ctx *c, const struct keydef *k, const char *value, const char *fmt,
                      ...)
{
    char what[320], shown[ECHO_MAX + 4];
    const char *hint = "";
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    echo(value, shown, sizeof(shown));
    if (strchr(value, '#') != NULL || strchr(value, ';') != NULL) {
        hint = "; comments are only allowed on lines of their own";
    }
    if (k->example != NULL) {
        return fail(c, c->line, "%s = %s: %s (e.g. %s)%s", k->name, shown, what, k->example, hint);
    }
    return fail(c, c->line, "%s = %s: %s%s", k->name, shown, what, hint);
}

static char *xstrdup(const char *s)
{
    return strdup(s);
}

static void strlist_free(struct oc_strlist *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        free(l->items[i]);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

bool oc_strlist_contains(const struct oc_strlist *list, const char *s)
{
    size_t i;

    if (list == NULL || s == NULL) {
        return false;
    }
    for (i = 0; i < list->n; i++) {
        if (strcmp(list->items[i], s) == 0) {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* Value checkers shared by several keys                              */
/* ------------------------------------------------------------------ */

static bool is_printable_ascii_word(const char *s)
{
    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s <= ' ' || *s >= 0x7F) {
            return false;
        }
    }
    return true;
}

static bool valid_role_value(const char *s)
{
    size_t i;

    if (s[0] == '\0') {
        return false;
    }
    for (i = 0; s[i] != '\0'; i++) {
        char ch = s[i];

        if (i >= OC_CONFIG_ROLE_MAX) {
            return false;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == ':' || ch == '-')) {
            return false;
        }
    }
    return true;
}

static bool valid_service_name(const char *s)
{
    size_t i;

    if (s[0] == '\0') {
        return false;
    }
    for (i = 0; s[i] != '\0'; i++) {
        char ch = s[i];

        if (i >= OC_CONFIG_SERVICE_NAME_MAX) {
            return false;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-')) {
            return false;
        }
    }
    return true;
}

/*
 * An https URL: "https://" + non-empty host[:port][/path], printable
 * ASCII, no query or fragment. When templ is set, "{tenantid}" may occur
 * and no other brace.
 */
static const char *check_https_url(const char *s, bool templ)
{
    const char *host = s + strlen("https://");
    const char *p;

    if (strlen(s) > OC_CONFIG_PATH_MAX) {
        return "is too long";
    }
    if (strncmp(s, "https://", strlen("https://")) != 0) {
        return "must be an https:// URL";
    }
    if (*host == '\0' || *host == '/' || *host == ':') {
        return "has no host name";
    }
    for (p = s; *p != '\0'; p++) {
        if (*p <= ' ' || *p >= 0x7F) {
            return "must not contain spaces or non-ASCII characters";
        }
        if (*p == '?' || *p == '#') {
            return "must not contain a query (?) or fragment (#)";
        }
        if (*p == '{' || *p == '}') {
            if (!templ) {
                return "must not contain braces";
            }
            if (*p == '}' ||
                strncmp(p, OC_TENANT_PLACEHOLDER, strlen(OC_TENANT_PLACEHOLDER)) != 0) {
                return "may contain no placeholder other than {tenantid}";
            }
            p += strlen(OC_TENANT_PLACEHOLDER) - 1;
        }
    }
    return NULL;
}

static const char *check_path(const char *s)
{
    if (s[0] != '/') {
        return "must be an absolute path";
    }
    if (strlen(s) > OC_CONFIG_PATH_MAX) {
        return "is too long";
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Value parsers (one per kind of key)                                */
/* ------------------------------------------------------------------ */

static int p_guid(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    if (oc_guid_normalize(value, field) < 0) {
        return fail_value(
                c, k, value,
                "must be a GUID written as 8-4-4-4-12 hexadecimal digits, without braces");
    }
    return 0;
}

static int p_u32(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    int r = oc_parse_u32(value, k->min, k->max, field);

    if (r == -ERANGE) {
        return fail_value(c, k, value, "must be between %u and %u%s", (unsigned)k->min,
                          (unsigned)k->max, k->unit);
    }
    if (r < 0) {
        return fail_value(c, k, value, "must be a whole number between %u and %u%s",
                          (unsigned)k->min, (unsigned)k->max, k->unit);
    }
    return 0;
}

static int p_bool(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    if (oc_parse_bool(value, field) < 0) {
        return fail_value(c, k, value, "must be yes or no (also true/false, on/off, 1/0)");
    }
    return 0;
}

static int store_string(struct ctx *c, const char *value, void *field)
{
    char *s = xstrdup(value);

    if (s == NULL) {
        return -ENOMEM;
    }
    *(char **)field = s;
    return 0;
}

static int p_path(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    const char *why = check_path(value);

    if (why != NULL) {
        return fail_value(c, k, value, "%s", why);
    }
    return store_string(c, value, field);
}

static int p_home(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    const char *p;
    const char *why = check_path(value);

    if (why != NULL) {
        return fail_value(c, k, value, "%s", why);
    }
    for (p = value; *p != '\0'; p++) {
        if (*p == '%') {
            if (p[1] != 'u' && p[1] != '%') {
                return fail_value(
                        c, k, value,
                        "only %%u (the user name) and %%%% (a percent sign) may follow %%");
            }
            p++;
        }
    }
    return store_string(c, value, field);
}

static int p_authority(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    const char *why = check_https_url(value, false);
    char *s;
    size_t n;

    if (why != NULL) {
        return fail_value(c, k, value, "%s", why);
    }
    s = xstrdup(value);
    if (s == NULL) {
        return -ENOMEM;
    }
    n = strlen(s);
    while (n > strlen("https://") + 1 && s[n - 1] == '/') {
        s[--n] = '\0';
    }
    *(char **)field = s;
    return 0;
}

static int p_issuer(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    const char *why = check_https_url(value, true);

    if (why != NULL) {
        return fail_value(c, k, value, "%s", why);
    }
    return store_string(c, value, field);
}

static int p_tcti(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    const char *p;

    if (!(value[0] >= 'a' && value[0] <= 'z') || strlen(value) > OC_CONFIG_PATH_MAX) {
        return fail_value(c, k, value, "must be a TPM TCTI string starting with its name");
    }
    for (p = value; *p != '\0'; p++) {
        if (*p <= ' ' || *p >= 0x7F) {
            return fail_value(c, k, value, "must not contain spaces or non-ASCII characters");
        }
    }
    return store_string(c, value, field);
}

/* mi_endpoint: 127.x.y.z:PORT or [::1]:PORT, loopback only, port 1-65535;
 * or "imds": Azure IMDS's own 169.254.169.254:80, on lo, the socket from
 * systemd (docs/mi-endpoint.md). */
static int p_mi_endpoint(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    struct oc_mi_endpoint ep = {.set = true};
    char host[INET6_ADDRSTRLEN + 1], shown[INET6_ADDRSTRLEN + 1];
    const char *end, *port;
    uint32_t n;

    if (strcmp(value, "imds") == 0) {
        ep.imds = true;
        (void)inet_pton(AF_INET, OC_MI_IMDS_ADDR, ep.addr);
        ep.port = OC_MI_IMDS_PORT;
        (void)snprintf(ep.text, sizeof(ep.text), "%s:%u", OC_MI_IMDS_ADDR,
                       (unsigned)OC_MI_IMDS_PORT);
        *(struct oc_mi_endpoint *)field = ep;
        return 0;
    }
    ep.ipv6 = value[0] == '[';
    end = ep.ipv6 ? strchr(value, ']') : strchr(value, ':');
    port = end == NULL ? NULL : (ep.ipv6 ? (end[1] == ':' ? end + 2 : NULL) : end + 1);
    if (port == NULL || (size_t)(end - value) - ep.ipv6 >= sizeof(host)) {
        return fail_value(c, k, value, "must be 127.0.0.1:PORT, [::1]:PORT or imds");
    }
    memcpy(host, value + ep.ipv6, (size_t)(end - value) - ep.ipv6);
    host[(size_t)(end - value) - ep.ipv6] = '\0';
    if (inet_pton(ep.ipv6 ? AF_INET6 : AF_INET, host, ep.addr) != 1) {
        return fail_value(c, k, value,
                          "must be 127.0.0.1:PORT or [::1]:PORT (an address, not a host name)");
    }
    if (ep.ipv6 ? memcmp(ep.addr, &in6addr_loopback, 16) != 0 : ep.addr[0] != 127) {
        return fail_value(c, k, value,
                          "must be a loopback address (127.0.0.0/8 or ::1): the endpoint "
                          "identifies callers by their local socket");
    }
    if (oc_parse_u32(port, 1, 65535, &n) < 0) {
        return fail_value(c, k, value, "needs a port between 1 and 65535 after the address");
    }
    ep.port = (uint16_t)n;
    (void)inet_ntop(ep.ipv6 ? AF_INET6 : AF_INET, ep.addr, shown, sizeof(shown));
    (void)snprintf(ep.text, sizeof(ep.text), ep.ipv6 ? "[%s]:%u" : "%s:%u", shown, (unsigned)n);
    *(struct oc_mi_endpoint *)field = ep;
    return 0;
}

static int p_text(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    if (strlen(value) > OC_CONFIG_ITEM_MAX) {
        return fail_value(c, k, value, "is longer than %d bytes", OC_CONFIG_ITEM_MAX);
    }
    return store_string(c, value, field);
}

static int p_res_id(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    if (value[0] != '/' || !is_printable_ascii_word(value) || strlen(value) > OC_CONFIG_PATH_MAX) {
        return fail_value(
                c, k, value,
                "must be an Azure resource id starting with /subscriptions/, without spaces");
    }
    return store_string(c, value, field);
}

static int p_algorithms(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    struct oc_list_iter it = OC_LIST_ITER_INIT(value);
    unsigned algs = 0, bit;
    const char *item;
    size_t len;
    int r;

    while ((r = oc_list_next(&it, &item, &len)) > 0) {
        if (len == 5 && strncmp(item, "RS256", 5) == 0) {
            bit = OC_ALG_RS256;
        } else if (len == 5 && strncmp(item, "PS256", 5) == 0) {
            bit = OC_ALG_PS256;
        } else if (len == 5 && strncmp(item, "ES256", 5) == 0) {
            bit = OC_ALG_ES256;
        } else {
            return fail_value(
                    c, k, value,
                    "'%.*s' is not allowed: only RS256, PS256 and ES256 are (never none or HS*)",
                    (int)(len > 32 ? 32 : len), item);
        }
        if (algs & bit) {
            return fail_value(c, k, value, "'%.*s' is listed twice", (int)len, item);
        }
        algs |= bit;
    }
    if (r < 0) {
        return fail_value(c, k, value, "has an empty item (doubled, leading or trailing comma)");
    }
    *(unsigned *)field = algs;
    return 0;
}

static int p_netlist(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    struct oc_list_iter it = OC_LIST_ITER_INIT(value);
    char item[OC_NET_TEXT_MAX + 1];
    struct oc_net net;
    const char *p;
    size_t len, n = 0;
    int r;

    /* Walk the items first so the message names the bad one. */
    while ((r = oc_list_next(&it, &p, &len)) > 0) {
        n++;
        if (len > OC_NET_TEXT_MAX) {
            return fail_value(c, k, value, "item %zu is not an address or network", n);
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (strcmp(item, "any") == 0) {
            continue;
        }
        r = oc_net_parse(item, &net);
        if (r == -ERANGE) {
            return fail_value(c, k, value, "'%s': prefix length too long for the address family",
                              item);
        }
        if (r == -EDOM) {
            return fail_value(
                    c, k, value,
                    "'%s' has address bits set beyond the prefix length: write the network "
                    "address",
                    item);
        }
        if (r < 0) {
            return fail_value(
                    c, k, value,
                    "'%s' is not an IPv4/IPv6 address or CIDR network (host names are not "
                    "allowed)",
                    item);
        }
    }
    if (r < 0) {
        return fail_value(c, k, value, "has an empty item (doubled, leading or trailing comma)");
    }
    r = oc_netlist_parse(value, field);
    if (r == -E2BIG) {
        return fail_value(c, k, value, "lists more than %d networks", OC_NETLIST_MAX);
    }
    if (r < 0) {
        return fail_value(c, k, value, "'any' must be the only item when it is used");
    }
    return 0;
}

static int p_timewin(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    int r = oc_timewin_parse(value, field);

    if (r == -E2BIG) {
        return fail_value(c, k, value, "has more than %d windows or is too long", OC_TIMEWIN_MAX);
    }
    if (r < 0) {
        return fail_value(
                c, k, value,
                "must be 'always' or windows 'DAYS HH:MM-HH:MM' separated by commas, DAYS "
                "being Mo Tu We Th Fr Sa Su, a range like Mo-Fr, Al, Wk or Wd; start and end "
                "must differ");
    }
    return 0;
}

static int p_credential(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    int i;

    for (i = OC_CRED_NONE; i <= OC_CRED_SECRET_FILE; i++) {
        if (strcmp(value, oc_credential_name((enum oc_credential)i)) == 0) {
            *(enum oc_credential *)field = (enum oc_credential)i;
            return 0;
        }
    }
    return fail_value(
            c, k, value,
            "must be one of tpm-certificate, tpm-sealed-secret, managed-identity, azure-arc, "
            "agent-identity, secret-file, none");
}

static int p_blueprint_credential(struct ctx *c, const struct keydef *k, const char *value,
                                  void *field)
{
    static const enum oc_credential allowed[] = {OC_CRED_SECRET_FILE, OC_CRED_TPM_CERTIFICATE,
                                                 OC_CRED_TPM_SEALED_SECRET};

    for (size_t i = 0; i < OC_ELEMENTSOF(allowed); i++) {
        if (strcmp(value, oc_credential_name(allowed[i])) == 0) {
            *(enum oc_credential *)field = allowed[i];
            return 0;
        }
    }
    return fail_value(c, k, value,
                      "must be one of tpm-certificate, tpm-sealed-secret, secret-file (how the "
                      "blueprint application authenticates)");
}

static int p_on_anomaly(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    if (strcmp(value, "none") == 0) {
        *(enum oc_on_anomaly *)field = OC_ANOMALY_NONE;
    } else if (strcmp(value, "disable-service-principal") == 0) {
        *(enum oc_on_anomaly *)field = OC_ANOMALY_DISABLE_SP;
    } else {
        return fail_value(c, k, value, "must be none or disable-service-principal");
    }
    return 0;
}

/* [directory] assignment_delta: auto (the default) or no */
static int p_assignment_delta(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    if (strcmp(value, "auto") == 0) {
        *(bool *)field = true;
    } else if (strcmp(value, "no") == 0) {
        *(bool *)field = false;
    } else {
        return fail_value(c, k, value,
                          "must be auto (follow app role assignments through Graph's "
                          "directoryObjects/delta) or no");
    }
    return 0;
}

static int p_agent_uid(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    struct oc_agent *a = c->obj;
    int r = p_u32(c, k, value, field);

    if (r < 0) {
        return r;
    }
    a->has_uid = true;
    return 0;
}

static int p_allow_agents(struct ctx *c, const struct keydef *k, const char *value, void *field);

/*
 * Lists. Each item goes through check_item, which may rewrite it (GUIDs
 * to lowercase) and returns NULL or why it is bad.
 */
typedef const char *(*item_check_fn)(char *item);

static const char *item_audience(char *item)
{
    const char *p;

    if (oc_is_guid(item)) {
        (void)oc_guid_normalize(item, item);
        return NULL;
    }
    if (!(item[0] >= 'a' && item[0] <= 'z')) {
        return "is neither a GUID nor a URI like api://NAME";
    }
    for (p = item; *p != ':'; p++) {
        if (*p == '\0' || !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' ||
                            *p == '.' || *p == '-')) {
            return "is neither a GUID nor a URI like api://NAME";
        }
    }
    if (p[1] == '\0' || !is_printable_ascii_word(item)) {
        return "is neither a GUID nor a URI like api://NAME";
    }
    return NULL;
}

static const char *item_role(char *item)
{
    return valid_role_value(item) ? NULL
                                  : "is not an app role value (letters, digits, '.', '_', ':', "
                                    "'-')";
}

static const char *item_name(char *item)
{
    return oc_valid_user_name(item) ? NULL
                                    : "is not a valid Unix name (lowercase letters, digits, '_', "
                                      "'-', starting with a letter or '_', at most 32)";
}

static const char *item_scope(char *item)
{
    return is_printable_ascii_word(item) ? NULL : "is not a scope (printable ASCII, no spaces)";
}

static int parse_list(struct ctx *c, const struct keydef *k, const char *value,
                      struct oc_strlist *ret_list, item_check_fn check)
{
    struct oc_list_iter it = OC_LIST_ITER_INIT(value);
    struct oc_strlist l = {0};
    const char *p, *why;
    char *item = NULL;
    size_t len;
    int r;

    l.items = calloc(OC_CONFIG_LIST_MAX, sizeof(char *));
    if (l.items == NULL) {
        return -ENOMEM;
    }
    while ((r = oc_list_next(&it, &p, &len)) > 0) {
        if (l.n >= OC_CONFIG_LIST_MAX) {
            r = fail_value(c, k, value, "has more than %d items", OC_CONFIG_LIST_MAX);
            goto out;
        }
        if (len > OC_CONFIG_ITEM_MAX) {
            r = fail_value(c, k, value, "item %zu is longer than %d bytes", l.n + 1,
                           OC_CONFIG_ITEM_MAX);
            goto out;
        }
        item = strndup(p, len);
        if (item == NULL) {
            r = -ENOMEM;
            goto out;
        }
        why = check(item);
        if (why != NULL) {
            char shown[ECHO_MAX + 4];

            echo(item, shown, sizeof(shown));
            r = fail_value(c, k, value, "'%s' %s", shown, why);
            goto out;
        }
        if (oc_strlist_contains(&l, item)) {
            char shown[ECHO_MAX + 4];

            echo(item, shown, sizeof(shown));
            r = fail_value(c, k, value, "'%s' is listed twice", shown);
            goto out;
        }
        l.items[l.n++] = item;
        item = NULL;
    }
    if (r < 0) {
        r = fail_value(c, k, value, "has an empty item (doubled, leading or trailing comma)");
        goto out;
    }
    *ret_list = l;
    l.items = NULL;
    l.n = 0;
    r = 0;
out:
    free(item);
    strlist_free(&l);
    return r;
}

static int p_audiences(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    return parse_list(c, k, value, field, item_audience);
}

static int p_resource(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    char buf[OC_CONFIG_ITEM_MAX + 1];
    const char *why;

    if (oc_strscpy(buf, sizeof(buf), value) < 0) {
        return fail_value(c, k, value, "is longer than %d bytes", OC_CONFIG_ITEM_MAX);
    }
    why = item_audience(buf);
    if (why != NULL) {
        return fail_value(c, k, value, "%s (the resource application's appId or app ID URI)", why);
    }
    return store_string(c, buf, field);
}

static int p_roles(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    return parse_list(c, k, value, field, item_role);
}

static int p_names(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    return parse_list(c, k, value, field, item_name);
}

static int p_scopes(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    return parse_list(c, k, value, field, item_scope);
}

static const char *item_namespace(char *item)
{
    return is_printable_ascii_word(item) && strlen(item) <= 128
                   ? NULL
                   : "is not an SSHSIG namespace (printable ASCII, no spaces, at most 128)";
}

static int p_namespaces(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    return parse_list(c, k, value, field, item_namespace);
}

static int p_allow_agents(struct ctx *c, const struct keydef *k, const char *value, void *field)
{
    struct oc_service *s = c->obj;
    int r = parse_list(c, k, value, field, item_name);

    if (r < 0) {
        return r;
    }
    s->has_allow_agents = true;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The key table                                                      */
/* ------------------------------------------------------------------ */

#define EX_GUID "11111111-2222-3333-4444-555555555555"
#define G(f)    offsetof(struct oc_global, f)
#define S(f)    offsetof(struct oc_service, f)
#define A(f)    offsetof(struct oc_agent, f)
#define D(f)    offsetof(struct oc_directory, f)
#define DA(f)   (offsetof(struct oc_directory, agent) + offsetof(struct oc_agent, f))

static const struct keydef keytab[] = {
        /* [global] */
        {SEC_GLOBAL, "tenant_id", p_guid, G(tenant_id), 0, 0, "", "tenant_id = " EX_GUID, true},
        {SEC_GLOBAL, "authority", p_authority, G(authority), 0, 0, "",
         "authority = " OC_DEFAULT_AUTHORITY, false},
        {SEC_GLOBAL, "issuer_v1", p_issuer, G(issuer_v1), 0, 0, "",
         "issuer_v1 = " OC_DEFAULT_ISSUER_V1, false},
        {SEC_GLOBAL, "issuer_v2", p_issuer, G(issuer_v2), 0, 0, "",
         "issuer_v2 = " OC_DEFAULT_AUTHORITY "/{tenantid}/v2.0", false},
        {SEC_GLOBAL, "audiences", p_audiences, G(audiences), 0, 0, "",
         "audiences = api://openclaw-host, " EX_GUID, true},
        {SEC_GLOBAL, "algorithms", p_algorithms, G(algorithms), 0, 0, "",
         "algorithms = RS256 PS256 ES256", false},
        {SEC_GLOBAL, "clock_skew", p_u32, G(clock_skew), 0, OC_CLOCK_SKEW_MAX, " seconds",
         "clock_skew = 300", false},
        {SEC_GLOBAL, "uid_min", p_u32, G(uid_min), OC_UID_MIN_FLOOR, UINT32_MAX - 1, "",
         "uid_min = 1879048192", false},
        {SEC_GLOBAL, "uid_max", p_u32, G(uid_max), OC_UID_MIN_FLOOR, UINT32_MAX - 1, "",
         "uid_max = 2147352575", false},
        {SEC_GLOBAL, "home", p_home, G(home), 0, 0, "", "home = /home/%u", false},
        {SEC_GLOBAL, "shell", p_path, G(shell), 0, 0, "", "shell = /bin/sh", false},
        {SEC_GLOBAL, "state_dir", p_path, G(state_dir), 0, 0, "",
         "state_dir = " OC_DEFAULT_STATE_DIR, false},
        {SEC_GLOBAL, "trust_dir", p_path, G(trust_dir), 0, 0, "",
         "trust_dir = " OC_DEFAULT_TRUST_DIR, false},
        {SEC_GLOBAL, "jwks_dir", p_path, G(jwks_dir), 0, 0, "", "jwks_dir = " OC_DEFAULT_JWKS_DIR,
         false},
        {SEC_GLOBAL, "nss_cache", p_path, G(nss_cache), 0, 0, "",
         "nss_cache = " OC_DEFAULT_TRUST_DIR "/nss.cache", false},
        {SEC_GLOBAL, "keys_dir", p_path, G(keys_dir), 0, 0, "",
         "keys_dir = " OC_DEFAULT_STATE_DIR "/keys", false},
        {SEC_GLOBAL, "ssh_namespaces", p_namespaces, G(ssh_namespaces), 0, 0, "",
         "ssh_namespaces = file, git", false},
        {SEC_GLOBAL, "runtime_dir", p_path, G(runtime_dir), 0, 0, "",
         "runtime_dir = " OC_DEFAULT_RUNTIME_DIR, false},
        {SEC_GLOBAL, "socket", p_path, G(socket), 0, 0, "",
         "socket = " OC_DEFAULT_RUNTIME_DIR "/openclawd.sock", false},
        {SEC_GLOBAL, "tally_dir", p_path, G(tally_dir), 0, 0, "",
         "tally_dir = " OC_DEFAULT_TALLY_DIR, false},
        {SEC_GLOBAL, "tcti", p_tcti, G(tcti), 0, 0, "", "tcti = " OC_DEFAULT_TCTI, false},
        {SEC_GLOBAL, "ca_file", p_path, G(ca_file), 0, 0, "",
         "ca_file = /etc/ssl/certs/ca-certificates.crt", false},
        {SEC_GLOBAL, "allow_software_keys", p_bool, G(allow_software_keys), 0, 0, "",
         "allow_software_keys = no", false},
        {SEC_GLOBAL, "allow_insecure_credentials", p_bool, G(allow_insecure_credentials), 0, 0, "",
         "allow_insecure_credentials = no", false},
        {SEC_GLOBAL, "mi_endpoint", p_mi_endpoint, G(mi_endpoint), 0, 0, "",
         "mi_endpoint = 127.0.0.1:8400", false},

        /* [service NAME] */
        {SEC_SERVICE, "require_role", p_roles, S(require_role), 0, 0, "",
         "require_role = Host.Login", false},
        {SEC_SERVICE, "allow_networks", p_netlist, S(allow_networks), 0, 0, "",
         "allow_networks = 10.0.0.0/8, 2001:db8::/32", false},
        {SEC_SERVICE, "allow_time", p_timewin, S(allow_time), 0, 0, "",
         "allow_time = Mo-Fr 08:00-18:00, Sa 10:00-12:00", false},
        {SEC_SERVICE, "max_token_age", p_u32, S(max_token_age), 0, 86400, " seconds",
         "max_token_age = 3600", false},
        {SEC_SERVICE, "one_time_tokens", p_bool, S(one_time_tokens), 0, 0, "",
         "one_time_tokens = yes", false},
        {SEC_SERVICE, "deny", p_u32, S(deny), 1, OC_DENY_MAX, " failures", "deny = 5", false},
        {SEC_SERVICE, "fail_interval", p_u32, S(fail_interval), 1, 86400, " seconds",
         "fail_interval = 60", false},
        {SEC_SERVICE, "unlock_time", p_u32, S(unlock_time), 0, OC_INTERVAL_MAX, " seconds",
         "unlock_time = 600", false},
        {SEC_SERVICE, "allow_agents", p_allow_agents, S(allow_agents), 0, 0, "",
         "allow_agents = build-bot, deploy-bot", false},

        /* [agent NAME] */
        {SEC_AGENT, "app_id", p_guid, A(app_id), 0, 0, "", "app_id = " EX_GUID, true},
        {SEC_AGENT, "object_id", p_guid, A(object_id), 0, 0, "", "object_id = " EX_GUID, true},
        {SEC_AGENT, "uid", p_agent_uid, A(uid), OC_UID_MIN_FLOOR, UINT32_MAX - 1, "",
         "uid = 1879048200", false},
        {SEC_AGENT, "groups", p_names, A(groups), 0, 0, "", "groups = adm, docker", false},
        {SEC_AGENT, "display_name", p_text, A(display_name), 0, 0, "", "display_name = Build Agent",
         false},
        {SEC_AGENT, "enabled", p_bool, A(enabled), 0, 0, "", "enabled = yes", false},
        {SEC_AGENT, "credential", p_credential, A(credential), 0, 0, "",
         "credential = tpm-certificate", false},
        {SEC_AGENT, "key_file", p_path, A(key_file), 0, 0, "",
         "key_file = " OC_DEFAULT_STATE_DIR "/keys/build-bot.tpmkey", false},
        {SEC_AGENT, "cert_file", p_path, A(cert_file), 0, 0, "",
         "cert_file = " OC_DEFAULT_STATE_DIR "/keys/build-bot.crt", false},
        {SEC_AGENT, "sealed_file", p_path, A(sealed_file), 0, 0, "",
         "sealed_file = " OC_DEFAULT_STATE_DIR "/keys/build-bot.sealed", false},
        {SEC_AGENT, "secret_file", p_path, A(secret_file), 0, 0, "",
         "secret_file = /etc/openclaw/secrets/build-bot", false},
        {SEC_AGENT, "mi_client_id", p_guid, A(mi_client_id), 0, 0, "", "mi_client_id = " EX_GUID,
         false},
        {SEC_AGENT, "mi_object_id", p_guid, A(mi_object_id), 0, 0, "", "mi_object_id = " EX_GUID,
         false},
        {SEC_AGENT, "mi_res_id", p_res_id, A(mi_res_id), 0, 0, "",
         "mi_res_id = /subscriptions/SUB/resourceGroups/RG/providers/"
         "Microsoft.ManagedIdentity/userAssignedIdentities/NAME",
         false},
        {SEC_AGENT, "blueprint_app_id", p_guid, A(blueprint_app_id), 0, 0, "",
         "blueprint_app_id = " EX_GUID, false},
        {SEC_AGENT, "blueprint_credential", p_blueprint_credential, A(blueprint_credential), 0, 0,
         "", "blueprint_credential = tpm-certificate", false},
        {SEC_AGENT, "scopes", p_scopes, A(scopes), 0, 0, "",
         "scopes = api://openclaw-host/.default", false},

        /* [directory] */
        {SEC_DIRECTORY, "resource", p_resource, D(resource), 0, 0, "",
         "resource = api://openclaw-host", false},
        {SEC_DIRECTORY, "graph_url", p_authority, D(graph_url), 0, 0, "",
         "graph_url = " OC_DEFAULT_GRAPH_URL, false},
        {SEC_DIRECTORY, "graph_resource", p_authority, D(graph_resource), 0, 0, "",
         "graph_resource = " OC_DEFAULT_GRAPH_URL, false},
        {SEC_DIRECTORY, "sync_interval", p_u32, D(sync_interval), OC_SYNC_INTERVAL_MIN,
         OC_SYNC_INTERVAL_MAX, " seconds", "sync_interval = 300", false},
        {SEC_DIRECTORY, "full_sync_interval", p_u32, D(full_sync_interval), OC_SYNC_INTERVAL_MIN,
         OC_FULL_SYNC_INTERVAL_MAX, " seconds", "full_sync_interval = 86400", false},
        {SEC_DIRECTORY, "max_requests_per_minute", p_u32, D(max_requests_per_minute),
         OC_GRAPH_BUDGET_MIN, OC_GRAPH_BUDGET_MAX, "", "max_requests_per_minute = 600", false},
        {SEC_DIRECTORY, "on_anomaly", p_on_anomaly, D(on_anomaly), 0, 0, "",
         "on_anomaly = disable-service-principal", false},
        {SEC_DIRECTORY, "assignment_delta", p_assignment_delta, D(assignment_delta), 0, 0, "",
         "assignment_delta = no", false},
        {SEC_DIRECTORY, "credential", p_credential, DA(credential), 0, 0, "",
         "credential = tpm-certificate", true},
        {SEC_DIRECTORY, "app_id", p_guid, DA(app_id), 0, 0, "", "app_id = " EX_GUID, false},
        {SEC_DIRECTORY, "key_file", p_path, DA(key_file), 0, 0, "",
         "key_file = " OC_DEFAULT_STATE_DIR "/keys/directory.tpmkey", false},
        {SEC_DIRECTORY, "cert_file", p_path, DA(cert_file), 0, 0, "",
         "cert_file = " OC_DEFAULT_STATE_DIR "/keys/directory.crt", false},
        {SEC_DIRECTORY, "sealed_file", p_path, DA(sealed_file), 0, 0, "",
         "sealed_file = " OC_DEFAULT_STATE_DIR "/keys/directory.sealed", false},
        {SEC_DIRECTORY, "secret_file", p_path, DA(secret_file), 0, 0, "",
         "secret_file = /etc/openclaw/secrets/directory", false},
        {SEC_DIRECTORY, "mi_client_id", p_guid, DA(mi_client_id), 0, 0, "",
         "mi_client_id = " EX_GUID, false},
        {SEC_DIRECTORY, "mi_object_id", p_guid, DA(mi_object_id), 0, 0, "",
         "mi_object_id = " EX_GUID, false},
        {SEC_DIRECTORY, "mi_res_id", p_res_id, DA(mi_res_id), 0, 0, "",
         "mi_res_id = /subscriptions/SUB/resourceGroups/RG/providers/"
         "Microsoft.ManagedIdentity/userAssignedIdentities/NAME",
         false},
};

#define KEYTAB_N OC_ELEMENTSOF(keytab)
_Static_assert(OC_ELEMENTSOF(keytab) <= KEYTAB_MAX, "raise KEYTAB_MAX");

static int key_index(enum section_kind sec, const char *name)
{
    size_t i;

    for (i = 0; i < KEYTAB_N; i++) {
        if (keytab[i].sec == sec && strcmp(keytab[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Edit distance, capped: enough to suggest a key for a typo. */
static unsigned edit_distance(const char *a, const char *b)
{
    unsigned row[KEY_NAME_MAX + 1];
    size_t la = strlen(a), lb = strlen(b), i, j;

    if (la > KEY_NAME_MAX || lb > KEY_NAME_MAX) {
        return UINT32_MAX;
    }
    for (j = 0; j <= lb; j++) {
        row[j] = (unsigned)j;
    }
    for (i = 1; i <= la; i++) {
        unsigned diag = row[0];

        row[0] = (unsigned)i;
        for (j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);

            if (up + 1 < best) {
                best = up + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

static const char *suggest_key(enum section_kind sec, const char *name)
{
    const char *best = NULL;
    unsigned best_d = SUGGEST_DISTANCE + 1;
    size_t i;

    for (i = 0; i < KEYTAB_N; i++) {
        unsigned d;

        if (keytab[i].sec != sec) {
            continue;
        }
        d = edit_distance(name, keytab[i].name);
        if (d < best_d) {
            best_d = d;
            best = keytab[i].name;
        }
    }
    return best;
}

/* In which other section a key exists, for "belongs in [global]" hints. */
static const char *section_of_key(enum section_kind not_sec, const char *name)
{
    size_t i;

    for (i = 0; i < KEYTAB_N; i++) {
        if (keytab[i].sec != not_sec && strcmp(keytab[i].name, name) == 0) {
            switch (keytab[i].sec) {
            case SEC_GLOBAL:
                return "[global]";
            case SEC_SERVICE:
                return "[service NAME]";
            case SEC_AGENT:
                return "[agent NAME]";
            case SEC_DIRECTORY:
                return "[directory]";
            default:
                return NULL;
            }
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Sections                                                           */
/* ------------------------------------------------------------------ */

static unsigned *seen_new(void)
{
    return calloc(KEYTAB_N, sizeof(unsigned));
}

static void service_init(struct oc_service *s)
{
    memset(s, 0, sizeof(*s));
    oc_netlist_init_any(&s->allow_networks);
    oc_timewin_init_always(&s->allow_time);
    s->deny = OC_DEFAULT_DENY;
    s->fail_interval = OC_DEFAULT_FAIL_INTERVAL;
    s->unlock_time = OC_DEFAULT_UNLOCK_TIME;
}

static void agent_init(struct oc_agent *a)
{
    memset(a, 0, sizeof(*a));
    a->enabled = true;
    a->credential = OC_CRED_NONE;
}

/* Grow an array of elem-sized items so that one more fits. */
static int grow(void **array, size_t *cap, size_t n, size_t elem, size_t max)
{
    size_t ncap;
    void *p;

    if (n < *cap) {
        return 0;
    }
    if (n >= max) {
        return -E2BIG;
    }
    ncap = *cap == 0 ? 8 : *cap * 2;
    if (ncap > max) {
        ncap = max;
    }
    p = reallocarray(*array, ncap, elem);
    if (p == NULL) {
        return -ENOMEM;
    }
    *array = p;
    *cap = ncap;
    return 0;
}

static int end_section(struct ctx *c)
{
    size_t i;

    if (c->sec == SEC_NONE || c->sec == SEC_ROLES) {
        return 0;
    }
    for (i = 0; i < KEYTAB_N; i++) {
        if (keytab[i].sec == c->sec && keytab[i].required && c->seen[i] == 0) {
            return fail(c, c->header_line, "%s: missing required key %s (e.g. %s)", c->title,
                        keytab[i].name, keytab[i].example);
        }
    }
    if (c->sec == SEC_AGENT || c->sec == SEC_DIRECTORY) {
        struct oc_agent *a = c->sec == SEC_AGENT ? c->obj : &((struct oc_directory *)c->obj)->agent;
        int n_mi = (a->mi_client_id[0] != '\0') + (a->mi_object_id[0] != '\0') +
                   (a->mi_res_id != NULL);
        unsigned cred_line = c->seen[key_index(c->sec, "credential")];

        if (c->sec == SEC_DIRECTORY && a->credential != OC_CRED_MANAGED_IDENTITY &&
            a->credential != OC_CRED_NONE && a->app_id[0] == '\0') {
            return fail(c, cred_line,
                        "%s: credential = %s needs app_id (the application openclawd uses for "
                        "Graph, e.g. app_id = " EX_GUID ")",
                        c->title, oc_credential_name(a->credential));
        }
        if (c->sec == SEC_DIRECTORY && a->credential == OC_CRED_NONE) {
            return fail(c, cred_line,
                        "%s: the directory sync needs a credential for Microsoft Graph (e.g. "
                        "credential = tpm-certificate with app_id): credential = none cannot "
                        "sync; remove the [directory] section instead",
                        c->title);
        }

        if (a->credential == OC_CRED_SECRET_FILE && a->secret_file == NULL) {
            return fail(c, cred_line,
                        "%s: credential = secret-file needs secret_file (e.g. secret_file = "
                        "/etc/openclaw/secrets/%s)",
                        c->title, a->name);
        }
        if (a->credential == OC_CRED_AGENT_IDENTITY && a->blueprint_app_id[0] == '\0') {
            return fail(c, cred_line,
                        "%s: credential = agent-identity needs blueprint_app_id (e.g. "
                        "blueprint_app_id = " EX_GUID ")",
                        c->title);
        }
        if (c->seen[key_index(SEC_AGENT, "blueprint_credential")] != 0 &&
            a->credential != OC_CRED_AGENT_IDENTITY) {
            return fail(c, c->seen[key_index(SEC_AGENT, "blueprint_credential")],
                        "%s: blueprint_credential is only used with credential = agent-identity "
                        "(remove it, or set credential = agent-identity and blueprint_app_id)",
                        c->title);
        }
        if (a->credential == OC_CRED_AGENT_IDENTITY) {
            unsigned bl = c->seen[key_index(SEC_AGENT, "blueprint_credential")];

            if (bl == 0) {
                a->blueprint_credential = OC_CRED_TPM_CERTIFICATE;
            }
            if (a->blueprint_credential == OC_CRED_SECRET_FILE && a->secret_file == NULL) {
                return fail(c, bl,
                            "%s: blueprint_credential = secret-file needs secret_file, the "
                            "blueprint's client secret (e.g. secret_file = "
                            "/etc/openclaw/secrets/%s)",
                            c->title, a->name);
            }
        }
        if (n_mi > 1) {
            return fail(c, a->line,
                        "%s: set only one of mi_client_id, mi_object_id and mi_res_id (they all "
                        "name the same user-assigned identity)",
                        c->title);
        }
        if (n_mi > 0 && a->credential != OC_CRED_MANAGED_IDENTITY) {
            return fail(c, a->line,
                        "%s: mi_client_id, mi_object_id and mi_res_id are only used with "
                        "credential = managed-identity",
                        c->title);
        }
    }
    return 0;
}

/* [global] or [roles]: no name, once each. */
static int begin_global_or_roles(struct ctx *c, const char *word, const char *arg)
{
    struct oc_config *cfg = c->cfg;

    bool global = word[0] == 'g';

    if (*arg != '\0') {
        return fail(c, c->line, "[%s] takes no name: write [%s]", word, word);
    }
    if (global ? c->global_line != 0 : c->roles_line != 0) {
        return fail(c, c->line, "[%s] appears twice (first on line %u): merge the two sections",
                    word, global ? c->global_line : c->roles_line);
    }
    if (global) {
        c->global_line = c->line;
        c->header_line = c->line;
        c->seen = c->global_seen;
        c->sec = SEC_GLOBAL;
        c->obj = &cfg->global;
        (void)snprintf(c->title, sizeof(c->title), "[global]");
    } else {
        c->roles_line = c->line;
        c->header_line = c->line;
        c->seen = NULL;
        c->sec = SEC_ROLES;
        c->obj = NULL;
        (void)snprintf(c->title, sizeof(c->title), "[roles]");
    }
    return 0;
}

/* [service NAME]: a PAM service name, once each. */
static int begin_service(struct ctx *c, const char *arg)
{
    struct oc_config *cfg = c->cfg;
    size_t i;
    int r;

    struct oc_service *s;

    if (*arg == '\0') {
        return fail(c, c->line,
                    "[service] needs the PAM service name: write e.g. [service sshd] or "
                    "[service default]");
    }
    if (!valid_service_name(arg)) {
        return fail(c, c->line,
                    "[service %.64s]: a PAM service name has only letters, digits, '.', '_' "
                    "and '-' (at most %d): write e.g. [service sshd]",
                    arg, OC_CONFIG_SERVICE_NAME_MAX);
    }
    for (i = 0; i < cfg->n_services; i++) {
        if (strcmp(cfg->services[i].name, arg) == 0) {
            return fail(c, c->line,
                        "[service %s] appears twice (first on line %u): merge the two sections",
                        arg, cfg->services[i].line);
        }
    }
    r = grow((void **)&cfg->services, &c->services_cap, cfg->n_services, sizeof(*cfg->services),
             OC_CONFIG_SERVICES_MAX);
    if (r == 0) {
        r = grow((void **)&c->service_seen, &c->service_seen_cap, cfg->n_services,
                 sizeof(unsigned *), OC_CONFIG_SERVICES_MAX);
    }
    if (r == -E2BIG) {
        return fail(c, c->line, "more than %d [service] sections", OC_CONFIG_SERVICES_MAX);
    }
    if (r < 0) {
        return r;
    }
    c->service_seen[cfg->n_services] = seen_new();
    if (c->service_seen[cfg->n_services] == NULL) {
        return -ENOMEM;
    }
    s = &cfg->services[cfg->n_services];
    service_init(s);
    s->line = c->line;
    s->name = xstrdup(arg);
    cfg->n_services++;
    if (s->name == NULL) {
        return -ENOMEM;
    }
    c->seen = c->service_seen[cfg->n_services - 1];
    c->header_line = c->line;
    c->sec = SEC_SERVICE;
    c->obj = s;
    (void)snprintf(c->title, sizeof(c->title), "[service %s]", arg);
    return 0;
}

/* [agent NAME]: the agent's Unix user name, once each. */
static int begin_agent(struct ctx *c, const char *arg)
{
    struct oc_config *cfg = c->cfg;
    size_t i;
    int r;

    struct oc_agent *a;

    if (*arg == '\0') {
        return fail(c, c->line,
                    "[agent] needs the agent's Unix user name: write e.g. [agent build-bot]");
    }
    if (!oc_valid_user_name(arg)) {
        char slug[OC_USER_NAME_MAX + 1];

        if (oc_idmap_slug(arg, "", slug, sizeof(slug)) < 0) {
            (void)oc_strscpy(slug, sizeof(slug), "build-bot");
        }
        return fail(c, c->line,
                    "[agent %.64s]: the agent name is its Unix user name: lowercase letters, "
                    "digits, '_' and '-', starting with a letter or '_', at most %d characters "
                    "(e.g. [agent %s])",
                    arg, OC_USER_NAME_MAX, slug);
    }
    for (i = 0; i < cfg->n_agents; i++) {
        if (strcmp(cfg->agents[i].name, arg) == 0) {
            return fail(c, c->line,
                        "[agent %s] appears twice (first on line %u): merge the two sections", arg,
                        cfg->agents[i].line);
        }
    }
    r = grow((void **)&cfg->agents, &c->agents_cap, cfg->n_agents, sizeof(*cfg->agents),
             OC_CONFIG_AGENTS_MAX);
    if (r == 0) {
        r = grow((void **)&c->agent_seen, &c->agent_seen_cap, cfg->n_agents, sizeof(unsigned *),
                 OC_CONFIG_AGENTS_MAX);
    }
    if (r == -E2BIG) {
        return fail(c, c->line, "more than %d [agent] sections", OC_CONFIG_AGENTS_MAX);
    }
    if (r < 0) {
        return r;
    }
    c->agent_seen[cfg->n_agents] = seen_new();
    if (c->agent_seen[cfg->n_agents] == NULL) {
        return -ENOMEM;
    }
    a = &cfg->agents[cfg->n_agents];
    agent_init(a);
    a->line = c->line;
    a->name = xstrdup(arg);
    cfg->n_agents++;
    if (a->name == NULL) {
        return -ENOMEM;
    }
    c->seen = c->agent_seen[cfg->n_agents - 1];
    c->header_line = c->line;
    c->sec = SEC_AGENT;
    c->obj = a;
    (void)snprintf(c->title, sizeof(c->title), "[agent %s]", arg);
    return 0;
}

/* [directory]: no name, once. */
static int begin_directory(struct ctx *c, const char *arg)
{
    struct oc_config *cfg = c->cfg;

    struct oc_directory *d;

    if (*arg != '\0') {
        return fail(c, c->line, "[directory] takes no name: write [directory]");
    }
    if (c->directory_line != 0) {
        return fail(c, c->line,
                    "[directory] appears twice (first on line %u): merge the two sections",
                    c->directory_line);
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return -ENOMEM;
    }
    cfg->directory = d;
    agent_init(&d->agent);
    d->line = c->line;
    d->agent.line = c->line;
    d->agent.name = xstrdup("directory");
    if (d->agent.name == NULL) {
        return -ENOMEM;
    }
    c->directory_line = c->line;
    c->header_line = c->line;
    c->seen = c->directory_seen;
    c->sec = SEC_DIRECTORY;
    c->obj = d;
    (void)snprintf(c->title, sizeof(c->title), "[directory]");
    return 0;
}

static int begin_section(struct ctx *c, char *inner)
{
    char *word = oc_strstrip(inner), *arg;

    arg = word;
    while (*arg != '\0' && *arg != ' ' && *arg != '\t') {
        arg++;
    }
    if (*arg != '\0') {
        *arg++ = '\0';
        arg = oc_strstrip(arg);
    }
    if (strcmp(word, "global") == 0 || strcmp(word, "roles") == 0) {
        return begin_global_or_roles(c, word, arg);
    }
    if (strcmp(word, "service") == 0) {
        return begin_service(c, arg);
    }
    if (strcmp(word, "agent") == 0) {
        return begin_agent(c, arg);
    }
    if (strcmp(word, "directory") == 0) {
        return begin_directory(c, arg);
    }
    return fail(c, c->line,
                "unknown section [%.64s]: sections are [global], [service NAME], [agent NAME], "
                "[roles] and [directory]",
                word);
}

static int roles_entry(struct ctx *c, const char *key, const char *value)
{
    struct oc_config *cfg = c->cfg;
    char shown[ECHO_MAX + 4];
    size_t i;
    int r;

    echo(key, shown, sizeof(shown));
    if (!valid_role_value(key)) {
        return fail(c, c->line,
                    "[roles]: '%s' is not an app role value (letters, digits, '.', '_', ':', '-'; "
                    "e.g. Host.Login = openclaw-login)",
                    shown);
    }
    if (!oc_valid_user_name(value)) {
        char v[ECHO_MAX + 4];

        echo(value, v, sizeof(v));
        return fail(c, c->line,
                    "[roles]: %s = %s: the value must be a Unix group name (lowercase letters, "
                    "digits, '_', '-'; e.g. %s = openclaw-login)",
                    shown, v, shown);
    }
    for (i = 0; i < cfg->n_roles; i++) {
        if (strcmp(cfg->roles[i].role, key) == 0) {
            return fail(
                    c, c->line,
                    "[roles]: role %s is mapped twice: keep one line (a role maps to one group)",
                    shown);
        }
    }
    r = grow((void **)&cfg->roles, &c->roles_cap, cfg->n_roles, sizeof(*cfg->roles),
             OC_CONFIG_ROLES_MAX);
    if (r == -E2BIG) {
        return fail(c, c->line, "[roles]: more than %d roles", OC_CONFIG_ROLES_MAX);
    }
    if (r < 0) {
        return r;
    }
    cfg->roles[cfg->n_roles].role = xstrdup(key);
    cfg->roles[cfg->n_roles].group = xstrdup(value);
    cfg->n_roles++;
    if (cfg->roles[cfg->n_roles - 1].role == NULL || cfg->roles[cfg->n_roles - 1].group == NULL) {
        return -ENOMEM;
    }
    return 0;
}

static int key_line(struct ctx *c, char *text)
{
    char *eq = strchr(text, '='), *key, *value;
    const struct keydef *k;
    char shown[ECHO_MAX + 4];
    int idx;

    if (eq == NULL) {
        echo(text, shown, sizeof(shown));
        return fail(c, c->line,
                    "'%s' is not a section header or a 'key = value' line (comments start with # "
                    "or ;)",
                    shown);
    }
    *eq = '\0';
    key = oc_strstrip(text);
    value = oc_strstrip(eq + 1);
    if (key[0] == '\0') {
        return fail(c, c->line, "a line starts with '=': write 'key = value'");
    }
    echo(key, shown, sizeof(shown));
    if (c->sec == SEC_NONE) {
        return fail(c, c->line,
                    "%s is outside any section: put it under [global], [service NAME], "
                    "[agent NAME], [roles] or [directory]",
                    shown);
    }
    if (value[0] == '\0') {
        return fail(c, c->line, "%s has no value: write a value or remove the line", shown);
    }
    if (c->sec == SEC_ROLES) {
        return roles_entry(c, key, value);
    }
    idx = key_index(c->sec, key);
    if (idx < 0) {
        const char *other = section_of_key(c->sec, key);
        const char *sugg = suggest_key(c->sec, key);

        if (other != NULL) {
            return fail(c, c->line, "%s: %s belongs in %s, not here", c->title, shown, other);
        }
        if (sugg != NULL) {
            return fail(c, c->line, "%s: unknown key %s (did you mean %s?)", c->title, shown, sugg);
        }
        return fail(c, c->line, "%s: unknown key %s (see openclaw.conf(5) for the keys)", c->title,
                    shown);
    }
    k = &keytab[idx];
    if (c->seen[idx] != 0) {
        return fail(c, c->line, "%s: %s is set twice (first on line %u): keep one line", c->title,
                    k->name, c->seen[idx]);
    }
    c->seen[idx] = c->line;
    return k->parse(c, k, value, (char *)c->obj + k->offset);
}

static int check_line_bytes(struct ctx *c, const char *l, size_t n)
{
    size_t i, bad;

    if (memchr(l, '\0', n) != NULL) {
        return fail(c, c->line, "contains a NUL byte: the file must be text");
    }
    if (!oc_utf8_valid(l, n, &bad)) {
        return fail(c, c->line, "is not valid UTF-8 (byte %zu): save the file as UTF-8", bad + 1);
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)l[i];

        if (ch == '\r' && i + 1 == n) {
            continue; /* CRLF line ending */
        }
        if ((ch < 0x20 && ch != '\t') || ch == 0x7F) {
            return fail(c, c->line, "contains a control character (0x%02x) at byte %zu", ch, i + 1);
        }
    }
    return 0;
}

static int one_line(struct ctx *c, const char *raw, size_t n)
{
    char buf[OC_CONFIG_LINE_MAX + 1];
    char *l;
    size_t len;
    int r;

    if (n > OC_CONFIG_LINE_MAX) {
        return fail(c, c->line, "line is longer than %d bytes: shorten it", OC_CONFIG_LINE_MAX);
    }
    r = check_line_bytes(c, raw, n);
    if (r < 0) {
        return r;
    }
    memcpy(buf, raw, n);
    buf[n] = '\0';
    l = oc_strstrip(buf);
    if (l[0] == '\0' || l[0] == '#' || l[0] == ';') {
        return 0;
    }
    if (l[0] == '[') {
        len = strlen(l);
        if (l[len - 1] != ']') {
            return fail(c, c->line,
                        "a section header must end with ']' and stand alone on its line (e.g. "
                        "[global])");
        }
        l[len - 1] = '\0';
        r = end_section(c);
        if (r < 0) {
            return r;
        }
        return begin_section(c, l + 1);
    }
    return key_line(c, l);
}

/* ------------------------------------------------------------------ */
/* After the last line: defaults and checks across sections           */
/* ------------------------------------------------------------------ */

static int set_default(char **field, const char *value)
{
    if (*field != NULL) {
        return 0;
    }
    *field = xstrdup(value);
    return *field == NULL ? -ENOMEM : 0;
}

static int set_default_join(char **field, const char *dir, const char *leaf)
{
    char *s;

    if (*field != NULL) {
        return 0;
    }
    if (asprintf(&s, "%s/%s", dir, leaf) < 0) {
        return -ENOMEM;
    }
    *field = s;
    return 0;
}

static unsigned gline(struct ctx *c, const char *key)
{
    int i = key_index(SEC_GLOBAL, key);

    return i < 0 ? 0 : c->global_seen[i];
}

static int global_defaults(struct ctx *c)
{
    struct oc_global *g = &c->cfg->global;
    int r = 0;

    if (gline(c, "algorithms") == 0) {
        g->algorithms = OC_ALG_ALL;
    }
    if (gline(c, "clock_skew") == 0) {
        g->clock_skew = OC_DEFAULT_CLOCK_SKEW;
    }
    if (gline(c, "uid_min") == 0) {
        g->uid_min = OC_DEFAULT_UID_MIN;
    }
    if (gline(c, "uid_max") == 0) {
        g->uid_max = OC_DEFAULT_UID_MAX;
    }
    r = r < 0 ? r : set_default(&g->authority, OC_DEFAULT_AUTHORITY);
    r = r < 0 ? r : set_default(&g->issuer_v1, OC_DEFAULT_ISSUER_V1);
    r = r < 0 ? r : set_default_join(&g->issuer_v2, g->authority, "{tenantid}/v2.0");
    r = r < 0 ? r : set_default(&g->home, OC_DEFAULT_HOME);
    r = r < 0 ? r : set_default(&g->shell, OC_DEFAULT_SHELL);
    r = r < 0 ? r : set_default(&g->state_dir, OC_DEFAULT_STATE_DIR);
    r = r < 0 ? r : set_default(&g->trust_dir, OC_DEFAULT_TRUST_DIR);
    r = r < 0 ? r : set_default_join(&g->jwks_dir, g->trust_dir, "jwks");
    r = r < 0 ? r : set_default_join(&g->nss_cache, g->trust_dir, "nss.cache");
    r = r < 0 ? r : set_default_join(&g->keys_dir, g->state_dir, "keys");
    r = r < 0 ? r : set_default(&g->runtime_dir, OC_DEFAULT_RUNTIME_DIR);
    r = r < 0 ? r : set_default_join(&g->socket, g->runtime_dir, "openclawd.sock");
    r = r < 0 ? r : set_default(&g->tally_dir, OC_DEFAULT_TALLY_DIR);
    r = r < 0 ? r : set_default(&g->tcti, OC_DEFAULT_TCTI);
    return r;
}

static bool in_range(uint32_t v, uint32_t lo, uint32_t hi)
{
    return v >= lo && v <= hi;
}

/* Test builds only (configure --enable-test-hooks): OPENCLAW_TEST_BREAK =
 * "uid-range" turns off the uid_min/uid_max order check, the negative
 * control of the hostile-inputs test (a config that should be refused for
 * that reason must then no longer be counted as refused for it). */
static bool uid_range_check_on(void)
{
#ifdef OC_TEST_HOOKS
    const char *s = secure_getenv("OPENCLAW_TEST_BREAK");

    if (s != NULL && strcmp(s, "uid-range") == 0) {
        return false;
    }
#endif
    return true;
}

static int check_global(struct ctx *c)
{
    struct oc_global *g = &c->cfg->global;
    unsigned lmin = gline(c, "uid_min"), lmax = gline(c, "uid_max");
    unsigned at = lmax > lmin ? lmax : lmin;

    if (g->uid_max < g->uid_min && uid_range_check_on()) {
        return fail(c, at,
                    "uid_max = %u is below uid_min = %u: uid_max must be at least uid_min (e.g. "
                    "uid_min = %u with uid_max = %u)",
                    g->uid_max, g->uid_min, OC_DEFAULT_UID_MIN, OC_DEFAULT_UID_MAX);
    }
    if (in_range(65534, g->uid_min, g->uid_max) || in_range(65535, g->uid_min, g->uid_max)) {
        return fail(c, at,
                    "uid_min = %u .. uid_max = %u contains 65534/65535 (nobody, and (uid_t)-1 in "
                    "16 bits): choose a range above them (e.g. uid_min = %u, uid_max = %u)",
                    g->uid_min, g->uid_max, OC_DEFAULT_UID_MIN, OC_DEFAULT_UID_MAX);
    }
    /* bind() and connect() take at most sun_path's size, NUL included */
    if (strlen(g->socket) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
        return fail(c, gline(c, "socket"),
                    "socket: the path is %zu bytes, a Unix socket path holds at most %zu: "
                    "choose a shorter one (e.g. socket = %s/openclawd.sock)",
                    strlen(g->socket), sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1,
                    OC_DEFAULT_RUNTIME_DIR);
    }
    return 0;
}

static int set_agent_defaults(struct oc_agent *a, const struct oc_global *g)
{
    int r = 0;
    char leaf[OC_USER_NAME_MAX + 16];

    if (a->credential == OC_CRED_TPM_CERTIFICATE) {
        (void)snprintf(leaf, sizeof(leaf), "%s.tpmkey", a->name);
        r = set_default_join(&a->key_file, g->keys_dir, leaf);
        (void)snprintf(leaf, sizeof(leaf), "%s.crt", a->name);
        r = r < 0 ? r : set_default_join(&a->cert_file, g->keys_dir, leaf);
    } else if (a->credential == OC_CRED_TPM_SEALED_SECRET) {
        (void)snprintf(leaf, sizeof(leaf), "%s.sealed", a->name);
        r = set_default_join(&a->sealed_file, g->keys_dir, leaf);
    }
    if (a->credential == OC_CRED_AGENT_IDENTITY) {
        /* The blueprint's credential, same file names as an agent's own. */
        if (a->blueprint_credential == OC_CRED_TPM_CERTIFICATE) {
            (void)snprintf(leaf, sizeof(leaf), "%s.tpmkey", a->name);
            r = set_default_join(&a->key_file, g->keys_dir, leaf);
            (void)snprintf(leaf, sizeof(leaf), "%s.crt", a->name);
            r = r < 0 ? r : set_default_join(&a->cert_file, g->keys_dir, leaf);
        } else if (a->blueprint_credential == OC_CRED_TPM_SEALED_SECRET) {
            (void)snprintf(leaf, sizeof(leaf), "%s.sealed", a->name);
            r = set_default_join(&a->sealed_file, g->keys_dir, leaf);
        }
    }
    return r;
}

static int check_agents(struct ctx *c)
{
    struct oc_config *cfg = c->cfg;
    const struct oc_global *g = &cfg->global;
    int i_uid = key_index(SEC_AGENT, "uid");
    int i_cred = key_index(SEC_AGENT, "credential");
    int i_app = key_index(SEC_AGENT, "app_id");
    int i_obj = key_index(SEC_AGENT, "object_id");
    size_t i, j;
    int r;

    for (i = 0; i < cfg->n_agents; i++) {
        struct oc_agent *a = &cfg->agents[i];

        if (a->has_uid && !in_range(a->uid, g->uid_min, g->uid_max)) {
            return fail(c, c->agent_seen[i][i_uid],
                        "[agent %s]: uid = %u is outside uid_min = %u .. uid_max = %u: pick a uid "
                        "inside that range",
                        a->name, a->uid, g->uid_min, g->uid_max);
        }
        if (a->credential == OC_CRED_SECRET_FILE && !g->allow_insecure_credentials) {
            return fail(c, c->agent_seen[i][i_cred],
                        "[agent %s]: credential = secret-file keeps a client secret in a plain "
                        "file: prefer credential = tpm-sealed-secret, or set "
                        "allow_insecure_credentials = yes in [global]",
                        a->name);
        }
        if (a->credential == OC_CRED_AGENT_IDENTITY &&
            a->blueprint_credential == OC_CRED_SECRET_FILE && !g->allow_insecure_credentials) {
            unsigned bl = c->agent_seen[i][key_index(SEC_AGENT, "blueprint_credential")];

            return fail(c, bl,
                        "[agent %s]: blueprint_credential = secret-file keeps the blueprint's "
                        "client secret in a plain file: prefer blueprint_credential = "
                        "tpm-certificate, or set allow_insecure_credentials = yes in [global]",
                        a->name);
        }
        for (j = 0; j < i; j++) {
            const struct oc_agent *b = &cfg->agents[j];

            if (strcmp(a->app_id, b->app_id) == 0) {
                return fail(c, c->agent_seen[i][i_app],
                            "[agent %s]: app_id %s is already used by [agent %s] (line %u): one "
                            "application is one agent",
                            a->name, a->app_id, b->name, c->agent_seen[j][i_app]);
            }
            if (strcmp(a->object_id, b->object_id) == 0) {
                return fail(c, c->agent_seen[i][i_obj],
                            "[agent %s]: object_id %s is already used by [agent %s] (line %u): one "
                            "service principal is one agent",
                            a->name, a->object_id, b->name, c->agent_seen[j][i_obj]);
            }
        }
        r = set_agent_defaults(a, g);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

static int check_directory(struct ctx *c)
{
    struct oc_config *cfg = c->cfg;
    struct oc_directory *d = cfg->directory;
    int i_cred = key_index(SEC_DIRECTORY, "credential");
    int r = 0;

    if (d == NULL) {
        return 0;
    }
    if (c->directory_seen[key_index(SEC_DIRECTORY, "sync_interval")] == 0) {
        d->sync_interval = OC_DEFAULT_SYNC_INTERVAL;
    }
    if (c->directory_seen[key_index(SEC_DIRECTORY, "max_requests_per_minute")] == 0) {
        d->max_requests_per_minute = OC_DEFAULT_GRAPH_BUDGET;
    }
    if (c->directory_seen[key_index(SEC_DIRECTORY, "assignment_delta")] == 0) {
        d->assignment_delta = true;
    }
    if (c->directory_seen[key_index(SEC_DIRECTORY, "full_sync_interval")] == 0) {
        d->full_sync_interval = d->sync_interval > OC_DEFAULT_FULL_SYNC_INTERVAL
                                        ? d->sync_interval
                                        : OC_DEFAULT_FULL_SYNC_INTERVAL;
    } else if (d->full_sync_interval < d->sync_interval) {
        return fail(c, c->directory_seen[key_index(SEC_DIRECTORY, "full_sync_interval")],
                    "[directory]: full_sync_interval = %u is shorter than sync_interval = %u: "
                    "set it to sync_interval or more",
                    d->full_sync_interval, d->sync_interval);
    }
    if (d->agent.credential == OC_CRED_SECRET_FILE && !cfg->global.allow_insecure_credentials) {
        return fail(c, c->directory_seen[i_cred],
                    "[directory]: credential = secret-file keeps a client secret in a plain "
                    "file: prefer credential = tpm-certificate, or set "
                    "allow_insecure_credentials = yes in [global]");
    }
    r = r < 0 ? r : set_default(&d->graph_url, OC_DEFAULT_GRAPH_URL);
    r = r < 0 ? r : set_default(&d->graph_resource, d->graph_url);
    r = r < 0 ? r : set_default(&d->resource, cfg->global.audiences.items[0]);
    r = r < 0 ? r : set_agent_defaults(&d->agent, &cfg->global);
    return r;
}

static int check_services(struct ctx *c)
{
    struct oc_config *cfg = c->cfg;
    int i_allow = key_index(SEC_SERVICE, "allow_agents");
    size_t i, j;

    for (i = 0; i < cfg->n_services; i++) {
        const struct oc_service *s = &cfg->services[i];

        for (j = 0; j < s->allow_agents.n; j++) {
            if (oc_config_agent_by_name(cfg, s->allow_agents.items[j]) == NULL) {
                return fail(c, c->service_seen[i][i_allow],
                            "[service %s]: allow_agents names %s, but there is no [agent %s] "
                            "section: fix the name or add the agent",
                            s->name, s->allow_agents.items[j], s->allow_agents.items[j]);
            }
        }
    }
    return 0;
}

static int finish(struct ctx *c)
{
    int r;

    r = end_section(c);
    if (r < 0) {
        return r;
    }
    if (c->global_line == 0) {
        return fail(c, 0,
                    "no [global] section: add one with at least tenant_id and audiences (e.g. "
                    "[global] tenant_id = " EX_GUID " audiences = api://openclaw-host)");
    }
    r = global_defaults(c);
    if (r < 0) {
        return r;
    }
    r = check_global(c);
    if (r < 0) {
        return r;
    }
    r = check_agents(c);
    if (r < 0) {
        return r;
    }
    r = check_directory(c);
    if (r < 0) {
        return r;
    }
    return check_services(c);
}

/* ------------------------------------------------------------------ */
/* Public entry points                                                */
/* ------------------------------------------------------------------ */

static void set_err_file(struct oc_config_error *err, const char *name)
{
    if (err == NULL) {
        return;
    }
    memset(err, 0, sizeof(*err));
    (void)oc_strscpy(err->file, sizeof(err->file), name != NULL ? name : "openclaw.conf");
}

static void ctx_free(struct ctx *c)
{
    size_t i;

    if (c->cfg != NULL) {
        for (i = 0; i < c->cfg->n_agents; i++) {
            free(c->agent_seen[i]);
        }
        for (i = 0; i < c->cfg->n_services; i++) {
            free(c->service_seen[i]);
        }
    }
    free(c->agent_seen);
    free(c->service_seen);
}

int oc_config_parse(const char *buf, size_t len, const char *name, unsigned flags,
                    struct oc_config **ret_config, struct oc_config_error *err)
{
    struct ctx c = {0};
    size_t pos = 0;
    int r;

    set_err_file(err, name);
    c.flags = flags;
    c.err = err;
    if (buf == NULL && len > 0) {
        return -EINVAL;
    }
    if (len > OC_CONFIG_FILE_MAX) {
        (void)fail(&c, 0, "is larger than %d bytes", OC_CONFIG_FILE_MAX);
        return -EFBIG;
    }
    c.cfg = calloc(1, sizeof(*c.cfg));
    if (c.cfg == NULL) {
        r = -ENOMEM;
        goto out;
    }
    /* A UTF-8 byte order mark some editors write is not content. */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        pos = 3;
    }
    while (pos < len) {
        const char *start = buf + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - start) : len - pos;

        c.line++;
        r = one_line(&c, start, n);
        if (r < 0) {
            goto out;
        }
        pos += n + (nl != NULL ? 1 : 0);
    }
    r = finish(&c);
    if (r < 0) {
        goto out;
    }
    ctx_free(&c);
    *ret_config = c.cfg;
    return 0;
out:
    if (r == -ENOMEM) {
        (void)fail(&c, c.line, "out of memory");
        r = -ENOMEM;
    }
    ctx_free(&c);
    oc_config_free(c.cfg);
    return r;
}

static int read_all(int fd, size_t hint, char **ret_buf, size_t *ret_len)
{
    size_t cap = hint + 1, n = 0;
    char *buf, *p;
    int r;

    if (cap > OC_CONFIG_FILE_MAX + 1) {
        cap = OC_CONFIG_FILE_MAX + 1;
    }
    buf = malloc(cap);
    if (buf == NULL) {
        return -ENOMEM;
    }
    for (;;) {
        ssize_t k;

        if (n == cap) {
            if (cap > OC_CONFIG_FILE_MAX) {
                r = -EFBIG;
                goto fail;
            }
            cap = OC_CONFIG_FILE_MAX + 1;
            p = realloc(buf, cap);
            if (p == NULL) {
                r = -ENOMEM;
                goto fail;
            }
            buf = p;
        }
        k = read(fd, buf + n, cap - n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            r = -errno;
            goto fail;
        }
        if (k == 0) {
            break;
        }
        n += (size_t)k;
    }
    if (n > OC_CONFIG_FILE_MAX) {
        r = -EFBIG;
        goto fail;
    }
    *ret_buf = buf;
    *ret_len = n;
    return 0;
fail:
    free(buf);
    return r;
}

int oc_config_load(const char *path, unsigned flags, struct oc_config **ret_config,
                   struct oc_config_error *err)
{
    struct ctx c = {0};
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int fd = -1, r;

    set_err_file(err, path);
    c.err = err;
    if (path == NULL) {
        return -EINVAL;
    }
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        r = -errno;
        if (r == -ELOOP) {
            (void)fail(&c, 0,
                       "is a symbolic link, which is refused: replace the link with the file "
                       "itself");
        } else if (r == -ENOENT) {
            (void)fail(&c, 0, "does not exist: create it (see openclaw.conf(5))");
        } else {
            (void)fail(&c, 0, "cannot be opened: %s", strerror(-r));
        }
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        (void)fail(&c, 0, "cannot be examined: %s", strerror(-r));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        (void)fail(&c, 0, "is not a regular file");
        goto out;
    }
    if ((flags & OC_CONFIG_INSECURE_OK) == 0) {
        if (st.st_uid != 0) {
            r = -EPERM;
            (void)fail(&c, 0,
                       "is owned by uid %u, not root: run 'chown root:root %s && chmod 0644 %s'",
                       (unsigned)st.st_uid, path, path);
            goto out;
        }
        if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
            r = -EPERM;
            (void)fail(&c, 0,
                       "is writable by group or others (mode %04o): run 'chown root:root %s && "
                       "chmod 0644 %s'",
                       (unsigned)(st.st_mode & 07777), path, path);
            goto out;
        }
    }
    if (st.st_size > OC_CONFIG_FILE_MAX) {
        r = -EFBIG;
        (void)fail(&c, 0, "is larger than %d bytes", OC_CONFIG_FILE_MAX);
        goto out;
    }
    r = read_all(fd, (size_t)st.st_size, &buf, &len);
    if (r == -EFBIG) {
        (void)fail(&c, 0, "is larger than %d bytes", OC_CONFIG_FILE_MAX);
        goto out;
    }
    if (r < 0) {
        (void)fail(&c, 0, "cannot be read: %s", strerror(-r));
        goto out;
    }
    r = oc_config_parse(buf, len, path, flags, ret_config, err);
out:
    free(buf);
    if (fd >= 0) {
        (void)close(fd);
    }
    return r;
}

void oc_config_free(struct oc_config *cfg)
{
    struct oc_global *g;
    size_t i;

    if (cfg == NULL) {
        return;
    }
    g = &cfg->global;
    free(g->authority);
    free(g->issuer_v1);
    free(g->issuer_v2);
    strlist_free(&g->audiences);
    strlist_free(&g->ssh_namespaces);
    free(g->home);
    free(g->shell);
    free(g->state_dir);
    free(g->jwks_dir);
    free(g->nss_cache);
    free(g->keys_dir);
    free(g->runtime_dir);
    free(g->socket);
    free(g->tally_dir);
    free(g->trust_dir);
    free(g->tcti);
    free(g->ca_file);
    for (i = 0; i < cfg->n_services; i++) {
        struct oc_service *s = &cfg->services[i];

        free(s->name);
        strlist_free(&s->require_role);
        strlist_free(&s->allow_agents);
    }
    free(cfg->services);
    for (i = 0; i < cfg->n_agents; i++) {
        struct oc_agent *a = &cfg->agents[i];

        free(a->name);
        strlist_free(&a->groups);
        free(a->display_name);
        free(a->key_file);
        free(a->cert_file);
        free(a->sealed_file);
        free(a->secret_file);
        free(a->mi_res_id);
        strlist_free(&a->scopes);
    }
    free(cfg->agents);
    if (cfg->directory != NULL) {
        struct oc_agent *a = &cfg->directory->agent;

        free(cfg->directory->resource);
        free(cfg->directory->graph_url);
        free(cfg->directory->graph_resource);
        free(a->name);
        free(a->key_file);
        free(a->cert_file);
        free(a->sealed_file);
        free(a->secret_file);
        free(a->mi_res_id);
        free(cfg->directory);
    }
    for (i = 0; i < cfg->n_roles; i++) {
        free(cfg->roles[i].role);
        free(cfg->roles[i].group);
    }
    free(cfg->roles);
    free(cfg);
}

int oc_config_error_format(const struct oc_config_error *err, char *buf, size_t len)
{
    int n;

    if (err == NULL || buf == NULL || len == 0) {
        return -EINVAL;
    }
    if (err->line > 0) {
        n = snprintf(buf, len, "%s:%u: %s", err->file, err->line, err->msg);
    } else {
        n = snprintf(buf, len, "%s: %s", err->file, err->msg);
    }
    if (n < 0) {
        return -EINVAL;
    }
    return (size_t)n >= len ? -ENOBUFS : 0;
}

const char *oc_credential_name(enum oc_credential cred)
{
    switch (cred) {
    case OC_CRED_NONE:
        return "none";
    case OC_CRED_TPM_CERTIFICATE:
        return "tpm-certificate";
    case OC_CRED_TPM_SEALED_SECRET:
        return "tpm-sealed-secret";
    case OC_CRED_MANAGED_IDENTITY:
        return "managed-identity";
    case OC_CRED_AZURE_ARC:
        return "azure-arc";
    case OC_CRED_AGENT_IDENTITY:
        return "agent-identity";
    case OC_CRED_SECRET_FILE:
        return "secret-file";
    }
    return NULL;
}

const struct oc_service *oc_config_service(const struct oc_config *cfg, const char *pam_service)
{
    const struct oc_service *def = NULL;
    size_t i;

    if (cfg == NULL) {
        return NULL;
    }
    for (i = 0; i < cfg->n_services; i++) {
        if (pam_service != NULL && strcmp(cfg->services[i].name, pam_service) == 0) {
            return &cfg->services[i];
        }
        if (strcmp(cfg->services[i].name, "default") == 0) {
            def = &cfg->services[i];
        }
    }
    return def;
}

const struct oc_agent *oc_config_agent_by_name(const struct oc_config *cfg, const char *name)
{
    size_t i;

    if (cfg == NULL || name == NULL) {
        return NULL;
    }
    for (i = 0; i < cfg->n_agents; i++) {
        if (strcmp(cfg->agents[i].name, name) == 0) {
            return &cfg->agents[i];
        }
    }
    return NULL;
}

const struct oc_agent *oc_config_agent_by_app_id(const struct oc_config *cfg, const char *app_id)
{
    size_t i;

    if (cfg == NULL || !oc_is_guid(app_id)) {
        return NULL;
    }
    for (i = 0; i < cfg->n_agents; i++) {
        if (oc_guid_equal(cfg->agents[i].app_id, app_id)) {
            return &cfg->agents[i];
        }
    }
    return NULL;
}

const struct oc_agent *oc_config_agent_by_object_id(const struct oc_config *cfg,
                                                    const char *object_id)
{
    size_t i;

    if (cfg == NULL || !oc_is_guid(object_id)) {
        return NULL;
    }
    for (i = 0; i < cfg->n_agents; i++) {
        if (oc_guid_equal(cfg->agents[i].object_id, object_id)) {
            return &cfg->agents[i];
        }
    }
    return NULL;
}

const char *oc_config_role_group(const struct oc_config *cfg, const char *role)
{
    size_t i;

    if (cfg == NULL || role == NULL) {
        return NULL;
    }
    for (i = 0; i < cfg->n_roles; i++) {
        if (strcmp(cfg->roles[i].role, role) == 0) {
            return cfg->roles[i].group;
        }
    }
    return NULL;
}

int oc_config_home(const struct oc_config *cfg, const char *user, char *buf, size_t len)
{
    char out[OC_CONFIG_PATH_MAX + OC_USER_NAME_MAX * 8 + 1];
    const char *p;
    size_t n = 0;

    if (cfg == NULL || buf == NULL || !oc_valid_user_name(user) || cfg->global.home == NULL) {
        return -EINVAL;
    }
    for (p = cfg->global.home; *p != '\0'; p++) {
        const char *add = p;
        size_t addlen = 1;

        if (p[0] == '%' && p[1] == 'u') {
            add = user;
            addlen = strlen(user);
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            p++;
        }
        if (n + addlen >= sizeof(out)) {
            return -ENOBUFS;
        }
        memcpy(out + n, add, addlen);
        n += addlen;
    }
    out[n] = '\0';
    if (n + 1 > len) {
        return -ENOBUFS;
    }
    memcpy(buf, out, n + 1);
    return 0;
}
