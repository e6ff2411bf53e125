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
 * SSSD column (the design's model): when sssd, its proxy provider and
 * libnss_sss.so.2 are installed (scripts/install-deps.sh --bench), for
 * every size the program also starts sssd inside a private namespace -- a
 * tmpfs over /var/lib/sss and /run, its own sssd.conf (mode 0600) with one
 * proxy domain -- preloads SSSD's cache database with the same entries
 * (ldbadd, in SSSD's own record format), warms SSSD's NSS memory cache with
 * every agent, and calls _nss_sss_* from libnss_sss.so.2 the same way. sssd
 * is stopped by its process group before the next size. Nothing on the
 * host changes.
 *
 * Through glibc (docs/nss.md, "Benchmark"): the rows above call the
 * modules' entry points directly; every real caller goes through glibc's
 * dispatch. For each size the program also starts one process per backend
 * -- the glibc floor (libnss_ocnoop.so.2, built with the benchmark: every
 * lookup NOTFOUND at once), openclaw, SSSD's memory cache (inside the
 * namespace its sssd runs in) and files -- each in its own private mount
 * namespace with an nsswitch.conf saying "passwd: X / group: X"
 * bind-mounted over /etc/nsswitch.conf, and the modules found through
 * LD_LIBRARY_PATH. They measure getpwnam_r, getpwuid_r, getgrnam_r,
 * getgrouplist (initgroups_dyn) and a getpwnam_r miss in interleaved
 * rounds (the median is reported; the goals are judged by the median of
 * openclaw - floor paired within each round), and strace -f -c counts
 * the system calls of 1 000 lookups (minus those of a run without them).
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
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper/lib/oc_nsscwrite.h"
#include "nsscache.h"
#include "table.h"

#ifndef OC_NSS_MODULE_PATH
#error "OC_NSS_MODULE_PATH must name the built module"
#endif

#define UMIN      1879048192u
#define UMAX      2147352575u
#define TEAM_SIZE 100u
#define BUDGET_NS 300000000ull /* per measurement */
#define MAX_ITERS 200000u
#define MIN_ITERS 5u
/* SSSD serves the agents from its cache database, preloaded with ldbadd
 * (waiting for its files provider to load them took minutes at 1 000 and
 * never ended at 100 000). */
#define SSSD_START_S 150 /* the most a start + warm-up may take, + 1 s per 1 000 agents */
#define SSSD_DEFAULT "/usr/sbin/sssd"
#define SSSD_PIPE    "/var/lib/sss/pipes/nss"
#define SSSD_DB      "/var/lib/sss/db/cache_bench.ldb"
#define LDBADD       "/usr/bin/ldbadd"
#define LDIF_CHUNK   5000u /* agents per ldbadd run (one big file is quadratic) */

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getpwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrnam_fn)(const char *, struct group *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long int *, long int *, gid_t **,
                                         long int, int *);

struct backend {
    const char *name;
    getpwnam_fn getpwnam;
    getpwuid_fn getpwuid;
    initgroups_fn initgroups;
    getgrnam_fn getgrnam; /* SSSD only: to warm its group memory cache */
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

static pid_t sssd_pid = -1;

/* The end of sssd's log (errors only at debug level 1) on stderr. */
static void sssd_log_tail(const char *log)
{
    char buf[2048];
    FILE *f = fopen(log, "r");
    if (f == NULL) {
        return;
    }
    if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > (long)sizeof(buf) - 1) {
        fseek(f, -(long)sizeof(buf) + 1, SEEK_END);
    } else {
        rewind(f);
    }
    size_t k = fread(buf, 1, sizeof(buf) - 1, f);
    buf[k] = '\0';
    fclose(f);
    fprintf(stderr, "bench/nss: end of sssd's log:\n%s\n", buf);
}

/* A tmpfs over where, of at most size (its pages are taken only as used:
 * SSSD's cache database of 100 000 agents takes about 370 MB). */
static bool tmpfs_at(const char *where, const char *size, char *why, size_t len)
{
    char opts[64];
    snprintf(opts, sizeof(opts), "mode=0755,size=%s", size);
    if (mount("tmpfs", where, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
        snprintf(why, len, "tmpfs over %s: %s", where, strerror(errno));
        return false;
    }
    return true;
}

/* Stop sssd (the monitor and its responder and provider, one process
 * group): SIGTERM, at most 10 s, then SIGKILL. */
static void sssd_stop(void)
{
    if (sssd_pid <= 0) {
        return;
    }
    kill(-sssd_pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(sssd_pid, NULL, WNOHANG) == sssd_pid) {
            break;
        }
        if (i == 99) {
            kill(-sssd_pid, SIGKILL);
            waitpid(sssd_pid, NULL, 0);
        }
        usleep(100000);
    }
    for (int i = 0; i < 50 && kill(-sssd_pid, 0) == 0; i++) {
        usleep(100000);
    }
    kill(-sssd_pid, SIGKILL);
    sssd_pid = -1;
}

/* Run argv (stdout and stderr to log), wait at most until deadline; true
 * when it exited 0. */
static bool run_wait(char *const argv[], const char *log, uint64_t deadline)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        return false;
    }
    if (pid == 0) {
        int lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (lfd >= 0) {
            dup2(lfd, STDOUT_FILENO);
            dup2(lfd, STDERR_FILENO);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            return WIFEXITED(st) && WEXITSTATUS(st) == 0;
        }
        if (w < 0 || now_ns() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return false;
        }
        usleep(20000);
    }
}

/*
 * Preload SSSD's cache database with the agents of write_fixtures(), in
 * the records SSSD's proxy provider itself stores (users with memberof,
 * user private groups, the teams with their members; valid for a year),
 * so that its responder answers from the cache without asking the
 * provider. ldbadd runs without SSSD's ldb modules ("-o modules:"), so
 * memberof is written here rather than derived; one ldbadd per
 * LDIF_CHUNK agents, because ldbadd reading one large file is quadratic.
 */
static bool sssd_preload(unsigned n, const char *log, uint64_t deadline, char *why, size_t len)
{
    const char *dom = "cn=bench,cn=sysdb";
    long now = (long)time(NULL), exp = now + 365L * 86400;
    unsigned teams = (n + TEAM_SIZE - 1) / TEAM_SIZE;
    char path[300];

    snprintf(path, sizeof(path), "%s/sssd.ldif", tmpdir);
    for (unsigned first = 0; first < n + teams; first += LDIF_CHUNK) {
        FILE *f = fopen(path, "w");
        if (f == NULL) {
            snprintf(why, len, "cannot write the LDIF for SSSD: %s", strerror(errno));
            return false;
        }
        for (unsigned k = first; k < first + LDIF_CHUNK && k < n + teams; k++) {
            char name[24];
            if (k >= n) {
                unsigned t = k - n;
                fprintf(f,
                        "dn: name=team-%u@bench,cn=groups,%s\nobjectCategory: group\n"
                        "name: team-%u@bench\ngidNumber: %u\nisPosix: TRUE\n"
                        "createTimestamp: %ld\nlastUpdate: %ld\ndataExpireTimestamp: %ld\n",
                        t, dom, t, UMAX - t, now, now - (long)k, exp + (long)k);
                for (unsigned j = t * TEAM_SIZE; j < n && j < (t + 1) * TEAM_SIZE; j++) {
                    agent_name(name, sizeof(name), j);
                    fprintf(f, "member: name=%s@bench,cn=users,%s\n", name, dom);
                }
                fputc('\n', f);
                continue;
            }
            /* distinct time stamps: a value shared by every entry makes
             * its ldb index record grow with each add */
            agent_name(name, sizeof(name), k);
            fprintf(f,
                    "dn: name=%s@bench,cn=users,%s\nobjectCategory: user\nname: %s@bench\n"
                    "nameAlias: %s@bench\nuidNumber: %u\ngidNumber: %u\nfullName: Agent %u\n"
                    "gecos: Agent %u\nhomeDirectory: /home/agents/%s\nloginShell: /bin/sh\n"
                    "isPosix: TRUE\ncreateTimestamp: %ld\nlastUpdate: %ld\n"
                    "dataExpireTimestamp: %ld\ninitgrExpireTimestamp: %ld\n"
                    "memberof: name=team-%u@bench,cn=groups,%s\n\n"
                    "dn: name=%s@bench,cn=groups,%s\nobjectCategory: group\nname: %s@bench\n"
                    "nameAlias: %s@bench\ngidNumber: %u\nisPosix: TRUE\ncreateTimestamp: %ld\n"
                    "lastUpdate: %ld\ndataExpireTimestamp: %ld\n\n",
                    name, dom, name, name, UMIN + k, UMIN + k, k, k, name, now, now - (long)k,
                    exp + (long)k, exp + (long)k, k / TEAM_SIZE, dom, name, dom, name, name,
                    UMIN + k, now, now - (long)k, exp + (long)k);
        }
        if (fclose(f) != 0) {
            snprintf(why, len, "cannot write the LDIF for SSSD");
            return false;
        }
        char *const argv[] = {LDBADD, "-o", "modules:", "-H", SSSD_DB, path, NULL};
        if (!run_wait(argv, log, deadline)) {
            snprintf(why, len, "ldbadd of entries %u.. into SSSD's cache failed or took too long",
                     first);
            unlink(path);
            return false;
        }
    }
    unlink(path);
    return true;
}

/* While sssd starts: false (why says what it did not do) when it exited or
 * the deadline passed, else true after 50 ms. */
static bool sssd_wait(const char *log, uint64_t deadline, const char *what, unsigned limit_s,
                      char *why, size_t len)
{
    if (waitpid(sssd_pid, NULL, WNOHANG) == sssd_pid) {
        snprintf(why, len, "sssd exited during start");
        sssd_log_tail(log);
        sssd_pid = -1;
        return false;
    }
    if (now_ns() > deadline) {
        snprintf(why, len, "sssd did not %s within %u s", what, limit_s);
        sssd_log_tail(log);
        sssd_stop();
        return false;
    }
    usleep(50000);
    return true;
}

/* Start sssd with one proxy domain in this mount namespace, preload its
 * cache database with every agent, and wait until its NSS responder has
 * answered for every agent, which fills the memory cache (passwd by name
 * and uid, initgroups). sssd itself sees a passwd and group with root
 * alone: its proxy provider (over files) finds nothing, so whatever it
 * answers comes from the preloaded cache. */
static bool sssd_start(const struct backend *b, const char *bin, unsigned n, double *start_s,
                       char *why, size_t len)
{
    static const char *const dirs[] = {"/var/lib/sss/db",      "/var/lib/sss/mc",
                                       "/var/lib/sss/pipes",   "/var/lib/sss/pipes/private",
                                       "/var/lib/sss/pubconf", "/var/lib/sss/gpo_cache"};
    static const mode_t modes[] = {0700, 0775, 0755, 0700, 0755, 0755};
    char conf[96], log[96], name[24], buf[1024], pw[96], gr[96];
    unsigned limit_s = SSSD_START_S + n / 1000;
    uint64_t t0 = now_ns(), deadline = t0 + limit_s * 1000000000ull;
    struct stat st;

    if (access(LDBADD, X_OK) != 0) {
        snprintf(why, len, "needs %s (ldb-tools; scripts/install-deps.sh --bench)", LDBADD);
        return false;
    }
    /* sssd writes its pid file to /run/sssd.pid; its database, memory
     * cache and sockets under /var/lib/sss. */
    if (!tmpfs_at("/run", "64m", why, len) || !tmpfs_at("/var/lib/sss", "1g", why, len)) {
        return false;
    }
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (mkdir(dirs[i], modes[i]) < 0) {
            snprintf(why, len, "mkdir %s: %s", dirs[i], strerror(errno));
            return false;
        }
    }
    snprintf(pw, sizeof(pw), "%s/passwd.sssd", tmpdir);
    snprintf(gr, sizeof(gr), "%s/group.sssd", tmpdir);
    FILE *pf = fopen(pw, "w"), *gf = fopen(gr, "w");
    bool files_ok = pf != NULL && gf != NULL && fputs("root:x:0:0:root:/root:/bin/sh\n", pf) >= 0 &&
                    fputs("root:x:0:\n", gf) >= 0;
    files_ok = (pf == NULL || fclose(pf) == 0) && files_ok;
    files_ok = (gf == NULL || fclose(gf) == 0) && files_ok;
    if (!files_ok || mount(pw, "/etc/passwd", NULL, MS_BIND, NULL) < 0 ||
        mount(gr, "/etc/group", NULL, MS_BIND, NULL) < 0) {
        snprintf(why, len, "passwd and group for sssd: %s", strerror(errno));
        return false;
    }
    snprintf(conf, sizeof(conf), "%s/sssd.conf", tmpdir);
    snprintf(log, sizeof(log), "%s/sssd.log", tmpdir);
    int fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        snprintf(why, len, "cannot write %s: %s", conf, strerror(errno));
        return false;
    }
    /* memory cache tables (MiB) large enough for every agent */
    unsigned mc = n > 20000 ? 48 : 8;
    fprintf(f,
            "[sssd]\nservices = nss\ndomains = bench\n\n"
            "[nss]\nmemcache_timeout = 3600\nmemcache_size_passwd = %u\n"
            "memcache_size_group = %u\nmemcache_size_initgroups = %u\n\n"
            "[domain/bench]\nid_provider = proxy\nproxy_lib_name = files\n"
            "auth_provider = none\nchpass_provider = none\naccess_provider = permit\n",
            mc, mc, mc);
    if (fclose(f) != 0) {
        snprintf(why, len, "cannot write %s", conf);
        return false;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, len, "fork: %s", strerror(errno));
        return false;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (lfd >= 0) {
            dup2(lfd, STDOUT_FILENO);
            dup2(lfd, STDERR_FILENO);
        }
        execl(bin, bin, "-i", "--logger=stderr", "-d", "1", "-c", conf, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    sssd_pid = pid;

    /* its cache database and its NSS socket, then the entries */
    while (stat(SSSD_DB, &st) != 0 || stat(SSSD_PIPE, &st) != 0) {
        if (!sssd_wait(log, deadline, "create its cache", limit_s, why, len)) {
            return false;
        }
    }
    if (!sssd_preload(n, log, deadline, why, len)) {
        sssd_log_tail(log);
        sssd_stop();
        return false;
    }

    /* Every agent once by name (fills the passwd cache for name and uid),
     * once by initgroups and its group once by name; retried while sssd is
     * still starting. */
    for (unsigned i = 0; i < n; i++) {
        struct passwd pwd;
        struct group grp;
        int err;
        agent_name(name, sizeof(name), i);
        for (;;) {
            long int start = 1, size = 4;
            gid_t *gp = malloc(4 * sizeof(gid_t));
            if (gp == NULL) {
                snprintf(why, len, "out of memory");
                sssd_stop();
                return false;
            }
            gp[0] = UMIN + i;
            bool ok = b->getpwnam(name, &pwd, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS &&
                      pwd.pw_uid == UMIN + i &&
                      b->getpwuid(UMIN + i, &pwd, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS &&
                      b->initgroups(name, UMIN + i, &start, &size, &gp, 0, &err) ==
                              NSS_STATUS_SUCCESS &&
                      start == 2 &&
                      (b->getgrnam == NULL ||
                       b->getgrnam(name, &grp, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS);
            free(gp);
            if (ok) {
                break;
            }
            if (!sssd_wait(log, deadline, "answer for every agent", limit_s, why, len)) {
                return false;
            }
        }
    }
    *start_s = (double)(now_ns() - t0) / 1e9;
    return true;
}

/* Through glibc: the lookups, the backends. */
enum gop { G_PWNAM, G_PWUID, G_GRNAM, G_INITGROUPS, G_MISS, G_NOPS };
static const char *const gop_names[G_NOPS] = {"getpwnam_r", "getpwuid_r", "getgrnam_r",
                                              "initgroups", "getpwnam_r miss"};
enum gbe { B_FLOOR, B_OPENCLAW, B_SSSD, B_FILES, B_N };
static const char *const gbe_module[B_N] = {"ocnoop", "openclaw", "sss", "files"};
static const char *const gbe_label[B_N] = {"glibc floor", "openclaw", "SSSD memory cache", "files"};
#define G_ROUNDS        31
#define G_ROUND_NS      10000000ull /* one measurement of one backend in one round */
#define G_COUNT_LOOKUPS 1000u
#define G_WARMUP        20u

/* A backend's process for the glibc measurement: commands in, ns out. */
struct gchild {
    pid_t pid; /* ours to wait for; -1 when another process owns it (sss) */
    int cmd, res;
    bool up;
};

struct gcmd {
    int op;
    unsigned budget_ms;
};

static char self_exe[PATH_MAX];
static char libdir[300];

struct sssd_result {
    int ok;
    double start_s;
    double ns[3];
    double sys[G_NOPS]; /* system calls per lookup through glibc, -1 unknown */
    char why[200];
};

/* One lookup through glibc for agent i; false on a wrong answer (check:
 * the floor answers NOTFOUND to everything). */
static bool glibc_one(enum gop op, unsigned i, bool check)
{
    char buf[1024], name[24];
    struct passwd pw, *pr = NULL;
    struct group gr, *gres = NULL;

    agent_name(name, sizeof(name), i);
    switch (op) {
    case G_PWNAM:
        (void)getpwnam_r(name, &pw, buf, sizeof(buf), &pr);
        return !check || (pr != NULL && pw.pw_uid == UMIN + i);
    case G_PWUID:
        (void)getpwuid_r(UMIN + i, &pw, buf, sizeof(buf), &pr);
        return !check || (pr != NULL && strcmp(pw.pw_name, name) == 0);
    case G_GRNAM:
        (void)getgrnam_r(name, &gr, buf, sizeof(buf), &gres);
        return !check || (gres != NULL && gr.gr_gid == UMIN + i);
    case G_INITGROUPS: {
        gid_t g[16];
        int ng = 16;
        int k = getgrouplist(name, UMIN + i, g, &ng);
        gid_t team = UMAX - i / TEAM_SIZE;
        return !check || (k == 2 && (g[0] == team || g[1] == team));
    }
    case G_MISS:
    default:
        (void)getpwnam_r("no-such-agent", &pw, buf, sizeof(buf), &pr);
        return pr == NULL;
    }
}

static double glibc_measure(enum gop op, unsigned n, bool check, uint64_t budget, uint64_t *x)
{
    uint64_t t0 = now_ns(), t;
    unsigned iters = 0;
    do {
        if (!glibc_one(op, (unsigned)(rng(x) % n), check)) {
            return -1;
        }
        iters++;
        t = now_ns() - t0;
    } while (iters < MAX_ITERS && t < budget);
    return (double)t / iters;
}

static unsigned long arg_num(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    return *end == '\0' ? v : 0;
}

/*
 * The measuring process (exec'ed inside its namespace):
 *   --glibc-child N CHECK WARM    commands (struct gcmd) on stdin, ns (double) on stdout
 *   --glibc-run N CHECK OP COUNT  G_WARMUP lookups, then COUNT more (under strace)
 */
static int glibc_child(int argc, char **argv)
{
    uint64_t x = 88172645463325252ull;
    if (argc >= 4 && strcmp(argv[1], "--glibc-run") == 0 && argc == 6) {
        unsigned n = (unsigned)arg_num(argv[2]), k = (unsigned)arg_num(argv[5]);
        bool check = argv[3][0] == '1';
        enum gop op = (enum gop)arg_num(argv[4]);
        if (n == 0 || op >= G_NOPS) {
            return 2;
        }
        for (unsigned i = 0; i < G_WARMUP + k; i++) {
            if (!glibc_one(op, (unsigned)(rng(&x) % n), check)) {
                return 1;
            }
        }
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "--glibc-child") == 0) {
        unsigned n = (unsigned)arg_num(argv[2]);
        bool check = argv[3][0] == '1';
        struct gcmd c;
        if (n == 0) {
            return 2;
        }
        /* warm: every kind of lookup once per agent (SSSD's memory cache
         * holds only what its responder has answered once) */
        for (unsigned i = 0; argv[4][0] == '1' && i < n; i++) {
            for (int op = 0; op < G_MISS; op++) {
                (void)glibc_one((enum gop)op, i, check);
            }
        }
        while (read(STDIN_FILENO, &c, sizeof(c)) == (ssize_t)sizeof(c)) {
            double ns = c.op >= 0 && c.op < G_NOPS
                                ? glibc_measure((enum gop)c.op, n, check,
                                                (uint64_t)c.budget_ms * 1000000ull, &x)
                                : -1;
            if (write(STDOUT_FILENO, &ns, sizeof(ns)) != (ssize_t)sizeof(ns)) {
                return 1;
            }
        }
        return 0;
    }
    return 2;
}

/* Start a measuring process for backend b in a private mount namespace of
 * its own (a copy of the caller's) with its own nsswitch.conf; with
 * strace_out, the --glibc-run form under strace -f -c. */
static pid_t glibc_spawn(enum gbe b, unsigned n, int in_fd, int out_fd, const char *strace_out,
                         enum gop op, unsigned count)
{
    char conf[300], ns[16], ops[16], cnt[16];
    snprintf(conf, sizeof(conf), "%s/nsswitch.%s.conf", tmpdir, gbe_module[b]);
    FILE *f = fopen(conf, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f, "passwd: %s\ngroup: %s\nshadow: files\nhosts: files\n", gbe_module[b],
            gbe_module[b]);
    fclose(f);
    snprintf(ns, sizeof(ns), "%u", n);
    snprintf(ops, sizeof(ops), "%d", (int)op);
    snprintf(cnt, sizeof(cnt), "%u", count);
    const char *check = b == B_FLOOR ? "0" : "1";
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) {
        return pid;
    }
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount(conf, "/etc/nsswitch.conf", NULL, MS_BIND, NULL) < 0) {
        fprintf(stderr, "bench/nss: namespace for %s: %s\n", gbe_module[b], strerror(errno));
        _exit(127);
    }
    if (in_fd >= 0 && dup2(in_fd, STDIN_FILENO) < 0) {
        _exit(127);
    }
    if (out_fd >= 0 && dup2(out_fd, STDOUT_FILENO) < 0) {
        _exit(127);
    }
    setenv("LD_LIBRARY_PATH", libdir, 1);
    if (strace_out != NULL) {
        execlp("strace", "strace", "-f", "-c", "-o", strace_out, self_exe, "--glibc-run", ns, check,
               ops, cnt, (char *)NULL);
    } else {
        execl(self_exe, self_exe, "--glibc-child", ns, check, b == B_SSSD ? "1" : "0",
              (char *)NULL);
    }
    _exit(127);
}

/* Total calls in an strace -c summary, -1 if none. */
static long strace_total(const char *path)
{
    char line[256];
    long calls = -1;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        double pct, secs;
        long usecs, c;
        if (strstr(line, " total") != NULL &&
            sscanf(line, "%lf %lf %ld %ld", &pct, &secs, &usecs, &c) == 4) {
            calls = c;
        }
    }
    fclose(f);
    return calls;
}

/* System calls per lookup of op through glibc with backend b: (calls with
 * G_COUNT_LOOKUPS lookups - calls without) / G_COUNT_LOOKUPS; -1 when
 * strace is missing or a run failed. */
static double glibc_syscalls(enum gbe b, unsigned n, enum gop op)
{
    char out[2][320];
    long calls[2];
    /* files reads its whole file per lookup: under strace, 1 000 lookups
     * of 100 000 entries would take minutes; 20 give the same average */
    unsigned lookups = b == B_FILES && n > 1000 ? 20 : G_COUNT_LOOKUPS;
    for (int k = 0; k < 2; k++) {
        int st;
        snprintf(out[k], sizeof(out[k]), "%s/strace.%s.%d", tmpdir, gbe_module[b], k);
        pid_t pid = glibc_spawn(b, n, -1, -1, out[k], op, k ? lookups : 0);
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            return -1;
        }
        calls[k] = strace_total(out[k]);
        unlink(out[k]);
        if (calls[k] < 0) {
            return -1;
        }
    }
    return (double)(calls[1] - calls[0]) / lookups;
}

/* An interactive measuring process with pipes; the caller keeps
 * g->cmd and g->res. */
static bool gchild_start(struct gchild *g, enum gbe b, unsigned n)
{
    int c[2], r[2];
    memset(g, 0, sizeof(*g));
    if (pipe2(c, O_CLOEXEC) < 0) {
        return false;
    }
    if (pipe2(r, O_CLOEXEC) < 0) {
        close(c[0]);
        close(c[1]);
        return false;
    }
    /* the child's ends lose O_CLOEXEC through dup2 */
    g->pid = glibc_spawn(b, n, c[0], r[1], NULL, G_PWNAM, 0);
    close(c[0]);
    close(r[1]);
    g->cmd = c[1];
    g->res = r[0];
    g->up = g->pid > 0;
    return g->up;
}

static void gchild_stop(struct gchild *g)
{
    if (g->cmd > 0) {
        close(g->cmd);
    }
    if (g->res > 0) {
        close(g->res);
    }
    if (g->pid > 0) {
        waitpid(g->pid, NULL, 0);
    }
    memset(g, 0, sizeof(*g));
}

static double gchild_measure(struct gchild *g, enum gop op)
{
    struct gcmd c = {.op = (int)op, .budget_ms = (unsigned)(G_ROUND_NS / 1000000ull)};
    double ns;
    if (!g->up || write(g->cmd, &c, sizeof(c)) != (ssize_t)sizeof(c) ||
        read(g->res, &ns, sizeof(ns)) != (ssize_t)sizeof(ns)) {
        g->up = false;
        return -1;
    }
    return ns;
}

/* The SSSD figures for n agents, from a child process: its own mount
 * namespace (the tmpfs mounts vanish with it) and a fresh libnss_sss
 * state, since the client keeps the memory cache of a stopped sssd
 * mapped and would never see the next one's. */
static void sssd_measure(const struct backend *b, const char *bin, unsigned n,
                         struct sssd_result *r, struct gchild *g)
{
    int fds[2], gc[2] = {-1, -1}, gr[2] = {-1, -1};
    memset(g, 0, sizeof(*g));
    memset(r, 0, sizeof(*r));
    if (pipe2(gc, O_CLOEXEC) < 0 || pipe2(gr, O_CLOEXEC) < 0) {
        snprintf(r->why, sizeof(r->why), "pipe: %s", strerror(errno));
        return;
    }
    if (pipe(fds) < 0) {
        snprintf(r->why, sizeof(r->why), "pipe: %s", strerror(errno));
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(r->why, sizeof(r->why), "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        struct sssd_result c = {0};
        close(fds[0]);
        if (unshare(CLONE_NEWNS) < 0) {
            snprintf(c.why, sizeof(c.why), "unshare(CLONE_NEWNS): %s", strerror(errno));
        } else if (sssd_start(b, bin, n, &c.start_s, c.why, sizeof(c.why))) {
            c.ok = 1;
            for (int op = 0; op < 3; op++) {
                c.ns[op] = measure(b, (enum op)op, n);
                if (c.ns[op] < 0) {
                    c.ok = 0;
                    snprintf(c.why, sizeof(c.why), "wrong answer from sssd");
                }
            }
            for (int op = 0; op < G_NOPS; op++) {
                c.sys[op] = c.ok ? glibc_syscalls(B_SSSD, n, (enum gop)op) : -1;
            }
        }
        close(gc[1]);
        close(gr[0]);
        ssize_t w = write(fds[1], &c, sizeof(c));
        close(fds[1]);
        if (c.ok) {
            /* the glibc-path process, in this namespace, until the
             * parent closes its command pipe */
            pid_t gp = glibc_spawn(B_SSSD, n, gc[0], gr[1], NULL, G_PWNAM, 0);
            close(gc[0]);
            close(gr[1]);
            if (gp > 0) {
                waitpid(gp, NULL, 0);
            }
        }
        sssd_stop();
        _exit(w == (ssize_t)sizeof(c) ? 0 : 1);
    }
    close(fds[1]);
    close(gc[0]);
    close(gr[1]);
    ssize_t got = read(fds[0], r, sizeof(*r));
    close(fds[0]);
    if (got != (ssize_t)sizeof(*r)) {
        memset(r, 0, sizeof(*r));
        snprintf(r->why, sizeof(r->why), "the sssd measurement process failed");
    }
    if (r->ok) {
        g->pid = pid; /* the manager: waited for after the command pipe closes */
        g->cmd = gc[1];
        g->res = gr[0];
        g->up = true;
    } else {
        close(gc[1]);
        close(gr[0]);
        waitpid(pid, NULL, 0);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median over the rounds of x[r] - y[r] (both measured in round r);
 * NAN when a round of either is missing. */
static double paired_median(const double *x, const double *y)
{
    double d[G_ROUNDS];
    for (int r = 0; r < G_ROUNDS; r++) {
        if (x[r] < 0 || y[r] < 0) {
            return NAN;
        }
        d[r] = x[r] - y[r];
    }
    qsort(d, G_ROUNDS, sizeof(double), cmp_double);
    return d[G_ROUNDS / 2];
}

/* The glibc-path rows for n agents: interleaved rounds over every backend
 * that runs, medians, system calls per lookup. sss: the SSSD process
 * (already running, or !up) and its strace counts. */
static void glibc_rows(unsigned n, struct gchild *sss, const struct sssd_result *sres,
                       const char *sssd_note)
{
    struct gchild g[B_N];
    static double samples[B_N][G_NOPS][G_ROUNDS];
    double med[B_N][G_NOPS], sys[B_N][G_NOPS];
    /* medians over the rounds of openclaw - floor and openclaw - SSSD taken
     * in the same round (a burst of load on the shared machine hits both
     * alike): what the goals are judged by; NAN when not measured */
    double d_floor[G_NOPS], d_sssd[G_NOPS];
    char a[32], b[32], c[32];

    memset(g, 0, sizeof(g));
    for (int be = 0; be < B_N; be++) {
        for (int op = 0; op < G_NOPS; op++) {
            med[be][op] = -1;
            sys[be][op] = -1;
        }
    }
    (void)gchild_start(&g[B_FLOOR], B_FLOOR, n);
    (void)gchild_start(&g[B_OPENCLAW], B_OPENCLAW, n);
    (void)gchild_start(&g[B_FILES], B_FILES, n);
    if (sss != NULL && sss->up) {
        g[B_SSSD] = *sss;
        for (int op = 0; op < G_NOPS; op++) {
            sys[B_SSSD][op] = sres->sys[op];
        }
    }
    /* rounds: every backend once per lookup kind, the order rotated */
    for (int r = 0; r < G_ROUNDS; r++) {
        for (int op = 0; op < G_NOPS; op++) {
            for (int k = 0; k < B_N; k++) {
                int be = (k + r) % B_N;
                samples[be][op][r] = g[be].up ? gchild_measure(&g[be], (enum gop)op) : -1;
            }
        }
    }
    for (int op = 0; op < G_NOPS; op++) {
        d_floor[op] = paired_median(samples[B_OPENCLAW][op], samples[B_FLOOR][op]);
        d_sssd[op] = paired_median(samples[B_OPENCLAW][op], samples[B_SSSD][op]);
    }
    for (int be = 0; be < B_N; be++) {
        for (int op = 0; op < G_NOPS; op++) {
            bool ok = g[be].up;
            for (int r = 0; r < G_ROUNDS; r++) {
                ok = ok && samples[be][op][r] >= 0;
            }
            if (ok) {
                qsort(samples[be][op], G_ROUNDS, sizeof(double), cmp_double);
                med[be][op] = samples[be][op][G_ROUNDS / 2];
            }
        }
        gchild_stop(&g[be]); /* for sss: closes the pipes, waits for its manager */
    }
    for (int be = 0; be < B_N; be++) {
        if (be == B_SSSD) {
            continue;
        }
        for (int op = 0; op < G_NOPS; op++) {
            sys[be][op] = glibc_syscalls((enum gbe)be, n, (enum gop)op);
        }
    }

    printf("\n%8u  through glibc (median of %d interleaved rounds, ns per call; system calls "
           "per lookup):\n",
           n, G_ROUNDS);
    printf("%8s  %-16s", "agents", "lookup");
    for (int be = 0; be < B_N; be++) {
        printf("  %17s", gbe_label[be]);
    }
    printf("  %14s  %13s\n", "openclaw-floor", "openclaw-SSSD");
    for (int op = 0; op < G_NOPS; op++) {
        printf("%8u  %-16s", n, gop_names[op]);
        for (int be = 0; be < B_N; be++) {
            char cell[40];
            if (med[be][op] < 0) {
                snprintf(cell, sizeof(cell), "n/a");
            } else if (sys[be][op] < 0) {
                snprintf(cell, sizeof(cell), "%.0f ns", med[be][op]);
            } else {
                snprintf(cell, sizeof(cell), "%.0f ns / %.2f sc", med[be][op], sys[be][op]);
            }
            printf("  %17s", cell);
        }
        /* paired in each round, see d_floor */
        printf("  %+11.0f ns  %+10.0f ns\n", d_floor[op], d_sssd[op]);
    }

    for (int op = 0; op < G_NOPS; op++) {
        double o = med[B_OPENCLAW][op], fl = med[B_FLOOR][op], ss = med[B_SSSD][op];
        char fig[96], peer[160], ratio[64] = "–", goal[128] = "–";
        snprintf(fig, sizeof(fig), "%s via glibc, %s agents", gop_names[op],
                 bench_num(a, sizeof(a), n));
        if (o < 0) {
            bench_row("NSS", "%s | not measured (wrong answer or no namespace) | – | – | –", fig);
            continue;
        }
        if (ss >= 0) {
            snprintf(peer, sizeof(peer), "floor %s ns; SSSD memory cache %s ns",
                     bench_num(b, sizeof(b), fl), bench_num(c, sizeof(c), ss));
            snprintf(ratio, sizeof(ratio), "%.2f× SSSD's time", o / ss);
        } else {
            snprintf(peer, sizeof(peer), "floor %s ns; SSSD memory cache: %s",
                     bench_num(b, sizeof(b), fl), sssd_note);
        }
        bool floor_ok = !isnan(d_floor[op]) && d_floor[op] <= 500;
        bool sssd_ok = !isnan(d_sssd[op]) && d_sssd[op] < 0;
        if (op == G_GRNAM) {
            snprintf(goal, sizeof(goal), "–");
        } else if (ss >= 0) {
            snprintf(goal, sizeof(goal), "≤ floor + 500 ns: %s; faster than SSSD: %s",
                     floor_ok ? "met" : "not met", sssd_ok ? "met" : "not met");
        } else {
            snprintf(goal, sizeof(goal), "≤ floor + 500 ns: %s", floor_ok ? "met" : "not met");
        }
        bench_row("NSS", "%s | %s ns (floor + %s ns, paired by round) | %s | %s | %s", fig,
                  bench_num(a, sizeof(a), o),
                  bench_num(c, sizeof(c), isnan(d_floor[op]) ? 0 : d_floor[op]), peer, ratio, goal);
    }
    for (int op = 0; op < G_NOPS; op++) {
        if (op != G_PWNAM && op != G_INITGROUPS && op != G_MISS) {
            continue;
        }
        double o = sys[B_OPENCLAW][op], fl = sys[B_FLOOR][op], ss = sys[B_SSSD][op];
        if (o < 0 || fl < 0) {
            bench_row("NSS",
                      "system calls per %s via glibc, %s agents | not counted (strace?) "
                      "| – | – | –",
                      gop_names[op], bench_num(a, sizeof(a), n));
            continue;
        }
        char sssd_sc[32] = "n/a";
        if (ss >= 0) {
            snprintf(sssd_sc, sizeof(sssd_sc), "%.2f", ss);
        }
        bench_row("NSS",
                  "system calls per %s via glibc, %s agents | %.2f (module: %.2f) | floor %.2f, "
                  "SSSD %s, files %.2f | – | module makes 0: %s",
                  gop_names[op], bench_num(a, sizeof(a), n), o, o - fl, fl, sssd_sc,
                  sys[B_FILES][op], o - fl < 0.01 ? "met" : "not met");
    }
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

/* One figure into the combined table: openclaw against a peer (ns). */
static void table_lookup(unsigned n, const char *op, double o, const char *peer, double p,
                         const char *goal)
{
    char a[32], b[32], fig[64];
    snprintf(fig, sizeof(fig), "%s, %s agents", op, bench_num(a, sizeof(a), n));
    if (p <= 0) {
        bench_row("NSS", "%s | %s ns | %s | – | %s", fig, bench_num(a, sizeof(a), o), peer, goal);
        return;
    }
    double r = p / o;
    if (r >= 0.95 && r < 1.05) {
        bench_row("NSS", "%s | %s ns | %s %s ns | about the same (%.2f×) | %s", fig,
                  bench_num(a, sizeof(a), o), peer, bench_num(b, sizeof(b), p), r, goal);
    } else if (r >= 1) {
        bench_row("NSS", "%s | %s ns | %s %s ns | %.*f× faster | %s", fig,
                  bench_num(a, sizeof(a), o), peer, bench_num(b, sizeof(b), p), r < 10 ? 1 : 0, r,
                  goal);
    } else {
        bench_row("NSS", "%s | %s ns | %s %s ns | %.1f× slower | %s", fig,
                  bench_num(a, sizeof(a), o), peer, bench_num(b, sizeof(b), p), 1 / r, goal);
    }
}

/* SSSD's proxy provider (sssd-proxy), next to libnss_sss.so.2 (fn is in
 * it): LIBDIR/sssd/libsss_proxy.so. */
static bool sssd_proxy_installed(void *fn)
{
    Dl_info info;
    char path[PATH_MAX];
    if (dladdr(fn, &info) == 0 || info.dli_fname == NULL) {
        return false;
    }
    const char *slash = strrchr(info.dli_fname, '/');
    if (slash == NULL) {
        return false;
    }
    snprintf(path, sizeof(path), "%.*s/sssd/libsss_proxy.so", (int)(slash - info.dli_fname),
             info.dli_fname);
    return access(path, R_OK) == 0;
}

int main(int argc, char **argv)
{
    static const unsigned sizes[] = {10, 1000, 100000};
    static const char *const opnames[] = {"getpwnam", "getpwuid", "initgroups"};
    static const char *const not_installed =
            "not measured (install with scripts/install-deps.sh --bench)";
    char conf[300], why[256] = "", sssd_why[256] = "";
    struct backend oc = {.name = "openclaw"}, files = {.name = "files"}, sss = {.name = "sssd"};
    bool ns_ok = true, first = true, sssd_ok = true;
    const char *sssd_bin = getenv("OC_BENCH_SSSD");

    if (argc > 1) {
        return glibc_child(argc, argv); /* a measuring process, see glibc_spawn */
    }
    ssize_t sl = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
    if (sl <= 0) {
        perror("bench/nss: /proc/self/exe");
        return 1;
    }
    self_exe[sl] = '\0';

    if (sssd_bin == NULL || sssd_bin[0] == '\0') {
        sssd_bin = SSSD_DEFAULT;
    }
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
    /* the modules glibc loads by name, for the glibc-path processes */
    snprintf(libdir, sizeof(libdir), "%s/lib", tmpdir);
    char l1[400], l2[400];
    snprintf(l1, sizeof(l1), "%s/libnss_openclaw.so.2", libdir);
    snprintf(l2, sizeof(l2), "%s/libnss_ocnoop.so.2", libdir);
    if (mkdir(libdir, 0755) < 0 || symlink(OC_NSS_MODULE_PATH, l1) < 0 ||
        symlink(OC_NSS_NOOP_DIR "/libnss_ocnoop.so.2", l2) < 0) {
        perror("bench/nss: module directory");
        return 1;
    }

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
    void *hs =
            access(sssd_bin, X_OK) == 0 ? dlopen("libnss_sss.so.2", RTLD_NOW | RTLD_LOCAL) : NULL;
    if (hs != NULL) {
        *(void **)&sss.getpwnam = dlsym(hs, "_nss_sss_getpwnam_r");
        *(void **)&sss.getpwuid = dlsym(hs, "_nss_sss_getpwuid_r");
        *(void **)&sss.initgroups = dlsym(hs, "_nss_sss_initgroups_dyn");
        *(void **)&sss.getgrnam = dlsym(hs, "_nss_sss_getgrnam_r");
    }
    if (sss.getpwnam == NULL || sss.getpwuid == NULL || sss.initgroups == NULL ||
        !sssd_proxy_installed((void *)sss.getpwnam)) {
        sssd_ok = false;
        snprintf(sssd_why, sizeof(sssd_why), "%s", not_installed);
    }
    first_backend = &oc;
    if (files.getpwnam == NULL || files.getpwuid == NULL || files.initgroups == NULL) {
        ns_ok = false;
        snprintf(why, sizeof(why), "glibc does not export _nss_files_* (needs glibc >= 2.34)");
    }
    if (geteuid() != 0) {
        printf("bench/nss: the module accepts only a root-owned config: run as root\n");
        bench_row("NSS", "lookups | not measured (needs root) | – | – | –");
        return 0;
    }

    printf("NSS lookups: ns per call (lower is better); files = glibc's files backend over a\n"
           "passwd/group file with the same entries (private mount namespace); sssd = SSSD's\n"
           "NSS memory cache (libnss_sss.so.2, its cache database preloaded with the same\n"
           "entries, memory cache warmed); same run.\n\n");
    printf("%8s  %-10s  %12s  %12s  %12s  %12s  %10s\n", "agents", "lookup", "openclaw ns",
           "files ns", "files/oc", "sssd ns", "sssd/oc");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        unsigned n = sizes[s];
        size_t cache_size, raw;
        bool sssd_run = false;
        double sssd_start_s = 0;
        char sssd_note[300] = "";
        struct sssd_result sres;
        struct gchild sss_g = {0};
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
        if (!sssd_ok) {
            snprintf(sssd_note, sizeof(sssd_note), "%s", sssd_why);
        } else if (!ns_ok) {
            snprintf(sssd_note, sizeof(sssd_note), "not measured (no private mount namespace)");
        } else {
            sssd_measure(&sss, sssd_bin, n, &sres, &sss_g);
            sssd_run = sres.ok != 0;
            sssd_start_s = sres.start_s;
            if (!sssd_run) {
                snprintf(sssd_note, sizeof(sssd_note), "not measured (%s)", sres.why);
                fprintf(stderr, "bench/nss: sssd at %u agents: %s\n", n, sres.why);
            }
        }
        for (int op = 0; op < 3; op++) {
            double o = measure(&oc, (enum op)op, n);
            double fl = ns_ok ? measure(&files, (enum op)op, n) : 0;
            double ss = sssd_run ? sres.ns[op] : 0;
            if (o < 0 || (ns_ok && fl < 0) || ss < 0) {
                printf("%8u  %-10s  wrong answer from %s\n", n, opnames[op],
                       o < 0    ? "openclaw"
                       : fl < 0 ? "files"
                                : "sssd");
                bench_row("NSS", "%s, %u agents | wrong answer from %s | | | ", opnames[op], n,
                          o < 0    ? "openclaw"
                          : fl < 0 ? "files"
                                   : "sssd");
                continue;
            }
            char sc[16] = "n/a", sr[16] = "n/a";
            if (sssd_run) {
                snprintf(sc, sizeof(sc), "%.0f", ss);
                snprintf(sr, sizeof(sr), "%.1fx", ss / o);
            }
            if (ns_ok) {
                printf("%8u  %-10s  %12.0f  %12.0f  %11.1fx  %12s  %10s\n", n, opnames[op], o, fl,
                       fl / o, sc, sr);
            } else {
                printf("%8u  %-10s  %12.0f  %12s  %12s  %12s  %10s\n", n, opnames[op], o, "n/a",
                       "n/a", sc, sr);
            }
            char goal[80] = "";
            if (n == 10 && ns_ok) {
                snprintf(goal, sizeof(goal), "≤ 1.2× files' time: %s",
                         o <= 1.2 * fl ? "met" : "not met");
            } else if (n == 100000 && ns_ok) {
                snprintf(goal, sizeof(goal), "≥ 1 000× faster than files: %s",
                         fl >= 1000 * o ? "met" : "not met");
            }
            table_lookup(n, opnames[op], o, ns_ok ? "files" : why, ns_ok ? fl : 0, goal);
            if (sssd_run) {
                table_lookup(n, opnames[op], o, "SSSD memory cache", ss, "– (the design's model)");
            } else {
                char a[32], b[32];
                bench_row("NSS", "%s, %s agents | %s ns | SSSD memory cache: %s | – | –",
                          opnames[op], bench_num(a, sizeof(a), n), bench_num(b, sizeof(b), o),
                          sssd_note);
            }
        }
        if (sssd_run) {
            printf("%8u  sssd: start + warming the memory cache with every agent %.1f s\n", n,
                   sssd_start_s);
        } else if (sssd_note[0] != '\0') {
            printf("%8u  sssd: %s\n", n, sssd_note);
        }
        if (ns_ok) {
            glibc_rows(n, &sss_g, sssd_run ? &sres : NULL, sssd_note);
        } else {
            bench_row("NSS", "lookups via glibc, %u agents | not measured (%s) | – | – | –", n,
                      why);
        }
        measure_parts(n);
        printf("%8u  cache file %zu bytes, raw passwd+group lines %zu bytes: %.2fx\n", n,
               cache_size, raw, (double)cache_size / (double)raw);
        char a[32], b[32], c[32];
        bench_row("NSS",
                  "cache file, %s agents | %s B | raw passwd + group lines %s B | %.2f× | "
                  "≤ 2× raw: %s",
                  bench_num(a, sizeof(a), n), bench_num(b, sizeof(b), (double)cache_size),
                  bench_num(c, sizeof(c), (double)raw), (double)cache_size / (double)raw,
                  cache_size <= 2 * raw ? "met" : "not met");
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
    const char *names[] = {"passwd",
                           "group",
                           "nss.cache",
                           "openclaw.conf",
                           "sssd.conf",
                           "sssd.log",
                           "passwd.sssd",
                           "group.sssd",
                           "nsswitch.ocnoop.conf",
                           "nsswitch.openclaw.conf",
                           "nsswitch.sss.conf",
                           "nsswitch.files.conf",
                           "lib/libnss_openclaw.so.2",
                           "lib/libnss_ocnoop.so.2"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(libdir);
    rmdir(tmpdir);
    return 0;
}
