/* SPDX-License-Identifier: MIT */
/*
 * test_nss_module: dlopen the BUILT libnss_openclaw.so.2 and call its
 * _nss_openclaw_* entry points directly, with buffers of every size from
 * 0 upward, against caches and configs written by the test.
 *
 * The module only accepts a config owned by root: as another user every
 * test is skipped (CI runs as root).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper/lib/oc_nsscwrite.h"
#include "nsscache.h"

#ifndef OC_NSS_MODULE_PATH
#error "OC_NSS_MODULE_PATH must name the built module"
#endif

#define UMIN 200000u
#define UMAX 299999u

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getpwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrnam_fn)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*getgrgid_fn)(gid_t, struct group *, char *, size_t, int *);
typedef enum nss_status (*setent_fn)(int);
typedef enum nss_status (*endent_fn)(void);
typedef enum nss_status (*getpwent_fn)(struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrent_fn)(struct group *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long int *, long int *, gid_t **,
                                         long int, int *);

static struct {
    void *h;
    getpwnam_fn getpwnam;
    getpwuid_fn getpwuid;
    getgrnam_fn getgrnam;
    getgrgid_fn getgrgid;
    setent_fn setpwent, setgrent;
    endent_fn endpwent, endgrent;
    getpwent_fn getpwent;
    getgrent_fn getgrent;
    initgroups_fn initgroups;
} m;

static char dir[] = "/tmp/test_nss_module.XXXXXX";
static char conf_path[256], cache_path[256];
static bool is_root;
static gid_t adm_gid; /* a real local group from /etc/group, 0 if none */
static const char *adm_name;

/* --- fixtures ---------------------------------------------------- */

static void write_text(const char *path, const char *text)
{
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(tmp, 0644), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static void write_config(uint32_t umin, uint32_t umax, const char *extra)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "[global]\n"
             "tenant_id = 11111111-2222-3333-4444-555555555555\n"
             "audiences = api://openclaw-host\n"
             "uid_min = %u\n"
             "uid_max = %u\n"
             "nss_cache = %s\n"
             "\n[roles]\nHost.Docker = %s\nHost.Fake = fakelocal\n%s",
             umin, umax, cache_path, adm_name != NULL ? adm_name : "nogroup-here", extra);
    write_text(conf_path, text);
}

static const char *const devs_members[] = {"alice", "bob"};
static const char *const adm_members[] = {"alice"};
static const char *const alice_roles[] = {"Host.Login"};

/* The standard cache: two good agents, records the module must refuse. */
static void write_cache(const char *alice_gecos)
{
    struct oc_nssc_user_in u[] = {
            {.name = "alice",
             .uid = UMIN + 1,
             .gid = UMIN + 1,
             .gecos = alice_gecos,
             .dir = "/home/alice",
             .shell = "/bin/sh",
             .enabled = true,
             .roles = alice_roles,
             .n_roles = 1},
            {.name = "bob",
             .uid = UMIN + 2,
             .gid = UMIN + 2,
             .gecos = "",
             .dir = "/home/bob",
             .shell = "/bin/bash",
             .enabled = true},
            /* outside [uid_min, uid_max]: must not exist for the module */
            {.name = "lowuid", .uid = 1000, .gid = 1000, .dir = "/", .shell = "/bin/sh"},
            {.name = "highgid", .uid = UMIN + 3, .gid = UMAX + 1, .dir = "/", .shell = "/bin/sh"},
    };
    struct oc_nssc_group_in g[] = {
            {.name = "alice", .gid = UMIN + 1},
            {.name = "bob", .gid = UMIN + 2},
            {.name = "devs", .gid = UMIN + 100, .members = devs_members, .n_members = 2},
            {.name = "lowgrp", .gid = 1001, .members = devs_members, .n_members = 2},
            /* local: only when the config names it and /etc/group agrees */
            {.name = adm_name != NULL ? adm_name : "nogroup-here",
             .gid = adm_gid != 0 ? adm_gid : 4,
             .local = true,
             .members = adm_members,
             .n_members = 1},
            {.name = "fakelocal",
             .gid = 4242,
             .local = true,
             .members = adm_members,
             .n_members = 1},
    };
    void *img;
    size_t len;
    assert_int_equal(oc_nssc_build(u, 4, g, 6, NULL, &img, &len), 0);
    assert_int_equal(oc_nssc_write_file(cache_path, img, len), 0);
    free(img);
}

static int group_setup(void **state)
{
    (void)state;
    is_root = geteuid() == 0;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    snprintf(conf_path, sizeof(conf_path), "%s/openclaw.conf", dir);
    snprintf(cache_path, sizeof(cache_path), "%s/nss.cache", dir);
    struct group *gr = getgrnam("adm");
    if (gr != NULL && gr->gr_gid != 0) {
        adm_gid = gr->gr_gid;
        adm_name = "adm";
    }
    setenv("OPENCLAW_CONFIG", conf_path, 1);

    m.h = dlopen(OC_NSS_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
    if (m.h == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return -1;
    }
#define SYM(field, name)                                                                           \
    do {                                                                                           \
        *(void **)(&m.field) = dlsym(m.h, "_nss_openclaw_" name);                                  \
        if (m.field == NULL) {                                                                     \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
    SYM(getpwnam, "getpwnam_r");
    SYM(getpwuid, "getpwuid_r");
    SYM(getgrnam, "getgrnam_r");
    SYM(getgrgid, "getgrgid_r");
    SYM(setpwent, "setpwent");
    SYM(endpwent, "endpwent");
    SYM(getpwent, "getpwent_r");
    SYM(setgrent, "setgrent");
    SYM(endgrent, "endgrent");
    SYM(getgrent, "getgrent_r");
    SYM(initgroups, "initgroups_dyn");
    /* Nothing but _nss_openclaw_* is visible. */
    if (dlsym(m.h, "oc_nssc_open") != NULL || dlsym(m.h, "oc_config_load") != NULL) {
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(conf_path);
    unlink(cache_path);
    rmdir(dir);
    /* The module stays loaded: glibc never unloads NSS modules either. */
    return 0;
}

static int setup(void **state)
{
    (void)state;
    if (is_root) {
        write_config(UMIN, UMAX, "");
        write_cache("Alice Agent");
    }
    return 0;
}

#define NEED_ROOT()                                                                                \
    do {                                                                                           \
        if (!is_root) {                                                                            \
            print_message("# SKIP the module accepts only a root-owned config\n");                 \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* --- passwd -------------------------------------------------------- */

static void test_getpwnam_found(void **state)
{
    struct passwd pw;
    char buf[1024];
    int err = 0;

    (void)state;
    NEED_ROOT();
    errno = 4242;
    assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
    assert_int_equal(errno, 4242); /* untouched on success */
    assert_string_equal(pw.pw_name, "alice");
    assert_string_equal(pw.pw_passwd, "*");
    assert_int_equal(pw.pw_uid, UMIN + 1);
    assert_int_equal(pw.pw_gid, UMIN + 1);
    assert_string_equal(pw.pw_gecos, "Alice Agent");
    assert_string_equal(pw.pw_dir, "/home/alice");
    assert_string_equal(pw.pw_shell, "/bin/sh");
    /* strings live in the caller's buffer */
    assert_true(pw.pw_name >= buf && pw.pw_shell < buf + sizeof(buf));
    assert_true(pw.pw_dir >= buf && pw.pw_gecos < buf + sizeof(buf));

    errno = 4242;
    assert_int_equal(m.getpwuid(UMIN + 2, &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
    assert_int_equal(errno, 4242);
    assert_string_equal(pw.pw_name, "bob");
    assert_string_equal(pw.pw_gecos, "");
    assert_string_equal(pw.pw_shell, "/bin/bash");
}

static void test_getpw_notfound(void **state)
{
    struct passwd pw;
    char buf[1024];
    int err = 0;

    (void)state;
    NEED_ROOT();
    assert_int_equal(m.getpwnam("carol", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(err, ENOENT);
    assert_int_equal(m.getpwnam("", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.getpwuid(UMIN + 77, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(err, ENOENT);
    assert_int_equal(m.getpwuid(0, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    /* Not a trust root: records outside the config's range do not exist. */
    assert_int_equal(m.getpwnam("lowuid", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.getpwuid(1000, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.getpwnam("highgid", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.getpwuid(UMIN + 3, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
}

/* For every size from 0 upward: TRYAGAIN+ERANGE until it fits, then SUCCESS
 * (the buffer is heap-allocated at exactly that size for ASan/valgrind). */
static void test_getpw_every_buffer_size(void **state)
{
    struct passwd pw;
    int err;
    size_t fits = 0;

    (void)state;
    NEED_ROOT();
    for (size_t n = 0; n < 256; n++) {
        char *buf = n ? malloc(n) : NULL;
        err = 0;
        enum nss_status st = m.getpwnam("alice", &pw, buf, n, &err);
        if (st == NSS_STATUS_TRYAGAIN) {
            assert_int_equal(err, ERANGE);
            assert_int_equal(fits, 0);
        } else {
            assert_int_equal(st, NSS_STATUS_SUCCESS);
            if (fits == 0) {
                fits = n;
            }
            assert_string_equal(pw.pw_dir, "/home/alice");
        }
        err = 0;
        st = m.getpwuid(UMIN + 1, &pw, buf, n, &err);
        assert_int_equal(st, n < fits || fits == 0 ? NSS_STATUS_TRYAGAIN : NSS_STATUS_SUCCESS);
        if (st == NSS_STATUS_TRYAGAIN) {
            assert_int_equal(err, ERANGE);
        }
        free(buf);
    }
    /* "alice" "*" "Alice Agent" "/home/alice" "/bin/sh" */
    assert_int_equal(fits, 6 + 2 + 12 + 12 + 8);
    /* bob's gecos is the empty string the cache shares: his strings are
     * not in a row, so they are copied one by one; the same contract */
    fits = 0;
    for (size_t n = 0; n < 64; n++) {
        char *buf = n ? malloc(n) : NULL;
        err = 0;
        enum nss_status st = m.getpwnam("bob", &pw, buf, n, &err);
        if (st == NSS_STATUS_TRYAGAIN) {
            assert_int_equal(err, ERANGE);
            assert_int_equal(fits, 0);
        } else {
            assert_int_equal(st, NSS_STATUS_SUCCESS);
            fits = fits ? fits : n;
            assert_string_equal(pw.pw_name, "bob");
            assert_string_equal(pw.pw_passwd, "*");
            assert_string_equal(pw.pw_gecos, "");
            assert_string_equal(pw.pw_dir, "/home/bob");
            assert_string_equal(pw.pw_shell, "/bin/bash");
            assert_true(pw.pw_shell >= buf && pw.pw_shell + 10 <= buf + n);
        }
        free(buf);
    }
    /* "bob" "*" "" "/home/bob" "/bin/bash" */
    assert_int_equal(fits, 4 + 2 + 1 + 10 + 10);
}

/* --- group --------------------------------------------------------- */

static void test_getgr(void **state)
{
    struct group gr;
    char buf[1024];
    int err = 0;

    (void)state;
    NEED_ROOT();
    errno = 4242;
    assert_int_equal(m.getgrnam("devs", &gr, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
    assert_int_equal(errno, 4242);
    assert_string_equal(gr.gr_name, "devs");
    assert_int_equal(gr.gr_gid, UMIN + 100);
    assert_non_null(gr.gr_mem);
    assert_string_equal(gr.gr_mem[0], "alice");
    assert_string_equal(gr.gr_mem[1], "bob");
    assert_null(gr.gr_mem[2]);
    assert_true((char *)gr.gr_mem >= buf && (char *)gr.gr_mem < buf + sizeof(buf));

    assert_int_equal(m.getgrgid(UMIN + 1, &gr, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
    assert_string_equal(gr.gr_name, "alice");
    assert_null(gr.gr_mem[0]);

    assert_int_equal(m.getgrnam("nosuch", &gr, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(err, ENOENT);
    assert_int_equal(m.getgrgid(0, &gr, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    /* out of range, and local groups: never served as entries */
    assert_int_equal(m.getgrnam("lowgrp", &gr, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.getgrgid(1001, &gr, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.getgrnam("fakelocal", &gr, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.getgrgid(4242, &gr, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
}

static void test_getgr_every_buffer_size(void **state)
{
    struct group gr;
    int err;
    size_t fits = 0;

    (void)state;
    NEED_ROOT();
    for (size_t n = 0; n < 256; n++) {
        /* odd offsets too: the member array must be aligned by the module */
        for (size_t off = 0; off < 2; off++) {
            char *mem = malloc(n + off + 1);
            char *buf = n ? mem + off : NULL;
            err = 0;
            enum nss_status st = m.getgrnam("devs", &gr, buf, n, &err);
            if (st == NSS_STATUS_TRYAGAIN) {
                assert_int_equal(err, ERANGE);
            } else {
                assert_int_equal(st, NSS_STATUS_SUCCESS);
                assert_int_equal((uintptr_t)gr.gr_mem % sizeof(char *), 0);
                assert_string_equal(gr.gr_mem[1], "bob");
                assert_null(gr.gr_mem[2]);
                assert_true((char *)(gr.gr_mem + 3) <= buf + n);
                if (fits == 0 || n < fits) {
                    fits = n;
                }
            }
            err = 0;
            st = m.getgrgid(UMIN + 100, &gr, buf, n, &err);
            if (st == NSS_STATUS_TRYAGAIN) {
                assert_int_equal(err, ERANGE);
            }
            free(mem);
        }
    }
    assert_true(fits > 0 && fits < 64);
}

/* --- initgroups ---------------------------------------------------- */

static bool has_gid(const gid_t *g, long int n, gid_t gid)
{
    for (long int i = 0; i < n; i++) {
        if (g[i] == gid) {
            return true;
        }
    }
    return false;
}

static void test_initgroups(void **state)
{
    long int start = 1, size = 1;
    gid_t *groups = malloc(sizeof(gid_t));
    int err = 0;

    (void)state;
    NEED_ROOT();
    groups[0] = UMIN + 1; /* the primary group, as glibc passes it */
    errno = 4242;
    assert_int_equal(m.initgroups("alice", UMIN + 1, &start, &size, &groups, 0, &err),
                     NSS_STATUS_SUCCESS);
    assert_int_equal(errno, 4242);
    assert_true(has_gid(groups, start, UMIN + 100)); /* devs */
    assert_false(has_gid(groups, start, 1001));      /* out of range */
    assert_false(has_gid(groups, start, 4242));      /* local, but not in /etc/group */
    if (adm_gid != 0) {
        assert_true(has_gid(groups, start, adm_gid)); /* config names it, /etc/group agrees */
    }
    assert_int_equal(start, adm_gid != 0 ? 3 : 2);
    assert_true(size >= start);
    /* primary group not repeated */
    long int prim = 0;
    for (long int i = 0; i < start; i++) {
        prim += groups[i] == UMIN + 1;
    }
    assert_int_equal(prim, 1);

    /* Again: nothing added twice. */
    long int before = start;
    assert_int_equal(m.initgroups("alice", UMIN + 1, &start, &size, &groups, 0, &err),
                     NSS_STATUS_SUCCESS);
    assert_int_equal(start, before);
    free(groups);

    /* limit honoured: room for one more group only */
    start = 1;
    size = 1;
    groups = malloc(sizeof(gid_t));
    groups[0] = UMIN + 1;
    assert_int_equal(m.initgroups("alice", UMIN + 1, &start, &size, &groups, 2, &err),
                     NSS_STATUS_SUCCESS);
    assert_int_equal(start, 2);
    assert_true(size <= 2);
    free(groups);

    /* empty array grown from zero */
    start = 0;
    size = 0;
    groups = NULL;
    assert_int_equal(m.initgroups("bob", UMIN + 2, &start, &size, &groups, 0, &err),
                     NSS_STATUS_SUCCESS);
    assert_int_equal(start, 1);
    assert_int_equal(groups[0], UMIN + 100);
    free(groups);

    /* a primary group passed by the caller is skipped even if listed */
    start = 0;
    size = 0;
    groups = NULL;
    assert_int_equal(m.initgroups("bob", UMIN + 100, &start, &size, &groups, 0, &err),
                     NSS_STATUS_SUCCESS);
    assert_int_equal(start, 0);
    free(groups);

    start = 0;
    size = 0;
    groups = NULL;
    assert_int_equal(m.initgroups("nobody-x", 5, &start, &size, &groups, 0, &err),
                     NSS_STATUS_NOTFOUND);
    assert_int_equal(err, ENOENT);
    assert_int_equal(m.initgroups("lowuid", 5, &start, &size, &groups, 0, &err),
                     NSS_STATUS_NOTFOUND);
    free(groups);
}

/* The local group is refused when the config does not name it. */
static void test_initgroups_local_needs_config(void **state)
{
    long int start = 0, size = 0;
    gid_t *groups = NULL;
    int err = 0;
    char text[2048];

    (void)state;
    NEED_ROOT();
    if (adm_gid == 0) {
        skip();
    }
    snprintf(text, sizeof(text),
             "[global]\ntenant_id = 11111111-2222-3333-4444-555555555555\n"
             "audiences = api://openclaw-host\nuid_min = %u\nuid_max = %u\nnss_cache = %s\n",
             UMIN, UMAX, cache_path);
    write_text(conf_path, text);
    write_cache("Alice Agent"); /* a new cache makes the module re-read the config */
    assert_int_equal(m.initgroups("alice", UMIN + 1, &start, &size, &groups, 0, &err),
                     NSS_STATUS_SUCCESS);
    assert_false(has_gid(groups, start, adm_gid));
    assert_true(has_gid(groups, start, UMIN + 100));
    free(groups);
}

/* --- enumeration --------------------------------------------------- */

static void test_getpwent(void **state)
{
    struct passwd pw;
    char big[1024];
    char small[8];
    int err = 0;
    const char *want[] = {"alice", "bob"};

    (void)state;
    NEED_ROOT();
    assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
    for (size_t i = 0; i < 2; i++) {
        /* ERANGE does not advance */
        assert_int_equal(m.getpwent(&pw, small, sizeof(small), &err), NSS_STATUS_TRYAGAIN);
        assert_int_equal(err, ERANGE);
        assert_int_equal(m.getpwent(&pw, NULL, 0, &err), NSS_STATUS_TRYAGAIN);
        assert_int_equal(m.getpwent(&pw, big, sizeof(big), &err), NSS_STATUS_SUCCESS);
        assert_string_equal(pw.pw_name, want[i]);
    }
    assert_int_equal(m.getpwent(&pw, big, sizeof(big), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(err, ENOENT);
    assert_int_equal(m.getpwent(&pw, big, sizeof(big), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.endpwent(), NSS_STATUS_SUCCESS);

    /* setpwent rewinds; getpwent without setpwent starts at the top */
    assert_int_equal(m.getpwent(&pw, big, sizeof(big), &err), NSS_STATUS_SUCCESS);
    assert_string_equal(pw.pw_name, "alice");
    assert_int_equal(m.setpwent(1), NSS_STATUS_SUCCESS);
    assert_int_equal(m.getpwent(&pw, big, sizeof(big), &err), NSS_STATUS_SUCCESS);
    assert_string_equal(pw.pw_name, "alice");

    /* A walk stays on the cache it started with. */
    write_cache("Replaced");
    assert_int_equal(m.getpwent(&pw, big, sizeof(big), &err), NSS_STATUS_SUCCESS);
    assert_string_equal(pw.pw_name, "bob");
    assert_int_equal(m.endpwent(), NSS_STATUS_SUCCESS);
}

static void test_getgrent(void **state)
{
    struct group gr;
    char big[1024];
    int err = 0;
    const char *want[] = {"alice", "bob", "devs"};

    (void)state;
    NEED_ROOT();
    assert_int_equal(m.setgrent(0), NSS_STATUS_SUCCESS);
    for (size_t i = 0; i < 3; i++) {
        for (size_t n = 0; n < 64; n++) {
            char *b = n ? malloc(n) : NULL;
            enum nss_status st = m.getgrent(&gr, b, n, &err);
            free(b);
            if (st == NSS_STATUS_SUCCESS) {
                break; /* fits: advanced */
            }
            assert_int_equal(st, NSS_STATUS_TRYAGAIN);
            assert_int_equal(err, ERANGE);
        }
        /* the loop consumed entry i with a small buffer: check it again */
        (void)want;
    }
    assert_int_equal(m.getgrent(&gr, big, sizeof(big), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.endgrent(), NSS_STATUS_SUCCESS);

    assert_int_equal(m.setgrent(0), NSS_STATUS_SUCCESS);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(m.getgrent(&gr, big, sizeof(big), &err), NSS_STATUS_SUCCESS);
        assert_string_equal(gr.gr_name, want[i]);
    }
    assert_int_equal(m.getgrent(&gr, big, sizeof(big), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.endgrent(), NSS_STATUS_SUCCESS);
}

/* --- failures: UNAVAIL, never NOTFOUND, never a crash -------------- */

static void expect_unavail(void)
{
    struct passwd pw;
    struct group gr;
    char buf[1024];
    int err = 0;
    long int start = 0, size = 0;
    gid_t *groups = NULL;

    assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
    assert_int_not_equal(err, 0);
    assert_int_equal(m.getpwuid(UMIN + 1, &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
    assert_int_equal(m.getgrnam("devs", &gr, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
    assert_int_equal(m.getgrgid(UMIN + 100, &gr, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
    assert_int_equal(m.initgroups("alice", UMIN + 1, &start, &size, &groups, 0, &err),
                     NSS_STATUS_UNAVAIL);
    assert_int_equal(m.setpwent(0), NSS_STATUS_UNAVAIL);
    assert_int_equal(m.getpwent(&pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
    assert_int_equal(m.endpwent(), NSS_STATUS_SUCCESS);
    assert_int_equal(m.getgrent(&gr, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
    assert_int_equal(m.endgrent(), NSS_STATUS_SUCCESS);
    free(groups);
}

static void expect_alice(void)
{
    struct passwd pw;
    char buf[1024];
    int err = 0;
    assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
}

static void test_missing_cache(void **state)
{
    struct passwd pw;
    char buf[1024];
    int err = 0;

    (void)state;
    NEED_ROOT();
    expect_alice();
    /* removed by a writer that marks the file: noticed at once */
    int fd = open(cache_path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(unlink(cache_path), 0);
    assert_int_equal(oc_nssc_mark_replaced(fd), 0);
    close(fd);
    expect_unavail();
    assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
    assert_int_equal(err, ENOENT);
    write_cache("Back");
    expect_alice();
}

/* A cache removed or replaced without the mark (by hand, a restore from a
 * backup) is noticed within the documented bound (1 s, docs/nss.md). */
static void test_unmarked_change_noticed(void **state)
{
    struct passwd pw;
    char buf[1024];
    int err = 0;
    struct timespec t0, t1;

    (void)state;
    NEED_ROOT();
    expect_alice();
    assert_int_equal(unlink(cache_path), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double waited = 0;
    /* bounded: at most 3 s, a poll every 10 ms */
    for (int i = 0; i < 300; i++) {
        if (m.getpwnam("alice", &pw, buf, sizeof(buf), &err) == NSS_STATUS_UNAVAIL) {
            break;
        }
        struct timespec d = {0, 10 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_UNAVAIL);
    print_message("# unmarked removal noticed after %.2f s\n", waited);
    assert_true(waited < 1.5);
    write_cache("Back");
    expect_alice();
}

static void test_missing_config(void **state)
{
    (void)state;
    NEED_ROOT();
    /* A config change is noticed with the next (marked) cache change at
     * once, or within OC_NSS_RECHECK_MS: the test replaces the cache. */
    expect_alice();
    assert_int_equal(unlink(conf_path), 0);
    write_cache("Alice Agent");
    expect_unavail();
    write_config(UMIN, UMAX, "");
    write_cache("Alice Agent");
    expect_alice();
    /* an invalid config is as good as none */
    write_text(conf_path, "[global]\nthis is not a config\n");
    write_cache("Alice Agent");
    expect_unavail();
    /* a config writable by others is refused */
    write_config(UMIN, UMAX, "\n");
    assert_int_equal(chmod(conf_path, 0666), 0);
    write_cache("Alice Agent");
    expect_unavail();
    assert_int_equal(chmod(conf_path, 0644), 0);
    write_config(UMIN, UMAX, "");
    write_cache("Alice Agent");
    expect_alice();
}

/* Put bytes at the cache path by rename, marking the file replaced as
 * the real writer does (oc_nssc_write_file). */
static void write_bytes_as(const void *p, size_t n, uid_t owner, mode_t mode)
{
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", cache_path);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    if (n > 0) {
        assert_int_equal(fwrite(p, 1, n, f), n);
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chown(tmp, owner, (gid_t)-1), 0);
    assert_int_equal(chmod(tmp, mode), 0);
    int old = open(cache_path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    assert_int_equal(rename(tmp, cache_path), 0);
    if (old >= 0) {
        (void)oc_nssc_mark_replaced(old);
        close(old);
    }
}

static void write_bytes(const void *p, size_t n)
{
    write_bytes_as(p, n, 0, 0644);
}

/* A cache that anyone but root or the owner of its directory could write or
 * truncate (another owner, its group, everyone, or whoever may write its
 * directory) is not used: a truncation would kill every process that has it
 * mapped. The owner of the directory (the daemon account, until root writes
 * the cache) may own the file. */
static void test_cache_owner_refused(void **state)
{
    void *img;
    size_t len;
    struct stat st;

    (void)state;
    NEED_ROOT();
    assert_int_equal(stat(cache_path, &st), 0);
    img = malloc((size_t)st.st_size);
    FILE *f = fopen(cache_path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(img, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    len = (size_t)st.st_size;

    expect_alice();
    write_bytes_as(img, len, 65534, 0644); /* owned by another account */
    expect_unavail();
    write_bytes_as(img, len, 0, 0664); /* group-writable */
    expect_unavail();
    write_bytes_as(img, len, 0, 0646); /* world-writable */
    expect_unavail();
    write_bytes_as(img, len, 0, 0644);
    expect_alice();
    assert_int_equal(chmod(dir, 0775), 0); /* a directory others may write */
    write_bytes_as(img, len, 0, 0644);
    expect_unavail();
    assert_int_equal(chmod(dir, 0755), 0);
    write_bytes_as(img, len, 0, 0644);
    expect_alice();
    /* the old layout: the daemon account's directory and file: it could
     * truncate the mapped file under every reader (SIGBUS) or rename an
     * older cache over it; only root's directory and file are used */
    assert_int_equal(chown(dir, 4242, 4242), 0);
    write_bytes_as(img, len, 4242, 0644);
    expect_unavail();
    write_bytes_as(img, len, 0, 0644); /* root's file in its directory */
    expect_unavail();
    assert_int_equal(chown(dir, 0, 0), 0);
    write_bytes_as(img, len, 4242, 0644); /* its file in root's directory */
    expect_unavail();
    write_bytes_as(img, len, 0, 0644);
    expect_alice();
    free(img);
}

static void test_corrupt_cache(void **state)
{
    FILE *f;
    uint8_t *img;
    struct stat st;

    (void)state;
    NEED_ROOT();
    assert_int_equal(stat(cache_path, &st), 0);
    img = malloc((size_t)st.st_size);
    f = fopen(cache_path, "rb");
    assert_int_equal(fread(img, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);

    /* truncated at a few sizes, empty, a flipped byte, wrong version */
    size_t cuts[] = {0,
                     1,
                     8,
                     OC_NSSC_HEADER_SIZE - 1,
                     OC_NSSC_HEADER_SIZE,
                     (size_t)st.st_size / 2,
                     (size_t)st.st_size - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        write_bytes(img, cuts[i]);
        expect_unavail();
    }
    img[st.st_size / 2] ^= 0x10;
    write_bytes(img, (size_t)st.st_size);
    expect_unavail();
    img[st.st_size / 2] ^= 0x10;
    uint32_t v = 99;
    memcpy(img + 8, &v, 4);
    uint64_t ck = oc_nssc_checksum(img, (size_t)st.st_size);
    memcpy(img + OC_NSSC_CHECKSUM_OFFSET, &ck, 8);
    write_bytes(img, (size_t)st.st_size);
    expect_unavail();
    free(img);

    /* a directory or a FIFO in its place: no hang */
    assert_int_equal(unlink(cache_path), 0);
    assert_int_equal(mkfifo(cache_path, 0644), 0);
    expect_unavail();
    assert_int_equal(unlink(cache_path), 0);
    write_cache("Back");
    expect_alice();
}

/* uid 0 in the cache (a compromised writer) is refused by name. */
static void test_uid0_refused(void **state)
{
    void *img;
    size_t len;
    struct oc_nssc c;
    struct passwd pw;
    char buf[512];
    int err;
    struct oc_nssc_user_in u = {
            .name = "toor", .uid = UMIN + 9, .gid = UMIN + 9, .dir = "/", .shell = "/bin/sh"};

    (void)state;
    NEED_ROOT();
    assert_int_equal(oc_nssc_build(&u, 1, NULL, 0, NULL, &img, &len), 0);
    assert_int_equal(oc_nssc_open(img, len, &c), 0);
    uint8_t *p = img;
    uint32_t zero = 0;
    uint32_t rec; /* the record's offset in the data area, from the index table */
    memcpy(&rec, p + c.users_off, 4);
    memcpy(p + c.strings_off + rec + 16, &zero, 4); /* uid */
    memcpy(p + c.strings_off + rec + 20, &zero, 4); /* gid */
    uint64_t ck = oc_nssc_checksum(p, len);
    memcpy(p + OC_NSSC_CHECKSUM_OFFSET, &ck, 8);
    write_bytes(p, len);
    assert_int_equal(m.getpwnam("toor", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.getpwuid(0, &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.setpwent(0), NSS_STATUS_SUCCESS);
    assert_int_equal(m.getpwent(&pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    m.endpwent();
    free(img);
}

/* Replacement is noticed on the next call; so is a narrower uid range. */
/* The VmFlags and FilePmdMapped (kB) of this process's mapping of the
 * cache path (not a deleted one); false when there is none. */
static bool cache_mapping(char *ret_flags, size_t flags_len, long *ret_pmd_kb)
{
    char line[512];
    bool in = false, found = false;
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    size_t pl = strlen(cache_path);
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\n') {
            line[--n] = '\0';
        }
        const char *sp = strchr(line, ' ');
        if (sp != NULL && sp > line && sp[-1] != ':') { /* "start-end perms ... path" */
            in = n >= pl && strcmp(line + n - pl, cache_path) == 0;
            continue;
        }
        if (in && strncmp(line, "FilePmdMapped:", 14) == 0) {
            *ret_pmd_kb = atol(line + 14);
        } else if (in && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(ret_flags, flags_len, "%s ", line + 8);
            found = true;
            in = false;
        }
    }
    fclose(f);
    return found;
}

/* A large cache (2 MB and more) is mapped with the advice for huge pages
 * before it is populated, so that a cache read back from disk is still
 * mapped with 2 MB pages; a small one is not advised. */
static void test_large_cache_huge_pages(void **state)
{
    enum { N = 20000 };
    struct oc_nssc_user_in *u = calloc(N, sizeof(*u));
    char(*names)[16] = calloc(N, 16);
    char(*homes)[32] = calloc(N, 32);
    struct passwd pw;
    char buf[1024], flags[600];
    int err = 0;
    long pmd_kb = -1;
    void *img;
    size_t len;

    (void)state;
    NEED_ROOT();
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0) {
        print_message("# SKIP no transparent huge pages in this kernel\n");
        skip();
    }
    assert_non_null(u);
    assert_non_null(names);
    assert_non_null(homes);
    for (unsigned i = 0; i < N; i++) {
        snprintf(names[i], 16, "agent-%05u", i);
        snprintf(homes[i], 32, "/home/agents/%s", names[i]);
        u[i] = (struct oc_nssc_user_in){.name = names[i],
                                        .uid = UMIN + 10 + i,
                                        .gid = UMIN + 10 + i,
                                        .gecos = "An agent of the test",
                                        .dir = homes[i],
                                        .shell = "/bin/sh",
                                        .enabled = true};
    }
    assert_int_equal(oc_nssc_build(u, N, NULL, 0, NULL, &img, &len), 0);
    assert_true(len >= 2u * 1024u * 1024u);
    assert_int_equal(oc_nssc_write_file(cache_path, img, len), 0);
    free(img);
    /* as if read back from disk: its pages leave the page cache */
    int fd = open(cache_path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(fdatasync(fd), 0);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    assert_int_equal(m.getpwnam("agent-12345", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
    assert_int_equal(pw.pw_uid, UMIN + 10 + 12345);
    assert_true(cache_mapping(flags, sizeof(flags), &pmd_kb));
    print_message("# %zu-byte cache: VmFlags %s; FilePmdMapped %ld kB\n", len, flags, pmd_kb);
    assert_non_null(strstr(flags, " hg "));

    write_cache("Alice Agent"); /* small again */
    assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
    assert_true(cache_mapping(flags, sizeof(flags), &pmd_kb));
    assert_null(strstr(flags, " hg "));
    free(u);
    free(names);
    free(homes);
}

static void test_replacement_noticed(void **state)
{
    struct passwd pw;
    char buf[1024];
    int err = 0;

    (void)state;
    NEED_ROOT();
    assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
    assert_string_equal(pw.pw_gecos, "Alice Agent");
    write_cache("Alice Two");
    assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
    assert_string_equal(pw.pw_gecos, "Alice Two");

    write_config(UMIN + 2, UMAX, "# narrower\n");
    write_cache("Alice Two");
    assert_int_equal(m.getpwnam("alice", &pw, buf, sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    assert_int_equal(m.getpwnam("bob", &pw, buf, sizeof(buf), &err), NSS_STATUS_SUCCESS);
}

static void test_fork(void **state)
{
    (void)state;
    NEED_ROOT();
    expect_alice();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct passwd pw;
        char buf[1024];
        int err = 0;
        write_cache("Child");
        enum nss_status st = m.getpwnam("alice", &pw, buf, sizeof(buf), &err);
        _exit(st == NSS_STATUS_SUCCESS && strcmp(pw.pw_gecos, "Child") == 0 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    expect_alice();
}

/*
 * A hit makes no system call of its own: after one warm-up lookup, a child
 * enters seccomp's strict mode (any system call but read, write, _exit and
 * sigreturn kills it) and makes 1 000 hits and misses of every kind. The
 * old module stat()ed the cache path on every call and died here. Not
 * under valgrind or a sanitizer, whose runtimes make system calls of
 * their own.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OC_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define OC_TEST_SANITIZED 1
#endif
#endif
static void test_hit_no_syscall(void **state)
{
    (void)state;
    NEED_ROOT();
    /* (cmocka's skip() reads as a failure to automake's TAP driver) */
    const char *pre = getenv("LD_PRELOAD");
    bool instrumented = pre != NULL && strstr(pre, "vgpreload") != NULL;
#ifdef OC_TEST_SANITIZED
    instrumented = true;
#endif
    if (instrumented) {
        print_message("# not checked under valgrind or a sanitizer\n");
        return;
    }
    expect_alice();
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct passwd pw;
        struct group gr;
        char buf[1024];
        int err = 0, bad = 0;
        long int start = 1, size = 64;
        static gid_t groups[64];
        gid_t *gp = groups;
        /* warm: maps the cache in this process too (it is a fork) */
        bad += m.getpwnam("alice", &pw, buf, sizeof(buf), &err) != NSS_STATUS_SUCCESS;
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0) {
            syscall(SYS_exit, 3);
        }
        for (int i = 0; i < 1000; i++) {
            bad += m.getpwnam("alice", &pw, buf, sizeof(buf), &err) != NSS_STATUS_SUCCESS;
            bad += m.getpwuid(UMIN + 1, &pw, buf, sizeof(buf), &err) != NSS_STATUS_SUCCESS;
            bad += m.getgrnam("devs", &gr, buf, sizeof(buf), &err) != NSS_STATUS_SUCCESS;
            bad += m.getgrgid(UMIN + 100, &gr, buf, sizeof(buf), &err) != NSS_STATUS_SUCCESS;
            bad += m.getpwnam("nobody-here", &pw, buf, sizeof(buf), &err) != NSS_STATUS_NOTFOUND;
            start = 1; /* the array is big enough: no realloc (it may make a system call) */
            bad += m.initgroups("bob", UMIN + 2, &start, &size, &gp, 0, &err) != NSS_STATUS_SUCCESS;
        }
        syscall(SYS_exit, bad == 0 ? 0 : 1); /* exit_group is not allowed in strict mode */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status)) {
        print_message("# the lookups were killed by signal %d: a system call\n", WTERMSIG(status));
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup(test_getpwnam_found, setup),
            cmocka_unit_test_setup(test_getpw_notfound, setup),
            cmocka_unit_test_setup(test_getpw_every_buffer_size, setup),
            cmocka_unit_test_setup(test_getgr, setup),
            cmocka_unit_test_setup(test_getgr_every_buffer_size, setup),
            cmocka_unit_test_setup(test_initgroups, setup),
            cmocka_unit_test_setup(test_initgroups_local_needs_config, setup),
            cmocka_unit_test_setup(test_getpwent, setup),
            cmocka_unit_test_setup(test_getgrent, setup),
            cmocka_unit_test_setup(test_missing_cache, setup),
            cmocka_unit_test_setup(test_unmarked_change_noticed, setup),
            cmocka_unit_test_setup(test_cache_owner_refused, setup),
            cmocka_unit_test_setup(test_hit_no_syscall, setup),
            cmocka_unit_test_setup(test_missing_config, setup),
            cmocka_unit_test_setup(test_corrupt_cache, setup),
            cmocka_unit_test_setup(test_uid0_refused, setup),
            cmocka_unit_test_setup(test_replacement_noticed, setup),
            cmocka_unit_test_setup(test_large_cache_huge_pages, setup),
            cmocka_unit_test_setup(test_fork, setup),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
