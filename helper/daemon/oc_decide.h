/* SPDX-License-Identifier: MIT */
/*
 * oc_decide.h: the one decision point of openclawd (docs/security.md).
 *
 * Every path that hands out a credential on an agent's behalf - a token
 * on the socket (get-token: openclaw-token, its keyring loop, askpass,
 * mode=helper), a token on the managed-identity endpoint, an ssh-agent
 * signature - asks oc_decide() first, which applies in this order:
 *   1. the admin lock (openclawctl agent lock; oc_agentstate),
 *   2. the lockout pam_openclaw reported (anomaly; held until the
 *      longest unlock_time of any service, or until agent-unlock, and
 *      kept in the lock file across restarts),
 *   3. accountEnabled of the agent's service principal in the directory
 *      data of the last sync (and enabled = no in openclaw.conf),
 *   4. for a token, the agent's scopes (when the config lists any),
 * and writes exactly one audit record, allowed or refused: a key=value
 * line of common/audit.h (event=token or ssh-sign, service=openclawd,
 * the caller's uid and pid, via=socket|mi|ssh-agent, the scope) to the
 * audit sink (openclawd: syslog, LOG_AUTHPRIV), next to a prose line on
 * the log. A new path adds one OC_ISSUE_* value and calls oc_decide();
 * nothing else decides. A request refused before an agent is known
 * (a uid without an agent, another agent's identity) is recorded through
 * oc_decide_refused(), in the same shape.
 */
#ifndef OC_DECIDE_H
#define OC_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "audit.h"
#include "conf.h"
#include "directory.h"
#include "helper/daemon/oc_agentstate.h"

enum oc_issue_path {
    OC_ISSUE_SOCKET_TOKEN, /* get-token on the socket */
    OC_ISSUE_MI_TOKEN,     /* the managed-identity endpoint */
    OC_ISSUE_SSH_SIGN,     /* ssh-sign (the agent's ssh-agent) */
    OC_ISSUE_PREFETCH,     /* a session's default token fetched ahead (no caller) */
};

typedef void (*oc_decide_log_fn)(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct oc_decide {
    const struct oc_config *config;
    struct oc_agentstate *agents; /* admin locks, PAM lockouts */
    const char *dir_file;         /* directory.json of the sync, NULL without [directory] */
    oc_decide_log_fn log;
    oc_audit_sink_fn audit; /* the audit records; NULL: none */
    /* directory.json as last read, and the file it came from */
    struct oc_dir *dir;
    struct stat dir_st;
    bool dir_loaded;
};

struct oc_issue {
    enum oc_issue_path path;
    uint32_t uid;
    int32_t pid;       /* 0: unknown (a TCP caller of the MI endpoint) */
    size_t agent;      /* index in config->agents */
    const char *scope; /* a token's scope; NULL for a signature */
    const char *what;  /* optional: what is signed, for the audit line */
};

/* Stable names of the paths, for the audit line. */
const char *oc_issue_path_name(enum oc_issue_path path);

/* The via= of a path's audit record: socket, mi, ssh-agent ("-": prefetch). */
const char *oc_issue_via(enum oc_issue_path path);

/*
 * The audit record of a request refused before the decision point (no
 * agent mapped to the caller's uid, root on a path that is not root's,
 * another agent's identity asked for, data that is not SSH): is->agent is
 * ignored; name is the agent asked for, or NULL; code a stable word
 * ("denied", "not-ssh"); detail free text or NULL.
 */
void oc_decide_refused(struct oc_decide *d, const struct oc_issue *is, const char *name,
                       const char *code, const char *detail);

/*
 * 0 when the credential may be issued; -EACCES when refused, with a
 * stable error code (*ret_code: "locked", "locked-out", "disabled",
 * "denied") and a message for the caller (*ret_msg, static or owned by
 * d). One audit line either way (OC_ISSUE_PREFETCH: refusals only, and
 * as prose: no credential leaves the daemon, so no audit record).
 */
int oc_decide(struct oc_decide *d, const struct oc_issue *is, const char **ret_code,
              const char **ret_msg);

/* pam_openclaw reported a lockout of agent a (anomaly) at now. */
void oc_decide_lockout(struct oc_decide *d, size_t a, int64_t now);

void oc_decide_free(struct oc_decide *d);

#endif /* OC_DECIDE_H */
