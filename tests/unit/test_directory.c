/* SPDX-License-Identifier: MIT */
/* Unit tests for common/directory.c: the directory cache file. */
#include "config.h"

#include <errno.h>
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

#include "directory.h"

#define UMIN 1879048192u
#define UMAX 2147352575u
#define TID  "5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c"
#define HEAD "{\"version\":1,\"tenant_id\":\"" TID "\",\"synced_at\":1764355200,\"source\":\"g\","
#define AGENT(name, app, uid, extra)                                                               \
    "{\"name\":\"" name "\",\"app_id\":\"" app "\",\"object_id\":\"" app "\",\"uid\":" uid         \
    ",\"enabled\":true,\"display_name\":\"D\",\"roles\":[\"Host.Login\"],\"source\":\"graph\","    \
    "\"keys\":[]" extra "}"
#define APP1 "a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f"
#define APP2 "b1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a"
#define KEY                                                                                        \
    "{\"key_id\":\"11111111-2222-4333-8444-555555555555\",\"not_before\":1,\"not_after\":2,"       \
    "\"sha1\":\"0123456789abcdef0123456789abcdef01234567\",\"sha256\":"                            \
    "\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"," SSH "}"
#define SSH "\"ssh\":\"ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB\""

static const char good[] = HEAD "\"agents\":[" AGENT(
        "agent-alpha", APP1, "1900000000", "") ","
                                               "{\"name\":\"build-bot\",\"app_id\":\"" APP2
                                               "\",\"object_id\":\"" APP2 "\",\"uid\":1900000001,"
                                               "\"enabled\":false,\"display_name\":\"\",\"roles\":["
                                               "],\"source\":\"config\",\"keys\":[" KEY "]}]}";

static void refused(const char *text, int want, const char *why_part)
{
    struct oc_dir *d = (struct oc_dir *)0x1;
    const char *why = NULL;
    int r = oc_dir_parse(text, strlen(text), UMIN, UMAX, &d, &why);

    if (r != want || why == NULL || strstr(why, why_part) == NULL) {
        fail_msg("want %d \"%s\", got %d \"%s\" for %s", want, why_part, r,
                 why != NULL ? why : "(null)", text);
    }
    assert_ptr_equal(d, (struct oc_dir *)0x1);
}

static void test_parse_good_file(void **state)
{
    struct oc_dir *d = NULL;
    const char *why = NULL;
    const struct oc_dir_agent *a;

    (void)state;
    assert_int_equal(oc_dir_parse(good, strlen(good), UMIN, UMAX, &d, &why), 0);
    assert_string_equal(d->tenant_id, TID);
    assert_int_equal(d->synced_at, 1764355200);
    assert_int_equal(d->n_agents, 2);
    a = oc_dir_by_name(d, "agent-alpha");
    assert_non_null(a);
    assert_int_equal(a->uid, 1900000000u);
    assert_true(a->enabled);
    assert_int_equal(a->source, OC_DIR_SRC_GRAPH);
    assert_true(oc_dir_agent_has_role(a, "Host.Login"));
    assert_false(oc_dir_agent_has_role(a, "Host.Sudo"));
    assert_ptr_equal(oc_dir_by_app_id(d, "A1F3C5E7-9B2D-4F6A-8C0E-1A3B5C7D9E2F"), a);
    a = oc_dir_by_name(d, "build-bot");
    assert_false(a->enabled);
    assert_int_equal(a->source, OC_DIR_SRC_CONFIG);
    assert_int_equal(a->n_keys, 1);
    assert_string_equal(a->keys[0].ssh, "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB");
    assert_null(oc_dir_by_name(d, "nobody"));
    oc_dir_free(d);
}

static void test_format_round_trip(void **state)
{
    struct oc_dir *d = NULL, *e = NULL;
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;

    (void)state;
    assert_int_equal(oc_dir_parse(good, strlen(good), UMIN, UMAX, &d, NULL), 0);
    assert_int_equal(oc_dir_format(d, &t1, &l1), 0);
    assert_int_equal(oc_dir_parse(t1, l1, UMIN, UMAX, &e, NULL), 0);
    assert_int_equal(oc_dir_format(e, &t2, &l2), 0);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    oc_dir_free(d);
    oc_dir_free(e);
}

static void test_uids_are_never_trusted(void **state)
{
    (void)state;
    refused(HEAD "\"agents\":[" AGENT("a", APP1, "0", "") "]}", -ERANGE, "uid");
    refused(HEAD "\"agents\":[" AGENT("a", APP1, "1000", "") "]}", -ERANGE, "uid_min");
    refused(HEAD "\"agents\":[" AGENT("a", APP1, "2147352576", "") "]}", -ERANGE, "uid_min");
    refused(HEAD "\"agents\":[" AGENT("a", APP1, "-1", "") "]}", -ERANGE, "uid");
    refused(HEAD "\"agents\":[" AGENT("a", APP1, "1900000000.5", "") "]}", -ERANGE, "uid");
    refused(HEAD "\"agents\":[" AGENT("a", APP1, "\"1900000000\"", "") "]}", -ERANGE, "uid");
}

static void test_malformed_is_refused(void **state)
{
    (void)state;
    refused("", -EINVAL, "");
    refused("[]", -EINVAL, "");
    refused(HEAD "\"agents\":[]} x", -EINVAL, "");
    refused(HEAD "\"agents\":[],\"extra\":1}", -EINVAL, "unknown");
    refused(HEAD "\"agents\":[],\"agents\":[]}", -EINVAL, "");
    refused("{\"version\":2,\"tenant_id\":\"" TID
            "\",\"synced_at\":1,\"source\":\"\",\"agents\":[]}",
            -EPROTONOSUPPORT, "version");
    refused("{\"version\":1,\"tenant_id\":\"" TID
            "\",\"synced_at\":1,\"source\":\"\",\"agents\":{}}",
            -EINVAL, "agents");
    refused("{\"version\":1,\"tenant_id\":\"5F0E2C1A-7B3D-4E8F-9A1C-2D3E4F5A6B7C\",\"synced_at\":1,"
            "\"source\":\"\",\"agents\":[]}",
            -EINVAL, "tenant_id");
    refused(HEAD "\"agents\":[" AGENT("Root", APP1, "1900000000", "") "]}", -EINVAL, "name");
    refused(HEAD "\"agents\":[" AGENT("../x", APP1, "1900000000", "") "]}", -EINVAL, "name");
    refused(HEAD "\"agents\":[" AGENT("a", APP1, "1900000000", ",\"x\":1") "]}", -EINVAL,
            "known members");
    refused(HEAD "\"agents\":[" AGENT("a", APP1, "1900000000", "") "," AGENT("a", APP2,
                                                                             "1900000001", "") "]}",
            -EINVAL, "same name");
    refused(HEAD "\"agents\":[" AGENT("a", APP1, "1900000000", "") "," AGENT("b", APP2,
                                                                             "1900000000", "") "]}",
            -EINVAL, "same uid");
    refused(HEAD "\"agents\":[" AGENT("a", APP1, "1900000000", "") "," AGENT("b", APP1,
                                                                             "1900000001", "") "]}",
            -EINVAL, "same app_id");
}

static void test_agent_values_are_checked(void **state)
{
    char buf[8192];
    static const char *const bad_roles[] = {"[\"Host Login\"]", "[1]", "[\"\"]", "[\"a\",\"a\"]",
                                            "\"Host.Login\""};
    static const char *const bad_keys[] = {
            "[{\"key_id\":\"x\"}]",
            "[" KEY "," KEY "," KEY "," KEY "," KEY "," KEY "," KEY "," KEY "," KEY "," KEY "," KEY
            "," KEY "," KEY "," KEY "," KEY "," KEY "," KEY "]",
    };
    static const char *const bad_ssh[] = {"ssh-dss AAAAB3NzaC1kc3MAAAA=", "ssh-rsa AAAA B3Nz",
                                          "ssh-rsa A=AA", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB\\n",
                                          "ssh-rsa"};

    (void)state;
    for (size_t i = 0; i < OC_ELEMENTSOF(bad_roles); i++) {
        snprintf(buf, sizeof(buf),
                 HEAD "\"agents\":[{\"name\":\"a\",\"app_id\":\"" APP1 "\",\"object_id\":\"" APP1
                      "\",\"uid\":1900000000,\"enabled\":true,\"display_name\":\"\",\"roles\":%s,"
                      "\"source\":\"graph\",\"keys\":[]}]}",
                 bad_roles[i]);
        refused(buf, -EINVAL, "roles");
    }
    for (size_t i = 0; i < OC_ELEMENTSOF(bad_keys); i++) {
        snprintf(buf, sizeof(buf),
                 HEAD "\"agents\":[{\"name\":\"a\",\"app_id\":\"" APP1 "\",\"object_id\":\"" APP1
                      "\",\"uid\":1900000000,\"enabled\":true,\"display_name\":\"\",\"roles\":[],"
                      "\"source\":\"graph\",\"keys\":%s}]}",
                 bad_keys[i]);
        refused(buf, -EINVAL, "key");
    }
    for (size_t i = 0; i < OC_ELEMENTSOF(bad_ssh); i++) {
        snprintf(buf, sizeof(buf),
                 HEAD "\"agents\":[{\"name\":\"a\",\"app_id\":\"" APP1 "\",\"object_id\":\"" APP1
                      "\",\"uid\":1900000000,\"enabled\":true,\"display_name\":\"\",\"roles\":[],"
                      "\"source\":\"graph\",\"keys\":[{\"key_id\":\"11111111-2222-4333-8444-"
                      "555555555555\",\"not_before\":1,\"not_after\":2,\"sha1\":\"0123456789abcdef"
                      "0123456789abcdef01234567\",\"sha256\":\"0123456789abcdef0123456789abcdef0123"
                      "456789abcdef0123456789abcdef\",\"ssh\":\"%s\"}]}]}",
                 bad_ssh[i]);
        refused(buf, -EINVAL, "ssh");
    }
    snprintf(buf, sizeof(buf),
             HEAD "\"agents\":[{\"name\":\"a\",\"app_id\":\"" APP1 "\",\"object_id\":\"" APP1
                  "\",\"uid\":1900000000,\"enabled\":\"yes\",\"display_name\":\"\",\"roles\":[],"
                  "\"source\":\"graph\",\"keys\":[]}]}");
    refused(buf, -EINVAL, "enabled");
    snprintf(buf, sizeof(buf),
             HEAD "\"agents\":[{\"name\":\"a\",\"app_id\":\"" APP1 "\",\"object_id\":\"" APP1
                  "\",\"uid\":1900000000,\"enabled\":true,\"display_name\":\"\",\"roles\":[],"
                  "\"source\":\"ldap\",\"keys\":[]}]}");
    refused(buf, -EINVAL, "source");
}

static void test_caps(void **state)
{
    size_t cap = 64 + (OC_DIR_AGENTS_MAX + 1) * 4;
    char *buf = malloc(cap);
    char roles[OC_DIR_ROLES_MAX * 8 + 64];
    size_t n;

    (void)state;
    assert_non_null(buf);
    n = (size_t)snprintf(buf, cap, HEAD "\"agents\":[");
    for (size_t i = 0; i <= OC_DIR_AGENTS_MAX; i++) {
        n += (size_t)snprintf(buf + n, cap - n, "%s{}", i > 0 ? "," : "");
    }
    snprintf(buf + n, cap - n, "]}");
    refused(buf, -E2BIG, "cap");
    free(buf);

    n = (size_t)snprintf(roles, sizeof(roles), "[");
    for (size_t i = 0; i <= OC_DIR_ROLES_MAX; i++) {
        n += (size_t)snprintf(roles + n, sizeof(roles) - n, "%s\"r%zu\"", i > 0 ? "," : "", i);
    }
    snprintf(roles + n, sizeof(roles) - n, "]");
    buf = malloc(sizeof(roles) + 512);
    assert_non_null(buf);
    snprintf(buf, sizeof(roles) + 512,
             HEAD "\"agents\":[{\"name\":\"a\",\"app_id\":\"" APP1 "\",\"object_id\":\"" APP1
                  "\",\"uid\":1900000000,\"enabled\":true,\"display_name\":\"\",\"roles\":%s,"
                  "\"source\":\"graph\",\"keys\":[]}]}",
             roles);
    refused(buf, -EINVAL, "roles");
    free(buf);
}

static void test_write_and_load_file(void **state)
{
    char dir[] = "/tmp/test_directory.XXXXXX", path[256], link[256];
    struct oc_dir *d = NULL, *e = NULL;
    struct stat st;
    const char *why = NULL;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/directory.json", dir);
    snprintf(link, sizeof(link), "%s/link.json", dir);
    assert_int_equal(oc_dir_parse(good, strlen(good), UMIN, UMAX, &d, NULL), 0);
    assert_int_equal(oc_dir_write_file(path, d), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(oc_dir_load_file(path, UMIN, UMAX, &e, &why), 0);
    assert_int_equal(e->n_agents, 2);
    oc_dir_free(e);
    /* A narrower uid range in the config refuses the same file. */
    assert_int_equal(oc_dir_load_file(path, UMIN, 1900000000u, &e, &why), -ERANGE);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(oc_dir_load_file(link, UMIN, UMAX, &e, &why), -ELOOP);
    assert_int_equal(oc_dir_load_file(dir, UMIN, UMAX, &e, &why), -EINVAL);
    assert_int_equal(chmod(path, 0666), 0);
    assert_int_equal(oc_dir_load_file(path, UMIN, UMAX, &e, &why), -EPERM);
    unlink(link);
    unlink(path);
    rmdir(dir);
    oc_dir_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_good_file),
            cmocka_unit_test(test_format_round_trip),
            cmocka_unit_test(test_uids_are_never_trusted),
            cmocka_unit_test(test_malformed_is_refused),
            cmocka_unit_test(test_agent_values_are_checked),
            cmocka_unit_test(test_caps),
            cmocka_unit_test(test_write_and_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
