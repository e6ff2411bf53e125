# common/base.mk: libc-only base library (config, identity mapping, utilities)
#
# libocbase links libc only: it goes into the NSS module, which must never
# pull in OpenSSL, cJSON or libcurl. Keep it that way (no LIBADD here).

noinst_LTLIBRARIES += common/libocbase.la
common_libocbase_la_SOURCES = \
	common/util.c common/util.h \
	common/clock.c common/clock.h \
	common/conf.c common/conf.h \
	common/idmap.c common/idmap.h \
	common/policy.c common/policy.h \
	common/rootdir.c common/rootdir.h

EXTRA_DIST += common/README.md

if HAVE_CMOCKA
OCBASE_TEST_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
OCBASE_TEST_LIBS = common/libocbase.la $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_util tests/unit/test_config \
	tests/unit/test_idmap tests/unit/test_policy
TESTS += tests/unit/test_util tests/unit/test_config \
	tests/unit/test_idmap tests/unit/test_policy

tests_unit_test_util_SOURCES = tests/unit/test_util.c
tests_unit_test_util_CFLAGS = $(OCBASE_TEST_CFLAGS)
tests_unit_test_util_LDADD = $(OCBASE_TEST_LIBS)

tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(OCBASE_TEST_CFLAGS)
tests_unit_test_config_LDADD = $(OCBASE_TEST_LIBS)

tests_unit_test_idmap_SOURCES = tests/unit/test_idmap.c
tests_unit_test_idmap_CFLAGS = $(OCBASE_TEST_CFLAGS)
tests_unit_test_idmap_LDADD = $(OCBASE_TEST_LIBS)

tests_unit_test_policy_SOURCES = tests/unit/test_policy.c
tests_unit_test_policy_CFLAGS = $(OCBASE_TEST_CFLAGS)
tests_unit_test_policy_LDADD = $(OCBASE_TEST_LIBS)
endif

if FUZZING
# Coverage feedback from the library itself, not only from the target.
common_libocbase_la_CFLAGS = $(AM_CFLAGS) -fsanitize=fuzzer-no-link

FUZZ_TARGETS += tests/fuzz/fuzz_config
noinst_PROGRAMS += tests/fuzz/fuzz_config
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c
tests_fuzz_fuzz_config_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDADD = common/libocbase.la
endif

EXTRA_DIST += tests/fuzz/corpus/config
dist_man_MANS += man/openclaw.conf.5
