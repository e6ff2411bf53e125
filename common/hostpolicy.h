/* SPDX-License-Identifier: MIT */
/*
 * hostpolicy.h: the host's own decision on top of a verified token.
 *
 * One function, used by pam_openclaw and meant for `openclawctl
 * verify-token`, so that both decide identically and in the same order:
 *   agent      the token's appid is a configured agent, its oid is that
 *              agent's object_id, the agent is enabled, it has a uid
 *   user       the agent is this Unix user (never another agent, never a
 *              human)
 *   service    [service NAME], else [service default]; none: refused
 *   allow-agents  the agent is listed when the section has allow_agents
 *   role       ANY-of require_role (or the caller's override) is held
 *   network    the source address is inside allow_networks
 *   time       the local time is inside allow_time
 * Libc only (no token parsing here: the caller passes the verified
 * identity and roles). Logs nothing.
 */
#ifndef OC_HOSTPOLICY_H
#define OC_HOSTPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* Which groups of checks to run (a bit mask). */
enum {
    OC_HP_IDENTITY = 1u << 0, /* agent, user */
    OC_HP_ROLE = 1u << 1,     /* service, allow-agents, role */
    OC_HP_ACCESS = 1u << 2,   /* service, network, time */
    OC_HP_ALL = OC_HP_IDENTITY | OC_HP_ROLE | OC_HP_ACCESS,
};

#define OC_HP_DETAIL_MAX 320

struct oc_hostpolicy_input {
    /* The verified token's identity. When app_id is NULL the agent is
     * looked up by user name instead (account phase without a token);
     * it must then exist and be enabled. */
    const char *app_id;
    const char *object_id;
    /* The token's roles; has_roles false means "no verified roles known",
     * which fails any role requirement. */
    bool has_roles;
    const char *const *roles;
    size_t n_roles;
    const char *user;    /* PAM_USER; NULL: not checked */
    const char *service; /* PAM service; NULL: only IDENTITY can run */
    const char *rhost;   /* PAM_RHOST or NULL */
    int64_t now;         /* for the time window (local time) */
    /* Replaces the service's require_role when not NULL (module argument). */
    const struct oc_strlist *require_role;
    /* An agent from the directory data (directory.json), for a user that
     * is not a static [agent]: used when the config has no agent for
     * app_id / user. Its uid is synced->uid (has_uid); the caller has
     * checked it against uid_min..uid_max and getpwnam(user). */
    const struct oc_agent *synced;
};

struct oc_hostpolicy_verdict {
    /* NULL when accepted, else the stable name of the failed check:
     * "agent", "user", "service", "allow-agents", "role", "network", "time". */
    const char *failed;
    char detail[OC_HP_DETAIL_MAX]; /* what was decided, for logs and admins */
    const struct oc_agent *agent;  /* set once the agent is known */
    uint32_t uid;                  /* valid when agent != NULL */
    bool uid_pinned;
    const struct oc_service *svc; /* set once the service section is known */
    const char *role;             /* the role that satisfied require_role, or NULL */
};

/*
 * Run the checks in `what` in the order above. Returns 0 (accepted),
 * -EACCES (refused; verdict->failed and detail say why), -EINVAL (bad
 * arguments) or -ENOMEM. verdict is always filled.
 */
int oc_hostpolicy_check(const struct oc_config *cfg, const struct oc_hostpolicy_input *in,
                        unsigned what, struct oc_hostpolicy_verdict *verdict);

/* The uid of a configured agent (idmap, with "uid =" overrides). 0 or -errno. */
int oc_hostpolicy_agent_uid(const struct oc_config *cfg, const struct oc_agent *agent,
                            uint32_t *ret_uid, bool *ret_pinned);

#endif /* OC_HOSTPOLICY_H */
