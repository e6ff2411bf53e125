# common/proto.mk: libocproto, the socket protocol's frame codec and request
# table (libc only), shared by pam_openclaw, openclawd and the clients.
noinst_LTLIBRARIES += common/libocproto.la
common_libocproto_la_SOURCES = common/proto.c common/proto.h
