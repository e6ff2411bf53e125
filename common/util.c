/* SPDX-License-Identifier: MIT */
/* util.c: libc-only helpers (see util.h). No logging, no allocation. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char to_lower_ascii(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (char)(c - 'A' + 'a');
    }
    return c;
}

/*
 * Parse the magnitude of a decimal number made only of digits.
 * Returns 0, -EINVAL (syntax) or -ERANGE (does not fit in 64 bits).
 */
static int parse_digits(const char *s, uint64_t *ret_value)
{
    uint64_t v = 0;
    size_t i;

    if (s == NULL || s[0] == '\0') {
        return -EINVAL;
    }
    for (i = 0; s[i] != '\0'; i++) {
        unsigned d;

        if (i >= OC_NUMBER_TEXT_MAX || !is_digit(s[i])) {
            return -EINVAL;
        }
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return -ERANGE;
        }
        v = v * 10 + d;
    }
    *ret_value = v;
    return 0;
}

int oc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret_value)
{
    uint64_t v;
    int r;

    r = parse_digits(s, &v);
    if (r < 0) {
        return r;
    }
    if (v < min || v > max) {
        return -ERANGE;
    }
    *ret_value = v;
    return 0;
}

int oc_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret_value)
{
    uint64_t v;
    int r;

    r = oc_parse_u64(s, min, max, &v);
    if (r < 0) {
        return r;
    }
    *ret_value = (uint32_t)v;
    return 0;
}

int oc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret_value)
{
    bool neg = false;
    uint64_t mag;
    int64_t v;
    int r;

    if (s == NULL) {
        return -EINVAL;
    }
    if (s[0] == '-') {
        neg = true;
        s++;
    }
    r = parse_digits(s, &mag);
    if (r < 0) {
        return r;
    }
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1) {
            return -ERANGE;
        }
        v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX) {
            return -ERANGE;
        }
        v = (int64_t)mag;
    }
    if (v < min || v > max) {
        return -ERANGE;
    }
    *ret_value = v;
    return 0;
}

int oc_parse_bool(const char *s, bool *ret_value)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    size_t i;

    if (s == NULL) {
        return -EINVAL;
    }
    for (i = 0; i < OC_ELEMENTSOF(yes); i++) {
        if (oc_streq_ascii_nocase(s, yes[i])) {
            *ret_value = true;
            return 0;
        }
        if (oc_streq_ascii_nocase(s, no[i])) {
            *ret_value = false;
            return 0;
        }
    }
    return -EINVAL;
}

void oc_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0) {
        explicit_bzero(p, n);
    }
}

void oc_free_wipe(void *p, size_t n)
{
    if (p == NULL) {
        return;
    }
    oc_wipe(p, n);
    free(p);
}

void oc_free_wipe_str(char *s)
{
    if (s == NULL) {
        return;
    }
    oc_free_wipe(s, strlen(s));
}

int oc_strnscpy(char *dst, size_t dstlen, const char *src, size_t n)
{
    size_t len;

    if (dst == NULL || dstlen == 0) {
        return -ENOBUFS;
    }
    len = strnlen(src, n);
    if (len >= dstlen) {
        memcpy(dst, src, dstlen - 1);
        dst[dstlen - 1] = '\0';
        return -ENOBUFS;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

int oc_strscpy(char *dst, size_t dstlen, const char *src)
{
    return oc_strnscpy(dst, dstlen, src, SIZE_MAX);
}

char *oc_strstrip(char *s)
{
    size_t len;

    while (is_space(*s)) {
        s++;
    }
    len = strlen(s);
    while (len > 0 && is_space(s[len - 1])) {
        s[--len] = '\0';
    }
    return s;
}

bool oc_streq_ascii_nocase(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        return false;
    }
    for (; *a != '\0' && *b != '\0'; a++, b++) {
        if (to_lower_ascii(*a) != to_lower_ascii(*b)) {
            return false;
        }
    }
    return *a == '\0' && *b == '\0';
}

bool oc_utf8_valid(const char *str, size_t n, size_t *ret_bad)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t need, k;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            goto bad;
        }
        if (n - i <= need) {
            goto bad;
        }
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                goto bad;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            goto bad;
        }
        i += need + 1;
    }
    return true;
bad:
    if (ret_bad != NULL) {
        *ret_bad = i;
    }
    return false;
}

bool oc_is_guid(const char *s)
{
    size_t i;

    if (s == NULL) {
        return false;
    }
    for (i = 0; i < OC_GUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return false;
            }
        } else if (!is_hex(s[i])) {
            return false;
        }
    }
    return s[OC_GUID_LEN] == '\0';
}

int oc_guid_normalize(const char *s, char ret_guid[OC_GUID_SIZE])
{
    size_t i;

    if (!oc_is_guid(s)) {
        return -EINVAL;
    }
    for (i = 0; i < OC_GUID_LEN; i++) {
        ret_guid[i] = to_lower_ascii(s[i]);
    }
    ret_guid[OC_GUID_LEN] = '\0';
    return 0;
}

bool oc_guid_equal(const char *a, const char *b)
{
    if (!oc_is_guid(a) || !oc_is_guid(b)) {
        return false;
    }
    return oc_streq_ascii_nocase(a, b);
}

bool oc_valid_user_name(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0') {
        return false;
    }
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
        return false;
    }
    if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) {
        return false;
    }
    for (i = 1; s[i] != '\0'; i++) {
        char c = s[i];

        if (i >= OC_USER_NAME_MAX) {
            return false;
        }
        if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

int oc_list_next(struct oc_list_iter *it, const char **ret_item, size_t *ret_len)
{
    bool comma = false;
    const char *p = it->p;
    const char *start;

    for (;;) {
        while (is_space(*p)) {
            p++;
        }
        if (*p != ',') {
            break;
        }
        if (!it->started || comma) {
            return -EINVAL;
        }
        comma = true;
        p++;
    }
    if (*p == '\0') {
        it->p = p;
        return comma ? -EINVAL : 0;
    }
    start = p;
    while (*p != '\0' && *p != ',' && !is_space(*p)) {
        p++;
    }
    it->p = p;
    it->started = true;
    *ret_item = start;
    *ret_len = (size_t)(p - start);
    return 1;
}

int oc_send_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int oc_read_full(int fd, void *buf, size_t cap, size_t *ret_len)
{
    uint8_t *p = buf;
    size_t len = 0;

    while (len < cap) {
        ssize_t n = read(fd, p + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    *ret_len = len;
    return 0;
}

#ifdef OC_TEST_HOOKS
/* Test builds only (configure --enable-test-hooks): OPENCLAW_TEST_WRITE_HOOK
 * = "pause=MS" holds every replacement for MS milliseconds between the
 * temporary file's fsync and the rename, so a test's SIGKILL lands inside
 * the write; ",unlink-first" adds a deliberately broken writer that removes
 * PATH before that pause (the negative control of the tests' "data lost"
 * check: a kill in the pause loses the file). */
static void replace_test_hook(const char *path)
{
    const char *s = secure_getenv("OPENCLAW_TEST_WRITE_HOOK");
    unsigned long ms = 0;

    if (s == NULL || strncmp(s, "pause=", 6) != 0) {
        return;
    }
    for (s += 6; is_digit(*s) && ms < 10000; s++) {
        ms = ms * 10 + (unsigned long)(*s - '0');
    }
    if (strcmp(s, ",unlink-first") == 0) {
        (void)unlink(path);
    }
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}
#endif

int oc_replace_file(const char *path, const char *tmp_suffix, const void *buf, size_t len,
                    mode_t mode, uid_t uid, gid_t gid)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    const uint8_t *p = buf;
    const char *slash, *base;
    int fd, dfd, n, r = 0;

    if (path == NULL || *path == '\0' || (buf == NULL && len > 0)) {
        return -EINVAL;
    }
    if (strlen(path) >= PATH_MAX - 16) {
        return -ENAMETOOLONG;
    }
    slash = strrchr(path, '/');
    base = slash != NULL ? slash + 1 : path;
    if (*base == '\0') {
        return -EINVAL;
    }
    if (tmp_suffix != NULL) {
        n = snprintf(tmp, sizeof(tmp), "%s%sXXXXXX", path, tmp_suffix);
    } else {
        n = snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", (int)(base - path), path, base);
    }
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return -ENAMETOOLONG;
    }
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }

    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    /* mode and owner before the data: no moment with the wrong ones */
    if (fchmod(fd, mode) < 0 ||
        ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)) {
        r = -errno;
    }
    while (r == 0 && len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            r = w < 0 ? -errno : -EIO;
            break;
        }
        p += w;
        len -= (size_t)w;
    }
    if (r == 0 && fsync(fd) < 0) {
        r = -errno;
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
#ifdef OC_TEST_HOOKS
    if (r == 0) {
        replace_test_hook(path);
    }
#endif
    if (r == 0 && rename(tmp, path) < 0) {
        r = -errno;
    }
    if (r < 0) {
        (void)unlink(tmp);
        return r;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd); /* best effort: the rename is done */
        close(dfd);
    }
    return 0;
}

int oc_send_pending(int fd, const uint8_t *buf, size_t len, size_t *off)
{
    while (*off < len) {
        ssize_t n = send(fd, buf + *off, len - *off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        if (n <= 0) {
            return -1;
        }
        *off += (size_t)n;
    }
    return 1;
}
