/* entra.h: offline verification of Microsoft Entra ID access tokens.
 *
 * oc_verify_token() decides whether a presented access token is valid for
 * this host and extracts the caller's identity. It needs no network and no
 * clock of its own: the key set comes from a parsed JWKS (jwks.h) and the
 * time from policy->now. Checks run in a fixed order and stop at the first
 * failure; the signature is verified before any claim is read (the payload
 * is not even parsed before that). docs/verification.md explains each check.
 *
 * Thread-safe: any number of verifications may share one key set and one
 * policy; nothing shared is written. Library code: logs nothing. */
#ifndef OC_ENTRA_H
#define OC_ENTRA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "jwks.h"
#include "jwt.h"

#define OC_SKEW_MAX          600 /* seconds, upper bound of policy clock_skew */
#define OC_TEMPLATE_MAX      512 /* issuer templates and iss, bytes */
#define OC_CLAIM_MAX         256 /* generic string claims (sub, jti, idp, facets) */
#define OC_AUD_MAX_ITEMS     16  /* entries of an aud array */
#define OC_ROLES_MAX         64  /* entries of roles */
#define OC_ROLE_MAX          128 /* one role value, bytes */
#define OC_VERIFY_MAX_CHECKS 24
#define OC_TENANT_TEMPLATE   "{tenantid}"

struct oc_verify_policy {
    const char *tenant_id; /* the host's tenant, a GUID */
    /* Issuer templates; "{tenantid}" is replaced by the token's tid, e.g.
     * "https://sts.windows.net/{tenantid}/" and
     * "https://login.microsoftonline.com/{tenantid}/v2.0". Sovereign clouds
     * use their own hosts. Either may be NULL to refuse that token form. */
    const char *issuer_v1;
    const char *issuer_v2;
    const char *const *audiences; /* accepted aud values (app ID URI, client id) */
    size_t n_audiences;
    unsigned alg_mask;      /* OC_ALG_* subset; 0 means OC_ALG_ALL */
    int64_t now;            /* Unix time to evaluate at (no hidden clock) */
    uint32_t clock_skew;    /* seconds, <= OC_SKEW_MAX */
    uint32_t max_token_age; /* seconds since iat; 0 = no limit */
};

/* One step of the decision, for an admin tool that explains it. */
struct oc_verify_check {
    const char *name; /* stable: size format header alg kid signature payload key-issuer
                         issuer version tenant audience expiry not-before issued-at
                         max-age app-only identity */
    bool ok;
    char detail[OC_DETAIL_MAX];
};

struct oc_verify_report {
    /* Set by the caller: also write a detail for every check that passed
     * (an admin tool explaining a decision). When false, passed checks are
     * listed with an empty detail, which keeps the hot path cheap; the
     * failing check always has its detail. */
    bool explain;
    size_t n;
    struct oc_verify_check checks[OC_VERIFY_MAX_CHECKS];
    const char *failed; /* name of the failing check, NULL when accepted */
};

/* The verified token. All strings point into `claims` (owned here) and are
 * NULL when the claim was absent. */
struct oc_verify_result {
    int version;     /* 1 or 2 (from the issuer form, confirmed by ver) */
    const char *tid; /* tenant */
    const char *iss;
    const char *aud;      /* the aud value that matched the policy */
    const char *appid;    /* v1 appid / v2 azp: the client application */
    const char *appidacr; /* v1 appidacr / v2 azpacr: "0", "1", "2" */
    const char *oid;      /* service principal object id */
    const char *sub;
    const char *idtyp;
    const char *idp;
    const char *uti;
    const char *jti;
    const char *log_id; /* uti, else jti, else NULL: safe to log */
    const char **roles; /* n_roles entries (array owned here) */
    size_t n_roles;
    int64_t exp, nbf, iat;
    bool has_nbf, has_iat;
    /* Entra Agent ID facets: space-separated numbers, e.g. "3 9 11". */
    const char *xms_act_fct;
    const char *xms_sub_fct;
    const char *xms_par_app_azp; /* the agent's blueprint application */
    bool is_agent_identity;      /* facet 11 in xms_act_fct or xms_sub_fct */
    unsigned alg;
    char kid[OC_KID_MAX + 1];
    cJSON *claims;
};

/* Verifies token (len bytes, not necessarily NUL-terminated) against keys
 * and policy. report (optional, caller-owned; initialize it, e.g.
 * `struct oc_verify_report rep = {.explain = false};`) receives every check
 * run; n and failed are reset here, explain is read.
 * Returns:
 *   0        accepted; *ret_result set (free with oc_verify_result_free)
 *   -EACCES  refused (report->failed names the check)
 *   -ENOKEY  refused because no key has the token's kid: the caller may
 *            refresh the JWKS once and retry
 *   -EINVAL  invalid arguments or policy (report->failed = "policy")
 *   -ENOMEM */
int oc_verify_token(const char *token, size_t len, const struct oc_jwks *keys,
                    const struct oc_verify_policy *policy, struct oc_verify_result **ret_result,
                    struct oc_verify_report *report);

/* The claim rules alone, on an already authenticated payload (what
 * oc_verify_token() runs after the signature check). claims is consumed
 * (moved into the result or freed). key_issuer is the signing key's JWKS
 * issuer or NULL. Exposed for the fuzzer and for tests. */
int oc_verify_claims(cJSON *claims, const char *key_issuer, const struct oc_verify_policy *policy,
                     struct oc_verify_result **ret_result, struct oc_verify_report *report);

void oc_verify_result_free(struct oc_verify_result *result);

/* Convenience: the failing check of a report, or "" when none. */
const char *oc_verify_report_failed(const struct oc_verify_report *report);

/* 0 when s is a GUID in 8-4-4-4-12 hex form (either case). */
int oc_guid_check(const char *s);

#endif
