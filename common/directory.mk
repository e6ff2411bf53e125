# common/directory.mk: the directory cache file (directory.json), writer and
# strict parser. Part of libocverify (it needs cJSON), shared by openclawd,
# pam_openclaw and openclawctl. See docs/directory.md.
common_libocverify_la_SOURCES += common/directory.c common/directory.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_directory
TESTS += tests/unit/test_directory
tests_unit_test_directory_SOURCES = tests/unit/test_directory.c
tests_unit_test_directory_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CJSON_CFLAGS)
tests_unit_test_directory_LDADD = common/libocverify.la common/libocbase.la $(CMOCKA_LIBS) \
	$(CJSON_LIBS) $(CRYPTO_LIBS)
endif

if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_directory
noinst_PROGRAMS += tests/fuzz/fuzz_directory
tests_fuzz_fuzz_directory_SOURCES = tests/fuzz/fuzz_directory.c common/directory.c common/json.c
tests_fuzz_fuzz_directory_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_directory_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_directory_LDADD = common/libocbase.la $(CJSON_LIBS) -lm
endif
EXTRA_DIST += tests/fuzz/fuzz_directory.c tests/fuzz/corpus/directory

