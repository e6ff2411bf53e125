# common/nsscache.mk: NSS cache file format (writer + reader), libc only
