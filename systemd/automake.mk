# systemd: the service unit, generated from its .in file so ExecStart names
# the sbindir this build installs into.
#
# The unit goes where systemd looks for it: systemd.pc's systemdsystemunitdir,
# taken relative to our prefix (so a /usr/local install lands in
# /usr/local/lib/systemd/system, which systemd also reads, and make distcheck
# stays inside its prefix); $(prefix)/lib/systemd/system without systemd.pc.
# `make install systemdsystemunitdir=DIR` overrides both.
systemdsystemunitdir =
mb_unitdir = dir='$(systemdsystemunitdir)'; \
	test -n "$$dir" || dir=`$(PKG_CONFIG) --define-variable=prefix='$(prefix)' \
		--define-variable=root_prefix='$(prefix)' \
		--variable=systemdsystemunitdir systemd 2>/dev/null`; \
	test -n "$$dir" || dir='$(prefix)/lib/systemd/system'

EXTRA_DIST += systemd/minibatchd.service.in systemd/README.md systemd/unit-sandbox.py
CLEANFILES += systemd/minibatchd.service

systemd/minibatchd.service: systemd/minibatchd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' $(srcdir)/systemd/minibatchd.service.in >$@.tmp && \
	mv $@.tmp $@

# The hooks take prerequisites only, so other fragments can hang theirs too.
all-local: systemd/minibatchd.service

install-data-local: install-systemd-unit
uninstall-local: uninstall-systemd-unit

install-systemd-unit: systemd/minibatchd.service
	@$(NORMAL_INSTALL)
	@$(mb_unitdir); \
	echo " $(MKDIR_P) '$(DESTDIR)'$$dir"; \
	$(MKDIR_P) "$(DESTDIR)$$dir" || exit 1; \
	echo " $(INSTALL_DATA) systemd/minibatchd.service '$(DESTDIR)'$$dir"; \
	$(INSTALL_DATA) systemd/minibatchd.service "$(DESTDIR)$$dir/minibatchd.service"

uninstall-systemd-unit:
	@$(NORMAL_UNINSTALL)
	@$(mb_unitdir); \
	echo " rm -f '$(DESTDIR)'$$dir/minibatchd.service"; \
	rm -f "$(DESTDIR)$$dir/minibatchd.service"

.PHONY: install-systemd-unit uninstall-systemd-unit
