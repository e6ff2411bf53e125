# helper/lib/local.mk: libochelper, what more than one helper program needs
# (helper/lib/README.md): the one ssh wire encoder, the NSS cache writer
# (oc_nsscwrite: the image; oc_cachebuild: its users and groups from the
# config and directory.json), the sweep of temporary files a killed writer
# left behind, the one reader of private files. The NSS cache tests and
# bench/nss link it for the writer (nss_openclaw/local.mk).
noinst_LTLIBRARIES += helper/lib/libochelper.la
helper_lib_libochelper_la_SOURCES = helper/lib/oc_sshwire.c helper/lib/oc_sshwire.h \
	helper/lib/oc_nsscwrite.c helper/lib/oc_nsscwrite.h \
	helper/lib/oc_cachebuild.c helper/lib/oc_cachebuild.h \
	helper/lib/oc_sweep.c helper/lib/oc_sweep.h \
	helper/lib/oc_privfile.c helper/lib/oc_privfile.h
helper_lib_libochelper_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS)
EXTRA_DIST += helper/lib/README.md

if HAVE_CMOCKA
# the ssh wire formats of ssh-sign (OpenSSL only, no TPM)
check_PROGRAMS += tests/unit/test_sshsign
TESTS += tests/unit/test_sshsign
tests_unit_test_sshsign_SOURCES = tests/unit/test_sshsign.c helper/lib/oc_sshwire.c helper/lib/oc_sshwire.h
tests_unit_test_sshsign_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CRYPTO_CFLAGS)
tests_unit_test_sshsign_LDADD = $(CMOCKA_LIBS) $(CRYPTO_LIBS)
# the one private-file reader: symlink, FIFO, mode, size, empty
check_PROGRAMS += tests/unit/test_privfile
TESTS += tests/unit/test_privfile
tests_unit_test_privfile_SOURCES = tests/unit/test_privfile.c helper/lib/oc_privfile.c \
	helper/lib/oc_privfile.h
tests_unit_test_privfile_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_privfile_LDADD = common/libocbase.la $(CMOCKA_LIBS)
endif
