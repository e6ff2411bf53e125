/* SPDX-License-Identifier: MIT */
/*
 * openclaw-token: print the calling agent's access token, from openclawd.
 *
 *   curl -H "Authorization: Bearer $(openclaw-token)" https://...
 *
 * The daemon decides who the caller is from the socket's peer
 * credentials; this program holds no secret and needs no privilege.
 * `openclaw-token --ssh-agent` runs an ssh-agent whose keys are the
 * agent's TPM keys, held by openclawd (helper/client/sshagent.c, docs/ssh.md).
 *
 * Exit status: 0 token printed, 1 refused or unavailable, 2 usage or
 * daemon unreachable. --keyring keeps the token in the session's keyring
 * instead (oc_keyring.h).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "json.h"
#include "helper/client/oc_keyring.h"
#include "proto.h"
#include "protocall.h"
#include "helper/client/sshagent.h"
#include "util.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#define DEFAULT_SOCKET   RUNSTATEDIR "/openclaw/openclawd.sock"
#define SOCKET_ENV       "OPENCLAW_SOCKET"
#define REPLY_TIMEOUT_MS 30000

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: openclaw-token [--scope SCOPE] [--json | --keyring] [--agent NAME]\n"
            "                      [--socket PATH]\n"
            "Print the access token of the agent mapped to the calling user.\n"
            "  --scope SCOPE  e.g. api://openclaw-host/.default (default: the agent's)\n"
            "  --json         print the daemon's JSON answer (access_token, expires_on, scope)\n"
            "  --keyring      keep the token in the session's Secret Service keyring,\n"
            "                 fresh, until the session ends (needs a session bus)\n"
            "  --agent NAME   root only: any agent (audited by the daemon)\n"
            "  --socket PATH  default: $" SOCKET_ENV ", else " DEFAULT_SOCKET "\n"
            "   or: openclaw-token --ssh-agent [--socket-dir DIR] [--foreground] [--socket PATH]\n"
            "                            [--destination FILE]\n"
            "Run an ssh-agent whose keys are the agent's TPM keys; print its variables.\n"
            "  --socket-dir DIR  where its private directory goes (default: $XDG_RUNTIME_DIR,\n"
            "                    else /tmp)\n"
            "  --foreground      do not fork (print the variables, then serve)\n"
            "  --destination FILE  sign ssh logins only to the hosts whose host keys FILE\n"
            "                    lists (.pub or known_hosts lines), every forwarding hop too\n");
}

/*
 * One get-token request. 0 with the parsed answer (*ret_resp, cJSON_Delete)
 * and its text (*ret_body, oc_free_wipe(len + 1)), or 2 (message printed).
 */
static int request_token(const char *path, const char *scope, const char *agent, cJSON **ret_resp,
                         uint8_t **ret_body, size_t *ret_len)
{
    cJSON *req, *resp = NULL;
    char *text, *body = NULL;
    size_t len = 0;
    int r;

    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "type", "get-token");
    if (scope != NULL) {
        cJSON_AddStringToObject(req, "scope", scope);
    }
    if (agent != NULL) {
        cJSON_AddStringToObject(req, "agent", agent);
    }
    text = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    if (text == NULL) {
        fprintf(stderr, "openclaw-token: cannot build the request\n");
        return 2;
    }
    r = oc_proto_call(path, text, REPLY_TIMEOUT_MS, &body, &len);
    free(text);
    if (r == -ENAMETOOLONG) {
        fprintf(stderr, "openclaw-token: socket path too long\n");
        return 2;
    }
    if (!oc_proto_call_connected(r)) {
        fprintf(stderr, "openclaw-token: cannot reach openclawd at %s: %s (is it running?)\n", path,
                strerror(-r));
        return 2;
    }
    if (r < 0) {
        fprintf(stderr, "openclaw-token: no answer from openclawd: %s\n",
                r == -ECONNRESET ? "connection closed" : strerror(-r));
        return 2;
    }
    r = oc_json_parse_object(body, len, &resp, NULL);
    if (r < 0) {
        oc_free_wipe(body, len + 1);
        fprintf(stderr, "openclaw-token: openclawd sent an invalid answer\n");
        return 2;
    }
    *ret_resp = resp;
    *ret_body = (uint8_t *)body;
    *ret_len = len;
    return 0;
}

static void print_error(const cJSON *resp)
{
    const char *code = "error", *msg = "";

    (void)oc_json_get_string(resp, "error", 256, &code);
    (void)oc_json_get_string(resp, "message", 4096, &msg);
    fprintf(stderr, "openclaw-token: %s: %s\n", code, msg);
}

struct keyring_args {
    const char *path, *scope, *agent;
};

/* oc_keyring_fetch_fn: one request, its answer as a keyring token. */
static enum oc_keyring_fetch keyring_fetch(void *p, struct oc_keyring_token *ret)
{
    const struct keyring_args *a = p;
    const char *s = NULL, *code = "";
    cJSON *resp = NULL;
    uint8_t *body = NULL;
    size_t len = 0;
    int64_t exp = 0;
    bool ok = false;
    enum oc_keyring_fetch r = OC_KEYRING_FETCH_RETRY;

    if (request_token(a->path, a->scope, a->agent, &resp, &body, &len) != 0) {
        return OC_KEYRING_FETCH_RETRY;
    }
    (void)oc_json_get_bool(resp, "ok", &ok);
    if (!ok) {
        print_error(resp);
        (void)oc_json_get_string(resp, "error", 256, &code);
        r = strcmp(code, "unavailable") == 0 || strcmp(code, "busy") == 0
                    ? OC_KEYRING_FETCH_RETRY
                    : OC_KEYRING_FETCH_REFUSED;
    } else if (oc_json_get_string(resp, "access_token", 64 * 1024, &s) == 0 &&
               oc_json_get_int64(resp, "expires_on", 0, INT64_MAX, &exp) == 0 &&
               (ret->access_token = strdup(s)) != NULL) {
        ret->expires_on = exp;
        s = "";
        (void)oc_json_get_string(resp, "agent", OC_USER_NAME_MAX, &s);
        (void)oc_strscpy(ret->agent, sizeof(ret->agent), s);
        s = "";
        (void)oc_json_get_string(resp, "scope", OC_PROTO_SCOPE_MAX, &s);
        (void)oc_strscpy(ret->scope, sizeof(ret->scope), s);
        r = OC_KEYRING_FETCH_OK;
    } else {
        fprintf(stderr, "openclaw-token: openclawd sent an incomplete answer\n");
    }
    cJSON_Delete(resp);
    oc_free_wipe(body, len + 1);
    return r;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
            {"scope", required_argument, NULL, 's'},
            {"json", no_argument, NULL, 'j'},
            {"agent", required_argument, NULL, 'a'},
            {"socket", required_argument, NULL, 'S'},
            {"keyring", no_argument, NULL, 'k'},
            {"help", no_argument, NULL, 'h'},
            {"ssh-agent", no_argument, NULL, 'A'},
            {"socket-dir", required_argument, NULL, 'D'},
            {"foreground", no_argument, NULL, 'F'},
            {"destination", required_argument, NULL, 'd'},
            {NULL, 0, NULL, 0},
    };
    struct oc_sshagent_options agent_opt = {.daemon_socket = NULL};
    const char *scope = NULL, *agent = NULL, *path = getenv(SOCKET_ENV);
    bool json = false, keyring = false, ssh_agent = false;
    cJSON *resp = NULL;
    const char *s = NULL;
    uint8_t *body = NULL;
    size_t len = 0;
    bool ok = false;
    int opt, r;

    if (path == NULL || *path == '\0') {
        path = DEFAULT_SOCKET;
    }
    while ((opt = getopt_long(argc, argv, "s:ja:S:kh", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            scope = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'a':
            agent = optarg;
            break;
        case 'S':
            path = optarg;
            break;
        case 'k':
            keyring = true;
            break;
        case 'A':
            ssh_agent = true;
            break;
        case 'D':
            agent_opt.socket_dir = optarg;
            break;
        case 'F':
            agent_opt.foreground = true;
            break;
        case 'd':
            agent_opt.destination_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || (scope != NULL && strlen(scope) > OC_PROTO_SCOPE_MAX) ||
        (agent != NULL && !oc_valid_user_name(agent)) || (json && keyring)) {
        usage(stderr);
        return 2;
    }
    if (ssh_agent != (agent_opt.socket_dir != NULL || agent_opt.foreground ||
                      agent_opt.destination_file != NULL || ssh_agent) ||
        (ssh_agent && (scope != NULL || agent != NULL || json || keyring))) {
        fprintf(stderr, "openclaw-token: --socket-dir, --foreground and --destination go with "
                        "--ssh-agent only, "
                        "and --ssh-agent takes no --scope, --agent, --json or --keyring\n");
        return 2;
    }
    if (ssh_agent) {
        agent_opt.daemon_socket = path;
        return oc_sshagent_run(&agent_opt);
    }
    if (keyring) {
        struct keyring_args ka = {.path = path, .scope = scope, .agent = agent};
        return oc_keyring_run(keyring_fetch, &ka);
    }
    r = request_token(path, scope, agent, &resp, &body, &len);
    if (r != 0) {
        return r;
    }
    (void)oc_json_get_bool(resp, "ok", &ok);
    if (json) {
        fwrite(body, 1, len, stdout);
        fputc('\n', stdout);
    } else if (ok && oc_json_get_string(resp, "access_token", 64 * 1024, &s) == 0) {
        printf("%s\n", s);
    }
    if (!ok) {
        print_error(resp);
    }
    cJSON_Delete(resp);
    oc_free_wipe(body, len + 1);
    return ok ? 0 : 1;
}
