# helper/client/local.mk: the programs an agent's session and sshd run:
# openclaw-token (CLI, keyring, ssh-agent), openclaw-askpass,
# openclaw-authorized-keys (helper/client/README.md).
bin_PROGRAMS += helper/client/openclaw-token
helper_client_openclaw_token_SOURCES = helper/client/openclaw-token.c helper/client/oc_keyring.c helper/client/oc_keyring.h \
	helper/client/sshagent.c helper/client/sshagent.h helper/client/sshkey_verify.c helper/client/sshkey_verify.h
helper_client_openclaw_token_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(LIBSECRET_CFLAGS)
helper_client_openclaw_token_LDADD = helper/lib/libochelper.la common/libocproto.la common/libocverify.la common/libocbase.la \
	$(CJSON_LIBS) $(CRYPTO_LIBS) $(LIBSECRET_LIBS)

# openclaw-askpass: SSH_ASKPASS answerer for the chunked token prompts
dist_bin_SCRIPTS = helper/client/openclaw-askpass

# sshd's AuthorizedKeysCommand: the agent's registered keys from directory.json.
sbin_PROGRAMS += helper/client/openclaw-authorized-keys
helper_client_openclaw_authorized_keys_SOURCES = helper/client/openclaw-authorized-keys.c
helper_client_openclaw_authorized_keys_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
helper_client_openclaw_authorized_keys_LDADD = common/libocverify.la common/libocbase.la $(CJSON_LIBS) \
	$(CRYPTO_LIBS)

dist_man_MANS += man/openclaw-token.1 man/openclaw-askpass.1 man/openclaw-authorized-keys.8
EXTRA_DIST += helper/client/README.md

# openclaw-token --ssh-agent with TPM keys in openclawd, a real sshd (docs/ssh.md).
TESTS += tests/integration/helper-sshagent.sh
# session-bind@openssh.com verified, --destination (docs/ssh.md, docs/security.md).
TESTS += tests/integration/helper-ssh-bind.sh
EXTRA_DIST += tests/integration/helper-ssh-bind.sh tests/integration/ssh_bind_client.py \
	tests/integration/helper-ssh-lib.sh
EXTRA_DIST += tests/integration/helper-sshagent.sh docs/ssh.md tests/fuzz/fuzz_sshagent.c \
	tests/fuzz/corpus/sshagent
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_sshagent
TESTS += tests/unit/test_sshagent
tests_unit_test_sshagent_SOURCES = tests/unit/test_sshagent.c helper/client/sshagent.c helper/client/sshagent.h \
	helper/client/sshkey_verify.c helper/client/sshkey_verify.h helper/lib/oc_sshwire.c helper/lib/oc_sshwire.h
tests_unit_test_sshagent_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS)
tests_unit_test_sshagent_LDADD = common/libocproto.la common/libocverify.la common/libocbase.la \
	$(CMOCKA_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)
# the host key signature of session-bind@openssh.com (OpenSSL only)
check_PROGRAMS += tests/unit/test_sshkey_verify
TESTS += tests/unit/test_sshkey_verify
tests_unit_test_sshkey_verify_SOURCES = tests/unit/test_sshkey_verify.c helper/client/sshkey_verify.c \
	helper/client/sshkey_verify.h
tests_unit_test_sshkey_verify_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CRYPTO_CFLAGS)
tests_unit_test_sshkey_verify_LDADD = $(CMOCKA_LIBS) $(CRYPTO_LIBS)
endif
if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_sshagent
noinst_PROGRAMS += tests/fuzz/fuzz_sshagent
tests_fuzz_fuzz_sshagent_SOURCES = tests/fuzz/fuzz_sshagent.c helper/client/sshagent.c common/proto.c \
	common/protocall.c \
	helper/client/sshkey_verify.c helper/lib/oc_sshwire.c \
	$(oc_verify_sources)
tests_fuzz_fuzz_sshagent_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_sshagent_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_sshagent_LDADD = common/libocbase.la $(CJSON_LIBS) $(CRYPTO_LIBS) -lm
endif
