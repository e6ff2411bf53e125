# common/nsscache.mk: NSS cache file format (writer + reader), libc only.
# Part of libocbase (libc only), so the NSS module and openclawctl share it.
common_libocbase_la_SOURCES += common/nsscache.c common/nsscache.h
