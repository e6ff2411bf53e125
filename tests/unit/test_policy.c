/* SPDX-License-Identifier: MIT */
/* Unit tests for common/policy.c: networks and time windows. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "policy.h"
#include "util.h"

static struct oc_netlist nl(const char *text)
{
    struct oc_netlist l;

    memset(&l, 0xAA, sizeof(l));
    assert_int_equal(oc_netlist_parse(text, &l), 0);
    return l;
}

static void test_net_parse_forms(void **state)
{
    struct oc_net n;

    assert_int_equal(oc_net_parse("192.0.2.7", &n), 0);
    assert_int_equal(n.family, AF_INET);
    assert_int_equal(n.prefix, 32);
    assert_int_equal(oc_net_parse("10.0.0.0/8", &n), 0);
    assert_int_equal(n.prefix, 8);
    assert_int_equal(oc_net_parse("0.0.0.0/0", &n), 0);
    assert_int_equal(n.prefix, 0);
    assert_int_equal(oc_net_parse("2001:db8::/32", &n), 0);
    assert_int_equal(n.family, AF_INET6);
    assert_int_equal(n.prefix, 32);
    assert_int_equal(oc_net_parse("::1", &n), 0);
    assert_int_equal(n.prefix, 128);
    assert_int_equal(oc_net_parse("::/0", &n), 0);
    assert_int_equal(oc_net_parse("2001:db8::1/128", &n), 0);
}

static void test_net_parse_rejects_bad_cidrs(void **state)
{
    static const char *const syntax[] = {"",
                                         "host.example.com",
                                         "localhost",
                                         "10.0.0",
                                         "10.0.0.256",
                                         "010.0.0.1",
                                         "10.0.0.0/",
                                         "10.0.0.0/x",
                                         "10.0.0.0/+8",
                                         "10.0.0.0/-1",
                                         "10.0.0.0/8/8",
                                         "fe80::1%eth0",
                                         "::g",
                                         "1.2.3.4 ",
                                         "0x0a000001",
                                         "10.0.0.0/08a"};
    struct oc_net n = {.family = 99};
    size_t i;

    for (i = 0; i < OC_ELEMENTSOF(syntax); i++) {
        assert_int_equal(oc_net_parse(syntax[i], &n), -EINVAL);
    }
    assert_int_equal(n.family, 99);
    assert_int_equal(oc_net_parse("10.0.0.0/33", &n), -ERANGE);
    assert_int_equal(oc_net_parse("::/129", &n), -ERANGE);
    assert_int_equal(oc_net_parse("10.0.0.0/4294967296", &n), -ERANGE);
    assert_int_equal(oc_net_parse("10.0.0.1/8", &n), -EDOM);
    assert_int_equal(oc_net_parse("2001:db8::1/32", &n), -EDOM);
    assert_int_equal(oc_net_parse("192.168.1.128/24", &n), -EDOM);
    assert_int_equal(n.family, 99);
}

static void test_netlist_parse_lists(void **state)
{
    struct oc_netlist l = nl("10.0.0.0/8, 192.168.0.0/16 2001:db8::/32,::1");

    assert_false(l.any);
    assert_int_equal(l.n, 4);
    l = nl("any");
    assert_true(l.any);
    assert_int_equal(l.n, 0);
}

static void test_netlist_parse_rejects(void **state)
{
    struct oc_netlist l = {.n = 77};
    char big[OC_NETLIST_MAX * 16 + 32] = "";
    int i;

    assert_int_equal(oc_netlist_parse("", &l), -EINVAL);
    assert_int_equal(oc_netlist_parse("   ", &l), -EINVAL);
    assert_int_equal(oc_netlist_parse("10.0.0.0/8,,10.1.0.0/16", &l), -EINVAL);
    assert_int_equal(oc_netlist_parse("any, 10.0.0.0/8", &l), -EINVAL);
    assert_int_equal(oc_netlist_parse("10.0.0.0/8 any", &l), -EINVAL);
    assert_int_equal(oc_netlist_parse("any any", &l), -EINVAL);
    assert_int_equal(oc_netlist_parse("10.0.0.0/8, example.org", &l), -EINVAL);
    assert_int_equal(oc_netlist_parse("10.0.0.1/8", &l), -EDOM);
    assert_int_equal(oc_netlist_parse(NULL, &l), -EINVAL);
    for (i = 0; i <= OC_NETLIST_MAX; i++) {
        char one[24];

        snprintf(one, sizeof(one), "10.0.%d.0/24 ", i);
        strcat(big, one);
    }
    assert_int_equal(oc_netlist_parse(big, &l), -E2BIG);
    assert_int_equal(l.n, 77);
}

static void test_netlist_match_v4(void **state)
{
    struct oc_netlist l = nl("10.0.0.0/8, 192.0.2.7");

    assert_true(oc_netlist_match(&l, "10.0.0.0"));
    assert_true(oc_netlist_match(&l, "10.255.255.255"));
    assert_false(oc_netlist_match(&l, "11.0.0.0"));
    assert_false(oc_netlist_match(&l, "9.255.255.255"));
    assert_true(oc_netlist_match(&l, "192.0.2.7"));
    assert_false(oc_netlist_match(&l, "192.0.2.8"));
    assert_false(oc_netlist_match(&l, "::1"));
}

static void test_netlist_match_prefix_edges(void **state)
{
    struct oc_netlist all4 = nl("0.0.0.0/0");
    struct oc_netlist all6 = nl("::/0");
    struct oc_netlist odd = nl("172.16.0.0/12, 2001:db8:8000::/33");

    assert_true(oc_netlist_match(&all4, "0.0.0.0"));
    assert_true(oc_netlist_match(&all4, "255.255.255.255"));
    assert_false(oc_netlist_match(&all4, "2001:db8::1"));
    assert_true(oc_netlist_match(&all6, "2001:db8::1"));
    assert_true(oc_netlist_match(&all6, "::ffff:10.1.2.3"));
    assert_false(oc_netlist_match(&all6, "10.1.2.3"));
    assert_true(oc_netlist_match(&odd, "172.31.255.255"));
    assert_false(oc_netlist_match(&odd, "172.32.0.0"));
    assert_false(oc_netlist_match(&odd, "172.15.255.255"));
    assert_true(oc_netlist_match(&odd, "2001:db8:8000::1"));
    assert_true(oc_netlist_match(&odd, "2001:db8:ffff:ffff::1"));
    assert_false(oc_netlist_match(&odd, "2001:db8:7fff::1"));
}

static void test_netlist_match_v6_host_and_prefix(void **state)
{
    struct oc_netlist l = nl("2001:db8::/32, ::1/128");

    assert_true(oc_netlist_match(&l, "2001:db8::"));
    assert_true(oc_netlist_match(&l, "2001:0db8:ffff::1"));
    assert_true(oc_netlist_match(&l, "2001:DB8::abcd"));
    assert_false(oc_netlist_match(&l, "2001:db9::1"));
    assert_true(oc_netlist_match(&l, "::1"));
    assert_false(oc_netlist_match(&l, "::2"));
    assert_false(oc_netlist_match(&l, "127.0.0.1"));
}

static void test_netlist_match_v4_mapped(void **state)
{
    struct oc_netlist l = nl("192.168.1.0/24");

    assert_true(oc_netlist_match(&l, "::ffff:192.168.1.20"));
    assert_true(oc_netlist_match(&l, "::FFFF:c0a8:0114"));
    assert_false(oc_netlist_match(&l, "::ffff:192.168.2.20"));
    /* IPv4-compatible (deprecated) and NAT64 forms are not IPv4. */
    assert_false(oc_netlist_match(&l, "::192.168.1.20"));
    assert_false(oc_netlist_match(&l, "64:ff9b::192.168.1.20"));
}

static void test_netlist_refuses_host_names_and_empty(void **state)
{
    struct oc_netlist l = nl("0.0.0.0/0, ::/0");
    struct oc_netlist any = nl("any");

    assert_false(oc_netlist_match(&l, "host.example.com"));
    assert_false(oc_netlist_match(&l, "localhost"));
    assert_false(oc_netlist_match(&l, ""));
    assert_false(oc_netlist_match(&l, NULL));
    assert_false(oc_netlist_match(&l, "fe80::1%eth0"));
    assert_false(oc_netlist_match(&l, " 10.0.0.1"));
    assert_false(oc_netlist_match(NULL, "10.0.0.1"));
    /* "any" means no network restriction at all. */
    assert_true(oc_netlist_match(&any, "host.example.com"));
    assert_true(oc_netlist_match(&any, NULL));
    assert_true(oc_netlist_match(&any, ""));
}

static struct tm at(int wday, int hour, int min)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_wday = wday;
    tm.tm_hour = hour;
    tm.tm_min = min;
    return tm;
}

enum { SU, MO, TU, WE, TH, FR, SA };

static bool in(const struct oc_timewin *w, int wday, int hour, int min)
{
    struct tm tm = at(wday, hour, min);

    return oc_timewin_match(w, &tm);
}

static struct oc_timewin tw(const char *text)
{
    struct oc_timewin w;

    memset(&w, 0xAA, sizeof(w));
    assert_int_equal(oc_timewin_parse(text, &w), 0);
    return w;
}

static void test_timewin_day_ranges(void **state)
{
    struct oc_timewin w = tw("Mo-Fr 08:00-18:00, Sa 10:00-12:00");

    assert_int_equal(w.n, 2);
    assert_true(in(&w, MO, 8, 0));
    assert_true(in(&w, FR, 17, 59));
    assert_false(in(&w, FR, 18, 0));
    assert_false(in(&w, MO, 7, 59));
    assert_false(in(&w, SU, 12, 0));
    assert_true(in(&w, SA, 10, 0));
    assert_true(in(&w, SA, 11, 59));
    assert_false(in(&w, SA, 12, 0));
    assert_true(in(&w, WE, 12, 0));
}

static void test_timewin_across_midnight(void **state)
{
    struct oc_timewin w = tw("Mo-Fr 22:00-06:00");

    assert_true(in(&w, MO, 22, 0));
    assert_true(in(&w, TU, 5, 59)); /* Monday night */
    assert_false(in(&w, TU, 6, 0));
    assert_false(in(&w, MO, 5, 0)); /* Sunday night is not listed */
    assert_true(in(&w, SA, 3, 0));  /* Friday night continues into Saturday */
    assert_false(in(&w, SA, 22, 30));
    assert_false(in(&w, SU, 23, 0));
    assert_false(in(&w, WE, 12, 0));
}

static void test_timewin_edges_and_keywords(void **state)
{
    struct oc_timewin all = tw("Al 00:00-24:00");
    struct oc_timewin wk = tw("wk 09:00-17:00");
    struct oc_timewin wd = tw("WD 00:00-24:00");
    struct oc_timewin wrapdays = tw("Fr-Mo 12:00-13:00");
    struct oc_timewin always = tw("  Always ");
    int d;

    for (d = SU; d <= SA; d++) {
        assert_true(in(&all, d, 0, 0));
        assert_true(in(&all, d, 23, 59));
        assert_true(in(&always, d, 3, 33));
    }
    assert_true(always.always);
    assert_true(in(&wk, MO, 9, 0));
    assert_false(in(&wk, SU, 9, 0));
    assert_false(in(&wk, SA, 9, 0));
    assert_true(in(&wd, SA, 0, 0));
    assert_true(in(&wd, SU, 23, 59));
    assert_false(in(&wd, MO, 0, 0));
    assert_true(in(&wrapdays, FR, 12, 0));
    assert_true(in(&wrapdays, SA, 12, 30));
    assert_true(in(&wrapdays, SU, 12, 30));
    assert_true(in(&wrapdays, MO, 12, 59));
    assert_false(in(&wrapdays, TU, 12, 30));
    assert_false(in(&wrapdays, TH, 12, 30));
}

static void test_timewin_out_of_range_tm_never_matches(void **state)
{
    struct oc_timewin all = tw("Al 00:00-24:00");
    struct oc_timewin always = tw("always");

    assert_false(in(&all, 7, 12, 0));
    assert_false(in(&all, -1, 12, 0));
    assert_false(in(&all, MO, 24, 0));
    assert_false(in(&all, MO, 12, 60));
    assert_false(in(&all, MO, -1, 0));
    assert_false(oc_timewin_match(&all, NULL));
    assert_false(oc_timewin_match(NULL, NULL));
    assert_true(in(&always, 9, 99, 99)); /* no restriction at all */
}

static void test_timewin_bad_syntax(void **state)
{
    static const char *const bad[] = {"",
                                      " ",
                                      "Mo",
                                      "Mo 08:00",
                                      "Mo 8:00-18:00",
                                      "Mo 08:00-18:0",
                                      "Mo 08:00 - 18:00",
                                      "Mo-Fr08:00-18:00",
                                      "Xx 08:00-18:00",
                                      "Mo-Xx 08:00-18:00",
                                      "Mon 08:00-18:00",
                                      "Mo-Fr 24:00-06:00",
                                      "Mo 08:60-09:00",
                                      "Mo 25:00-26:00",
                                      "Mo 08:00-24:01",
                                      "Mo 08:00-08:00",
                                      "Mo 08:00-18:00,",
                                      ",Mo 08:00-18:00",
                                      "Mo 08:00-18:00,,Tu 08:00-18:00",
                                      "Mo 08:00-18:00 Tu",
                                      "always, Mo 08:00-09:00",
                                      "Mo,Tu 08:00-09:00",
                                      "Mo-Fr-Sa 08:00-09:00",
                                      "Mo 0a:00-09:00"};
    struct oc_timewin w = {.n = 55};
    char big[OC_TIMEWIN_TEXT_MAX + 16];
    size_t i;

    for (i = 0; i < OC_ELEMENTSOF(bad); i++) {
        assert_int_equal(oc_timewin_parse(bad[i], &w), -EINVAL);
    }
    assert_int_equal(oc_timewin_parse(NULL, &w), -EINVAL);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(oc_timewin_parse(big, &w), -E2BIG);
    big[0] = '\0';
    for (i = 0; i <= OC_TIMEWIN_MAX; i++) {
        strcat(big, "Mo 08:00-09:00,");
    }
    big[strlen(big) - 1] = '\0';
    assert_int_equal(oc_timewin_parse(big, &w), -E2BIG);
    assert_int_equal(w.n, 55);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_net_parse_forms),
            cmocka_unit_test(test_net_parse_rejects_bad_cidrs),
            cmocka_unit_test(test_netlist_parse_lists),
            cmocka_unit_test(test_netlist_parse_rejects),
            cmocka_unit_test(test_netlist_match_v4),
            cmocka_unit_test(test_netlist_match_prefix_edges),
            cmocka_unit_test(test_netlist_match_v6_host_and_prefix),
            cmocka_unit_test(test_netlist_match_v4_mapped),
            cmocka_unit_test(test_netlist_refuses_host_names_and_empty),
            cmocka_unit_test(test_timewin_day_ranges),
            cmocka_unit_test(test_timewin_across_midnight),
            cmocka_unit_test(test_timewin_edges_and_keywords),
            cmocka_unit_test(test_timewin_out_of_range_tm_never_matches),
            cmocka_unit_test(test_timewin_bad_syntax),
    };

    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
