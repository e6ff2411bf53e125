# common/proto.mk: libocproto, openclawd's socket protocol: the frame codec
# and request table (proto.c, libc only), the one client every caller uses
# (protocall.c: oc_proto_call, libc only) and the typed requests of
# pam_openclaw and openclawctl (helperclient.c, which parses answers with
# common/json.c: link libocverify after it).
noinst_LTLIBRARIES += common/libocproto.la
common_libocproto_la_SOURCES = common/proto.c common/proto.h \
	common/protocall.c common/protocall.h common/helperclient.c common/helperclient.h
common_libocproto_la_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
