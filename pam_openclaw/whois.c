/* SPDX-License-Identifier: MIT */
/* whois.c: who is an agent, decided without openclaw.conf (whois.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pam_openclaw/whois.h"

/* Longest user name compared (glibc allows up to 256 with LOGIN_NAME_MAX). */
#define OC_WHO_NAME_MAX 256

int oc_who_in_passwd_file(const char *path, const char *name)
{
    size_t nlen = name != NULL ? strlen(name) : 0;
    size_t total = 0, cap = 0;
    char *line = NULL;
    ssize_t n;
    FILE *fp;
    int r = 0;

    if (nlen == 0 || nlen > OC_WHO_NAME_MAX || strchr(name, ':') != NULL) {
        return -EINVAL;
    }
    fp = fopen(path, "re");
    if (fp == NULL) {
        return -errno;
    }
    errno = 0;
    while ((n = getline(&line, &cap, fp)) > 0) {
        total += (size_t)n;
        if (total > OC_PASSWD_FILE_MAX) {
            r = -EFBIG;
            break;
        }
        if ((size_t)n > nlen && memcmp(line, name, nlen) == 0 && line[nlen] == ':') {
            r = 1;
            break;
        }
    }
    if (r == 0 && ferror(fp)) {
        r = errno != 0 ? -errno : -EIO;
    }
    free(line);
    fclose(fp);
    return r;
}

enum oc_who oc_who_classify(const char *name, int in_passwd, bool resolves, uint32_t uid,
                            uint32_t uid_min, uint32_t uid_max)
{
    if (name == NULL || strcmp(name, "root") == 0 || in_passwd == 1 || (resolves && uid == 0)) {
        return OC_WHO_LOCAL;
    }
    if (resolves && uid_min > 0 && uid >= uid_min && uid <= uid_max) {
        return OC_WHO_AGENT_UID;
    }
    return OC_WHO_OTHER;
}

const char *oc_who_name(enum oc_who w)
{
    switch (w) {
    case OC_WHO_LOCAL:
        return "local user";
    case OC_WHO_AGENT_UID:
        return "agent uid";
    case OC_WHO_OTHER:
        break;
    }
    return "no agent uid";
}

void oc_pam_iso8601(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (len == 0) {
        return;
    }
    if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        (void)snprintf(buf, len, "?");
    }
}
