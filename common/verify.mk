# common/verify.mk: build fragment (filled in by the code it builds)
