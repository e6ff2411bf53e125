/* SPDX-License-Identifier: MIT */
/*
 * pam-load: many PAM authentications at once through libpam and the
 * built pam_openclaw.so, each checked against its expected decision.
 *
 *   pam-load -d CONFDIR -s SERVICE -t THREADS -n PER_ROUND [-w GO_FILE] [-r MAX_ROUNDS]
 *            [-p PROGRESS_FILE] LIST
 *   pam-load -d CONFDIR -s SERVICE -t THREADS -b BURST LIST
 *
 * LIST has one case a line: "ok USER TOKENFILE" or "fail USER TOKENFILE".
 * Each round runs PER_ROUND authentications (pam_start_confdir +
 * pam_authenticate + pam_acct_mgmt + pam_end) spread over THREADS threads,
 * picking the cases in turn. With -w, rounds go on while GO_FILE exists
 * (at most MAX_ROUNDS, default 50), so a test can keep the load up while
 * it injects faults; otherwise one round runs. With -p, PROGRESS_FILE holds
 * the number of decisions so far, rewritten every 20 ms during the rounds,
 * so the test can show decisions were made across each fault.
 *
 * With -b, after the warm-up one burst runs instead of the rounds: BURST
 * threads (at most BURST_MAX), each doing one authentication, all held at a
 * gate until every one of them exists and then let go together, so that up
 * to BURST authentications are in flight at once; the line then also has
 * peak_in_flight=P, the most that were inside libpam at the same moment.
 *
 * Before the first round one warm-up pass per thread loads everything; the
 * process's open fds and resident memory are taken after it and again at
 * the end. Prints one line:
 *   decisions=N wrong=W rounds=R fds_before=A fds_after=B rss_before_kib=C
 *   rss_round1_kib=E rss_after_kib=D
 * and each wrong decision on stderr. Exit 0 when nothing was wrong, 1 when
 * something was, 2 usage.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CASES_MAX   256
#define TOKEN_MAX   (64 * 1024)
#define THREADS_MAX 64
#define BURST_MAX   2000
#define BURST_STACK (1024 * 1024) /* per burst thread: PAM needs little */

struct test_case {
    bool expect_ok;
    char user[64];
    char *token;
};

static struct test_case cases[CASES_MAX];
static size_t n_cases;
static const char *confdir, *service;
static atomic_ulong next_case, decisions, wrong;
static atomic_long budget; /* authentications left in this round */
static atomic_long in_flight, peak_in_flight;
static atomic_bool rounds_done;

/* -p: the decisions so far, rewritten in place every 20 ms */
static void *progress(void *arg)
{
    int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const struct timespec tick = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
    char line[32];

    if (fd < 0) {
        fprintf(stderr, "pam-load: %s: %s\n", (const char *)arg, strerror(errno));
        return NULL;
    }
    do {
        int n = snprintf(line, sizeof(line), "%020lu\n", (unsigned long)atomic_load(&decisions));

        if (pwrite(fd, line, (size_t)n, 0) != n) {
            break;
        }
        nanosleep(&tick, NULL);
    } while (!atomic_load(&rounds_done));
    close(fd);
    return NULL;
}

static int conv(int num, const struct pam_message **msg, struct pam_response **resp, void *data)
{
    const struct test_case *tc = data;
    struct pam_response *r = calloc((size_t)num, sizeof(*r));

    if (r == NULL) {
        return PAM_BUF_ERR;
    }
    for (int i = 0; i < num; i++) {
        if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
            r[i].resp = strdup(tc->token);
            if (r[i].resp == NULL) {
                for (int j = 0; j < i; j++) {
                    free(r[j].resp);
                }
                free(r);
                return PAM_BUF_ERR;
            }
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

/* One authentication of case TC; true when the decision matches. */
static bool run_case(const struct test_case *tc)
{
    struct pam_conv c = {conv, (void *)tc};
    pam_handle_t *pamh = NULL;
    int r = pam_start_confdir(service, tc->user, &c, confdir, &pamh);

    if (r != PAM_SUCCESS) {
        fprintf(stderr, "pam-load: pam_start_confdir: %d\n", r);
        return false;
    }
    r = pam_authenticate(pamh, PAM_SILENT);
    if (r == PAM_SUCCESS) {
        r = pam_acct_mgmt(pamh, PAM_SILENT);
    }
    pam_end(pamh, r);
    return (r == PAM_SUCCESS) == tc->expect_ok;
}

/* The burst's gate: every thread waits on it until the main thread has
 * started them all (or failed to start one) and opens it. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static unsigned gate_waiting;

static void *burst_worker(void *arg)
{
    const struct test_case *tc = &cases[(size_t)(uintptr_t)arg % n_cases];
    long now;

    pthread_mutex_lock(&gate_lock);
    gate_waiting++;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open) {
        pthread_cond_wait(&gate_cond, &gate_lock);
    }
    pthread_mutex_unlock(&gate_lock);

    now = atomic_fetch_add(&in_flight, 1) + 1;
    for (long peak = atomic_load(&peak_in_flight);
         now > peak && !atomic_compare_exchange_weak(&peak_in_flight, &peak, now);) {
    }
    atomic_fetch_add(&decisions, 1);
    if (!run_case(tc)) {
        atomic_fetch_add(&wrong, 1);
        fprintf(stderr, "pam-load: wrong decision: expected %s for %s (%.24s...)\n",
                tc->expect_ok ? "success" : "refusal", tc->user, tc->token);
    }
    atomic_fetch_sub(&in_flight, 1);
    return NULL;
}

static int run_burst(unsigned n)
{
    pthread_t *t = calloc(n, sizeof(*t));
    pthread_attr_t attr;
    unsigned started = 0;

    if (t == NULL || pthread_attr_init(&attr) != 0) {
        free(t);
        return -1;
    }
    (void)pthread_attr_setstacksize(&attr, BURST_STACK);
    for (; started < n; started++) {
        if (pthread_create(&t[started], &attr, burst_worker, (void *)(uintptr_t)started) != 0) {
            break;
        }
    }
    pthread_attr_destroy(&attr);
    /* every started thread at the gate (bounded: they only lock and wait) */
    pthread_mutex_lock(&gate_lock);
    while (gate_waiting < started) {
        pthread_cond_wait(&gate_cond, &gate_lock);
    }
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
    }
    free(t);
    return started == n ? 0 : -1;
}

static void *worker(void *arg)
{
    (void)arg;
    while (atomic_fetch_sub(&budget, 1) > 0) {
        const struct test_case *tc = &cases[atomic_fetch_add(&next_case, 1) % n_cases];

        atomic_fetch_add(&decisions, 1);
        if (!run_case(tc)) {
            atomic_fetch_add(&wrong, 1);
            fprintf(stderr, "pam-load: wrong decision: expected %s for %s (%.24s...)\n",
                    tc->expect_ok ? "success" : "refusal", tc->user, tc->token);
        }
    }
    return NULL;
}

static int run_round(unsigned threads, long n)
{
    pthread_t t[THREADS_MAX];
    unsigned started = 0;

    atomic_store(&budget, n);
    for (; started < threads; started++) {
        if (pthread_create(&t[started], NULL, worker, NULL) != 0) {
            break;
        }
    }
    for (unsigned i = 0; i < started; i++) {
        pthread_join(t[i], NULL);
    }
    return started == threads ? 0 : -1;
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    long n = 0;

    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n - 1; /* the directory's own fd */
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    long size = 0, resident = -1;

    if (f == NULL) {
        return -1;
    }
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) {
        resident = -1;
    }
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    char *buf;
    size_t n;

    if (f == NULL) {
        return NULL;
    }
    buf = malloc(TOKEN_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    n = fread(buf, 1, TOKEN_MAX, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }
    buf[n] = '\0';
    return buf;
}

static int load_list(const char *path)
{
    FILE *f = fopen(path, "re");
    char line[4096], expect[8], user[64], file[3000];

    if (f == NULL) {
        fprintf(stderr, "pam-load: %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL && n_cases < CASES_MAX) {
        struct test_case *tc = &cases[n_cases];

        if (sscanf(line, "%7s %63s %2999s", expect, user, file) != 3) {
            continue;
        }
        tc->expect_ok = strcmp(expect, "ok") == 0;
        memcpy(tc->user, user, sizeof(tc->user));
        tc->token = read_file(file);
        if (tc->token == NULL) {
            fprintf(stderr, "pam-load: cannot read %s\n", file);
            fclose(f);
            return -1;
        }
        n_cases++;
    }
    fclose(f);
    return n_cases > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    unsigned threads = 16, rounds = 0, max_rounds = 50;
    long per_round = 1000, burst = 0, fds_before, fds_after, rss_before, rss_round1 = -1, rss_after;
    const char *go_file = NULL, *progress_file = NULL;
    pthread_t progress_thread;
    bool progress_started = false;
    int opt;

    while ((opt = getopt(argc, argv, "d:s:t:n:w:r:b:p:")) != -1) {
        switch (opt) {
        case 'd':
            confdir = optarg;
            break;
        case 's':
            service = optarg;
            break;
        case 't':
            threads = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'n':
            per_round = strtol(optarg, NULL, 10);
            break;
        case 'w':
            go_file = optarg;
            break;
        case 'r':
            max_rounds = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'p':
            progress_file = optarg;
            break;
        case 'b':
            burst = strtol(optarg, NULL, 10);
            if (burst <= 0 || burst > BURST_MAX) {
                burst = -1;
            }
            break;
        default:
            return 2;
        }
    }
    if (confdir == NULL || service == NULL || optind + 1 != argc || threads == 0 ||
        threads > THREADS_MAX || per_round <= 0 || max_rounds == 0 || burst < 0) {
        fprintf(stderr,
                "usage: pam-load -d CONFDIR -s SERVICE -t THREADS -n PER_ROUND "
                "[-w GO_FILE] [-r MAX_ROUNDS] [-p PROGRESS_FILE] LIST\n"
                "       pam-load -d CONFDIR -s SERVICE -t THREADS -b BURST(1..%d) LIST\n",
                BURST_MAX);
        return 2;
    }
    if (load_list(argv[optind]) < 0) {
        return 2;
    }
    /* warm-up: every thread once through every case, not counted */
    if (run_round(threads, (long)(threads * n_cases)) < 0) {
        fprintf(stderr, "pam-load: cannot start %u threads\n", threads);
        return 2;
    }
    atomic_store(&decisions, 0);
    atomic_store(&wrong, 0);
    fds_before = count_fds();
    rss_before = rss_kib();
    if (burst > 0) {
        if (run_burst((unsigned)burst) < 0) {
            fprintf(stderr, "pam-load: cannot start %ld threads\n", burst);
            return 2;
        }
        fds_after = count_fds();
        rss_after = rss_kib();
        printf("decisions=%lu wrong=%lu burst=%ld peak_in_flight=%ld fds_before=%ld fds_after=%ld "
               "rss_before_kib=%ld rss_after_kib=%ld\n",
               (unsigned long)atomic_load(&decisions), (unsigned long)atomic_load(&wrong), burst,
               atomic_load(&peak_in_flight), fds_before, fds_after, rss_before, rss_after);
        for (size_t i = 0; i < n_cases; i++) {
            free(cases[i].token);
        }
        return atomic_load(&wrong) == 0 ? 0 : 1;
    }
    if (progress_file != NULL) {
        progress_started =
                pthread_create(&progress_thread, NULL, progress, (void *)progress_file) == 0;
    }
    do {
        if (run_round(threads, per_round) < 0) {
            fprintf(stderr, "pam-load: cannot start %u threads\n", threads);
            return 2;
        }
        rounds++;
        if (rounds == 1) {
            rss_round1 = rss_kib();
        }
    } while (go_file != NULL && access(go_file, F_OK) == 0 && rounds < max_rounds);
    atomic_store(&rounds_done, true);
    if (progress_started) {
        pthread_join(progress_thread, NULL);
    }
    fds_after = count_fds();
    rss_after = rss_kib();
    printf("decisions=%lu wrong=%lu rounds=%u fds_before=%ld fds_after=%ld rss_before_kib=%ld "
           "rss_round1_kib=%ld rss_after_kib=%ld\n",
           (unsigned long)atomic_load(&decisions), (unsigned long)atomic_load(&wrong), rounds,
           fds_before, fds_after, rss_before, rss_round1, rss_after);
    for (size_t i = 0; i < n_cases; i++) {
        free(cases[i].token);
    }
    return atomic_load(&wrong) == 0 ? 0 : 1;
}
