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
 * SSSD column (the design's model): when sssd and libnss_sss.so.2 are
 * installed (scripts/install-deps.sh --bench), for the sizes up to
 * SSSD_MAX_AGENTS the program also starts sssd inside the same private
 * namespace -- a tmpfs over /var/lib/sss and /run, its own sssd.conf (mode
 * 0600) with one domain of the files provider over the same passwd and
 * group files -- warms SSSD's NSS memory cache with every agent, and calls
 * _nss_sss_* from libnss_sss.so.2 the same way. sssd is stopped by its
 * process group before the next size. Nothing on the host changes.
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
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
/* SSSD's files provider loads every entry into its database at start (and
 * its NSS responder gives up waiting for it at 100 000 entries on a slow
 * host), so the SSSD column stops at 1 000 agents. */
#define SSSD_MAX_AGENTS 1000u
#define SSSD_START_S    150 /* the most a start + warm-up may take */
#define SSSD_DEFAULT    "/usr/sbin/sssd"
#define SSSD_PIPE       "/var/lib/sss/pipes/nss"

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

static bool tmpfs_at(const char *where, char *why, size_t len)
{
    if (mount("tmpfs", where, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m") < 0) {
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

/* Start sssd over tmpdir's passwd/group (files provider) in this mount
 * namespace and wait until its NSS responder answers for every agent,
 * which fills the memory cache (passwd by name and uid, initgroups). */
static bool sssd_start(const struct backend *b, const char *bin, unsigned n, double *start_s,
                       char *why, size_t len)
{
    static const char *const dirs[] = {"/var/lib/sss/db",      "/var/lib/sss/mc",
                                       "/var/lib/sss/pipes",   "/var/lib/sss/pipes/private",
                                       "/var/lib/sss/pubconf", "/var/lib/sss/gpo_cache"};
    static const mode_t modes[] = {0700, 0775, 0755, 0700, 0755, 0755};
    char conf[96], log[96], name[24], buf[1024];
    uint64_t t0 = now_ns(), deadline = t0 + SSSD_START_S * 1000000000ull;

    /* sssd writes its pid file to /run/sssd.pid; its database, memory
     * cache and sockets under /var/lib/sss. */
    if (!tmpfs_at("/run", why, len) || !tmpfs_at("/var/lib/sss", why, len)) {
        return false;
    }
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (mkdir(dirs[i], modes[i]) < 0) {
            snprintf(why, len, "mkdir %s: %s", dirs[i], strerror(errno));
            return false;
        }
    }
    snprintf(conf, sizeof(conf), "%s/sssd.conf", tmpdir);
    snprintf(log, sizeof(log), "%s/sssd.log", tmpdir);
    int fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        snprintf(why, len, "cannot write %s: %s", conf, strerror(errno));
        return false;
    }
    fprintf(f,
            "[sssd]\nservices = nss\ndomains = bench\n\n"
            "[nss]\nmemcache_timeout = 3600\n\n"
            "[domain/bench]\nid_provider = files\npasswd_files = %s/passwd\n"
            "group_files = %s/group\n",
            tmpdir, tmpdir);
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

    /* Every agent once by name (fills the passwd cache for name and uid)
     * and once by initgroups; retried until the provider has loaded. */
    for (unsigned i = 0; i < n; i++) {
        struct passwd pw;
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
            bool ok = b->getpwnam(name, &pw, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS &&
                      pw.pw_uid == UMIN + i &&
                      b->getpwuid(UMIN + i, &pw, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS &&
                      b->initgroups(name, UMIN + i, &start, &size, &gp, 0, &err) ==
                              NSS_STATUS_SUCCESS &&
                      start == 2;
            free(gp);
            if (ok) {
                break;
            }
            if (waitpid(sssd_pid, NULL, WNOHANG) == sssd_pid) {
                snprintf(why, len, "sssd exited during start");
                sssd_log_tail(log);
                sssd_pid = -1;
                return false;
            }
            if (now_ns() > deadline) {
                snprintf(why, len, "sssd did not answer for %s within %d s", name, SSSD_START_S);
                sssd_log_tail(log);
                sssd_stop();
                return false;
            }
            usleep(50000);
        }
    }
    *start_s = (double)(now_ns() - t0) / 1e9;
    return true;
}

struct sssd_result {
    int ok;
    double start_s;
    double ns[3];
    char why[200];
};

/* The SSSD figures for n agents, from a child process: its own mount
 * namespace (the tmpfs mounts vanish with it) and a fresh libnss_sss
 * state, since the client keeps the memory cache of a stopped sssd
 * mapped and would never see the next one's. */
static void sssd_measure(const struct backend *b, const char *bin, unsigned n,
                         struct sssd_result *r)
{
    int fds[2];
    memset(r, 0, sizeof(*r));
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
            sssd_stop();
        }
        ssize_t w = write(fds[1], &c, sizeof(c));
        _exit(w == (ssize_t)sizeof(c) ? 0 : 1);
    }
    close(fds[1]);
    ssize_t got = read(fds[0], r, sizeof(*r));
    close(fds[0]);
    waitpid(pid, NULL, 0);
    if (got != (ssize_t)sizeof(*r)) {
        memset(r, 0, sizeof(*r));
        snprintf(r->why, sizeof(r->why), "the sssd measurement process failed");
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

int main(void)
{
    static const unsigned sizes[] = {10, 1000, 100000};
    static const char *const opnames[] = {"getpwnam", "getpwuid", "initgroups"};
    static const char *const not_installed =
            "not measured (install with scripts/install-deps.sh --bench)";
    char conf[300], why[256] = "", sssd_why[256] = "";
    struct backend oc = {.name = "openclaw"}, files = {.name = "files"}, sss = {.name = "sssd"};
    bool ns_ok = true, first = true, sssd_ok = true;
    const char *sssd_bin = getenv("OC_BENCH_SSSD");

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
    }
    if (sss.getpwnam == NULL || sss.getpwuid == NULL || sss.initgroups == NULL) {
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
           "NSS memory cache (libnss_sss.so.2, files provider over the same files, cache\n"
           "warmed); same run.\n\n");
    printf("%8s  %-10s  %12s  %12s  %12s  %12s  %10s\n", "agents", "lookup", "openclaw ns",
           "files ns", "files/oc", "sssd ns", "sssd/oc");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        unsigned n = sizes[s];
        size_t cache_size, raw;
        bool sssd_run = false;
        double sssd_start_s = 0;
        char sssd_note[300] = "";
        struct sssd_result sres;
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
        } else if (n > SSSD_MAX_AGENTS) {
            snprintf(sssd_note, sizeof(sssd_note),
                     "not measured (files provider loads every entry at start; "
                     "measured up to 1 000 agents)");
        } else {
            sssd_measure(&sss, sssd_bin, n, &sres);
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
    const char *names[] = {"passwd",        "group",     "nss.cache",
                           "openclaw.conf", "sssd.conf", "sssd.log"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    return 0;
}
