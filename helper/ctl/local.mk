# helper/ctl/local.mk: openclawctl, the admin's command (helper/ctl/README.md).
# Every subcommand's source is listed here, and nowhere else.
sbin_PROGRAMS += helper/ctl/openclawctl
helper_ctl_openclawctl_SOURCES = helper/ctl/openclawctl.c helper/ctl/ctl.h \
	helper/ctl/ctl_verify.c helper/ctl/ctl_status.c \
	helper/ctl/ctl_enroll.c helper/ctl/ctl_graph.c helper/ctl/ctl_graph.h \
	helper/ctl/ctl_agent_info.c helper/ctl/ctl_checkconfig.c \
	helper/ctl/ctl_localdb.c helper/ctl/ctl_localdb.h helper/ctl/ctl_testlogin.c \
	helper/ctl/ctl_audit.c helper/ctl/auditlog.c helper/ctl/auditlog.h \
	helper/ctl/auditjournal.c helper/ctl/auditjournal.h helper/ctl/ctl_imds.c \
	helper/ctl/ctl_cache.c \
	helper/ctl/ctl_tpm.c helper/ctl/ctl_tpm.h helper/ctl/ctl_seal.c \
	helper/ctl/ctl_agent.c helper/ctl/ctl_token.c
helper_ctl_openclawctl_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(CURL_CFLAGS) \
	$(TSS2_CFLAGS)
helper_ctl_openclawctl_LDADD = helper/lib/libochelper.la tpm/liboctpm.la $(TSS2_LIBS) \
	common/libocpam.la common/libocproto.la common/libocverify.la common/libocbase.la \
	$(CJSON_LIBS) $(CRYPTO_LIBS) $(CURL_LIBS)
dist_man_MANS += man/openclawctl.8
EXTRA_DIST += helper/ctl/README.md

TESTS += tests/integration/ctl-enroll.sh tests/integration/ctl-check-config.sh \
	tests/integration/ctl-test-login.sh \
	tests/integration/ctl-audit.sh tests/integration/ctl-audit-journal.sh
EXTRA_DIST += tests/integration/ctl-enroll.sh tests/integration/ctl-check-config.sh \
	tests/integration/ctl-test-login.sh \
	tests/integration/ctl-audit.sh tests/integration/ctl-audit-journal.sh tests/fuzz/fuzz_audit.c tests/fuzz/corpus/audit

if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_audit
noinst_PROGRAMS += tests/fuzz/fuzz_audit
tests_fuzz_fuzz_audit_SOURCES = tests/fuzz/fuzz_audit.c helper/ctl/auditlog.c helper/ctl/auditlog.h \
	helper/ctl/auditjournal.c helper/ctl/auditjournal.h common/json.c common/json.h
tests_fuzz_fuzz_audit_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_audit_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_audit_LDADD = common/libocbase.la $(CJSON_LIBS) -lm
endif

# openclawd's audit records: the caller fields of common/audit.c, read back
# by openclawctl audit's parser.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_audit
TESTS += tests/unit/test_audit
tests_unit_test_audit_SOURCES = tests/unit/test_audit.c helper/ctl/auditlog.c helper/ctl/auditlog.h
tests_unit_test_audit_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_audit_LDADD = common/libocpam.la common/libocbase.la $(CMOCKA_LIBS)
endif

# openclawctl seal NAME (swtpm, the local tenant, openclawd) and
# openclawctl token NAME (root's get-token naming the agent).
TESTS += tests/integration/ctl-seal.sh tests/integration/ctl-token.sh
EXTRA_DIST += tests/integration/ctl-seal.sh tests/integration/ctl-token.sh
