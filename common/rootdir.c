/* SPDX-License-Identifier: MIT */
/* rootdir.c: directories and files that root trusts (see rootdir.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootdir.h"
#include "util.h"

/* May a directory on the way be trusted: only root or the owner can change
 * which entries it holds. A sticky directory (/tmp) qualifies: nobody else
 * may rename or remove an entry of root's in it, and the next component
 * must be root's (or the owner's) too. */
static bool ancestor_ok(const struct stat *st, uid_t owner)
{
    return (st->st_uid == 0 || st->st_uid == owner) &&
           ((st->st_mode & (S_IWGRP | S_IWOTH)) == 0 || (st->st_mode & S_ISVTX) != 0);
}

int oc_rootdir_open(const char *dir, uid_t owner, mode_t deny, mode_t create_mode, int *ret_dirfd,
                    size_t *ret_bad_len)
{
    char comp[NAME_MAX + 1];
    struct stat st;
    const char *p = dir;
    size_t bad = 1;
    int fd, r = 0;

    if (dir == NULL || dir[0] != '/') {
        return -EINVAL;
    }
    fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    for (;;) {
        while (*p == '/') {
            p++;
        }
        size_t len = strcspn(p, "/");
        const char *rest = p + len;
        while (*rest == '/') {
            rest++;
        }
        bool last = *rest == '\0';
        if (len == 0) {
            /* "/" itself named */
            r = -EPERM;
            goto out;
        }
        if (!ancestor_ok(&st, owner)) {
            r = -EPERM;
            goto out;
        }
        bad = (size_t)(p - dir) + len;
        if (len > NAME_MAX) {
            r = -ENAMETOOLONG;
            goto out;
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
            r = -EINVAL;
            goto out;
        }
        /* O_NOFOLLOW on every component: a symlink anywhere is refused. */
        int nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0 && errno == ENOENT && last && create_mode != 0) {
            if (mkdirat(fd, comp, create_mode) < 0 && errno != EEXIST) {
                r = -errno;
                goto out;
            }
            nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (nfd < 0) {
            r = -errno;
            goto out;
        }
        close(fd);
        fd = nfd;
        if (fstat(fd, &st) < 0) {
            r = -errno;
            goto out;
        }
        if (!S_ISDIR(st.st_mode)) {
            r = -ENOTDIR;
            goto out;
        }
        if (last) {
            break;
        }
        p = rest;
    }
    if (st.st_uid != owner || (st.st_mode & deny) != 0) {
        r = -EPERM;
        goto out;
    }
    if (ret_dirfd != NULL) {
        *ret_dirfd = fd;
        fd = -1;
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    if (r < 0 && ret_bad_len != NULL) {
        *ret_bad_len = bad;
    }
    return r;
}

bool oc_rootfile_stat_ok(const struct stat *st, uid_t owner)
{
    return S_ISREG(st->st_mode) && st->st_uid == owner && (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

int oc_rootfile_open(int dirfd, const char *name, int flags, uid_t owner, bool one_link,
                     int *ret_fd, struct stat *ret_st)
{
    struct stat st;
    int fd, r = 0;

    if (dirfd < 0 || name == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
        strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || ret_fd == NULL) {
        return -EINVAL;
    }
    /* O_NONBLOCK: a FIFO never holds the caller at open (and is refused). */
    fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
    } else if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
    } else if (!oc_rootfile_stat_ok(&st, owner)) {
        r = -EPERM;
    } else if (one_link && st.st_nlink != 1) {
        r = -EMLINK; /* a hard link: writing would change another file too */
    }
    if (r < 0) {
        close(fd);
        return r;
    }
    if (ret_st != NULL) {
        *ret_st = st;
    }
    *ret_fd = fd;
    return 0;
}

int oc_rootdir_open_seen(struct oc_rootdir_seen *seen, const char *dir, uid_t owner, mode_t deny,
                         mode_t create_mode, int *ret_dirfd, size_t *ret_bad_len)
{
    struct stat st;
    int fd, r;

    if (seen != NULL && dir != NULL && strcmp(seen->path, dir) == 0) {
        fd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == owner &&
                (st.st_mode & deny) == 0 && st.st_dev == seen->dev && st.st_ino == seen->ino) {
                *ret_dirfd = fd;
                return 0;
            }
            close(fd);
        }
    }
    r = oc_rootdir_open(dir, owner, deny, create_mode, &fd, ret_bad_len);
    if (seen != NULL) {
        if (r == 0 && fstat(fd, &st) == 0 && oc_strscpy(seen->path, sizeof(seen->path), dir) >= 0) {
            seen->dev = st.st_dev;
            seen->ino = st.st_ino;
        } else {
            seen->path[0] = '\0';
        }
    }
    if (r == 0) {
        *ret_dirfd = fd;
    }
    return r;
}
