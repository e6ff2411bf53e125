/* SPDX-License-Identifier: MIT */
/* tally.c: per-agent failure tally and lockout (see tally.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tally.h"
#include "util.h"

#define TALLY_MAGIC   "OCTALLY"
#define TALLY_VERSION 1u

struct tally_header {
    char magic[8];
    uint32_t version;
    uint32_t n;
    int64_t locked_at;
    int64_t locked_until;
    uint32_t n_locks;
    uint32_t reserved;
};

struct tally {
    struct tally_header h;
    struct oc_tally_record *rec; /* h.n entries */
};

int oc_tally_dir_check(const char *dir)
{
    struct stat st;

    if (dir == NULL || dir[0] != '/') {
        return -EINVAL;
    }
    if (lstat(dir, &st) < 0) {
        if (errno != ENOENT) {
            return -errno;
        }
        int mr = mkdir(dir, 0700);
        if (mr < 0 && errno == ENOENT) {
            /* e.g. /run/openclaw before openclawd ever ran: one level only */
            char parent[PATH_MAX];
            char *slash;
            if (oc_strscpy(parent, sizeof(parent), dir) < 0) {
                return -ENAMETOOLONG;
            }
            slash = strrchr(parent, '/');
            if (slash != NULL && slash != parent) {
                *slash = '\0';
                if (mkdir(parent, 0755) < 0 && errno != EEXIST) {
                    return -errno;
                }
            }
            mr = mkdir(dir, 0700);
        }
        if (mr < 0 && errno != EEXIST) {
            return -errno;
        }
        if (lstat(dir, &st) < 0) {
            return -errno;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        return -ENOTDIR;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        return -EPERM;
    }
    return 0;
}

static int tally_path(const char *dir, const char *name, char *buf, size_t len)
{
    int n;

    if (dir == NULL || name == NULL || !oc_valid_user_name(name) || strstr(name, "..") != NULL ||
        strchr(name, '/') != NULL) {
        return -EINVAL;
    }
    n = snprintf(buf, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len) {
        return -ENAMETOOLONG;
    }
    return 0;
}

static ssize_t read_full(int fd, void *buf, size_t n, off_t off)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, off + (off_t)done);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (r == 0) {
            break;
        }
        done += (size_t)r;
    }
    return (ssize_t)done;
}

static int write_full(int fd, const void *buf, size_t n, off_t off)
{
    size_t done = 0;

    while (done < n) {
        ssize_t r = pwrite(fd, (const char *)buf + done, n - done, off + (off_t)done);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        done += (size_t)r;
    }
    return 0;
}

static int lock_fd(int fd, int op)
{
    while (flock(fd, op) < 0) {
        if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

/* Read the tally from fd; anything malformed reads as empty. */
static int tally_read(int fd, struct tally *t, bool want_records)
{
    ssize_t r;

    memset(t, 0, sizeof(*t));
    r = read_full(fd, &t->h, sizeof(t->h), 0);
    if (r < 0) {
        return (int)r;
    }
    if ((size_t)r != sizeof(t->h) || memcmp(t->h.magic, TALLY_MAGIC, sizeof(TALLY_MAGIC)) != 0 ||
        t->h.version != TALLY_VERSION || t->h.n > OC_TALLY_RECORDS_MAX) {
        memset(&t->h, 0, sizeof(t->h));
        return 0;
    }
    if (!want_records || t->h.n == 0) {
        return 0;
    }
    t->rec = calloc(t->h.n, sizeof(*t->rec));
    if (t->rec == NULL) {
        return -ENOMEM;
    }
    r = read_full(fd, t->rec, t->h.n * sizeof(*t->rec), sizeof(t->h));
    if (r < 0) {
        free(t->rec);
        t->rec = NULL;
        return (int)r;
    }
    if ((size_t)r != t->h.n * sizeof(*t->rec)) {
        free(t->rec);
        t->rec = NULL;
        memset(&t->h, 0, sizeof(t->h));
        return 0;
    }
    for (uint32_t i = 0; i < t->h.n; i++) {
        t->rec[i].service[OC_TALLY_SERVICE_MAX - 1] = '\0';
        t->rec[i].rhost[OC_TALLY_RHOST_MAX - 1] = '\0';
    }
    return 0;
}

static int tally_write(int fd, struct tally *t)
{
    int r;

    memcpy(t->h.magic, TALLY_MAGIC, sizeof(TALLY_MAGIC));
    t->h.version = TALLY_VERSION;
    r = write_full(fd, &t->h, sizeof(t->h), 0);
    if (r == 0 && t->h.n > 0) {
        r = write_full(fd, t->rec, t->h.n * sizeof(*t->rec), sizeof(t->h));
    }
    if (r == 0 && ftruncate(fd, (off_t)(sizeof(t->h) + t->h.n * sizeof(*t->rec))) < 0) {
        r = -errno;
    }
    return r;
}

static void fill_status(const struct tally *t, int64_t now, struct oc_tally_status *s)
{
    memset(s, 0, sizeof(*s));
    s->n_records = t->h.n;
    s->locked_at = t->h.locked_at;
    s->locked_until = t->h.locked_until;
    s->n_locks = t->h.n_locks;
    s->locked = t->h.locked_until != 0 && now < t->h.locked_until;
    if (t->rec != NULL && t->h.n > 0) {
        s->last_failure = t->rec[t->h.n - 1].time;
    }
}

/*
 * The file of a source: OC_TALLY_SOURCE_PREFIX and the FNV-1a 64 hash of
 * the source in hex. The prefix is not a valid user name, so a source never
 * shares a file with an agent.
 */
static int source_path(const char *dir, const char *source, char *buf, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    int n;

    if (dir == NULL || source == NULL) {
        return -EINVAL;
    }
    for (const unsigned char *p = (const unsigned char *)source; *p != '\0'; p++) {
        h = (h ^ *p) * 0x100000001b3ull;
    }
    n = snprintf(buf, len, "%s/%s%016llx", dir, OC_TALLY_SOURCE_PREFIX, (unsigned long long)h);
    if (n < 0 || (size_t)n >= len) {
        return -ENAMETOOLONG;
    }
    return 0;
}

static int open_path(const char *path, int flags, int *ret_fd)
{
    struct stat st;
    int fd;

    fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    *ret_fd = fd;
    return 0;
}

static int open_tally(const char *dir, const char *name, int flags, int *ret_fd)
{
    char path[PATH_MAX];
    int r;

    r = tally_path(dir, name, path, sizeof(path));
    return r < 0 ? r : open_path(path, flags, ret_fd);
}

/* Read the user's tally, records included, under a shared lock. No tally
 * file reads as an empty tally. */
static int tally_load(const char *dir, const char *name, struct tally *t)
{
    int fd = -1, r;

    r = open_tally(dir, name, O_RDONLY, &fd);
    if (r == -ENOENT) {
        memset(t, 0, sizeof(*t));
        return 0;
    }
    if (r < 0) {
        return r;
    }
    r = lock_fd(fd, LOCK_SH);
    if (r == 0) {
        r = tally_read(fd, t, true);
    }
    close(fd);
    return r;
}

int oc_tally_status(const char *dir, const char *name, int64_t now,
                    struct oc_tally_status *ret_status)
{
    struct tally t;
    int r;

    if (ret_status == NULL) {
        return -EINVAL;
    }
    r = tally_load(dir, name, &t);
    if (r < 0) {
        return r;
    }
    fill_status(&t, now, ret_status);
    free(t.rec);
    return 0;
}

int oc_tally_records(const char *dir, const char *name, struct oc_tally_record **ret_records,
                     size_t *ret_n)
{
    struct tally t;
    int r;

    if (ret_records == NULL || ret_n == NULL) {
        return -EINVAL;
    }
    r = tally_load(dir, name, &t);
    if (r < 0) {
        return r;
    }
    *ret_records = t.rec;
    *ret_n = t.h.n;
    return 0;
}

/* One failure in the tally file at path (see oc_tally_fail). */
static int tally_fail_path(const char *path, int64_t now, const char *service, const char *rhost,
                           uint32_t deny, uint32_t fail_interval, uint32_t unlock_time,
                           struct oc_tally_status *ret_status)
{
    struct tally t;
    struct oc_tally_record *rec;
    struct oc_tally_status s;
    bool was_locked;
    uint32_t recent = 0;
    int fd = -1, r;

    if (deny == 0 || ret_status == NULL) {
        return -EINVAL;
    }
    r = open_path(path, O_RDWR | O_CREAT, &fd);
    if (r < 0) {
        return r;
    }
    r = lock_fd(fd, LOCK_EX);
    if (r == 0) {
        r = tally_read(fd, &t, true);
    }
    if (r < 0) {
        close(fd);
        return r;
    }
    /* Room for one more record: drop the oldest when full. */
    rec = realloc(t.rec, (t.h.n + 1) * sizeof(*rec));
    if (rec == NULL) {
        free(t.rec);
        close(fd);
        return -ENOMEM;
    }
    t.rec = rec;
    if (t.h.n == OC_TALLY_RECORDS_MAX) {
        memmove(t.rec, t.rec + 1, (t.h.n - 1) * sizeof(*rec));
        t.h.n--;
    }
    memset(&t.rec[t.h.n], 0, sizeof(*rec));
    t.rec[t.h.n].time = now;
    (void)oc_strscpy(t.rec[t.h.n].service, OC_TALLY_SERVICE_MAX, service != NULL ? service : "");
    (void)oc_strscpy(t.rec[t.h.n].rhost, OC_TALLY_RHOST_MAX, rhost != NULL ? rhost : "");
    t.h.n++;

    was_locked = t.h.locked_until != 0 && now < t.h.locked_until;
    for (uint32_t i = 0; i < t.h.n; i++) {
        if (t.rec[i].time <= now && now - t.rec[i].time < (int64_t)fail_interval) {
            recent++;
        }
    }
    bool newly = false;
    if (!was_locked && recent >= deny) {
        t.h.locked_at = now;
        t.h.locked_until = unlock_time == 0 ? OC_TALLY_FOREVER : now + (int64_t)unlock_time;
        t.h.n_locks++;
        newly = true;
    }
    r = tally_write(fd, &t);
    close(fd);
    if (r == 0) {
        fill_status(&t, now, &s);
        s.n_recent = recent;
        s.newly_locked = newly;
        *ret_status = s;
    }
    free(t.rec);
    return r;
}

int oc_tally_fail(const char *dir, const char *name, int64_t now, const char *service,
                  const char *rhost, uint32_t deny, uint32_t fail_interval, uint32_t unlock_time,
                  struct oc_tally_status *ret_status)
{
    char path[PATH_MAX];
    int r = tally_path(dir, name, path, sizeof(path));

    return r < 0 ? r
                 : tally_fail_path(path, now, service, rhost, deny, fail_interval, unlock_time,
                                   ret_status);
}

int oc_tally_source_fail(const char *dir, const char *source, int64_t now, const char *service,
                         uint32_t deny, uint32_t fail_interval, uint32_t hold,
                         struct oc_tally_status *ret_status)
{
    char path[PATH_MAX];
    int r = source_path(dir, source, path, sizeof(path));

    /* hold 0 would mean "until an admin": a source is never held that long. */
    return r < 0 ? r
                 : tally_fail_path(path, now, service, source, deny, fail_interval,
                                   hold == 0 ? 1 : hold, ret_status);
}

int oc_tally_reset(const char *dir, const char *name)
{
    struct tally t;
    int fd = -1, r;

    r = open_tally(dir, name, O_RDWR, &fd);
    if (r == -ENOENT) {
        return 0;
    }
    if (r < 0) {
        return r;
    }
    r = lock_fd(fd, LOCK_EX);
    if (r == 0) {
        memset(&t, 0, sizeof(t));
        r = tally_write(fd, &t);
    }
    close(fd);
    return r;
}
