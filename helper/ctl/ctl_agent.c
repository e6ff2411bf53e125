/* SPDX-License-Identifier: MIT */
/*
 * openclawctl agent status NAME | agent unlock NAME | agent lock NAME
 *
 * Shows and clears the failure tally that pam_openclaw keeps per agent in
 * tally_dir (pam_faillock's model). Unlock is what an admin runs after a
 * lockout (the anomaly audit event names this command); it also sends
 * agent-unlock to openclawd when it runs. Lock sends agent-lock: openclawd
 * then hands out no token of the agent until unlock.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "audit.h"
#include "clock.h"
#include "conf.h"
#include "helper/ctl/ctl.h"
#include "helperclient.h"
#include "tally.h"
#include "util.h"

static void usage(FILE *f)
{
    fprintf(f, "Usage: openclawctl agent status NAME [--config FILE] [--json]\n"
               "       openclawctl agent unlock NAME [--config FILE]\n"
               "       openclawctl agent lock NAME [--config FILE]\n"
               "       openclawctl agent list [--config FILE] [--json]\n"
               "       openclawctl agent show NAME [--config FILE] [--json]\n"
               "       (--insecure-config: accept a config not owned by root; tests only)\n"
               "\n"
               "status  failures on record, lock state and until when (pam_openclaw's tally)\n"
               "unlock  forget the failures and lift a lockout, in pam_openclaw's tally and in\n"
               "        openclawd (audited)\n"
               "lock    openclawd hands out no token of the agent until unlock (audited)\n"
               "list    configured agents: uid, credential, enabled, lock state\n"
               "show    one agent: section, uid/gid, key kind, certificate, tally\n");
}

static void fmt_time(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0) {
        (void)snprintf(buf, len, "-");
    } else if (t == OC_TALLY_FOREVER) {
        (void)snprintf(buf, len, "until unlocked");
    } else if (gmtime_r(&tt, &tm) != NULL) {
        (void)strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    } else {
        (void)snprintf(buf, len, "%lld", (long long)t);
    }
}

int ctl_agent(int argc, char **argv)
{
    static const struct option longopts[] = {
            {"config", required_argument, NULL, 'c'},
            {"json", no_argument, NULL, 'j'},
            {"insecure-config", no_argument, NULL, 'I'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *config = OC_CONFIG_PATH;
    bool json = false;
    unsigned cflags = 0;
    struct oc_config *cfg = NULL;
    int c, r, rc = CTL_EXIT_USAGE;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:jh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'I':
            cflags = OC_CONFIG_INSECURE_OK;
            break;
        case 'h':
            usage(stdout);
            return CTL_EXIT_OK;
        default:
            usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    /* list and show live in ctl_agent_info.c */
    if (argc - optind >= 1 &&
        (strcmp(argv[optind], "list") == 0 || strcmp(argv[optind], "show") == 0)) {
        return ctl_agent_info(argc - optind, argv + optind, config, cflags, json);
    }
    if (argc - optind != 2) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    const char *verb = argv[optind], *name = argv[optind + 1];
    if (strcmp(verb, "status") != 0 && strcmp(verb, "unlock") != 0 && strcmp(verb, "lock") != 0) {
        fprintf(stderr, "agent: unknown action '%s' (status, lock or unlock)\n", verb);
        return CTL_EXIT_USAGE;
    }
    if (!oc_valid_user_name(name)) {
        fprintf(stderr, "agent: '%s' is not a valid agent name\n", name);
        return CTL_EXIT_USAGE;
    }
    if (ctl_config_load("agent", config, cflags, &cfg) < 0) {
        return CTL_EXIT_USAGE;
    }
    const char *dir = cfg->global.tally_dir;
    if (oc_config_agent_by_name(cfg, name) == NULL) {
        fprintf(stderr, "agent: note: %s is not a configured agent\n", name);
    }

    if (strcmp(verb, "lock") == 0) {
        char why[OC_HC_WHY_MAX];
        r = oc_hc_agent_request(cfg->global.socket, "agent-lock", name, OC_HC_TIMEOUT_CTL_MS, why,
                                sizeof(why));
        if (r < 0) {
            fprintf(stderr, "agent: cannot lock %s in openclawd (%s): %s\n", name,
                    cfg->global.socket, why);
            rc = CTL_EXIT_REFUSED;
            goto out;
        }
        printf("%s: locked in openclawd (no tokens until openclawctl agent unlock %s)\n", name,
               name);
        rc = CTL_EXIT_OK;
        goto out;
    }
    if (strcmp(verb, "unlock") == 0) {
        char why[OC_HC_WHY_MAX];
        r = oc_hc_agent_request(cfg->global.socket, "agent-unlock", name, OC_HC_TIMEOUT_CTL_MS, why,
                                sizeof(why));
        if (r == -EREMOTEIO) {
            fprintf(stderr, "agent: note: %s\n", why);
        } else if (r < 0) {
            fprintf(stderr,
                    "agent: note: openclawd not reached (%s): a lock it holds for %s stays; run "
                    "this again while openclawd runs\n",
                    why, name);
        } else {
            printf("%s: unlocked in openclawd\n", name);
        }
        r = oc_tally_reset(dir, name);
        if (r < 0) {
            fprintf(stderr, "agent: cannot unlock %s in %s: %s\n", name, dir, strerror(-r));
            goto out;
        }
        struct oc_audit a = {.event = "unlock",
                             .service = "openclawctl",
                             .user = name,
                             .result = "success",
                             .reason = "admin"};
        char line[OC_AUDIT_LINE_MAX];
        (void)oc_audit_format(&a, line, sizeof(line));
        openlog("openclawctl", LOG_PID, LOG_AUTHPRIV);
        syslog(LOG_NOTICE, "%s", line);
        closelog();
        printf("%s: unlocked, failures cleared\n", name);
        rc = CTL_EXIT_OK;
        goto out;
    }

    struct oc_tally_status st;
    struct oc_tally_record *recs = NULL;
    size_t n = 0;
    int64_t now = oc_now();
    r = oc_tally_status(dir, name, now, &st);
    if (r == 0) {
        r = oc_tally_records(dir, name, &recs, &n);
    }
    if (r < 0) {
        fprintf(stderr, "agent: cannot read the tally of %s in %s: %s\n", name, dir, strerror(-r));
        goto out;
    }
    char until[40], last[40], at[40];
    fmt_time(st.locked_until, until, sizeof(until));
    fmt_time(n > 0 ? recs[n - 1].time : 0, last, sizeof(last));
    fmt_time(st.locked_at, at, sizeof(at));
    if (json) {
        printf("{\"agent\": \"%s\", \"locked\": %s, \"failures\": %u, \"locks\": %u, "
               "\"locked_at\": %lld, \"locked_until\": %lld, \"last_failure\": %lld}\n",
               name, st.locked ? "true" : "false", st.n_records, st.n_locks,
               (long long)st.locked_at,
               (long long)(st.locked_until == OC_TALLY_FOREVER ? -1 : st.locked_until),
               (long long)(n > 0 ? recs[n - 1].time : 0));
    } else {
        printf("agent:        %s\n", name);
        printf("state:        %s\n", st.locked ? "LOCKED" : "not locked");
        printf("failures:     %u on record\n", st.n_records);
        printf("locked at:    %s\n", at);
        printf("locked until: %s\n", st.locked ? until : "-");
        printf("last failure: %s\n", last);
        for (size_t i = n > 10 ? n - 10 : 0; i < n; i++) {
            char t[40];
            fmt_time(recs[i].time, t, sizeof(t));
            printf("  %s service=%s rhost=%s\n", t, recs[i].service[0] ? recs[i].service : "-",
                   recs[i].rhost[0] ? recs[i].rhost : "-");
        }
    }
    free(recs);
    rc = st.locked ? CTL_EXIT_REFUSED : CTL_EXIT_OK;
out:
    oc_config_free(cfg);
    return rc;
}
