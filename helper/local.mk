# helper/: openclawctl (admin CLI); openclawd and openclaw-token come later.
dist_man_MANS += man/openclawctl.8
# Other fragments add their subcommands with
#   helper_openclawctl_SOURCES += helper/ctl_<name>.c
# and the libraries they need to CTL_EXTRA_LIBS (linked before the common ones).

sbin_PROGRAMS += helper/openclawctl
helper_openclawctl_SOURCES = helper/openclawctl.c helper/ctl.h helper/ctl_verify.c \
	helper/ctl_status.c helper/oc_cachebuild.c helper/oc_cachebuild.h
helper_openclawctl_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS) $(CRYPTO_CFLAGS)
helper_openclawctl_LDADD = $(CTL_EXTRA_LIBS) common/libocverify.la common/libocbase.la $(CJSON_LIBS) $(CRYPTO_LIBS)
