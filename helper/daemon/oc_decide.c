/* SPDX-License-Identifier: MIT */
/* oc_decide.c: the one decision point for credentials (see oc_decide.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "helper/daemon/oc_decide.h"

/* Stable names of the paths and the via= of their records. */
static const struct {
    const char *name, *via;
} paths[] = {
        [OC_ISSUE_SOCKET_TOKEN] = {"get-token", "socket"},
        [OC_ISSUE_MI_TOKEN] = {"mi-token", "mi"},
        [OC_ISSUE_SSH_SIGN] = {"ssh-sign", "ssh-agent"},
        [OC_ISSUE_PREFETCH] = {"prefetch", "-"},
};

const char *oc_issue_path_name(enum oc_issue_path path)
{
    return (size_t)path < sizeof(paths) / sizeof(paths[0]) ? paths[path].name : "?";
}

const char *oc_issue_via(enum oc_issue_path path)
{
    return (size_t)path < sizeof(paths) / sizeof(paths[0]) ? paths[path].via : "-";
}

/* The one audit record of a decision (code NULL: allowed). */
static void record(struct oc_decide *d, const struct oc_issue *is, const char *name,
                   const struct oc_agent *ag, const char *code, const char *detail)
{
    if (d->audit == NULL || is->path == OC_ISSUE_PREFETCH) {
        return;
    }
    d->audit(&(const struct oc_audit){
            .event = is->path == OC_ISSUE_SSH_SIGN ? "ssh-sign" : "token",
            .service = "openclawd",
            .user = name,
            .agent_app_id = ag != NULL ? ag->app_id : NULL,
            .agent_oid = ag != NULL ? ag->object_id : NULL,
            .result = code == NULL ? "success" : "failure",
            .reason = code == NULL ? "ok" : code,
            .via = oc_issue_via(is->path),
            .caller_uid = is->uid,
            .caller_pid = is->pid > 0 ? is->pid : -1,
            .scope = is->scope,
            .detail = detail,
    });
}

void oc_decide_refused(struct oc_decide *d, const struct oc_issue *is, const char *name,
                       const char *code, const char *detail)
{
    const struct oc_agent *ag =
            name != NULL && name[0] != '\0' ? oc_config_agent_by_name(d->config, name) : NULL;

    record(d, is, name, ag, code, detail);
}

/* directory.json of the last sync, re-read when the file changed. NULL
 * when there is none (no [directory], no sync yet, unreadable). */
static const struct oc_dir *directory(struct oc_decide *d)
{
    struct stat st;

    if (d->dir_file == NULL || stat(d->dir_file, &st) < 0) {
        return NULL;
    }
    if (d->dir_loaded && st.st_ino == d->dir_st.st_ino && st.st_dev == d->dir_st.st_dev &&
        st.st_size == d->dir_st.st_size && st.st_mtim.tv_sec == d->dir_st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == d->dir_st.st_mtim.tv_nsec) {
        return d->dir;
    }
    oc_dir_free(d->dir);
    d->dir = NULL;
    d->dir_loaded = true;
    d->dir_st = st;
    if (oc_dir_load_file(d->dir_file, d->config->global.uid_min, d->config->global.uid_max, &d->dir,
                         NULL) < 0) {
        d->dir = NULL;
    }
    return d->dir;
}

void oc_decide_lockout(struct oc_decide *d, size_t a, int64_t now)
{
    uint32_t hold = 0;
    bool forever = false;

    if (a >= d->agents->n) {
        return;
    }
    /* The service is not known here: the longest unlock_time of any. */
    for (size_t i = 0; i < d->config->n_services; i++) {
        if (d->config->services[i].unlock_time == 0) {
            forever = true;
        } else if (d->config->services[i].unlock_time > hold) {
            hold = d->config->services[i].unlock_time;
        }
    }
    if (hold == 0) {
        hold = OC_DEFAULT_UNLOCK_TIME;
    }
    if (oc_agentstate_set_lockout(d->agents, d->config, a,
                                  forever ? INT64_MAX : now + (int64_t)hold) < 0 &&
        d->log != NULL) {
        d->log("the lockout of agent %s is held in memory only: the lock file could not be "
               "written (check the state directory's space and permissions)",
               d->config->agents[a].name);
    }
}

int oc_decide(struct oc_decide *d, const struct oc_issue *is, const char **ret_code,
              const char **ret_msg)
{
    const struct oc_agent *ag;
    const struct oc_dir *dir;
    const struct oc_dir_agent *de;
    const char *code = NULL, *msg = NULL;

    if (is->agent >= d->agents->n || is->agent >= d->config->n_agents) {
        record(d, is, NULL, NULL, "denied", "no such agent");
        *ret_code = "denied";
        *ret_msg = "no such agent";
        return -EACCES;
    }
    ag = &d->config->agents[is->agent];
    if (d->agents->locked[is->agent]) {
        code = "locked";
        msg = "the agent is locked by an admin; openclawctl agent unlock lifts it";
    } else if (d->agents->lockout_until[is->agent] > oc_now()) {
        code = "locked-out";
        msg = "the agent is locked out after repeated failed logins; openclawctl agent unlock "
              "lifts it";
    } else if (!ag->enabled) {
        code = "disabled";
        msg = "the agent is disabled in openclaw.conf (enabled = no)";
    } else if ((dir = directory(d)) != NULL &&
               ((de = oc_dir_by_app_id(dir, ag->app_id)) != NULL ||
                (de = oc_dir_by_name(dir, ag->name)) != NULL) &&
               !de->enabled) {
        code = "disabled";
        msg = "the agent's service principal is disabled in Entra (accountEnabled false at the "
              "last directory sync)";
    } else if (is->scope != NULL && ag->scopes.n > 0 &&
               !oc_strlist_contains(&ag->scopes, is->scope)) {
        code = "denied";
        msg = "scope not in the agent's scopes in openclaw.conf";
    }
    if (code == NULL && is->path == OC_ISSUE_PREFETCH) {
        return 0;
    }
    char pid[16] = "-"; /* the MI endpoint's callers: TCP gives no pid */
    if (is->pid > 0) {
        (void)snprintf(pid, sizeof(pid), "%d", (int)is->pid);
    }
    d->log("audit: %s: agent %s for uid %u pid %s%s%s%s%s: %s%s%s", oc_issue_path_name(is->path),
           ag->name, is->uid, pid, is->scope != NULL ? ", scope " : "",
           is->scope != NULL ? is->scope : "", is->what != NULL ? ", " : "",
           is->what != NULL ? is->what : "", code == NULL ? "allowed" : "refused (",
           code == NULL ? "" : code, code == NULL ? "" : ")");
    record(d, is, ag->name, ag, code, is->what);
    if (code == NULL) {
        return 0;
    }
    *ret_code = code;
    *ret_msg = msg;
    return -EACCES;
}

void oc_decide_free(struct oc_decide *d)
{
    oc_dir_free(d->dir);
    d->dir = NULL;
    d->dir_loaded = false;
}
