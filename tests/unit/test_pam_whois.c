/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for pam_openclaw/whois.c: who is an agent, decided without
 * the config. Root and every user of /etc/passwd are never agents; any
 * other user is one when NSS gives it a uid in the agent range.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "pam_openclaw/whois.h"

#define LO OC_DEFAULT_UID_MIN
#define HI OC_DEFAULT_UID_MAX

static char *write_passwd(const char *text)
{
    static char path[64];
    int fd;

    (void)snprintf(path, sizeof(path), "/tmp/oc-whois.XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_in_passwd_file(void **state)
{
    char *p = write_passwd("root:x:0:0:root:/root:/bin/bash\n"
                           "alice:x:1000:1000::/home/alice:/bin/bash\n"
                           "alicex:x:1001:1001::/home/alicex:/bin/bash\n"
                           "# a comment\n"
                           "bob:x:1879048300:1879048300::/tmp:/bin/sh"); /* no final newline */

    (void)state;
    assert_int_equal(oc_who_in_passwd_file(p, "root"), 1);
    assert_int_equal(oc_who_in_passwd_file(p, "alice"), 1);
    assert_int_equal(oc_who_in_passwd_file(p, "alicex"), 1);
    assert_int_equal(oc_who_in_passwd_file(p, "bob"), 1);
    /* prefixes and extensions of a name are other names */
    assert_int_equal(oc_who_in_passwd_file(p, "ali"), 0);
    assert_int_equal(oc_who_in_passwd_file(p, "alicexy"), 0);
    assert_int_equal(oc_who_in_passwd_file(p, "agent-alpha"), 0);
    assert_int_equal(oc_who_in_passwd_file(p, "#"), 0);
    /* names that cannot be in the file */
    assert_int_equal(oc_who_in_passwd_file(p, ""), -EINVAL);
    assert_int_equal(oc_who_in_passwd_file(p, "alice:x"), -EINVAL);
    assert_int_equal(oc_who_in_passwd_file(p, NULL), -EINVAL);
    unlink(p);
    assert_int_equal(oc_who_in_passwd_file(p, "alice"), -ENOENT);
}

static void test_classify(void **state)
{
    (void)state;
    /* root by name or by uid, and users of /etc/passwd: never agents,
     * whatever NSS says (a corrupt cache may claim any uid) */
    assert_int_equal(oc_who_classify("root", 0, true, LO + 5, LO, HI), OC_WHO_LOCAL);
    assert_int_equal(oc_who_classify("toor", 0, true, 0, LO, HI), OC_WHO_LOCAL);
    assert_int_equal(oc_who_classify("alice", 1, true, LO + 5, LO, HI), OC_WHO_LOCAL);
    assert_int_equal(oc_who_classify("alice", 1, false, 0, LO, HI), OC_WHO_LOCAL);
    assert_int_equal(oc_who_classify(NULL, 0, true, LO + 5, LO, HI), OC_WHO_LOCAL);
    /* not in /etc/passwd, an agent uid through NSS: an agent */
    assert_int_equal(oc_who_classify("agent-alpha", 0, true, LO, LO, HI), OC_WHO_AGENT_UID);
    assert_int_equal(oc_who_classify("agent-alpha", 0, true, HI, LO, HI), OC_WHO_AGENT_UID);
    /* /etc/passwd unreadable: the range alone decides */
    assert_int_equal(oc_who_classify("agent-alpha", -EACCES, true, LO + 1, LO, HI),
                     OC_WHO_AGENT_UID);
    assert_int_equal(oc_who_classify("ldap-user", -EACCES, true, 5000, LO, HI), OC_WHO_OTHER);
    /* outside the range (an LDAP or SSSD human), or not resolving at all */
    assert_int_equal(oc_who_classify("ldap-user", 0, true, 5000, LO, HI), OC_WHO_OTHER);
    assert_int_equal(oc_who_classify("ldap-user", 0, true, LO - 1, LO, HI), OC_WHO_OTHER);
    assert_int_equal(oc_who_classify("ldap-user", 0, true, HI + 1, LO, HI), OC_WHO_OTHER);
    assert_int_equal(oc_who_classify("ghost", 0, false, LO + 5, LO, HI), OC_WHO_OTHER);
    /* a range starting at 0 never makes root or anybody an agent */
    assert_int_equal(oc_who_classify("x", 0, true, 5, 0, HI), OC_WHO_OTHER);
    assert_string_equal(oc_who_name(OC_WHO_LOCAL), "local user");
    assert_string_equal(oc_who_name(OC_WHO_AGENT_UID), "agent uid");
    assert_string_equal(oc_who_name(OC_WHO_OTHER), "no agent uid");
}

static void test_iso8601(void **state)
{
    char buf[32];

    (void)state;
    oc_pam_iso8601(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    oc_pam_iso8601(1796266007, buf, sizeof(buf));
    assert_string_equal(buf, "2026-12-03T02:46:47Z");
    oc_pam_iso8601(1796266007, buf, 5); /* too small: "?" */
    assert_string_equal(buf, "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_in_passwd_file),
            cmocka_unit_test(test_classify),
            cmocka_unit_test(test_iso8601),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
