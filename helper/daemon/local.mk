# helper/daemon/local.mk: openclawd, the unprivileged daemon that holds the
# agents' tokens and hands them out over its socket, the managed-identity
# endpoint and ssh-sign (helper/daemon/README.md).
sbin_PROGRAMS += helper/daemon/openclawd
helper_daemon_openclawd_SOURCES = helper/daemon/openclawd.c \
	helper/daemon/oc_request.c helper/daemon/oc_request.h \
	helper/daemon/oc_tokens.c helper/daemon/oc_tokens.h \
	helper/daemon/oc_store.c helper/daemon/oc_store.h \
	helper/daemon/oc_tokenstore.c helper/daemon/oc_tokenstore.h \
	helper/daemon/oc_agentstate.c helper/daemon/oc_agentstate.h \
	helper/daemon/oc_decide.c helper/daemon/oc_decide.h
helper_daemon_openclawd_SOURCES += helper/daemon/oc_mi.c helper/daemon/oc_mi.h helper/daemon/oc_mi_env.c helper/daemon/oc_mihttp.c helper/daemon/oc_mihttp.h \
	helper/daemon/oc_sockdiag.c helper/daemon/oc_sockdiag.h
helper_daemon_openclawd_SOURCES += helper/daemon/oc_sshsign.c helper/daemon/oc_sshsign.h
helper_daemon_openclawd_CFLAGS = $(ocd_cflags)
helper_daemon_openclawd_LDADD = helper/creds/libocreds.la helper/lib/libochelper.la \
	common/libocpam.la common/libocproto.la tpm/liboctpm.la common/libocverify.la \
	common/libocbase.la $(CURL_LIBS) $(TSS2_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)
dist_man_MANS += man/openclawd.8
EXTRA_DIST += helper/daemon/README.md data/openclawd.service data/openclawd-imds.socket \
	docs/helper.md docs/tokenstore.md

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_proto
TESTS += tests/unit/test_proto
tests_unit_test_proto_SOURCES = tests/unit/test_proto.c helper/daemon/oc_request.c helper/daemon/oc_request.h
tests_unit_test_proto_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CJSON_CFLAGS)
tests_unit_test_proto_LDADD = common/libocproto.la common/libocverify.la common/libocbase.la \
	$(CMOCKA_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)
check_PROGRAMS += tests/unit/test_tokenstore
TESTS += tests/unit/test_tokenstore
tests_unit_test_tokenstore_SOURCES = tests/unit/test_tokenstore.c helper/daemon/oc_tokenstore.c \
	helper/daemon/oc_tokenstore.h
tests_unit_test_tokenstore_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CRYPTO_CFLAGS)
tests_unit_test_tokenstore_LDADD = common/libocbase.la $(CMOCKA_LIBS) $(CRYPTO_LIBS)
# The managed-identity endpoint: HTTP parser, session environment, sock_diag.
check_PROGRAMS += tests/unit/test_mihttp tests/unit/test_sockdiag
TESTS += tests/unit/test_mihttp tests/unit/test_sockdiag
tests_unit_test_mihttp_SOURCES = tests/unit/test_mihttp.c helper/daemon/oc_mihttp.c helper/daemon/oc_mihttp.h \
	helper/daemon/oc_mi_env.c helper/daemon/oc_mi.h
tests_unit_test_mihttp_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CURL_CFLAGS)
tests_unit_test_mihttp_LDADD = common/libocbase.la $(CMOCKA_LIBS)
tests_unit_test_sockdiag_SOURCES = tests/unit/test_sockdiag.c helper/daemon/oc_sockdiag.c \
	helper/daemon/oc_sockdiag.h
tests_unit_test_sockdiag_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_sockdiag_LDADD = $(CMOCKA_LIBS)
# the lock file: admin locks and reported lockouts across restarts
check_PROGRAMS += tests/unit/test_agentstate
TESTS += tests/unit/test_agentstate
tests_unit_test_agentstate_SOURCES = tests/unit/test_agentstate.c helper/daemon/oc_agentstate.c \
	helper/daemon/oc_agentstate.h
tests_unit_test_agentstate_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_agentstate_LDADD = common/libocbase.la $(CMOCKA_LIBS)
endif

# The managed-identity endpoint with the real Azure SDK (tests/node, npm ci),
# the real clients at IMDS's own address (azure-cli, python3-azure,
# @azure/identity), and openclaw-token --keyring in a headless session
# (gnome-keyring).
TESTS += tests/integration/helper-mi.sh tests/integration/helper-mi-imds.sh tests/integration/helper-mi-clients.sh \
	tests/integration/helper-keyring.sh
EXTRA_DIST += tests/integration/helper-mi.sh tests/integration/helper-mi-imds.sh tests/integration/helper-mi-clients.sh \
	tests/integration/azure_identity_client.py tests/integration/socket_activate.py tests/integration/helper-keyring.sh tests/node/package.json tests/node/package-lock.json \
	tests/node/mi-token.js tests/node/check-engines.js tests/fuzz/fuzz_mihttp.c tests/fuzz/corpus/mihttp

# The real daemon against the local tenant, clients under several uids.
TESTS += tests/integration/helper-daemon.sh tests/integration/helper-tpm.sh \
	tests/integration/helper-faults.sh tests/integration/helper-directory.sh
EXTRA_DIST += tests/integration/helper-daemon.sh tests/integration/helper-tpm.sh \
	tests/integration/helper-faults.sh tests/integration/helper-lib.sh \
	tests/integration/helper-directory.sh \
	tests/integration/helper_client.py tests/fuzz/corpus/proto

# TPM in the daemon: tpm-sealed-secret, tokens at rest (tokens.db), software-key warning.
TESTS += tests/integration/helper-store.sh
EXTRA_DIST += tests/integration/helper-store.sh

if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_proto
noinst_PROGRAMS += tests/fuzz/fuzz_proto
tests_fuzz_fuzz_proto_SOURCES = tests/fuzz/fuzz_proto.c common/proto.c helper/daemon/oc_request.c \
	$(oc_verify_sources)
tests_fuzz_fuzz_proto_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_proto_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_proto_LDADD = common/libocbase.la $(CJSON_LIBS) $(CRYPTO_LIBS) -lm
endif
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_mihttp
noinst_PROGRAMS += tests/fuzz/fuzz_mihttp
tests_fuzz_fuzz_mihttp_SOURCES = tests/fuzz/fuzz_mihttp.c helper/daemon/oc_mihttp.c
tests_fuzz_fuzz_mihttp_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_mihttp_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_mihttp_LDADD = common/libocbase.la
endif
EXTRA_DIST += tests/fuzz/fuzz_proto.c
# tokens.db: header and decrypted-payload parsers (helper/daemon/oc_tokenstore.c)
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_tokenstore
noinst_PROGRAMS += tests/fuzz/fuzz_tokenstore
tests_fuzz_fuzz_tokenstore_SOURCES = tests/fuzz/fuzz_tokenstore.c helper/daemon/oc_tokenstore.c \
	helper/daemon/oc_tokenstore.h
tests_fuzz_fuzz_tokenstore_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_tokenstore_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_tokenstore_LDADD = common/libocbase.la $(CRYPTO_LIBS)
endif
EXTRA_DIST += tests/fuzz/fuzz_tokenstore.c tests/fuzz/corpus/tokenstore
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_agentstate
noinst_PROGRAMS += tests/fuzz/fuzz_agentstate
tests_fuzz_fuzz_agentstate_SOURCES = tests/fuzz/fuzz_agentstate.c helper/daemon/oc_agentstate.c \
	helper/daemon/oc_agentstate.h
tests_fuzz_fuzz_agentstate_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_agentstate_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_agentstate_LDADD = common/libocbase.la
endif
EXTRA_DIST += tests/fuzz/fuzz_agentstate.c tests/fuzz/corpus/agentstate
# One decision point for every path that issues a credential (docs/security.md).
TESTS += tests/integration/helper-decide.sh tests/integration/helper-ssh-only.sh \
	tests/integration/helper-hardening.sh tests/integration/helper-flood.sh
EXTRA_DIST += docs/security.md tests/integration/helper-decide.sh tests/integration/helper-ssh-only.sh \
	tests/integration/helper-hardening.sh tests/integration/helper-flood.sh \
	tests/integration/flood_client.py \
	tests/integration/helper-agentkey-lib.sh tests/integration/ssh_sign_client.py
