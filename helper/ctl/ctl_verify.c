/* SPDX-License-Identifier: MIT */
/*
 * openclawctl verify-token: explain, check by check, whether a token is
 * accepted for this host (and optionally for a Unix user, a PAM service,
 * a source address), exactly as the PAM module decides.
 *
 * The token is read from standard input. It is never printed, nor is its
 * signature: it is named by its uti/jti and a SHA-256 prefix.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "conf.h"
#include "entra.h"
#include "helper/ctl/ctl.h"
#include "hostpolicy.h"
#include "jwks.h"
#include "jwt.h"
#include "policy.h"
#include "util.h"

/* Most bytes read from stdin; anything longer is refused by size alone. */
#define CTL_STDIN_MAX (1024 * 1024)
/* Most --audience options. */
#define CTL_AUDIENCES_MAX 16
/* Name of the JWKS cache file inside jwks_dir (written by openclawd). */
#define CTL_JWKS_FILE "keys.json"
/* Checks added after the library's own (agent, service policy, ...). */
#define CTL_EXTRA_CHECKS 8

struct check {
    const char *name;
    bool ok;
    char detail[OC_DETAIL_MAX + 64];
};

struct verdict {
    struct check checks[OC_VERIFY_MAX_CHECKS + CTL_EXTRA_CHECKS];
    size_t n;
    const char *failed;
};

struct opts {
    const char *config;
    const char *jwks;
    const char *tenant;
    const char *issuer_v1;
    const char *issuer_v2;
    const char *audiences[CTL_AUDIENCES_MAX];
    size_t n_audiences;
    const char *service;
    const char *rhost;
    const char *user;
    bool has_now;
    int64_t now;
    bool json;
    bool show_claims;
    bool insecure_config;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: openclawctl verify-token [OPTIONS] < TOKEN\n"
            "\n"
            "Explains, check by check, whether the access token on standard input is\n"
            "accepted. Exit status: 0 accepted, 1 refused, 2 usage or configuration error.\n"
            "\n"
            "  --config FILE      host configuration (default " OC_CONFIG_PATH ")\n"
            "  --jwks FILE        signing keys (default: <jwks_dir>/" CTL_JWKS_FILE ")\n"
            "  --tenant ID        tenant to require (overrides the config)\n"
            "  --audience AUD     accepted audience, repeatable (overrides the config)\n"
            "  --issuer-v1 T      v1 issuer template (default " OC_DEFAULT_ISSUER_V1 ")\n"
            "  --issuer-v2 T      v2 issuer template (default <authority>/{tenantid}/v2.0)\n"
            "  --now EPOCH        evaluate at this time (seconds since the epoch)\n"
            "  --user NAME        the Unix user the token is presented for\n"
            "  --service NAME     apply this PAM service's policy (roles, networks, time)\n"
            "  --rhost ADDR       source address for the service's allow_networks\n"
            "  --show-claims      also print the token's header and claims\n"
            "  --json             machine-readable output\n"
            "  --insecure-config  accept a config file not owned by root (a copy, for forensics)\n"
            "\n"
            "Without a config file, --tenant, --audience and --jwks are required and\n"
            "the agent, user and service checks are skipped.\n");
}

static void add_check(struct verdict *v, const char *name, bool ok, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void add_check(struct verdict *v, const char *name, bool ok, const char *fmt, ...)
{
    if (v->n >= OC_ELEMENTSOF(v->checks)) {
        return;
    }
    struct check *c = &v->checks[v->n++];
    c->name = name;
    c->ok = ok;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
    va_end(ap);
    if (!ok && v->failed == NULL) {
        v->failed = name;
    }
}

/* Reads stdin into a buffer of at most CTL_STDIN_MAX bytes. *ret_over is
 * set when there was more. Trailing whitespace (a newline) is dropped. */
static int read_token(char **ret_buf, size_t *ret_len, bool *ret_over)
{
    size_t cap = CTL_STDIN_MAX + 1, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        return -ENOMEM;
    }
    while (len < cap) {
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            int r = -errno;
            oc_free_wipe(buf, cap);
            return r;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    bool over = len > CTL_STDIN_MAX;
    if (over) {
        len = CTL_STDIN_MAX;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                       buf[len - 1] == '\t')) {
        len--;
    }
    buf[len] = '\0';
    *ret_buf = buf;
    *ret_len = len;
    *ret_over = over;
    return 0;
}

enum {
    OPT_CONFIG = 256,
    OPT_JWKS,
    OPT_TENANT,
    OPT_AUDIENCE,
    OPT_ISS1,
    OPT_ISS2,
    OPT_NOW,
    OPT_USER,
    OPT_SERVICE,
    OPT_RHOST,
    OPT_JSON,
    OPT_SHOW,
    OPT_INSECURE,
};

/* An option that takes a value: 0, or -EINVAL with the reason printed. */
static int take_value(struct opts *o, int c, const char *arg)
{
    switch (c) {
    case OPT_CONFIG:
        o->config = arg;
        break;
    case OPT_JWKS:
        o->jwks = arg;
        break;
    case OPT_TENANT:
        if (!oc_is_guid(arg)) {
            fprintf(stderr,
                    "verify-token: --tenant %s: not a GUID (e.g. "
                    "11111111-2222-3333-4444-555555555555)\n",
                    arg);
            return -EINVAL;
        }
        o->tenant = arg;
        break;
    case OPT_AUDIENCE:
        if (o->n_audiences >= CTL_AUDIENCES_MAX) {
            fprintf(stderr, "verify-token: at most %d --audience options\n", CTL_AUDIENCES_MAX);
            return -EINVAL;
        }
        o->audiences[o->n_audiences++] = arg;
        break;
    case OPT_ISS1:
        o->issuer_v1 = arg;
        break;
    case OPT_ISS2:
        o->issuer_v2 = arg;
        break;
    case OPT_NOW:
        if (oc_parse_i64(arg, 0, INT64_C(253402300799), &o->now) < 0) {
            fprintf(stderr,
                    "verify-token: --now %s: seconds since the epoch expected "
                    "(e.g. --now 1767225600)\n",
                    arg);
            return -EINVAL;
        }
        o->has_now = true;
        break;
    case OPT_USER:
        o->user = arg;
        break;
    case OPT_SERVICE:
        o->service = arg;
        break;
    case OPT_RHOST:
        o->rhost = arg;
        break;
    default:
        return -EINVAL;
    }
    return 0;
}

/* 0: go on; 1: help printed; -EINVAL: usage error (printed). */
static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
            {"config", required_argument, NULL, OPT_CONFIG},
            {"jwks", required_argument, NULL, OPT_JWKS},
            {"tenant", required_argument, NULL, OPT_TENANT},
            {"audience", required_argument, NULL, OPT_AUDIENCE},
            {"issuer-v1", required_argument, NULL, OPT_ISS1},
            {"issuer-v2", required_argument, NULL, OPT_ISS2},
            {"now", required_argument, NULL, OPT_NOW},
            {"user", required_argument, NULL, OPT_USER},
            {"service", required_argument, NULL, OPT_SERVICE},
            {"rhost", required_argument, NULL, OPT_RHOST},
            {"json", no_argument, NULL, OPT_JSON},
            {"show-claims", no_argument, NULL, OPT_SHOW},
            {"insecure-config", no_argument, NULL, OPT_INSECURE},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c >= OPT_CONFIG && c <= OPT_RHOST) {
            if (take_value(o, c, optarg) < 0) {
                return -EINVAL;
            }
        } else if (c == OPT_JSON) {
            o->json = true;
        } else if (c == OPT_SHOW) {
            o->show_claims = true;
        } else if (c == OPT_INSECURE) {
            o->insecure_config = true;
        } else if (c == 'h') {
            usage(stdout);
            return 1;
        } else {
            usage(stderr);
            return -EINVAL;
        }
    }
    if (optind != argc) {
        fprintf(stderr,
                "verify-token: unexpected argument '%s'; the token is read from "
                "standard input\n",
                argv[optind]);
        return -EINVAL;
    }
    return 0;
}

/* The agent, user and service checks that PAM adds on top of the token:
 * the same function the module runs (common/hostpolicy), called stage by
 * stage so that every passed check is explained too. */
static void check_host_policy(const struct opts *o, const struct oc_config *cfg,
                              const struct oc_verify_result *res, int64_t now, struct verdict *v,
                              const struct oc_agent **ret_agent, uint32_t *ret_uid)
{
    const struct oc_hostpolicy_input in = {
            .app_id = res->appid,
            .object_id = res->oid,
            .has_roles = true,
            .roles = res->roles,
            .n_roles = res->n_roles,
            .user = o->user,
            .service = o->service,
            .rhost = o->rhost,
            .now = now,
    };
    struct oc_hostpolicy_verdict hp;

    if (oc_hostpolicy_check(cfg, &in, OC_HP_IDENTITY, &hp) < 0) {
        add_check(v, hp.failed != NULL ? hp.failed : "agent", false, "%s", hp.detail);
        return;
    }
    add_check(v, "agent", true, "agent %s, uid %u, gid %u%s", hp.agent->name, hp.uid, hp.uid,
              hp.uid_pinned ? " (pinned by uid =)" : "");
    *ret_agent = hp.agent;
    *ret_uid = hp.uid;
    if (o->user != NULL) {
        add_check(v, "user", true, "the token's agent is user %s", hp.agent->name);
    }
    if (o->service == NULL) {
        return;
    }

    if (oc_hostpolicy_check(cfg, &in, OC_HP_IDENTITY | OC_HP_ROLE, &hp) < 0) {
        add_check(v, hp.failed != NULL ? hp.failed : "role", false, "%s", hp.detail);
        return;
    }
    add_check(v, "service", true, "policy of [service %s]", hp.svc->name);
    if (hp.svc->has_allow_agents) {
        add_check(v, "allow-agents", true, "%s is in allow_agents", hp.agent->name);
    }
    if (hp.role != NULL) {
        add_check(v, "role", true, "holds %s", hp.role);
    } else {
        add_check(v, "role", true, "[service %s] requires no role", hp.svc->name);
    }

    if (oc_hostpolicy_check(cfg, &in, OC_HP_ALL, &hp) < 0) {
        add_check(v, hp.failed != NULL ? hp.failed : "network", false, "%s", hp.detail);
        return;
    }
    if (hp.svc->allow_networks.any) {
        add_check(v, "network", true, "any source network");
    } else {
        add_check(v, "network", true, "%s is inside allow_networks", o->rhost);
    }
    time_t t = (time_t)now;
    struct tm tm;
    char when[32] = "now";
    if (localtime_r(&t, &tm) != NULL) {
        strftime(when, sizeof(when), "%a %H:%M", &tm);
    }
    add_check(v, "time", true, "%s (local) is inside allow_time", when);
}

static void print_claims(const char *tok, size_t len, bool json_out, cJSON *json_root)
{
    struct oc_jwt *jwt = NULL;
    cJSON *payload = NULL;
    struct oc_refusal why;
    if (oc_jwt_parse(tok, len, OC_ALG_ALL, &jwt, &why) < 0) {
        if (!json_out) {
            printf("claims: not shown, the token does not parse (%s)\n", why.check);
        }
        return;
    }
    (void)oc_jwt_decode_payload(jwt, &payload, &why);
    if (json_out) {
        cJSON_AddItemToObject(json_root, "header", cJSON_Duplicate(jwt->header, true));
        if (payload != NULL) {
            cJSON_AddItemToObject(json_root, "claims", payload);
            payload = NULL;
        }
    } else {
        char *h = cJSON_Print(jwt->header);
        printf("header:\n%s\n", h != NULL ? h : "?");
        free(h);
        if (payload != NULL) {
            char *p = cJSON_Print(payload);
            printf("claims (as presented; trust them only if the result is VALID):\n%s\n",
                   p != NULL ? p : "?");
            free(p);
        }
    }
    cJSON_Delete(payload);
    oc_jwt_free(jwt);
}

static cJSON *agent_json(const struct oc_verify_result *res, const struct oc_agent *agent,
                         uint32_t uid)
{
    cJSON *a = cJSON_CreateObject();
    if (a == NULL) {
        return NULL;
    }
    if (agent != NULL) {
        cJSON_AddStringToObject(a, "name", agent->name);
        cJSON_AddNumberToObject(a, "uid", uid);
        cJSON_AddNumberToObject(a, "gid", uid);
    }
    cJSON_AddStringToObject(a, "app_id", res->appid);
    cJSON_AddStringToObject(a, "object_id", res->oid);
    cJSON_AddStringToObject(a, "tenant_id", res->tid);
    cJSON_AddNumberToObject(a, "token_version", res->version);
    if (res->log_id != NULL) {
        cJSON_AddStringToObject(a, "token_id", res->log_id);
    }
    cJSON_AddNumberToObject(a, "expires", (double)res->exp);
    cJSON *roles = cJSON_AddArrayToObject(a, "roles");
    for (size_t i = 0; roles != NULL && i < res->n_roles; i++) {
        cJSON_AddItemToArray(roles, cJSON_CreateString(res->roles[i]));
    }
    cJSON_AddBoolToObject(a, "agent_identity", res->is_agent_identity);
    if (res->xms_par_app_azp != NULL) {
        cJSON_AddStringToObject(a, "blueprint_app_id", res->xms_par_app_azp);
    }
    return a;
}

/* Everything verify-token holds, released by verify_free(). */
struct verify {
    struct opts o;
    struct oc_config *cfg; /* NULL: no config (--tenant, --audience, --jwks) */
    struct oc_verify_policy pol;
    char *v2_default;
    struct oc_jwks *jwks;
    char *tok; /* CTL_STDIN_MAX + 1 bytes, wiped */
    size_t tok_len;
    bool over; /* more than CTL_STDIN_MAX bytes on standard input */
    char hash[17];
    struct oc_verify_result *res;
    struct verdict v;
    const struct oc_agent *agent;
    uint32_t uid;
};

static void verify_free(struct verify *x)
{
    if (x->tok != NULL) {
        oc_free_wipe(x->tok, CTL_STDIN_MAX + 1);
    }
    free(x->v2_default);
    oc_verify_result_free(x->res);
    oc_jwks_free(x->jwks);
    oc_config_free(x->cfg);
}

/* The config: --config, or the default one unless --tenant stands in for
 * it. 0, or -1 with the reason printed. */
static int load_config(struct verify *x)
{
    const char *config_path = x->o.config;
    if (config_path == NULL && x->o.tenant == NULL) {
        config_path = OC_CONFIG_PATH;
    }
    if (config_path != NULL) {
        struct oc_config_error err;
        int r = oc_config_load(config_path, x->o.insecure_config ? OC_CONFIG_INSECURE_OK : 0,
                               &x->cfg, &err);
        if (r < 0) {
            char msg[1024];
            oc_config_error_format(&err, msg, sizeof(msg));
            fprintf(stderr, "verify-token: %s\n", msg);
            return -1;
        }
    }
    if (x->cfg == NULL && (x->o.user != NULL || x->o.service != NULL)) {
        fprintf(stderr, "verify-token: --user and --service need --config\n");
        return -1;
    }
    return 0;
}

/* The verification policy, from the options over the config over the
 * defaults. 0, or -1 with the reason printed. */
static int build_policy(struct verify *x)
{
    const struct opts *o = &x->o;
    const struct oc_config *cfg = x->cfg;
    struct oc_verify_policy *pol = &x->pol;

    pol->tenant_id = o->tenant != NULL ? o->tenant : (cfg != NULL ? cfg->global.tenant_id : NULL);
    if (pol->tenant_id == NULL) {
        fprintf(stderr, "verify-token: no tenant: give --tenant ID or --config FILE\n");
        return -1;
    }
    pol->issuer_v1 = o->issuer_v1 != NULL
                             ? o->issuer_v1
                             : (cfg != NULL ? cfg->global.issuer_v1 : OC_DEFAULT_ISSUER_V1);
    if (o->issuer_v2 != NULL) {
        pol->issuer_v2 = o->issuer_v2;
    } else if (cfg != NULL) {
        pol->issuer_v2 = cfg->global.issuer_v2;
    } else {
        if (asprintf(&x->v2_default, "%s/{tenantid}/v2.0", OC_DEFAULT_AUTHORITY) < 0) {
            x->v2_default = NULL;
            fprintf(stderr, "verify-token: out of memory\n");
            return -1;
        }
        pol->issuer_v2 = x->v2_default;
    }
    if (o->n_audiences > 0) {
        pol->audiences = o->audiences;
        pol->n_audiences = o->n_audiences;
    } else if (cfg != NULL) {
        pol->audiences = (const char *const *)cfg->global.audiences.items;
        pol->n_audiences = cfg->global.audiences.n;
    }
    if (pol->n_audiences == 0) {
        fprintf(stderr, "verify-token: no audience: give --audience AUD or --config FILE\n");
        return -1;
    }
    pol->alg_mask = cfg != NULL ? cfg->global.algorithms : OC_ALG_ALL;
    pol->clock_skew = cfg != NULL ? cfg->global.clock_skew : OC_DEFAULT_CLOCK_SKEW;
    pol->now = o->has_now ? o->now : oc_now();
    if (cfg != NULL && o->service != NULL) {
        const struct oc_service *svc = oc_config_service(cfg, o->service);
        if (svc != NULL) {
            pol->max_token_age = svc->max_token_age;
        }
    }
    return 0;
}

/* The signing keys: --jwks, or keys.json in the config's jwks_dir. 0, or
 * -1 with the reason printed. */
static int load_keys(struct verify *x)
{
    char jwks_path[OC_CONFIG_PATH_MAX + 32];
    const char *jp = x->o.jwks, *why = NULL;

    if (jp == NULL) {
        if (x->cfg == NULL) {
            fprintf(stderr, "verify-token: no keys: give --jwks FILE or --config FILE\n");
            return -1;
        }
        snprintf(jwks_path, sizeof(jwks_path), "%s/%s", x->cfg->global.jwks_dir, CTL_JWKS_FILE);
        jp = jwks_path;
    }
    int r = oc_jwks_load_file(jp, &x->jwks, &why);
    if (r < 0) {
        fprintf(stderr,
                "verify-token: cannot use the signing keys in %s: %s (is openclawd refreshing "
                "them? or give --jwks FILE)\n",
                jp, why != NULL ? why : strerror(-r));
        return -1;
    }
    return 0;
}

/* The token from standard input, and its fingerprint. 0, or -1 with the
 * reason printed. */
static int read_input(struct verify *x)
{
    int r = read_token(&x->tok, &x->tok_len, &x->over);
    if (r < 0) {
        fprintf(stderr, "verify-token: cannot read the token from standard input: %s\n",
                strerror(-r));
        return -1;
    }
    if (x->tok_len == 0) {
        fprintf(stderr, "verify-token: no token on standard input\n");
        return -1;
    }
    (void)oc_token_fingerprint(x->tok, x->tok_len, x->hash);
    return 0;
}

/* Every check, as the PAM module runs them: the token's own (the
 * library's report), then the agent's and the host policy's. 0, or -1
 * when out of memory (printed). */
static int run_checks(struct verify *x)
{
    struct oc_verify_report report = {.explain = true};
    struct verdict *v = &x->v;
    const struct oc_verify_result *res;

    if (x->over) {
        add_check(v, "size", false, "more than %d bytes on standard input (limit %d)",
                  CTL_STDIN_MAX, OC_TOKEN_MAX);
    } else {
        int r = oc_verify_token(x->tok, x->tok_len, x->jwks, &x->pol, &x->res, &report);
        for (size_t i = 0; i < report.n; i++) {
            add_check(v, report.checks[i].name, report.checks[i].ok, "%s", report.checks[i].detail);
        }
        if (r == -ENOMEM) {
            fprintf(stderr, "verify-token: out of memory\n");
            return -1;
        }
        if (r < 0 && v->failed == NULL) {
            add_check(v,
                      oc_verify_report_failed(&report)[0] != '\0' ? oc_verify_report_failed(&report)
                                                                  : "policy",
                      false, "refused (%s)", strerror(-r));
        }
    }
    res = x->res;
    if (res != NULL) {
        if (res->is_agent_identity) {
            add_check(v, "agent-id", true,
                      "Entra Agent ID (facets act \"%s\" sub \"%s\"), blueprint %s",
                      res->xms_act_fct != NULL ? res->xms_act_fct : "",
                      res->xms_sub_fct != NULL ? res->xms_sub_fct : "",
                      res->xms_par_app_azp != NULL ? res->xms_par_app_azp : "unknown");
        }
        if (x->cfg != NULL) {
            check_host_policy(&x->o, x->cfg, res, x->pol.now, v, &x->agent, &x->uid);
        }
    }
    return 0;
}

/* The verdict as JSON. -1 when out of memory (nothing printed). */
static int print_json(const struct verify *x, bool valid)
{
    const struct verdict *v = &x->v;
    cJSON *root = cJSON_CreateObject();
    if (root == NULL) {
        return -1;
    }
    cJSON_AddBoolToObject(root, "valid", valid);
    if (v->failed != NULL) {
        cJSON_AddStringToObject(root, "failed", v->failed);
    }
    cJSON_AddStringToObject(root, "token_sha256_prefix", x->hash);
    cJSON *checks = cJSON_AddArrayToObject(root, "checks");
    for (size_t i = 0; checks != NULL && i < v->n; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", v->checks[i].name);
        cJSON_AddBoolToObject(c, "ok", v->checks[i].ok);
        cJSON_AddStringToObject(c, "detail", v->checks[i].detail);
        cJSON_AddItemToArray(checks, c);
    }
    if (x->res != NULL) {
        cJSON_AddItemToObject(root, "agent", agent_json(x->res, x->agent, x->uid));
    } else {
        cJSON_AddNullToObject(root, "agent");
    }
    if (x->o.show_claims) {
        print_claims(x->tok, x->tok_len, true, root);
    }
    char *s = cJSON_Print(root);
    if (s != NULL) {
        printf("%s\n", s);
        free(s);
    }
    cJSON_Delete(root);
    return 0;
}

/* The verdict as text: one line a check, then the result. */
static void print_text(const struct verify *x, bool valid)
{
    const struct verdict *v = &x->v;
    const char *id = x->res != NULL ? x->res->log_id : NULL;

    printf("token: sha256 %s…%s%s\n", x->hash, id != NULL ? ", id " : "", id != NULL ? id : "");
    for (size_t i = 0; i < v->n; i++) {
        printf("  %-4s %-13s %s\n", v->checks[i].ok ? "ok" : "FAIL", v->checks[i].name,
               v->checks[i].detail);
    }
    if (x->o.show_claims) {
        print_claims(x->tok, x->tok_len, false, NULL);
    }
    if (valid) {
        printf("result: VALID%s%s\n", x->agent != NULL ? " for agent " : "",
               x->agent != NULL ? x->agent->name : "");
    } else {
        printf("result: REFUSED at check '%s'\n", v->failed != NULL ? v->failed : "?");
    }
}

int ctl_verify_token(int argc, char **argv)
{
    struct verify x = {0};
    bool valid = false;
    int rc = CTL_EXIT_USAGE;
    int r = parse_args(argc, argv, &x.o);
    if (r != 0) {
        return r > 0 ? CTL_EXIT_OK : CTL_EXIT_USAGE;
    }
    if (load_config(&x) < 0 || build_policy(&x) < 0 || load_keys(&x) < 0 || read_input(&x) < 0 ||
        run_checks(&x) < 0) {
        goto out;
    }
    valid = x.res != NULL && x.v.failed == NULL;
    if (x.o.json) {
        if (print_json(&x, valid) < 0) {
            goto out;
        }
    } else {
        print_text(&x, valid);
    }
    rc = valid ? CTL_EXIT_OK : CTL_EXIT_REFUSED;
out:
    verify_free(&x);
    return rc;
}
