/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for openclawd's audit records: the caller fields of
 * common/audit.c (caller_uid, caller_pid, via, scope) and their reading
 * back by openclawctl audit's parser (helper/ctl/auditlog.c).
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "audit.h"
#include "helper/ctl/auditlog.h"

#define A_APP "a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f"
#define A_OID "a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d4f"

static const struct oc_audit daemon_rec = {
        .event = "token",
        .service = "openclawd",
        .user = "agent-alpha",
        .agent_app_id = A_APP,
        .agent_oid = A_OID,
        .result = "failure",
        .reason = "locked",
        .via = "socket",
        .caller_uid = 1879048193,
        .caller_pid = 4242,
        .scope = "api://openclaw-host/.default",
};

static void test_daemon_fields_after_reason(void **state)
{
    char line[OC_AUDIT_LINE_MAX];

    (void)state;
    assert_int_equal(oc_audit_format(&daemon_rec, line, sizeof(line)), 0);
    assert_string_equal(line, "event=token service=openclawd user=agent-alpha agent_app_id=" A_APP
                              " agent_oid=" A_OID " token_uti=- rhost=- result=failure "
                              "reason=locked caller_uid=1879048193 caller_pid=4242 via=socket "
                              "scope=api://openclaw-host/.default");
}

static void test_daemon_fields_unknown_and_quoted(void **state)
{
    char line[OC_AUDIT_LINE_MAX];
    struct oc_audit a = daemon_rec;

    (void)state;
    /* no caller (a directory change), a hostile scope, a detail last */
    a.event = "agent-disabled";
    a.via = "sync";
    a.caller_uid = -1;
    a.caller_pid = -1;
    a.scope = "x result=success\n";
    a.detail = "two words";
    assert_int_equal(oc_audit_format(&a, line, sizeof(line)), 0);
    assert_non_null(strstr(line, " reason=locked caller_uid=- caller_pid=- via=sync "
                                 "scope=\"x result=success\\x0a\" detail=\"two words\""));
    /* uid 0 (root) is a uid, not "unknown" */
    a.caller_uid = 0;
    assert_int_equal(oc_audit_format(&a, line, sizeof(line)), 0);
    assert_non_null(strstr(line, " caller_uid=0 caller_pid=- "));
    /* an empty via still prints the four fields, as "-" */
    a.via = "";
    a.scope = NULL;
    assert_int_equal(oc_audit_format(&a, line, sizeof(line)), 0);
    assert_non_null(strstr(line, " via=- scope=- detail="));
}

static void test_pam_lines_unchanged(void **state)
{
    char line[OC_AUDIT_LINE_MAX];
    /* pam_openclaw's records set no via: none of the four fields appear */
    struct oc_audit a = {.event = "auth",
                         .service = "sshd",
                         .user = "agent-alpha",
                         .result = "success",
                         .reason = "ok",
                         .caller_uid = 5,
                         .scope = "ignored"};

    (void)state;
    assert_int_equal(oc_audit_format(&a, line, sizeof(line)), 0);
    assert_string_equal(line, "event=auth service=sshd user=agent-alpha agent_app_id=- "
                              "agent_oid=- token_uti=- rhost=- result=success reason=ok");
}

static void test_cut_at_the_end(void **state)
{
    char line[120];

    (void)state;
    assert_int_equal(oc_audit_format(&daemon_rec, line, sizeof(line)), -ENOBUFS);
    assert_int_equal(strlen(line), sizeof(line) - 1);
}

static void test_read_back_by_openclawctl(void **state)
{
    char line[OC_AUDIT_LINE_MAX];
    struct oc_auditlog_rec r;
    struct oc_audit a = daemon_rec;

    (void)state;
    a.detail = "what \"quoted\"";
    assert_int_equal(oc_audit_format(&a, line, sizeof(line)), 0);
    assert_int_equal(oc_auditlog_parse_message("openclawd", line, strlen(line), &r), 0);
    assert_string_equal(r.event, "token");
    assert_string_equal(r.service, "openclawd");
    assert_string_equal(r.user, "agent-alpha");
    assert_string_equal(r.result, "failure");
    assert_string_equal(r.reason, "locked");
    assert_string_equal(r.caller_uid, "1879048193");
    assert_string_equal(r.caller_pid, "4242");
    assert_string_equal(r.via, "socket");
    assert_string_equal(r.scope, "api://openclaw-host/.default");
    assert_string_equal(r.detail, "what \"quoted\"");
    /* a syslog file line with openclawd's tag */
    char file_line[OC_AUDIT_LINE_MAX + 64];
    snprintf(file_line, sizeof(file_line), "2026-12-03T09:15:00+00:00 host openclawd[12]: %s",
             line);
    assert_int_equal(oc_auditlog_parse(file_line, strlen(file_line), 0, &r), 0);
    assert_string_equal(r.via, "socket");
    /* a pam_openclaw line has no caller fields: they read as "" */
    const char *pam = "event=auth service=sshd user=a agent_app_id=- agent_oid=- token_uti=- "
                      "rhost=- result=success reason=ok";
    assert_int_equal(oc_auditlog_parse_message("pam_openclaw", pam, strlen(pam), &r), 0);
    assert_string_equal(r.via, "");
    assert_string_equal(r.caller_uid, "");
}

static void test_repeated_caller_field_is_malformed(void **state)
{
    char line[OC_AUDIT_LINE_MAX + 32];
    struct oc_auditlog_rec r;

    (void)state;
    assert_int_equal(oc_audit_format(&daemon_rec, line, sizeof(line)), 0);
    /* a forger appends a second via= to pass for another path */
    strcat(line, " via=mi");
    assert_int_equal(oc_auditlog_parse_message("openclawd", line, strlen(line), &r), -EINVAL);
    assert_int_equal(oc_audit_format(&daemon_rec, line, sizeof(line)), 0);
    strcat(line, " caller_uid=0");
    assert_int_equal(oc_auditlog_parse_message("openclawd", line, strlen(line), &r), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_daemon_fields_after_reason),
            cmocka_unit_test(test_daemon_fields_unknown_and_quoted),
            cmocka_unit_test(test_pam_lines_unchanged),
            cmocka_unit_test(test_cut_at_the_end),
            cmocka_unit_test(test_read_back_by_openclawctl),
            cmocka_unit_test(test_repeated_caller_field_is_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
