# tests: the divergence guard, the holdout, and bad input end to end
check_PROGRAMS += tests/test_divergence
TESTS += tests/test_divergence
tests_test_divergence_CPPFLAGS = $(MB_TEST_CPPFLAGS) -I$(top_srcdir)/daemon
tests_test_divergence_LDADD = daemon/libminibatchd.la $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_divergence
TESTS += tests/test_daemon_divergence
tests_test_daemon_divergence_SOURCES = tests/test_daemon_divergence.c tests/daemon_harness.c
tests_test_daemon_divergence_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_divergence_LDADD = $(MB_DAEMON_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_badinput
TESTS += tests/test_daemon_badinput
tests_test_daemon_badinput_SOURCES = tests/test_daemon_badinput.c tests/daemon_harness.c
tests_test_daemon_badinput_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_badinput_LDADD = $(MB_DAEMON_TEST_LIBS)

check_PROGRAMS += tests/test_holdout
TESTS += tests/test_holdout
tests_test_holdout_CPPFLAGS = $(MB_TEST_CPPFLAGS) -I$(top_srcdir)/daemon
tests_test_holdout_LDADD = daemon/libminibatchd.la $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_holdout
TESTS += tests/test_daemon_holdout
tests_test_daemon_holdout_SOURCES = tests/test_daemon_holdout.c tests/daemon_harness.c
tests_test_daemon_holdout_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_holdout_LDADD = $(MB_DAEMON_TEST_LIBS)
