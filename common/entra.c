/* entra.c: Entra ID access token rules and the verification entry point
 * (see entra.h and docs/verification.md). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "entra.h"
#include "json.h"
#include "jwks.h"
#include "jwt.h"

#define OC_GUID_LEN     36
#define OC_ACR_MAX      8   /* appidacr / azpacr */
#define OC_UTI_MAX      64  /* uti */
#define OC_AUD_MAX      512 /* one aud value */
#define OC_SHOWN_MAX    96  /* an untrusted value quoted in a detail */
#define OC_AGENT_FACET  "11"
#define OC_FACET_DIGITS 5

/* The order of the checks: refusals before a later check leave the later
 * ones out of the report. */
static const char *const parse_checks[] = {"size", "format", "header", "alg", "kid"};

static void report_add(struct oc_verify_report *rep, const char *name, bool ok, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

static void report_add(struct oc_verify_report *rep, const char *name, bool ok, const char *fmt,
                       ...)
{
    struct oc_verify_check *c;
    va_list ap;

    if (rep == NULL) {
        return;
    }
    if (!ok && rep->failed == NULL) {
        rep->failed = name;
    }
    if (rep->n >= OC_VERIFY_MAX_CHECKS) {
        return;
    }
    c = &rep->checks[rep->n++];
    c->name = name;
    c->ok = ok;
    if (ok && !rep->explain) {
        c->detail[0] = '\0';
        return;
    }
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
    va_end(ap);
}

#define PASS(name, ...) report_add(report, (name), true, __VA_ARGS__)

/* Records a failed check and returns -EACCES. */
#define REFUSE(name, ...) (report_add(report, (name), false, __VA_ARGS__), -EACCES)

const char *oc_verify_report_failed(const struct oc_verify_report *report)
{
    if (report == NULL || report->failed == NULL) {
        return "";
    }
    return report->failed;
}

int oc_guid_check(const char *s)
{
    if (s == NULL) {
        return -EINVAL;
    }
    for (int i = 0; i < OC_GUID_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') {
                return -EINVAL;
            }
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return -EINVAL;
        }
    }
    return s[OC_GUID_LEN] == '\0' ? 0 : -EINVAL;
}

/* Audience values: exact, except that two GUIDs compare case-insensitively. */
static bool aud_equal(const char *a, const char *b)
{
    if (oc_guid_check(a) == 0 && oc_guid_check(b) == 0) {
        return strcasecmp(a, b) == 0;
    }
    return strcmp(a, b) == 0;
}

/* Replaces every "{tenantid}" in tmpl by tid. -ENAMETOOLONG if it does not fit. */
static int subst_tenant(const char *tmpl, const char *tid, char *out, size_t cap)
{
    size_t o = 0, tl = strlen(tid), kl = sizeof(OC_TENANT_TEMPLATE) - 1;

    for (;;) {
        const char *hit = strstr(tmpl, OC_TENANT_TEMPLATE);
        size_t n = hit != NULL ? (size_t)(hit - tmpl) : strlen(tmpl);

        if (cap - o <= n) {
            return -ENAMETOOLONG;
        }
        memcpy(out + o, tmpl, n);
        o += n;
        if (hit == NULL) {
            break;
        }
        if (cap - o <= tl) {
            return -ENAMETOOLONG;
        }
        memcpy(out + o, tid, tl);
        o += tl;
        tmpl = hit + kl;
    }
    out[o] = '\0';
    return 0;
}

/* "3 9 11": 1..5-digit numbers separated by single spaces. */
static bool facets_valid(const char *s)
{
    size_t digits = 0;

    if (*s == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (*s >= '0' && *s <= '9') {
            if (++digits > OC_FACET_DIGITS) {
                return false;
            }
        } else if (*s == ' ' && digits > 0) {
            digits = 0;
        } else {
            return false;
        }
    }
    return digits > 0;
}

static bool facets_have(const char *s, const char *facet)
{
    size_t fl = strlen(facet);

    if (s == NULL) {
        return false;
    }
    while (*s != '\0') {
        size_t n = strcspn(s, " ");
        if (n == fl && strncmp(s, facet, fl) == 0) {
            return true;
        }
        s += n;
        s += *s == ' ';
    }
    return false;
}

static const char *int_error(int r)
{
    switch (r) {
    case -ENOENT:
        return "is missing";
    case -ERANGE:
        return "is out of range";
    default:
        return "is not an integer number";
    }
}

static int policy_check(const struct oc_verify_policy *p, struct oc_verify_report *report)
{
    if (p == NULL) {
        report_add(report, "policy", false, "no policy");
        return -EINVAL;
    }
    if (oc_guid_check(p->tenant_id) < 0) {
        report_add(report, "policy", false, "tenant_id is not a GUID");
        return -EINVAL;
    }
    if (p->issuer_v1 == NULL && p->issuer_v2 == NULL) {
        report_add(report, "policy", false, "no issuer template");
        return -EINVAL;
    }
    if ((p->issuer_v1 != NULL && strlen(p->issuer_v1) > OC_TEMPLATE_MAX) ||
        (p->issuer_v2 != NULL && strlen(p->issuer_v2) > OC_TEMPLATE_MAX)) {
        report_add(report, "policy", false, "issuer template longer than %d bytes",
                   OC_TEMPLATE_MAX);
        return -EINVAL;
    }
    if (p->audiences == NULL || p->n_audiences == 0) {
        report_add(report, "policy", false, "no audience configured");
        return -EINVAL;
    }
    for (size_t i = 0; i < p->n_audiences; i++) {
        if (p->audiences[i] == NULL || p->audiences[i][0] == '\0') {
            report_add(report, "policy", false, "empty audience");
            return -EINVAL;
        }
    }
    if ((p->alg_mask & ~(unsigned)OC_ALG_ALL) != 0) {
        report_add(report, "policy", false, "unknown algorithm in alg_mask");
        return -EINVAL;
    }
    if (p->clock_skew > OC_SKEW_MAX) {
        report_add(report, "policy", false, "clock_skew %" PRIu32 " s exceeds %d s", p->clock_skew,
                   OC_SKEW_MAX);
        return -EINVAL;
    }
    if (p->now < 0 || p->now > OC_JSON_INT_MAX - OC_SKEW_MAX) {
        report_add(report, "policy", false, "now is out of range");
        return -EINVAL;
    }
    return 0;
}

/* Optional string claim: absent is fine, anything but a short string is not. */
static int opt_string(const cJSON *claims, const char *name, size_t max, const char **ret,
                      struct oc_verify_report *report, const char *check)
{
    int r = oc_json_get_string(claims, name, max, ret);

    if (r == -ENOENT) {
        *ret = NULL;
        return 0;
    }
    if (r < 0) {
        return REFUSE(check, "%s is not a string of at most %zu bytes", name, max);
    }
    return 0;
}

static int check_time(const cJSON *claims, const struct oc_verify_policy *p,
                      struct oc_verify_result *res, struct oc_verify_report *report)
{
    int64_t skew = p->clock_skew, now = p->now;
    int r;

    /* expiry */
    r = oc_json_get_int64(claims, "exp", 0, OC_JSON_INT_MAX, &res->exp);
    if (r < 0) {
        return REFUSE("expiry", "exp claim %s", int_error(r));
    }
    if (now >= res->exp + skew) {
        return REFUSE("expiry", "exp %" PRId64 " is %" PRId64 " s in the past (skew %" PRId64 " s)",
                      res->exp, now - res->exp, skew);
    }
    PASS("expiry", "exp %" PRId64 " is %" PRId64 " s ahead", res->exp, res->exp - now);

    /* not-before */
    r = oc_json_get_int64(claims, "nbf", 0, OC_JSON_INT_MAX, &res->nbf);
    if (r == -ENOENT) {
        PASS("not-before", "no nbf claim");
    } else if (r < 0) {
        return REFUSE("not-before", "nbf claim %s", int_error(r));
    } else if (now + skew < res->nbf) {
        return REFUSE("not-before",
                      "nbf %" PRId64 " is %" PRId64 " s in the future (skew %" PRId64 " s)",
                      res->nbf, res->nbf - now, skew);
    } else {
        res->has_nbf = true;
        PASS("not-before", "nbf %" PRId64 " has passed", res->nbf);
    }

    /* issued-at */
    r = oc_json_get_int64(claims, "iat", 0, OC_JSON_INT_MAX, &res->iat);
    if (r == -ENOENT) {
        PASS("issued-at", "no iat claim");
    } else if (r < 0) {
        return REFUSE("issued-at", "iat claim %s", int_error(r));
    } else if (now + skew < res->iat) {
        return REFUSE("issued-at",
                      "iat %" PRId64 " is %" PRId64 " s in the future (skew %" PRId64 " s)",
                      res->iat, res->iat - now, skew);
    } else if (res->exp <= res->iat) {
        return REFUSE("issued-at", "exp %" PRId64 " is not after iat %" PRId64, res->exp, res->iat);
    } else {
        res->has_iat = true;
        PASS("issued-at", "iat %" PRId64 " is %" PRId64 " s ago", res->iat, now - res->iat);
    }

    /* max-age */
    if (p->max_token_age == 0) {
        PASS("max-age", "no age limit configured");
    } else if (!res->has_iat) {
        return REFUSE("max-age", "no iat claim to check the %" PRIu32 " s age limit against",
                      p->max_token_age);
    } else if (now - res->iat > (int64_t)p->max_token_age + skew) {
        return REFUSE("max-age",
                      "token is %" PRId64 " s old (max %" PRIu32 " s, skew %" PRId64 " s)",
                      now - res->iat, p->max_token_age, skew);
    } else {
        PASS("max-age", "token is %" PRId64 " s old (max %" PRIu32 " s)", now - res->iat,
             p->max_token_age);
    }
    return 0;
}

static int check_audience(const cJSON *claims, const struct oc_verify_policy *p,
                          struct oc_verify_result *res, struct oc_verify_report *report)
{
    char shown[OC_SHOWN_MAX];
    const cJSON *aud = oc_json_member(claims, "aud");
    const char **items = NULL;
    const char *one = NULL;
    size_t n = 0;
    int r;

    if (aud == NULL) {
        return REFUSE("audience", "aud claim is missing");
    }
    if (cJSON_IsString(aud)) {
        r = oc_json_get_string(claims, "aud", OC_AUD_MAX, &one);
        if (r < 0) {
            return REFUSE("audience", "aud is longer than %d bytes", OC_AUD_MAX);
        }
        items = &one;
        n = 1;
    } else {
        r = oc_json_get_string_array(claims, "aud", OC_AUD_MAX_ITEMS, OC_AUD_MAX, &items, &n);
        if (r == -ENOMEM) {
            return r;
        }
        if (r < 0 || n == 0) {
            return REFUSE("audience",
                          "aud is neither a string nor a non-empty array of at most "
                          "%d strings",
                          OC_AUD_MAX_ITEMS);
        }
    }
    for (size_t i = 0; i < n && res->aud == NULL; i++) {
        for (size_t j = 0; j < p->n_audiences; j++) {
            if (aud_equal(items[i], p->audiences[j])) {
                res->aud = items[i];
                break;
            }
        }
    }
    oc_safe_copy(shown, sizeof(shown), items[0]);
    if (items != &one) {
        free(items);
    }
    if (res->aud == NULL) {
        if (n == 1) {
            return REFUSE("audience", "aud '%s' is not a configured audience", shown);
        }
        return REFUSE("audience",
                      "none of the %zu aud values (first '%s') is a configured audience", n, shown);
    }
    oc_safe_copy(shown, sizeof(shown), res->aud);
    PASS("audience", "aud '%s' is configured", shown);
    return 0;
}

static int check_identity(const cJSON *claims, struct oc_verify_result *res,
                          struct oc_verify_report *report)
{
    const char *appid_name = res->version == 1 ? "appid" : "azp";
    const char *acr_name = res->version == 1 ? "appidacr" : "azpacr";
    char shown[OC_SHOWN_MAX];
    size_t n_roles = 0;
    int r;

    r = oc_json_get_string(claims, appid_name, OC_GUID_LEN, &res->appid);
    if (r < 0 || oc_guid_check(res->appid) < 0) {
        return REFUSE("identity", "%s claim is missing or not a GUID", appid_name);
    }
    {
        /* Entra puts the client in appid (v1) or azp (v2), never both; a
         * token carrying the other one too must name the same application,
         * or two readers of it would disagree on who it is. */
        const char *other_name = res->version == 1 ? "azp" : "appid";
        const char *other = NULL;

        r = oc_json_get_string(claims, other_name, OC_GUID_LEN, &other);
        if (r != -ENOENT &&
            (r < 0 || oc_guid_check(other) < 0 || strcasecmp(other, res->appid) != 0)) {
            return REFUSE("identity", "%s and %s name different applications", appid_name,
                          other_name);
        }
    }
    r = oc_json_get_string(claims, "oid", OC_GUID_LEN, &res->oid);
    if (r < 0 || oc_guid_check(res->oid) < 0) {
        return REFUSE("identity", "oid claim is missing or not a GUID");
    }
    r = opt_string(claims, acr_name, OC_ACR_MAX, &res->appidacr, report, "identity");
    if (r == 0) {
        r = opt_string(claims, "sub", OC_CLAIM_MAX, &res->sub, report, "identity");
    }
    if (r == 0) {
        r = opt_string(claims, "idp", OC_TEMPLATE_MAX, &res->idp, report, "identity");
    }
    if (r == 0) {
        r = opt_string(claims, "uti", OC_UTI_MAX, &res->uti, report, "identity");
    }
    if (r == 0) {
        r = opt_string(claims, "jti", OC_CLAIM_MAX, &res->jti, report, "identity");
    }
    if (r == 0) {
        r = opt_string(claims, "xms_act_fct", OC_CLAIM_MAX, &res->xms_act_fct, report, "identity");
    }
    if (r == 0) {
        r = opt_string(claims, "xms_sub_fct", OC_CLAIM_MAX, &res->xms_sub_fct, report, "identity");
    }
    if (r == 0) {
        r = opt_string(claims, "xms_par_app_azp", OC_GUID_LEN, &res->xms_par_app_azp, report,
                       "identity");
    }
    if (r < 0) {
        return r;
    }
    if (res->xms_par_app_azp != NULL && oc_guid_check(res->xms_par_app_azp) < 0) {
        return REFUSE("identity", "xms_par_app_azp is not a GUID");
    }
    if (res->xms_act_fct != NULL && !facets_valid(res->xms_act_fct)) {
        return REFUSE("identity", "xms_act_fct is not a list of numbers");
    }
    if (res->xms_sub_fct != NULL && !facets_valid(res->xms_sub_fct)) {
        return REFUSE("identity", "xms_sub_fct is not a list of numbers");
    }
    res->is_agent_identity = facets_have(res->xms_act_fct, OC_AGENT_FACET) ||
                             facets_have(res->xms_sub_fct, OC_AGENT_FACET);
    r = oc_json_get_string_array(claims, "roles", OC_ROLES_MAX, OC_ROLE_MAX, &res->roles, &n_roles);
    if (r == -ENOMEM) {
        return r;
    }
    if (r < 0 && r != -ENOENT) {
        return REFUSE("identity", "roles is not an array of at most %d strings of at most %d bytes",
                      OC_ROLES_MAX, OC_ROLE_MAX);
    }
    res->n_roles = r == 0 ? n_roles : 0;
    res->log_id = res->uti != NULL ? res->uti : res->jti;
    oc_safe_copy(shown, sizeof(shown), res->log_id);
    PASS("identity", "%s %s, oid %s, %zu role(s)%s, id %s", appid_name, res->appid, res->oid,
         res->n_roles, res->is_agent_identity ? ", agent identity" : "",
         res->log_id != NULL ? shown : "-");
    return 0;
}

void oc_verify_result_free(struct oc_verify_result *result)
{
    if (result == NULL) {
        return;
    }
    free(result->roles);
    cJSON_Delete(result->claims);
    free(result);
}

/* The claim rules; appends to report (which the caller has initialized)
 * and trusts p (already checked by policy_check()). */
static int verify_claims(cJSON *claims, const char *key_issuer, const struct oc_verify_policy *p,
                         struct oc_verify_result **ret_result, struct oc_verify_report *report)
{
    char expect_v1[OC_TEMPLATE_MAX + OC_GUID_LEN + 1] = "";
    char expect_v2[OC_TEMPLATE_MAX + OC_GUID_LEN + 1] = "";
    char shown[OC_SHOWN_MAX], shown2[OC_SHOWN_MAX];
    struct oc_verify_result *res = NULL;
    const char *tid = NULL, *ver = NULL, *scp_s = NULL;
    int r;

    if (claims == NULL || ret_result == NULL || p == NULL) {
        r = -EINVAL;
        goto out;
    }
    res = calloc(1, sizeof(*res));
    if (res == NULL) {
        r = -ENOMEM;
        goto out;
    }
    res->claims = claims;
    claims = NULL;

    /* tid is needed to build the expected issuers */
    r = oc_json_get_string(res->claims, "tid", OC_GUID_LEN, &tid);
    if (r < 0 || oc_guid_check(tid) < 0) {
        r = REFUSE(key_issuer != NULL ? "key-issuer" : "issuer", "tid claim is %s",
                   r == -ENOENT ? "missing" : "not a GUID");
        goto out;
    }
    res->tid = tid;
    if ((p->issuer_v1 != NULL &&
         subst_tenant(p->issuer_v1, tid, expect_v1, sizeof(expect_v1)) < 0) ||
        (p->issuer_v2 != NULL &&
         subst_tenant(p->issuer_v2, tid, expect_v2, sizeof(expect_v2)) < 0)) {
        r = REFUSE("issuer", "expected issuer is too long");
        goto out;
    }

    /* key-issuer: a key published with an issuer is bound to that tenant */
    if (key_issuer == NULL) {
        PASS("key-issuer", "signing key has no issuer");
    } else {
        char key_iss[OC_JWK_ISSUER_MAX + OC_GUID_LEN + 1];
        oc_safe_copy(shown, sizeof(shown), key_issuer);
        if (p->issuer_v2 == NULL || subst_tenant(key_issuer, tid, key_iss, sizeof(key_iss)) < 0 ||
            strcmp(key_iss, expect_v2) != 0) {
            r = REFUSE("key-issuer", "signing key's issuer '%s' does not belong to tenant %s",
                       shown, tid);
            goto out;
        }
        PASS("key-issuer", "signing key's issuer '%s' matches tenant %s", shown, tid);
    }

    /* issuer */
    r = oc_json_get_string(res->claims, "iss", OC_TEMPLATE_MAX, &res->iss);
    if (r < 0) {
        r = REFUSE("issuer", "iss claim is %s", r == -ENOENT ? "missing" : "not a short string");
        goto out;
    }
    oc_safe_copy(shown, sizeof(shown), res->iss);
    if (p->issuer_v1 != NULL && strcmp(res->iss, expect_v1) == 0) {
        res->version = 1;
    } else if (p->issuer_v2 != NULL && strcmp(res->iss, expect_v2) == 0) {
        res->version = 2;
    } else {
        r = REFUSE("issuer", "iss '%s' is not the v1 or v2 issuer of tenant %s", shown, tid);
        goto out;
    }
    PASS("issuer", "iss '%s' (v%d form)", shown, res->version);

    /* version */
    r = oc_json_get_string(res->claims, "ver", 8, &ver);
    if (r < 0) {
        r = REFUSE("version", "ver claim is %s", r == -ENOENT ? "missing" : "not a short string");
        goto out;
    }
    if (strcmp(ver, res->version == 1 ? "1.0" : "2.0") != 0) {
        oc_safe_copy(shown2, sizeof(shown2), ver);
        r = REFUSE("version", "ver '%s' does not match the v%d issuer form", shown2, res->version);
        goto out;
    }
    PASS("version", "ver %s", ver);

    /* tenant */
    if (strcasecmp(tid, p->tenant_id) != 0) {
        r = REFUSE("tenant", "tid %s is not the configured tenant %s", tid, p->tenant_id);
        goto out;
    }
    PASS("tenant", "tid %s", tid);

    r = check_audience(res->claims, p, res, report);
    if (r < 0) {
        goto out;
    }
    r = check_time(res->claims, p, res, report);
    if (r < 0) {
        goto out;
    }

    /* app-only */
    if (oc_json_member(res->claims, "scp") != NULL) {
        r = oc_json_get_string(res->claims, "scp", OC_CLAIM_MAX, &scp_s);
        oc_safe_copy(shown, sizeof(shown), r == 0 ? scp_s : "?");
        r = REFUSE("app-only", "scp claim ('%s') present: a delegated (user) token", shown);
        goto out;
    }
    r = opt_string(res->claims, "idtyp", 16, &res->idtyp, report, "app-only");
    if (r < 0) {
        goto out;
    }
    if (res->idtyp != NULL && strcmp(res->idtyp, "app") != 0) {
        oc_safe_copy(shown, sizeof(shown), res->idtyp);
        r = REFUSE("app-only", "idtyp '%s' is not app", shown);
        goto out;
    }
    if (res->idtyp == NULL && res->version != 1) {
        r = REFUSE("app-only", "v2 token without idtyp: configure the idtyp optional claim");
        goto out;
    }
    PASS("app-only", "%s", res->idtyp != NULL ? "idtyp app" : "v1 token without scp");

    r = check_identity(res->claims, res, report);
    if (r < 0) {
        goto out;
    }
    *ret_result = res;
    res = NULL;
    r = 0;
out:
    cJSON_Delete(claims);
    oc_verify_result_free(res);
    return r;
}

int oc_verify_claims(cJSON *claims, const char *key_issuer, const struct oc_verify_policy *p,
                     struct oc_verify_result **ret_result, struct oc_verify_report *report)
{
    int r;

    if (report != NULL) {
        report->n = 0;
        report->failed = NULL;
    }
    r = policy_check(p, report);
    if (r < 0) {
        cJSON_Delete(claims);
        return r;
    }
    return verify_claims(claims, key_issuer, p, ret_result, report);
}

static void report_parse_failure(struct oc_verify_report *report, const struct oc_refusal *why)
{
    for (size_t i = 0; i < sizeof(parse_checks) / sizeof(parse_checks[0]); i++) {
        if (why->check == NULL || strcmp(parse_checks[i], why->check) == 0) {
            break;
        }
        PASS(parse_checks[i], "ok");
    }
    report_add(report, why->check != NULL ? why->check : "format", false, "%s", why->detail);
}

int oc_verify_token(const char *token, size_t len, const struct oc_jwks *keys,
                    const struct oc_verify_policy *p, struct oc_verify_result **ret_result,
                    struct oc_verify_report *report)
{
    struct oc_refusal why = {NULL, ""};
    struct oc_jwt *jwt = NULL;
    const struct oc_jwk *key;
    cJSON *claims = NULL;
    char shown[OC_SHOWN_MAX];
    int r;

    if (report != NULL) {
        report->n = 0;
        report->failed = NULL;
    }
    if (token == NULL || keys == NULL || ret_result == NULL) {
        report_add(report, "policy", false, "missing token, key set or result argument");
        return -EINVAL;
    }
    r = policy_check(p, report);
    if (r < 0) {
        return r;
    }
    r = oc_jwt_parse(token, len, p->alg_mask != 0 ? p->alg_mask : OC_ALG_ALL, &jwt, &why);
    if (r == -EACCES) {
        report_parse_failure(report, &why);
    }
    if (r < 0) {
        goto out;
    }
    PASS("size", "%zu bytes", len);
    PASS("format", "3 segments");
    PASS("header", "ok");
    PASS("alg", "%s", jwt->alg_name);

    oc_safe_copy(shown, sizeof(shown), jwt->kid);
    key = oc_jwks_find(keys, jwt->kid, jwt->kid_from_x5t);
    if (key == NULL) {
        const struct oc_jwk_skipped *sk = oc_jwks_find_skipped(keys, jwt->kid);
        if (sk != NULL) {
            r = REFUSE("kid", "key '%s' is in the JWKS but unusable: %s", shown, sk->reason);
        } else {
            r = REFUSE("kid", "no key with %s '%s' in the JWKS (%zu keys)",
                       jwt->kid_from_x5t ? "x5t" : "kid", shown, keys->n_keys);
            r = -ENOKEY;
        }
        goto out;
    }
    if ((key->alg_mask & jwt->alg) == 0) {
        r = REFUSE("kid", "key '%s' (%s) may not be used with %s", shown,
                   key->type == OC_JWK_RSA ? "RSA" : "EC P-256", jwt->alg_name);
        goto out;
    }
    PASS("kid", "%s '%s': %s-%d key", jwt->kid_from_x5t ? "x5t" : "kid", shown,
         key->type == OC_JWK_RSA ? "RSA" : "EC", key->bits);

    r = oc_jwk_verify(key, jwt->alg, jwt->signing_input, jwt->signing_input_len, jwt->sig,
                      jwt->sig_len);
    if (r == -ENOMEM) {
        goto out;
    }
    if (r < 0) {
        r = REFUSE("signature", "%s signature does not verify with key '%s'", jwt->alg_name, shown);
        goto out;
    }
    PASS("signature", "%s signature verified with key '%s'", jwt->alg_name, shown);

    r = oc_jwt_decode_payload(jwt, &claims, &why);
    if (r == -EACCES) {
        report_add(report, "payload", false, "%s", why.detail);
    }
    if (r < 0) {
        goto out;
    }
    PASS("payload", "%d claims", cJSON_GetArraySize(claims));

    r = verify_claims(claims, key->issuer, p, ret_result, report);
    claims = NULL;
    if (r == 0) {
        (*ret_result)->alg = jwt->alg;
        snprintf((*ret_result)->kid, sizeof((*ret_result)->kid), "%s", jwt->kid);
    }
out:
    cJSON_Delete(claims);
    oc_jwt_free(jwt);
    return r;
}
