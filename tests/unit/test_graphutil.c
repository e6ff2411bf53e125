/* SPDX-License-Identifier: MIT */
/* Unit tests for helper/sync/oc_graphutil.c: OData filters, Graph times, synced agent names. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "helper/sync/oc_graphutil.h"

static void test_odata_filter_escapes_quotes_then_url_encodes(void **state)
{
    char buf[512];

    (void)state;
    assert_int_equal(
            oc_odata_eq_filter("appId", "6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d", buf, sizeof(buf)),
            0);
    assert_string_equal(buf, "appId%20eq%20%276c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d%27");
    /* O'Brien's bot: the quote is doubled inside the literal, then encoded. */
    assert_int_equal(oc_odata_eq_filter("displayName", "O'Brien's bot", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "displayName%20eq%20%27O%27%27Brien%27%27s%20bot%27");
    /* An injection attempt stays one string literal. */
    assert_int_equal(oc_odata_eq_filter("appId", "x' or appId ne '", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "appId%20eq%20%27x%27%27%20or%20appId%20ne%20%27%27%27");
    /* Nothing that could end the query parameter survives. */
    assert_int_equal(oc_odata_eq_filter("appId", "a&$top=1#x?/%", buf, sizeof(buf)), 0);
    assert_null(strchr(buf, '&'));
    assert_null(strchr(buf, '#'));
    assert_null(strchr(buf, '?'));
    assert_string_equal(buf, "appId%20eq%20%27a%26%24top%3D1%23x%3F%2F%25%27");
    assert_int_equal(oc_odata_eq_filter("app Id", "x", buf, sizeof(buf)), -EINVAL);
    assert_int_equal(oc_odata_eq_filter("appId", "x", buf, 10), -ENOBUFS);
}

static void test_graph_time(void **state)
{
    int64_t t = 0;

    (void)state;
    assert_int_equal(oc_graph_time("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(oc_graph_time("2024-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 1704067200);
    assert_int_equal(oc_graph_time("2024-01-01T00:00:00.1234567Z", &t), 0);
    assert_int_equal(t, 1704067200);
    assert_int_equal(oc_graph_time("2024-01-01T02:00:00+02:00", &t), 0);
    assert_int_equal(t, 1704067200);
    assert_int_equal(oc_graph_time("2099-12-31T00:00:00Z", &t), 0);
    assert_int_equal(oc_graph_time("2024-01-01 00:00:00Z", &t), -EINVAL);
    assert_int_equal(oc_graph_time("2024-13-01T00:00:00Z", &t), -EINVAL);
    assert_int_equal(oc_graph_time("2024-01-01T00:00:00", &t), -EINVAL);
    assert_int_equal(oc_graph_time("2024-01-01T00:00:00Zx", &t), -EINVAL);
    assert_int_equal(oc_graph_time(NULL, &t), -EINVAL);
}

static void test_slug_only_from_plain_display_names(void **state)
{
    char out[OC_USER_NAME_MAX + 1];

    (void)state;
    assert_int_equal(oc_dir_slug("agent-alpha", out), 0);
    assert_string_equal(out, "agent-alpha");
    assert_int_equal(oc_dir_slug("Build Bot_2", out), 0);
    assert_string_equal(out, "build-bot-2");
    assert_int_equal(oc_dir_slug("A  --  b -", out), 0);
    assert_string_equal(out, "a-b");
    assert_int_equal(oc_dir_slug("../x", out), -EINVAL);
    assert_int_equal(oc_dir_slug("x/../../etc", out), -EINVAL);
    assert_int_equal(oc_dir_slug("bot.example", out), -EINVAL);
    assert_int_equal(oc_dir_slug("r\xc3\xb6ot", out), -EINVAL);
    assert_int_equal(oc_dir_slug("9lives", out), -EINVAL);
    assert_int_equal(oc_dir_slug("-x", out), -EINVAL);
    assert_int_equal(oc_dir_slug("", out), -EINVAL);
    assert_int_equal(oc_dir_slug("a\nb", out), -EINVAL);
    assert_int_equal(oc_dir_slug("abcdefghijklmnopqrstuvwxyz0123456", out), -EINVAL);
    assert_int_equal(oc_dir_slug("abcdefghijklmnopqrstuvwxyz012345", out), 0);
}

static void test_reserved_and_fallback_names(void **state)
{
    char out[OC_USER_NAME_MAX + 1];

    (void)state;
    assert_true(oc_dir_reserved_name("root"));
    assert_true(oc_dir_reserved_name("openclaw"));
    assert_true(oc_dir_reserved_name("systemd-network"));
    assert_true(oc_dir_reserved_name("oc-a3d5f7b9"));
    assert_false(oc_dir_reserved_name("agent-alpha"));
    oc_dir_fallback_name("A3D5F7B9-1c4e-4a8b-8d2f-3c5e7a9b1d4f", out);
    assert_string_equal(out, "oc-a3d5f7b9");
}

static void test_gecos(void **state)
{
    char out[8];

    (void)state;
    oc_dir_gecos("a:b\nc\xc3\xa9zzzz", out, sizeof(out));
    assert_string_equal(out, "a?b?c??");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_odata_filter_escapes_quotes_then_url_encodes),
            cmocka_unit_test(test_graph_time),
            cmocka_unit_test(test_slug_only_from_plain_display_names),
            cmocka_unit_test(test_reserved_and_fallback_names),
            cmocka_unit_test(test_gecos),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
