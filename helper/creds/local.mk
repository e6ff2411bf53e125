# helper/creds/local.mk: libocreds, a token for a credential: the HTTP
# transport, one file per credential kind, OIDC discovery, the JWKS and
# Graph requests, the credential files (helper/creds/README.md). Linked by
# openclawd and openclaw-sync.
ocd_cflags = $(AM_CFLAGS) $(CURL_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(TSS2_CFLAGS)

noinst_LTLIBRARIES += helper/creds/libocreds.la
helper_creds_libocreds_la_SOURCES = helper/creds/oc_http.c helper/creds/oc_http.h \
	helper/creds/oc_fetch.c helper/creds/oc_fetch.h \
	helper/creds/oc_credkit.c helper/creds/oc_credkit.h helper/creds/oc_credtpm.c \
	helper/creds/oc_cred_client.c helper/creds/oc_cred_mi.c helper/creds/oc_cred_arc.c \
	helper/creds/oc_cred_agentid.c \
	helper/creds/oc_discovery.c helper/creds/oc_discovery.h \
	helper/creds/oc_fetch_jwks.c helper/creds/oc_fetch_graph.c \
	helper/creds/oc_credparse.c helper/creds/oc_credparse.h \
	helper/creds/oc_sealed.c helper/creds/oc_sealed.h
helper_creds_libocreds_la_CFLAGS = $(ocd_cflags)
EXTRA_DIST += helper/creds/README.md

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_credparse
TESTS += tests/unit/test_credparse
tests_unit_test_credparse_SOURCES = tests/unit/test_credparse.c helper/creds/oc_credparse.c \
	helper/creds/oc_credparse.h
tests_unit_test_credparse_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CJSON_CFLAGS)
tests_unit_test_credparse_LDADD = common/libocverify.la common/libocbase.la $(CMOCKA_LIBS) \
	$(CJSON_LIBS) $(CRYPTO_LIBS)
endif
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_credparse
noinst_PROGRAMS += tests/fuzz/fuzz_credparse
tests_fuzz_fuzz_credparse_SOURCES = tests/fuzz/fuzz_credparse.c helper/creds/oc_credparse.c \
	$(oc_verify_sources)
tests_fuzz_fuzz_credparse_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_credparse_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_credparse_LDADD = common/libocbase.la $(CJSON_LIBS) $(CRYPTO_LIBS) -lm
endif
EXTRA_DIST += tests/fuzz/fuzz_credparse.c tests/fuzz/corpus/credparse

# azure-arc, agent-identity and OIDC discovery, against the tenant and a hostile Arc fake.
TESTS += tests/integration/helper-creds.sh
EXTRA_DIST += tests/integration/helper-creds.sh tests/integration/arc_fake.py
