/* SPDX-License-Identifier: MIT */
/*
 * openclawctl token NAME: root asks openclawd for agent NAME's access token
 * (get-token naming the agent, which only root may do; openclawd audits it)
 * and prints it on standard output, for an admin's script or a test.
 *
 * The token goes to standard output only: never to stderr, a log or the
 * audit trail. Buffers that held it are wiped.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "conf.h"
#include "helper/ctl/ctl.h"
#include "hostpolicy.h"
#include "helperclient.h"
#include "proto.h"
#include "util.h"

/* openclawd may fetch the token first: its HTTP deadline (15 s) and some. */
#define CTL_TOKEN_TIMEOUT_MS 25000

static void token_usage(FILE *f)
{
    fprintf(f,
            "Usage: openclawctl token NAME [--scope SCOPE] [--max-age N] [--json] [--config "
            "FILE]\n\n"
            "Root only. Asks openclawd for an access token of agent NAME (its default\n"
            "scope unless --scope) and prints it on standard output. --max-age N: a token\n"
            "obtained more than N seconds ago will not do (0..%d). --json prints\n"
            "{\"access_token\", \"expires_on\", \"scope\", \"agent\", \"uid\"}. openclawd logs "
            "every "
            "such\n"
            "request as an audit line (without the token).\n"
            "Exit status: 0 token printed, 1 refused (not root, openclawd not running or\n"
            "answering no), 2 usage or configuration error (unknown agent).\n",
            OC_PROTO_MAX_AGE_MAX);
}

static int print_json(const char *token, const struct oc_hc_token_info *info, const char *name,
                      const char *scope, uint32_t uid, bool has_uid)
{
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    int rc = CTL_EXIT_REFUSED;

    if (o != NULL && cJSON_AddStringToObject(o, "access_token", token) != NULL &&
        cJSON_AddNumberToObject(o, "expires_on", (double)info->expires_on) != NULL &&
        cJSON_AddStringToObject(o, "scope", info->scope[0] != '\0' ? info->scope : scope) != NULL &&
        cJSON_AddStringToObject(o, "agent", info->agent[0] != '\0' ? info->agent : name) != NULL &&
        (has_uid ? cJSON_AddNumberToObject(o, "uid", uid) : cJSON_AddNullToObject(o, "uid")) !=
                NULL &&
        cJSON_AddBoolToObject(o, "stale", info->stale) != NULL && (text = cJSON_Print(o)) != NULL) {
        if (printf("%s\n", text) > 0 && fflush(stdout) == 0) {
            rc = CTL_EXIT_OK;
        }
    }
    if (text != NULL) {
        oc_free_wipe_str(text);
    }
    if (o != NULL) {
        cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "access_token");
        if (cJSON_IsString(t) && t->valuestring != NULL) {
            oc_wipe(t->valuestring, strlen(t->valuestring));
        }
        cJSON_Delete(o);
    }
    return rc;
}

static int token_run(const char *config, unsigned cflags, const char *name, const char *scope,
                     int64_t max_age, bool json)
{
    struct oc_config *cfg = NULL;
    struct oc_hc_token_info info;
    const struct oc_agent *a;
    char why[OC_HC_WHY_MAX];
    char *token = NULL;
    size_t len = 0;
    uint32_t uid = 0;
    bool pinned = false, has_uid;
    int r, rc = CTL_EXIT_USAGE;

    if (ctl_config_load("openclawctl token", config, cflags, &cfg) < 0) {
        return CTL_EXIT_USAGE;
    }
    a = oc_config_agent_by_name(cfg, name);
    if (a == NULL) {
        fprintf(stderr,
                "openclawctl token: no agent %s in %s (openclawctl agent list shows the "
                "agents)\n",
                name, config);
        goto out;
    }
    has_uid = oc_hostpolicy_agent_uid(cfg, a, &uid, &pinned) == 0;
    memset(&info, 0, sizeof(info));
    r = oc_hc_get_token_info(cfg->global.socket, name, scope, max_age, CTL_TOKEN_TIMEOUT_MS, &token,
                             &len, &info, why, sizeof(why));
    if (r == -ENOENT || r == -ECONNREFUSED) {
        fprintf(stderr, "openclawctl token: %s (%s): start it with systemctl start openclawd\n",
                why, cfg->global.socket);
        rc = CTL_EXIT_REFUSED;
        goto out;
    }
    if (r < 0) {
        fprintf(stderr, "openclawctl token: no token of agent %s: %s\n", name, why);
        rc = CTL_EXIT_REFUSED;
        goto out;
    }
    if (json) {
        rc = print_json(token, &info, name, scope != NULL ? scope : "", uid, has_uid);
    } else {
        rc = printf("%s\n", token) > 0 && fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_REFUSED;
    }
    if (info.stale) {
        fprintf(stderr,
                "openclawctl token: note: openclawd cannot refresh this token now and serves "
                "the one it holds (openclawctl status shows why)\n");
    }
out:
    if (token != NULL) {
        oc_free_wipe(token, len + 1);
    }
    oc_config_free(cfg);
    return rc;
}

int ctl_token(int argc, char **argv)
{
    static const struct option opts[] = {
            {"scope", required_argument, NULL, 's'},
            {"max-age", required_argument, NULL, 'm'},
            {"json", no_argument, NULL, 'j'},
            {"config", required_argument, NULL, 'c'},
            {"insecure-config", no_argument, NULL, 'I'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
    };
    const char *config = OC_CONFIG_PATH, *scope = NULL;
    int64_t max_age = -1;
    unsigned cflags = 0;
    bool json = false;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            scope = optarg;
            break;
        case 'm':
            if (oc_parse_i64(optarg, 0, OC_PROTO_MAX_AGE_MAX, &max_age) < 0) {
                fprintf(stderr, "openclawctl token: --max-age takes seconds, 0 to %d\n",
                        OC_PROTO_MAX_AGE_MAX);
                return CTL_EXIT_USAGE;
            }
            break;
        case 'j':
            json = true;
            break;
        case 'c':
            config = optarg;
            break;
        case 'I':
            cflags = OC_CONFIG_INSECURE_OK;
            break;
        case 'h':
            token_usage(stdout);
            return CTL_EXIT_OK;
        default:
            token_usage(stderr);
            return CTL_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        token_usage(stderr);
        return CTL_EXIT_USAGE;
    }
    if (geteuid() != 0) {
        fprintf(stderr,
                "openclawctl token: only root may get an agent's token (uid %u is not root); "
                "an agent gets its own with openclaw-token\n",
                (unsigned)geteuid());
        return CTL_EXIT_REFUSED;
    }
    if (!oc_valid_user_name(argv[optind])) {
        fprintf(stderr, "openclawctl token: '%s' is not a valid agent name\n", argv[optind]);
        return CTL_EXIT_USAGE;
    }
    if (scope != NULL && (scope[0] == '\0' || strlen(scope) > OC_PROTO_SCOPE_MAX)) {
        fprintf(stderr, "openclawctl token: --scope must be 1 to %u bytes\n", OC_PROTO_SCOPE_MAX);
        return CTL_EXIT_USAGE;
    }
    return token_run(config, cflags, argv[optind], scope, max_age, json);
}
