/* SPDX-License-Identifier: MIT */
/* Unit tests for common/idmap.c: uid derivation, collisions, slugs. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "idmap.h"
#include "util.h"

/* The worked example of docs/identity-mapping.md. */
#define EX_TID  "6c1d2e8a-4b7f-4f3a-9e21-0d5c8b7a9f10"
#define EX_OID  "b2e4f6a8-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
#define EX_HASH 0x7c5961a1ebc17776ull
#define EX_UID  1941534582u

static struct oc_config *parse(const char *text)
{
    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    int r = oc_config_parse(text, strlen(text), "t.conf", 0, &cfg, &err);

    if (r < 0) {
        fail_msg("parse failed: %s:%u: %s", err.file, err.line, err.msg);
    }
    return cfg;
}

static void test_fnv1a64_reference_vectors(void **state)
{
    /* Published FNV-1a 64 test vectors. */
    assert_true(oc_fnv1a64("", 0) == 0xcbf29ce484222325ull);
    assert_true(oc_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
    assert_true(oc_fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
}

static void test_uid_worked_example(void **state)
{
    const char *in = EX_TID ":" EX_OID;

    assert_true(oc_fnv1a64(in, strlen(in)) == EX_HASH);
    assert_int_equal(oc_idmap_uid(EX_TID, EX_OID, OC_DEFAULT_UID_MIN, OC_DEFAULT_UID_MAX), EX_UID);
    /* Case does not matter: ids are hashed in canonical lowercase. */
    assert_int_equal(oc_idmap_uid("6C1D2E8A-4B7F-4F3A-9E21-0D5C8B7A9F10",
                                  "B2E4F6A8-1C3D-4E5F-8A9B-0C1D2E3F4A5B", OC_DEFAULT_UID_MIN,
                                  OC_DEFAULT_UID_MAX),
                     EX_UID);
    /* uid_min + hash mod size, spelled out. */
    assert_int_equal(EX_UID, OC_DEFAULT_UID_MIN + EX_HASH % ((uint64_t)OC_DEFAULT_UID_MAX -
                                                             OC_DEFAULT_UID_MIN + 1));
}

static void test_uid_range_bounds(void **state)
{
    char oid[OC_GUID_SIZE];
    uint32_t u;
    int i;

    for (i = 0; i < 2000; i++) {
        snprintf(oid, sizeof(oid), "%08x-0000-4000-8000-%012x", (unsigned)i * 2654435761u,
                 (unsigned)i);
        u = oc_idmap_uid(EX_TID, oid, 100000, 100009);
        assert_true(u >= 100000 && u <= 100009);
        u = oc_idmap_uid(EX_TID, oid, 5000, 5000);
        assert_int_equal(u, 5000);
        u = oc_idmap_uid(EX_TID, oid, 0, UINT32_MAX);
        (void)u; /* full 32-bit range must not overflow */
    }
    assert_int_equal(oc_idmap_uid(EX_TID, EX_OID, 10, 5), 10);
    /* Different tenants give different uids for the same object id. */
    assert_int_not_equal(oc_idmap_uid(EX_TID, EX_OID, OC_DEFAULT_UID_MIN, OC_DEFAULT_UID_MAX),
                         oc_idmap_uid("6c1d2e8a-4b7f-4f3a-9e21-0d5c8b7a9f11", EX_OID,
                                      OC_DEFAULT_UID_MIN, OC_DEFAULT_UID_MAX));
}

static void test_uid_distribution_sanity(void **state)
{
    enum { BUCKETS = 16, N = 16000 };
    unsigned counts[BUCKETS] = {0};
    char oid[OC_GUID_SIZE];
    int i, b;

    for (i = 0; i < N; i++) {
        snprintf(oid, sizeof(oid), "%08x-1111-4222-8333-%012x", (unsigned)i, (unsigned)(i * 7));
        counts[oc_idmap_uid(EX_TID, oid, 0, BUCKETS - 1)]++;
    }
    /* Expect ~1000 per bucket; allow a generous +-20%. */
    for (b = 0; b < BUCKETS; b++) {
        assert_true(counts[b] > 800 && counts[b] < 1200);
    }
}

#define GLOBAL_TINY                                                                                \
    "[global]\ntenant_id = " EX_TID "\naudiences = api://openclaw-host\n"                          \
    "uid_min = 70000\nuid_max = 70000\n"

static void test_assign_refuses_collision_in_tiny_range(void **state)
{
    struct oc_config *cfg =
            parse(GLOBAL_TINY "[agent alpha]\napp_id = 00000000-0000-0000-0000-00000000000a\n"
                              "object_id = 00000000-0000-0000-0000-0000000000a0\n"
                              "[agent beta]\napp_id = 00000000-0000-0000-0000-00000000000b\n"
                              "object_id = 00000000-0000-0000-0000-0000000000b0\n");
    struct oc_idmap_entry *e = (void *)0x1;
    size_t n = 99;
    char msg[512];

    assert_int_equal(oc_idmap_assign(cfg, &e, &n, msg, sizeof(msg)), -EEXIST);
    assert_ptr_equal(e, (void *)0x1);
    assert_int_equal(n, 99);
    assert_non_null(strstr(msg, "alpha"));
    assert_non_null(strstr(msg, "beta"));
    assert_non_null(strstr(msg, "70000"));
    assert_non_null(strstr(msg, "uid = N"));
    assert_non_null(strstr(msg, "widen"));
    oc_config_free(cfg);
}

static void test_assign_refuses_collision_of_explicit_uids(void **state)
{
    struct oc_config *cfg =
            parse("[global]\ntenant_id = " EX_TID "\naudiences = api://openclaw-host\n"
                  "[agent alpha]\napp_id = 00000000-0000-0000-0000-00000000000a\n"
                  "object_id = 00000000-0000-0000-0000-0000000000a0\nuid = 1879048200\n"
                  "[agent beta]\napp_id = 00000000-0000-0000-0000-00000000000b\n"
                  "object_id = 00000000-0000-0000-0000-0000000000b0\nuid = 1879048200\n");
    struct oc_idmap_entry *e = NULL;
    size_t n = 0;
    char msg[512];

    assert_int_equal(oc_idmap_assign(cfg, &e, &n, msg, sizeof(msg)), -EEXIST);
    assert_non_null(strstr(msg, "agents alpha and beta both map to uid 1879048200"));
    assert_non_null(strstr(msg, "both set uid = 1879048200"));
    assert_non_null(strstr(msg, "uid = 1879048201"));
    oc_config_free(cfg);
}

static void test_assign_collision_with_computed_uid_asks_to_pin_the_other(void **state)
{
    char text[1024];
    struct oc_config *cfg;
    struct oc_idmap_entry *e = NULL;
    size_t n = 0;
    char msg[512];
    uint32_t u = oc_idmap_uid(EX_TID, EX_OID, OC_DEFAULT_UID_MIN, OC_DEFAULT_UID_MAX);

    snprintf(text, sizeof(text),
             "[global]\ntenant_id = " EX_TID "\naudiences = api://openclaw-host\n"
             "[agent pinned]\napp_id = 00000000-0000-0000-0000-00000000000a\n"
             "object_id = 00000000-0000-0000-0000-0000000000a0\nuid = %u\n"
             "[agent computed]\napp_id = 00000000-0000-0000-0000-00000000000b\n"
             "object_id = " EX_OID "\n",
             u);
    cfg = parse(text);
    assert_int_equal(oc_idmap_assign(cfg, &e, &n, msg, sizeof(msg)), -EEXIST);
    assert_non_null(strstr(msg, "pinned"));
    assert_non_null(strstr(msg, "in [agent computed]"));
    assert_null(strstr(msg, "both set"));
    oc_config_free(cfg);
}

static void test_assign_success_gid_equals_uid_and_override_wins(void **state)
{
    struct oc_config *cfg =
            parse("[global]\ntenant_id = " EX_TID "\naudiences = api://openclaw-host\n"
                  "[agent worked]\napp_id = 00000000-0000-0000-0000-00000000000a\n"
                  "object_id = " EX_OID "\n"
                  "[agent pinned]\napp_id = 00000000-0000-0000-0000-00000000000b\n"
                  "object_id = 00000000-0000-0000-0000-0000000000b0\nuid = 1879048200\n"
                  "enabled = no\n");
    struct oc_idmap_entry *e = NULL;
    size_t n = 0;
    char msg[512];

    assert_int_equal(oc_idmap_assign(cfg, &e, &n, msg, sizeof(msg)), 0);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].name, "worked");
    assert_int_equal(e[0].uid, EX_UID);
    assert_int_equal(e[0].gid, EX_UID);
    assert_false(e[0].pinned);
    assert_string_equal(e[1].name, "pinned");
    assert_int_equal(e[1].uid, 1879048200);
    assert_int_equal(e[1].gid, 1879048200);
    assert_true(e[1].pinned);
    assert_int_equal(e[1].agent, 1);
    free(e);
    oc_config_free(cfg);
}

static void test_assign_no_agents(void **state)
{
    struct oc_config *cfg = parse("[global]\ntenant_id = " EX_TID "\naudiences = " EX_OID "\n");
    struct oc_idmap_entry *e = NULL;
    size_t n = 5;

    assert_int_equal(oc_idmap_assign(cfg, &e, &n, NULL, 0), 0);
    assert_int_equal(n, 0);
    free(e);
    assert_int_equal(oc_idmap_assign(NULL, &e, &n, NULL, 0), -EINVAL);
    oc_config_free(cfg);
}

static void slug_is(const char *display, const char *prefix, const char *want)
{
    char buf[OC_USER_NAME_MAX + 1];

    assert_int_equal(oc_idmap_slug(display, prefix, buf, sizeof(buf)), 0);
    assert_string_equal(buf, want);
    assert_true(oc_valid_user_name(buf));
}

static void test_slug_basic(void **state)
{
    slug_is("Build Bot", NULL, "agent-build-bot");
    slug_is("Build Bot", "", "build-bot");
    slug_is("  --Deploy__Agent!!  v2 --", "", "deploy__agent-v2");
    slug_is("ops.bot@contoso.com", "bot-", "bot-ops-bot-contoso-com");
    slug_is("42 Answers", "", "_42-answers");
    slug_is("", NULL, "agent-unnamed");
    slug_is(NULL, "", "unnamed");
    slug_is("!!!", "", "unnamed");
    slug_is("$", "", "unnamed");
    slug_is("bot$", "", "bot");
}

static void test_slug_unicode_and_garbage(void **state)
{
    slug_is("Z\xc3\xbcrich Agent \xf0\x9f\xa4\x96", "", "z-rich-agent");
    slug_is("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", NULL, "agent-unnamed");
    slug_is("\xff\xfe\x01\x02tab\there", "", "tab-here");
    slug_is("../../etc/passwd", "", "etc-passwd");
    slug_is(".", "", "unnamed");
}

static void test_slug_very_long_names(void **state)
{
    char longname[4096];
    char buf[OC_USER_NAME_MAX + 1];
    size_t i;

    for (i = 0; i < sizeof(longname) - 1; i++) {
        longname[i] = (i % 7 == 6) ? ' ' : (char)('A' + i % 26);
    }
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(oc_idmap_slug(longname, NULL, buf, sizeof(buf)), 0);
    assert_true(strlen(buf) <= OC_USER_NAME_MAX);
    assert_true(oc_valid_user_name(buf));
    assert_int_equal(strncmp(buf, "agent-", 6), 0);
    /* Cut right after a separator: the trailing '-' is removed. */
    slug_is("abcdefghijklmnopqrstuvwxy z", "agent-", "agent-abcdefghijklmnopqrstuvwxy");
    memset(longname, '9', 100);
    longname[100] = '\0';
    slug_is(longname, "", "_9999999999999999999999999999999");
}

static void test_slug_errors_leave_buffer(void **state)
{
    char buf[8] = "keep";

    assert_int_equal(oc_idmap_slug("Build Bot", NULL, buf, sizeof(buf)), -ENOBUFS);
    assert_string_equal(buf, "keep");
    assert_int_equal(oc_idmap_slug("x", "Bad", buf, sizeof(buf)), -EINVAL);
    assert_int_equal(oc_idmap_slug("x", "1x", buf, sizeof(buf)), -EINVAL);
    assert_int_equal(oc_idmap_slug("x", "a/", buf, sizeof(buf)), -EINVAL);
    assert_int_equal(oc_idmap_slug("x", "abcdefghijklmnopq", buf, sizeof(buf)), -EINVAL);
    assert_int_equal(oc_idmap_slug("x", NULL, NULL, 0), -EINVAL);
    assert_string_equal(buf, "keep");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_fnv1a64_reference_vectors),
            cmocka_unit_test(test_uid_worked_example),
            cmocka_unit_test(test_uid_range_bounds),
            cmocka_unit_test(test_uid_distribution_sanity),
            cmocka_unit_test(test_assign_refuses_collision_in_tiny_range),
            cmocka_unit_test(test_assign_refuses_collision_of_explicit_uids),
            cmocka_unit_test(test_assign_collision_with_computed_uid_asks_to_pin_the_other),
            cmocka_unit_test(test_assign_success_gid_equals_uid_and_override_wins),
            cmocka_unit_test(test_assign_no_agents),
            cmocka_unit_test(test_slug_basic),
            cmocka_unit_test(test_slug_unicode_and_garbage),
            cmocka_unit_test(test_slug_very_long_names),
            cmocka_unit_test(test_slug_errors_leave_buffer),
    };

    return cmocka_run_group_tests_name("idmap", tests, NULL, NULL);
}
