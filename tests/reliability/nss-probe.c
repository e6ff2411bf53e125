/* SPDX-License-Identifier: MIT */
/*
 * nss-probe: ask the built libnss_openclaw.so.2 (dlopen'ed, entry points
 * called directly, as glibc does) every kind of question once and print
 * one line with the status of each:
 *
 *   nss-probe NAME UID GROUP
 *   -> pwnam=UNAVAIL pwuid=UNAVAIL grnam=UNAVAIL grgid=UNAVAIL pwent=UNAVAIL/0
 *   (with " uid=N" at the end when NAME was found)
 *
 * The module finds its configuration through OPENCLAW_CONFIG. Used by
 * tests/reliability/hostile-inputs.sh to show that a damaged cache file
 * gives UNAVAIL for every lookup (never a wrong answer, never a crash).
 * Exit 0 when every call returned, 2 usage or module not loadable.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef OC_NSS_MODULE_PATH
#error "OC_NSS_MODULE_PATH must name the built module"
#endif

typedef enum nss_status (*pwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*pwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*grnam_fn)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*grgid_fn)(gid_t, struct group *, char *, size_t, int *);
typedef enum nss_status (*setent_fn)(int);
typedef enum nss_status (*endent_fn)(void);
typedef enum nss_status (*pwent_fn)(struct passwd *, char *, size_t, int *);

static const char *status_name(enum nss_status st)
{
    switch (st) {
    case NSS_STATUS_SUCCESS:
        return "SUCCESS";
    case NSS_STATUS_NOTFOUND:
        return "NOTFOUND";
    case NSS_STATUS_UNAVAIL:
        return "UNAVAIL";
    case NSS_STATUS_TRYAGAIN:
        return "TRYAGAIN";
    default:
        return "OTHER";
    }
}

static void *sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (p == NULL) {
        fprintf(stderr, "nss-probe: %s missing from the module\n", name);
        exit(2);
    }
    return p;
}

int main(int argc, char **argv)
{
    static char buf[1 << 16];
    struct passwd pw;
    struct group gr;
    unsigned long uid;
    char *end;
    int err = 0;
    void *h;

    if (argc != 4) {
        fprintf(stderr, "usage: nss-probe NAME UID GROUP\n");
        return 2;
    }
    errno = 0;
    uid = strtoul(argv[2], &end, 10);
    if (errno != 0 || *end != '\0' || uid > UINT32_MAX) {
        fprintf(stderr, "nss-probe: bad uid %s\n", argv[2]);
        return 2;
    }
    h = dlopen(OC_NSS_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "nss-probe: %s\n", dlerror());
        return 2;
    }
    pwnam_fn pwnam = (pwnam_fn)sym(h, "_nss_openclaw_getpwnam_r");
    pwuid_fn pwuid = (pwuid_fn)sym(h, "_nss_openclaw_getpwuid_r");
    grnam_fn grnam = (grnam_fn)sym(h, "_nss_openclaw_getgrnam_r");
    grgid_fn grgid = (grgid_fn)sym(h, "_nss_openclaw_getgrgid_r");
    setent_fn setpw = (setent_fn)sym(h, "_nss_openclaw_setpwent");
    endent_fn endpw = (endent_fn)sym(h, "_nss_openclaw_endpwent");
    pwent_fn pwent = (pwent_fn)sym(h, "_nss_openclaw_getpwent_r");

    enum nss_status named = pwnam(argv[1], &pw, buf, sizeof(buf), &err);
    unsigned long named_uid = named == NSS_STATUS_SUCCESS ? (unsigned long)pw.pw_uid : 0;

    printf("pwnam=%s", status_name(named));
    printf(" pwuid=%s", status_name(pwuid((uid_t)uid, &pw, buf, sizeof(buf), &err)));
    printf(" grnam=%s", status_name(grnam(argv[3], &gr, buf, sizeof(buf), &err)));
    printf(" grgid=%s", status_name(grgid((gid_t)uid, &gr, buf, sizeof(buf), &err)));
    {
        enum nss_status st = setpw(1);
        unsigned n = 0;

        if (st == NSS_STATUS_SUCCESS) {
            /* bounded: a cache holds far fewer entries than this */
            while (n < 100000 && (st = pwent(&pw, buf, sizeof(buf), &err)) == NSS_STATUS_SUCCESS) {
                n++;
            }
        }
        printf(" pwent=%s/%u", status_name(st), n);
        if (named == NSS_STATUS_SUCCESS) {
            printf(" uid=%lu", named_uid);
        }
        printf("\n");
        endpw();
    }
    dlclose(h);
    return 0;
}
