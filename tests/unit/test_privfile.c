/* SPDX-License-Identifier: MIT */
/* test_privfile.c: the one reader of private files (helper/lib/oc_privfile.c). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper/lib/oc_privfile.h"
#include "util.h"

static char dir[] = "/tmp/oc-privfile.XXXXXX";

static void put(const char *name, const char *text, mode_t mode)
{
    char p[128];
    int fd;

    (void)snprintf(p, sizeof(p), "%s/%s", dir, name);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static int rd(const char *name, size_t max, unsigned flags, uint8_t **buf, size_t *len)
{
    char p[128];

    (void)snprintf(p, sizeof(p), "%s/%s", dir, name);
    return oc_private_file_read(p, max, flags, buf, len);
}

static void test_reads_whole_nul_terminated(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    (void)state;

    put("ok", "secret\n", 0600);
    assert_int_equal(rd("ok", 64, OC_PF_OWNER_ONLY | OC_PF_NONEMPTY, &buf, &len), 0);
    assert_int_equal(len, 7);
    assert_string_equal((char *)buf, "secret\n");
    oc_free_wipe(buf, len + 1);
}

static void test_refusals(void **state)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char p[128], q[128];
    (void)state;

    put("open", "x", 0640);
    assert_int_equal(rd("open", 64, OC_PF_OWNER_ONLY, &buf, &len), -EPERM);
    assert_int_equal(rd("open", 64, 0, &buf, &len), 0); /* owner-only only on request */
    free(buf);
    put("empty", "", 0600);
    assert_int_equal(rd("empty", 64, OC_PF_NONEMPTY, &buf, &len), -ENODATA);
    put("big", "0123456789", 0600);
    assert_int_equal(rd("big", 9, 0, &buf, &len), -EFBIG);
    assert_int_equal(rd("big", 10, 0, &buf, &len), 0);
    free(buf);
    assert_int_equal(rd("missing", 64, 0, &buf, &len), -ENOENT);
    /* a symlink is never followed, even to a good file */
    (void)snprintf(p, sizeof(p), "%s/ok", dir);
    (void)snprintf(q, sizeof(q), "%s/link", dir);
    assert_int_equal(symlink(p, q), 0);
    assert_int_equal(rd("link", 64, 0, &buf, &len), -ELOOP);
    /* not a regular file: a FIFO is refused without blocking, a directory too */
    (void)snprintf(q, sizeof(q), "%s/fifo", dir);
    assert_int_equal(mkfifo(q, 0600), 0);
    assert_int_equal(rd("fifo", 64, 0, &buf, &len), -EINVAL);
    (void)snprintf(q, sizeof(q), "%s/sub", dir);
    assert_int_equal(mkdir(q, 0700), 0);
    assert_int_equal(rd("sub", 64, 0, &buf, &len), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_reads_whole_nul_terminated),
            cmocka_unit_test(test_refusals),
    };
    int r;

    if (mkdtemp(dir) == NULL) {
        return 1;
    }
    r = cmocka_run_group_tests(tests, NULL, NULL);
    {
        static const char *const names[] = {"ok", "open", "empty", "big", "link", "fifo"};
        char p[128];
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            (void)snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
            (void)unlink(p);
        }
        (void)snprintf(p, sizeof(p), "%s/sub", dir);
        (void)rmdir(p);
        (void)rmdir(dir);
    }
    return r;
}
