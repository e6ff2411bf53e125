/* SPDX-License-Identifier: MIT */
/*
 * oc_agentstate.h: openclawd's per-agent state besides tokens: how many
 * PAM sessions each agent has open (memory only) and which agents an
 * admin locked (agent-lock / agent-unlock), kept in memory and in one
 * small file so a restart keeps the locks.
 *
 * The lock file, STATE_DIR/locked-agents, holds one agent name per line
 * for an admin lock, and "NAME lockout-until=EPOCH" for a lockout
 * pam_openclaw reported that has not ended (INT64_MAX: until
 * agent-unlock), so a restart keeps both (mode 0600, at most
 * OC_AGENTSTATE_FILE_MAX bytes). It is written as a
 * temporary file in the same directory, fsync'd and renamed. A name in
 * it that is not a configured agent is reported and dropped at the next
 * write. Daemon code: reports go to stderr like the rest of openclawd.
 */
#ifndef OC_AGENTSTATE_H
#define OC_AGENTSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define OC_AGENTSTATE_FILE         "locked-agents"
#define OC_AGENTSTATE_FILE_MAX     (64u * 1024u)
#define OC_AGENTSTATE_SESSIONS_MAX 65535u /* open sessions counted per agent */

struct oc_agentstate {
    size_t n;           /* agents in the config */
    uint32_t *sessions; /* per agent */
    bool *locked;       /* per agent */
    /* per agent: end of the lockout pam_openclaw reported (anomaly), 0
     * none, INT64_MAX until agent-unlock; kept in the lock file too
     * (oc_decide.h) */
    int64_t *lockout_until;
    char *lock_file; /* STATE_DIR/locked-agents */
};

/*
 * Allocate for cfg's agents and read the lock file in state_dir (absent:
 * nobody locked). 0, or a negative errno with a message in err (a lock
 * file that cannot be read must not silently unlock anybody).
 */
int oc_agentstate_init(struct oc_agentstate *s, const struct oc_config *cfg, const char *state_dir,
                       char *why, size_t why_len);
void oc_agentstate_free(struct oc_agentstate *s);

/* Lock or unlock agent index a: in memory at once, then the file is
 * rewritten. 0 or a negative errno (the memory state applies anyway).
 * An unlock also lifts a reported lockout. */
int oc_agentstate_set_locked(struct oc_agentstate *s, const struct oc_config *cfg, size_t a,
                             bool locked);

/* Hold agent index a's reported lockout until UNTIL (epoch seconds;
 * INT64_MAX: until agent-unlock): in memory at once, then the file is
 * rewritten. 0 or a negative errno (the memory state applies anyway). */
int oc_agentstate_set_lockout(struct oc_agentstate *s, const struct oc_config *cfg, size_t a,
                              int64_t until);

/* The lock file's text, parsed into s (buf[have] must be '\0'; buf is
 * changed): a line "NAME" locks NAME, "NAME lockout-until=EPOCH" holds
 * its lockout; comments (#), empty lines, other lines and names that are
 * not configured agents are reported on stderr and skipped. */
void oc_agentstate_parse(struct oc_agentstate *s, const struct oc_config *cfg, char *buf,
                         size_t have);

/* The lock file's text for s at now (lockouts ended by now are left out)
 * in *ret_buf (malloc'd, '\0'-terminated, length *ret_len). */
int oc_agentstate_format(const struct oc_agentstate *s, const struct oc_config *cfg, int64_t now,
                         char **ret_buf, size_t *ret_len);

/* Count a session opened (+1) or closed (-1) for agent index a; returns
 * the new count (never below 0 nor above OC_AGENTSTATE_SESSIONS_MAX). */
uint32_t oc_agentstate_session(struct oc_agentstate *s, size_t a, int delta);

#endif /* OC_AGENTSTATE_H */
