# tests: minibatchctl and client

check_PROGRAMS += tests/test_client
TESTS += tests/test_client
tests_test_client_CPPFLAGS = $(MB_TEST_CPPFLAGS) $(ZMQ_CFLAGS)
tests_test_client_LDADD = $(MB_TEST_LIBS) $(ZMQ_LIBS) -lpthread

check_PROGRAMS += tests/test_ctl_json
TESTS += tests/test_ctl_json
tests_test_ctl_json_SOURCES = tests/test_ctl_json.c tools/ctl_json.c
tests_test_ctl_json_CPPFLAGS = $(MB_TEST_CPPFLAGS) -I$(top_srcdir)/tools
tests_test_ctl_json_LDADD = $(MB_TEST_LIBS)

# Every minibatchctl subcommand against a running daemon (a script, run as is).
TESTS += tests/test_minibatchctl.sh
EXTRA_DIST += tests/test_minibatchctl.sh tests/daemon_harness.sh
