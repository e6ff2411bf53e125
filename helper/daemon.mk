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
	helper/oc_sweep.c helper/oc_sweep.h \
	helper/oc_sealed.c helper/oc_sealed.h \
	helper/oc_store.c helper/oc_store.h \
	helper/oc_tokenstore.c helper/oc_tokenstore.h \
	helper/oc_cred.c helper/oc_cred.h helper/oc_discovery.c \
	helper/oc_credparse.c helper/oc_credparse.h \
	helper/oc_agentstate.c helper/oc_agentstate.h \
	helper/oc_decide.c helper/oc_decide.h
helper_openclawd_SOURCES += helper/oc_mi.c helper/oc_mi.h helper/oc_mi_env.c helper/oc_mihttp.c helper/oc_mihttp.h \
	helper/oc_sockdiag.c helper/oc_sockdiag.h
helper_openclawd_SOURCES += helper/oc_sshsign.c helper/oc_sshsign.h helper/oc_sshwire.c \
	helper/oc_sshwire.h
helper_openclawd_CFLAGS = $(ocd_cflags)
helper_openclawd_LDADD = common/libocpam.la common/libocproto.la tpm/liboctpm.la common/libocverify.la \
	common/libocbase.la $(CURL_LIBS) $(TSS2_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)

# openclaw-sync: root's one-shot writer of what pam_openclaw and
# nss_openclaw trust (docs/security.md, "The trust boundary"): keys,
# directory, NSS cache; the fetch and sync code is the one openclawd had.
sbin_PROGRAMS += helper/openclaw-sync
helper_openclaw_sync_SOURCES = helper/openclaw-sync.c \
	helper/oc_fetch.c helper/oc_fetch.h \
	helper/oc_graph.c helper/oc_graph.h helper/oc_graphutil.c helper/oc_graphutil.h \
	helper/oc_cachebuild.c helper/oc_cachebuild.h helper/oc_sweep.c helper/oc_sweep.h \
	helper/oc_cred.c helper/oc_cred.h helper/oc_discovery.c \
	helper/oc_credparse.c helper/oc_credparse.h \
	helper/oc_sealed.c helper/oc_sealed.h
helper_openclaw_sync_CFLAGS = $(ocd_cflags)
helper_openclaw_sync_LDADD = common/libocpam.la tpm/liboctpm.la common/libocverify.la common/libocbase.la \
	$(CURL_LIBS) $(TSS2_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)

bin_PROGRAMS += helper/openclaw-token
helper_openclaw_token_SOURCES = helper/openclaw-token.c helper/oc_keyring.c helper/oc_keyring.h \
	helper/sshagent.c helper/sshagent.h helper/sshkey_verify.c helper/sshkey_verify.h \
	helper/oc_sshwire.c helper/oc_sshwire.h
helper_openclaw_token_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(LIBSECRET_CFLAGS)
helper_openclaw_token_LDADD = common/libocproto.la common/libocverify.la common/libocbase.la \
	$(CJSON_LIBS) $(CRYPTO_LIBS) $(LIBSECRET_LIBS)

dist_man_MANS += man/openclawd.8 man/openclaw-token.1 man/openclaw-sync.8
EXTRA_DIST += data/openclawd.service data/openclaw-sync.service data/openclaw-sync.timer \
	data/openclaw-sync.path data/openclawd-imds.socket docs/helper.md docs/tokenstore.md

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_proto tests/unit/test_graphutil
TESTS += tests/unit/test_proto tests/unit/test_graphutil
tests_unit_test_graphutil_SOURCES = tests/unit/test_graphutil.c helper/oc_graphutil.c \
	helper/oc_graphutil.h
tests_unit_test_graphutil_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_graphutil_LDADD = common/libocbase.la $(CMOCKA_LIBS)
tests_unit_test_proto_SOURCES = tests/unit/test_proto.c helper/oc_request.c helper/oc_request.h \
	pam_openclaw/helperclient.c pam_openclaw/helperclient.h
tests_unit_test_proto_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CJSON_CFLAGS)
tests_unit_test_proto_LDADD = common/libocproto.la common/libocverify.la common/libocbase.la \
	$(CMOCKA_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)

check_PROGRAMS += tests/unit/test_tokenstore
TESTS += tests/unit/test_tokenstore
tests_unit_test_tokenstore_SOURCES = tests/unit/test_tokenstore.c helper/oc_tokenstore.c \
	helper/oc_tokenstore.h
tests_unit_test_tokenstore_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CRYPTO_CFLAGS)
tests_unit_test_tokenstore_LDADD = common/libocbase.la $(CMOCKA_LIBS) $(CRYPTO_LIBS)
check_PROGRAMS += tests/unit/test_credparse
TESTS += tests/unit/test_credparse
tests_unit_test_credparse_SOURCES = tests/unit/test_credparse.c helper/oc_credparse.c \
	helper/oc_credparse.h
tests_unit_test_credparse_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CJSON_CFLAGS)
tests_unit_test_credparse_LDADD = common/libocverify.la common/libocbase.la $(CMOCKA_LIBS) \
	$(CJSON_LIBS) $(CRYPTO_LIBS)
# The managed-identity endpoint: HTTP parser, session environment, sock_diag.
check_PROGRAMS += tests/unit/test_mihttp tests/unit/test_sockdiag
TESTS += tests/unit/test_mihttp tests/unit/test_sockdiag
tests_unit_test_mihttp_SOURCES = tests/unit/test_mihttp.c helper/oc_mihttp.c helper/oc_mihttp.h \
	helper/oc_mi_env.c helper/oc_mi.h
tests_unit_test_mihttp_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CURL_CFLAGS)
tests_unit_test_mihttp_LDADD = common/libocbase.la $(CMOCKA_LIBS)
tests_unit_test_sockdiag_SOURCES = tests/unit/test_sockdiag.c helper/oc_sockdiag.c \
	helper/oc_sockdiag.h
tests_unit_test_sockdiag_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_sockdiag_LDADD = $(CMOCKA_LIBS)
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
	tests/integration/helper-faults.sh tests/integration/helper-directory.sh \
	tests/integration/helper-directory-delta.sh
# azure-arc, agent-identity and OIDC discovery, against the tenant and a hostile Arc fake.
TESTS += tests/integration/helper-creds.sh
EXTRA_DIST += tests/integration/helper-creds.sh tests/integration/arc_fake.py
EXTRA_DIST += tests/integration/helper-daemon.sh tests/integration/helper-tpm.sh \
	tests/integration/helper-faults.sh tests/integration/helper-lib.sh \
	tests/integration/helper-directory.sh tests/integration/helper-directory-delta.sh \
	tests/integration/helper_client.py tests/fuzz/corpus/proto

# TPM in the daemon: tpm-sealed-secret, tokens at rest (tokens.db), software-key warning.
TESTS += tests/integration/helper-store.sh
EXTRA_DIST += tests/integration/helper-store.sh

if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_proto
noinst_PROGRAMS += tests/fuzz/fuzz_proto
tests_fuzz_fuzz_proto_SOURCES = tests/fuzz/fuzz_proto.c common/proto.c helper/oc_request.c \
	$(oc_verify_sources)
tests_fuzz_fuzz_proto_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_proto_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_proto_LDADD = common/libocbase.la $(CJSON_LIBS) $(CRYPTO_LIBS) -lm
endif
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_mihttp
noinst_PROGRAMS += tests/fuzz/fuzz_mihttp
tests_fuzz_fuzz_mihttp_SOURCES = tests/fuzz/fuzz_mihttp.c helper/oc_mihttp.c
tests_fuzz_fuzz_mihttp_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_mihttp_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_mihttp_LDADD = common/libocbase.la
endif
EXTRA_DIST += tests/fuzz/fuzz_proto.c

# openclawctl status asks the daemon over its socket.
CTL_EXTRA_LIBS += common/libocproto.la
# tokens.db: header and decrypted-payload parsers (helper/oc_tokenstore.c)
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_tokenstore
noinst_PROGRAMS += tests/fuzz/fuzz_tokenstore
tests_fuzz_fuzz_tokenstore_SOURCES = tests/fuzz/fuzz_tokenstore.c helper/oc_tokenstore.c \
	helper/oc_tokenstore.h
tests_fuzz_fuzz_tokenstore_CFLAGS = $(AM_CFLAGS) $(CRYPTO_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_tokenstore_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_tokenstore_LDADD = common/libocbase.la $(CRYPTO_LIBS)
endif
EXTRA_DIST += tests/fuzz/fuzz_tokenstore.c tests/fuzz/corpus/tokenstore
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_agentstate
noinst_PROGRAMS += tests/fuzz/fuzz_agentstate
tests_fuzz_fuzz_agentstate_SOURCES = tests/fuzz/fuzz_agentstate.c helper/oc_agentstate.c \
	helper/oc_agentstate.h
tests_fuzz_fuzz_agentstate_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_agentstate_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_agentstate_LDADD = common/libocbase.la
endif
EXTRA_DIST += tests/fuzz/fuzz_agentstate.c tests/fuzz/corpus/agentstate
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_credparse
noinst_PROGRAMS += tests/fuzz/fuzz_credparse
tests_fuzz_fuzz_credparse_SOURCES = tests/fuzz/fuzz_credparse.c helper/oc_credparse.c \
	$(oc_verify_sources)
tests_fuzz_fuzz_credparse_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_credparse_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_credparse_LDADD = common/libocbase.la $(CJSON_LIBS) $(CRYPTO_LIBS) -lm
endif
EXTRA_DIST += tests/fuzz/fuzz_credparse.c tests/fuzz/corpus/credparse
# openclaw-token --ssh-agent with TPM keys in openclawd, a real sshd (docs/ssh.md).
TESTS += tests/integration/helper-sshagent.sh
# session-bind@openssh.com verified, --destination (docs/ssh.md, docs/security.md).
TESTS += tests/integration/helper-ssh-bind.sh
EXTRA_DIST += tests/integration/helper-ssh-bind.sh tests/integration/ssh_bind_client.py \
	tests/integration/helper-ssh-lib.sh
# One decision point for every path that issues a credential (docs/security.md).
TESTS += tests/integration/nss-cache-upgrade.sh
EXTRA_DIST += tests/integration/nss-cache-upgrade.sh
TESTS += tests/integration/helper-decide.sh tests/integration/helper-ssh-only.sh \
	tests/integration/helper-hardening.sh tests/integration/helper-flood.sh
EXTRA_DIST += docs/security.md tests/integration/helper-decide.sh tests/integration/helper-ssh-only.sh \
	tests/integration/helper-hardening.sh tests/integration/helper-flood.sh \
	tests/integration/flood_client.py \
	tests/integration/helper-agentkey-lib.sh tests/integration/ssh_sign_client.py
EXTRA_DIST += tests/integration/helper-sshagent.sh docs/ssh.md tests/fuzz/fuzz_sshagent.c \
	tests/fuzz/corpus/sshagent
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_sshagent
TESTS += tests/unit/test_sshagent
tests_unit_test_sshagent_SOURCES = tests/unit/test_sshagent.c helper/sshagent.c helper/sshagent.h \
	helper/sshkey_verify.c helper/sshkey_verify.h helper/oc_sshwire.c helper/oc_sshwire.h
tests_unit_test_sshagent_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS)
tests_unit_test_sshagent_LDADD = common/libocproto.la common/libocverify.la common/libocbase.la \
	$(CMOCKA_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)
# the host key signature of session-bind@openssh.com (OpenSSL only)
check_PROGRAMS += tests/unit/test_sshkey_verify
TESTS += tests/unit/test_sshkey_verify
tests_unit_test_sshkey_verify_SOURCES = tests/unit/test_sshkey_verify.c helper/sshkey_verify.c \
	helper/sshkey_verify.h
tests_unit_test_sshkey_verify_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CRYPTO_CFLAGS)
tests_unit_test_sshkey_verify_LDADD = $(CMOCKA_LIBS) $(CRYPTO_LIBS)
# the ssh wire formats of ssh-sign (OpenSSL only, no TPM)
check_PROGRAMS += tests/unit/test_sshsign
TESTS += tests/unit/test_sshsign
tests_unit_test_sshsign_SOURCES = tests/unit/test_sshsign.c helper/oc_sshwire.c helper/oc_sshwire.h
tests_unit_test_sshsign_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CRYPTO_CFLAGS)
tests_unit_test_sshsign_LDADD = $(CMOCKA_LIBS) $(CRYPTO_LIBS)
# the lock file: admin locks and reported lockouts across restarts
check_PROGRAMS += tests/unit/test_agentstate
TESTS += tests/unit/test_agentstate
tests_unit_test_agentstate_SOURCES = tests/unit/test_agentstate.c helper/oc_agentstate.c \
	helper/oc_agentstate.h
tests_unit_test_agentstate_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_agentstate_LDADD = common/libocbase.la $(CMOCKA_LIBS)
endif
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_sshagent
noinst_PROGRAMS += tests/fuzz/fuzz_sshagent
tests_fuzz_fuzz_sshagent_SOURCES = tests/fuzz/fuzz_sshagent.c helper/sshagent.c common/proto.c \
	helper/sshkey_verify.c helper/oc_sshwire.c \
	$(oc_verify_sources)
tests_fuzz_fuzz_sshagent_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_sshagent_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_sshagent_LDADD = common/libocbase.la $(CJSON_LIBS) $(CRYPTO_LIBS) -lm
endif

# openclawctl seal NAME (swtpm, the local tenant, openclawd) and
# openclawctl token NAME (root's get-token naming the agent).
TESTS += tests/integration/ctl-seal.sh tests/integration/ctl-token.sh
EXTRA_DIST += tests/integration/ctl-seal.sh tests/integration/ctl-token.sh
