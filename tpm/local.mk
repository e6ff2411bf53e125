# tpm: build fragment, included from the top-level Makefile.am
# liboctpm: TPM-bound keys, certificates, client assertions, sealed secrets.

noinst_LTLIBRARIES += tpm/liboctpm.la
tpm_liboctpm_la_SOURCES = tpm/blob.c tpm/blob.h tpm/tpm.c tpm/tpm.h tpm/tpm-internal.h \
	tpm/seal.c tpm/cert.c tpm/assertion.c tpm/software.c tpm/sign_sha512.c
tpm_liboctpm_la_CFLAGS = $(AM_CFLAGS) $(TSS2_CFLAGS) $(CRYPTO_CFLAGS)
tpm_liboctpm_la_LIBADD = $(TSS2_LIBS) $(CRYPTO_LIBS)
# tpm.c writes blob files with oc_replace_file() (common/util.c) and JWS
# parts are base64url-encoded by common/b64url.c: a program linking
# liboctpm.la links common/libocverify.la and common/libocbase.la after it.

EXTRA_DIST += tpm/README.md

# Unit test of the blob format (no TPM needed)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_tpm_blob
TESTS += tests/unit/test_tpm_blob
tests_unit_test_tpm_blob_SOURCES = tests/unit/test_tpm_blob.c
tests_unit_test_tpm_blob_CFLAGS = $(AM_CFLAGS) $(TSS2_CFLAGS) $(CRYPTO_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_tpm_blob_LDADD = tpm/liboctpm.la common/libocverify.la common/libocbase.la $(TSS2_LIBS) $(CRYPTO_LIBS) $(CMOCKA_LIBS)
endif

# Integration tests against swtpm instances the tests start themselves.
# tpm_ops is a helper program driven by tpm-swtpm.sh (leak count, binding).
check_PROGRAMS += tests/integration/tpm_ops
tests_integration_tpm_ops_SOURCES = tests/integration/tpm_ops.c
tests_integration_tpm_ops_CFLAGS = $(AM_CFLAGS) $(TSS2_CFLAGS) $(CRYPTO_CFLAGS)
tests_integration_tpm_ops_LDADD = tpm/liboctpm.la common/libocverify.la common/libocbase.la $(TSS2_LIBS) $(CRYPTO_LIBS)
TESTS += tests/integration/tpm-swtpm.sh tests/integration/tpm-tenant.sh \
	tests/integration/tpm-software.sh
EXTRA_DIST += tests/integration/tpm-swtpm.sh tests/integration/tpm-tenant.sh \
	tests/integration/tpm-software.sh \
	tests/integration/tpm-lib.sh tests/integration/tpm_verify.py \
	tests/fuzz/corpus/tpmblob

# Fuzz target over the blob parser (the parser is compiled in, so it is instrumented)
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_tpmblob
noinst_PROGRAMS += tests/fuzz/fuzz_tpmblob
tests_fuzz_fuzz_tpmblob_SOURCES = tests/fuzz/fuzz_tpmblob.c tpm/blob.c tpm/blob.h
tests_fuzz_fuzz_tpmblob_CFLAGS = $(AM_CFLAGS) $(TSS2_CFLAGS) $(CRYPTO_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_tpmblob_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_tpmblob_LDADD = $(TSS2_LIBS) $(CRYPTO_LIBS)
endif
EXTRA_DIST += tests/fuzz/fuzz_tpmblob.c

# Benchmark: TPM commands and milliseconds per assertion and per unseal
noinst_PROGRAMS += bench/tpm
OC_BENCHES += bench/tpm
bench_tpm_SOURCES = bench/tpm.c
bench_tpm_CPPFLAGS = $(AM_CPPFLAGS) -DOC_SWTPM='"$(SWTPM)"'
bench_tpm_CFLAGS = $(AM_CFLAGS) $(TSS2_CFLAGS) $(CRYPTO_CFLAGS)
bench_tpm_LDADD = tpm/liboctpm.la common/libocverify.la common/libocbase.la $(TSS2_LIBS) $(CRYPTO_LIBS)
