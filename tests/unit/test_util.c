/* SPDX-License-Identifier: MIT */
/* Unit tests for common/util.c and common/clock.c. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"
#include "util.h"

static void test_parse_u32_accepts_decimal_in_range(void **state)
{
    uint32_t v = 7;

    assert_int_equal(oc_parse_u32("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(oc_parse_u32("4294967295", 0, UINT32_MAX, &v), 0);
    assert_int_equal(v, UINT32_MAX);
    assert_int_equal(oc_parse_u32("0600", 0, 1000, &v), 0);
    assert_int_equal(v, 600);
}

static void test_parse_u32_rejects_garbage_and_leaves_output(void **state)
{
    static const char *const bad[] = {"",
                                      " 1",
                                      "1 ",
                                      "+1",
                                      "-1",
                                      "0x10",
                                      "1e3",
                                      "12a",
                                      "1.5",
                                      "٣",
                                      "000000000000000000000000000000001"};
    uint32_t v = 42;
    size_t i;

    for (i = 0; i < OC_ELEMENTSOF(bad); i++) {
        assert_int_equal(oc_parse_u32(bad[i], 0, UINT32_MAX, &v), -EINVAL);
        assert_int_equal(v, 42);
    }
    assert_int_equal(oc_parse_u32(NULL, 0, 1, &v), -EINVAL);
}

static void test_parse_u32_range_and_overflow(void **state)
{
    uint32_t v = 42;

    assert_int_equal(oc_parse_u32("4294967296", 0, UINT32_MAX, &v), -ERANGE);
    assert_int_equal(oc_parse_u32("99999999999999999999999", 0, UINT32_MAX, &v), -ERANGE);
    assert_int_equal(oc_parse_u32("601", 0, 600, &v), -ERANGE);
    assert_int_equal(oc_parse_u32("999", 1000, 2000, &v), -ERANGE);
    assert_int_equal(v, 42);
}

static void test_parse_u64_edges(void **state)
{
    uint64_t v = 1;

    assert_int_equal(oc_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(oc_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
    assert_true(v == UINT64_MAX);
}

static void test_parse_i64_edges(void **state)
{
    int64_t v = 5;

    assert_int_equal(oc_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(oc_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
    assert_true(v == INT64_MAX);
    assert_int_equal(oc_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -ERANGE);
    assert_int_equal(oc_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -ERANGE);
    assert_int_equal(oc_parse_i64("-", INT64_MIN, INT64_MAX, &v), -EINVAL);
    assert_int_equal(oc_parse_i64("--1", INT64_MIN, INT64_MAX, &v), -EINVAL);
    assert_int_equal(oc_parse_i64("+1", INT64_MIN, INT64_MAX, &v), -EINVAL);
    assert_int_equal(oc_parse_i64("-5", 0, 10, &v), -ERANGE);
    assert_int_equal(oc_parse_i64("-0", -1, 1, &v), 0);
    assert_true(v == 0);
}

static void test_parse_bool_words(void **state)
{
    static const char *const yes[] = {"yes", "YES", "true", "True", "on", "1"};
    static const char *const no[] = {"no", "No", "false", "FALSE", "off", "0"};
    static const char *const bad[] = {"", "y", "n", "2", "enabled", "yes ", "oui"};
    bool b;
    size_t i;

    for (i = 0; i < OC_ELEMENTSOF(yes); i++) {
        b = false;
        assert_int_equal(oc_parse_bool(yes[i], &b), 0);
        assert_true(b);
    }
    for (i = 0; i < OC_ELEMENTSOF(no); i++) {
        b = true;
        assert_int_equal(oc_parse_bool(no[i], &b), 0);
        assert_false(b);
    }
    for (i = 0; i < OC_ELEMENTSOF(bad); i++) {
        assert_int_equal(oc_parse_bool(bad[i], &b), -EINVAL);
    }
}

static void test_wipe_and_free_wipe(void **state)
{
    char buf[16];
    char *heap = strdup("secret-value");

    memset(buf, 'x', sizeof(buf));
    oc_wipe(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], 0);
    }
    oc_wipe(NULL, 10);
    assert_non_null(heap);
    oc_free_wipe(heap, strlen(heap));
    oc_free_wipe(NULL, 3);
    oc_free_wipe_str(strdup("another"));
    oc_free_wipe_str(NULL);
}

static void test_strscpy_truncates_and_reports(void **state)
{
    char small[4];

    assert_int_equal(oc_strscpy(small, sizeof(small), "abc"), 0);
    assert_string_equal(small, "abc");
    assert_int_equal(oc_strscpy(small, sizeof(small), "abcd"), -ENOBUFS);
    assert_string_equal(small, "abc");
    assert_int_equal(oc_strscpy(small, 0, "a"), -ENOBUFS);
    assert_int_equal(oc_strnscpy(small, sizeof(small), "abcdef", 2), 0);
    assert_string_equal(small, "ab");
}

static void test_strstrip_and_nocase(void **state)
{
    char a[] = " \t value \r\n";
    char b[] = "   ";

    assert_string_equal(oc_strstrip(a), "value");
    assert_string_equal(oc_strstrip(b), "");
    assert_true(oc_streq_ascii_nocase("RS256", "rs256"));
    assert_false(oc_streq_ascii_nocase("RS256", "rs25"));
    assert_false(oc_streq_ascii_nocase(NULL, "x"));
}

static void test_utf8_validation(void **state)
{
    size_t bad = 99;
    const char *mixed = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";

    assert_true(oc_utf8_valid("plain", 5, NULL));
    assert_true(oc_utf8_valid(mixed, strlen(mixed), NULL));
    assert_false(oc_utf8_valid("ab\xff", 3, &bad));
    assert_int_equal(bad, 2);
    assert_false(oc_utf8_valid("\xc0\xaf", 2, &bad));         /* overlong '/' */
    assert_false(oc_utf8_valid("\xe0\x80\xaf", 3, &bad));     /* overlong */
    assert_false(oc_utf8_valid("\xed\xa0\x80", 3, &bad));     /* surrogate */
    assert_false(oc_utf8_valid("\xf4\x90\x80\x80", 4, &bad)); /* > U+10FFFF */
    assert_false(oc_utf8_valid("x\xc3", 2, &bad));            /* truncated */
    assert_int_equal(bad, 1);
    assert_false(oc_utf8_valid("\xc3\x28", 2, &bad)); /* bad continuation */
}

static void test_guid_validation_and_normalization(void **state)
{
    char g[OC_GUID_SIZE] = "untouched";

    assert_true(oc_is_guid("6c1d2e8a-4b7f-4f3a-9e21-0d5c8b7a9f10"));
    assert_true(oc_is_guid("6C1D2E8A-4B7F-4F3A-9E21-0D5C8B7A9F10"));
    assert_false(oc_is_guid("{6c1d2e8a-4b7f-4f3a-9e21-0d5c8b7a9f10}"));
    assert_false(oc_is_guid("6c1d2e8a4b7f4f3a9e210d5c8b7a9f10"));
    assert_false(oc_is_guid("6c1d2e8a-4b7f-4f3a-9e21-0d5c8b7a9f1"));
    assert_false(oc_is_guid("6c1d2e8a-4b7f-4f3a-9e21-0d5c8b7a9f100"));
    assert_false(oc_is_guid("6c1d2e8a-4b7f-4f3a-9e21-0d5c8b7a9g10"));
    assert_false(oc_is_guid("6c1d2e8a_4b7f-4f3a-9e21-0d5c8b7a9f10"));
    assert_false(oc_is_guid(""));
    assert_false(oc_is_guid(NULL));

    assert_int_equal(oc_guid_normalize("not-a-guid", g), -EINVAL);
    assert_string_equal(g, "untouched");
    assert_int_equal(oc_guid_normalize("6C1D2E8A-4B7F-4F3A-9E21-0D5C8B7A9F10", g), 0);
    assert_string_equal(g, "6c1d2e8a-4b7f-4f3a-9e21-0d5c8b7a9f10");
    assert_true(oc_guid_equal("6C1D2E8A-4B7F-4F3A-9E21-0D5C8B7A9F10",
                              "6c1d2e8a-4b7f-4f3a-9e21-0d5c8b7a9f10"));
    assert_false(oc_guid_equal("x", "x"));
}

static void test_user_names(void **state)
{
    static const char *const good[] = {"a",       "_",  "build-bot",
                                       "agent_1", "x-", "abcdefghijklmnopqrstuvwxyz012345"};
    static const char *const bad[] = {"",
                                      ".",
                                      "..",
                                      "Build",
                                      "1bot",
                                      "-bot",
                                      "bot$",
                                      "bot.x",
                                      "bot x",
                                      "bot/x",
                                      "abcdefghijklmnopqrstuvwxyz0123456",
                                      "b\xc3\xa9"};
    size_t i;

    for (i = 0; i < OC_ELEMENTSOF(good); i++) {
        assert_true(oc_valid_user_name(good[i]));
    }
    for (i = 0; i < OC_ELEMENTSOF(bad); i++) {
        assert_false(oc_valid_user_name(bad[i]));
    }
    assert_false(oc_valid_user_name(NULL));
}

/* Collect a list into "a|b|c"; returns the final oc_list_next code. */
static int collect(const char *text, char *out, size_t len)
{
    struct oc_list_iter it = OC_LIST_ITER_INIT(text);
    const char *item;
    size_t n;
    int r;

    out[0] = '\0';
    while ((r = oc_list_next(&it, &item, &n)) > 0) {
        if (out[0] != '\0') {
            strncat(out, "|", len - strlen(out) - 1);
        }
        strncat(out, item, n < len - strlen(out) - 1 ? n : len - strlen(out) - 1);
    }
    return r;
}

static void test_list_separators(void **state)
{
    char out[128];

    assert_int_equal(collect("a, b c,d\t,  e", out, sizeof(out)), 0);
    assert_string_equal(out, "a|b|c|d|e");
    assert_int_equal(collect("  single  ", out, sizeof(out)), 0);
    assert_string_equal(out, "single");
    assert_int_equal(collect("", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(collect("a,,b", out, sizeof(out)), -EINVAL);
    assert_int_equal(collect("a, ,b", out, sizeof(out)), -EINVAL);
    assert_int_equal(collect(",a", out, sizeof(out)), -EINVAL);
    assert_int_equal(collect("a,", out, sizeof(out)), -EINVAL);
    assert_int_equal(collect("a , ", out, sizeof(out)), -EINVAL);
}

static void test_clock_set_and_reset(void **state)
{
    int64_t real = (int64_t)time(NULL);

    oc_clock_set(1000);
    assert_true(oc_now() == 1000);
    oc_clock_set(-5);
    assert_true(oc_now() == -5);
    oc_clock_reset();
    assert_true(oc_now() >= real && oc_now() <= real + 60);
}

static void test_clock_env_hook_only_in_test_builds(void **state)
{
    int64_t real = (int64_t)time(NULL);

    assert_int_equal(setenv(OC_CLOCK_TEST_ENV, "1234567890", 1), 0);
#ifdef OC_TEST_HOOKS
    assert_true(oc_now() == 1234567890);
    /* In-process setting wins over the environment. */
    oc_clock_set(7);
    assert_true(oc_now() == 7);
    oc_clock_reset();
    /* A malformed value is ignored. */
    assert_int_equal(setenv(OC_CLOCK_TEST_ENV, "12x", 1), 0);
    assert_true(oc_now() >= real);
#else
    assert_true(oc_now() >= real);
#endif
    assert_int_equal(unsetenv(OC_CLOCK_TEST_ENV), 0);
}

static void test_read_full_stops_at_end_of_file_or_cap(void **state)
{
    char buf[16];
    size_t len = 99;
    int p[2];

    (void)state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "abcdefgh", 8), 8);
    assert_int_equal(oc_read_full(p[0], buf, 3, &len), 0); /* the cap */
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "abc", 3);
    close(p[1]);
    assert_int_equal(oc_read_full(p[0], buf, sizeof(buf), &len), 0); /* the end */
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "defgh", 5);
    close(p[0]);
    len = 99;
    assert_int_equal(oc_read_full(p[0], buf, sizeof(buf), &len), -EBADF);
    assert_int_equal(len, 99); /* untouched on failure */
}

/* Entries of dir other than "." and "..", for "nothing left behind". */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_replace_file_writes_mode_and_leaves_no_temporary(void **state)
{
    char dir[] = "/tmp/oc-test-replace.XXXXXX", path[128], buf[16] = {0};
    struct stat st;
    int fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    (void)snprintf(path, sizeof(path), "%s/data", dir);

    assert_int_equal(oc_replace_file(path, NULL, "one\n", 4, 0644, (uid_t)-1, (gid_t)-1), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(st.st_size, 4);
    /* replaced, not appended; the other temporary name pattern; mode 0600 */
    assert_int_equal(oc_replace_file(path, ".tmp", "second", 6, 0600, (uid_t)-1, (gid_t)-1), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(read(fd, buf, sizeof(buf)), 6);
    close(fd);
    assert_memory_equal(buf, "second", 6);
    /* empty content is a valid file */
    assert_int_equal(oc_replace_file(path, NULL, NULL, 0, 0644, (uid_t)-1, (gid_t)-1), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(count_entries(dir), 1);

    /* refused before anything is created */
    assert_int_equal(oc_replace_file("", NULL, "x", 1, 0644, (uid_t)-1, (gid_t)-1), -EINVAL);
    assert_int_equal(oc_replace_file(NULL, NULL, "x", 1, 0644, (uid_t)-1, (gid_t)-1), -EINVAL);
    (void)snprintf(path, sizeof(path), "%s/", dir);
    assert_int_equal(oc_replace_file(path, NULL, "x", 1, 0644, (uid_t)-1, (gid_t)-1), -EINVAL);
    /* the rename fails (a directory is in the way): the temporary is removed */
    (void)snprintf(path, sizeof(path), "%s/sub", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_true(oc_replace_file(path, NULL, "x", 1, 0644, (uid_t)-1, (gid_t)-1) < 0);
    assert_true(oc_replace_file(path, ".tmp", "x", 1, 0644, (uid_t)-1, (gid_t)-1) < 0);
    assert_int_equal(count_entries(dir), 2);

    assert_int_equal(rmdir(path), 0);
    (void)snprintf(path, sizeof(path), "%s/data", dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_u32_accepts_decimal_in_range),
            cmocka_unit_test(test_parse_u32_rejects_garbage_and_leaves_output),
            cmocka_unit_test(test_parse_u32_range_and_overflow),
            cmocka_unit_test(test_parse_u64_edges),
            cmocka_unit_test(test_parse_i64_edges),
            cmocka_unit_test(test_parse_bool_words),
            cmocka_unit_test(test_wipe_and_free_wipe),
            cmocka_unit_test(test_strscpy_truncates_and_reports),
            cmocka_unit_test(test_strstrip_and_nocase),
            cmocka_unit_test(test_utf8_validation),
            cmocka_unit_test(test_guid_validation_and_normalization),
            cmocka_unit_test(test_user_names),
            cmocka_unit_test(test_list_separators),
            cmocka_unit_test(test_read_full_stops_at_end_of_file_or_cap),
            cmocka_unit_test(test_replace_file_writes_mode_and_leaves_no_temporary),
            cmocka_unit_test(test_clock_set_and_reset),
            cmocka_unit_test(test_clock_env_hook_only_in_test_builds),
    };

    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
