# helper/: openclawctl (admin CLI); openclawd and openclaw-token come later.
dist_man_MANS += man/openclawctl.8
# Other fragments add their subcommands with
#   helper_openclawctl_SOURCES += helper/ctl_<name>.c
# and the libraries they need to CTL_EXTRA_LIBS (linked before the common ones).

sbin_PROGRAMS += helper/openclawctl
helper_openclawctl_SOURCES = helper/openclawctl.c helper/ctl.h helper/ctl_verify.c \
	helper/ctl_status.c helper/oc_cachebuild.c helper/oc_cachebuild.h
helper_openclawctl_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS)
helper_openclawctl_LDADD = $(CTL_EXTRA_LIBS) common/libocverify.la common/libocbase.la $(CJSON_LIBS) $(CRYPTO_LIBS)

# Admin experience: enroll (TPM + Graph), check-config, audit.
helper_openclawctl_SOURCES += helper/ctl_enroll.c helper/ctl_graph.c helper/ctl_graph.h \
	helper/ctl_tpm.h helper/ctl_agent_info.c helper/ctl_checkconfig.c helper/ctl_localdb.c helper/ctl_localdb.h helper/ctl_testlogin.c helper/ctl_audit.c helper/auditlog.c \
	helper/auditlog.h helper/auditjournal.c helper/auditjournal.h helper/ctl_imds.c
helper_openclawctl_CFLAGS += $(CURL_CFLAGS)
helper_openclawctl_LDADD += $(CURL_LIBS)

TESTS += tests/integration/ctl-enroll.sh tests/integration/ctl-check-config.sh \
	tests/integration/ctl-test-login.sh \
	tests/integration/ctl-audit.sh tests/integration/ctl-audit-journal.sh
EXTRA_DIST += tests/integration/ctl-enroll.sh tests/integration/ctl-check-config.sh \
	tests/integration/ctl-test-login.sh \
	tests/integration/ctl-audit.sh tests/integration/ctl-audit-journal.sh tests/fuzz/fuzz_audit.c tests/fuzz/corpus/audit debian
# (docs/ and scripts/ are distributed whole by the top-level Makefile.am)

if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_audit
noinst_PROGRAMS += tests/fuzz/fuzz_audit
tests_fuzz_fuzz_audit_SOURCES = tests/fuzz/fuzz_audit.c helper/auditlog.c helper/auditlog.h \
	helper/auditjournal.c helper/auditjournal.h common/json.c common/json.h
tests_fuzz_fuzz_audit_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_audit_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_audit_LDADD = common/libocbase.la $(CJSON_LIBS) -lm
endif

# Debian packages built from a clean copy and installed into a throwaway
# root (see docs/packaging.md); not part of `make check`.
deb-check:
	$(SHELL) $(top_srcdir)/scripts/deb-check.sh
.PHONY: deb-check

# openclawd's audit records: the caller fields of common/audit.c, read back
# by openclawctl audit's parser.
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_audit
TESTS += tests/unit/test_audit
tests_unit_test_audit_SOURCES = tests/unit/test_audit.c helper/auditlog.c helper/auditlog.h
tests_unit_test_audit_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_audit_LDADD = common/libocpam.la common/libocbase.la $(CMOCKA_LIBS)
endif
