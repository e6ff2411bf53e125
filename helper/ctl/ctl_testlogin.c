/* SPDX-License-Identifier: MIT */
/*
 * ctl_testlogin.c: `openclawctl test-login USER SERVICE [--rhost ADDR]
 * [--at TIME] [--json]`: what pam_openclaw would decide for USER on
 * SERVICE, without a token and from local data only (the config, the
 * directory data openclawd syncs, the failure tally, the network and time
 * policy). For a human: "not an agent; openclaw ignores this user" and the
 * rule that said so. For an agent: each check with its result, and what a
 * login still needs (a valid token carrying role X for audience Y). Like
 * sssctl user-checks and aad-tool auth-test, it changes nothing.
 *
 * Who is an agent (docs/pam.md): root and every user of /etc/passwd never
 * are; any other user is one when its uid lies in the agent uid range
 * (uid_min..uid_max of the config, the compiled-in range when the config
 * cannot be read).
 *
 * Exit status: 0 ignored (not an agent) or allowed once a valid token is
 * presented, 1 refused, 2 usage error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "conf.h"
#include "directory.h"
#include "helper/ctl/ctl.h"
#include "helper/ctl/ctl_localdb.h"
#include "hostpolicy.h"
#include "policy.h"
#include "tally.h"
#include "util.h"

#define TL_CHECKS_MAX 16
#define TL_DETAIL_MAX 512

enum tl_result { TL_PASS, TL_FAIL, TL_TOKEN, TL_INFO };

static const char *const tl_result_name[] = {"pass", "fail", "token", "info"};

struct tl_check {
    const char *name;
    enum tl_result result;
    char detail[TL_DETAIL_MAX];
};

struct tl {
    const char *user, *service, *rhost, *config;
    int64_t at;  /* for the time window (--at) */
    int64_t now; /* for the lockout and the age of the directory data */
    bool json;
    bool agent;
    const char *rule; /* why (not) an agent */
    char rule_buf[TL_DETAIL_MAX];
    struct tl_check checks[TL_CHECKS_MAX];
    size_t n;
    bool refused;
    char required[TL_DETAIL_MAX + 640];
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: openclawctl test-login USER SERVICE [--rhost ADDR] [--at TIME] [--json]\n"
               "                             [--config FILE] [--passwd FILE]\n\n"
               "What pam_openclaw decides for USER on the PAM service SERVICE, from local data\n"
               "only (config, directory data, failure tally, network and time policy), without\n"
               "a token: for a human, the rule that makes openclaw ignore it; for an agent,\n"
               "each check with its result and what a login still needs.\n"
               "TIME: YYYY-MM-DDTHH:MM[:SS] or 'YYYY-MM-DD HH:MM[:SS]' (local time), or @EPOCH.\n"
               "Exit status: 0 ignored or allowed with a valid token, 1 refused, 2 usage.\n");
}

static void add(struct tl *t, const char *name, enum tl_result res, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void add(struct tl *t, const char *name, enum tl_result res, const char *fmt, ...)
{
    va_list ap;

    if (t->n >= TL_CHECKS_MAX) {
        return;
    }
    t->checks[t->n].name = name;
    t->checks[t->n].result = res;
    va_start(ap, fmt);
    (void)vsnprintf(t->checks[t->n].detail, TL_DETAIL_MAX, fmt, ap);
    va_end(ap);
    t->refused |= res == TL_FAIL;
    t->n++;
}

static int parse_at(const char *s, int64_t *ret)
{
    static const char *const fmts[] = {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S",
                                       "%Y-%m-%d %H:%M"};
    struct tm tm;

    if (s[0] == '@') {
        return oc_parse_i64(s + 1, 0, INT64_MAX / 2, ret);
    }
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        const char *end;
        memset(&tm, 0, sizeof(tm));
        end = strptime(s, fmts[i], &tm);
        if (end != NULL && *end == '\0') {
            tm.tm_isdst = -1;
            time_t tt = mktime(&tm);
            if (tt == (time_t)-1) {
                return -EINVAL;
            }
            *ret = (int64_t)tt;
            return 0;
        }
    }
    return -EINVAL;
}

static void fmt_utc(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == OC_TALLY_FOREVER) {
        (void)snprintf(buf, len, "an admin unlocks it");
    } else if (gmtime_r(&tt, &tm) != NULL) {
        (void)strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else {
        (void)snprintf(buf, len, "%lld", (long long)t);
    }
}

/* "A, B or C" of a list into buf. */
static void join(const struct oc_strlist *l, const char *sep, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < l->n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i == 0 ? "" : (i + 1 == l->n ? sep : ", "),
                         l->items[i]);
        used += w > 0 ? (size_t)w : 0;
    }
}

/* The network and time policy of the service section, each its own check. */
static void check_access(struct tl *t, const struct oc_service *svc)
{
    time_t tt = (time_t)t->at;
    struct tm tm;
    char when[32];

    if (svc->allow_networks.any) {
        add(t, "network", TL_PASS, "[service %s] allows every source address", svc->name);
    } else if (t->rhost == NULL) {
        add(t, "network", TL_FAIL,
            "[service %s] limits source networks and no source address was given (--rhost "
            "ADDR; a local login has none and is refused)",
            svc->name);
    } else if (!oc_netlist_match(&svc->allow_networks, t->rhost)) {
        add(t, "network", TL_FAIL, "%s is outside allow_networks of [service %s]", t->rhost,
            svc->name);
    } else {
        add(t, "network", TL_PASS, "%s is inside allow_networks of [service %s]", t->rhost,
            svc->name);
    }
    if (localtime_r(&tt, &tm) == NULL) {
        add(t, "time", TL_FAIL, "cannot compute the local time");
        return;
    }
    (void)strftime(when, sizeof(when), "%a %Y-%m-%d %H:%M", &tm);
    if (svc->allow_time.always) {
        add(t, "time", TL_PASS, "[service %s] allows every time", svc->name);
    } else if (!oc_timewin_match(&svc->allow_time, &tm)) {
        add(t, "time", TL_FAIL, "%s (local) is outside allow_time of [service %s]", when,
            svc->name);
    } else {
        add(t, "time", TL_PASS, "%s (local) is inside allow_time of [service %s]", when, svc->name);
    }
}

/* The checks of an agent with a usable config. */
static void check_agent(struct tl *t, const struct oc_config *cfg, const struct oc_agent *stat,
                        const struct oc_dir *dir, const char *dir_why, const char *dir_path,
                        const struct oc_dir_agent *de)
{
    const struct oc_global *g = &cfg->global;
    struct oc_agent synced;
    const struct oc_agent *agent = stat;
    struct oc_hostpolicy_verdict v;
    struct oc_tally_status st;
    const struct oc_service *svc;
    char buf[TL_DETAIL_MAX], roles[256], auds[256];
    int r;

    /* the directory data (with [directory]) */
    if (cfg->directory != NULL) {
        if (dir == NULL) {
            add(t, "directory", TL_FAIL,
                "%s is unusable (%s): agents are refused; check that openclawd runs and syncs "
                "(openclawctl status)",
                dir_path, dir_why);
        } else if (de == NULL) {
            add(t, "directory", stat != NULL ? TL_INFO : TL_FAIL,
                "%s (synced %lld s ago) does not list %s%s", dir_path,
                (long long)(t->now - dir->synced_at), t->user,
                stat != NULL ? ": a static [agent], its roles come from the token only"
                             : ": no role on this host (assign one in Entra and wait for a sync)");
        } else if (!de->enabled) {
            add(t, "directory", TL_FAIL,
                "%s: the agent's service principal is disabled in Entra (accountEnabled false): "
                "enable it in Entra, then wait for a sync",
                dir_path);
        } else {
            add(t, "directory", TL_PASS, "%s (synced %lld s ago) lists %s, uid %u, enabled",
                dir_path, (long long)(t->now - dir->synced_at), de->name, (unsigned)de->uid);
        }
    }
    if (agent == NULL && de != NULL) {
        memset(&synced, 0, sizeof(synced));
        synced.name = (char *)de->name;
        (void)oc_strscpy(synced.app_id, sizeof(synced.app_id), de->app_id);
        (void)oc_strscpy(synced.object_id, sizeof(synced.object_id), de->object_id);
        synced.has_uid = true;
        synced.uid = de->uid;
        synced.enabled = de->enabled;
        agent = &synced;
    }
    struct oc_hostpolicy_input in = {
            .user = t->user,
            .service = t->service,
            .rhost = t->rhost,
            .now = t->at,
            .has_roles = de != NULL,
            .roles = de != NULL ? (const char *const *)de->roles : NULL,
            .n_roles = de != NULL ? de->n_roles : 0,
            .synced = agent == &synced ? &synced : NULL,
    };
    /* the agent itself: known, enabled, its uid */
    r = oc_hostpolicy_check(cfg, &in, OC_HP_IDENTITY, &v);
    add(t, "agent", r == 0 ? TL_PASS : TL_FAIL, "%s%s", v.detail,
        r == 0 ? (stat != NULL ? " ([agent] section)" : " (directory data)") : "");
    /* the lockout tally */
    r = oc_tally_status(g->tally_dir, agent != NULL ? agent->name : t->user, t->now, &st);
    if (r == -ENOENT || (r == 0 && st.n_records == 0 && !st.locked)) {
        add(t, "lockout", TL_PASS, "no failure on record in %s", g->tally_dir);
    } else if (r < 0) {
        add(t, "lockout", TL_FAIL,
            "cannot read the tally in %s (%s): pam_openclaw refuses the agent; check the "
            "directory (openclawctl check-config)",
            g->tally_dir, strerror(-r));
    } else if (st.locked) {
        fmt_utc(st.locked_until, buf, sizeof(buf));
        add(t, "lockout", TL_FAIL,
            "locked after %u failures, until %s: openclawctl agent unlock %s", st.n_records, buf,
            agent != NULL ? agent->name : t->user);
    } else {
        add(t, "lockout", TL_PASS, "not locked (%u failures on record, %u recent)", st.n_records,
            st.n_recent);
    }
    /* the service section, allow_agents and the role */
    svc = oc_config_service(cfg, t->service);
    if (svc == NULL) {
        add(t, "service", TL_FAIL,
            "no [service %s] or [service default] section: agents are refused for this service; "
            "add one",
            t->service);
        return;
    }
    add(t, "service", TL_PASS, "[service %s]", svc->name);
    r = oc_hostpolicy_check(cfg, &in, OC_HP_IDENTITY | OC_HP_ROLE, &v);
    join(&svc->require_role, " or ", roles, sizeof(roles));
    if (r < 0 && v.failed != NULL && strcmp(v.failed, "allow-agents") == 0) {
        add(t, "allow-agents", TL_FAIL, "%s", v.detail);
    } else if (svc->require_role.n == 0) {
        add(t, "role", TL_PASS, "[service %s] requires no role", svc->name);
    } else if (de == NULL) {
        add(t, "role", TL_TOKEN, "[service %s] requires %s: only the token can tell", svc->name,
            roles);
    } else {
        bool has = false;
        for (size_t i = 0; i < svc->require_role.n && !has; i++) {
            has = oc_dir_agent_has_role(de, svc->require_role.items[i]);
        }
        if (has) {
            add(t, "role", TL_PASS, "[service %s] requires %s: the directory data lists it",
                svc->name, roles);
        } else {
            add(t, "role", TL_FAIL,
                "[service %s] requires %s, which the directory data does not list for %s: "
                "assign the app role to the agent in Entra",
                svc->name, roles, de->name);
        }
    }
    check_access(t, svc);
    join(&g->audiences, " or ", auds, sizeof(auds));
    (void)snprintf(t->required, sizeof(t->required),
                   "a valid access token from tenant %s for audience %s, app-only, of application "
                   "%s (object %s)%s%s%s",
                   g->tenant_id, auds, agent != NULL ? agent->app_id : "?",
                   agent != NULL ? agent->object_id : "?",
                   svc->require_role.n > 0 ? ", carrying the role " : "",
                   svc->require_role.n > 0 ? roles : "", svc->one_time_tokens ? ", used once" : "");
}

static int print(const struct tl *t)
{
    const char *decision = !t->agent    ? "ignored"
                           : t->refused ? "refused"
                                        : "allowed with a valid token";

    if (t->json) {
        cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
        if (o == NULL || arr == NULL) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return -ENOMEM;
        }
        cJSON_AddStringToObject(o, "user", t->user);
        cJSON_AddStringToObject(o, "service", t->service);
        cJSON_AddBoolToObject(o, "agent", t->agent);
        cJSON_AddStringToObject(o, "rule", t->rule);
        cJSON_AddStringToObject(o, "decision", decision);
        cJSON_AddItemToObject(o, "checks", arr);
        for (size_t i = 0; i < t->n; i++) {
            cJSON *e = cJSON_CreateObject();
            if (e == NULL) {
                break;
            }
            cJSON_AddStringToObject(e, "check", t->checks[i].name);
            cJSON_AddStringToObject(e, "result", tl_result_name[t->checks[i].result]);
            cJSON_AddStringToObject(e, "detail", t->checks[i].detail);
            cJSON_AddItemToArray(arr, e);
        }
        if (t->agent && !t->refused && t->required[0] != '\0') {
            cJSON_AddStringToObject(o, "required", t->required);
        }
        return ctl_json_print(o);
    }
    if (!t->agent) {
        printf("%s: not an agent; openclaw ignores this user on %s (the other modules of the "
               "stack decide)\nrule: %s\n",
               t->user, t->service, t->rule);
        return 0;
    }
    printf("%s on %s: an agent (%s)\n", t->user, t->service, t->rule);
    for (size_t i = 0; i < t->n; i++) {
        printf("  %-13s %-5s %s\n", t->checks[i].name, tl_result_name[t->checks[i].result],
               t->checks[i].detail);
    }
    printf("decision: %s\n", decision);
    if (!t->refused && t->required[0] != '\0') {
        printf("still required: %s\n", t->required);
    }
    return 0;
}

int ctl_test_login(int argc, char **argv)
{
    static const struct option opts[] = {
            {"config", required_argument, NULL, 'c'},
            {"rhost", required_argument, NULL, 'r'},
            {"at", required_argument, NULL, 'a'},
            {"passwd", required_argument, NULL, 'P'},
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct tl t = {.config = OC_CONFIG_PATH};
    struct ctl_localdb db = {0};
    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    const struct ctl_local_entry *le;
    const struct oc_agent *stat = NULL;
    struct oc_dir *dir = NULL;
    const struct oc_dir_agent *de = NULL;
    const char *dir_why = NULL;
    char dir_path[OC_CONFIG_PATH_MAX + 32] = "";
    uint32_t lo = OC_DEFAULT_UID_MIN, hi = OC_DEFAULT_UID_MAX, uid = 0;
    bool have_uid = false;
    const char *uid_from = NULL;
    struct passwd *pw;
    int ch, r;

    t.now = t.at = oc_now();
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            t.config = optarg;
            break;
        case 'r':
            t.rhost = optarg;
            break;
        case 'a':
            if (parse_at(optarg, &t.at) < 0) {
                fprintf(stderr,
                        "test-login: --at '%s': give YYYY-MM-DDTHH:MM[:SS] (local time) or "
                        "@EPOCH\n",
                        optarg);
                return CTL_EXIT_USAGE;
            }
            break;
        case 'P':
            db.passwd_path = optarg;
            break;
        case 'j':
            t.json = true;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        default:
            usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    t.user = argv[optind];
    t.service = argv[optind + 1];
    if (ctl_localdb_load(&db) < 0) {
        fprintf(stderr, "test-login: out of memory\n");
        return CTL_EXIT_USAGE;
    }

    /* root and local users: never agents, whatever the config says */
    le = ctl_localdb_user(&db, t.user);
    if (strcmp(t.user, "root") == 0 || (le != NULL && le->id == 0)) {
        t.rule = "root is never an agent";
        goto out;
    }
    if (le != NULL) {
        (void)snprintf(t.rule_buf, sizeof(t.rule_buf),
                       "a local user (%s:%u, uid %u): local users are never agents", db.passwd_path,
                       le->line, (unsigned)le->id);
        t.rule = t.rule_buf;
        goto out;
    }

    /* the config: its uid range, or the compiled-in one when it is unusable */
    memset(&err, 0, sizeof(err));
    r = oc_config_load(t.config, 0, &cfg, &err);
    if (r == 0) {
        lo = cfg->global.uid_min;
        hi = cfg->global.uid_max;
        stat = oc_config_agent_by_name(cfg, t.user);
        if (stat != NULL && oc_hostpolicy_agent_uid(cfg, stat, &uid, NULL) == 0) {
            have_uid = true;
            uid_from = "its [agent] section";
        }
        if (cfg->directory != NULL) {
            (void)snprintf(dir_path, sizeof(dir_path), "%s/%s", cfg->global.trust_dir,
                           OC_DIR_FILE_NAME);
            r = oc_dir_load_file(dir_path, lo, hi, &dir, &dir_why);
            if (r < 0 && dir_why == NULL) {
                dir_why = strerror(-r);
            }
            de = dir != NULL ? oc_dir_by_name(dir, t.user) : NULL;
            if (de != NULL && stat != NULL && !oc_guid_equal(de->app_id, stat->app_id)) {
                de = NULL; /* another application of that name: not this agent's entry */
            }
            if (de != NULL && !have_uid) {
                uid = de->uid;
                have_uid = true;
                uid_from = "the directory data";
            }
        }
    }
    pw = getpwnam(t.user);
    if (!have_uid && pw != NULL) {
        uid = pw->pw_uid;
        have_uid = true;
        uid_from = "the name service (getent passwd)";
    }
    if (!have_uid) {
        (void)snprintf(t.rule_buf, sizeof(t.rule_buf),
                       "no such user: not in %s, not an agent of the config%s, unknown to the "
                       "name service",
                       db.passwd_path,
                       cfg != NULL && cfg->directory != NULL ? " or of the directory data" : "");
        t.rule = t.rule_buf;
        goto out;
    }
    if (uid < lo || uid > hi) {
        (void)snprintf(t.rule_buf, sizeof(t.rule_buf),
                       "uid %u (from %s) is outside the agent uid range %u..%u%s", (unsigned)uid,
                       uid_from, (unsigned)lo, (unsigned)hi,
                       cfg == NULL ? " (the compiled-in range: the config is unusable)" : "");
        t.rule = t.rule_buf;
        goto out;
    }
    t.agent = true;
    (void)snprintf(t.rule_buf, sizeof(t.rule_buf),
                   "uid %u from %s, inside the agent uid range %u..%u, not in %s", (unsigned)uid,
                   uid_from, (unsigned)lo, (unsigned)hi, db.passwd_path);
    t.rule = t.rule_buf;
    if (cfg == NULL) {
        char msg[1024];
        if (oc_config_error_format(&err, msg, sizeof(msg)) < 0 || msg[0] == '\0') {
            (void)snprintf(msg, sizeof(msg), "%s: %s", t.config, strerror(-r));
        }
        add(&t, "config", TL_FAIL,
            "%s: agents are refused until it is fixed (openclawctl check-config)", msg);
        goto out;
    }
    add(&t, "config", TL_PASS, "%s is valid", t.config);
    if (pw != NULL && pw->pw_uid != uid) {
        add(&t, "user", TL_FAIL,
            "the name service gives %s uid %u, not the agent's %u: refused (openclawctl cache "
            "rebuild)",
            t.user, (unsigned)pw->pw_uid, (unsigned)uid);
    } else if (pw == NULL && stat == NULL) {
        add(&t, "user", TL_FAIL,
            "the name service does not resolve %s (is nss_openclaw in nsswitch.conf and the NSS "
            "cache fresh? openclawctl status)",
            t.user);
    }
    check_agent(&t, cfg, stat, dir, dir_why, dir_path, de);
out:
    r = print(&t);
    oc_dir_free(dir);
    oc_config_free(cfg);
    ctl_localdb_free(&db);
    if (r < 0) {
        fprintf(stderr, "test-login: out of memory\n");
        return CTL_EXIT_USAGE;
    }
    return t.agent && t.refused ? CTL_EXIT_REFUSED : CTL_EXIT_OK;
}
