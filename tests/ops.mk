# tests: ops (metrics, reload, configuration file)
MB_OPS_UNIT_CPPFLAGS = $(MB_TEST_CPPFLAGS) -I$(top_srcdir)/daemon
MB_OPS_UNIT_LIBS = daemon/libminibatchd.la $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_metrics
TESTS += tests/test_metrics
tests_test_metrics_CPPFLAGS = $(MB_OPS_UNIT_CPPFLAGS)
tests_test_metrics_LDADD = $(MB_OPS_UNIT_LIBS)

check_PROGRAMS += tests/test_config_file
TESTS += tests/test_config_file
tests_test_config_file_CPPFLAGS = $(MB_OPS_UNIT_CPPFLAGS)
tests_test_config_file_LDADD = $(MB_OPS_UNIT_LIBS)

check_PROGRAMS += tests/test_reload_diff
TESTS += tests/test_reload_diff
tests_test_reload_diff_CPPFLAGS = $(MB_OPS_UNIT_CPPFLAGS)
tests_test_reload_diff_LDADD = $(MB_OPS_UNIT_LIBS)

check_PROGRAMS += tests/test_daemon_metrics
TESTS += tests/test_daemon_metrics
tests_test_daemon_metrics_SOURCES = tests/test_daemon_metrics.c tests/daemon_harness.c
tests_test_daemon_metrics_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS) -DMB_VERSION_TEXT='"$(PACKAGE_VERSION)"'
tests_test_daemon_metrics_LDADD = $(MB_DAEMON_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_reload
TESTS += tests/test_daemon_reload
tests_test_daemon_reload_SOURCES = tests/test_daemon_reload.c tests/daemon_harness.c
tests_test_daemon_reload_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_reload_LDADD = $(MB_DAEMON_TEST_LIBS)
