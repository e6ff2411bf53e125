/* SPDX-License-Identifier: MIT */
/* replay.c: one-time token store (see replay.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pam_openclaw/replay.h"
#include "tally.h"

struct replay_rec {
    int64_t exp;
    char id[OC_REPLAY_ID_MAX];
};

static int do_flock(int fd)
{
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            return -errno;
        }
    }
    return 0;
}

int oc_replay_use(int dirfd, const char *id, int64_t exp, int64_t now)
{
    struct stat st;
    struct replay_rec *recs = NULL;
    size_t n = 0, keep = 0, idlen;
    int fd, r = 0;

    if (dirfd < 0 || id == NULL || (idlen = strlen(id)) == 0 || idlen >= OC_REPLAY_ID_MAX) {
        return -EINVAL;
    }
    /* A regular file of root's with one link, never through a symlink. */
    r = oc_tally_file_open(dirfd, OC_REPLAY_FILE, O_RDWR | O_CREAT, &fd);
    if (r < 0) {
        return r;
    }
    r = do_flock(fd);
    if (r < 0) {
        goto out;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        r = -EINVAL;
        goto out;
    }
    n = (size_t)st.st_size / sizeof(struct replay_rec);
    if (n > OC_REPLAY_MAX) {
        n = OC_REPLAY_MAX;
    }
    recs = calloc(n + 1, sizeof(*recs));
    if (recs == NULL) {
        r = -ENOMEM;
        goto out;
    }
    size_t want = n * sizeof(*recs), got = 0;
    while (got < want) {
        ssize_t k = pread(fd, (char *)recs + got, want - got, (off_t)got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            break;
        }
        got += (size_t)k;
    }
    n = got / sizeof(*recs);
    for (size_t i = 0; i < n; i++) {
        recs[i].id[OC_REPLAY_ID_MAX - 1] = '\0';
        if (recs[i].exp <= now) {
            continue; /* expired: forget it */
        }
        if (strcmp(recs[i].id, id) == 0) {
            r = -EEXIST;
            goto out;
        }
        recs[keep++] = recs[i];
    }
    if (keep >= OC_REPLAY_MAX) {
        r = -ENOSPC;
        goto out;
    }
    memset(&recs[keep], 0, sizeof(recs[keep]));
    recs[keep].exp = exp;
    memcpy(recs[keep].id, id, idlen);
    keep++;
    want = keep * sizeof(*recs);
    got = 0;
    while (got < want) {
        ssize_t k = pwrite(fd, (const char *)recs + got, want - got, (off_t)got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            r = -errno;
            goto out;
        }
        got += (size_t)k;
    }
    if (ftruncate(fd, (off_t)want) < 0 || fsync(fd) < 0) {
        r = -errno;
    }
out:
    free(recs);
    close(fd);
    return r;
}
