/* SPDX-License-Identifier: MIT */
/*
 * tally.h: per-agent failure tally and lockout (modelled on pam_faillock).
 *
 * One small file per agent, DIR/NAME, in a directory owned by the caller's
 * effective uid (root in production) with no group/other access. The file
 * is a fixed-size header followed by at most OC_TALLY_RECORDS_MAX
 * fixed-size failure records (oldest dropped first); every access holds
 * flock() on it. Names that are not valid user names (so anything with
 * '/' or "..") are refused. A record that does not parse is treated as
 * an empty tally and rewritten: tampering needs root anyway.
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
 * Make sure dir exists (created 0700 if missing, and its parent 0755 when
 * that is missing too, one level only) and is
 * a real directory owned by the effective uid without group/other access.
 * 0, -ENOTDIR, -EPERM (owner or mode wrong) or an I/O error.
 */
int oc_tally_dir_check(const char *dir);

/* Status of name at time now. No file: all zero. 0 or -errno (-EINVAL bad name). */
int oc_tally_status(const char *dir, const char *name, int64_t now,
                    struct oc_tally_status *ret_status);

/* Every record on file (at most OC_TALLY_RECORDS_MAX, oldest first), malloc'd. */
int oc_tally_records(const char *dir, const char *name, struct oc_tally_record **ret_records,
                     size_t *ret_n);

/*
 * Record one failure and lock when the threshold is reached. A failure
 * while already locked is recorded but does not extend the lock.
 */
int oc_tally_fail(const char *dir, const char *name, int64_t now, const char *service,
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
int oc_tally_source_fail(const char *dir, const char *source, int64_t now, const char *service,
                         uint32_t deny, uint32_t fail_interval, uint32_t hold,
                         struct oc_tally_status *ret_status);

/* Forget every failure and lift the lock (a success, or an admin unlock). */
int oc_tally_reset(const char *dir, const char *name);

#endif /* OC_TALLY_H */
