/* SPDX-License-Identifier: MIT */
/*
 * nss-stress: 16 threads of mixed lookups through the built
 * libnss_openclaw.so.2 (dlopen'ed, entry points called directly) while the
 * main thread, in turn:
 *   1. replaces the cache 50 times through the real writer (rename, then
 *      the old file marked replaced);
 *   2. starts writer processes that replace it in a loop and kills each
 *      with SIGKILL after a random 1-20 ms: mid-write, between the rename
 *      and the mark, anywhere; then waits the 1 s bound for the readers
 *      to leave a file a killed writer left unmarked;
 *   3. lets another account write: as uid 65534 it cannot open the cache
 *      for writing or truncate it; a cache that account owns (root renamed
 *      it into place) is refused by the module, and the account then
 *      truncates and overwrites it under the readers;
 *   4. writes a good cache again.
 * Every answer must be right and whole: each generation of the cache
 * stamps its generation into the gecos and home of every agent, so an
 * answer mixing two generations, a wrong uid for a name, or a missing
 * agent is a failure; no reader may crash (no SIGBUS); UNAVAIL is allowed
 * only while the hostile account's file is in place. Prints TAP.
 *
 * OC_STRESS_THREADS / OC_STRESS_LOOKUPS (the least per thread) /
 * OC_STRESS_REPLACEMENTS override the sizes (e.g. smaller under helgrind
 * or TSan; see docs/nss.md).
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helper/lib/oc_nsscwrite.h"
#include "nsscache.h"

#ifndef OC_NSS_MODULE_PATH
#error "OC_NSS_MODULE_PATH must name the built module"
#endif

#define UMIN           300000u
#define UMAX           399999u
#define AGENTS         1000u
#define TEAMS          10u
#define MAX_GEN        1000000u
#define KILLED_WRITERS 10u
#define KILLED_GEN     500u /* generations written by the killed writers */
#define HOSTILE_GEN    900u /* the cache another account owns */

typedef enum nss_status (*getpwnam_fn)(const char *, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getpwuid_fn)(uid_t, struct passwd *, char *, size_t, int *);
typedef enum nss_status (*getgrgid_fn)(gid_t, struct group *, char *, size_t, int *);
typedef enum nss_status (*initgroups_fn)(const char *, gid_t, long int *, long int *, gid_t **,
                                         long int, int *);

static getpwnam_fn f_getpwnam;
static getpwuid_fn f_getpwuid;
static getgrgid_fn f_getgrgid;
static initgroups_fn f_initgroups;

static char cache_path[256];
static unsigned long lookups = 100000;
static atomic_ulong wrong, unavail, hostile_unavail, gens_seen_mask, done_lookups;
/* odd while a file another account owns is at the path; moves on at the
 * start and at the end of that phase */
static atomic_uint hostile;
static atomic_int stop;
static atomic_uint max_gen_seen;
static char first_error[256];
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;
    atomic_fetch_add(&wrong, 1);
    pthread_mutex_lock(&err_lock);
    if (first_error[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(first_error, sizeof(first_error), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&err_lock);
}

static int build_generation(unsigned gen, void **ret_img, size_t *ret_len)
{
    static struct oc_nssc_user_in u[AGENTS];
    static struct oc_nssc_group_in g[AGENTS + TEAMS];
    static char names[AGENTS][16], gecos[AGENTS][48], homes[AGENTS][48], teams[TEAMS][16];
    static const char *members[TEAMS][AGENTS / TEAMS];

    for (unsigned i = 0; i < AGENTS; i++) {
        snprintf(names[i], sizeof(names[i]), "agent-%04u", i);
        snprintf(gecos[i], sizeof(gecos[i]), "g%u agent-%04u", gen, i);
        snprintf(homes[i], sizeof(homes[i]), "/home/g%u/agent-%04u", gen, i);
        u[i] = (struct oc_nssc_user_in){.name = names[i],
                                        .uid = UMIN + i,
                                        .gid = UMIN + i,
                                        .gecos = gecos[i],
                                        .dir = homes[i],
                                        .shell = "/bin/sh",
                                        .enabled = true};
        g[i] = (struct oc_nssc_group_in){.name = names[i], .gid = UMIN + i};
        members[i % TEAMS][i / TEAMS] = names[i];
    }
    for (unsigned t = 0; t < TEAMS; t++) {
        snprintf(teams[t], sizeof(teams[t]), "team-%u", t);
        g[AGENTS + t] = (struct oc_nssc_group_in){.name = teams[t],
                                                  .gid = UMAX - t,
                                                  .members = members[t],
                                                  .n_members = AGENTS / TEAMS};
    }
    return oc_nssc_build(u, AGENTS, g, AGENTS + TEAMS, NULL, ret_img, ret_len);
}

static int write_generation(unsigned gen)
{
    void *img;
    size_t len;
    int r = build_generation(gen, &img, &len);
    if (r == 0) {
        r = oc_nssc_write_file(cache_path, img, len);
        free(img);
    }
    return r;
}

/* UNAVAIL: allowed only around the hostile phase. */
static void count_unavail(unsigned hostile_before)
{
    /* the lookup overlapped the hostile phase: it began inside it, or the
     * phase began or ended while it ran */
    if ((hostile_before & 1) != 0 || atomic_load(&hostile) != hostile_before) {
        atomic_fetch_add(&hostile_unavail, 1);
    } else {
        atomic_fetch_add(&unavail, 1);
    }
}

/* "g<gen> agent-NNNN" and "/home/g<gen>/agent-NNNN" for agent i, same gen. */
static void check_pw(const struct passwd *pw, unsigned i)
{
    char want[64];
    unsigned gen;
    if (pw->pw_uid != UMIN + i || pw->pw_gid != UMIN + i) {
        fail("agent %u: uid %u gid %u", i, (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
        return;
    }
    snprintf(want, sizeof(want), "agent-%04u", i);
    if (strcmp(pw->pw_name, want) != 0) {
        fail("uid %u: name %s", (unsigned)pw->pw_uid, pw->pw_name);
        return;
    }
    if (sscanf(pw->pw_gecos, "g%u ", &gen) != 1 || gen > MAX_GEN) {
        fail("agent %u: gecos %s", i, pw->pw_gecos);
        return;
    }
    snprintf(want, sizeof(want), "g%u agent-%04u", gen, i);
    if (strcmp(pw->pw_gecos, want) != 0) {
        fail("agent %u: gecos %s", i, pw->pw_gecos);
        return;
    }
    snprintf(want, sizeof(want), "/home/g%u/agent-%04u", gen, i);
    if (strcmp(pw->pw_dir, want) != 0) {
        fail("agent %u: torn answer: gecos %s dir %s", i, pw->pw_gecos, pw->pw_dir);
        return;
    }
    unsigned prev = atomic_load(&max_gen_seen);
    while (gen > prev && !atomic_compare_exchange_weak(&max_gen_seen, &prev, gen)) {
    }
    atomic_fetch_or(&gens_seen_mask, 1ul << (gen % 64));
}

static void *reader(void *arg)
{
    uint64_t x = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    char buf[512];
    struct passwd pw;
    struct group gr;
    int err;

    /* at least `lookups`, then until the writer is done; bounded by count */
    unsigned long n = 0;
    for (; n < 1000 * lookups && (n < lookups || !atomic_load(&stop)); n++) {
        unsigned hb = atomic_load(&hostile);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned i = (unsigned)(x % AGENTS);
        unsigned op = (unsigned)((x >> 32) % 8);
        char name[32];
        enum nss_status st;
        snprintf(name, sizeof(name), "agent-%04u", i);

        switch (op) {
        case 0:
        case 1:
        case 2:
            st = f_getpwnam(name, &pw, buf, sizeof(buf), &err);
            if (st == NSS_STATUS_SUCCESS) {
                check_pw(&pw, i);
            } else if (st == NSS_STATUS_UNAVAIL) {
                count_unavail(hb);
            } else {
                fail("getpwnam %s: status %d errno %d", name, st, err);
            }
            break;
        case 3:
        case 4:
            st = f_getpwuid(UMIN + i, &pw, buf, sizeof(buf), &err);
            if (st == NSS_STATUS_SUCCESS) {
                check_pw(&pw, i);
            } else if (st == NSS_STATUS_UNAVAIL) {
                count_unavail(hb);
            } else {
                fail("getpwuid %u: status %d errno %d", UMIN + i, st, err);
            }
            break;
        case 5:
            st = f_getgrgid(UMAX - i % TEAMS, &gr, buf, sizeof(buf), &err);
            if (st == NSS_STATUS_SUCCESS) {
                char want[16];
                snprintf(want, sizeof(want), "team-%u", i % TEAMS);
                size_t nm = 0;
                while (gr.gr_mem[nm] != NULL) {
                    nm++;
                }
                if (strcmp(gr.gr_name, want) != 0 || nm != AGENTS / TEAMS) {
                    fail("getgrgid: %s with %zu members", gr.gr_name, nm);
                }
            } else if (st == NSS_STATUS_TRYAGAIN && err == ERANGE) {
                /* 100 members do not fit in 512 bytes: fine, correct answer */
            } else if (st == NSS_STATUS_UNAVAIL) {
                count_unavail(hb);
            } else {
                fail("getgrgid: status %d errno %d", st, err);
            }
            break;
        case 6: {
            long int start = 1, size = 2;
            gid_t *groups = malloc(2 * sizeof(gid_t));
            groups[0] = UMIN + i;
            st = f_initgroups(name, UMIN + i, &start, &size, &groups, 0, &err);
            if (st == NSS_STATUS_SUCCESS) {
                if (start != 2 || groups[1] != UMAX - i % TEAMS) {
                    fail("initgroups %s: %ld groups", name, start);
                }
            } else if (st == NSS_STATUS_UNAVAIL) {
                count_unavail(hb);
            } else {
                fail("initgroups %s: status %d", name, st);
            }
            free(groups);
            break;
        }
        default:
            st = f_getpwnam("no-such-agent", &pw, buf, sizeof(buf), &err);
            if (st == NSS_STATUS_UNAVAIL) {
                count_unavail(hb);
            } else if (st != NSS_STATUS_NOTFOUND) {
                fail("miss: status %d", st);
            } else if (st == NSS_STATUS_NOTFOUND && err != ENOENT) {
                fail("miss: errno %d", err);
            }
            break;
        }
    }
    atomic_fetch_add(&done_lookups, n);
    return NULL;
}

static void sleep_ms(unsigned ms)
{
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&d, &d) < 0 && errno == EINTR) {
    }
}

/* Temporary files killed writers left (".nss.cache.XXXXXX"): removed,
 * as openclawd's sweep does; returns how many. */
static unsigned long remove_leftovers(const char *dir)
{
    unsigned long n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, ".nss.cache.", 11) == 0) {
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            n += unlink(p) == 0;
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    return n;
}

/* Phase 3, see the top. 1 when every step behaved. */
static int hostile_phase(void)
{
    void *img;
    size_t len;
    char tmp[300];
    int ok = 1;

    if (build_generation(HOSTILE_GEN, &img, &len) < 0) {
        return 0;
    }
    /* a) the account cannot open the root-owned cache for writing */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) {
            _exit(3);
        }
        int fd = open(cache_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
        int fd2 = open(cache_path, O_RDWR | O_CLOEXEC);
        _exit(fd < 0 && errno == EACCES && fd2 < 0 ? 0 : 4);
    }
    int wst = 0;
    ok = ok && pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0;

    /* b) a cache owned by the account is renamed into place (marking the
     * old one): the module must refuse it */
    snprintf(tmp, sizeof(tmp), "%s.hostile", cache_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ok = ok && fd >= 0 && write(fd, img, len) == (ssize_t)len && fchown(fd, 65534, 65534) == 0;
    if (fd >= 0) {
        close(fd);
    }
    free(img);
    atomic_fetch_add(&hostile, 1); /* odd: in */
    int old = open(cache_path, O_RDWR | O_CLOEXEC);
    ok = ok && rename(tmp, cache_path) == 0;
    if (old >= 0) {
        ok = ok && oc_nssc_mark_replaced(old) == 0;
        close(old);
    }
    sleep_ms(20);

    /* c) the account truncates and overwrites its file under the readers */
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0) {
            _exit(3);
        }
        for (int i = 0; i < 200; i++) {
            int w = open(cache_path, O_WRONLY | O_CLOEXEC);
            if (w < 0 || ftruncate(w, i % 2 ? 0 : 4096) < 0) {
                _exit(4);
            }
            char junk[4096];
            memset(junk, i, sizeof(junk));
            if (pwrite(w, junk, sizeof(junk), 0) != (ssize_t)sizeof(junk)) {
                _exit(5);
            }
            close(w);
            struct timespec d = {0, 100000};
            nanosleep(&d, NULL);
        }
        _exit(0);
    }
    ok = ok && pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0;
    return ok;
}

static unsigned long env_num(const char *name, unsigned long def)
{
    const char *v = getenv(name);
    char *end;
    if (v == NULL || *v == '\0') {
        return def;
    }
    unsigned long n = strtoul(v, &end, 10);
    return (*end == '\0' && n > 0) ? n : def;
}

int main(void)
{
    char dir[] = "/tmp/nss-stress.XXXXXX";
    char conf[256], text[1024];
    unsigned long threads = env_num("OC_STRESS_THREADS", 16);
    unsigned long replacements = env_num("OC_STRESS_REPLACEMENTS", 50);
    lookups = env_num("OC_STRESS_LOOKUPS", 100000);

    if (geteuid() != 0) {
        printf("1..0 # SKIP the module accepts only a root-owned config; run as root\n");
        return 0;
    }
    if (threads > 256) {
        threads = 256;
    }
    if (mkdtemp(dir) == NULL) {
        printf("1..0 # SKIP mkdtemp: %s\n", strerror(errno));
        return 0;
    }
    chmod(dir, 0755);
    snprintf(conf, sizeof(conf), "%s/openclaw.conf", dir);
    snprintf(cache_path, sizeof(cache_path), "%s/nss.cache", dir);
    snprintf(text, sizeof(text),
             "[global]\ntenant_id = 11111111-2222-3333-4444-555555555555\n"
             "audiences = api://openclaw-host\nuid_min = %u\nuid_max = %u\nnss_cache = %s\n",
             UMIN, UMAX, cache_path);
    FILE *f = fopen(conf, "w");
    if (f == NULL) {
        printf("1..0 # SKIP cannot write %s\n", conf);
        return 0;
    }
    fputs(text, f);
    fclose(f);
    chmod(conf, 0644);
    setenv("OPENCLAW_CONFIG", conf, 1);

    printf("1..7\n");
    void *h = dlopen(OC_NSS_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        printf("not ok 1 - dlopen %s: %s\n", OC_NSS_MODULE_PATH, dlerror());
        return 1;
    }
    *(void **)&f_getpwnam = dlsym(h, "_nss_openclaw_getpwnam_r");
    *(void **)&f_getpwuid = dlsym(h, "_nss_openclaw_getpwuid_r");
    *(void **)&f_getgrgid = dlsym(h, "_nss_openclaw_getgrgid_r");
    *(void **)&f_initgroups = dlsym(h, "_nss_openclaw_initgroups_dyn");
    bool syms = f_getpwnam && f_getpwuid && f_getgrgid && f_initgroups;
    printf("%s 1 - module loaded\n", syms && write_generation(0) == 0 ? "ok" : "not ok");
    if (!syms) {
        return 1;
    }

    pthread_t tid[256];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned long t = 0; t < threads; t++) {
        pthread_create(&tid[t], NULL, reader, (void *)(uintptr_t)(t + 1));
    }

    /* 1. marked replacements */
    unsigned long written = 0, write_errors = 0;
    for (unsigned gen = 1; gen <= replacements; gen++) {
        if (write_generation(gen) < 0) {
            write_errors++;
        } else {
            written++;
        }
        sleep_ms(5);
    }

    /* 2. writers killed at random points */
    unsigned long kills = 0, kill_errors = 0;
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (unsigned k = 0; k < KILLED_WRITERS; k++) {
        void *img;
        size_t len;
        if (build_generation(KILLED_GEN + k, &img, &len) < 0) {
            kill_errors++;
            continue;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            /* bounded: at most 10 000 writes (it is killed long before) */
            for (int i = 0; i < 10000; i++) {
                (void)oc_nssc_write_file(cache_path, img, len);
            }
            _exit(0);
        }
        free(img);
        if (pid < 0) {
            kill_errors++;
            continue;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sleep_ms(1 + (unsigned)(x % 20));
        kill(pid, SIGKILL);
        int wst;
        waitpid(pid, &wst, 0);
        kills += WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL;
    }
    unsigned long leftovers = remove_leftovers(dir);
    /* A writer killed between its rename and its mark leaves the readers
     * on a file nobody will mark: they move on at their once-a-second
     * stat (the documented bound). Wait that long, so that the next
     * phases start with every reader on the file at the path. */
    sleep_ms(1100);

    /* 3. another account */
    int hostile_ok = hostile_phase();

    /* 4. a good cache again, and the readers must see it */
    int final_ok = write_generation(KILLED_GEN + KILLED_WRITERS + 1) == 0;
    sleep_ms(20);
    atomic_fetch_add(&hostile, 1); /* even: out */
    sleep_ms(20);
    atomic_store(&stop, 1);
    for (unsigned long t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    char buf[512];
    struct passwd pw;
    int err;
    final_ok =
            final_ok && f_getpwnam("agent-0007", &pw, buf, sizeof(buf), &err) == NSS_STATUS_SUCCESS;
    if (final_ok) {
        char want[64];
        snprintf(want, sizeof(want), "g%u agent-0007", KILLED_GEN + KILLED_WRITERS + 1);
        final_ok = strcmp(pw.pw_gecos, want) == 0;
    }

    printf("# %lu threads, %lu lookups, %lu replacements, %lu writers killed (%lu temporary "
           "files left), in %.2f s; UNAVAIL %lu (%lu while another account's file was in place); "
           "newest generation seen %u\n",
           threads, (unsigned long)atomic_load(&done_lookups), written, kills, leftovers, secs,
           (unsigned long)atomic_load(&unavail), (unsigned long)atomic_load(&hostile_unavail),
           atomic_load(&max_gen_seen));
    printf("%s 2 - cache replaced %lu times\n", write_errors == 0 ? "ok" : "not ok", written);
    if (atomic_load(&wrong) != 0) {
        printf("# first wrong answer: %s\n", first_error);
    }
    printf("%s 3 - no wrong answer (%lu wrong)\n", atomic_load(&wrong) == 0 ? "ok" : "not ok",
           (unsigned long)atomic_load(&wrong));
    /* A replaced file never shows as missing or corrupt to a reader. */
    printf("%s 4 - never UNAVAIL during replacement, killed writers included\n",
           atomic_load(&unavail) == 0 ? "ok" : "not ok");
    printf("%s 5 - %u writers killed with SIGKILL mid-replacement\n",
           kill_errors == 0 && kills == KILLED_WRITERS ? "ok" : "not ok", KILLED_WRITERS);
    printf("%s 6 - another account cannot truncate the cache; its own cache is refused, "
           "truncated and overwritten without a crash\n",
           hostile_ok ? "ok" : "not ok");
    printf("%s 7 - the readers serve the next good cache\n", final_ok ? "ok" : "not ok");

    unlink(cache_path);
    unlink(conf);
    rmdir(dir);
    return 0;
}
