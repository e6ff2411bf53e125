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

#include "rootdir.h"
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

int oc_tally_dir_open(const char *dir, uid_t owner, bool create, int *ret_dirfd,
                      size_t *ret_bad_len)
{
    return oc_rootdir_open(dir, owner, 077, create ? 0700 : 0, ret_dirfd, ret_bad_len);
}

int oc_tally_dir_check(const char *dir)
{
    return oc_tally_dir_open(dir, geteuid(), true, NULL, NULL);
}

/* Names that are not valid user names (so anything with '/', "." or "..")
 * never reach openat(). */
static bool tally_name_ok(const char *name)
{
    return name != NULL && oc_valid_user_name(name) && strstr(name, "..") == NULL &&
           strchr(name, '/') == NULL;
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
static void source_name(const char *source, char buf[static OC_TALLY_SOURCE_NAME_MAX])
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (const unsigned char *p = (const unsigned char *)source; *p != '\0'; p++) {
        h = (h ^ *p) * 0x100000001b3ull;
    }
    (void)snprintf(buf, OC_TALLY_SOURCE_NAME_MAX, "%s%016llx", OC_TALLY_SOURCE_PREFIX,
                   (unsigned long long)h);
}

int oc_tally_file_open(int dirfd, const char *name, int flags, int *ret_fd)
{
    return oc_rootfile_open(dirfd, name, flags, geteuid(), true, ret_fd, NULL);
}

static int open_tally(int dirfd, const char *name, int flags, int *ret_fd)
{
    return tally_name_ok(name) ? oc_tally_file_open(dirfd, name, flags, ret_fd) : -EINVAL;
}

/* Read the user's tally, records included, under a shared lock. No tally
 * file reads as an empty tally. */
static int tally_load(int dirfd, const char *name, struct tally *t)
{
    int fd = -1, r;

    r = open_tally(dirfd, name, O_RDONLY, &fd);
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

/* The tally directory dir for a read or a reset: -ENOENT when it does not
 * exist (nothing on record), never created. */
static int dir_open_existing(const char *dir, int *ret_dirfd)
{
    return oc_tally_dir_open(dir, geteuid(), false, ret_dirfd, NULL);
}

int oc_tally_status_at(int dirfd, const char *name, int64_t now, struct oc_tally_status *ret_status)
{
    struct tally t;
    int r;

    if (ret_status == NULL) {
        return -EINVAL;
    }
    r = tally_load(dirfd, name, &t);
    if (r < 0) {
        return r;
    }
    fill_status(&t, now, ret_status);
    free(t.rec);
    return 0;
}

int oc_tally_status(const char *dir, const char *name, int64_t now,
                    struct oc_tally_status *ret_status)
{
    int dirfd = -1, r;

    if (ret_status == NULL || !tally_name_ok(name)) {
        return -EINVAL;
    }
    r = dir_open_existing(dir, &dirfd);
    if (r == -ENOENT) {
        memset(ret_status, 0, sizeof(*ret_status));
        return 0;
    }
    if (r < 0) {
        return r;
    }
    r = oc_tally_status_at(dirfd, name, now, ret_status);
    close(dirfd);
    return r;
}

int oc_tally_records(const char *dir, const char *name, struct oc_tally_record **ret_records,
                     size_t *ret_n)
{
    struct tally t;
    int dirfd = -1, r;

    if (ret_records == NULL || ret_n == NULL || !tally_name_ok(name)) {
        return -EINVAL;
    }
    r = dir_open_existing(dir, &dirfd);
    if (r == -ENOENT) {
        *ret_records = NULL;
        *ret_n = 0;
        return 0;
    }
    if (r < 0) {
        return r;
    }
    r = tally_load(dirfd, name, &t);
    close(dirfd);
    if (r < 0) {
        return r;
    }
    *ret_records = t.rec;
    *ret_n = t.h.n;
    return 0;
}

/* One failure in the tally file name of dirfd (see oc_tally_fail). */
static int tally_fail_file(int dirfd, const char *name, int64_t now, const char *service,
                           const char *rhost, uint32_t deny, uint32_t fail_interval,
                           uint32_t unlock_time, struct oc_tally_status *ret_status)
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
    r = oc_tally_file_open(dirfd, name, O_RDWR | O_CREAT, &fd);
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

int oc_tally_fail_at(int dirfd, const char *name, int64_t now, const char *service,
                     const char *rhost, uint32_t deny, uint32_t fail_interval, uint32_t unlock_time,
                     struct oc_tally_status *ret_status)
{
    if (!tally_name_ok(name)) {
        return -EINVAL;
    }
    return tally_fail_file(dirfd, name, now, service, rhost, deny, fail_interval, unlock_time,
                           ret_status);
}

int oc_tally_fail(const char *dir, const char *name, int64_t now, const char *service,
                  const char *rhost, uint32_t deny, uint32_t fail_interval, uint32_t unlock_time,
                  struct oc_tally_status *ret_status)
{
    int dirfd = -1, r;

    if (!tally_name_ok(name)) {
        return -EINVAL;
    }
    r = oc_tally_dir_open(dir, geteuid(), true, &dirfd, NULL);
    if (r < 0) {
        return r;
    }
    r = oc_tally_fail_at(dirfd, name, now, service, rhost, deny, fail_interval, unlock_time,
                         ret_status);
    close(dirfd);
    return r;
}

int oc_tally_source_fail_at(int dirfd, const char *source, int64_t now, const char *service,
                            uint32_t deny, uint32_t fail_interval, uint32_t hold,
                            struct oc_tally_status *ret_status)
{
    char name[OC_TALLY_SOURCE_NAME_MAX];

    if (source == NULL) {
        return -EINVAL;
    }
    source_name(source, name);
    /* hold 0 would mean "until an admin": a source is never held that long. */
    return tally_fail_file(dirfd, name, now, service, source, deny, fail_interval,
                           hold == 0 ? 1 : hold, ret_status);
}

int oc_tally_reset_at(int dirfd, const char *name)
{
    struct tally t;
    int fd = -1, r;

    r = open_tally(dirfd, name, O_RDWR, &fd);
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

int oc_tally_reset(const char *dir, const char *name)
{
    int dirfd = -1, r;

    if (!tally_name_ok(name)) {
        return -EINVAL;
    }
    r = dir_open_existing(dir, &dirfd);
    if (r == -ENOENT) {
        return 0;
    }
    if (r < 0) {
        return r;
    }
    r = oc_tally_reset_at(dirfd, name);
    close(dirfd);
    return r;
}
