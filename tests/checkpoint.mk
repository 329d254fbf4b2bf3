# tests: checkpoints. The store and the sections from the daemon's
# convenience library, the file source resuming through its restore hook,
# and the real daemon killed and restarted.
check_PROGRAMS += tests/test_checkpoint_store
TESTS += tests/test_checkpoint_store
tests_test_checkpoint_store_CPPFLAGS = $(MB_TEST_CPPFLAGS) -I$(top_srcdir)/daemon
tests_test_checkpoint_store_LDADD = daemon/libminibatchd.la $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_checkpoint_state
TESTS += tests/test_checkpoint_state
tests_test_checkpoint_state_CPPFLAGS = $(MB_TEST_CPPFLAGS) -I$(top_srcdir)/daemon
tests_test_checkpoint_state_LDADD = daemon/libminibatchd.la $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_source_file_resume
TESTS += tests/test_source_file_resume
tests_test_source_file_resume_CPPFLAGS = $(MB_TEST_CPPFLAGS) -I$(top_srcdir)/daemon $(URING_CFLAGS)
tests_test_source_file_resume_LDADD = daemon/libminibatchd.la $(MB_TEST_LIBS) $(URING_LIBS)

check_PROGRAMS += tests/test_daemon_checkpoint
TESTS += tests/test_daemon_checkpoint
tests_test_daemon_checkpoint_SOURCES = tests/test_daemon_checkpoint.c tests/daemon_harness.c
tests_test_daemon_checkpoint_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS) -I$(top_srcdir)/daemon
tests_test_daemon_checkpoint_LDADD = daemon/libminibatchd.la $(MB_DAEMON_TEST_LIBS)
