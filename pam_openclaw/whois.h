/* SPDX-License-Identifier: MIT */
/*
 * whois.h: who is an agent, decided without openclaw.conf (docs/pam.md,
 * "Fail safe for humans, fail closed for agents").
 *
 *   - root (by name or uid 0) and every user with an entry in /etc/passwd
 *     (the file itself, never NSS) are local users: never agents;
 *   - any other user is an agent when NSS (getpwnam) resolves it to a uid
 *     inside the agent range: the config's uid_min..uid_max, or the
 *     compiled-in default range when the config cannot be used.
 *
 * So nothing broken on openclaw's side (config, key cache, NSS cache,
 * daemon, tally) can turn a local user into an agent.
 */
#ifndef OC_PAM_WHOIS_H
#define OC_PAM_WHOIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The local user database read directly (not through NSS). */
#define OC_PASSWD_FILE "/etc/passwd"
/* Larger /etc/passwd files are not read past this (bytes). */
#define OC_PASSWD_FILE_MAX (64u * 1024u * 1024u)

enum oc_who {
    OC_WHO_LOCAL,     /* root or in /etc/passwd: never an agent */
    OC_WHO_AGENT_UID, /* not local, resolves to a uid in the agent range */
    OC_WHO_OTHER,     /* not local, resolves to nothing or outside the range */
};

/*
 * 1 when NAME has an entry in the passwd-format file PATH, 0 when it has
 * none, -errno when the file cannot be read (-EFBIG past
 * OC_PASSWD_FILE_MAX, -EINVAL for an empty or over-long name).
 */
int oc_who_in_passwd_file(const char *path, const char *name);

/*
 * The decision. in_passwd: the result of oc_who_in_passwd_file (an error
 * counts as "not in the file": the uid range still decides); resolves
 * and uid: what getpwnam said.
 */
enum oc_who oc_who_classify(const char *name, int in_passwd, bool resolves, uint32_t uid,
                            uint32_t uid_min, uint32_t uid_max);

/*
 * t as ISO 8601 UTC ("2026-12-03T06:30:00Z") into buf (at least 21 bytes);
 * "?" when it cannot be represented. For log details next to the epoch.
 */
void oc_pam_iso8601(int64_t t, char *buf, size_t len);

/* "local user", "agent uid", "no agent uid". */
const char *oc_who_name(enum oc_who w);

#endif
