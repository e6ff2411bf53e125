/* SPDX-License-Identifier: MIT */
/*
 * oc_privfile.h: the one reader of the daemon's private files (a client
 * secret, a sealed blob, tokens.db): opened with O_NOFOLLOW, checked with
 * fstat on the open descriptor (a regular file; with OC_PF_OWNER_ONLY no
 * group or other permission bits), capped, read whole.
 */
#ifndef OC_PRIVFILE_H
#define OC_PRIVFILE_H

#include <stddef.h>
#include <stdint.h>

#define OC_PF_OWNER_ONLY 1u /* group or other permission bits: -EPERM */
#define OC_PF_NONEMPTY   2u /* an empty file: -ENODATA */

/*
 * Read the file at path (a FIFO or device in its place is refused, never
 * waited on), at most max bytes. 0 with *ret_buf (malloc'd,
 * NUL-terminated after *ret_len bytes: free it with oc_free_wipe(buf,
 * len + 1) when it may hold a secret), or -errno of open/fstat/read,
 * -EINVAL (not a regular file, a symlink gives -ELOOP), -EFBIG (over max),
 * -EIO (it shrank while read) or as the flags say.
 */
int oc_private_file_read(const char *path, size_t max, unsigned flags, uint8_t **ret_buf,
                         size_t *ret_len);

#endif /* OC_PRIVFILE_H */
