/* SPDX-License-Identifier: MIT */
/*
 * util.h: small libc-only helpers shared by every part of openclaw.
 *
 * Strict number parsing, secret wiping, cleanup attributes, bounded
 * strings, GUID and user-name validation. Nothing here allocates except
 * where stated, nothing logs, everything returns 0 or a negative errno.
 */
#ifndef OC_UTIL_H
#define OC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Text form of a GUID: 8-4-4-4-12 hex digits. */
#define OC_GUID_LEN  36
#define OC_GUID_SIZE (OC_GUID_LEN + 1)

/* Longest user (and group) name we accept or produce. */
#define OC_USER_NAME_MAX 32

/* Longest number text accepted by the oc_parse_* functions. */
#define OC_NUMBER_TEXT_MAX 32

#define OC_ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Parse a whole string as a decimal number in [min, max].
 * No leading or trailing whitespace, no sign on unsigned values, no hex
 * or octal, at most OC_NUMBER_TEXT_MAX characters.
 * Returns 0, -EINVAL (not a number) or -ERANGE (outside [min, max]).
 */
int oc_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret_value);
int oc_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret_value);
int oc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *ret_value);

/* Parse yes/no/true/false/on/off/1/0 (case-insensitive). 0 or -EINVAL. */
int oc_parse_bool(const char *s, bool *ret_value);

/* Wipe memory in a way the compiler may not optimise away. */
void oc_wipe(void *p, size_t n);
/* Wipe n bytes at p, then free p. NULL is fine. */
void oc_free_wipe(void *p, size_t n);
/* Wipe a NUL-terminated string, then free it. NULL is fine. */
void oc_free_wipe_str(char *s);

/* Write all LEN bytes to socket FD (blocking; EINTR retried, no SIGPIPE).
 * 0, or -errno (-EIO when the peer took nothing). */
int oc_send_all(int fd, const void *buf, size_t len);
/* Send what is left of BUF (LEN bytes, *OFF of them already sent) on a
 * non-blocking socket. 1 all sent, 0 would block (call again on POLLOUT),
 * -1 the connection failed. */
int oc_send_pending(int fd, const uint8_t *buf, size_t len, size_t *off);

/* Read from FD until end of file or CAP bytes, EINTR retried; the count
 * read goes to *RET_LEN (less than CAP: the file ended). 0 or -errno. */
int oc_read_full(int fd, void *buf, size_t cap, size_t *ret_len);

/* Replace the file at PATH with the LEN bytes at BUF, atomically: a new
 * temporary file next to it gets mode MODE and, unless both are -1, owner
 * UID:GID before anything is written; then the data, fsync, rename over
 * PATH, and a best-effort fsync of the directory so the rename survives a
 * crash. Nothing is left behind on failure.
 * The temporary name is DIR/.BASE.XXXXXX when TMP_SUFFIX is NULL (the
 * pattern openclawd's start-up sweep removes after a crash, oc_sweep.h),
 * else PATH TMP_SUFFIX XXXXXX (e.g. "store.key.tmpXXXXXX").
 * 0, -EINVAL (empty PATH, PATH ending in '/'), -ENAMETOOLONG, or -errno. */
int oc_replace_file(const char *path, const char *tmp_suffix, const void *buf, size_t len,
                    mode_t mode, uid_t uid, gid_t gid);

/*
 * Copy src into dst (size dstlen), always NUL-terminated when dstlen > 0.
 * Returns 0, or -ENOBUFS when src did not fit (dst then holds a
 * truncated copy) or dstlen is 0.
 */
int oc_strscpy(char *dst, size_t dstlen, const char *src);
/* Like oc_strscpy for the first n bytes of src (or fewer up to a NUL). */
int oc_strnscpy(char *dst, size_t dstlen, const char *src, size_t n);

/* Strip leading and trailing ASCII whitespace in place; returns the start. */
char *oc_strstrip(char *s);

/* ASCII-only case-insensitive comparison, independent of the locale. */
bool oc_streq_ascii_nocase(const char *a, const char *b);

/*
 * True when s[0..n) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). On false, *ret_bad (if not NULL)
 * is the offset of the first byte of the bad sequence.
 */
bool oc_utf8_valid(const char *s, size_t n, size_t *ret_bad);

/* A GUID in 8-4-4-4-12 hex form, either case, no braces. */
bool oc_is_guid(const char *s);
/* Validate s as a GUID and write its lowercase canonical form. 0 or -EINVAL. */
int oc_guid_normalize(const char *s, char ret_guid[OC_GUID_SIZE]);
/* Compare two GUIDs case-insensitively; false if either is not a GUID. */
bool oc_guid_equal(const char *a, const char *b);

/*
 * A portable Unix user or group name: [a-z_][a-z0-9_-]*, at most
 * OC_USER_NAME_MAX characters, never "." or "..", no trailing '$'.
 */
bool oc_valid_user_name(const char *s);

/*
 * Iterate the items of a list written with commas and/or whitespace as
 * separators ("a, b c,d"). An empty item (leading, trailing or doubled
 * comma) is an error. Usage:
 *     struct oc_list_iter it = OC_LIST_ITER_INIT(text);
 *     while ((r = oc_list_next(&it, &item, &len)) > 0) ...
 * oc_list_next returns 1 with an item (not NUL-terminated), 0 at the
 * end, -EINVAL on an empty item.
 */
struct oc_list_iter {
    const char *p;
    bool started;
};
#define OC_LIST_ITER_INIT(text) ((struct oc_list_iter){.p = (text), .started = false})
int oc_list_next(struct oc_list_iter *it, const char **ret_item, size_t *ret_len);

#endif /* OC_UTIL_H */
