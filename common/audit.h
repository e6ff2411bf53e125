/* SPDX-License-Identifier: MIT */
/*
 * audit.h: one audit line per decision, stable key=value fields.
 *
 *   event=auth service=sshd user=agent-alpha agent_app_id=GUID agent_oid=GUID
 *   token_uti=ID rhost=ADDR result=success|failure|ignore|error reason=WORD
 *   [caller_uid=N caller_pid=N via=PATH scope=SCOPE] [detail="free text"]
 *
 * Fields always appear in this order and always appear; an unknown value
 * is "-". The four caller fields are openclawd's (service=openclawd): who
 * asked (the kernel's uid and pid of the peer), through which path
 * (socket, mi, ssh-agent, sync; openclaw-token --keyring asks on the
 * socket) and for which scope. They are printed, all four, when via is
 * not NULL, and left out of pam_openclaw's and openclawctl's lines, so a
 * reader of the nine fixed keys reads both.
 * Values are printed bare when they are made of safe characters, else
 * double-quoted with \" \\ and \xNN escapes, so one line stays one record
 * whatever a client put into PAM_RHOST or a token claim. The token itself
 * is never a field. This file formats only; the caller logs.
 */
#ifndef OC_AUDIT_H
#define OC_AUDIT_H

#include <stddef.h>
#include <stdint.h>

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
    /* openclawd's records only; via NULL: the four fields are omitted */
    const char *via;    /* socket mi ssh-agent sync; "" or "-": none */
    int64_t caller_uid; /* peer uid from the kernel; negative: "-" */
    int64_t caller_pid; /* peer pid from the kernel; negative: "-" (TCP callers) */
    const char *scope;  /* a token's scope; NULL: "-" */
    const char *detail; /* optional free text, NULL: field omitted */
};

/* Where openclawd sends its records (formats with oc_audit_format, logs). */
typedef void (*oc_audit_sink_fn)(const struct oc_audit *a);

/* Format a into buf (always NUL-terminated). 0, or -ENOBUFS when cut. */
int oc_audit_format(const struct oc_audit *a, char *buf, size_t len);

#endif /* OC_AUDIT_H */
