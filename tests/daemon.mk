# tests: daemon. The integration tests start the real daemon binary (its
# path is compiled in) on ipc sockets in a temporary directory.
MB_DAEMON_TEST_CPPFLAGS = $(MB_TEST_CPPFLAGS) $(ZMQ_CFLAGS) \
	-DMB_DAEMON_PATH='"$(abs_top_builddir)/daemon/minibatchd"'
MB_DAEMON_TEST_LIBS = $(MB_TEST_LIBS) $(ZMQ_LIBS)
noinst_HEADERS += tests/daemon_harness.h

check_PROGRAMS += tests/test_daemon_push
TESTS += tests/test_daemon_push
tests_test_daemon_push_SOURCES = tests/test_daemon_push.c tests/daemon_harness.c
tests_test_daemon_push_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_push_LDADD = $(MB_DAEMON_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_pubsub
TESTS += tests/test_daemon_pubsub
tests_test_daemon_pubsub_SOURCES = tests/test_daemon_pubsub.c tests/daemon_harness.c
tests_test_daemon_pubsub_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_pubsub_LDADD = $(MB_DAEMON_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_snapshot
TESTS += tests/test_daemon_snapshot
tests_test_daemon_snapshot_SOURCES = tests/test_daemon_snapshot.c tests/daemon_harness.c
tests_test_daemon_snapshot_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_snapshot_LDADD = $(MB_DAEMON_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_control
TESTS += tests/test_daemon_control
tests_test_daemon_control_SOURCES = tests/test_daemon_control.c tests/daemon_harness.c
tests_test_daemon_control_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_control_LDADD = $(MB_DAEMON_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_reject
TESTS += tests/test_daemon_reject
tests_test_daemon_reject_SOURCES = tests/test_daemon_reject.c tests/daemon_harness.c
tests_test_daemon_reject_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_reject_LDADD = $(MB_DAEMON_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_flood
TESTS += tests/test_daemon_flood
tests_test_daemon_flood_SOURCES = tests/test_daemon_flood.c tests/daemon_harness.c
tests_test_daemon_flood_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_flood_LDADD = $(MB_DAEMON_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_lifecycle
TESTS += tests/test_daemon_lifecycle
tests_test_daemon_lifecycle_SOURCES = tests/test_daemon_lifecycle.c tests/daemon_harness.c
tests_test_daemon_lifecycle_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_lifecycle_LDADD = $(MB_DAEMON_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_config
TESTS += tests/test_daemon_config
tests_test_daemon_config_CPPFLAGS = $(MB_TEST_CPPFLAGS) -I$(top_srcdir)/daemon
tests_test_daemon_config_LDADD = daemon/libminibatchd.la $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_handover
TESTS += tests/test_daemon_handover
tests_test_daemon_handover_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_daemon_handover_LDADD = daemon/libminibatchd.la $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_filesrc
TESTS += tests/test_daemon_filesrc
tests_test_daemon_filesrc_SOURCES = tests/test_daemon_filesrc.c tests/daemon_harness.c
tests_test_daemon_filesrc_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_filesrc_LDADD = $(MB_DAEMON_TEST_LIBS)

check_PROGRAMS += tests/test_blas_reexec
TESTS += tests/test_blas_reexec
tests_test_blas_reexec_SOURCES = tests/test_blas_reexec.c tests/daemon_harness.c
tests_test_blas_reexec_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_blas_reexec_LDADD = $(MB_DAEMON_TEST_LIBS)
