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

EXTRA_DIST += tests/lib tests/integration/verify-token.sh tests/integration/ctl-status.sh tests/tenant-suite.sh tests/fuzz/run-fuzz.sh tests/tenant \
	tests/README.md tests/unit/README.md tests/integration/README.md \
	tests/system/README.md tests/fuzz/README.md
