# helper/daemon.mk: openclawd (token helper daemon), openclaw-token, and the
# socket protocol library. Included from the top-level Makefile.am after
# tpm/local.mk (openclawd links liboctpm).

# The frame codec and request table: libc only.
noinst_LTLIBRARIES += common/libocproto.la
common_libocproto_la_SOURCES = common/proto.c common/proto.h

ocd_cflags = $(AM_CFLAGS) $(CURL_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(TSS2_CFLAGS)

sbin_PROGRAMS += helper/openclawd
helper_openclawd_SOURCES = helper/openclawd.c \
	helper/oc_request.c helper/oc_request.h \
	helper/oc_fetch.c helper/oc_fetch.h \
	helper/oc_tokens.c helper/oc_tokens.h \
	helper/oc_sshsign.c helper/oc_sshsign.h helper/oc_sshwire.c helper/oc_sshwire.h
helper_openclawd_CFLAGS = $(ocd_cflags)
helper_openclawd_LDADD = common/libocproto.la tpm/liboctpm.la common/libocverify.la \
	common/libocbase.la $(CURL_LIBS) $(TSS2_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)

bin_PROGRAMS += helper/openclaw-token
helper_openclaw_token_SOURCES = helper/openclaw-token.c helper/sshagent.c helper/sshagent.h
helper_openclaw_token_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
helper_openclaw_token_LDADD = common/libocproto.la common/libocverify.la common/libocbase.la \
	$(CJSON_LIBS) $(CRYPTO_LIBS)

dist_man_MANS += man/openclawd.8 man/openclaw-token.1
EXTRA_DIST += data/openclawd.service docs/helper.md

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_proto
TESTS += tests/unit/test_proto
tests_unit_test_proto_SOURCES = tests/unit/test_proto.c helper/oc_request.c helper/oc_request.h
tests_unit_test_proto_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CJSON_CFLAGS)
tests_unit_test_proto_LDADD = common/libocproto.la common/libocverify.la common/libocbase.la \
	$(CMOCKA_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)
endif

# The real daemon against the local tenant, clients under several uids.
TESTS += tests/integration/helper-daemon.sh tests/integration/helper-tpm.sh
EXTRA_DIST += tests/integration/helper-daemon.sh tests/integration/helper-tpm.sh tests/integration/helper-lib.sh \
	tests/integration/helper_client.py tests/fuzz/corpus/proto

if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_proto
noinst_PROGRAMS += tests/fuzz/fuzz_proto
tests_fuzz_fuzz_proto_SOURCES = tests/fuzz/fuzz_proto.c common/proto.c helper/oc_request.c \
	$(oc_verify_sources)
tests_fuzz_fuzz_proto_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
tests_fuzz_fuzz_proto_LDFLAGS = -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_proto_LDADD = common/libocbase.la $(CJSON_LIBS) $(CRYPTO_LIBS) -lm
endif
EXTRA_DIST += tests/fuzz/fuzz_proto.c

# openclaw-token --ssh-agent with TPM keys in openclawd, a real sshd (docs/ssh.md).
TESTS += tests/integration/helper-sshagent.sh
EXTRA_DIST += tests/integration/helper-sshagent.sh docs/ssh.md tests/fuzz/fuzz_sshagent.c \
	tests/fuzz/corpus/sshagent
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_sshagent
TESTS += tests/unit/test_sshagent
tests_unit_test_sshagent_SOURCES = tests/unit/test_sshagent.c helper/sshagent.c helper/sshagent.h
tests_unit_test_sshagent_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CJSON_CFLAGS)
tests_unit_test_sshagent_LDADD = common/libocproto.la common/libocverify.la common/libocbase.la \
	$(CMOCKA_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)
# the ssh wire formats of ssh-sign (OpenSSL only, no TPM)
check_PROGRAMS += tests/unit/test_sshsign
TESTS += tests/unit/test_sshsign
tests_unit_test_sshsign_SOURCES = tests/unit/test_sshsign.c helper/oc_sshwire.c helper/oc_sshwire.h
tests_unit_test_sshsign_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CRYPTO_CFLAGS)
tests_unit_test_sshsign_LDADD = $(CMOCKA_LIBS) $(CRYPTO_LIBS)
endif
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_sshagent
noinst_PROGRAMS += tests/fuzz/fuzz_sshagent
tests_fuzz_fuzz_sshagent_SOURCES = tests/fuzz/fuzz_sshagent.c helper/sshagent.c common/proto.c \
	$(oc_verify_sources)
tests_fuzz_fuzz_sshagent_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
tests_fuzz_fuzz_sshagent_LDFLAGS = -fsanitize=fuzzer,address,undefined
tests_fuzz_fuzz_sshagent_LDADD = common/libocbase.la $(CJSON_LIBS) $(CRYPTO_LIBS) -lm
endif
