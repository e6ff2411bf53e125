/* SPDX-License-Identifier: MIT */
/*
 * ctl_audit.c: `openclawctl audit`, a summary of the audit lines that
 * pam_openclaw, openclawd and openclawctl send to syslog (LOG_AUTHPRIV):
 * successful logins per agent and service, refusals by reason, lockouts
 * and anomalies, openclawd's decisions (service=openclawd: tokens,
 * signatures, sessions, locks, anomaly responses, directory changes) by
 * event, path, result and reason, over the time range seen.
 *
 * Source: --file FILE; else the journal (journalctl --facility=authpriv
 * --output=json) when journalctl and a running journal exist; else
 * /var/log/auth.log. Records are parsed strictly (auditlog.c); malformed
 * ones are counted and never summarised.
 *
 * Syslog does not authenticate who wrote a line, but journald records the
 * sender's uid from the socket credentials (_UID). From the journal a
 * record counts only when it came from uid 0 or from openclawd running as
 * the daemon user (auditjournal.h); any other sender's look-alike is
 * counted apart as untrusted. A syslog file has no such field: there the
 * summary is as trustworthy as the file's access control.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "helper/ctl/auditjournal.h"
#include "helper/ctl/auditlog.h"
#include "helper/ctl/ctl.h"
#include "util.h"

#define AUDIT_DEFAULT_FILE  "/var/log/auth.log"
#define AUDIT_KEYS_MAX      4096 /* distinct (agent, service) or reasons kept; more: "(other)" */
#define AUDIT_EVENTS_MAX    200  /* lockout/anomaly lines listed (the latest) */
#define AUDIT_JOURNALCTL    "/usr/bin/journalctl"
#define AUDIT_JOURNAL_SOCK  "/run/systemd/journal/socket"
#define AUDIT_DAEMON_USER   "openclaw" /* the user openclawd runs as (data/openclawd.service) */
#define AUDIT_UNTRUSTED_MAX 32         /* distinct untrusted senders listed; more: "others" */

struct count {
    char a[OC_AUDITLOG_VALUE_MAX + 1];
    char b[OC_AUDITLOG_VALUE_MAX + 1];
    char c[OC_AUDITLOG_VALUE_MAX + 1]; /* openclawd's: result */
    char d[OC_AUDITLOG_VALUE_MAX + 1]; /* openclawd's: reason */
    unsigned long n;
};

struct counts {
    struct count *v;
    size_t n;
};

/* Senders of untrusted look-alikes, by the uid journald saw (known false: none). */
struct sender {
    bool known;
    uint32_t uid;
    unsigned long n;
    char ident[OC_AUDITJOURNAL_IDENT_MAX + 1]; /* the last one's SYSLOG_IDENTIFIER */
    int64_t pid;                               /* the last one's _PID (-1 unknown) */
};

/* Who may write the records counted from the journal (the trust rule). */
struct trust {
    const char *daemon_user;
    bool daemon_known; /* the daemon user exists here */
    uid_t daemon_uid;
};

struct summary {
    unsigned long lines, records, malformed, skipped_time, skipped_agent;
    bool journal;            /* the source records the sender (journald's _UID) */
    unsigned long untrusted; /* look-alikes from other senders (journal only) */
    struct sender senders[AUDIT_UNTRUSTED_MAX];
    size_t n_senders;
    unsigned long senders_other; /* untrusted records of senders past the list */
    int64_t first, last;
    struct counts logins;           /* (user, service) of auth successes */
    struct counts refusals;         /* (reason, "") of failures */
    struct counts errors;           /* (reason, "") of errors */
    struct counts daemon;           /* openclawd's (event, via, result, reason) */
    struct oc_auditlog_rec *events; /* lockouts, anomalies, unlocks (ring) */
    size_t n_events, events_total;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: openclawctl audit [--since TIME] [--agent NAME] [--file FILE] [--json]\n"
            "                         [--daemon-user USER]\n\n"
            "Summarises openclaw's audit lines: successful logins per agent and service,\n"
            "refusals by reason, lockouts and anomalies, openclawd's decisions by event,\n"
            "path (via), result and reason, and the time range seen.\n"
            "  --file FILE   a syslog file (default: the journal when it runs, else %s)\n"
            "  --since TIME  YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z] (UTC), @EPOCH or -N(s|m|h|d)\n"
            "  --agent NAME  only this agent's lines\n"
            "  --daemon-user USER  the user openclawd runs as (default %s)\n"
            "From the journal, a record counts only when journald saw it come from uid 0,\n"
            "or from openclawd as the daemon user; other senders' look-alikes are counted\n"
            "apart as untrusted. A syslog file does not say who wrote a line.\n"
            "Exit status: 0 summary printed, 2 the log cannot be read or bad usage.\n",
            AUDIT_DEFAULT_FILE, AUDIT_DAEMON_USER);
}

static int bump4(struct counts *c, const char *a, const char *b, const char *x, const char *y)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->v[i].a, a) == 0 && strcmp(c->v[i].b, b) == 0 && strcmp(c->v[i].c, x) == 0 &&
            strcmp(c->v[i].d, y) == 0) {
            c->v[i].n++;
            return 0;
        }
    }
    if (c->n >= AUDIT_KEYS_MAX) {
        a = "(other)";
        b = x = y = "";
        for (size_t i = 0; i < c->n; i++) {
            if (strcmp(c->v[i].a, a) == 0) {
                c->v[i].n++;
                return 0;
            }
        }
        c->n--; /* the last slot becomes "(other)" */
    }
    if (c->n % 64 == 0) {
        struct count *nv = realloc(c->v, (c->n + 64) * sizeof(*nv));
        if (nv == NULL) {
            return -ENOMEM;
        }
        c->v = nv;
    }
    (void)oc_strscpy(c->v[c->n].a, sizeof(c->v[c->n].a), a);
    (void)oc_strscpy(c->v[c->n].b, sizeof(c->v[c->n].b), b);
    (void)oc_strscpy(c->v[c->n].c, sizeof(c->v[c->n].c), x);
    (void)oc_strscpy(c->v[c->n].d, sizeof(c->v[c->n].d), y);
    c->v[c->n].n = 1;
    c->n++;
    return 0;
}

static int bump(struct counts *c, const char *a, const char *b)
{
    return bump4(c, a, b, "", "");
}

static int by_count(const void *x, const void *y)
{
    const struct count *a = x, *b = y;
    if (a->n != b->n) {
        return a->n < b->n ? 1 : -1;
    }
    int r = strcmp(a->a, b->a);
    r = r != 0 ? r : strcmp(a->b, b->b);
    r = r != 0 ? r : strcmp(a->c, b->c);
    return r != 0 ? r : strcmp(a->d, b->d);
}

/* openclawd's own records and openclaw-sync's (audit.h's caller fields):
 * the directory changes are root's openclaw-sync's since it syncs */
static bool is_daemon(const struct oc_auditlog_rec *r)
{
    return strcmp(r->service, "openclawd") == 0 || strcmp(r->service, "openclaw-sync") == 0;
}

static bool is_event_of_note(const struct oc_auditlog_rec *r)
{
    if (is_daemon(r)) {
        /* a token refused for a lock is a decision, listed in the table */
        return strcmp(r->event, "anomaly") == 0 || strcmp(r->event, "unlock") == 0 ||
               strcmp(r->event, "lock") == 0 || strcmp(r->event, "sp-disable") == 0 ||
               strcmp(r->event, "agent-disabled") == 0;
    }
    return strcmp(r->event, "anomaly") == 0 || strcmp(r->event, "unlock") == 0 ||
           strcmp(r->event, "lock") == 0 || strcmp(r->reason, "locked") == 0;
}

static int take(struct summary *s, const struct oc_auditlog_rec *r)
{
    int e = 0;

    s->records++;
    if (r->time >= 0) {
        if (s->first < 0 || r->time < s->first) {
            s->first = r->time;
        }
        if (r->time > s->last) {
            s->last = r->time;
        }
    }
    if (is_daemon(r)) {
        /* openclawd's decisions are counted apart from the logins */
        e = bump4(&s->daemon, r->event, r->via[0] != '\0' ? r->via : "-", r->result, r->reason);
    } else if (strcmp(r->result, "success") == 0 && strcmp(r->event, "auth") == 0) {
        e = bump(&s->logins, r->user, r->service);
    } else if (strcmp(r->result, "failure") == 0) {
        e = bump(&s->refusals, r->reason, "");
    } else if (strcmp(r->result, "error") == 0) {
        e = bump(&s->errors, r->reason, "");
    }
    if (e == 0 && is_event_of_note(r)) {
        s->events[s->events_total % AUDIT_EVENTS_MAX] = *r;
        s->events_total++;
        s->n_events = s->events_total < AUDIT_EVENTS_MAX ? s->events_total : AUDIT_EVENTS_MAX;
    }
    return e;
}

static int read_stream(FILE *f, struct summary *s, int64_t since, const char *agent, int64_t now)
{
    char buf[OC_AUDITLOG_LINE_MAX + 2];

    while (fgets(buf, sizeof(buf), f) != NULL) {
        size_t n = strlen(buf);
        struct oc_auditlog_rec r;
        bool long_line = n > 0 && buf[n - 1] != '\n' && !feof(f);

        s->lines++;
        if (long_line) {
            /* the rest of an over-long line is dropped, and the line counted as malformed */
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n') {
            }
            if (memmem(buf, n, "event=", 6) != NULL) {
                s->malformed++;
            }
            continue;
        }
        int rc = oc_auditlog_parse(buf, n, now, &r);
        if (rc == -ENOENT) {
            continue;
        }
        if (rc < 0) {
            s->malformed++;
            continue;
        }
        if (since >= 0 && (r.time < 0 || r.time < since)) {
            s->skipped_time++;
            continue;
        }
        if (agent != NULL && strcmp(r.user, agent) != 0) {
            s->skipped_agent++;
            continue;
        }
        if (take(s, &r) < 0) {
            return -ENOMEM;
        }
    }
    return ferror(f) ? -EIO : 0;
}

static void note_untrusted(struct summary *s, const struct oc_auditjournal_entry *e)
{
    s->untrusted++;
    for (size_t i = 0; i < s->n_senders; i++) {
        struct sender *x = &s->senders[i];
        if (x->known == e->has_uid && (!x->known || x->uid == e->uid)) {
            x->n++;
            x->pid = e->pid;
            (void)oc_strscpy(x->ident, sizeof(x->ident), e->ident);
            return;
        }
    }
    if (s->n_senders >= AUDIT_UNTRUSTED_MAX) {
        s->senders_other++;
        return;
    }
    struct sender *x = &s->senders[s->n_senders++];
    x->known = e->has_uid;
    x->uid = e->has_uid ? e->uid : 0;
    x->n = 1;
    x->pid = e->pid;
    (void)oc_strscpy(x->ident, sizeof(x->ident), e->ident);
}

/* journalctl --output=json: one entry per line, the trust rule on each record. */
static int read_journal_stream(FILE *f, struct summary *s, int64_t since, const char *agent,
                               const struct trust *t)
{
    const size_t cap = (size_t)OC_AUDITJOURNAL_LINE_MAX + 2;
    char *buf = malloc(cap);
    int ret = 0;

    if (buf == NULL) {
        return -ENOMEM;
    }
    while (fgets(buf, (int)cap, f) != NULL) {
        size_t n = strlen(buf);
        struct oc_auditjournal_entry e;
        struct oc_auditlog_rec r;

        s->lines++;
        if (n > 0 && buf[n - 1] != '\n' && !feof(f)) {
            /*
             * The rest of an over-long entry is dropped, and the entry is
             * malformed when it holds "event=" anywhere (journalctl's field
             * order varies: MESSAGE may come after the cap).
             */
            bool has_event = memmem(buf, n, "event=", 6) != NULL;
            char win[6];
            size_t w = n < sizeof(win) ? n : sizeof(win);
            int c;
            memset(win, 0, sizeof(win));
            memcpy(win + sizeof(win) - w, buf + n - w, w);
            while ((c = fgetc(f)) != EOF && c != '\n') {
                memmove(win, win + 1, sizeof(win) - 1);
                win[sizeof(win) - 1] = (char)c;
                has_event = has_event || memcmp(win, "event=", sizeof(win)) == 0;
            }
            if (has_event) {
                s->malformed++;
            }
            continue;
        }
        int rc = oc_auditjournal_parse(buf, n, &e, &r);
        if (rc == -ENOENT) {
            continue;
        }
        if (rc == -ENOMEM) {
            ret = rc;
            break;
        }
        if (!e.parsed) {
            s->malformed++; /* not a journal entry: its sender is unknown */
            continue;
        }
        if (since >= 0 && (e.time < 0 || e.time < since)) {
            s->skipped_time++;
            continue;
        }
        if (!oc_auditjournal_trusted(&e, t->daemon_known, t->daemon_uid)) {
            note_untrusted(s, &e); /* whatever --agent says, and well-formed or not */
            continue;
        }
        if (rc < 0) {
            s->malformed++;
            continue;
        }
        if (agent != NULL && strcmp(r.user, agent) != 0) {
            s->skipped_agent++;
            continue;
        }
        if (take(s, &r) < 0) {
            ret = -ENOMEM;
            break;
        }
    }
    if (ret == 0 && ferror(f)) {
        ret = -EIO;
    }
    free(buf);
    return ret;
}

/* journalctl's output through a pipe; no shell. */
static int read_journal(struct summary *s, int64_t since, const char *agent, const struct trust *t)
{
    char since_arg[32];
    int p[2], status = 0, r;
    pid_t pid;
    FILE *f;

    if (pipe2(p, O_CLOEXEC) < 0) {
        return -errno;
    }
    (void)snprintf(since_arg, sizeof(since_arg), "--since=@%lld",
                   (long long)(since < 0 ? 0 : since));
    pid = fork();
    if (pid < 0) {
        r = -errno;
        close(p[0]);
        close(p[1]);
        return r;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (dup2(p[1], STDOUT_FILENO) < 0 || devnull < 0 || dup2(devnull, STDIN_FILENO) < 0) {
            _exit(127);
        }
        char *const args[] = {(char *)AUDIT_JOURNALCTL,
                              (char *)"--facility=authpriv",
                              (char *)"--output=json",
                              (char *)"--no-pager",
                              (char *)"--quiet",
                              since_arg,
                              NULL};
        char *const envp[] = {(char *)"PATH=/usr/bin:/bin", (char *)"LC_ALL=C", NULL};
        execve(AUDIT_JOURNALCTL, args, envp);
        _exit(127);
    }
    close(p[1]);
    f = fdopen(p[0], "r");
    if (f == NULL) {
        r = -errno;
        close(p[0]);
    } else {
        r = read_journal_stream(f, s, since, agent, t);
        fclose(f);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (r == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        r = -EIO;
    }
    return r;
}

static void fmt_time(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t < 0 || gmtime_r(&tt, &tm) == NULL) {
        (void)snprintf(buf, len, "-");
    } else {
        (void)strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
}

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            printf("\\%c", *p);
        } else if (*p < 0x20 || *p >= 0x7f) {
            printf("\\u%04x", *p); /* bytes >= 0x7f shown as their code point: never invalid JSON */
        } else {
            putchar(*p);
        }
    }
    putchar('"');
}

/* "KEY": "VALUE", ... for kv[0..n) (n even; keys are plain words). */
static void json_pairs(const char *const *kv, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        printf("%s\"%s\": ", i ? ", " : "", kv[i]);
        json_str(kv[i + 1]);
    }
}

/* Text output: values are printed with control characters made visible. */
static void text_str(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p >= 0x7f) {
            printf("\\x%02x", *p);
        } else {
            putchar(*p);
        }
    }
}

/* PREFIX VALUE ... for pv[0..n) (n even; values made visible), then a newline. */
static void text_parts(const char *const *pv, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        printf("%s", pv[i]);
        text_str(pv[i + 1]);
    }
    printf("\n");
}

static void print_json(const struct summary *s, const char *source, const struct trust *trust)
{
    char a[40], b[40];

    fmt_time(s->first, a, sizeof(a));
    fmt_time(s->last, b, sizeof(b));
    printf("{\"source\": ");
    json_str(source);
    printf(", \"lines\": %lu, \"records\": %lu, \"malformed\": %lu, \"untrusted\": %lu", s->lines,
           s->records, s->malformed, s->untrusted);
    /* who the records counted may come from: null for a syslog file (it does not say) */
    printf(", \"trusted_uids\": ");
    if (!s->journal) {
        printf("null");
    } else if (trust->daemon_known && trust->daemon_uid != 0) {
        printf("[0, %u]", (unsigned)trust->daemon_uid);
    } else {
        printf("[0]");
    }
    printf(", \"untrusted_senders\": [");
    for (size_t i = 0; i < s->n_senders; i++) {
        const struct sender *x = &s->senders[i];
        printf("%s{\"uid\": ", i ? ", " : "");
        if (x->known) {
            printf("%u", (unsigned)x->uid);
        } else {
            printf("null");
        }
        printf(", \"count\": %lu, \"identifier\": ", x->n);
        json_str(x->ident);
        printf(", \"last_pid\": ");
        if (x->pid >= 0) {
            printf("%lld", (long long)x->pid);
        } else {
            printf("null");
        }
        printf("}");
    }
    printf("], \"untrusted_others\": %lu, \"first\": ", s->senders_other);
    json_str(a);
    printf(", \"last\": ");
    json_str(b);
    printf(", \"logins\": [");
    for (size_t i = 0; i < s->logins.n; i++) {
        printf("%s{\"agent\": ", i ? ", " : "");
        json_str(s->logins.v[i].a);
        printf(", \"service\": ");
        json_str(s->logins.v[i].b);
        printf(", \"count\": %lu}", s->logins.v[i].n);
    }
    printf("], \"refusals\": [");
    for (size_t i = 0; i < s->refusals.n; i++) {
        printf("%s{\"reason\": ", i ? ", " : "");
        json_str(s->refusals.v[i].a);
        printf(", \"count\": %lu}", s->refusals.v[i].n);
    }
    printf("], \"errors\": [");
    for (size_t i = 0; i < s->errors.n; i++) {
        printf("%s{\"reason\": ", i ? ", " : "");
        json_str(s->errors.v[i].a);
        printf(", \"count\": %lu}", s->errors.v[i].n);
    }
    printf("], \"openclawd\": [");
    for (size_t i = 0; i < s->daemon.n; i++) {
        const struct count *x = &s->daemon.v[i];
        const char *kv[] = {"event", x->a, "via", x->b, "result", x->c, "reason", x->d};
        printf("%s{", i ? ", " : "");
        json_pairs(kv, sizeof(kv) / sizeof(kv[0]));
        printf(", \"count\": %lu}", x->n);
    }
    printf("], \"events\": [");
    size_t start = s->events_total > AUDIT_EVENTS_MAX ? s->events_total % AUDIT_EVENTS_MAX : 0;
    for (size_t i = 0; i < s->n_events; i++) {
        const struct oc_auditlog_rec *r = &s->events[(start + i) % AUDIT_EVENTS_MAX];
        char t[40];
        fmt_time(r->time, t, sizeof(t));
        const char *kv[] = {"time",    t,          "event",  r->event,  "agent",  r->user,
                            "service", r->service, "result", r->result, "reason", r->reason};
        printf("%s{", i ? ", " : "");
        json_pairs(kv, sizeof(kv) / sizeof(kv[0]));
        printf("}");
    }
    printf("]}\n");
}

static void print_text(const struct summary *s, const char *source, const struct trust *trust)
{
    char a[40], b[40];

    fmt_time(s->first, a, sizeof(a));
    fmt_time(s->last, b, sizeof(b));
    printf("source:     %s\n", source);
    if (s->journal) {
        printf("senders:    records counted only from uid 0");
        if (trust->daemon_known) {
            printf(" and from openclawd as ");
            text_str(trust->daemon_user);
            printf(" (uid %u)", (unsigned)trust->daemon_uid);
        } else {
            printf(" (no user ");
            text_str(trust->daemon_user);
            printf(" here: openclawd's records are not trusted; see --daemon-user)");
        }
        printf(", as journald saw them\n");
    }
    printf("range:      %s .. %s\n", a, b);
    printf("records:    %lu audit records in %lu lines", s->records, s->lines);
    if (s->malformed > 0) {
        printf(", %lu MALFORMED (ignored: forged or damaged lines)", s->malformed);
    }
    if (s->untrusted > 0) {
        printf("\nuntrusted:  %lu UNTRUSTED (ignored): lines that look like openclaw's records "
               "were written by",
               s->untrusted);
        for (size_t i = 0; i < s->n_senders; i++) {
            const struct sender *x = &s->senders[i];
            printf("%s", i ? "," : "");
            if (x->known) {
                printf(" uid %u", (unsigned)x->uid);
            } else {
                printf(" an unknown uid");
            }
            printf(" (%lu, as '", x->n);
            text_str(x->ident);
            printf("'");
            if (x->pid >= 0) {
                printf(", last pid %lld", (long long)x->pid);
            }
            printf(")");
        }
        if (s->senders_other > 0) {
            printf(", others (%lu)", s->senders_other);
        }
        printf("\n            openclaw writes its records only as root or as openclawd's user: "
               "someone on this host forged these (or openclawd runs as another user than "
               "--daemon-user)");
    }
    printf("\n\nlogins (auth success) per agent and service:\n");
    if (s->logins.n == 0) {
        printf("  (none)\n");
    }
    for (size_t i = 0; i < s->logins.n; i++) {
        printf("  %6lu  ", s->logins.v[i].n);
        text_str(s->logins.v[i].a);
        printf("  ");
        text_str(s->logins.v[i].b);
        printf("\n");
    }
    printf("\nrefusals by reason:\n");
    if (s->refusals.n == 0) {
        printf("  (none)\n");
    }
    for (size_t i = 0; i < s->refusals.n; i++) {
        printf("  %6lu  ", s->refusals.v[i].n);
        text_str(s->refusals.v[i].a);
        printf("\n");
    }
    if (s->errors.n > 0) {
        printf("\nerrors by reason:\n");
        for (size_t i = 0; i < s->errors.n; i++) {
            printf("  %6lu  ", s->errors.v[i].n);
            text_str(s->errors.v[i].a);
            printf("\n");
        }
    }
    printf("\nopenclawd and openclaw-sync decisions by event, path, result and reason:\n");
    if (s->daemon.n == 0) {
        printf("  (none)\n");
    }
    for (size_t i = 0; i < s->daemon.n; i++) {
        const struct count *x = &s->daemon.v[i];
        const char *pv[] = {"", x->a, "  via=", x->b, "  ", x->c, "  ", x->d};
        printf("  %6lu  ", x->n);
        text_parts(pv, sizeof(pv) / sizeof(pv[0]));
    }
    printf("\nlockouts and anomalies:\n");
    if (s->n_events == 0) {
        printf("  (none)\n");
    }
    size_t start = s->events_total > AUDIT_EVENTS_MAX ? s->events_total % AUDIT_EVENTS_MAX : 0;
    for (size_t i = 0; i < s->n_events; i++) {
        const struct oc_auditlog_rec *r = &s->events[(start + i) % AUDIT_EVENTS_MAX];
        char t[40];
        fmt_time(r->time, t, sizeof(t));
        const char *pv[] = {" event=",  r->event,   " agent=", r->user,    " service=",
                            r->service, " result=", r->result, " reason=", r->reason};
        printf("  %s", t);
        text_parts(pv, sizeof(pv) / sizeof(pv[0]));
    }
}

int ctl_audit(int argc, char **argv)
{
    static const struct option opts[] = {
            {"since", required_argument, NULL, 's'},
            {"agent", required_argument, NULL, 'a'},
            {"file", required_argument, NULL, 'f'},
            {"json", no_argument, NULL, 'j'},
            {"daemon-user", required_argument, NULL, 'u'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    struct trust trust = {.daemon_user = AUDIT_DAEMON_USER};
    struct summary s;
    const char *file = NULL, *agent = NULL, *source;
    int64_t since = -1, now = (int64_t)time(NULL);
    bool json = false;
    int c, r;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (oc_auditlog_parse_since(optarg, now, &since) < 0) {
                fprintf(stderr, "audit: --since takes YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z], "
                                "@EPOCH or -N(s|m|h|d), e.g. -24h\n");
                return CTL_EXIT_USAGE;
            }
            break;
        case 'a':
            if (!oc_valid_user_name(optarg)) {
                fprintf(stderr, "audit: '%s' is not a valid agent name\n", optarg);
                return CTL_EXIT_USAGE;
            }
            agent = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'u':
            if (!oc_valid_user_name(optarg)) {
                fprintf(stderr, "audit: '%s' is not a valid user name\n", optarg);
                return CTL_EXIT_USAGE;
            }
            trust.daemon_user = optarg;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        default:
            usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    memset(&s, 0, sizeof(s));
    s.first = -1;
    s.last = -1;
    s.events = calloc(AUDIT_EVENTS_MAX, sizeof(*s.events));
    if (s.events == NULL) {
        return CTL_EXIT_USAGE;
    }
    if (file == NULL && access(AUDIT_JOURNALCTL, X_OK) == 0 &&
        access(AUDIT_JOURNAL_SOCK, F_OK) == 0) {
        const struct passwd *pw = getpwnam(trust.daemon_user);
        if (pw != NULL) {
            trust.daemon_known = true;
            trust.daemon_uid = pw->pw_uid;
        }
        source = "journal (journalctl --facility=authpriv)";
        s.journal = true;
        r = read_journal(&s, since, agent, &trust);
    } else {
        FILE *f;
        source = file != NULL ? file : AUDIT_DEFAULT_FILE;
        f = fopen(source, "re");
        if (f == NULL) {
            r = -errno;
        } else {
            r = read_stream(f, &s, since, agent, now);
            fclose(f);
        }
    }
    if (r < 0) {
        fprintf(stderr, "audit: cannot read %s: %s%s\n", source, strerror(-r),
                r == -EACCES   ? " (run as root or a member of group adm)"
                : file == NULL ? " (give the syslog file with --file)"
                               : "");
        free(s.events);
        free(s.logins.v);
        free(s.refusals.v);
        free(s.errors.v);
        free(s.daemon.v);
        return CTL_EXIT_USAGE;
    }
    struct counts *lists[] = {&s.logins, &s.refusals, &s.errors, &s.daemon};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        if (lists[i]->n > 1) {
            qsort(lists[i]->v, lists[i]->n, sizeof(*lists[i]->v), by_count);
        }
    }
    if (json) {
        print_json(&s, source, &trust);
    } else {
        print_text(&s, source, &trust);
    }
    free(s.events);
    free(s.logins.v);
    free(s.refusals.v);
    free(s.errors.v);
    free(s.daemon.v);
    return CTL_EXIT_OK;
}
