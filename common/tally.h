/* SPDX-License-Identifier: MIT */
/*
 * tally.h: per-agent failure tally and lockout (modelled on pam_faillock).
 *
 * One small file per agent, DIR/NAME, in a directory owned by the caller's
 * effective uid (root in production) with no group/other access, below
 * directories that only root (or that uid) can change. The file is a
 * fixed-size header followed by at most OC_TALLY_RECORDS_MAX fixed-size
 * failure records (oldest dropped first); every access holds flock() on it.
 * Names that are not valid user names (so anything with '/' or "..") are
 * refused. A record that does not parse is treated as an empty tally and
 * rewritten: tampering needs root anyway.
 *
 * No path is walked twice: oc_tally_dir_open() walks DIR from "/" one
 * component at a time (openat, O_NOFOLLOW), checks each with fstat, and
 * returns a descriptor; every file is then opened with openat() on it
 * (O_NOFOLLOW) and checked with fstat (a regular file of the uid, one
 * link) before it is read or written. The *_at functions take that
 * descriptor (pam_openclaw opens it once per call and holds it across the
 * conversation); the path functions open it for one operation.
 *
 * A failure at time T counts the failures in (T - fail_interval, T]; when
 * that reaches deny the agent is locked until T + unlock_time (forever,
 * until an admin unlocks, when unlock_time is 0). Libc only, logs nothing.
 */
#ifndef OC_TALLY_H
#define OC_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf.h"

/* Records kept per agent (>= OC_DENY_MAX so any deny can be counted). */
#define OC_TALLY_RECORDS_MAX OC_DENY_MAX
#define OC_TALLY_SERVICE_MAX 32
#define OC_TALLY_RHOST_MAX   64
/* locked_until of a lock that only an admin lifts. */
#define OC_TALLY_FOREVER INT64_MAX

struct oc_tally_record {
    int64_t time;
    char service[OC_TALLY_SERVICE_MAX]; /* NUL-terminated, cut if longer */
    char rhost[OC_TALLY_RHOST_MAX];
};

struct oc_tally_status {
    uint32_t n_records;   /* failures on file */
    uint32_t n_recent;    /* of which within the last fail_interval (status: 0) */
    int64_t last_failure; /* 0 when none */
    int64_t locked_at;    /* 0 when never locked since the last reset */
    int64_t locked_until; /* 0: not locked; OC_TALLY_FOREVER: until unlock */
    uint32_t n_locks;     /* locks since the last reset */
    bool locked;          /* locked at the time asked */
    bool newly_locked;    /* oc_tally_fail(): this failure caused the lock */
};

/*
 * Open the tally directory dir (absolute, no "." or ".." components) as
 * an O_PATH descriptor, walking from "/" with openat(O_NOFOLLOW) and
 * fstat on each component:
 *  - every directory above it is owned by root or owner and not writable
 *    by group or others unless sticky (as /tmp: others cannot rename or
 *    remove root's entries there);
 *  - dir itself is a directory owned by owner without group/other access;
 *  - no component is a symlink (-ELOOP or -ENOTDIR).
 * create: make dir (0700) when it alone is missing. ret_dirfd may be NULL
 * (a check only). On failure *ret_bad_len (when not NULL) is the length of
 * the prefix of dir naming the component at fault.
 * 0, -EPERM (an owner or mode), -ENOTDIR, -ELOOP, -ENOENT, -EINVAL or -errno.
 */
int oc_tally_dir_open(const char *dir, uid_t owner, bool create, int *ret_dirfd,
                      size_t *ret_bad_len);

/* oc_tally_dir_open(dir, geteuid(), true, NULL, NULL). */
int oc_tally_dir_check(const char *dir);

/*
 * Open file name (no '/', not "." or "..") of the checked directory dirfd
 * with openat(flags | O_NOFOLLOW | O_CLOEXEC), and accept it only as a
 * regular file owned by the effective uid, not group/other-writable, with
 * one link: -ELOOP (a symlink), -EINVAL (not a regular file), -EPERM
 * (owner or mode), -EMLINK (a hard link), or -errno. Shared with the
 * one-time token store, which lives in the same directory.
 */
int oc_tally_file_open(int dirfd, const char *name, int flags, int *ret_fd);

/* Status of name at time now. No file: all zero. 0 or -errno (-EINVAL bad name).
 * The path form reads a missing directory as no file. */
int oc_tally_status(const char *dir, const char *name, int64_t now,
                    struct oc_tally_status *ret_status);
int oc_tally_status_at(int dirfd, const char *name, int64_t now,
                       struct oc_tally_status *ret_status);

/* Every record on file (at most OC_TALLY_RECORDS_MAX, oldest first), malloc'd
 * (NULL, 0 when none). */
int oc_tally_records(const char *dir, const char *name, struct oc_tally_record **ret_records,
                     size_t *ret_n);

/*
 * Record one failure and lock when the threshold is reached. A failure
 * while already locked is recorded but does not extend the lock. The path
 * form creates the directory when it alone is missing.
 */
int oc_tally_fail(const char *dir, const char *name, int64_t now, const char *service,
                  const char *rhost, uint32_t deny, uint32_t fail_interval, uint32_t unlock_time,
                  struct oc_tally_status *ret_status);
int oc_tally_fail_at(int dirfd, const char *name, int64_t now, const char *service,
                     const char *rhost, uint32_t deny, uint32_t fail_interval, uint32_t unlock_time,
                     struct oc_tally_status *ret_status);

/*
 * Per-source tally of input that no Entra key signed (garbage, a forged or
 * unverifiable token): it is never charged to an agent, only to where it
 * came from (source: PAM_RHOST, or a local marker). Same file format, in
 * the same directory, named OC_TALLY_SOURCE_PREFIX + a hash of the source
 * (never a valid user name). When deny failures fall within fail_interval
 * the source is "locked" (throttled) for hold seconds (at least 1): the
 * caller decides what that means (pam_openclaw: a longer failure delay).
 */
#define OC_TALLY_SOURCE_PREFIX "@src-"
/* The prefix, 16 hex digits, NUL. */
#define OC_TALLY_SOURCE_NAME_MAX (sizeof(OC_TALLY_SOURCE_PREFIX) + 16)
int oc_tally_source_fail_at(int dirfd, const char *source, int64_t now, const char *service,
                            uint32_t deny, uint32_t fail_interval, uint32_t hold,
                            struct oc_tally_status *ret_status);

/* Forget every failure and lift the lock (a success, or an admin unlock).
 * The path form: a missing directory has nothing to forget. */
int oc_tally_reset(const char *dir, const char *name);
int oc_tally_reset_at(int dirfd, const char *name);

#endif /* OC_TALLY_H */
