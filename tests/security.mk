# tests: security. CURVE on the daemon's tcp endpoints: the real daemon,
# allowed and refused clients (the daemon's own harness, tests/daemon.mk).
check_PROGRAMS += tests/test_daemon_curve
TESTS += tests/test_daemon_curve
tests_test_daemon_curve_SOURCES = tests/test_daemon_curve.c tests/daemon_harness.c
tests_test_daemon_curve_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_curve_LDADD = $(MB_DAEMON_TEST_LIBS)

# The ZAP handler and the CURVE endpoint options in-process (daemon/zap.c, daemon/curve.c).
check_PROGRAMS += tests/test_zap
TESTS += tests/test_zap
tests_test_zap_SOURCES = tests/test_zap.c tests/daemon_harness.c
tests_test_zap_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS) -I$(top_srcdir)/daemon
tests_test_zap_LDADD = daemon/libminibatchd.la $(MB_DAEMON_TEST_LIBS) -lpthread

# minibatchctl's CURVE options and keygen against a daemon that requires CURVE (a script).
TESTS += tests/test_ctl_curve.sh
EXTRA_DIST += tests/test_ctl_curve.sh
