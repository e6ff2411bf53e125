/* SPDX-License-Identifier: MIT */
/*
 * nss_openclaw.c: libnss_openclaw.so.2, agent accounts from the mmap'd
 * cache file (see README.md in this directory and docs/nss.md).
 *
 * State: one refcounted "snapshot" = the policy read from the root-owned
 * config (uid range, cache path, local groups the config names) + the
 * mapped cache file. A lookup makes no system call of its own: it loads
 * the "replaced" word of the mapped cache (a writer increments it in the
 * old file after renaming a new one into place, see nsscache.h) and reads
 * the coarse monotonic clock (vDSO). Only when the word changed, or once
 * OC_NSS_RECHECK_MS has passed, does it stat the cache path and the config
 * and compare them with the snapshot (dev, inode, size, mtime, ctime): a
 * cache replaced without the mark (copied by hand, restored from a backup)
 * is noticed within OC_NSS_RECHECK_MS. A snapshot without a usable config
 * or cache re-checks on every call. When something changed, a new
 * snapshot is built under a mutex and swapped in, and the old one is
 * unmapped when its last user is done. Each thread keeps a reference to
 * its last snapshot, so the common path takes no lock. A lookup itself is
 * one hash and one copy into the caller's buffer.
 *
 * The cache is used only when it and its directory are owned by root and
 * writable by nobody else (anyone who could truncate the mapped file could
 * kill every process that has it mapped with SIGBUS).
 *
 * The cache is not a trust root: a record with uid or gid 0 or outside
 * [uid_min, uid_max] does not exist for this module; an existing local
 * group (e.g. docker) is only added by initgroups when the config names it
 * and /etc/group gives it the same gid.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <nss.h>
#include <pthread.h>
#include <pwd.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "nsscache.h"
#include "rootdir.h"
#include "nss_openclaw/nss_openclaw.h"

/* Caps */
#define OC_NSS_ETC_GROUP_MAX (64u * 1024u * 1024u) /* bytes of /etc/group we read */
#define OC_NSS_ETC_GROUP     "/etc/group"
/* A config change, or a cache replaced without the writer's mark, is
 * noticed within this time; a marked cache replacement at the next lookup
 * (and it makes the config be re-read too). */
#define OC_NSS_RECHECK_MS 1000

struct fid {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

struct local_group {
    char *name;
    gid_t gid; /* valid when found */
    bool found;
};

struct snap {
    atomic_ulong refs;
    /* config */
    char *conf_path;
    struct fid conf_id;
    bool conf_missing;
    atomic_llong checked_ms;   /* coarse monotonic time of the last stat of both files */
    atomic_uint seen_replaced; /* the cache's replaced word when the path was last checked */
    bool usable;               /* conf_err == 0 && cache_err == 0, set once built */
    int conf_err;              /* 0, or why the config is unusable */
    uint32_t uid_min, uid_max;
    char *cache_path;
    struct local_group *locals; /* group names the config allows, sorted */
    size_t n_locals;
    /* cache */
    bool cache_present; /* cache_id is valid */
    struct fid cache_id;
    int cache_err;
    void *addr;
    size_t len;
    struct oc_nssc c;
    /* /etc/group check of local groups (initgroups only) */
    pthread_mutex_t etc_lock;
    bool etc_checked;
    struct fid etc_id;
};

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snap *cur_snap;

/* Recursion guard: initial-exec TLS needs no helper from the dynamic
 * loader, so the module keeps libc.so.6 as its only dependency. */
static __thread int in_module __attribute__((tls_model("initial-exec")));
/* The snapshot this thread's key holds a reference to (NULL: none), read
 * by a lookup without a call to pthread_getspecific. Only this thread
 * writes it, always together with the key. */
static __thread struct snap *thread_snap __attribute__((tls_model("initial-exec")));

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Each thread keeps a reference to the snapshot it used last, so the
 * common case (nothing changed) takes no lock at all. */
static pthread_key_t thread_key;
static bool thread_key_ok;

struct ent_state {
    pthread_mutex_t lock;
    struct snap *s;
    uint32_t idx;
};

static struct ent_state pw_ent = {.lock = PTHREAD_MUTEX_INITIALIZER};
static struct ent_state gr_ent = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void after_fork_child(void)
{
    /* A thread of the parent may have held a lock: the child has only
     * this thread, so start with fresh, unlocked mutexes. */
    pthread_mutex_init(&snap_lock, NULL);
    pthread_mutex_init(&pw_ent.lock, NULL);
    pthread_mutex_init(&gr_ent.lock, NULL);
    /* Every snapshot this thread can still reach. */
    struct snap *reach[4] = {cur_snap, pw_ent.s, gr_ent.s, thread_snap};
    for (size_t i = 0; i < 4; i++) {
        if (reach[i] != NULL) {
            pthread_mutex_init(&reach[i]->etc_lock, NULL);
        }
    }
}

static void snap_put(struct snap *s);

static void thread_snap_release(void *p)
{
    snap_put(p);
}

static void config_path_init(void);

static void module_init(void)
{
    config_path_init();
    (void)pthread_atfork(NULL, NULL, after_fork_child);
    thread_key_ok = pthread_key_create(&thread_key, thread_snap_release) == 0;
}

/* ---------------------------------------------------------------- */
/* Snapshots                                                        */
/* ---------------------------------------------------------------- */

static void fid_from(struct fid *f, const struct stat *st)
{
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    f->size = st->st_size;
    f->mtime = st->st_mtim;
    f->ctime = st->st_ctim;
}

static bool fid_same(const struct fid *f, const struct stat *st)
{
    return f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
           f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec &&
           f->ctime.tv_sec == st->st_ctim.tv_sec && f->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static void snap_free(struct snap *s)
{
    if (s == NULL) {
        return;
    }
    if (s->addr != NULL) {
        munmap(s->addr, s->len);
    }
    for (size_t i = 0; i < s->n_locals; i++) {
        free(s->locals[i].name);
    }
    free(s->locals);
    free(s->cache_path);
    free(s->conf_path);
    pthread_mutex_destroy(&s->etc_lock);
    free(s);
}

static void snap_put(struct snap *s)
{
    if (s != NULL && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        snap_free(s);
    }
}

/* The config path, read once per process (module_init): a lookup does not
 * scan the environment. */
static char conf_path_buf[PATH_MAX];

static void config_path_init(void)
{
    const char *p = secure_getenv(OC_NSS_CONFIG_ENV);
    if (p == NULL || *p != '/' || strlen(p) >= sizeof(conf_path_buf)) {
        p = OC_CONFIG_PATH;
    }
    memcpy(conf_path_buf, p, strlen(p) + 1);
}

static int cmp_local(const void *a, const void *b)
{
    return strcmp(((const struct local_group *)a)->name, ((const struct local_group *)b)->name);
}

static int add_local(struct snap *s, size_t *cap, const char *name)
{
    for (size_t i = 0; i < s->n_locals; i++) {
        if (strcmp(s->locals[i].name, name) == 0) {
            return 0;
        }
    }
    if (s->n_locals == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct local_group *l = realloc(s->locals, nc * sizeof(*l));
        if (l == NULL) {
            return -ENOMEM;
        }
        s->locals = l;
        *cap = nc;
    }
    char *d = strdup(name);
    if (d == NULL) {
        return -ENOMEM;
    }
    s->locals[s->n_locals++] = (struct local_group){.name = d};
    return 0;
}

/* Read the policy from the config into s. */
static int load_policy(struct snap *s, const char *path)
{
    struct oc_config *cfg = NULL;
    size_t cap = 0;
    int r = oc_config_load(path, 0, &cfg, NULL);
    if (r < 0) {
        return r;
    }
    s->uid_min = cfg->global.uid_min;
    s->uid_max = cfg->global.uid_max;
    if (s->uid_min == 0 || s->uid_max < s->uid_min) {
        r = -EINVAL;
        goto out;
    }
    s->cache_path =
            strdup(cfg->global.nss_cache != NULL ? cfg->global.nss_cache : OC_NSS_DEFAULT_CACHE);
    if (s->cache_path == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < cfg->n_agents; i++) {
        for (size_t j = 0; j < cfg->agents[i].groups.n; j++) {
            if ((r = add_local(s, &cap, cfg->agents[i].groups.items[j])) < 0) {
                goto out;
            }
        }
    }
    for (size_t i = 0; i < cfg->n_roles; i++) {
        if ((r = add_local(s, &cap, cfg->roles[i].group)) < 0) {
            goto out;
        }
    }
    if (s->n_locals > 1) {
        qsort(s->locals, s->n_locals, sizeof(*s->locals), cmp_local);
    }
    r = 0;
out:
    oc_config_free(cfg);
    return r;
}

/* Writable by its owner alone: -EPERM otherwise. */
static int owner_only(const struct stat *st)
{
    return (st->st_mode & (S_IWGRP | S_IWOTH)) == 0 ? 0 : -EPERM;
}

/*
 * Map the cache read-only, every page at once (the checksum reads them all
 * anyway). A large cache (100 000 agents: 18 MB) is read at random: asked
 * for huge pages before it is populated, the kernel maps it with 2 MB
 * pages even when it comes from disk (it reads it ahead in 2 MB folios),
 * instead of thousands of small ones whose TLB misses a random lookup
 * pays. Without transparent huge pages, or with a kernel before 5.14
 * (no MADV_POPULATE_READ), the advice fails and the pages are mapped as
 * they are faulted in. Only system calls of the map path, never of a hit.
 */
#define OC_NSS_HUGE_MIN (2u * 1024u * 1024u)

static void *map_file(int fd, size_t len)
{
#if defined(MADV_HUGEPAGE) && defined(MADV_POPULATE_READ)
    if (len >= OC_NSS_HUGE_MIN) {
        void *a = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
        if (a != MAP_FAILED) {
            (void)madvise(a, len, MADV_HUGEPAGE);
            (void)madvise(a, len, MADV_POPULATE_READ);
        }
        return a;
    }
#endif
    return mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
}

static int map_cache(struct snap *s)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(s->cache_path, '/');
    size_t n = slash == NULL ? 0 : (size_t)(slash - s->cache_path);
    int fd, dfd = -1;
    struct stat st;

    /* The directory walked from "/" (O_NOFOLLOW, fstat: every directory on
     * the way root's, the last one writable by root alone), the file opened
     * relative to it: no path walked again between the check and the use. */
    if (slash == NULL || n >= sizeof(dir)) {
        return -EPERM; /* the path comes from the config: always absolute */
    }
    memcpy(dir, s->cache_path, n);
    dir[n] = '\0';
    int r = oc_rootdir_open(n == 0 ? "/" : dir, 0, 022, 0, &dfd, NULL);
    if (r < 0) {
        return r == -ENOENT ? -ENOENT : -EPERM;
    }
    do {
        fd = openat(dfd, slash + 1, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    } while (fd < 0 && errno == EINTR);
    r = fd < 0 ? -errno : 0;
    close(dfd);
    if (fd < 0) {
        return r;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    s->cache_present = true;
    fid_from(&s->cache_id, &st);
    if (!S_ISREG(st.st_mode)) {
        r = -EBADMSG;
        goto out;
    }
    /* Whoever may write (or truncate) the mapped file could crash every
     * reader with SIGBUS: root only (openclaw-sync writes it), in root's
     * directory (above). */
    if ((r = owner_only(&st)) < 0 || st.st_uid != 0) {
        r = -EPERM;
        goto out;
    }
    if (st.st_size < (off_t)OC_NSSC_HEADER_SIZE || (uint64_t)st.st_size > OC_NSSC_FILE_MAX) {
        r = -EBADMSG;
        goto out;
    }
    void *a = map_file(fd, (size_t)st.st_size);
    if (a == MAP_FAILED) {
        r = -errno;
        goto out;
    }
    r = oc_nssc_open(a, (size_t)st.st_size, &s->c);
    if (r < 0) {
        munmap(a, (size_t)st.st_size);
        goto out;
    }
    s->addr = a;
    s->len = (size_t)st.st_size;
out:
    close(fd);
    return r;
}

static int64_t coarse_ms(void)
{
    struct timespec ts;
    /* vDSO: no system call */
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) < 0) {
        return 0;
    }
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Build a snapshot for the current config and cache files. */
static struct snap *snap_build(const char *cpath)
{
    struct snap *s = calloc(1, sizeof(*s));
    struct stat st;
    if (s == NULL) {
        return NULL;
    }
    s->conf_path = strdup(cpath);
    if (s->conf_path == NULL) {
        free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->etc_lock, NULL);
    atomic_init(&s->checked_ms, coarse_ms());
    /* 0, not the word's value now: a writer that marked the file between
     * our open and now is seen at the first lookup */
    atomic_init(&s->seen_replaced, 0);
    if (lstat(cpath, &st) < 0) {
        s->conf_missing = true;
        s->conf_err = errno == ENOENT ? -ENOENT : -EIO;
        return s;
    }
    fid_from(&s->conf_id, &st);
    s->conf_err = load_policy(s, cpath);
    if (s->conf_err == 0) {
        s->cache_err = map_cache(s);
    }
    s->usable = s->conf_err == 0 && s->cache_err == 0;
    return s;
}

/* One stat: is the cache file the one s has mapped (or still missing)? */
static bool cache_unchanged(const struct snap *s)
{
    struct stat st;
    if (s->conf_err != 0) {
        return true; /* no cache without a usable config */
    }
    if (stat(s->cache_path, &st) < 0) {
        return !s->cache_present;
    }
    return s->cache_present && fid_same(&s->cache_id, &st);
}

/* Is the config the one s was built from? (one lstat) */
static bool conf_unchanged(const struct snap *s, const char *cpath)
{
    struct stat st;
    return lstat(cpath, &st) < 0 ? s->conf_missing : !s->conf_missing && fid_same(&s->conf_id, &st);
}

/*
 * Is s still current? The common case is two loads and a vDSO clock read:
 * no system call. The files are stat'ed when the cache's replaced word
 * moved, once OC_NSS_RECHECK_MS has passed, and on every call while the
 * snapshot has no usable config or cache (the admin who just fixed it
 * should not wait).
 */
static inline bool snap_fresh(struct snap *s, int64_t now, uint32_t word)
{
    return word == atomic_load_explicit(&s->seen_replaced, memory_order_relaxed) &&
           now - atomic_load_explicit(&s->checked_ms, memory_order_relaxed) < OC_NSS_RECHECK_MS;
}

static bool snap_current(struct snap *s, const char *cpath)
{
    int64_t now = coarse_ms();
    uint32_t word = 0;
    if (s->usable) {
        word = oc_nssc_replaced(&s->c);
        if (snap_fresh(s, now, word)) {
            return true;
        }
    }
    if (!cache_unchanged(s) || !conf_unchanged(s, cpath)) {
        return false;
    }
    /* Still the same files (a mark on the file at the path: a restored
     * copy of a replaced file, or two racing writers): carry on. */
    atomic_store_explicit(&s->seen_replaced, word, memory_order_relaxed);
    atomic_store_explicit(&s->checked_ms, now, memory_order_relaxed);
    return true;
}

/*
 * Get a referenced snapshot whose config and cache are usable. Returns 0,
 * or a negative errno (the config or cache is missing or bad: UNAVAIL).
 */
static int acquire(struct snap **ret)
{
    const char *cpath = conf_path_buf;
    struct snap *s;

    (void)pthread_once(&init_once, module_init);
    /* Fast path: this thread's snapshot is still current. Only this
     * thread can drop the reference the key holds, so s stays valid. */
    s = thread_snap;
    if (s != NULL && snap_current(s, cpath)) {
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    } else {
        struct snap *old = s;
        pthread_mutex_lock(&snap_lock);
        s = cur_snap;
        if (s == NULL || !snap_current(s, cpath)) {
            struct snap *n = snap_build(cpath);
            if (n == NULL) {
                pthread_mutex_unlock(&snap_lock);
                return -ENOMEM;
            }
            cur_snap = n;
            snap_put(s); /* the "current" reference of the old one */
            s = n;
        }
        /* one reference for the caller, one for this thread's key */
        atomic_fetch_add_explicit(&s->refs, 2, memory_order_relaxed);
        pthread_mutex_unlock(&snap_lock);
        if (!thread_key_ok || pthread_setspecific(thread_key, s) != 0) {
            snap_put(s);
        } else {
            thread_snap = s;
            snap_put(old);
        }
    }
    int r = s->conf_err != 0 ? s->conf_err : s->cache_err;
    if (r < 0) {
        snap_put(s);
        return r;
    }
    *ret = s;
    return 0;
}

/* A snapshot for one lookup, released with lookup_end(). The common case
 * borrows this thread's own snapshot without touching its reference
 * count (a shared cache line every thread would write): only this thread
 * can drop the key's reference, and not before its next lookup. */
struct lookup {
    struct snap *s;
    bool owned;
};

/* The rest of lookup_begin(), out of the common path: it may stat, open,
 * map and parse, so it keeps the caller's errno. */
static __attribute__((noinline)) int lookup_slow(struct lookup *l)
{
    int saved = errno;
    l->owned = true;
    int r = acquire(&l->s);
    errno = saved;
    return r;
}

static inline int lookup_begin(struct lookup *l)
{
    /* thread_snap is set only after module_init ran (acquire) */
    struct snap *s = thread_snap;
    if (__builtin_expect(
                s != NULL && s->usable && snap_fresh(s, coarse_ms(), oc_nssc_replaced(&s->c)), 1)) {
        l->s = s;
        l->owned = false;
        return 0;
    }
    return lookup_slow(l);
}

static void lookup_end(struct lookup *l)
{
    if (l->owned) {
        snap_put(l->s);
    }
}

/* On dlclose (or glibc's freeres at exit), drop the module's own
 * references; a thread still inside a lookup holds its own reference, so
 * nothing is unmapped under it. */
__attribute__((destructor)) static void module_unload(void)
{
    pthread_mutex_lock(&pw_ent.lock);
    snap_put(pw_ent.s);
    pw_ent.s = NULL;
    pthread_mutex_unlock(&pw_ent.lock);
    pthread_mutex_lock(&gr_ent.lock);
    snap_put(gr_ent.s);
    gr_ent.s = NULL;
    pthread_mutex_unlock(&gr_ent.lock);
    pthread_mutex_lock(&snap_lock);
    snap_put(cur_snap);
    cur_snap = NULL;
    pthread_mutex_unlock(&snap_lock);
    /* No thread-exit callback may point into an unloaded module. The
     * references other threads' keys hold are leaked, never freed twice. */
    if (thread_key_ok) {
        thread_key_ok = false;
        pthread_key_delete(thread_key);
    }
}

/* ---------------------------------------------------------------- */
/* Policy                                                           */
/* ---------------------------------------------------------------- */

static bool id_ok(const struct snap *s, uint32_t id)
{
    return id != 0 && id >= s->uid_min && id <= s->uid_max;
}

static bool pw_ok(const struct snap *s, const struct oc_nssc_pw *u)
{
    return id_ok(s, u->uid) && id_ok(s, u->gid);
}

static bool gr_ok(const struct snap *s, const struct oc_nssc_gr *g)
{
    return (g->flags & OC_NSSC_GROUP_LOCAL) == 0 && id_ok(s, g->gid);
}

static struct local_group *find_local(struct snap *s, const char *name)
{
    struct local_group key = {.name = (char *)name};
    if (s->n_locals == 0) {
        return NULL;
    }
    return bsearch(&key, s->locals, s->n_locals, sizeof(*s->locals), cmp_local);
}

/* Parse /etc/group directly (never through NSS: that would recurse) and
 * note the gid of each local group the config names. */
static int read_etc_group(struct snap *s)
{
    int fd;
    struct stat st;
    do {
        fd = open(OC_NSS_ETC_GROUP, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return -errno;
    }
    int r = 0;
    char *buf = NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > OC_NSS_ETC_GROUP_MAX) {
        r = -EIO;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        r = -ENOMEM;
        goto out;
    }
    size_t n = 0;
    while (n < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + n, (size_t)st.st_size - n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        n += (size_t)k;
    }
    buf[n] = '\0';
    for (size_t i = 0; i < s->n_locals; i++) {
        s->locals[i].found = false;
    }
    for (char *line = buf; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
        if (c1 != NULL && c2 != NULL && c3 != NULL) {
            *c1 = '\0';
            *c3 = '\0';
            struct local_group *lg = find_local(s, line);
            char *end;
            errno = 0;
            unsigned long g = strtoul(c2 + 1, &end, 10);
            if (lg != NULL && !lg->found && c2[1] >= '0' && c2[1] <= '9' && *end == '\0' &&
                errno == 0 && g > 0 && g < UINT32_MAX) {
                lg->gid = (gid_t)g;
                lg->found = true;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    fid_from(&s->etc_id, &st);
    s->etc_checked = true;
out:
    free(buf);
    close(fd);
    return r;
}

/* May initgroups add this local group's gid? */
static bool local_ok(struct snap *s, const struct oc_nssc_gr *g)
{
    struct local_group *lg = find_local(s, g->name);
    struct stat st;
    bool ok = false;
    if (lg == NULL || g->gid == 0) {
        return false;
    }
    pthread_mutex_lock(&s->etc_lock);
    if (stat(OC_NSS_ETC_GROUP, &st) == 0 && (!s->etc_checked || !fid_same(&s->etc_id, &st))) {
        if (read_etc_group(s) < 0) {
            s->etc_checked = false;
        }
    }
    ok = s->etc_checked && lg->found && lg->gid == (gid_t)g->gid;
    pthread_mutex_unlock(&s->etc_lock);
    return ok;
}

/* ---------------------------------------------------------------- */
/* Filling the caller's structures                                  */
/* ---------------------------------------------------------------- */

static char *put_str(char **p, const char *s, size_t n)
{
    char *d = *p;
    memcpy(d, s, n);
    *p += n;
    return d;
}

/* ln: the size of u->name with its NUL, when the caller knows it (a
 * lookup by name: the record's name is the one asked for), else 0. */
static int fill_pw(const struct oc_nssc_pw *u, size_t ln, struct passwd *pw, char *buf,
                   size_t buflen)
{
    if (ln == 0) {
        ln = strlen(u->name) + 1;
    }
    size_t lg = strlen(u->gecos) + 1, ld = strlen(u->dir) + 1, ls = strlen(u->shell) + 1;
    if (buf == NULL || buflen < ln + lg + ld + 2 + ls) {
        return -ERANGE;
    }
    char *p = buf;
    if (u->gecos == u->name + ln && u->dir == u->gecos + lg) {
        /* The writer's layout: name, gecos and home in a row after the
         * record (all inside the data area, each NUL-terminated), so one
         * copy; a shared gecos (the empty one) takes the general path. */
        pw->pw_name = put_str(&p, u->name, ln + lg + ld);
        pw->pw_gecos = pw->pw_name + ln;
        pw->pw_dir = pw->pw_gecos + lg;
    } else {
        pw->pw_name = put_str(&p, u->name, ln);
        pw->pw_gecos = put_str(&p, u->gecos, lg);
        pw->pw_dir = put_str(&p, u->dir, ld);
    }
    pw->pw_passwd = put_str(&p, "*", 2);
    pw->pw_shell = put_str(&p, u->shell, ls);
    pw->pw_uid = u->uid;
    pw->pw_gid = u->gid;
    return 0;
}

static int fill_gr(const struct oc_nssc *c, const struct oc_nssc_gr *g, struct group *gr, char *buf,
                   size_t buflen)
{
    if (buf == NULL || buflen < sizeof(char *)) {
        return -ERANGE;
    }
    size_t pad = (alignof(char *) - ((uintptr_t)buf % alignof(char *))) % alignof(char *);
    size_t lname = strlen(g->name) + 1;
    /* n_members <= OC_NSSC_LIST_MAX and strings <= the file size: no overflow. */
    size_t need = pad + ((size_t)g->n_members + 1) * sizeof(char *) + lname + 2;
    for (uint32_t i = 0; i < g->n_members; i++) {
        const char *m;
        if (oc_nssc_gr_member(c, g, i, &m) < 0) {
            return -EBADMSG;
        }
        need += strlen(m) + 1;
    }
    if (buflen < need) {
        return -ERANGE;
    }
    char **mem = (char **)(void *)(buf + pad);
    char *p = buf + pad + ((size_t)g->n_members + 1) * sizeof(char *);
    for (uint32_t i = 0; i < g->n_members; i++) {
        const char *m;
        (void)oc_nssc_gr_member(c, g, i, &m);
        mem[i] = put_str(&p, m, strlen(m) + 1);
    }
    mem[g->n_members] = NULL;
    gr->gr_name = put_str(&p, g->name, lname);
    gr->gr_passwd = put_str(&p, "*", 2);
    gr->gr_gid = g->gid;
    gr->gr_mem = mem;
    return 0;
}

/* ---------------------------------------------------------------- */
/* Entry points                                                     */
/* ---------------------------------------------------------------- */

/* Map a failure to the NSS status, setting *errnop and errno. */
static enum nss_status fail(int r, int *errnop)
{
    switch (r) {
    case -ENOENT:
        *errnop = ENOENT;
        errno = ENOENT;
        return NSS_STATUS_NOTFOUND;
    case -ENODATA: /* config or cache missing */
        *errnop = ENOENT;
        errno = ENOENT;
        return NSS_STATUS_UNAVAIL;
    case -ERANGE:
        *errnop = ERANGE;
        errno = ERANGE;
        return NSS_STATUS_TRYAGAIN;
    case -ENOMEM:
    case -EAGAIN:
        *errnop = EAGAIN;
        errno = EAGAIN;
        return NSS_STATUS_TRYAGAIN;
    default:
        *errnop = -r;
        errno = -r;
        return NSS_STATUS_UNAVAIL;
    }
}

/* Map an internal result to the NSS status, setting *errnop and errno on
 * failure and restoring the caller's errno on success. */
static enum nss_status finish(int r, int saved_errno, int *errnop)
{
    if (r == 0) {
        errno = saved_errno;
        return NSS_STATUS_SUCCESS;
    }
    return fail(r, errnop);
}

/* The same for the by-name and by-id lookups, whose success path leaves
 * errno alone (only lookup_slow() calls anything that may set it, and it
 * restores it). */
static inline enum nss_status result(int r, int *errnop)
{
    return __builtin_expect(r == 0, 1) ? NSS_STATUS_SUCCESS : fail(r, errnop);
}

/* Error of acquire() as a lookup result: a missing cache or config. */
static int unavail(int r)
{
    /* Never let a missing file look like "no such user" (NOTFOUND). */
    return r == -ENOENT ? -ENODATA : r;
}

#define GUARD_ENTER(errnop)                                                                        \
    do {                                                                                           \
        if (in_module) {                                                                           \
            *(errnop) = EDEADLK;                                                                   \
            return NSS_STATUS_UNAVAIL;                                                             \
        }                                                                                          \
        in_module = 1;                                                                             \
    } while (0)
#define GUARD_LEAVE() (in_module = 0)

/* The length of a name worth looking up (1 to OC_NSSC_STRING_MAX bytes),
 * or 0. */
static inline size_t name_len(const char *name)
{
    size_t n = name != NULL ? strnlen(name, OC_NSSC_STRING_MAX + 1) : 0;
    return n <= OC_NSSC_STRING_MAX ? n : 0;
}

/* One passwd lookup in the current snapshot: by name (name != NULL, len
 * bytes) or by uid; the record must pass the policy and is copied into
 * buf. */
static inline __attribute__((always_inline)) int
pw_lookup(const char *name, size_t len, uid_t uid, struct passwd *pw, char *buf, size_t buflen)
{
    struct lookup l;
    struct oc_nssc_pw u;
    int r = lookup_begin(&l);

    if (r < 0) {
        return unavail(r);
    }
    const struct snap *s = l.s;
    if (name != NULL) {
        r = oc_nssc_pw_by_name_n(&s->c, name, len, &u);
    } else {
        r = id_ok(s, uid) ? oc_nssc_pw_by_uid(&s->c, uid, &u) : -ENOENT;
    }
    if (r == 0 && !pw_ok(s, &u)) {
        r = -ENOENT;
    }
    if (r == 0) {
        r = fill_pw(&u, name != NULL ? len + 1 : 0, pw, buf, buflen);
    }
    lookup_end(&l);
    return r;
}

/* The same for groups: by name (name != NULL, len bytes) or by gid. */
static inline __attribute__((always_inline)) int
gr_lookup(const char *name, size_t len, gid_t gid, struct group *gr, char *buf, size_t buflen)
{
    struct lookup l;
    struct oc_nssc_gr g;
    int r = lookup_begin(&l);

    if (r < 0) {
        return unavail(r);
    }
    const struct snap *s = l.s;
    if (name != NULL) {
        r = oc_nssc_gr_by_name_n(&s->c, name, len, &g);
    } else {
        r = id_ok(s, gid) ? oc_nssc_gr_by_gid(&s->c, gid, &g) : -ENOENT;
    }
    if (r == 0 && !gr_ok(s, &g)) {
        r = -ENOENT;
    }
    if (r == 0) {
        r = fill_gr(&s->c, &g, gr, buf, buflen);
    }
    lookup_end(&l);
    return r;
}

enum nss_status _nss_openclaw_getpwnam_r(const char *name, struct passwd *pw, char *buf,
                                         size_t buflen, int *errnop)
{
    int r;

    GUARD_ENTER(errnop);
    size_t len = name_len(name);
    r = len != 0 ? pw_lookup(name, len, 0, pw, buf, buflen) : -ENOENT;
    GUARD_LEAVE();
    return result(r, errnop);
}

enum nss_status _nss_openclaw_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                                         int *errnop)
{
    int r;

    GUARD_ENTER(errnop);
    r = uid != 0 ? pw_lookup(NULL, 0, uid, pw, buf, buflen) : -ENOENT;
    GUARD_LEAVE();
    return result(r, errnop);
}

enum nss_status _nss_openclaw_getgrnam_r(const char *name, struct group *gr, char *buf,
                                         size_t buflen, int *errnop)
{
    int r;

    GUARD_ENTER(errnop);
    size_t len = name_len(name);
    r = len != 0 ? gr_lookup(name, len, 0, gr, buf, buflen) : -ENOENT;
    GUARD_LEAVE();
    return result(r, errnop);
}

enum nss_status _nss_openclaw_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen,
                                         int *errnop)
{
    int r;

    GUARD_ENTER(errnop);
    r = gid != 0 ? gr_lookup(NULL, 0, gid, gr, buf, buflen) : -ENOENT;
    GUARD_LEAVE();
    return result(r, errnop);
}

/* Append gid to the caller's array unless present; grows it (never past
 * limit when limit > 0). 0, or -ENOMEM. A full array at limit is not an
 * error: the extra group is dropped, as glibc expects. */
static int add_gid(gid_t gid, long int *start, long int *size, gid_t **groupsp, long int limit)
{
    gid_t *groups = *groupsp;
    for (long int i = 0; i < *start; i++) {
        if (groups[i] == gid) {
            return 0;
        }
    }
    if (*start >= *size) {
        if (limit > 0 && *size >= limit) {
            return 0;
        }
        long int nsize;
        if (*size <= 0) {
            nsize = 16;
        } else if (__builtin_mul_overflow(*size, 2, &nsize)) {
            return -ENOMEM;
        }
        if (limit > 0 && nsize > limit) {
            nsize = limit;
        }
        size_t bytes;
        if (nsize <= *start || __builtin_mul_overflow((size_t)nsize, sizeof(gid_t), &bytes)) {
            return -ENOMEM;
        }
        gid_t *ng = realloc(groups, bytes);
        if (ng == NULL) {
            return -ENOMEM;
        }
        *groupsp = groups = ng;
        *size = nsize;
    }
    groups[(*start)++] = gid;
    return 0;
}

enum nss_status _nss_openclaw_initgroups_dyn(const char *user, gid_t group, long int *start,
                                             long int *size, gid_t **groupsp, long int limit,
                                             int *errnop)
{
    int saved = errno, r;
    struct lookup l;
    struct oc_nssc_pw u;

    GUARD_ENTER(errnop);
    size_t len = name_len(user);
    if (len == 0 || start == NULL || size == NULL || groupsp == NULL || *start < 0 ||
        *size < *start) {
        r = -ENOENT;
    } else if ((r = lookup_begin(&l)) < 0) {
        r = unavail(r);
    } else {
        struct snap *s = l.s;
        r = oc_nssc_pw_by_name_n(&s->c, user, len, &u);
        if (r == 0 && !pw_ok(s, &u)) {
            r = -ENOENT;
        }
        for (uint32_t i = 0; r == 0 && i < u.n_gids; i++) {
            struct oc_nssc_gr g;
            uint32_t gid, flags;
            /* the group's record itself (the list holds refs to them); its
             * name only for a local group */
            if ((r = oc_nssc_pw_group_id(&s->c, &u, i, &gid, &flags)) < 0) {
                break;
            }
            if (gid == group || gid == 0) {
                continue; /* the primary group is the caller's */
            }
            bool ok;
            if ((flags & OC_NSSC_GROUP_LOCAL) == 0) {
                ok = id_ok(s, gid);
            } else if ((r = oc_nssc_pw_group(&s->c, &u, i, &g)) < 0) {
                break;
            } else {
                ok = local_ok(s, &g);
            }
            if (ok) {
                r = add_gid(gid, start, size, groupsp, limit);
            }
        }
        lookup_end(&l);
    }
    GUARD_LEAVE();
    return finish(r, saved, errnop);
}

/* Enumeration: one mutex per database; the walk stays on the snapshot it
 * started with, so a replaced cache never makes it skip or repeat. */

static enum nss_status ent_set(struct ent_state *e)
{
    int saved = errno;
    struct snap *s = NULL;
    int r = acquire(&s);

    pthread_mutex_lock(&e->lock);
    snap_put(e->s);
    e->s = r == 0 ? s : NULL;
    e->idx = 0;
    pthread_mutex_unlock(&e->lock);
    errno = saved;
    return r == 0 ? NSS_STATUS_SUCCESS : NSS_STATUS_UNAVAIL;
}

static enum nss_status ent_end(struct ent_state *e)
{
    int saved = errno;
    pthread_mutex_lock(&e->lock);
    snap_put(e->s);
    e->s = NULL;
    e->idx = 0;
    pthread_mutex_unlock(&e->lock);
    errno = saved;
    return NSS_STATUS_SUCCESS;
}

/* setpwent/setgrent: not while this thread is already inside the module */
static enum nss_status ent_set_guarded(struct ent_state *e)
{
    enum nss_status st;

    if (in_module) {
        return NSS_STATUS_UNAVAIL;
    }
    in_module = 1;
    st = ent_set(e);
    in_module = 0;
    return st;
}

/* get*ent without a set*ent first: take a snapshot now. Called with e->lock
 * held; 0 or the unavail() code. */
static int ent_snapshot(struct ent_state *e)
{
    int r;

    if (e->s != NULL) {
        return 0;
    }
    e->idx = 0;
    r = acquire(&e->s);
    if (r < 0) {
        e->s = NULL;
        return unavail(r);
    }
    return 0;
}

enum nss_status _nss_openclaw_setpwent(int stayopen)
{
    (void)stayopen;
    return ent_set_guarded(&pw_ent);
}

enum nss_status _nss_openclaw_endpwent(void)
{
    return ent_end(&pw_ent);
}

enum nss_status _nss_openclaw_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    int saved = errno, r = 0;

    GUARD_ENTER(errnop);
    pthread_mutex_lock(&pw_ent.lock);
    r = ent_snapshot(&pw_ent);
    while (r == 0) {
        struct oc_nssc_pw u;
        r = oc_nssc_pw_at(&pw_ent.s->c, pw_ent.idx, &u);
        if (r < 0) {
            break; /* -ENOENT at the end */
        }
        if (!pw_ok(pw_ent.s, &u)) {
            pw_ent.idx++;
            continue;
        }
        r = fill_pw(&u, 0, pw, buf, buflen);
        if (r == 0) {
            pw_ent.idx++; /* advance only on success: ERANGE retries this entry */
        }
        break;
    }
    pthread_mutex_unlock(&pw_ent.lock);
    GUARD_LEAVE();
    return finish(r, saved, errnop);
}

enum nss_status _nss_openclaw_setgrent(int stayopen)
{
    (void)stayopen;
    return ent_set_guarded(&gr_ent);
}

enum nss_status _nss_openclaw_endgrent(void)
{
    return ent_end(&gr_ent);
}

enum nss_status _nss_openclaw_getgrent_r(struct group *gr, char *buf, size_t buflen, int *errnop)
{
    int saved = errno, r = 0;

    GUARD_ENTER(errnop);
    pthread_mutex_lock(&gr_ent.lock);
    r = ent_snapshot(&gr_ent);
    while (r == 0) {
        struct oc_nssc_gr g;
        r = oc_nssc_gr_at(&gr_ent.s->c, gr_ent.idx, &g);
        if (r < 0) {
            break;
        }
        if (!gr_ok(gr_ent.s, &g)) {
            gr_ent.idx++;
            continue;
        }
        r = fill_gr(&gr_ent.s->c, &g, gr, buf, buflen);
        if (r == 0) {
            gr_ent.idx++;
        }
        break;
    }
    pthread_mutex_unlock(&gr_ent.lock);
    GUARD_LEAVE();
    return finish(r, saved, errnop);
}
