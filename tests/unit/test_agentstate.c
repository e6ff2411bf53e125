/* SPDX-License-Identifier: MIT */
/* Unit tests of openclawd's lock file (helper/daemon/oc_agentstate.c): admin locks
 * and reported lockouts survive a restart, bad lines are ignored. */
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

#include "clock.h"
#include "helper/daemon/oc_agentstate.h"

static char dir[] = "/tmp/oc-agentstate.XXXXXX";
static char file[sizeof(dir) + 32];
static struct oc_agent agents[3] = {
        {.name = "agent-alpha"}, {.name = "agent-beta"}, {.name = "agent-gamma"}};
static struct oc_config cfg = {.agents = agents, .n_agents = 3};

static void write_file(const char *text)
{
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static char *read_all(void)
{
    static char buf[4096];
    FILE *f = fopen(file, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    (void)snprintf(file, sizeof(file), "%s/%s", dir, OC_AGENTSTATE_FILE);
    oc_clock_set(1700000000);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)unlink(file);
    return rmdir(dir);
}

static void test_absent_file_locks_nobody(void **state)
{
    struct oc_agentstate s;
    char err[256];
    (void)state;

    (void)unlink(file);
    assert_int_equal(oc_agentstate_init(&s, &cfg, dir, err, sizeof(err)), 0);
    for (size_t i = 0; i < 3; i++) {
        assert_false(s.locked[i]);
        assert_int_equal(s.lockout_until[i], 0);
    }
    oc_agentstate_free(&s);
}

static void test_lock_and_lockout_survive_a_restart(void **state)
{
    struct oc_agentstate s;
    char err[256];
    (void)state;

    (void)unlink(file);
    assert_int_equal(oc_agentstate_init(&s, &cfg, dir, err, sizeof(err)), 0);
    assert_int_equal(oc_agentstate_set_locked(&s, &cfg, 0, true), 0);
    assert_int_equal(oc_agentstate_set_lockout(&s, &cfg, 1, 1700000600), 0);
    assert_int_equal(oc_agentstate_set_lockout(&s, &cfg, 2, INT64_MAX), 0);
    oc_agentstate_free(&s);
    assert_string_equal(read_all(), "agent-alpha\n"
                                    "agent-beta lockout-until=1700000600\n"
                                    "agent-gamma lockout-until=9223372036854775807\n");

    assert_int_equal(oc_agentstate_init(&s, &cfg, dir, err, sizeof(err)), 0);
    assert_true(s.locked[0]);
    assert_int_equal(s.lockout_until[0], 0);
    assert_false(s.locked[1]);
    assert_int_equal(s.lockout_until[1], 1700000600);
    assert_int_equal(s.lockout_until[2], INT64_MAX);
    /* an unlock lifts the lockout, in the file too */
    assert_int_equal(oc_agentstate_set_locked(&s, &cfg, 2, false), 0);
    assert_string_equal(read_all(), "agent-alpha\nagent-beta lockout-until=1700000600\n");
    /* an ended lockout is not written again */
    oc_clock_set(1700000601);
    assert_int_equal(oc_agentstate_set_locked(&s, &cfg, 0, true), 0);
    assert_string_equal(read_all(), "agent-alpha\n");
    oc_clock_set(1700000000);
    oc_agentstate_free(&s);
}

static void test_bad_lines_are_ignored(void **state)
{
    struct oc_agentstate s;
    char err[256];
    (void)state;

    write_file("# comment\n"
               "\n"
               "agent-alpha lockout-until=\n"
               "agent-alpha lockout-until=-5\n"
               "agent-alpha lockout-until=12x\n"
               "agent-alpha lockout-until=99999999999999999999\n"
               "agent-alpha unlock-at=5\n"
               "agent-alpha  lockout-until=5\n"
               "nobody-here lockout-until=1700000600\n"
               "nobody-here\n"
               "agent-beta lockout-until=1700000900\n"
               "agent-gamma");
    assert_int_equal(oc_agentstate_init(&s, &cfg, dir, err, sizeof(err)), 0);
    assert_false(s.locked[0]);
    assert_int_equal(s.lockout_until[0], 0);
    assert_false(s.locked[1]);
    assert_int_equal(s.lockout_until[1], 1700000900);
    assert_true(s.locked[2]);
    oc_agentstate_free(&s);
}

static void test_unreadable_file_is_an_error(void **state)
{
    struct oc_agentstate s;
    char err[256];
    (void)state;

    (void)unlink(file);
    assert_int_equal(mkdir(file, 0700), 0);
    assert_true(oc_agentstate_init(&s, &cfg, dir, err, sizeof(err)) < 0);
    assert_int_equal(rmdir(file), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_absent_file_locks_nobody),
            cmocka_unit_test(test_lock_and_lockout_survive_a_restart),
            cmocka_unit_test(test_bad_lines_are_ignored),
            cmocka_unit_test(test_unreadable_file_is_an_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
