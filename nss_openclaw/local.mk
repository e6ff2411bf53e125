# nss_openclaw: build fragment, included from the top-level Makefile.am
#
# libnss_openclaw.so.2: libc only. libocbase is a libtool convenience
# library, so its objects are linked in statically; the version script
# exports only _nss_openclaw_*. "-module -avoid-version -shrext .so.2"
# makes libtool name the file exactly libnss_openclaw.so.2 (no symlinks).

nsslib_LTLIBRARIES += nss_openclaw/libnss_openclaw.la
nss_openclaw_libnss_openclaw_la_SOURCES = nss_openclaw/nss_openclaw.c nss_openclaw/nss_openclaw.h
nss_openclaw_libnss_openclaw_la_LIBADD = common/libocbase.la
nss_openclaw_libnss_openclaw_la_LDFLAGS = -module -avoid-version -shrext .so.2 -no-undefined \
	-Wl,--version-script=$(top_srcdir)/nss_openclaw/nss_openclaw.map \
	-Wl,-z,relro -Wl,-z,now
if !SANITIZERS
# -z defs: every symbol resolved at link time (libc only). The sanitizer
# runtimes are provided by the executable, so not in that build.
nss_openclaw_libnss_openclaw_la_LDFLAGS += -Wl,-z,defs
endif
EXTRA_DIST += nss_openclaw/nss_openclaw.map nss_openclaw/README.md
nss_openclaw_libnss_openclaw_la_DEPENDENCIES = common/libocbase.la \
	$(top_srcdir)/nss_openclaw/nss_openclaw.map

# Where the tests find the built module.
OC_NSS_MODULE = $(abs_top_builddir)/nss_openclaw/.libs/libnss_openclaw.so.2

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_nsscache tests/unit/test_nss_module
TESTS += tests/unit/test_nsscache tests/unit/test_nss_module

tests_unit_test_nsscache_SOURCES = tests/unit/test_nsscache.c
tests_unit_test_nsscache_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_nsscache_LDADD = helper/lib/libochelper.la common/libocbase.la $(CMOCKA_LIBS)

tests_unit_test_nss_module_SOURCES = tests/unit/test_nss_module.c
tests_unit_test_nss_module_CPPFLAGS = $(AM_CPPFLAGS) -DOC_NSS_MODULE_PATH='"$(OC_NSS_MODULE)"'
tests_unit_test_nss_module_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_nss_module_LDADD = helper/lib/libochelper.la common/libocbase.la $(CMOCKA_LIBS)
tests_unit_test_nss_module_DEPENDENCIES = helper/lib/libochelper.la common/libocbase.la \
	nss_openclaw/libnss_openclaw.la
endif

# Threaded stress: 16 threads x 100k lookups while the cache is replaced.
check_PROGRAMS += tests/integration/nss-stress
TESTS += tests/integration/nss-stress
tests_integration_nss_stress_SOURCES = tests/integration/nss-stress.c
tests_integration_nss_stress_CPPFLAGS = $(AM_CPPFLAGS) -DOC_NSS_MODULE_PATH='"$(OC_NSS_MODULE)"'
tests_integration_nss_stress_LDADD = helper/lib/libochelper.la common/libocbase.la
tests_integration_nss_stress_DEPENDENCIES = helper/lib/libochelper.la common/libocbase.la \
	nss_openclaw/libnss_openclaw.la

# Through nss_wrapper (getent, id), and the real system in a namespace.
# Both need the module built; neither runs in the sanitizer build (the
# preloaded wrappers and foreign binaries do not carry the ASan runtime).
TESTS += tests/integration/nss-wrapper.sh tests/system/nss-system.sh
EXTRA_DIST += tests/integration/nss-wrapper.sh tests/system/nss-system.sh

if FUZZING
FUZZ_TARGETS += tests/fuzz/fuzz_nsscache
noinst_PROGRAMS += tests/fuzz/fuzz_nsscache
tests_fuzz_fuzz_nsscache_SOURCES = tests/fuzz/fuzz_nsscache.c
tests_fuzz_fuzz_nsscache_CFLAGS = $(AM_CFLAGS) $(FUZZ_CFLAGS)
tests_fuzz_fuzz_nsscache_LDFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_nsscache_LDADD = common/libocbase.la
endif
EXTRA_DIST += tests/fuzz/corpus/nsscache

# Benchmark (not a test): make bench
noinst_PROGRAMS += bench/nss
OC_BENCHES += bench/nss
bench_nss_SOURCES = bench/nss.c
bench_nss_CPPFLAGS = $(AM_CPPFLAGS) -DOC_NSS_MODULE_PATH='"$(OC_NSS_MODULE)"'
bench_nss_LDADD = helper/lib/libochelper.la common/libocbase.la
bench_nss_DEPENDENCIES = helper/lib/libochelper.la common/libocbase.la nss_openclaw/libnss_openclaw.la \
	bench/libnss_ocnoop.la
# the glibc floor: a no-op NSS module (never installed; -rpath makes it shared)
noinst_LTLIBRARIES += bench/libnss_ocnoop.la
bench_libnss_ocnoop_la_SOURCES = bench/nss-noop.c
bench_libnss_ocnoop_la_LDFLAGS = -module -avoid-version -shrext .so.2 -no-undefined \
	-rpath /nowhere -export-symbols-regex '^_nss_ocnoop_'
OC_NSS_NOOP_DIR = $(abs_top_builddir)/bench/.libs
bench_nss_CPPFLAGS += -DOC_NSS_NOOP_DIR='"$(OC_NSS_NOOP_DIR)"'

dist_man_MANS += man/nss_openclaw.8
