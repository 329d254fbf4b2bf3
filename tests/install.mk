# tests: the installed tree, the manual pages, minibatchctl plot and the
# client API examples (scripts, run as they are).
TESTS += tests/test_man.sh tests/test_plot.sh tests/test_examples.sh tests/test_install.sh
EXTRA_DIST += tests/test_man.sh tests/test_plot.sh tests/test_examples.sh tests/test_install.sh

# test_install.sh installs into a DESTDIR with the configured directories and
# builds an example against it with the configured compiler and sanitizers.
AM_TESTS_ENVIRONMENT += \
	MB_MAKE='$(MAKE)'; export MB_MAKE; \
	MB_CC='$(CC)'; export MB_CC; \
	MB_SAN_CFLAGS='$(MB_SAN_CFLAGS)'; export MB_SAN_CFLAGS; \
	MB_INSTALL_PREFIX='$(prefix)'; export MB_INSTALL_PREFIX; \
	MB_INSTALL_BINDIR='$(bindir)'; export MB_INSTALL_BINDIR; \
	MB_INSTALL_SBINDIR='$(sbindir)'; export MB_INSTALL_SBINDIR; \
	MB_INSTALL_LIBDIR='$(libdir)'; export MB_INSTALL_LIBDIR; \
	MB_INSTALL_INCLUDEDIR='$(includedir)'; export MB_INSTALL_INCLUDEDIR; \
	MB_INSTALL_MANDIR='$(mandir)'; export MB_INSTALL_MANDIR; \
	MB_INSTALL_DOCDIR='$(docdir)'; export MB_INSTALL_DOCDIR;
