/* SPDX-License-Identifier: MIT */
/* oc_privfile.c: read a private file safely (see oc_privfile.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper/lib/oc_privfile.h"
#include "util.h"

int oc_private_file_read(const char *path, size_t max, unsigned flags, uint8_t **ret_buf,
                         size_t *ret_len)
{
    /* O_NONBLOCK: a FIFO put in the file's place must not hang the daemon
     * in open(); it is refused by the fstat below */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    uint8_t *buf = NULL;
    size_t len = 0, size;
    int r;

    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        goto out;
    }
    if ((flags & OC_PF_OWNER_ONLY) != 0 && (st.st_mode & 0077) != 0) {
        r = -EPERM;
        goto out;
    }
    if ((flags & OC_PF_NONEMPTY) != 0 && st.st_size <= 0) {
        r = -ENODATA;
        goto out;
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > max) {
        r = -EFBIG;
        goto out;
    }
    size = (size_t)st.st_size;
    buf = malloc(size + 1);
    if (buf == NULL) {
        r = -ENOMEM;
        goto out;
    }
    r = oc_read_full(fd, buf, size, &len);
    if (r == 0 && len < size) {
        r = -EIO; /* shrank while read */
    }
    if (r < 0) {
        oc_free_wipe(buf, size + 1);
        buf = NULL;
        goto out;
    }
    buf[len] = 0;
    *ret_buf = buf;
    *ret_len = len;
out:
    close(fd);
    return r;
}
