/* SPDX-License-Identifier: MIT */
/*
 * oc_cred_arc.c: credential = azure-arc, a token from the Azure Connected
 * Machine agent in two requests: GET the Arc token URL; a 401 names a key
 * file in "WWW-Authenticate: Basic realm=PATH"; the path is checked
 * (canonical, no symlink, inside the allowed directory, *.key, regular,
 * <= 4 KiB) before it is read; the request is repeated once with
 * "Authorization: Basic <content>". The next request starts from the
 * completion of the previous one: nothing here waits for the network.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <curl/curl.h>
#include <linux/openat2.h>

#include "helper/creds/oc_credkit.h"
#include "helper/creds/oc_credparse.h"
#include "util.h"

#define ARC_API_VERSION "2020-06-01"
#define ARC_KEY_MAX     4096 /* bytes in an Arc key file */
#define ARC_URL_MAX     (OC_CONFIG_PATH_MAX + 3 * (OC_PROTO_SCOPE_MAX + 1) + 128)

static int arc_url(const struct oc_fetch_ctx *ctx, const char *scope, char *buf, size_t len)
{
    char resource[OC_PROTO_SCOPE_MAX + 1];
    char *esc;
    int w;

    /* Arc, like IMDS, takes a resource: drop "/.default". */
    if (oc_cred_resource(scope, resource, sizeof(resource)) < 0) {
        return -ENOBUFS;
    }
    esc = curl_easy_escape(NULL, resource, 0);
    if (esc == NULL) {
        return -ENOMEM;
    }
    w = snprintf(buf, len,
                 "%s/metadata/identity/oauth2/token?api-version=" ARC_API_VERSION "&resource=%s",
                 ctx->arc_base != NULL ? ctx->arc_base : OC_ARC_DEFAULT, esc);
    curl_free(esc);
    return w < 0 || (size_t)w >= len ? -ENOBUFS : 0;
}

static int openat2_nofollow(const char *path)
{
#ifdef SYS_openat2
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY,
                           .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    long fd;

    do {
        fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
    } while (fd < 0 && errno == EINTR);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
        return fd >= 0 ? (int)fd : -errno;
    }
#endif
    /* No openat2 (old kernel, or a seccomp filter): realpath() equality was
     * checked just before; O_NOFOLLOW covers the last component. */
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    return f >= 0 ? f : -errno;
}

/* arc_read_key's file, open: regular, capped, one line of printable ASCII. */
static int arc_read_open_key(int fd, char **ret_key, const char **ret_why)
{
    struct stat st;
    char *buf;
    size_t len;
    int r;

    if (fstat(fd, &st) < 0) {
        *ret_why = "the realm file cannot be examined";
        return -errno;
    }
    if (!S_ISREG(st.st_mode)) {
        *ret_why = "the realm is not a regular file";
        return -EPERM;
    }
    if (st.st_size > ARC_KEY_MAX) {
        *ret_why = "the realm file is larger than 4096 bytes";
        return -EFBIG;
    }
    buf = malloc(ARC_KEY_MAX + 2);
    if (buf == NULL) {
        *ret_why = "out of memory";
        return -ENOMEM;
    }
    /* Read one byte more than allowed: a file that grew is refused too. */
    r = oc_read_full(fd, buf, ARC_KEY_MAX + 1, &len);
    if (r < 0) {
        oc_free_wipe(buf, ARC_KEY_MAX + 2);
        *ret_why = "the realm file cannot be read";
        return r;
    }
    if (len > ARC_KEY_MAX) {
        oc_free_wipe(buf, ARC_KEY_MAX + 2);
        *ret_why = "the realm file is larger than 4096 bytes";
        return -EFBIG;
    }
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
    }
    if (len > 0 && buf[len - 1] == '\r') {
        len--;
    }
    buf[len] = '\0';
    for (size_t k = 0; k < len; k++) {
        /* It becomes a header value: printable ASCII without spaces only. */
        if (buf[k] <= ' ' || buf[k] >= 0x7f) {
            len = 0;
            break;
        }
    }
    if (len == 0) {
        oc_free_wipe(buf, ARC_KEY_MAX + 2);
        *ret_why = "the realm file is empty or not printable ASCII";
        return -EBADMSG;
    }
    *ret_key = buf;
    return 0;
}

/*
 * Read the key file an Arc challenge names, after checking its path:
 * canonical, no symlink in any component, directly in dir, *.key, a
 * regular file of at most ARC_KEY_MAX bytes of printable ASCII. The
 * content (a secret) goes to *ret_key, to be wiped by the caller.
 */
static int arc_read_key(const char *path, const char *dir, char **ret_key, const char **ret_why)
{
    char real[PATH_MAX];
    int fd, r;

    r = oc_arc_realm_check(path, dir, ret_why);
    if (r < 0) {
        return r;
    }
    if (realpath(path, real) == NULL) {
        *ret_why = errno == ENOENT ? "the realm file does not exist"
                                   : "the realm path cannot be resolved";
        return -errno;
    }
    if (strcmp(real, path) != 0) {
        *ret_why = "the realm path goes through a symbolic link";
        return -EPERM;
    }
    fd = openat2_nofollow(path);
    if (fd < 0) {
        *ret_why = fd == -ELOOP || fd == -EXDEV ? "the realm path goes through a symbolic link"
                                                : "the realm file cannot be opened";
        return fd;
    }
    r = arc_read_open_key(fd, ret_key, ret_why);
    close(fd);
    return r;
}

/* The second request's answer: the token (also the first one's when
 * there was no HTTP answer). */
static int arc_token_step(struct oc_cred_job *job, const struct oc_http_answer *a,
                          struct oc_fetch_result *ret)
{
    if (!a->transport_ok) {
        oc_cred_fail(&ret->err, 0, false, "agent %s: the Azure Arc endpoint unreachable: %s",
                     job->agent->name, a->transport_error);
        return -EIO;
    }
    return oc_cred_answer_token(job->agent->name, a, &ret->token, &ret->err);
}

/* The first request's answer: the 401 read and the request repeated with
 * the key (1: it runs), or the job's result. */
static int arc_challenge_step(struct oc_cred_job *job, const struct oc_http_answer *a,
                              struct oc_fetch_result *ret)
{
    struct oc_fetch_ctx *ctx = job->ctx;
    const char *name = job->agent->name;
    struct oc_http_request req = {.metadata = true};
    const char *dir = ctx->arc_token_dir != NULL ? ctx->arc_token_dir : OC_ARC_TOKEN_DIR;
    char url[ARC_URL_MAX];
    char path[OC_CONFIG_PATH_MAX + 1], *key = NULL, *auth = NULL;
    const char *why = NULL;
    int r;

    if (!a->transport_ok) {
        return arc_token_step(job, a, ret);
    }
    if (a->status != 401) {
        if (a->status == 200) {
            oc_cred_fail(
                    &ret->err, 200, true,
                    "agent %s: the Azure Arc endpoint %s answered without the expected 401 "
                    "challenge; refused (check --arc / $IDENTITY_ENDPOINT: it must be the Azure "
                    "Connected Machine agent)",
                    name, ctx->arc_base != NULL ? ctx->arc_base : OC_ARC_DEFAULT);
            return -EPROTO;
        }
        return oc_cred_answer_token(name, a, &ret->token, &ret->err);
    }
    if (a->challenge[0] == '\0') {
        oc_cred_fail(
                &ret->err, 401, false,
                "agent %s: the Azure Arc endpoint answered 401 without a WWW-Authenticate "
                "challenge; refused, no key file read (check that --arc names the Azure Connected "
                "Machine agent)",
                name);
        return -EPROTO;
    }
    r = oc_arc_challenge_realm(a->challenge, path, sizeof(path), &why);
    if (r < 0) {
        oc_cred_fail(&ret->err, 401, false,
                     "agent %s: Azure Arc challenge refused, no key file read: %s", name, why);
        return r;
    }
    r = arc_read_key(path, dir, &key, &why);
    if (r < 0) {
        oc_cred_fail(
                &ret->err, 401, false,
                "agent %s: Azure Arc challenge refused: realm %s: %s (key files are accepted only "
                "directly in %s as regular *.key files of at most 4096 bytes, without symbolic "
                "links; see --arc-token-dir)",
                name, path, why, dir);
        return r;
    }
    r = asprintf(&auth, "Basic %s", key);
    oc_free_wipe(key, ARC_KEY_MAX + 2);
    if (r < 0) {
        oc_cred_fail(&ret->err, 0, false, "out of memory");
        return -ENOMEM;
    }
    r = arc_url(ctx, job->scope, url, sizeof(url));
    if (r == 0) {
        req.url = url;
        req.authorization = auth;
        r = oc_cred_job_request(job, &req, arc_token_step, &ret->err);
    } else {
        oc_cred_fail(&ret->err, 0, true, "agent %s: the Azure Arc token URL is too long", name);
    }
    oc_free_wipe_str(auth);
    return r < 0 ? r : 1; /* 1: the step runs on */
}

static int arc_start(struct oc_fetch_ctx *ctx, const struct oc_agent *agent, const char *scope,
                     oc_fetch_done_fn done, void *arg, struct oc_fetch_error *err)
{
    struct oc_http_request req = {.metadata = true};
    char url[ARC_URL_MAX];
    struct oc_cred_job *job;
    int r;

    r = arc_url(ctx, scope, url, sizeof(url));
    if (r < 0) {
        oc_cred_fail(err, 0, true, "agent %s: the Azure Arc token URL is too long", agent->name);
        return r;
    }
    job = oc_cred_job_new(ctx, agent, scope, done, arg, err);
    if (job == NULL) {
        return -ENOMEM;
    }
    req.url = url;
    r = oc_cred_job_request(job, &req, arc_challenge_step, err);
    if (r < 0) {
        free(job);
    }
    return r;
}

const struct oc_cred_kind oc_cred_azure_arc = {
        .kind = OC_CRED_AZURE_ARC,
        .unusable = NULL, /* azure-arc needs nothing from the config */
        .start = arc_start,
};
