/* SPDX-License-Identifier: MIT */
/* Unit tests for common/conf.c: the openclaw.conf parser and loader. */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "util.h"

#define TID "6c1d2e8a-4b7f-4f3a-9e21-0d5c8b7a9f10"
/* path components of 105 and 102 bytes (socket path lengths) */
#define LONG_NAME                                                                                  \
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" \
    "nnnnnnnnnnnnn"
#define LONG_NAME_102                                                                              \
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" \
    "nnnnnnnnnn"
#define MINIMAL "[global]\ntenant_id = " TID "\naudiences = api://openclaw-host\n"
#define AGENT_A                                                                                    \
    "[agent alpha]\napp_id = 0000000a-0000-4000-8000-000000000001\n"                               \
    "object_id = 0000000a-0000-4000-8000-0000000000a1\n"
#define AGENT_B                                                                                    \
    "[agent beta]\napp_id = 0000000b-0000-4000-8000-000000000002\n"                                \
    "object_id = 0000000b-0000-4000-8000-0000000000b2\n"

static struct oc_config *ok(const char *text)
{
    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    int r = oc_config_parse(text, strlen(text), "t.conf", 0, &cfg, &err);

    if (r < 0) {
        fail_msg("unexpected error %d: %s:%u: %s", r, err.file, err.line, err.msg);
    }
    assert_non_null(cfg);
    return cfg;
}

/* Parse text (n bytes) expecting failure at line with a message containing want. */
static void bad_n(const char *text, size_t n, unsigned line, const char *want)
{
    struct oc_config *cfg = (struct oc_config *)0x1;
    struct oc_config_error err;
    int r = oc_config_parse(text, n, "t.conf", 0, &cfg, &err);

    if (r >= 0) {
        fail_msg("expected an error containing \"%s\", parse succeeded", want);
    }
    assert_ptr_equal(cfg, (struct oc_config *)0x1);
    assert_string_equal(err.file, "t.conf");
    if (strstr(err.msg, want) == NULL || err.line != line) {
        fail_msg("expected line %u \"%s\", got line %u \"%s\"", line, want, err.line, err.msg);
    }
}

static void bad(const char *text, unsigned line, const char *want)
{
    bad_n(text, strlen(text), line, want);
}

static void test_minimal_config_defaults(void **state)
{
    struct oc_config *cfg = ok(MINIMAL);
    const struct oc_global *g = &cfg->global;

    assert_string_equal(g->tenant_id, TID);
    assert_string_equal(g->authority, "https://login.microsoftonline.com");
    assert_string_equal(g->issuer_v1, "https://sts.windows.net/{tenantid}/");
    assert_string_equal(g->issuer_v2, "https://login.microsoftonline.com/{tenantid}/v2.0");
    assert_int_equal(g->audiences.n, 1);
    assert_string_equal(g->audiences.items[0], "api://openclaw-host");
    assert_int_equal(g->algorithms, OC_ALG_RS256 | OC_ALG_PS256 | OC_ALG_ES256);
    assert_int_equal(g->clock_skew, 300);
    assert_int_equal(g->uid_min, 1879048192u);
    assert_int_equal(g->uid_max, 2147352575u);
    assert_string_equal(g->home, "/home/%u");
    assert_string_equal(g->shell, "/bin/sh");
    assert_string_equal(g->state_dir, "/var/lib/openclaw");
    /* root's keys, written by openclaw-sync, never in the daemon's state_dir */
    assert_string_equal(g->jwks_dir, "/var/lib/openclaw-trust/jwks");
    assert_string_equal(g->trust_dir, "/var/lib/openclaw-trust");
    assert_string_equal(g->nss_cache, "/var/lib/openclaw-trust/nss.cache");
    assert_string_equal(g->keys_dir, "/var/lib/openclaw/keys");
    assert_string_equal(g->runtime_dir, "/run/openclaw");
    assert_string_equal(g->socket, "/run/openclaw/openclawd.sock");
    assert_string_equal(g->tally_dir, "/var/lib/openclaw-pam");
    assert_string_equal(g->tcti, "device:/dev/tpmrm0");
    assert_null(g->ca_file);
    assert_false(g->allow_software_keys);
    assert_false(g->allow_insecure_credentials);
    assert_int_equal(cfg->n_agents, 0);
    assert_int_equal(cfg->n_services, 0);
    assert_int_equal(cfg->n_roles, 0);
    assert_null(oc_config_service(cfg, "sshd"));
    oc_config_free(cfg);
}

static void test_every_global_key(void **state)
{
    struct oc_config *cfg =
            ok("# a comment\n; another\n\n"
               "[global]\n"
               "tenant_id = 6C1D2E8A-4B7F-4F3A-9E21-0D5C8B7A9F10\n"
               "authority = https://login.microsoftonline.us///\n"
               "issuer_v1 = https://sts.windows.net/{tenantid}/\n"
               "issuer_v2 = https://login.microsoftonline.us/{tenantid}/v2.0\n"
               "audiences = api://openclaw-host,  DEADBEEF-0000-4000-8000-00000000CAFE "
               "https://host.example.org\n"
               "algorithms = ES256, RS256\n"
               "clock_skew = 0\n"
               "uid_min = 100000\n"
               "uid_max = 199999\n"
               "home = /srv/agents/%u%%\n"
               "shell = /usr/bin/bash\n"
               "state_dir = /var/lib/oc\n"
               "jwks_dir = /srv/jwks\n"
               "nss_cache = /srv/nss.cache\n"
               "keys_dir = /srv/keys\n"
               "runtime_dir = /run/oc\n"
               "socket = /run/other.sock\n"
               "tally_dir = /run/tally\n"
               "tcti = swtpm:host=127.0.0.1,port=2321\n"
               "ca_file = /etc/ssl/test-ca.pem\n"
               "allow_software_keys = on\n"
               "allow_insecure_credentials = TRUE\n");
    const struct oc_global *g = &cfg->global;

    assert_string_equal(g->tenant_id, TID);
    assert_string_equal(g->authority, "https://login.microsoftonline.us");
    assert_string_equal(g->issuer_v2, "https://login.microsoftonline.us/{tenantid}/v2.0");
    assert_int_equal(g->audiences.n, 3);
    assert_string_equal(g->audiences.items[1], "deadbeef-0000-4000-8000-00000000cafe");
    assert_string_equal(g->audiences.items[2], "https://host.example.org");
    assert_int_equal(g->algorithms, OC_ALG_ES256 | OC_ALG_RS256);
    assert_int_equal(g->clock_skew, 0);
    assert_int_equal(g->uid_min, 100000);
    assert_int_equal(g->uid_max, 199999);
    assert_string_equal(g->home, "/srv/agents/%u%%");
    assert_string_equal(g->shell, "/usr/bin/bash");
    assert_string_equal(g->state_dir, "/var/lib/oc");
    assert_string_equal(g->jwks_dir, "/srv/jwks");
    assert_string_equal(g->nss_cache, "/srv/nss.cache");
    assert_string_equal(g->keys_dir, "/srv/keys");
    assert_string_equal(g->runtime_dir, "/run/oc");
    assert_string_equal(g->socket, "/run/other.sock");
    assert_string_equal(g->tally_dir, "/run/tally");
    assert_string_equal(g->tcti, "swtpm:host=127.0.0.1,port=2321");
    assert_string_equal(g->ca_file, "/etc/ssl/test-ca.pem");
    assert_true(g->allow_software_keys);
    assert_true(g->allow_insecure_credentials);
    oc_config_free(cfg);
}

static void test_derived_defaults_follow_their_base(void **state)
{
    struct oc_config *cfg = ok(MINIMAL "state_dir = /srv/oc\nruntime_dir = /run/x\n"
                                       "authority = https://login.chinacloudapi.cn/\n");

    /* root's keys and cache never follow the daemon's state_dir */
    assert_string_equal(cfg->global.jwks_dir, "/var/lib/openclaw-trust/jwks");
    assert_string_equal(cfg->global.nss_cache, "/var/lib/openclaw-trust/nss.cache");
    assert_string_equal(cfg->global.keys_dir, "/srv/oc/keys");
    oc_config_free(cfg);
    /* ...they follow trust_dir */
    cfg = ok(MINIMAL "trust_dir = /srv/trust\n");
    assert_string_equal(cfg->global.jwks_dir, "/srv/trust/jwks");
    assert_string_equal(cfg->global.nss_cache, "/srv/trust/nss.cache");
    oc_config_free(cfg);
    cfg = ok(MINIMAL "state_dir = /srv/oc\nruntime_dir = /run/x\n"
                     "authority = https://login.chinacloudapi.cn/\n");
    assert_string_equal(cfg->global.socket, "/run/x/openclawd.sock");
    /* root's tally never follows the daemon's runtime_dir */
    assert_string_equal(cfg->global.tally_dir, "/var/lib/openclaw-pam");
    assert_string_equal(cfg->global.issuer_v2, "https://login.chinacloudapi.cn/{tenantid}/v2.0");
    oc_config_free(cfg);
}

static void test_number_range_errors_name_the_fix(void **state)
{
    bad(MINIMAL "clock_skew = 900\n", 4,
        "clock_skew = 900: must be between 0 and 600 seconds (e.g. clock_skew = 300)");
    bad(MINIMAL "clock_skew = -1\n", 4,
        "clock_skew = -1: must be a whole number between 0 and 600");
    bad(MINIMAL "clock_skew = 5m\n", 4, "must be a whole number");
    bad(MINIMAL "uid_min = 999\n", 4, "uid_min = 999: must be between 1000 and 4294967294");
    bad(MINIMAL "uid_max = 4294967295\n", 4, "must be between 1000 and 4294967294");
    bad(MINIMAL "uid_min = 100000\nuid_max = 99999\n", 5,
        "uid_max = 99999 is below uid_min = 100000");
    bad(MINIMAL "uid_min = 1000\nuid_max = 70000\n", 5, "contains 65534/65535");
    /* a socket path longer than sun_path holds (107 bytes and the NUL),
     * set or derived from runtime_dir */
    bad(MINIMAL "socket = /run/" LONG_NAME ".sock\n", 4,
        "socket: the path is 115 bytes, a Unix socket path holds at most 107");
    bad(MINIMAL "runtime_dir = /run/" LONG_NAME "\n", 0,
        "socket: the path is 125 bytes, a Unix socket path holds at most 107");
    oc_config_free(ok(MINIMAL "socket = /run/" LONG_NAME_102 "\n")); /* 107 bytes: fits */
    bad(MINIMAL "uid_max = 65535\nuid_min = 65535\n", 5, "contains 65534/65535");
    bad(MINIMAL "[service sshd]\ndeny = 0\n", 5, "deny = 0: must be between 1 and 1000 failures");
    bad(MINIMAL "[service sshd]\ndeny = 1001\n", 5, "must be between 1 and 1000");
    bad(MINIMAL "[service sshd]\nfail_interval = 0\n", 5, "must be between 1 and 86400 seconds");
    bad(MINIMAL "[service sshd]\nunlock_time = 31536001\n", 5,
        "must be between 0 and 31536000 seconds");
    bad(MINIMAL "[service sshd]\nmax_token_age = 86401\n", 5, "must be between 0 and 86400");
    bad(MINIMAL AGENT_A "uid = 12\n", 7, "uid = 12: must be between 1000");
    bad(MINIMAL AGENT_A "uid = 1000\n", 7,
        "[agent alpha]: uid = 1000 is outside uid_min = 1879048192 .. uid_max = 2147352575");
}

static void test_syntax_errors(void **state)
{
    bad("tenant_id = " TID "\n", 1, "tenant_id is outside any section");
    bad("[global\ntenant_id = x\n", 1, "must end with ']'");
    bad("[global] # c\n", 1, "must end with ']'");
    bad("[nonsense]\n", 1, "unknown section [nonsense]");
    bad("[global extra]\n", 1, "[global] takes no name");
    bad("[roles x]\n", 1, "[roles] takes no name");
    bad(MINIMAL "just words\n", 4, "'just words' is not a section header or a 'key = value'");
    bad(MINIMAL " = value\n", 4, "a line starts with '='");
    bad(MINIMAL "shell =\n", 4, "shell has no value");
    bad(MINIMAL "shell =    \n", 4, "shell has no value");
    bad(MINIMAL "clock_skew = 300 # five minutes\n", 4,
        "comments are only allowed on lines of their own");
}

static void test_unknown_and_misplaced_keys(void **state)
{
    bad(MINIMAL "clock_skwe = 30\n", 4,
        "[global]: unknown key clock_skwe (did you mean clock_skew?)");
    bad(MINIMAL "frobnicate = 1\n", 4, "unknown key frobnicate (see openclaw.conf(5)");
    bad(MINIMAL "deny = 3\n", 4, "[global]: deny belongs in [service NAME], not here");
    bad(MINIMAL "[service sshd]\ntenant_id = " TID "\n", 5, "tenant_id belongs in [global]");
    bad(MINIMAL "[service sshd]\napp_id = " TID "\n", 5, "app_id belongs in [agent NAME]");
    bad(MINIMAL AGENT_A "Groups = adm\n", 7, "unknown key Groups (did you mean groups?)");
}

static void test_duplicates(void **state)
{
    bad(MINIMAL "clock_skew = 1\nclock_skew = 2\n", 5,
        "[global]: clock_skew is set twice (first on line 4)");
    bad(MINIMAL "[global]\n", 4, "[global] appears twice (first on line 1)");
    bad(MINIMAL "[roles]\n[roles]\n", 5, "[roles] appears twice (first on line 4)");
    bad(MINIMAL "[service sshd]\n[service sudo]\n[service sshd]\n", 6,
        "[service sshd] appears twice (first on line 4)");
    bad(MINIMAL AGENT_A AGENT_A, 7, "[agent alpha] appears twice (first on line 4)");
    bad(MINIMAL AGENT_A "[agent beta]\napp_id = 0000000A-0000-4000-8000-000000000001\n"
                        "object_id = 0000000b-0000-4000-8000-0000000000b2\n",
        8,
        "[agent beta]: app_id 0000000a-0000-4000-8000-000000000001 is already used by "
        "[agent alpha] (line 5)");
    bad(MINIMAL AGENT_A "[agent beta]\napp_id = 0000000b-0000-4000-8000-000000000002\n"
                        "object_id = 0000000a-0000-4000-8000-0000000000A1\n",
        9, "object_id 0000000a-0000-4000-8000-0000000000a1 is already used by [agent alpha]");
    bad(MINIMAL "[roles]\nHost.Login = a\nHost.Login = b\n", 6, "role Host.Login is mapped twice");
}

static void test_missing_required(void **state)
{
    bad("", 0, "no [global] section");
    bad("# only a comment\n", 0, "no [global] section");
    bad("[global]\naudiences = api://x\n", 1, "[global]: missing required key tenant_id");
    bad("[global]\ntenant_id = " TID "\n", 1, "[global]: missing required key audiences");
    bad(MINIMAL "[agent alpha]\nobject_id = " TID "\n", 4,
        "[agent alpha]: missing required key app_id (e.g. app_id = ");
    bad(MINIMAL "[agent alpha]\napp_id = " TID "\n[roles]\n", 4,
        "[agent alpha]: missing required key object_id");
    /* Required keys of [global] are checked even when it comes last. */
    bad("[roles]\n[global]\ntenant_id = " TID "\n", 2, "missing required key audiences");
}

static void test_line_too_long(void **state)
{
    size_t n = OC_CONFIG_LINE_MAX + 200;
    char *text = malloc(n + 64);
    size_t i, pre;

    assert_non_null(text);
    strcpy(text, MINIMAL "home = /");
    pre = strlen(text);
    for (i = pre; i < pre + OC_CONFIG_LINE_MAX; i++) {
        text[i] = 'a';
    }
    text[i] = '\n';
    text[i + 1] = '\0';
    bad(text, 4, "line is longer than 4096 bytes");
    free(text);
}

static void test_longest_line_accepted(void **state)
{
    char *text = malloc(OC_CONFIG_LINE_MAX + 256);
    size_t pre, i;
    struct oc_config *cfg;

    assert_non_null(text);
    strcpy(text, MINIMAL);
    pre = strlen(text);
    /* A comment of exactly OC_CONFIG_LINE_MAX bytes, no final newline. */
    text[pre] = '#';
    for (i = 1; i < OC_CONFIG_LINE_MAX; i++) {
        text[pre + i] = 'c';
    }
    text[pre + i] = '\0';
    cfg = ok(text);
    oc_config_free(cfg);
    free(text);
}

static void test_nul_and_control_bytes(void **state)
{
    static const char nul[] = "[global]\ntenant_id = " TID "\0\naudiences = api://x\n";
    static const char ctl[] = MINIMAL "shell = /bin/\x1bsh\n";

    bad_n(nul, sizeof(nul) - 1, 2, "contains a NUL byte");
    bad(ctl, 4, "contains a control character (0x1b)");
    bad(MINIMAL "shell = /bin/sh\x7f\n", 4, "control character (0x7f)");
    bad(MINIMAL "shell = /bin\r/sh\n", 4, "control character (0x0d)");
}

static void test_non_utf8(void **state)
{
    bad(MINIMAL "display = \xff\n", 4, "is not valid UTF-8 (byte 11)");
    bad(MINIMAL AGENT_A "display_name = caf\xe9\n", 7, "is not valid UTF-8");
    bad(MINIMAL AGENT_A "display_name = \xc0\xae\n", 7, "is not valid UTF-8");
}

static void test_crlf_bom_and_utf8_accepted(void **state)
{
    struct oc_config *cfg = ok("\xEF\xBB\xBF[global]\r\ntenant_id = " TID "\r\n"
                               "audiences = api://x\r\n" AGENT_A
                               "display_name = Z\xc3\xbcrich \xf0\x9f\xa4\x96 Bot\r\n");

    assert_string_equal(cfg->global.tenant_id, TID);
    assert_string_equal(cfg->agents[0].display_name, "Z\xc3\xbcrich \xf0\x9f\xa4\x96 Bot");
    oc_config_free(cfg);
}

static void test_file_size_cap_in_parse(void **state)
{
    size_t n = OC_CONFIG_FILE_MAX + 1;
    char *text = malloc(n);
    struct oc_config *cfg = NULL;
    struct oc_config_error err;

    assert_non_null(text);
    memset(text, '\n', n);
    assert_int_equal(oc_config_parse(text, n, "big.conf", 0, &cfg, &err), -EFBIG);
    assert_null(cfg);
    assert_int_equal(err.line, 0);
    assert_non_null(strstr(err.msg, "larger than 1048576 bytes"));
    free(text);
}

static void test_guid_values(void **state)
{
    bad("[global]\ntenant_id = contoso.onmicrosoft.com\n", 2,
        "tenant_id = contoso.onmicrosoft.com: must be a GUID written as 8-4-4-4-12");
    bad("[global]\ntenant_id = {" TID "}\n", 2, "without braces");
    bad(MINIMAL AGENT_A "mi_client_id = nope\n", 7, "mi_client_id = nope: must be a GUID");
}

static void test_algorithms(void **state)
{
    struct oc_config *cfg = ok(MINIMAL "algorithms = PS256\n");

    assert_int_equal(cfg->global.algorithms, OC_ALG_PS256);
    oc_config_free(cfg);
    bad(MINIMAL "algorithms = none\n", 4, "'none' is not allowed: only RS256, PS256 and ES256");
    bad(MINIMAL "algorithms = RS256 HS256\n", 4, "'HS256' is not allowed");
    bad(MINIMAL "algorithms = rs256\n", 4, "'rs256' is not allowed");
    bad(MINIMAL "algorithms = RS256 RS256\n", 4, "'RS256' is listed twice");
    bad(MINIMAL "algorithms = RS256,\n", 4, "has an empty item");
}

static void test_audience_lists(void **state)
{
    char text[8192];
    size_t i;

    bad("[global]\ntenant_id = " TID "\naudiences = openclaw-host\n", 3,
        "'openclaw-host' is neither a GUID nor a URI like api://NAME");
    bad("[global]\ntenant_id = " TID "\naudiences = api://a,,api://b\n", 3, "has an empty item");
    bad("[global]\ntenant_id = " TID "\naudiences = api://a api://a\n", 3,
        "'api://a' is listed twice");
    bad("[global]\ntenant_id = " TID "\naudiences = api:\n", 3, "is neither a GUID nor a URI");
    bad("[global]\ntenant_id = " TID "\naudiences = Api://x\n", 3, "is neither a GUID nor a URI");
    strcpy(text, "[global]\ntenant_id = " TID "\naudiences =");
    for (i = 0; i <= OC_CONFIG_LIST_MAX; i++) {
        char one[32];

        snprintf(one, sizeof(one), " api://h%zu", i);
        strcat(text, one);
    }
    strcat(text, "\n");
    bad(text, 3, "has more than 64 items");
}

static void test_url_values(void **state)
{
    bad(MINIMAL "authority = http://login.microsoftonline.com\n", 4, "must be an https:// URL");
    bad(MINIMAL "authority = https://\n", 4, "has no host name");
    bad(MINIMAL "authority = https:///x\n", 4, "has no host name");
    bad(MINIMAL "authority = https://a b\n", 4, "must not contain spaces");
    bad(MINIMAL "authority = https://a/?x=1\n", 4, "must not contain a query");
    bad(MINIMAL "authority = https://a/{tenantid}\n", 4, "must not contain braces");
    bad(MINIMAL "issuer_v1 = https://sts/{tid}/\n", 4, "no placeholder other than {tenantid}");
    bad(MINIMAL "issuer_v1 = https://sts/}/\n", 4, "no placeholder other than {tenantid}");
    bad(MINIMAL "issuer_v2 = sts.windows.net\n", 4, "must be an https:// URL");
}

static void test_mi_endpoint(void **state)
{
    struct oc_config *cfg = ok(MINIMAL);
    static const uint8_t v6_loopback[16] = {[15] = 1};

    assert_false(cfg->global.mi_endpoint.set);
    oc_config_free(cfg);

    cfg = ok(MINIMAL "mi_endpoint = 127.0.0.1:8400\n");
    assert_true(cfg->global.mi_endpoint.set);
    assert_false(cfg->global.mi_endpoint.ipv6);
    assert_memory_equal(cfg->global.mi_endpoint.addr, "\x7f\x00\x00\x01", 4);
    assert_int_equal(cfg->global.mi_endpoint.port, 8400);
    assert_string_equal(cfg->global.mi_endpoint.text, "127.0.0.1:8400");
    oc_config_free(cfg);

    cfg = ok(MINIMAL "mi_endpoint = 127.255.0.9:65535\n");
    assert_string_equal(cfg->global.mi_endpoint.text, "127.255.0.9:65535");
    oc_config_free(cfg);

    cfg = ok(MINIMAL "mi_endpoint = [0:0::1]:1\n");
    assert_true(cfg->global.mi_endpoint.ipv6);
    assert_memory_equal(cfg->global.mi_endpoint.addr, v6_loopback, 16);
    assert_int_equal(cfg->global.mi_endpoint.port, 1);
    assert_string_equal(cfg->global.mi_endpoint.text, "[::1]:1");
    oc_config_free(cfg);

    /* imds: Azure IMDS's own address and port, not written as an address */
    cfg = ok(MINIMAL "mi_endpoint = imds\n");
    assert_true(cfg->global.mi_endpoint.set);
    assert_true(cfg->global.mi_endpoint.imds);
    assert_false(cfg->global.mi_endpoint.ipv6);
    assert_int_equal(cfg->global.mi_endpoint.port, 80);
    assert_string_equal(cfg->global.mi_endpoint.text, "169.254.169.254:80");
    oc_config_free(cfg);
    bad(MINIMAL "mi_endpoint = 169.254.169.254:80\n", 4, "must be a loopback address");
    bad(MINIMAL "mi_endpoint = IMDS\n", 4, "or imds");

    bad(MINIMAL "mi_endpoint = 10.0.0.1:8400\n", 4, "must be a loopback address");
    bad(MINIMAL "mi_endpoint = 0.0.0.0:8400\n", 4, "must be a loopback address");
    bad(MINIMAL "mi_endpoint = [::]:8400\n", 4, "must be a loopback address");
    bad(MINIMAL "mi_endpoint = [::ffff:127.0.0.1]:8400\n", 4, "must be a loopback address");
    bad(MINIMAL "mi_endpoint = [fe80::1]:8400\n", 4, "must be a loopback address");
    bad(MINIMAL "mi_endpoint = localhost:8400\n", 4, "not a host name");
    bad(MINIMAL "mi_endpoint = 127.1:8400\n", 4, "not a host name");
    bad(MINIMAL "mi_endpoint = ::1:8400\n", 4, "not a host name");
    bad(MINIMAL "mi_endpoint = 127.0.0.1\n", 4, "must be 127.0.0.1:PORT, [::1]:PORT or imds");
    bad(MINIMAL "mi_endpoint = [::1]\n", 4, "must be 127.0.0.1:PORT, [::1]:PORT or imds");
    bad(MINIMAL "mi_endpoint = [::1]8400\n", 4, "must be 127.0.0.1:PORT, [::1]:PORT or imds");
    bad(MINIMAL "mi_endpoint = 127.0.0.1:0\n", 4, "port between 1 and 65535");
    bad(MINIMAL "mi_endpoint = 127.0.0.1:65536\n", 4, "port between 1 and 65535");
    bad(MINIMAL "mi_endpoint = 127.0.0.1:84x\n", 4, "port between 1 and 65535");
    bad(MINIMAL "mi_endpoint = 127.0.0.1:\n", 4, "port between 1 and 65535");
    bad(MINIMAL "mi_endpoint = 127.0.0.1:1:2\n", 4, "port between 1 and 65535");
    bad(MINIMAL "mi_endpoint = [::1111111111111111111111111111111111111111111111]:1\n", 4,
        "must be 127.0.0.1:PORT, [::1]:PORT or imds");
    bad(MINIMAL "mi_endpoint = 127.0.0.1:8400\nmi_endpoint = 127.0.0.1:8401\n", 5, "");
}

static void test_path_values(void **state)
{
    bad(MINIMAL "state_dir = var/lib/openclaw\n", 4,
        "state_dir = var/lib/openclaw: must be an absolute path (e.g. state_dir = "
        "/var/lib/openclaw)");
    bad(MINIMAL "shell = sh\n", 4, "must be an absolute path");
    bad(MINIMAL "ca_file = ~/ca.pem\n", 4, "must be an absolute path");
    bad(MINIMAL "home = /home/%n\n", 4, "only %u (the user name) and %% (a percent sign)");
    bad(MINIMAL "home = /home/%\n", 4, "only %u");
    bad(MINIMAL "home = home/%u\n", 4, "must be an absolute path");
    bad(MINIMAL "tcti = Device:/dev/tpmrm0\n", 4, "must be a TPM TCTI string");
    bad(MINIMAL "tcti = device: /dev/tpm0\n", 4, "must not contain spaces");
}

static void test_booleans(void **state)
{
    static const char *const words[] = {"yes", "no", "true", "false", "1", "0", "on", "off"};
    char text[512];
    size_t i;

    for (i = 0; i < OC_ELEMENTSOF(words); i++) {
        struct oc_config *cfg;

        snprintf(text, sizeof(text), MINIMAL "allow_software_keys = %s\n", words[i]);
        cfg = ok(text);
        assert_int_equal(cfg->global.allow_software_keys, i % 2 == 0);
        oc_config_free(cfg);
    }
    bad(MINIMAL "allow_software_keys = maybe\n", 4,
        "allow_software_keys = maybe: must be yes or no (also true/false, on/off, 1/0) (e.g. "
        "allow_software_keys = no)");
}

static void test_services(void **state)
{
    struct oc_config *cfg =
            ok(MINIMAL AGENT_A AGENT_B
               "[service sshd]\nrequire_role = Host.Login\n"
               "allow_networks = 10.0.0.0/8, 2001:db8::/32 192.0.2.1\n"
               "allow_time = Mo-Fr 08:00-18:00, Sa 10:00-12:00\n"
               "max_token_age = 600\none_time_tokens = yes\ndeny = 3\nfail_interval = 120\n"
               "unlock_time = 0\nallow_agents = alpha\n"
               "[service sudo]\nrequire_role = Host.Sudo, Host.Admin\n"
               "[service default]\nallow_networks = any\nallow_time = always\n");
    const struct oc_service *s = oc_config_service(cfg, "sshd");
    struct tm tm = {.tm_wday = 6, .tm_hour = 11, .tm_min = 0};

    assert_non_null(s);
    assert_string_equal(s->name, "sshd");
    assert_int_equal(s->require_role.n, 1);
    assert_string_equal(s->require_role.items[0], "Host.Login");
    assert_false(s->allow_networks.any);
    assert_int_equal(s->allow_networks.n, 3);
    assert_true(oc_netlist_match(&s->allow_networks, "10.1.2.3"));
    assert_false(oc_netlist_match(&s->allow_networks, "192.0.2.2"));
    assert_false(s->allow_time.always);
    assert_true(oc_timewin_match(&s->allow_time, &tm));
    assert_int_equal(s->max_token_age, 600);
    assert_true(s->one_time_tokens);
    assert_int_equal(s->deny, 3);
    assert_int_equal(s->fail_interval, 120);
    assert_int_equal(s->unlock_time, 0);
    assert_true(s->has_allow_agents);
    assert_true(oc_strlist_contains(&s->allow_agents, "alpha"));
    assert_false(oc_strlist_contains(&s->allow_agents, "beta"));

    s = oc_config_service(cfg, "sudo");
    assert_non_null(s);
    assert_int_equal(s->require_role.n, 2);
    assert_true(oc_strlist_contains(&s->require_role, "Host.Admin"));
    /* Defaults of a service section. */
    assert_true(s->allow_networks.any);
    assert_true(s->allow_time.always);
    assert_int_equal(s->max_token_age, 0);
    assert_false(s->one_time_tokens);
    assert_int_equal(s->deny, 5);
    assert_int_equal(s->fail_interval, 60);
    assert_int_equal(s->unlock_time, 600);
    assert_false(s->has_allow_agents);

    s = oc_config_service(cfg, "login");
    assert_non_null(s);
    assert_string_equal(s->name, "default");
    assert_true(s->allow_networks.any);
    s = oc_config_service(cfg, NULL);
    assert_non_null(s);
    assert_string_equal(s->name, "default");
    oc_config_free(cfg);
}

static void test_service_errors(void **state)
{
    bad(MINIMAL "[service]\n", 4, "[service] needs the PAM service name");
    bad(MINIMAL "[service ssh d]\n", 4, "a PAM service name has only letters");
    bad(MINIMAL "[service ssh/d]\n", 4, "a PAM service name has only letters");
    bad(MINIMAL "[service sshd]\nrequire_role = Host Login,\n", 5, "has an empty item");
    bad(MINIMAL "[service sshd]\nrequire_role = Host/Login\n", 5,
        "'Host/Login' is not an app role value");
    bad(MINIMAL "[service sshd]\nallow_networks = 10.0.0.0/33\n", 5,
        "'10.0.0.0/33': prefix length too long");
    bad(MINIMAL "[service sshd]\nallow_networks = 10.0.0.1/8\n", 5,
        "'10.0.0.1/8' has address bits set beyond the prefix length");
    bad(MINIMAL "[service sshd]\nallow_networks = bastion.example.com\n", 5,
        "'bastion.example.com' is not an IPv4/IPv6 address or CIDR network (host names are "
        "not allowed)");
    bad(MINIMAL "[service sshd]\nallow_networks = any 10.0.0.0/8\n", 5,
        "'any' must be the only item");
    bad(MINIMAL "[service sshd]\nallow_time = weekdays\n", 5,
        "must be 'always' or windows 'DAYS HH:MM-HH:MM'");
    bad(MINIMAL "[service sshd]\nallow_agents = ghost\n", 5,
        "[service sshd]: allow_agents names ghost, but there is no [agent ghost] section");
    bad(MINIMAL "[service sshd]\nallow_agents = Ghost\n", 5, "'Ghost' is not a valid Unix name");
}

static void test_agents(void **state)
{
    struct oc_config *cfg =
            ok(MINIMAL
               "allow_insecure_credentials = yes\n"
               "[agent build-bot]\n"
               "app_id = 0000000A-0000-4000-8000-000000000001\n"
               "object_id = 0000000a-0000-4000-8000-0000000000a1\n"
               "uid = 1879048200\n"
               "groups = adm, docker\n"
               "display_name = Build Agent (CI)\n"
               "enabled = no\n"
               "credential = tpm-certificate\n"
               "scopes = api://openclaw-host/.default https://vault.azure.net/.default\n"
               "[agent sealed]\napp_id = 0000000b-0000-4000-8000-000000000002\n"
               "object_id = 0000000b-0000-4000-8000-0000000000b2\ncredential = tpm-sealed-secret\n"
               "sealed_file = /srv/sealed.bin\n"
               "[agent mi]\napp_id = 0000000c-0000-4000-8000-000000000003\n"
               "object_id = 0000000c-0000-4000-8000-0000000000c3\ncredential = managed-identity\n"
               "mi_res_id = /subscriptions/s/resourceGroups/g/providers/"
               "Microsoft.ManagedIdentity/userAssignedIdentities/n\n"
               "[agent mi2]\napp_id = 0000000d-0000-4000-8000-000000000004\n"
               "object_id = 0000000d-0000-4000-8000-0000000000d4\ncredential = managed-identity\n"
               "mi_client_id = 0000000D-0000-4000-8000-00000000000D\n"
               "[agent mi3]\napp_id = 0000000e-0000-4000-8000-000000000005\n"
               "object_id = 0000000e-0000-4000-8000-0000000000e5\ncredential = managed-identity\n"
               "mi_object_id = 0000000e-0000-4000-8000-00000000000e\n"
               "[agent arc]\napp_id = 0000000f-0000-4000-8000-000000000006\n"
               "object_id = 0000000f-0000-4000-8000-0000000000f6\ncredential = azure-arc\n"
               "[agent blue]\napp_id = 00000010-0000-4000-8000-000000000007\n"
               "object_id = 00000010-0000-4000-8000-000000000017\ncredential = agent-identity\n"
               "blueprint_app_id = 00000010-0000-4000-8000-0000000000b1\n"
               "[agent plain]\napp_id = 00000011-0000-4000-8000-000000000008\n"
               "object_id = 00000011-0000-4000-8000-000000000018\ncredential = secret-file\n"
               "secret_file = /etc/openclaw/secrets/plain\n"
               "[agent custom]\napp_id = 00000012-0000-4000-8000-000000000009\n"
               "object_id = 00000012-0000-4000-8000-000000000019\ncredential = tpm-certificate\n"
               "key_file = /srv/k.tpmkey\ncert_file = /srv/k.crt\n"
               "[agent bare]\napp_id = 00000013-0000-4000-8000-00000000000a\n"
               "object_id = 00000013-0000-4000-8000-00000000001a\n");
    const struct oc_agent *a = oc_config_agent_by_name(cfg, "build-bot");

    assert_int_equal(cfg->n_agents, 10);
    assert_non_null(a);
    assert_string_equal(a->app_id, "0000000a-0000-4000-8000-000000000001");
    assert_true(a->has_uid);
    assert_int_equal(a->uid, 1879048200);
    assert_int_equal(a->groups.n, 2);
    assert_string_equal(a->groups.items[1], "docker");
    assert_string_equal(a->display_name, "Build Agent (CI)");
    assert_false(a->enabled);
    assert_int_equal(a->credential, OC_CRED_TPM_CERTIFICATE);
    assert_string_equal(a->key_file, "/var/lib/openclaw/keys/build-bot.tpmkey");
    assert_string_equal(a->cert_file, "/var/lib/openclaw/keys/build-bot.crt");
    assert_null(a->sealed_file);
    assert_int_equal(a->scopes.n, 2);
    assert_ptr_equal(oc_config_agent_by_app_id(cfg, "0000000A-0000-4000-8000-000000000001"), a);
    assert_ptr_equal(oc_config_agent_by_object_id(cfg, "0000000A-0000-4000-8000-0000000000A1"), a);
    assert_null(oc_config_agent_by_app_id(cfg, "0000000a-0000-4000-8000-0000000000a1"));
    assert_null(oc_config_agent_by_app_id(cfg, "garbage"));
    assert_null(oc_config_agent_by_name(cfg, "nobody"));

    a = oc_config_agent_by_name(cfg, "sealed");
    assert_int_equal(a->credential, OC_CRED_TPM_SEALED_SECRET);
    assert_string_equal(a->sealed_file, "/srv/sealed.bin");
    a = oc_config_agent_by_name(cfg, "mi");
    assert_int_equal(a->credential, OC_CRED_MANAGED_IDENTITY);
    assert_non_null(a->mi_res_id);
    a = oc_config_agent_by_name(cfg, "mi2");
    assert_string_equal(a->mi_client_id, "0000000d-0000-4000-8000-00000000000d");
    a = oc_config_agent_by_name(cfg, "mi3");
    assert_string_equal(a->mi_object_id, "0000000e-0000-4000-8000-00000000000e");
    assert_int_equal(oc_config_agent_by_name(cfg, "arc")->credential, OC_CRED_AZURE_ARC);
    a = oc_config_agent_by_name(cfg, "blue");
    assert_int_equal(a->credential, OC_CRED_AGENT_IDENTITY);
    assert_string_equal(a->blueprint_app_id, "00000010-0000-4000-8000-0000000000b1");
    /* The blueprint's credential defaults to a TPM certificate, named like an agent's own. */
    assert_int_equal(a->blueprint_credential, OC_CRED_TPM_CERTIFICATE);
    assert_string_equal(a->key_file, "/var/lib/openclaw/keys/blue.tpmkey");
    assert_string_equal(a->cert_file, "/var/lib/openclaw/keys/blue.crt");
    a = oc_config_agent_by_name(cfg, "plain");
    assert_int_equal(a->credential, OC_CRED_SECRET_FILE);
    assert_string_equal(a->secret_file, "/etc/openclaw/secrets/plain");
    a = oc_config_agent_by_name(cfg, "custom");
    assert_string_equal(a->key_file, "/srv/k.tpmkey");
    assert_string_equal(a->cert_file, "/srv/k.crt");
    a = oc_config_agent_by_name(cfg, "bare");
    assert_true(a->enabled);
    assert_false(a->has_uid);
    assert_int_equal(a->credential, OC_CRED_NONE);
    assert_null(a->display_name);
    assert_null(a->key_file);
    assert_string_equal(a->mi_client_id, "");
    assert_int_equal(a->groups.n, 0);
    oc_config_free(cfg);
}

static void test_agent_errors(void **state)
{
    bad(MINIMAL "[agent Build Bot]\n", 4,
        "[agent Build Bot]: the agent name is its Unix user name: lowercase letters, digits, "
        "'_' and '-', starting with a letter or '_', at most 32 characters (e.g. [agent "
        "build-bot])");
    bad(MINIMAL "[agent]\n", 4, "[agent] needs the agent's Unix user name");
    bad(MINIMAL "[agent root$]\n", 4, "(e.g. [agent root])");
    bad(MINIMAL "[agent ..]\n", 4, "the agent name is its Unix user name");
    bad(MINIMAL AGENT_A "credential = password\n", 7,
        "credential = password: must be one of tpm-certificate, tpm-sealed-secret");
    bad(MINIMAL AGENT_A "credential = secret-file\nsecret_file = /s\n", 7,
        "[agent alpha]: credential = secret-file keeps a client secret in a plain file: "
        "prefer credential = tpm-sealed-secret, or set allow_insecure_credentials = yes");
    bad(MINIMAL "allow_insecure_credentials = yes\n" AGENT_A "credential = secret-file\n", 8,
        "credential = secret-file needs secret_file");
    bad(MINIMAL AGENT_A "credential = agent-identity\n", 7,
        "credential = agent-identity needs blueprint_app_id");
    bad(MINIMAL AGENT_A "credential = managed-identity\nmi_client_id = " TID "\nmi_object_id = " TID
                        "\n",
        4, "set only one of mi_client_id, mi_object_id and mi_res_id");
    bad(MINIMAL AGENT_A "mi_client_id = " TID "\n", 4,
        "are only used with credential = managed-identity");
    bad(MINIMAL AGENT_A "mi_res_id = subscriptions/x\n", 7, "must be an Azure resource id");
    bad(MINIMAL AGENT_A "groups = adm, Wheel\n", 7, "'Wheel' is not a valid Unix name");
    bad(MINIMAL AGENT_A "groups = adm adm\n", 7, "'adm' is listed twice");
    bad(MINIMAL AGENT_A "scopes = api://x/.default,\n", 7, "has an empty item");
}

static void test_blueprint_credentials(void **state)
{
    struct oc_config *cfg =
            ok(MINIMAL "allow_insecure_credentials = yes\n" AGENT_A "credential = agent-identity\n"
                       "blueprint_app_id = " TID "\n"
                       "blueprint_credential = secret-file\n"
                       "secret_file = /etc/openclaw/secrets/blueprint\n" AGENT_B
                       "credential = agent-identity\n"
                       "blueprint_app_id = " TID "\n"
                       "blueprint_credential = tpm-sealed-secret\n");
    const struct oc_agent *a = oc_config_agent_by_name(cfg, "alpha");

    (void)state;
    assert_int_equal(a->blueprint_credential, OC_CRED_SECRET_FILE);
    assert_string_equal(a->secret_file, "/etc/openclaw/secrets/blueprint");
    assert_null(a->key_file);
    a = oc_config_agent_by_name(cfg, "beta");
    assert_int_equal(a->blueprint_credential, OC_CRED_TPM_SEALED_SECRET);
    assert_string_equal(a->sealed_file, "/var/lib/openclaw/keys/beta.sealed");
    assert_null(a->key_file);
    oc_config_free(cfg);

    cfg = ok(MINIMAL AGENT_A "credential = tpm-certificate\n");
    assert_int_equal(cfg->agents[0].blueprint_credential, OC_CRED_NONE);
    oc_config_free(cfg);
}

static void test_blueprint_credential_errors(void **state)
{
    (void)state;
    bad(MINIMAL AGENT_A "credential = agent-identity\nblueprint_app_id = " TID
                        "\nblueprint_credential = managed-identity\n",
        9,
        "blueprint_credential = managed-identity: must be one of tpm-certificate, "
        "tpm-sealed-secret, secret-file");
    bad(MINIMAL AGENT_A "credential = agent-identity\nblueprint_app_id = " TID
                        "\nblueprint_credential = agent-identity\n",
        9, "must be one of tpm-certificate");
    bad(MINIMAL AGENT_A "credential = tpm-certificate\nblueprint_credential = tpm-certificate\n", 8,
        "blueprint_credential is only used with credential = agent-identity");
    bad(MINIMAL AGENT_A "blueprint_credential = secret-file\n", 7,
        "blueprint_credential is only used with credential = agent-identity");
    bad(MINIMAL "allow_insecure_credentials = yes\n" AGENT_A "credential = agent-identity\n"
                "blueprint_app_id = " TID "\nblueprint_credential = secret-file\n",
        10, "blueprint_credential = secret-file needs secret_file");
    bad(MINIMAL AGENT_A "credential = agent-identity\nblueprint_app_id = " TID
                        "\nblueprint_credential = secret-file\nsecret_file = /s\n",
        9,
        "[agent alpha]: blueprint_credential = secret-file keeps the blueprint's client secret "
        "in a plain file: prefer blueprint_credential = tpm-certificate, or set "
        "allow_insecure_credentials = yes in [global]");
    bad(MINIMAL AGENT_A "credential = agent-identity\nblueprint_app_id = " TID
                        "\nblueprint_credential = tpm-certificate\n"
                        "blueprint_credential = secret-file\n",
        10, "blueprint_credential");
    bad(MINIMAL AGENT_A "blueprint_credentials = tpm-certificate\n", 7, "blueprint_credential");
}

static void test_directory_section(void **state)
{
    struct oc_config *cfg = ok(MINIMAL);
    const struct oc_directory *d;

    (void)state;
    assert_null(cfg->directory);
    oc_config_free(cfg);

    cfg = ok(MINIMAL "[directory]\ncredential = tpm-certificate\n"
                     "app_id = C1D3E5F7-9B2A-4C6D-8E0F-1C3D5E7F9A2B\n");
    d = cfg->directory;
    assert_non_null(d);
    assert_string_equal(d->resource, "api://openclaw-host");
    assert_string_equal(d->graph_url, "https://graph.microsoft.com");
    assert_string_equal(d->graph_resource, "https://graph.microsoft.com");
    assert_int_equal(d->sync_interval, 300);
    assert_int_equal(d->full_sync_interval, 86400);
    assert_int_equal(d->max_requests_per_minute, 600);
    assert_int_equal(d->on_anomaly, OC_ANOMALY_NONE);
    assert_true(d->assignment_delta);
    assert_string_equal(d->agent.name, "directory");
    assert_string_equal(d->agent.app_id, "c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b");
    assert_int_equal(d->agent.credential, OC_CRED_TPM_CERTIFICATE);
    assert_string_equal(d->agent.key_file, "/var/lib/openclaw/keys/directory.tpmkey");
    assert_string_equal(d->agent.cert_file, "/var/lib/openclaw/keys/directory.crt");
    assert_int_equal(cfg->n_agents, 0);
    oc_config_free(cfg);

    cfg = ok("[global]\ntenant_id = " TID "\naudiences = api://openclaw-host\n"
             "allow_insecure_credentials = yes\n"
             "[directory]\nresource = 6C2F8A41-3D5E-4B7A-8C9D-0E1F2A3B4C5D\n"
             "graph_url = https://graph.microsoft.us/\nsync_interval = 30\n"
             "on_anomaly = disable-service-principal\ncredential = secret-file\n"
             "app_id = c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b\nsecret_file = /etc/s\n" AGENT_A);
    d = cfg->directory;
    assert_string_equal(d->resource, "6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d");
    assert_string_equal(d->graph_url, "https://graph.microsoft.us");
    assert_string_equal(d->graph_resource, "https://graph.microsoft.us");
    assert_int_equal(d->sync_interval, 30);
    assert_int_equal(d->full_sync_interval, 86400);
    assert_int_equal(d->on_anomaly, OC_ANOMALY_DISABLE_SP);
    assert_string_equal(d->agent.secret_file, "/etc/s");
    assert_int_equal(cfg->n_agents, 1);
    oc_config_free(cfg);

    cfg = ok(MINIMAL "[directory]\ncredential = managed-identity\n"
                     "mi_client_id = 0c3d4e5f-6a7b-4c8d-8e9f-1a3b2c4d5e6f\n");
    assert_int_equal(cfg->directory->agent.credential, OC_CRED_MANAGED_IDENTITY);
    oc_config_free(cfg);

    /* the incremental sync's keys */
    cfg = ok(MINIMAL "[directory]\ncredential = managed-identity\nsync_interval = 600\n"
                     "full_sync_interval = 600\nmax_requests_per_minute = 10\n");
    assert_int_equal(cfg->directory->full_sync_interval, 600);
    assert_int_equal(cfg->directory->max_requests_per_minute, 10);
    assert_true(cfg->directory->assignment_delta);
    oc_config_free(cfg);
    cfg = ok(MINIMAL "[directory]\ncredential = managed-identity\nassignment_delta = no\n");
    assert_false(cfg->directory->assignment_delta);
    oc_config_free(cfg);
    cfg = ok(MINIMAL "[directory]\ncredential = managed-identity\nassignment_delta = auto\n");
    assert_true(cfg->directory->assignment_delta);
    oc_config_free(cfg);
    cfg = ok(MINIMAL "[directory]\ncredential = managed-identity\nsync_interval = 86400\n");
    assert_int_equal(cfg->directory->full_sync_interval, 86400);
    oc_config_free(cfg);
}

static void test_directory_errors(void **state)
{
    (void)state;
    bad(MINIMAL "[directory]\napp_id = c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b\n", 4,
        "missing required key credential");
    bad(MINIMAL "[directory]\ncredential = tpm-certificate\n", 5, "needs app_id");
    bad(MINIMAL "[directory]\ncredential = none\n", 5, "needs a credential for Microsoft Graph");
    bad(MINIMAL "[directory]\ncredential = secret-file\nsecret_file = /x\n"
                "app_id = c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b\n",
        5, "allow_insecure_credentials");
    bad(MINIMAL "[directory]\nsync_interval = 29\n", 5, "sync_interval");
    bad(MINIMAL "[directory]\nsync_interval = 86401\n", 5, "sync_interval");
    bad(MINIMAL "[directory]\ncredential = managed-identity\nsync_interval = 600\n"
                "full_sync_interval = 300\n",
        7, "full_sync_interval = 300 is shorter than sync_interval = 600");
    bad(MINIMAL "[directory]\nfull_sync_interval = 518401\n", 5, "full_sync_interval");
    bad(MINIMAL "[directory]\nmax_requests_per_minute = 9\n", 5, "max_requests_per_minute");
    bad(MINIMAL "[directory]\nmax_requests_per_minute = 100001\n", 5, "max_requests_per_minute");
    bad(MINIMAL "[directory]\ngraph_url = http://graph.microsoft.com\n", 5, "https://");
    bad(MINIMAL "[directory]\non_anomaly = lock\n", 5, "none or disable-service-principal");
    bad(MINIMAL "[directory]\nassignment_delta = yes\n", 5, "must be auto");
    bad(MINIMAL "[directory]\nresource = not a uri\n", 5, "neither a GUID nor a URI");
    bad(MINIMAL "[directory x]\n", 4, "[directory] takes no name");
    bad(MINIMAL "[directory]\ncredential = tpm-certificate\n"
                "app_id = c1d3e5f7-9b2a-4c6d-8e0f-1c3d5e7f9a2b\n[directory]\n",
        7, "appears twice (first on line 4)");
    bad(MINIMAL "[directory]\nuid = 5000\n", 5, "uid belongs in [agent NAME]");
    bad(MINIMAL AGENT_A "resource = api://x\n", 7, "resource belongs in [directory]");
    bad(MINIMAL "[directory]\ncredential = tpm-certificate\ncredential = none\n", 6, "set twice");
}

static void test_roles(void **state)
{
    struct oc_config *cfg = ok(MINIMAL "[roles]\nHost.Login = openclaw-login\n"
                                       "Host.Sudo = sudo\nurn:role:x-1 = adm\n");

    assert_int_equal(cfg->n_roles, 3);
    assert_string_equal(oc_config_role_group(cfg, "Host.Login"), "openclaw-login");
    assert_string_equal(oc_config_role_group(cfg, "Host.Sudo"), "sudo");
    assert_string_equal(oc_config_role_group(cfg, "urn:role:x-1"), "adm");
    assert_null(oc_config_role_group(cfg, "host.login"));
    assert_null(oc_config_role_group(cfg, NULL));
    oc_config_free(cfg);
    bad(MINIMAL "[roles]\nHost Login = x\n", 5, "[roles]: 'Host Login' is not an app role value");
    bad(MINIMAL "[roles]\nHost.Login = Sudo\n", 5,
        "[roles]: Host.Login = Sudo: the value must be a Unix group name");
    bad(MINIMAL "[roles]\nHost.Login =\n", 5, "Host.Login has no value");
}

static void test_error_format(void **state)
{
    struct oc_config_error err = {.file = "/etc/openclaw/openclaw.conf", .line = 12};
    char buf[600];
    char tiny[8];

    strcpy(err.msg, "clock_skew = 900: must be between 0 and 600 seconds");
    assert_int_equal(oc_config_error_format(&err, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/etc/openclaw/openclaw.conf:12: clock_skew = 900: must be "
                             "between 0 and 600 seconds");
    err.line = 0;
    assert_int_equal(oc_config_error_format(&err, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/etc/openclaw/openclaw.conf: clock_skew = 900: must be between 0 "
                             "and 600 seconds");
    assert_int_equal(oc_config_error_format(&err, tiny, sizeof(tiny)), -ENOBUFS);
    assert_int_equal(oc_config_error_format(NULL, buf, sizeof(buf)), -EINVAL);
}

static void test_long_values_are_cut_in_messages(void **state)
{
    char text[4096];
    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    size_t i, pre;

    strcpy(text, MINIMAL "clock_skew = ");
    pre = strlen(text);
    for (i = 0; i < 1000; i++) {
        text[pre + i] = (i % 3 == 0) ? 'x' : '\xc3';
        if (i % 3 == 2) {
            text[pre + i] = '\xa9';
        }
    }
    strcpy(text + pre + i, "\n");
    assert_int_equal(oc_config_parse(text, strlen(text), "t", 0, &cfg, &err), -EINVAL);
    assert_true(strlen(err.msg) < sizeof(err.msg) - 1);
    assert_non_null(strstr(err.msg, "..."));
    assert_true(oc_utf8_valid(err.msg, strlen(err.msg), NULL));
}

static void test_messages_stay_valid_utf8_when_cut(void **state)
{
    static const char *const texts[] = {
            /* 63 ASCII bytes, then 2-byte characters across the %.64s cut */
            "[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\xc3\xa9]\n",
            "[service aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9]\n",
            "[agent aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xe2\x82\xac]\n",
            "[gen}_i\xef\xbb\xbfobal]\xef\xbb\xbf\xef\xbb\xbf[globale.zer:ic\xef\xbb\xbfoba}_"
            "i\xef\xbb\xbf"
            "obal]\xef\xbb\xbf[g\xef\xbb\xbf[globald.zeecom]\n",
    };
    struct oc_config *cfg = NULL;
    struct oc_config_error err;
    size_t i;

    for (i = 0; i < OC_ELEMENTSOF(texts); i++) {
        assert_int_equal(oc_config_parse(texts[i], strlen(texts[i]), "t", 0, &cfg, &err), -EINVAL);
        assert_true(oc_utf8_valid(err.msg, strlen(err.msg), NULL));
    }
}

static void test_home_expansion(void **state)
{
    struct oc_config *cfg = ok(MINIMAL "home = /srv/%u/home%%/%u\n");
    char buf[256];
    char small[8] = "keep";

    assert_int_equal(oc_config_home(cfg, "alpha", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/srv/alpha/home%/alpha");
    assert_int_equal(oc_config_home(cfg, "../x", buf, sizeof(buf)), -EINVAL);
    assert_int_equal(oc_config_home(cfg, "alpha", small, sizeof(small)), -ENOBUFS);
    assert_string_equal(small, "keep");
    oc_config_free(cfg);
}

static void test_parse_tolerates_null_err_and_weird_input(void **state)
{
    struct oc_config *cfg = NULL;

    assert_int_equal(oc_config_parse("x", 1, NULL, 0, &cfg, NULL), -EINVAL);
    assert_int_equal(oc_config_parse(NULL, 3, "n", 0, &cfg, NULL), -EINVAL);
    assert_int_equal(oc_config_parse("", 0, "n", 0, &cfg, NULL), -EINVAL);
    assert_null(cfg);
    assert_int_equal(oc_credential_name(OC_CRED_NONE)[0], 'n');
    oc_config_free(NULL);
}

/* ---- loading from files ---- */

static char tmpdir[256];

static int setup_dir(void **state)
{
    const char *base = getenv("TMPDIR");

    snprintf(tmpdir, sizeof(tmpdir), "%s/oc-conf-test.XXXXXX", base != NULL ? base : "/tmp");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown_dir(void **state)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static int load(const char *path, unsigned flags, struct oc_config_error *err)
{
    struct oc_config *cfg = NULL;
    int r = oc_config_load(path, flags, &cfg, err);

    if (r == 0) {
        assert_non_null(cfg);
        oc_config_free(cfg);
    } else {
        assert_null(cfg);
    }
    return r;
}

static void test_load_root_owned_0644(void **state)
{
    char path[512];
    struct oc_config_error err;

    if (geteuid() != 0) {
        skip();
    }
    snprintf(path, sizeof(path), "%s/good.conf", tmpdir);
    write_file(path, MINIMAL, 0644);
    assert_int_equal(chown(path, 0, 0), 0);
    assert_int_equal(load(path, 0, &err), 0);
    write_file(path, MINIMAL, 0600);
    assert_int_equal(load(path, 0, &err), 0);
}

static void test_load_refuses_writable_by_others(void **state)
{
    char path[512], want[1200];
    struct oc_config_error err;

    if (geteuid() != 0) {
        skip();
    }
    snprintf(path, sizeof(path), "%s/perm.conf", tmpdir);
    write_file(path, MINIMAL, 0666);
    assert_int_equal(load(path, 0, &err), -EPERM);
    assert_int_equal(err.line, 0);
    assert_string_equal(err.file, path);
    snprintf(want, sizeof(want),
             "is writable by group or others (mode 0666): run 'chown root:root %s && chmod 0644 "
             "%s'",
             path, path);
    assert_string_equal(err.msg, want);
    write_file(path, MINIMAL, 0664);
    assert_int_equal(load(path, 0, &err), -EPERM);
    assert_int_equal(load(path, OC_CONFIG_INSECURE_OK, &err), 0);
}

static void test_load_refuses_other_owner(void **state)
{
    char path[512], want[1200];
    struct oc_config_error err;

    if (geteuid() != 0) {
        skip();
    }
    snprintf(path, sizeof(path), "%s/owner.conf", tmpdir);
    write_file(path, MINIMAL, 0644);
    assert_int_equal(chown(path, 1000, 1000), 0);
    assert_int_equal(load(path, 0, &err), -EPERM);
    snprintf(want, sizeof(want),
             "is owned by uid 1000, not root: run 'chown root:root %s && chmod 0644 %s'", path,
             path);
    assert_string_equal(err.msg, want);
    assert_int_equal(load(path, OC_CONFIG_INSECURE_OK, &err), 0);
}

static void test_load_refuses_symlink(void **state)
{
    char path[512], link[512];
    struct oc_config_error err;

    snprintf(path, sizeof(path), "%s/real.conf", tmpdir);
    snprintf(link, sizeof(link), "%s/link.conf", tmpdir);
    write_file(path, MINIMAL, 0644);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(load(link, OC_CONFIG_INSECURE_OK, &err), -ELOOP);
    assert_non_null(strstr(err.msg, "is a symbolic link, which is refused"));
    assert_int_equal(load(path, OC_CONFIG_INSECURE_OK, &err), 0);
}

static void test_load_missing_dir_fifo_and_big(void **state)
{
    char path[512];
    struct oc_config_error err;
    char *big;
    size_t i;

    snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
    assert_int_equal(load(path, OC_CONFIG_INSECURE_OK, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "does not exist"));

    assert_int_equal(load(tmpdir, OC_CONFIG_INSECURE_OK, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "is not a regular file"));

    snprintf(path, sizeof(path), "%s/fifo.conf", tmpdir);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(load(path, OC_CONFIG_INSECURE_OK, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "is not a regular file"));

    snprintf(path, sizeof(path), "%s/big.conf", tmpdir);
    big = malloc(OC_CONFIG_FILE_MAX + 2);
    assert_non_null(big);
    for (i = 0; i < OC_CONFIG_FILE_MAX + 1; i++) {
        big[i] = '\n';
    }
    big[OC_CONFIG_FILE_MAX + 1] = '\0';
    write_file(path, big, 0644);
    free(big);
    assert_int_equal(load(path, OC_CONFIG_INSECURE_OK, &err), -EFBIG);
    assert_non_null(strstr(err.msg, "is larger than 1048576 bytes"));
}

static void test_load_reports_content_errors_with_path(void **state)
{
    char path[512], line[1024];
    struct oc_config_error err;

    snprintf(path, sizeof(path), "%s/content.conf", tmpdir);
    write_file(path, MINIMAL "clock_skew = 900\n", 0644);
    assert_int_equal(load(path, OC_CONFIG_INSECURE_OK, &err), -EINVAL);
    assert_int_equal(oc_config_error_format(&err, line, sizeof(line)), 0);
    assert_non_null(strstr(line, "content.conf:4: clock_skew = 900: must be between 0 and 600 "
                                 "seconds (e.g. clock_skew = 300)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_minimal_config_defaults),
            cmocka_unit_test(test_every_global_key),
            cmocka_unit_test(test_derived_defaults_follow_their_base),
            cmocka_unit_test(test_number_range_errors_name_the_fix),
            cmocka_unit_test(test_syntax_errors),
            cmocka_unit_test(test_unknown_and_misplaced_keys),
            cmocka_unit_test(test_duplicates),
            cmocka_unit_test(test_missing_required),
            cmocka_unit_test(test_line_too_long),
            cmocka_unit_test(test_longest_line_accepted),
            cmocka_unit_test(test_nul_and_control_bytes),
            cmocka_unit_test(test_non_utf8),
            cmocka_unit_test(test_crlf_bom_and_utf8_accepted),
            cmocka_unit_test(test_file_size_cap_in_parse),
            cmocka_unit_test(test_guid_values),
            cmocka_unit_test(test_algorithms),
            cmocka_unit_test(test_audience_lists),
            cmocka_unit_test(test_url_values),
            cmocka_unit_test(test_mi_endpoint),
            cmocka_unit_test(test_path_values),
            cmocka_unit_test(test_booleans),
            cmocka_unit_test(test_services),
            cmocka_unit_test(test_service_errors),
            cmocka_unit_test(test_agents),
            cmocka_unit_test(test_agent_errors),
            cmocka_unit_test(test_blueprint_credentials),
            cmocka_unit_test(test_blueprint_credential_errors),
            cmocka_unit_test(test_roles),
            cmocka_unit_test(test_directory_section),
            cmocka_unit_test(test_directory_errors),
            cmocka_unit_test(test_error_format),
            cmocka_unit_test(test_long_values_are_cut_in_messages),
            cmocka_unit_test(test_messages_stay_valid_utf8_when_cut),
            cmocka_unit_test(test_home_expansion),
            cmocka_unit_test(test_parse_tolerates_null_err_and_weird_input),
            cmocka_unit_test(test_load_root_owned_0644),
            cmocka_unit_test(test_load_refuses_writable_by_others),
            cmocka_unit_test(test_load_refuses_other_owner),
            cmocka_unit_test(test_load_refuses_symlink),
            cmocka_unit_test(test_load_missing_dir_fifo_and_big),
            cmocka_unit_test(test_load_reports_content_errors_with_path),
    };

    return cmocka_run_group_tests_name("config", tests, setup_dir, teardown_dir);
}
