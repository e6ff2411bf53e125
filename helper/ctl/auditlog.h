/* SPDX-License-Identifier: MIT */
/*
 * auditlog.h: the reader of openclaw's audit lines (the writer is
 * common/audit.c), for `openclawctl audit`.
 *
 * Two entry points share one record parser: a syslog file line
 * (oc_auditlog_parse) and a journal entry's SYSLOG_IDENTIFIER + MESSAGE
 * (oc_auditlog_parse_message; auditjournal.h reads the entry itself).
 * A line is an optional syslog prefix (RFC 3339 or traditional timestamp,
 * host, tag[pid]:, and pam_syslog's "pam_openclaw(svc:type): ") followed
 * by the key=value record of audit.h. The record is parsed strictly: the
 * nine fixed keys in their order, values bare (audit.c's safe characters)
 * or double-quoted with only \" \\ and \xNN escapes, one space between
 * fields; openclawd's caller fields (caller_uid, caller_pid, via, scope),
 * detail and well-formed unknown keys may follow, each at most once.
 * Anything else is malformed and only counted. Libc only; no allocation.
 */
#ifndef OC_AUDITLOG_H
#define OC_AUDITLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OC_AUDITLOG_LINE_MAX    4096 /* longer lines are malformed */
#define OC_AUDITLOG_VALUE_MAX   264  /* decoded bytes of one value (audit.c cuts at 256 + "...") */
#define OC_AUDITLOG_FIELDS_MAX  24   /* fields in one record */
#define OC_AUDITLOG_SERVICE_MAX 128  /* SERVICE in a message's "pam_openclaw(SERVICE:PHASE): " */

struct oc_auditlog_rec {
    int64_t time; /* seconds since the epoch, -1 when the line has no timestamp */
    char event[OC_AUDITLOG_VALUE_MAX + 1];
    char service[OC_AUDITLOG_VALUE_MAX + 1];
    char user[OC_AUDITLOG_VALUE_MAX + 1];
    char agent_app_id[OC_AUDITLOG_VALUE_MAX + 1];
    char agent_oid[OC_AUDITLOG_VALUE_MAX + 1];
    char token_uti[OC_AUDITLOG_VALUE_MAX + 1];
    char rhost[OC_AUDITLOG_VALUE_MAX + 1];
    char result[OC_AUDITLOG_VALUE_MAX + 1];
    char reason[OC_AUDITLOG_VALUE_MAX + 1];
    char detail[OC_AUDITLOG_VALUE_MAX + 1]; /* "" when absent */
    /* openclawd's records (audit.h): "" when absent */
    char caller_uid[OC_AUDITLOG_VALUE_MAX + 1];
    char caller_pid[OC_AUDITLOG_VALUE_MAX + 1];
    char via[OC_AUDITLOG_VALUE_MAX + 1];
    char scope[OC_AUDITLOG_VALUE_MAX + 1];
};

/*
 * Parse one line (len bytes, no newline needed, need not be NUL-terminated).
 * now is used to place a traditional timestamp (no year) in a year.
 * Returns 0 with *ret filled, -ENOENT when the line is not an openclaw
 * audit record, -EINVAL when it claims to be one but is malformed.
 */
int oc_auditlog_parse(const char *line, size_t len, int64_t now, struct oc_auditlog_rec *ret);

/*
 * One journal message: ident is its SYSLOG_IDENTIFIER (NULL when absent),
 * msg its MESSAGE (len bytes, need not be NUL-terminated). It is openclaw's
 * in shape when it starts with "pam_openclaw(SERVICE:PHASE): event=" (any
 * ident: pam_syslog logs under the program's name), or when ident is
 * pam_openclaw, openclawd or openclawctl and it starts with "event=".
 * Shape is not authorship: the caller applies the trust rule to the
 * entry's trusted fields. Returns 0 with *ret filled (time -1), -ENOENT
 * not an openclaw record, -EINVAL openclaw's in shape but malformed
 * (including longer than OC_AUDITLOG_LINE_MAX).
 */
int oc_auditlog_parse_message(const char *ident, const char *msg, size_t len,
                              struct oc_auditlog_rec *ret);

/*
 * The shape test alone (len already without a trailing newline): 0 with
 * *ret_start at "event=", -ENOENT, or -EINVAL (a damaged pam_syslog prefix
 * before an "event=").
 */
int oc_auditlog_message_kind(const char *ident, const char *msg, size_t len, size_t *ret_start);

/* ident is one of the syslog identifiers openclaw's own programs log under. */
bool oc_auditlog_ident_ours(const char *ident);

/*
 * A point in time for --since: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS][Z]"
 * (UTC), "@EPOCH", or "-N" + s|m|h|d relative to now. 0 or -EINVAL.
 */
int oc_auditlog_parse_since(const char *s, int64_t now, int64_t *ret);

#endif /* OC_AUDITLOG_H */
