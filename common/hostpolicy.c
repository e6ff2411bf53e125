/* SPDX-License-Identifier: MIT */
/* hostpolicy.c: the host's decision on top of a verified token (see hostpolicy.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostpolicy.h"
#include "idmap.h"
#include "policy.h"
#include "util.h"

__attribute__((format(printf, 3, 4))) static int refuse(struct oc_hostpolicy_verdict *v,
                                                        const char *check, const char *fmt, ...)
{
    va_list ap;

    v->failed = check;
    va_start(ap, fmt);
    (void)vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
    va_end(ap);
    return -EACCES;
}

__attribute__((format(printf, 2, 3))) static void note(struct oc_hostpolicy_verdict *v,
                                                       const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(v->detail, sizeof(v->detail), fmt, ap);
    va_end(ap);
}

int oc_hostpolicy_agent_uid(const struct oc_config *cfg, const struct oc_agent *agent,
                            uint32_t *ret_uid, bool *ret_pinned)
{
    struct oc_idmap_entry *map = NULL;
    size_t n = 0;
    char err[256];
    int r;

    if (cfg == NULL || agent == NULL || ret_uid == NULL) {
        return -EINVAL;
    }
    r = oc_idmap_assign(cfg, &map, &n, err, sizeof(err));
    if (r < 0) {
        return r;
    }
    r = -ENOENT;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(map[i].name, agent->name) == 0) {
            *ret_uid = map[i].uid;
            if (ret_pinned != NULL) {
                *ret_pinned = map[i].pinned;
            }
            r = 0;
            break;
        }
    }
    free(map);
    return r;
}

static int check_identity(const struct oc_config *cfg, const struct oc_hostpolicy_input *in,
                          struct oc_hostpolicy_verdict *v)
{
    const struct oc_agent *agent;
    int r;

    if (in->app_id != NULL) {
        agent = oc_config_agent_by_app_id(cfg, in->app_id);
        if (agent == NULL && in->synced != NULL && oc_guid_equal(in->synced->app_id, in->app_id)) {
            agent = in->synced;
        }
        if (agent == NULL) {
            return refuse(v, "agent",
                          "application %s is not a configured agent (add an [agent NAME] section "
                          "with app_id = %s)",
                          in->app_id, in->app_id);
        }
        if (in->object_id == NULL || !oc_guid_equal(agent->object_id, in->object_id)) {
            return refuse(v, "agent",
                          "oid %s is not agent %s's object_id %s (the token belongs to another "
                          "service principal of that application)",
                          in->object_id != NULL ? in->object_id : "(none)", agent->name,
                          agent->object_id);
        }
    } else {
        if (in->user == NULL) {
            return -EINVAL;
        }
        agent = oc_config_agent_by_name(cfg, in->user);
        if (agent == NULL && in->synced != NULL && strcmp(in->synced->name, in->user) == 0) {
            agent = in->synced;
        }
        if (agent == NULL) {
            return refuse(v, "agent", "user %s is not a configured agent", in->user);
        }
    }
    if (!agent->enabled) {
        return refuse(v, "agent", "agent %s is disabled %s", agent->name,
                      agent == in->synced ? "in Entra (accountEnabled false in the directory data)"
                                          : "in the config (enabled = no)");
    }
    if (agent == in->synced && agent->has_uid) {
        v->uid = agent->uid;
        v->uid_pinned = false;
        r = 0;
    } else {
        r = oc_hostpolicy_agent_uid(cfg, agent, &v->uid, &v->uid_pinned);
    }
    if (r == -ENOMEM) {
        return r;
    }
    if (r < 0) {
        return refuse(v, "agent",
                      "identity mapping refused for agent %s (run openclawctl verify-token for the "
                      "collision; pin one agent with uid =)",
                      agent->name);
    }
    v->agent = agent;
    if (in->user != NULL && strcmp(in->user, agent->name) != 0) {
        return refuse(v, "user",
                      "the token's agent is %s, not user %s: a token never logs in as another user",
                      agent->name, in->user);
    }
    note(v, "agent %s, uid %u", agent->name, v->uid);
    return 0;
}

static int find_service(const struct oc_config *cfg, const struct oc_hostpolicy_input *in,
                        struct oc_hostpolicy_verdict *v)
{
    if (v->svc != NULL) {
        return 0;
    }
    if (in->service == NULL) {
        return -EINVAL;
    }
    v->svc = oc_config_service(cfg, in->service);
    if (v->svc == NULL) {
        return refuse(v, "service",
                      "no [service %s] or [service default] section: agents are refused for this "
                      "service",
                      in->service);
    }
    return 0;
}

static int check_role(const struct oc_config *cfg, const struct oc_hostpolicy_input *in,
                      struct oc_hostpolicy_verdict *v)
{
    const struct oc_service *svc;
    const struct oc_strlist *need;
    int r;

    r = find_service(cfg, in, v);
    if (r < 0) {
        return r;
    }
    svc = v->svc;
    if (v->agent != NULL && svc->has_allow_agents &&
        !oc_strlist_contains(&svc->allow_agents, v->agent->name)) {
        return refuse(v, "allow-agents", "agent %s is not in allow_agents of [service %s]",
                      v->agent->name, svc->name);
    }
    need = in->require_role != NULL ? in->require_role : &svc->require_role;
    if (need->n == 0) {
        note(v, "[service %s] requires no role", svc->name);
        return 0;
    }
    if (!in->has_roles) {
        return refuse(v, "role",
                      "[service %s] requires %s%s and no verified token carried the agent's roles "
                      "in this transaction",
                      svc->name, need->items[0], need->n > 1 ? " (or another listed role)" : "");
    }
    for (size_t i = 0; i < need->n; i++) {
        for (size_t j = 0; j < in->n_roles; j++) {
            if (in->roles[j] != NULL && strcmp(need->items[i], in->roles[j]) == 0) {
                v->role = need->items[i];
                note(v, "holds %s", v->role);
                return 0;
            }
        }
    }
    return refuse(v, "role",
                  "none of the roles required for [service %s] (%s%s) is in the token (assign the "
                  "app role to the agent in Entra)",
                  svc->name, need->items[0], need->n > 1 ? ", ..." : "");
}

static int check_access(const struct oc_config *cfg, const struct oc_hostpolicy_input *in,
                        struct oc_hostpolicy_verdict *v)
{
    const struct oc_service *svc;
    struct tm tm;
    time_t t;
    char when[32];
    int r;

    r = find_service(cfg, in, v);
    if (r < 0) {
        return r;
    }
    svc = v->svc;
    if (!svc->allow_networks.any) {
        if (in->rhost == NULL || in->rhost[0] == '\0') {
            return refuse(v, "network",
                          "[service %s] limits source networks and the source address is unknown",
                          svc->name);
        }
        if (!oc_netlist_match(&svc->allow_networks, in->rhost)) {
            return refuse(v, "network", "%s is outside allow_networks of [service %s]", in->rhost,
                          svc->name);
        }
    }
    t = (time_t)in->now;
    if (localtime_r(&t, &tm) == NULL) {
        return refuse(v, "time", "cannot compute the local time");
    }
    if (!oc_timewin_match(&svc->allow_time, &tm)) {
        (void)strftime(when, sizeof(when), "%a %H:%M", &tm);
        return refuse(v, "time", "%s (local) is outside allow_time of [service %s]", when,
                      svc->name);
    }
    note(v, "inside allow_networks and allow_time of [service %s]", svc->name);
    return 0;
}

int oc_hostpolicy_check(const struct oc_config *cfg, const struct oc_hostpolicy_input *in,
                        unsigned what, struct oc_hostpolicy_verdict *verdict)
{
    int r;

    if (verdict == NULL) {
        return -EINVAL;
    }
    memset(verdict, 0, sizeof(*verdict));
    if (cfg == NULL || in == NULL || (what & OC_HP_ALL) == 0) {
        return -EINVAL;
    }
    if ((what & OC_HP_IDENTITY) != 0) {
        r = check_identity(cfg, in, verdict);
        if (r < 0) {
            return r;
        }
    }
    if ((what & OC_HP_ROLE) != 0) {
        r = check_role(cfg, in, verdict);
        if (r < 0) {
            return r;
        }
    }
    if ((what & OC_HP_ACCESS) != 0) {
        r = check_access(cfg, in, verdict);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}
