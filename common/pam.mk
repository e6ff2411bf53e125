# common/pam.mk: libocpam, the host policy, failure tally, audit formatting
# and module arguments shared by the PAM module and openclawctl (libc only).
noinst_LTLIBRARIES += common/libocpam.la
common_libocpam_la_SOURCES = \
	common/hostpolicy.c common/hostpolicy.h \
	common/tally.c common/tally.h \
	common/audit.c common/audit.h \
	common/pamargs.c common/pamargs.h
