/* SPDX-License-Identifier: MIT */
/*
 * bench/nss: ns per lookup through libnss_openclaw.so.2 and through
 * glibc's files backend over the same entries, in the same run.
 *
 * Method (docs/nss.md, "Benchmark"): for 10, 1 000 and 100 000 agents the
 * program writes a cache file and a passwd + group file with the same
 * entries. It enters a private mount namespace and bind-mounts those files
 * over /etc/passwd and /etc/group (visible to this process only), then
 * calls _nss_openclaw_* (dlopen'ed module) and glibc's _nss_files_*
 * (exported by libc.so.6 since glibc 2.34) directly, the same way glibc's
 * NSS dispatcher would, on the same pseudo-random names. Without root or
 * namespaces the files column is skipped and says why.
 *
 * Not a test: "make bench" runs it. The figures are ratios measured on the
 * same machine in the same run.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nsscache.h"

#ifndef OC_NSS_MODULE_PATH
#error "OC_NSS_MODULE_PATH must name the built module"
#endif

#define UMIN      1879048192u
#define UMAX      2147352575u
#define TEAM_SIZE 100u
#define BUDGET_NS 300000000ull /* per measurement */
#define MAX_ITERS 200000u
#define MIN_ITERS 5u

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getpwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long int *, long int *, gid_t **,
                                         long int, int *);

struct backend {
    const char *name;
    getpwnam_fn getpwnam;
    getpwuid_fn getpwuid;
    initgroups_fn initgroups;
};

static char tmpdir[] = "/tmp/oc-bench-nss.XXXXXX";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void agent_name(char *buf, size_t len, unsigned i)
{
    snprintf(buf, len, "agent-%06u", i % 1000000u);
}

/* Write the cache, the config and the passwd/group files for n agents.
 * Returns the bytes of the agents' passwd + group lines. */
static size_t write_fixtures(unsigned n, size_t *ret_cache_size)
{
    struct oc_nssc_user_in *u = calloc(n, sizeof(*u));
    unsigned teams = (n + TEAM_SIZE - 1) / TEAM_SIZE;
    struct oc_nssc_group_in *g = calloc((size_t)n + teams, sizeof(*g));
    char(*names)[24] = calloc(n, 24);
    char(*gecos)[24] = calloc(n, 24);
    char(*homes)[40] = calloc(n, 40);
    char(*tnames)[16] = calloc(teams, 16);
    const char **members = calloc(n, sizeof(*members));
    char path[256];
    size_t raw = 0;
    void *img;
    size_t len;

    if (u == NULL || g == NULL || names == NULL || gecos == NULL || homes == NULL ||
        tnames == NULL || members == NULL) {
        fprintf(stderr, "bench/nss: out of memory\n");
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/passwd", tmpdir);
    FILE *pf = fopen(path, "w");
    snprintf(path, sizeof(path), "%s/group", tmpdir);
    FILE *gf = fopen(path, "w");
    if (pf == NULL || gf == NULL) {
        fprintf(stderr, "bench/nss: cannot write fixtures in %s\n", tmpdir);
        exit(1);
    }
    fputs("root:x:0:0:root:/root:/bin/bash\n", pf);
    fputs("root:x:0:\n", gf);
    for (unsigned i = 0; i < n; i++) {
        agent_name(names[i], 24, i);
        snprintf(gecos[i], 24, "Agent %u", i);
        snprintf(homes[i], 40, "/home/agents/%s", names[i]);
        u[i] = (struct oc_nssc_user_in){.name = names[i],
                                        .uid = UMIN + i,
                                        .gid = UMIN + i,
                                        .gecos = gecos[i],
                                        .dir = homes[i],
                                        .shell = "/bin/sh",
                                        .enabled = true};
        g[i] = (struct oc_nssc_group_in){.name = names[i], .gid = UMIN + i};
        members[i] = names[i];
        int k = fprintf(pf, "%s:*:%u:%u:%s:%s:/bin/sh\n", names[i], UMIN + i, UMIN + i, gecos[i],
                        homes[i]);
        raw += (size_t)k;
        raw += (size_t)fprintf(gf, "%s:*:%u:\n", names[i], UMIN + i);
    }
    for (unsigned t = 0; t < teams; t++) {
        unsigned first = t * TEAM_SIZE, cnt = n - first < TEAM_SIZE ? n - first : TEAM_SIZE;
        snprintf(tnames[t], 16, "team-%u", t);
        g[n + t] = (struct oc_nssc_group_in){
                .name = tnames[t], .gid = UMAX - t, .members = members + first, .n_members = cnt};
        raw += (size_t)fprintf(gf, "%s:*:%u:", tnames[t], UMAX - t);
        for (unsigned j = 0; j < cnt; j++) {
            raw += (size_t)fprintf(gf, "%s%s", j ? "," : "", names[first + j]);
        }
        raw += (size_t)fprintf(gf, "\n");
    }
    fclose(pf);
    fclose(gf);

    if (oc_nssc_build(u, n, g, (size_t)n + teams, NULL, &img, &len) < 0) {
        fprintf(stderr, "bench/nss: cannot build the cache\n");
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/nss.cache", tmpdir);
    if (oc_nssc_write_file(path, img, len) < 0) {
        fprintf(stderr, "bench/nss: cannot write %s\n", path);
        exit(1);
    }
    free(img);
    *ret_cache_size = len;
    free(u);
    free(g);
    free(names);
    free(gecos);
    free(homes);
    free(tnames);
    free(members);
    return raw;
}

enum op { OP_GETPWNAM, OP_GETPWUID, OP_INITGROUPS };

/* The reader alone on an in-memory image (no system call), and one bare
 * stat() of the cache: the two parts of a module lookup. */
static const struct backend *first_backend;

static void measure_parts(unsigned n)
{
    char path[256], name[24];
    struct stat st;
    snprintf(path, sizeof(path), "%s/nss.cache", tmpdir);
    FILE *f = fopen(path, "rb");
    if (f == NULL || stat(path, &st) < 0) {
        return;
    }
    uint8_t *img = malloc((size_t)st.st_size);
    struct oc_nssc c;
    if (img == NULL || fread(img, 1, (size_t)st.st_size, f) != (size_t)st.st_size ||
        oc_nssc_open(img, (size_t)st.st_size, &c) < 0) {
        fclose(f);
        free(img);
        return;
    }
    fclose(f);
    uint64_t x = 88172645463325252ull, t0 = now_ns(), t;
    unsigned iters = 0;
    do {
        struct oc_nssc_pw pw;
        unsigned i = (unsigned)(rng(&x) % n);
        agent_name(name, sizeof(name), i);
        if (oc_nssc_pw_by_name(&c, name, &pw) < 0 || pw.uid != UMIN + i) {
            break;
        }
        iters++;
        t = now_ns() - t0;
    } while (iters < MAX_ITERS && t < BUDGET_NS);
    double reader = iters ? (double)(now_ns() - t0) / iters : 0;
    t0 = now_ns();
    iters = 0;
    do {
        (void)stat(path, &st);
        iters++;
        t = now_ns() - t0;
    } while (iters < MAX_ITERS && t < BUDGET_NS / 3);
    double stat_ns = (double)t / iters;

    /* First lookup after the file changed (every new process pays the
     * same): map, verify the checksum, look up. The file is rewritten
     * (new inode) before each of 5 samples; the median is printed. */
    double first[5];
    char buf[1024];
    struct passwd pwd;
    int err;
    for (int k = 0; k < 5; k++) {
        if (oc_nssc_write_file(path, img, (size_t)st.st_size) < 0) {
            first[k] = 0;
            continue;
        }
        agent_name(name, sizeof(name), (unsigned)k % n);
        uint64_t a = now_ns();
        (void)first_backend->getpwnam(name, &pwd, buf, sizeof(buf), &err);
        first[k] = (double)(now_ns() - a);
    }
    for (int i = 1; i < 5; i++) {
        for (int j = i; j > 0 && first[j - 1] > first[j]; j--) {
            double tmp = first[j];
            first[j] = first[j - 1];
            first[j - 1] = tmp;
        }
    }
    printf("%8u  parts: reader alone %.0f ns per getpwnam, one stat() %.0f ns; first lookup "
           "after a change (map + checksum) %.0f us\n",
           n, reader, stat_ns, first[2] / 1000.0);
    free(img);
}

/* ns per call, over pseudo-random agents; -1 on a wrong answer. */
static double measure(const struct backend *b, enum op op, unsigned n)
{
    char buf[1024], name[24];
    struct passwd pw;
    int err;
    uint64_t x = 88172645463325252ull, t0 = now_ns(), t;
    unsigned iters = 0;

    do {
        unsigned i = (unsigned)(rng(&x) % n);
        enum nss_status st;
        agent_name(name, sizeof(name), i);
        switch (op) {
        case OP_GETPWNAM:
            st = b->getpwnam(name, &pw, buf, sizeof(buf), &err);
            if (st != NSS_STATUS_SUCCESS || pw.pw_uid != UMIN + i) {
                return -1;
            }
            break;
        case OP_GETPWUID:
            st = b->getpwuid(UMIN + i, &pw, buf, sizeof(buf), &err);
            if (st != NSS_STATUS_SUCCESS || strcmp(pw.pw_name, name) != 0) {
                return -1;
            }
            break;
        case OP_INITGROUPS: {
            long int start = 1, size = 4;
            gid_t *gp = malloc(4 * sizeof(gid_t));
            gp[0] = UMIN + i;
            st = b->initgroups(name, UMIN + i, &start, &size, &gp, 0, &err);
            bool okay = st == NSS_STATUS_SUCCESS && start == 2 && gp[1] == UMAX - i / TEAM_SIZE;
            free(gp);
            if (!okay) {
                return -1;
            }
            break;
        }
        }
        iters++;
        t = now_ns() - t0;
    } while (iters < MAX_ITERS && (t < BUDGET_NS || iters < MIN_ITERS));
    return (double)t / iters;
}

static bool enter_namespace(char *why, size_t len)
{
    char path[256];
    if (geteuid() != 0) {
        snprintf(why, len, "needs root for a private mount namespace");
        return false;
    }
    if (unshare(CLONE_NEWNS) < 0) {
        snprintf(why, len, "unshare(CLONE_NEWNS): %s", strerror(errno));
        return false;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        snprintf(why, len, "make / private: %s", strerror(errno));
        return false;
    }
    snprintf(path, sizeof(path), "%s/passwd", tmpdir);
    if (mount(path, "/etc/passwd", NULL, MS_BIND, NULL) < 0) {
        snprintf(why, len, "bind /etc/passwd: %s", strerror(errno));
        return false;
    }
    snprintf(path, sizeof(path), "%s/group", tmpdir);
    if (mount(path, "/etc/group", NULL, MS_BIND, NULL) < 0) {
        snprintf(why, len, "bind /etc/group: %s", strerror(errno));
        return false;
    }
    return true;
}

static void leave_binds(void)
{
    umount2("/etc/passwd", MNT_DETACH);
    umount2("/etc/group", MNT_DETACH);
}

int main(void)
{
    static const unsigned sizes[] = {10, 1000, 100000};
    static const char *const opnames[] = {"getpwnam", "getpwuid", "initgroups"};
    char conf[300], why[256] = "";
    struct backend oc = {.name = "openclaw"}, files = {.name = "files"};
    bool ns_ok = true, first = true;

    if (mkdtemp(tmpdir) == NULL) {
        perror("bench/nss: mkdtemp");
        return 1;
    }
    chmod(tmpdir, 0755);
    snprintf(conf, sizeof(conf), "%s/openclaw.conf", tmpdir);
    FILE *f = fopen(conf, "w");
    if (f == NULL) {
        perror("bench/nss: config");
        return 1;
    }
    fprintf(f,
            "[global]\ntenant_id = 11111111-2222-3333-4444-555555555555\n"
            "audiences = api://openclaw-host\nuid_min = %u\nuid_max = %u\n"
            "nss_cache = %s/nss.cache\n",
            UMIN, UMAX, tmpdir);
    fclose(f);
    chmod(conf, 0644);
    setenv("OPENCLAW_CONFIG", conf, 1);

    void *h = dlopen(OC_NSS_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    if (h == NULL) {
        fprintf(stderr, "bench/nss: %s\n", dlerror());
        return 1;
    }
    *(void **)&oc.getpwnam = dlsym(h, "_nss_openclaw_getpwnam_r");
    *(void **)&oc.getpwuid = dlsym(h, "_nss_openclaw_getpwuid_r");
    *(void **)&oc.initgroups = dlsym(h, "_nss_openclaw_initgroups_dyn");
    if (libc != NULL) {
        *(void **)&files.getpwnam = dlsym(libc, "_nss_files_getpwnam_r");
        *(void **)&files.getpwuid = dlsym(libc, "_nss_files_getpwuid_r");
        *(void **)&files.initgroups = dlsym(libc, "_nss_files_initgroups_dyn");
    }
    first_backend = &oc;
    if (files.getpwnam == NULL || files.getpwuid == NULL || files.initgroups == NULL) {
        ns_ok = false;
        snprintf(why, sizeof(why), "glibc does not export _nss_files_* (needs glibc >= 2.34)");
    }
    if (geteuid() != 0) {
        printf("bench/nss: the module accepts only a root-owned config: run as root\n");
        return 0;
    }

    printf("NSS lookups: ns per call (lower is better); files = glibc's files backend over a\n"
           "passwd/group file with the same entries (private mount namespace), same run.\n\n");
    printf("%8s  %-10s  %12s  %12s  %12s\n", "agents", "lookup", "openclaw ns", "files ns",
           "files/oc");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        unsigned n = sizes[s];
        size_t cache_size, raw;
        if (!first) {
            leave_binds();
        }
        raw = write_fixtures(n, &cache_size);
        if (ns_ok) {
            if (first) {
                ns_ok = enter_namespace(why, sizeof(why));
            } else {
                char p[300];
                snprintf(p, sizeof(p), "%s/passwd", tmpdir);
                ns_ok = mount(p, "/etc/passwd", NULL, MS_BIND, NULL) == 0;
                snprintf(p, sizeof(p), "%s/group", tmpdir);
                ns_ok = ns_ok && mount(p, "/etc/group", NULL, MS_BIND, NULL) == 0;
            }
        }
        first = false;
        for (int op = 0; op < 3; op++) {
            double o = measure(&oc, (enum op)op, n);
            double fl = ns_ok ? measure(&files, (enum op)op, n) : 0;
            if (o < 0 || (ns_ok && fl < 0)) {
                printf("%8u  %-10s  wrong answer from %s\n", n, opnames[op],
                       o < 0 ? "openclaw" : "files");
                continue;
            }
            if (ns_ok) {
                printf("%8u  %-10s  %12.0f  %12.0f  %11.1fx\n", n, opnames[op], o, fl, fl / o);
            } else {
                printf("%8u  %-10s  %12.0f  %12s  %12s\n", n, opnames[op], o, "n/a", "n/a");
            }
        }
        measure_parts(n);
        printf("%8u  cache file %zu bytes, raw passwd+group lines %zu bytes: %.2fx\n", n,
               cache_size, raw, (double)cache_size / (double)raw);
    }
    if (!ns_ok) {
        printf("\nfiles backend not measured: %s\n", why);
    }
    printf("\nGoals: files/oc >= 1/1.2 (0.83x) at 10 agents, >= 1000x at 100000; cache <= 2x "
           "raw.\n");
    if (ns_ok) {
        leave_binds();
    }
    char p[300];
    const char *names[] = {"passwd", "group", "nss.cache", "openclaw.conf"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    return 0;
}
