# helper/sync/local.mk: openclaw-sync (helper/sync/README.md).
# openclaw-sync: root's one-shot writer of what pam_openclaw and
# nss_openclaw trust (docs/security.md, "The trust boundary"): keys,
# directory, NSS cache; the fetch and sync code is the one openclawd had.
sbin_PROGRAMS += helper/sync/openclaw-sync
helper_sync_openclaw_sync_SOURCES = helper/sync/openclaw-sync.c \
	helper/sync/oc_graph.c helper/sync/oc_graph.h helper/sync/oc_graphutil.c helper/sync/oc_graphutil.h
helper_sync_openclaw_sync_CFLAGS = $(ocd_cflags)
helper_sync_openclaw_sync_LDADD = helper/creds/libocreds.la helper/lib/libochelper.la \
	common/libocpam.la tpm/liboctpm.la common/libocverify.la common/libocbase.la \
	$(CURL_LIBS) $(TSS2_LIBS) $(CJSON_LIBS) $(CRYPTO_LIBS)
dist_man_MANS += man/openclaw-sync.8
EXTRA_DIST += helper/sync/README.md data/openclaw-sync.service data/openclaw-sync.timer \
	data/openclaw-sync.path

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_graphutil
TESTS += tests/unit/test_graphutil
tests_unit_test_graphutil_SOURCES = tests/unit/test_graphutil.c helper/sync/oc_graphutil.c \
	helper/sync/oc_graphutil.h
tests_unit_test_graphutil_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_graphutil_LDADD = common/libocbase.la $(CMOCKA_LIBS)
endif

# Delta sync: steady-state and full-sync request counts, removals, 410
# Gone, $batch failures, 429 storms, the budget, the splay, kills mid-sync.
TESTS += tests/integration/helper-directory-delta.sh
EXTRA_DIST += tests/integration/helper-directory-delta.sh

# When a timer run syncs: at this host's splay point, waited for when it
# is within 70 s; a request ends the wait; a point further away is left.
TESTS += tests/integration/sync-splay.sh
EXTRA_DIST += tests/integration/sync-splay.sh

# An NSS cache of an older format replaced on upgrade.
TESTS += tests/integration/nss-cache-upgrade.sh
EXTRA_DIST += tests/integration/nss-cache-upgrade.sh
