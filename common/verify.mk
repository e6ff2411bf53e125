# common/verify.mk: JWS/JWKS/Entra verification library (OpenSSL + cJSON)
# Included from the top-level Makefile.am. See docs/verification.md.

oc_verify_sources = \
	common/b64url.c common/b64url.h \
	common/json.c common/json.h \
	common/jwt.c common/jwt.h \
	common/jwks.c common/jwks.h \
	common/entra.c common/entra.h

noinst_LTLIBRARIES += common/libocverify.la
common_libocverify_la_SOURCES = $(oc_verify_sources)
common_libocverify_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS)
common_libocverify_la_LIBADD = $(CJSON_LIBS) $(CRYPTO_LIBS) -lm

oc_verify_test_cflags = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS)
oc_verify_test_ldadd = common/libocverify.la $(CMOCKA_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)

if HAVE_CMOCKA
oc_verify_tests = \
	tests/unit/test_b64url \
	tests/unit/test_json \
	tests/unit/test_jwt \
	tests/unit/test_jwks \
	tests/unit/test_entra
check_PROGRAMS += $(oc_verify_tests)
TESTS += $(oc_verify_tests)

tests_unit_test_b64url_SOURCES = tests/unit/test_b64url.c
tests_unit_test_b64url_CFLAGS = $(oc_verify_test_cflags)
tests_unit_test_b64url_LDADD = $(oc_verify_test_ldadd)

tests_unit_test_json_SOURCES = tests/unit/test_json.c
tests_unit_test_json_CFLAGS = $(oc_verify_test_cflags)
tests_unit_test_json_LDADD = $(oc_verify_test_ldadd)

tests_unit_test_jwt_SOURCES = tests/unit/test_jwt.c tests/unit/fixtures/load.h tests/unit/fixtures/constants.h
tests_unit_test_jwt_CFLAGS = $(oc_verify_test_cflags)
tests_unit_test_jwt_LDADD = $(oc_verify_test_ldadd)

tests_unit_test_jwks_SOURCES = tests/unit/test_jwks.c tests/unit/fixtures/load.h tests/unit/fixtures/constants.h
tests_unit_test_jwks_CFLAGS = $(oc_verify_test_cflags)
tests_unit_test_jwks_LDADD = $(oc_verify_test_ldadd)

tests_unit_test_entra_SOURCES = tests/unit/test_entra.c tests/unit/fixtures/load.h tests/unit/fixtures/constants.h
tests_unit_test_entra_CFLAGS = $(oc_verify_test_cflags) -pthread
tests_unit_test_entra_LDFLAGS = -pthread
tests_unit_test_entra_LDADD = $(oc_verify_test_ldadd)
endif

# Fuzz targets compile their own copy of the library with coverage hooks
# (the fuzz build puts ASan + UBSan on everything: configure --enable-fuzzing).
if FUZZING
oc_fuzz_cflags = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(FUZZ_CFLAGS)
oc_fuzz_ldflags = $(FUZZ_CFLAGS)
oc_fuzz_ldadd = $(CJSON_LIBS) $(CRYPTO_LIBS) -lm

FUZZ_TARGETS += tests/fuzz/fuzz_jwt tests/fuzz/fuzz_jwks
noinst_PROGRAMS += tests/fuzz/fuzz_jwt tests/fuzz/fuzz_jwks

tests_fuzz_fuzz_jwt_SOURCES = tests/fuzz/fuzz_jwt.c $(oc_verify_sources)
tests_fuzz_fuzz_jwt_CFLAGS = $(oc_fuzz_cflags)
tests_fuzz_fuzz_jwt_LDFLAGS = $(oc_fuzz_ldflags)
tests_fuzz_fuzz_jwt_LDADD = $(oc_fuzz_ldadd)

tests_fuzz_fuzz_jwks_SOURCES = tests/fuzz/fuzz_jwks.c $(oc_verify_sources)
tests_fuzz_fuzz_jwks_CFLAGS = $(oc_fuzz_cflags)
tests_fuzz_fuzz_jwks_LDFLAGS = $(oc_fuzz_ldflags)
tests_fuzz_fuzz_jwks_LDADD = $(oc_fuzz_ldadd)
endif

# Benchmark (make bench): full verification vs raw EVP verify, same run.
noinst_PROGRAMS += bench/verify
OC_BENCHES += bench/verify
bench_verify_SOURCES = bench/verify.c
bench_verify_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS)
bench_verify_LDADD = common/libocverify.la $(CJSON_LIBS) $(CRYPTO_LIBS)

EXTRA_DIST += tests/unit/fixtures tests/fuzz/corpus/jwt tests/fuzz/corpus/jwks
