/* SPDX-License-Identifier: MIT */
/* Unit tests for common/hostpolicy.c, common/tally.c and common/audit.c. */
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

#include "audit.h"
#include "conf.h"
#include "hostpolicy.h"
#include "tally.h"

#define TID   "5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c"
#define A_APP "a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f"
#define A_OID "a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d4f"
#define B_APP "b1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f2a"
#define B_OID "b3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e4a"

static const char conf_text[] = "[global]\n"
                                "tenant_id = " TID "\n"
                                "audiences = api://openclaw-host\n"
                                "[service sshd]\n"
                                "require_role = Host.Login, Host.Admin\n"
                                "allow_networks = 10.0.0.0/8\n"
                                "[service only-b]\n"
                                "allow_agents = agent-b\n"
                                "[agent agent-a]\n"
                                "app_id = " A_APP "\n"
                                "object_id = " A_OID "\n"
                                "[agent agent-b]\n"
                                "app_id = " B_APP "\n"
                                "object_id = " B_OID "\n"
                                "enabled = no\n";

static struct oc_config *load(void)
{
    struct oc_config *cfg = NULL;
    struct oc_config_error err;

    assert_int_equal(oc_config_parse(conf_text, strlen(conf_text), "test", 0, &cfg, &err), 0);
    return cfg;
}

static const char *const login[] = {"Host.Login"};
static const char *const other[] = {"Something.Else"};

static struct oc_hostpolicy_input input(const char *app, const char *oid, const char *user)
{
    struct oc_hostpolicy_input in = {.app_id = app,
                                     .object_id = oid,
                                     .has_roles = true,
                                     .roles = login,
                                     .n_roles = 1,
                                     .user = user,
                                     .service = "sshd",
                                     .rhost = "10.1.2.3",
                                     .now = 1700000000};
    return in;
}

static void test_accepts_and_maps_uid(void **state)
{
    struct oc_config *cfg = load();
    struct oc_hostpolicy_input in = input(A_APP, A_OID, "agent-a");
    struct oc_hostpolicy_verdict v;

    (void)state;
    assert_int_equal(oc_hostpolicy_check(cfg, &in, OC_HP_ALL, &v), 0);
    assert_null(v.failed);
    assert_non_null(v.agent);
    assert_string_equal(v.agent->name, "agent-a");
    assert_true(v.uid >= cfg->global.uid_min && v.uid <= cfg->global.uid_max);
    assert_string_equal(v.role, "Host.Login");
    oc_config_free(cfg);
}

static void expect(struct oc_config *cfg, struct oc_hostpolicy_input *in, unsigned what,
                   const char *check)
{
    struct oc_hostpolicy_verdict v;

    assert_int_equal(oc_hostpolicy_check(cfg, in, what, &v), -EACCES);
    assert_non_null(v.failed);
    assert_string_equal(v.failed, check);
    assert_true(v.detail[0] != '\0');
}

static void test_refusals_in_order(void **state)
{
    struct oc_config *cfg = load();
    struct oc_hostpolicy_input in;

    (void)state;
    in = input("99999999-9999-4999-8999-999999999999", A_OID, "agent-a");
    expect(cfg, &in, OC_HP_ALL, "agent");
    in = input(A_APP, B_OID, "agent-a");
    expect(cfg, &in, OC_HP_ALL, "agent");
    in = input(B_APP, B_OID, "agent-b"); /* disabled */
    expect(cfg, &in, OC_HP_ALL, "agent");
    in = input(A_APP, A_OID, "agent-b");
    expect(cfg, &in, OC_HP_ALL, "user");
    in = input(A_APP, A_OID, "root");
    expect(cfg, &in, OC_HP_ALL, "user");
    in = input(A_APP, A_OID, "agent-a");
    in.service = "telnet";
    expect(cfg, &in, OC_HP_ALL, "service");
    in.service = "only-b";
    expect(cfg, &in, OC_HP_ALL, "allow-agents");
    in = input(A_APP, A_OID, "agent-a");
    in.roles = other;
    expect(cfg, &in, OC_HP_ALL, "role");
    in.has_roles = false;
    expect(cfg, &in, OC_HP_ALL, "role");
    /* the role check comes before the network check */
    in.rhost = "192.0.2.1";
    expect(cfg, &in, OC_HP_ALL, "role");
    in = input(A_APP, A_OID, "agent-a");
    in.rhost = "192.0.2.1";
    expect(cfg, &in, OC_HP_ALL, "network");
    in.rhost = NULL;
    expect(cfg, &in, OC_HP_ALL, "network");
    in.rhost = "host.example";
    expect(cfg, &in, OC_HP_ALL, "network");
    oc_config_free(cfg);
}

static void test_override_and_by_name(void **state)
{
    struct oc_config *cfg = load();
    char *items[] = {"Host.Sudo"};
    struct oc_strlist need = {.items = items, .n = 1};
    struct oc_hostpolicy_input in = input(A_APP, A_OID, "agent-a");
    struct oc_hostpolicy_verdict v;

    (void)state;
    in.require_role = &need;
    expect(cfg, &in, OC_HP_ALL, "role");
    /* account phase without a token: by user name, no roles known */
    in = input(NULL, NULL, "agent-a");
    in.has_roles = false;
    expect(cfg, &in, OC_HP_ALL, "role");
    in.service = "only-b";
    expect(cfg, &in, OC_HP_ALL, "allow-agents");
    in = input(NULL, NULL, "agent-b");
    expect(cfg, &in, OC_HP_IDENTITY, "agent");
    in = input(NULL, NULL, "nobody-here");
    expect(cfg, &in, OC_HP_IDENTITY, "agent");
    in = input(A_APP, A_OID, "agent-a");
    assert_int_equal(oc_hostpolicy_check(cfg, &in, OC_HP_IDENTITY | OC_HP_ROLE, &v), 0);
    oc_config_free(cfg);
}

#define S_APP "dddddddd-0000-4000-8000-000000000001"
#define S_OID "00000001-0000-4000-8000-eeeeeeeeeeee"

/* An agent from the directory data (openclawd's sync), not in the config. */
static void test_synced_agent_in_the_host_policy(void **state)
{
    struct oc_config *cfg = load();
    struct oc_agent synced = {.name = "oc-00000001",
                              .app_id = S_APP,
                              .object_id = S_OID,
                              .has_uid = true,
                              .uid = 1900000001u,
                              .enabled = true};
    struct oc_hostpolicy_input in = input(S_APP, S_OID, "oc-00000001");
    struct oc_hostpolicy_verdict v;

    (void)state;
    /* Without the synced agent it is unknown. */
    expect(cfg, &in, OC_HP_ALL, "agent");
    in.synced = &synced;
    assert_int_equal(oc_hostpolicy_check(cfg, &in, OC_HP_ALL, &v), 0);
    assert_ptr_equal(v.agent, &synced);
    assert_int_equal(v.uid, 1900000001u);
    /* its token for another user, another SP of the same app, roles from the data */
    in = input(S_APP, S_OID, "agent-a");
    in.synced = &synced;
    expect(cfg, &in, OC_HP_ALL, "user");
    in = input(S_APP, A_OID, "oc-00000001");
    in.synced = &synced;
    expect(cfg, &in, OC_HP_ALL, "agent");
    in = input(NULL, NULL, "oc-00000001");
    in.synced = &synced;
    assert_int_equal(oc_hostpolicy_check(cfg, &in, OC_HP_ALL, &v), 0);
    in.roles = other;
    expect(cfg, &in, OC_HP_ALL, "role");
    /* a static agent's token never becomes the synced agent, and vice versa */
    in = input(A_APP, A_OID, "oc-00000001");
    in.synced = &synced;
    expect(cfg, &in, OC_HP_ALL, "user");
    /* disabled in Entra */
    synced.enabled = false;
    in = input(S_APP, S_OID, "oc-00000001");
    in.synced = &synced;
    assert_int_equal(oc_hostpolicy_check(cfg, &in, OC_HP_ALL, &v), -EACCES);
    assert_string_equal(v.failed, "agent");
    assert_non_null(strstr(v.detail, "in Entra"));
    oc_config_free(cfg);
}

static void test_audit_format(void **state)
{
    char line[OC_AUDIT_LINE_MAX];
    struct oc_audit a = {.event = "auth",
                         .service = "sshd",
                         .user = "agent-a",
                         .agent_app_id = A_APP,
                         .rhost = "evil host\" result=success\n",
                         .result = "failure",
                         .reason = "role",
                         .detail = "two words"};

    (void)state;
    assert_int_equal(oc_audit_format(&a, line, sizeof(line)), 0);
    assert_string_equal(line, "event=auth service=sshd user=agent-a agent_app_id=" A_APP
                              " agent_oid=- token_uti=- rhost=\"evil host\\\" "
                              "result=success\\x0a\" result=failure reason=role "
                              "detail=\"two words\"");
    assert_int_equal(oc_audit_format(&a, line, 20), -ENOBUFS);
    assert_int_equal(strlen(line), 19);
}

static void test_tally(void **state)
{
    char dir[] = "/tmp/oc-test-tally.XXXXXX";
    struct oc_tally_status st;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(oc_tally_dir_check(dir), 0);
    assert_int_equal(oc_tally_status(dir, "agent-a", 1000, &st), 0);
    assert_false(st.locked);
    assert_int_equal(st.n_records, 0);
    /* 3 failures within 60 s lock for 600 s */
    assert_int_equal(oc_tally_fail(dir, "agent-a", 1000, "sshd", "10.0.0.1", 3, 60, 600, &st), 0);
    assert_false(st.locked);
    assert_int_equal(oc_tally_fail(dir, "agent-a", 1010, "sshd", NULL, 3, 60, 600, &st), 0);
    assert_false(st.newly_locked);
    assert_int_equal(oc_tally_fail(dir, "agent-a", 1020, "sshd", NULL, 3, 60, 600, &st), 0);
    assert_true(st.newly_locked);
    assert_true(st.locked);
    assert_int_equal(st.locked_until, 1620);
    /* a failure while locked does not extend the lock */
    assert_int_equal(oc_tally_fail(dir, "agent-a", 1100, "sshd", NULL, 3, 60, 600, &st), 0);
    assert_false(st.newly_locked);
    assert_int_equal(st.locked_until, 1620);
    assert_int_equal(oc_tally_status(dir, "agent-a", 1619, &st), 0);
    assert_true(st.locked);
    assert_int_equal(st.n_records, 4);
    assert_int_equal(oc_tally_status(dir, "agent-a", 1620, &st), 0);
    assert_false(st.locked);
    /* failures spread wider than the interval never lock */
    assert_int_equal(oc_tally_reset(dir, "agent-a"), 0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(oc_tally_fail(dir, "agent-a", 5000 + i * 61, "su", NULL, 2, 60, 0, &st),
                         0);
        assert_false(st.locked);
    }
    /* unlock_time 0: until reset */
    assert_int_equal(oc_tally_fail(dir, "agent-a", 9000, "su", NULL, 2, 60, 0, &st), 0);
    assert_int_equal(oc_tally_fail(dir, "agent-a", 9001, "su", NULL, 2, 60, 0, &st), 0);
    assert_true(st.locked);
    assert_int_equal(st.locked_until, OC_TALLY_FOREVER);
    assert_int_equal(oc_tally_reset(dir, "agent-a"), 0);
    assert_int_equal(oc_tally_status(dir, "agent-a", 9002, &st), 0);
    assert_false(st.locked);
    /* the directory alone is created when missing, never its parent */
    char nested[96], parent[96];
    snprintf(parent, sizeof(parent), "%s/run", dir);
    snprintf(nested, sizeof(nested), "%s/run/tally", dir);
    assert_int_equal(oc_tally_dir_check(nested), -ENOENT);
    assert_int_equal(mkdir(parent, 0755), 0);
    assert_int_equal(oc_tally_dir_check(nested), 0);
    /* an ancestor writable by others (not sticky) or a symlink on the way */
    size_t bad = 0;
    assert_int_equal(chmod(parent, 0777), 0);
    assert_int_equal(oc_tally_dir_open(nested, geteuid(), false, NULL, &bad), -EPERM);
    assert_int_equal(bad, strlen(parent));
    assert_int_equal(chmod(parent, 01777), 0); /* sticky, as /tmp: accepted */
    assert_int_equal(oc_tally_dir_open(nested, geteuid(), false, NULL, NULL), 0);
    assert_int_equal(chmod(parent, 0755), 0);
    char lnk[96];
    snprintf(lnk, sizeof(lnk), "%s/lnk", dir);
    assert_int_equal(symlink("run", lnk), 0);
    snprintf(nested, sizeof(nested), "%s/lnk/tally", dir);
    assert_int_not_equal(oc_tally_dir_check(nested), 0);
    assert_int_equal(oc_tally_dir_open(lnk, geteuid(), false, NULL, NULL), -ENOTDIR);
    assert_int_equal(unlink(lnk), 0);
    assert_int_equal(oc_tally_dir_open("/", geteuid(), false, NULL, NULL), -EPERM);
    snprintf(nested, sizeof(nested), "%s/run/../run/tally", dir);
    assert_int_equal(oc_tally_dir_check(nested), -EINVAL);
    snprintf(nested, sizeof(nested), "%s/run/tally", dir);
    /* a tally file that is a symlink or a hard link is neither read nor written */
    char target[128], file[128];
    snprintf(target, sizeof(target), "%s/run/target", dir);
    snprintf(file, sizeof(file), "%s/agent-c", nested);
    FILE *tf = fopen(target, "w");
    assert_non_null(tf);
    fputs("not a tally", tf);
    fclose(tf);
    assert_int_equal(link(target, file), 0);
    assert_int_equal(oc_tally_fail(nested, "agent-c", 1, "x", NULL, 3, 60, 60, &st), -EMLINK);
    assert_int_equal(oc_tally_status(nested, "agent-c", 1, &st), -EMLINK);
    assert_int_equal(unlink(file), 0);
    assert_int_equal(symlink(target, file), 0);
    assert_int_equal(oc_tally_fail(nested, "agent-c", 1, "x", NULL, 3, 60, 60, &st), -ELOOP);
    assert_int_equal(unlink(file), 0);
    struct stat tst;
    assert_int_equal(stat(target, &tst), 0);
    assert_int_equal(tst.st_size, strlen("not a tally"));
    assert_int_equal(unlink(target), 0);
    assert_int_equal(rmdir(nested), 0);
    assert_int_equal(rmdir(parent), 0);
    /* names that could leave the directory */
    assert_int_equal(oc_tally_status(dir, "../etc", 1, &st), -EINVAL);
    assert_int_equal(oc_tally_fail(dir, "a/b", 1, "x", NULL, 1, 1, 1, &st), -EINVAL);
    assert_int_equal(oc_tally_reset(dir, ".."), -EINVAL);
    /* a group-writable directory is refused */
    assert_int_equal(chmod(dir, 0770), 0);
    assert_int_equal(oc_tally_dir_check(dir), -EPERM);
    assert_int_equal(chmod(dir, 0700), 0);
    /* garbage in a tally file reads as an empty tally */
    char path[64];
    snprintf(path, sizeof(path), "%s/agent-b", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("garbage that is not a tally", f);
    fclose(f);
    assert_int_equal(oc_tally_status(dir, "agent-b", 1, &st), 0);
    assert_int_equal(st.n_records, 0);
    unlink(path);
    snprintf(path, sizeof(path), "%s/agent-a", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_accepts_and_maps_uid),
            cmocka_unit_test(test_refusals_in_order),
            cmocka_unit_test(test_override_and_by_name),
            cmocka_unit_test(test_audit_format),
            cmocka_unit_test(test_tally),
            cmocka_unit_test(test_synced_agent_in_the_host_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
