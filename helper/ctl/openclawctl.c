/* SPDX-License-Identifier: MIT */
/*
 * openclawctl: the admin's command line.
 *
 * Each subcommand lives in its own ctl_*.c file and is listed in the table
 * below. Exit codes: 0 success, 1 the answer is "no" (e.g. a token is
 * refused), 2 usage or configuration error.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "conf.h"
#include "helper/ctl/ctl.h"

struct ctl_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct ctl_command commands[] = {
        {"status", ctl_status, "tenant, caches and their age, helper, TPM, agents at a glance"},
        {"verify-token", ctl_verify_token, "explain, check by check, whether a token is accepted"},
        {"agent", ctl_agent, "list | show|status|lock|unlock NAME: agents, tally, lockout"},
        {"tpm", ctl_tpm, "TPM-bound keys, certificates, client assertions, sealed secrets"},
        {"seal", ctl_seal, "seal NAME: an agent's client secret to the TPM, for openclawd"},
        {"token", ctl_token, "token NAME: an agent's access token from openclawd (root only)"},
        {"cache", ctl_cache, "rebuild the NSS cache from the config | sync from Entra now"},
        {"enroll", ctl_enroll, "TPM key + certificate for an agent, registered through Graph"},
        {"check-config", ctl_check_config, "every problem of the configuration, with the fix"},
        {"test-login", ctl_test_login, "USER SERVICE: what pam_openclaw decides, without a token"},
        {"audit", ctl_audit, "summary of the audit log: logins, refusals, lockouts"},
        {"imds-address", ctl_imds_address,
         "check|add|remove: 169.254.169.254 on lo, for mi_endpoint = imds"},
};

int ctl_config_load(const char *who, const char *path, unsigned cflags, struct oc_config **ret_cfg)
{
    struct oc_config_error err;
    char msg[1024];
    int r;

    memset(&err, 0, sizeof(err));
    r = oc_config_load(path, cflags, ret_cfg, &err);
    if (r < 0) {
        if (oc_config_error_format(&err, msg, sizeof(msg)) < 0 || msg[0] == '\0') {
            (void)snprintf(msg, sizeof(msg), "%s: %s", path, strerror(-r));
        }
        fprintf(stderr, "%s: %s\n", who, msg);
    }
    return r;
}

int ctl_json_print(cJSON *o)
{
    char *s = o != NULL ? cJSON_Print(o) : NULL;

    cJSON_Delete(o);
    if (s == NULL) {
        return -ENOMEM;
    }
    printf("%s\n", s);
    cJSON_free(s);
    return 0;
}

/* Levenshtein distance of a and b, capped: enough to suggest a command. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), prev[33], cur[33];

    if (la > 32 || lb > 32) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
    }
    return prev[lb];
}

/* The command closest to an unknown word (a typo, a plural, a prefix), or NULL. */
static const char *did_you_mean(const char *word)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX, wl = strlen(word);

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const char *name = commands[i].name;
        size_t d = distance(word, name);
        if (wl >= 2 && strncmp(name, word, wl) == 0) {
            d = 1; /* a prefix: "check" for check-config */
        }
        if (d < best_d) {
            best_d = d;
            best = name;
        }
    }
    return best != NULL && best_d <= (wl > 4 ? 2u : 1u) ? best : NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: openclawctl COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f, "\n'openclawctl COMMAND --help' describes each command.\n"
               "Exit status: 0 success, 1 refused, 2 usage or configuration error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CTL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("openclawctl %s\n", PACKAGE_VERSION);
        return CTL_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    const char *hint = did_you_mean(argv[1]);
    if (hint != NULL) {
        fprintf(stderr,
                "openclawctl: unknown command '%s'; did you mean '%s'? (see 'openclawctl "
                "--help')\n",
                argv[1], hint);
    } else {
        fprintf(stderr, "openclawctl: unknown command '%s' (see 'openclawctl --help')\n", argv[1]);
    }
    return CTL_EXIT_USAGE;
}
