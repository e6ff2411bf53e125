/* SPDX-License-Identifier: MIT */
/*
 * auditjournal.h: one entry of `journalctl --output=json` (one JSON object
 * per line) read for `openclawctl audit`, and the trust rule applied to it.
 *
 * journald records with every entry fields that the sender cannot set:
 * _UID, _GID, _PID, _COMM, _EXE come from the socket's credentials (the
 * kernel's, not the message). SYSLOG_IDENTIFIER, SYSLOG_PID and MESSAGE are
 * whatever the sender wrote: any local user can log "openclawd: event=..."
 * or "pam_openclaw(sshd:auth): event=...". So the shape of a message
 * (auditlog.h) says only that it looks like openclaw's; the trusted _UID
 * says whether it can be: see oc_auditjournal_trusted().
 *
 * Input is parsed with the strict JSON front end (common/json.h) within
 * named caps; nothing here logs. The record itself is parsed by auditlog.c.
 */
#ifndef OC_AUDITJOURNAL_H
#define OC_AUDITJOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "helper/ctl/auditlog.h"

#define OC_AUDITJOURNAL_LINE_MAX  (64 * 1024) /* one JSON entry; longer: malformed */
#define OC_AUDITJOURNAL_IDENT_MAX 64          /* SYSLOG_IDENTIFIER kept (longer: cut) */

struct oc_auditjournal_entry {
    bool parsed;        /* the line was a JSON object (else nothing below is known) */
    int64_t time;       /* __REALTIME_TIMESTAMP in seconds since the epoch, -1 unknown */
    bool has_uid;       /* _UID present and valid */
    uint32_t uid;       /* _UID: trusted, set by journald from the socket credentials */
    int64_t pid;        /* _PID: trusted (the sending process), -1 unknown */
    int64_t syslog_pid; /* SYSLOG_PID: the sender's claim, -1 absent */
    char ident[OC_AUDITJOURNAL_IDENT_MAX + 1]; /* SYSLOG_IDENTIFIER, "" when absent */
};

/*
 * Parse one line (len bytes; a trailing newline is ignored). Returns:
 *   0        openclaw's in shape and a well-formed record: *ret_rec filled
 *            (its time from __REALTIME_TIMESTAMP), *ret_entry filled;
 *   -ENOENT  not an openclaw record;
 *   -EINVAL  malformed: openclaw's in shape but a bad record, a MESSAGE
 *            given as bytes (not valid UTF-8) or left out by journalctl
 *            (too long), or a line that is not a JSON entry (or longer
 *            than OC_AUDITJOURNAL_LINE_MAX) but holds "event=". *ret_entry
 *            is filled; its parsed is false in the last case.
 *   -ENOMEM
 * ret_entry is filled on 0 and -EINVAL only.
 */
int oc_auditjournal_parse(const char *line, size_t len, struct oc_auditjournal_entry *ret_entry,
                          struct oc_auditlog_rec *ret_rec);

/*
 * The trust rule. An entry that looks like openclaw's counts only when
 * journald saw it come from uid 0 (pam_openclaw runs inside root
 * processes: sshd's monitor, sudo, su; openclawctl's audited commands run
 * as root), or from the daemon user's uid with SYSLOG_IDENTIFIER
 * "openclawd" (daemon_known false: no daemon user on this host). Anything
 * else, including an entry without _UID, is untrusted.
 */
bool oc_auditjournal_trusted(const struct oc_auditjournal_entry *e, bool daemon_known,
                             uid_t daemon_uid);

#endif /* OC_AUDITJOURNAL_H */
