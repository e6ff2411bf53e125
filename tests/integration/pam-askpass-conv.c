/* SPDX-License-Identifier: MIT */
/*
 * pam-askpass-conv: a small PAM application for the pam_openclaw tests.
 *
 *   pam-askpass-conv [-d CONFDIR] [-r RHOST] [-k ASKPASS] SERVICE USER OP...
 *
 * OPs: authenticate acct_mgmt open_session close_session setcred chauthtok,
 * env (prints the PAM environment),
 * run in order on one handle. Echo-off prompts are answered
 *   -k ASKPASS  the way the OpenSSH client does with SSH_ASKPASS: ASKPASS
 *               runs with the prompt as its only argument, one line is
 *               read and cut at 1023 bytes (the client's limit);
 *   otherwise   with the next line of standard input (like pamtester).
 * -d CONFDIR uses pam_start_confdir(), so no pam_wrapper is needed (a
 * sanitizer build cannot use pam_wrapper, which dlopens libpam with
 * RTLD_DEEPBIND). Exit 0 when every OP succeeds, else 1; 2 usage.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <security/pam_appl.h>

#define ANSWER_MAX  1023  /* what ssh keeps of one answer */
#define LINE_MAX_IN 20000 /* one answer line from stdin */

static const char *askpass;

static char *run_askpass(const char *prompt)
{
    int fds[2];
    pid_t pid;
    char buf[ANSWER_MAX + 1];
    size_t n = 0;
    int status;
    char c;

    if (pipe(fds) < 0) {
        return NULL;
    }
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return NULL;
    }
    if (pid == 0) {
        close(fds[0]);
        if (dup2(fds[1], STDOUT_FILENO) < 0) {
            _exit(127);
        }
        /* ssh's askpass does not run under pam_wrapper (and each wrapped
         * process would take one of pam_wrapper's few temp dirs) */
        unsetenv("LD_PRELOAD");
        unsetenv("PAM_WRAPPER");
        unsetenv("PAM_WRAPPER_SERVICE_DIR");
        execl(askpass, askpass, prompt, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (read(fds[0], &c, 1) == 1 && c != '\n') {
        if (n < ANSWER_MAX) {
            buf[n++] = c;
        }
    }
    while (read(fds[0], &c, 1) == 1) {
        /* drain, as ssh does */
    }
    close(fds[0]);
    buf[n] = '\0';
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        return NULL;
    }
    return strdup(buf);
}

static char *read_line(void)
{
    char *buf = malloc(LINE_MAX_IN + 2);
    size_t n;

    if (buf == NULL || fgets(buf, LINE_MAX_IN + 2, stdin) == NULL) {
        free(buf);
        return NULL;
    }
    n = strcspn(buf, "\n");
    buf[n] = '\0';
    return buf;
}

static int conv(int num, const struct pam_message **msg, struct pam_response **resp, void *data)
{
    struct pam_response *r = calloc((size_t)num, sizeof(*r));

    (void)data;
    if (r == NULL) {
        return PAM_BUF_ERR;
    }
    for (int i = 0; i < num; i++) {
        switch (msg[i]->msg_style) {
        case PAM_PROMPT_ECHO_OFF:
        case PAM_PROMPT_ECHO_ON:
            fprintf(stderr, "prompt: %s\n", msg[i]->msg);
            r[i].resp = askpass != NULL ? run_askpass(msg[i]->msg) : read_line();
            if (r[i].resp == NULL) {
                for (int j = 0; j <= i; j++) {
                    free(r[j].resp);
                }
                free(r);
                return PAM_CONV_ERR;
            }
            break;
        default:
            fprintf(stderr, "message: %s\n", msg[i]->msg);
            break;
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

static int run_op(pam_handle_t *pamh, const char *op)
{
    if (strcmp(op, "authenticate") == 0) {
        return pam_authenticate(pamh, 0);
    }
    if (strcmp(op, "acct_mgmt") == 0) {
        return pam_acct_mgmt(pamh, 0);
    }
    if (strcmp(op, "open_session") == 0) {
        return pam_open_session(pamh, 0);
    }
    if (strcmp(op, "close_session") == 0) {
        return pam_close_session(pamh, 0);
    }
    if (strcmp(op, "setcred") == 0) {
        return pam_setcred(pamh, PAM_ESTABLISH_CRED);
    }
    if (strcmp(op, "chauthtok") == 0) {
        return pam_chauthtok(pamh, 0);
    }
    if (strcmp(op, "env") == 0) {
        /* The PAM environment so far, one "env: NAME=value" line each. */
        char **env = pam_getenvlist(pamh);
        for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
            printf("env: %s\n", env[i]);
            free(env[i]);
        }
        free(env);
        fflush(stdout);
        return PAM_SUCCESS;
    }
    return -1;
}

int main(int argc, char **argv)
{
    pam_handle_t *pamh = NULL;
    struct pam_conv c = {conv, NULL};
    const char *confdir = NULL, *rhost = NULL;
    int opt, r = PAM_SUCCESS;

    while ((opt = getopt(argc, argv, "d:r:k:")) != -1) {
        switch (opt) {
        case 'd':
            confdir = optarg;
            break;
        case 'r':
            rhost = optarg;
            break;
        case 'k':
            askpass = optarg;
            break;
        default:
            return 2;
        }
    }
    if (argc - optind < 3) {
        fprintf(stderr, "usage: pam-askpass-conv [-d CONFDIR] [-r RHOST] [-k ASKPASS] SERVICE "
                        "USER OP...\n");
        return 2;
    }
    r = confdir != NULL ? pam_start_confdir(argv[optind], argv[optind + 1], &c, confdir, &pamh)
                        : pam_start(argv[optind], argv[optind + 1], &c, &pamh);
    if (r != PAM_SUCCESS) {
        fprintf(stderr, "pam_start: %d\n", r);
        return 2;
    }
    if (rhost != NULL) {
        (void)pam_set_item(pamh, PAM_RHOST, rhost);
    }
    for (int i = optind + 2; i < argc && r == PAM_SUCCESS; i++) {
        r = run_op(pamh, argv[i]);
        if (r < 0) {
            fprintf(stderr, "unknown operation %s\n", argv[i]);
            pam_end(pamh, PAM_SUCCESS);
            return 2;
        }
        fprintf(stderr, "%s: %s\n", argv[i], pam_strerror(pamh, r));
    }
    pam_end(pamh, r);
    return r == PAM_SUCCESS ? 0 : 1;
}
