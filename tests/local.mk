# tests/: suites that are not unit tests of one directory.
# Unit tests (tests/unit/test_*) and fuzz targets (tests/fuzz/fuzz_*) are
# wired in by the fragment of the directory whose code they test.

# The local test tenant's own suite (Python, independent of our C code);
# not repeated in the sanitizer build, which exists for the C code.
if !SANITIZERS
TESTS += tests/tenant-suite.sh
endif

# openclawctl verify-token against tokens minted by the local tenant (also
# under ASan: the C side is what is exercised).
TESTS += tests/integration/verify-token.sh tests/integration/ctl-status.sh

EXTRA_DIST += tests/lib tests/integration/verify-token.sh tests/integration/ctl-status.sh tests/tenant-suite.sh \
	tests/integration/directory-100k.sh tests/fuzz/run-fuzz.sh tests/tenant \
	tests/fuzz/check-instrumented.sh tests/fuzz/fuzz_planted.c tests/fuzz/corpus/planted tests/skip-allowlist \
	tests/README.md tests/unit/README.md tests/integration/README.md \
	tests/system/README.md tests/fuzz/README.md

# The fuzz harness's negative control (scripts/test.sh): a target with a
# planted bug that run-fuzz.sh must fail on. Built only on request, never
# one of FUZZ_TARGETS.
if FUZZING
EXTRA_PROGRAMS = tests/fuzz/fuzz_planted
tests_fuzz_fuzz_planted_SOURCES = tests/fuzz/fuzz_planted.c
tests_fuzz_fuzz_planted_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS) -fsanitize-recover=undefined
tests_fuzz_fuzz_planted_LDFLAGS = $(FUZZ_CFLAGS)
CLEANFILES += tests/fuzz/fuzz_planted
endif

# Reliability: hostile tokens, configs, cache files and socket frames
# through the real binaries (openclawctl, libpam + pam_openclaw, the NSS
# module, openclawd); also under ASan (all of them are ours).
check_PROGRAMS += tests/reliability/nss-probe
tests_reliability_nss_probe_SOURCES = tests/reliability/nss-probe.c
tests_reliability_nss_probe_CPPFLAGS = $(AM_CPPFLAGS) -DOC_NSS_MODULE_PATH='"$(OC_NSS_MODULE)"'
tests_reliability_nss_probe_DEPENDENCIES = nss_openclaw/libnss_openclaw.la
TESTS += tests/reliability/hostile-inputs.sh
# 16 threads of PAM authentications while keys rotate and openclawd restarts.
check_PROGRAMS += tests/reliability/pam-load
tests_reliability_pam_load_SOURCES = tests/reliability/pam-load.c
tests_reliability_pam_load_LDADD = $(PAM_LIBS) -lpthread
TESTS += tests/reliability/pam-load.sh
# swtpm stopped and restarted under openclawd; the state directory on a full tmpfs.
TESTS += tests/reliability/faults.sh
# Entra down for longer than a token lifetime (20 s tokens), then back.
TESTS += tests/reliability/outage.sh
EXTRA_DIST += tests/reliability/hostile-inputs.sh tests/reliability/hostile_inputs.py \
	tests/reliability/pam-load.sh tests/reliability/faults.sh tests/reliability/outage.sh \
	tests/reliability/README.md
