# tests: ZeroMQ peers that misbehave (garbage, stalls, slow subscribers) and
# peers that come and go (reconnects), against the real daemon.
check_PROGRAMS += tests/test_daemon_peers
TESTS += tests/test_daemon_peers
tests_test_daemon_peers_SOURCES = tests/test_daemon_peers.c tests/daemon_harness.c
tests_test_daemon_peers_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS)
tests_test_daemon_peers_LDADD = $(MB_DAEMON_TEST_LIBS)
