# common/nsscache.mk: the NSS cache file's reader, byte layout and atomic
# replacement, libc only. Part of libocbase, so the NSS module and
# openclawctl share it. The writer (oc_nssc_build) is helper/lib/oc_nsscwrite.c,
# in libochelper: the module never carries it.
common_libocbase_la_SOURCES += common/nsscache.c common/nsscache.h common/nsscache_layout.h
