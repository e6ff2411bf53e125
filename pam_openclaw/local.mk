# pam_openclaw: build fragment, included from the top-level Makefile.am
# (libocpam, which it links, is defined in common/pam.mk).

pamlib_LTLIBRARIES += pam_openclaw/pam_openclaw.la
pam_openclaw_pam_openclaw_la_SOURCES = \
	pam_openclaw/pam_openclaw.c \
	pam_openclaw/prompt.c pam_openclaw/prompt.h \
	pam_openclaw/replay.c pam_openclaw/replay.h \
	pam_openclaw/whois.c pam_openclaw/whois.h
pam_openclaw_pam_openclaw_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS)
# -z defs: every symbol resolved at link time, except in sanitizer builds
# (clang leaves the ASan runtime to the executable that loads the module).
if SANITIZERS
oc_pam_zdefs =
else
oc_pam_zdefs = -Wl,-z,defs
endif
pam_openclaw_pam_openclaw_la_LDFLAGS = -module -avoid-version -shared \
	-Wl,--version-script=$(top_srcdir)/pam_openclaw/pam_openclaw.map $(oc_pam_zdefs)
pam_openclaw_pam_openclaw_la_LIBADD = common/libocpam.la common/libocproto.la common/libocverify.la \
	common/libocbase.la $(PAM_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)
EXTRA_DIST += pam_openclaw/pam_openclaw.map pam_openclaw/README.md

# Integration tests (pamtester under pam_wrapper, the local tenant) and
# system tests (root, private mount namespace, real sshd, su and sudo).
TESTS += tests/integration/pam-module.sh tests/system/pam-sshd.sh \
	tests/system/pam-sudo-su.sh
# pam_openclaw with openclawd: unknown kid, mode=helper, sessions, locks.
TESTS += tests/integration/pam-helper.sh tests/system/pam-sudo-helper.sh
EXTRA_DIST += tests/integration/pam-helper.sh tests/system/pam-sudo-helper.sh
# Fail safe for humans, fail closed for agents: every openclaw fault x
# login, su, sudo, sshd, cron, passwd x root, a human, an agent, on this
# machine's own PAM stack written by pam-auth-update (docs/reliability.md).
TESTS += tests/system/pam-fault-matrix.sh
EXTRA_DIST += tests/system/pam-fault-matrix.sh
# Only Entra-signed input counts toward an agent's lockout (docs/security.md).
TESTS += tests/integration/pam-lockout-signed.sh tests/integration/askpass-login-only.sh
EXTRA_DIST += tests/integration/pam-lockout-signed.sh tests/integration/askpass-login-only.sh
# Root's own files (tally, uti.db) out of other accounts' reach: the symlink
# swap during the prompt, unsafe directories, linked files (docs/security.md).
TESTS += tests/integration/pam-tally-trust.sh tests/integration/pam-keys-trust.sh \
	tests/integration/trust-daemon-reach.sh
EXTRA_DIST += tests/integration/pam-tally-trust.sh tests/integration/pam-keys-trust.sh \
	tests/integration/trust-daemon-reach.sh
# ssh by agent identity between two hosts (network namespaces): sshd's
# AuthorizedKeysCommand, the TPM-backed ssh-agent, revocation, sudo, su.
TESTS += tests/system/ssh-two-hosts.sh
EXTRA_DIST += tests/system/ssh-two-hosts.sh
EXTRA_DIST += tests/integration/pam-module.sh tests/integration/pam-lib.sh \
	tests/system/pam-sshd.sh tests/system/pam-sudo-su.sh tests/system/pam-ns.sh

check_PROGRAMS += tests/integration/pam-askpass-conv
tests_integration_pam_askpass_conv_SOURCES = tests/integration/pam-askpass-conv.c
tests_integration_pam_askpass_conv_LDADD = $(PAM_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_pam_policy
TESTS += tests/unit/test_pam_policy
tests_unit_test_pam_policy_SOURCES = tests/unit/test_pam_policy.c
tests_unit_test_pam_policy_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_pam_policy_LDADD = common/libocpam.la common/libocbase.la $(CMOCKA_LIBS)
# who is an agent without the config (pam_openclaw/whois.c)
check_PROGRAMS += tests/unit/test_pam_whois
TESTS += tests/unit/test_pam_whois
tests_unit_test_pam_whois_SOURCES = tests/unit/test_pam_whois.c pam_openclaw/whois.c \
	pam_openclaw/whois.h
tests_unit_test_pam_whois_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_pam_whois_LDADD = $(CMOCKA_LIBS)
endif

# bench/pam: µs per pam_authenticate + pam_acct_mgmt, token vs pam_unix yescrypt
noinst_PROGRAMS += bench/pam
OC_BENCHES += bench/pam
bench_pam_SOURCES = bench/pam.c
bench_pam_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS)
bench_pam_LDADD = common/libocverify.la $(PAM_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS) -lcrypt

dist_man_MANS += man/pam_openclaw.8
