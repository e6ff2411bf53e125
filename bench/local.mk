# bench/: benchmark programs (added to OC_BENCHES by the fragment of the code they measure)

# bench/helper: openclawd over its socket (latency, throughput, memory,
# refresh CPU) next to a socket floor and curl, measured in the same run.
noinst_PROGRAMS += bench/helper-load
bench_helper_load_SOURCES = bench/helper-load.c
bench_helper_load_LDADD = -lpthread
OC_BENCHES += bench/helper
CLEANFILES += bench/helper
EXTRA_DIST += bench/helper.sh
bench/helper: $(srcdir)/bench/helper.sh Makefile bench/helper-load$(EXEEXT) helper/daemon/openclawd$(EXEEXT) \
		helper/sync/openclaw-sync$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) bench && \
	sed -e 's|%%TOP_SRCDIR%%|$(abs_top_srcdir)|g' \
	    -e 's|%%TOP_BUILDDIR%%|$(abs_top_builddir)|g' $(srcdir)/bench/helper.sh >$@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@

# bench/fleet: the directory sync of H hosts against the local tenant
# (make bench-fleet; not in OC_BENCHES: it takes about 30 minutes).
CLEANFILES += bench/fleet bench/fleet.jsonl
EXTRA_DIST += bench/fleet.sh bench/fleet.py
bench/fleet: $(srcdir)/bench/fleet.sh Makefile helper/sync/openclaw-sync$(EXEEXT) helper/ctl/openclawctl$(EXEEXT)
	$(AM_V_GEN)$(MKDIR_P) bench && \
	sed -e 's|%%TOP_SRCDIR%%|$(abs_top_srcdir)|g' \
	    -e 's|%%TOP_BUILDDIR%%|$(abs_top_builddir)|g' $(srcdir)/bench/fleet.sh >$@.tmp && \
	chmod +x $@.tmp && mv $@.tmp $@

# bench/table.h: rows of the combined table (bench/run); bench/run itself.
noinst_HEADERS += bench/table.h
EXTRA_DIST += bench/run
CLEANFILES += bench/run.log
EXTRA_DIST += bench/README.md
