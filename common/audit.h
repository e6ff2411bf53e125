/* SPDX-License-Identifier: MIT */
/*
 * audit.h: one audit line per decision, stable key=value fields.
 *
 *   event=auth service=sshd user=agent-alpha agent_app_id=GUID agent_oid=GUID
 *   token_uti=ID rhost=ADDR result=success|failure|ignore|error reason=WORD
 *   [detail="free text"]
 *
 * Fields always appear in this order and always appear; an unknown value
 * is "-". Values are printed bare when they are made of safe characters,
 * else double-quoted with \" \\ and \xNN escapes, so one line stays one
 * record whatever a client put into PAM_RHOST or a token claim. The token
 * itself is never a field. This file formats only; the caller logs.
 */
#ifndef OC_AUDIT_H
#define OC_AUDIT_H

#include <stddef.h>

/* Longest audit line (syslog keeps lines far longer; this caps our cost). */
#define OC_AUDIT_LINE_MAX 1024
/* Longest value printed for one field; longer values are cut with "...". */
#define OC_AUDIT_VALUE_MAX 256

struct oc_audit {
    const char *event; /* auth account session-open session-close password anomaly */
    const char *service;
    const char *user;
    const char *agent_app_id;
    const char *agent_oid;
    const char *token_uti;
    const char *rhost;
    const char *result; /* success failure ignore error */
    const char *reason; /* stable word: ok signature role network time locked ... */
    const char *detail; /* optional free text, NULL: field omitted */
};

/* Format a into buf (always NUL-terminated). 0, or -ENOBUFS when cut. */
int oc_audit_format(const struct oc_audit *a, char *buf, size_t len);

#endif /* OC_AUDIT_H */
