# data/: the system integration files `make install` lays out
# (docs/packaging.md): the systemd unit, the sysusers.d and tmpfiles.d
# snippets, the pam-auth-update profile, and openclaw.conf (installed only
# when there is none: see install-data-hook in Makefile.am). Directories:
# configure --with-systemdsystemunitdir, --with-sysusersdir,
# --with-tmpfilesdir, --with-pamconfigsdir.

# The unit names the programs and the configuration by path: those of this
# build, not the /usr ones data/openclawd.service is written with.
OC_UNIT_SED = sed -e 's|/usr/sbin/openclawd|$(sbindir)/openclawd|g' \
	-e 's|/usr/sbin/openclaw-sync|$(sbindir)/openclaw-sync|g' \
	-e 's|/usr/sbin/openclawctl|$(sbindir)/openclawctl|g' \
	-e 's|/etc/openclaw/|$(sysconfdir)/openclaw/|g'

install-data-local: install-oc-system-files
install-oc-system-files:
	$(MKDIR_P) '$(DESTDIR)$(systemdsystemunitdir)' '$(DESTDIR)$(sysusersdir)' \
		'$(DESTDIR)$(tmpfilesdir)' '$(DESTDIR)$(pamconfigsdir)'
	$(OC_UNIT_SED) '$(srcdir)/data/openclawd.service' >'$(DESTDIR)$(systemdsystemunitdir)/openclawd.service.tmp'
	chmod 0644 '$(DESTDIR)$(systemdsystemunitdir)/openclawd.service.tmp'
	mv -f '$(DESTDIR)$(systemdsystemunitdir)/openclawd.service.tmp' \
		'$(DESTDIR)$(systemdsystemunitdir)/openclawd.service'
	$(OC_UNIT_SED) '$(srcdir)/data/openclaw-sync.service' >'$(DESTDIR)$(systemdsystemunitdir)/openclaw-sync.service.tmp'
	chmod 0644 '$(DESTDIR)$(systemdsystemunitdir)/openclaw-sync.service.tmp'
	mv -f '$(DESTDIR)$(systemdsystemunitdir)/openclaw-sync.service.tmp' \
		'$(DESTDIR)$(systemdsystemunitdir)/openclaw-sync.service'
	$(INSTALL_DATA) '$(srcdir)/data/openclaw-sync.timer' '$(srcdir)/data/openclaw-sync.path' \
		'$(DESTDIR)$(systemdsystemunitdir)/'
	$(OC_UNIT_SED) '$(srcdir)/data/openclawd-imds.socket' >'$(DESTDIR)$(systemdsystemunitdir)/openclawd-imds.socket.tmp'
	chmod 0644 '$(DESTDIR)$(systemdsystemunitdir)/openclawd-imds.socket.tmp'
	mv -f '$(DESTDIR)$(systemdsystemunitdir)/openclawd-imds.socket.tmp' \
		'$(DESTDIR)$(systemdsystemunitdir)/openclawd-imds.socket'
	$(INSTALL_DATA) '$(srcdir)/data/openclaw.sysusers' '$(DESTDIR)$(sysusersdir)/openclaw.conf'
	$(INSTALL_DATA) '$(srcdir)/data/openclaw.tmpfiles' '$(DESTDIR)$(tmpfilesdir)/openclaw.conf'
	$(INSTALL_DATA) '$(srcdir)/data/pam-configs/openclaw' '$(DESTDIR)$(pamconfigsdir)/openclaw'

uninstall-local:
	rm -f '$(DESTDIR)$(systemdsystemunitdir)/openclawd.service' \
		'$(DESTDIR)$(systemdsystemunitdir)/openclaw-sync.service' \
		'$(DESTDIR)$(systemdsystemunitdir)/openclaw-sync.timer' \
		'$(DESTDIR)$(systemdsystemunitdir)/openclaw-sync.path' \
		'$(DESTDIR)$(systemdsystemunitdir)/openclawd-imds.socket' \
		'$(DESTDIR)$(sysusersdir)/openclaw.conf' '$(DESTDIR)$(tmpfilesdir)/openclaw.conf' \
		'$(DESTDIR)$(pamconfigsdir)/openclaw'
	@f='$(DESTDIR)$(sysconfdir)/openclaw/openclaw.conf'; \
	if cmp -s "$$f" '$(srcdir)/data/openclaw.conf'; then rm -f "$$f"; \
	  rmdir '$(DESTDIR)$(sysconfdir)/openclaw' 2>/dev/null || :; \
	elif [ -e "$$f" ]; then echo "keeping $$f (edited: remove it yourself)"; fi

.PHONY: install-oc-system-files

# bash completion for openclawctl and openclaw-token (bash-completion loads
# them on demand from this directory).
bashcompletiondir = $(datadir)/bash-completion/completions
dist_bashcompletion_DATA = data/bash-completion/openclawctl data/bash-completion/openclaw-token
TESTS += tests/integration/completion.sh
EXTRA_DIST += tests/integration/completion.sh
