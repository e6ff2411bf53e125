/* SPDX-License-Identifier: MIT */
/*
 * rootdir.h: directories and files that root trusts (docs/security.md,
 * "The trust boundary").
 *
 * pam_openclaw and nss_openclaw act on a few files: the signing keys, the
 * agent directory, the NSS cache, the failure tallies. Root may trust such
 * a file only when no other account can have written it, or can replace
 * it between the check and the use. So a directory is opened by walking
 * its path from "/" one component at a time (openat with O_NOFOLLOW, fstat
 * on each), and a file is opened relative to that descriptor (openat with
 * O_NOFOLLOW) and checked with fstat on the open file. No path is walked
 * again between the check and the use.
 *
 * The rules, for an owner uid (root in production: the caller's effective
 * uid):
 *  - every directory above the one named is owned by root or the owner and
 *    not writable by group or others, unless sticky (as /tmp: nobody else
 *    may rename or remove the owner's entries there);
 *  - the directory itself is owned by the owner and has none of the mode
 *    bits in `deny` (077 for root's private state, 022 for state every
 *    process may read);
 *  - no component is a symlink;
 *  - a file is regular, owned by the owner, not writable by group or
 *    others, and (when asked) has one link.
 * Libc only (the NSS module links it), logs nothing.
 */
#ifndef OC_ROOTDIR_H
#define OC_ROOTDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * Open dir (absolute, no "." or ".." components) as an O_PATH directory
 * descriptor under the rules above. create_mode: when not 0 and the last
 * component alone is missing, it is made with that mode. ret_dirfd may be
 * NULL (a check only). On failure *ret_bad_len (when not NULL) is the
 * length of the prefix of dir naming the component at fault.
 * 0, -EPERM (an owner or mode), -ENOTDIR, -ELOOP, -ENOENT, -EINVAL or -errno.
 */
int oc_rootdir_open(const char *dir, uid_t owner, mode_t deny, mode_t create_mode, int *ret_dirfd,
                    size_t *ret_bad_len);

/*
 * Open file name (no '/', not "." or "..") of the checked directory dirfd
 * with openat(flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) (a
 * new file gets mode 0600) and accept it only as a regular file owned by
 * owner, not group/other-writable, and with one link when one_link:
 * -ELOOP (a symlink), -EINVAL (not a regular file), -EPERM (owner or
 * mode), -EMLINK (a hard link), or -errno. ret_st (may be NULL) gets the
 * fstat of the open file.
 */
int oc_rootfile_open(int dirfd, const char *name, int flags, uid_t owner, bool one_link,
                     int *ret_fd, struct stat *ret_st);

/* The fstat of a file accepted by oc_rootfile_open() (owner, regular, not
 * group/other-writable). */
bool oc_rootfile_stat_ok(const struct stat *st, uid_t owner);

/*
 * A directory that a full walk accepted, remembered by path and identity,
 * so that a later call in the same process may skip the walk: it opens
 * the path (O_NOFOLLOW) and takes the result only when it is that very
 * directory, still of the owner and without the `deny` bits; whatever was
 * renamed on the way, it is the directory that was checked. Not locked:
 * callers serialize.
 */
struct oc_rootdir_seen {
    char path[4096];
    dev_t dev;
    ino_t ino;
};

/* oc_rootdir_open() without a walk when seen says it was this directory;
 * else the walk, remembered in seen when it succeeds. */
int oc_rootdir_open_seen(struct oc_rootdir_seen *seen, const char *dir, uid_t owner, mode_t deny,
                         mode_t create_mode, int *ret_dirfd, size_t *ret_bad_len);

#endif /* OC_ROOTDIR_H */
