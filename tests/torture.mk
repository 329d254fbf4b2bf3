# tests: checkpoints under power cuts, failing calls and SIGKILL. The
# power-loss test links the allocators wrapped, so it can fail the Nth
# allocation the store makes; the torture test kills the real daemon
# TORTURE_KILLS times (bench/torture.sh runs it longer).
check_PROGRAMS += tests/test_ckpt_powerloss
TESTS += tests/test_ckpt_powerloss
tests_test_ckpt_powerloss_CPPFLAGS = $(MB_TEST_CPPFLAGS) -I$(top_srcdir)/daemon
tests_test_ckpt_powerloss_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=malloc -Wl,--wrap=calloc \
	-Wl,--wrap=realloc -Wl,--wrap=strdup
tests_test_ckpt_powerloss_LDADD = daemon/libminibatchd.la $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_daemon_torture
TESTS += tests/test_daemon_torture
tests_test_daemon_torture_SOURCES = tests/test_daemon_torture.c tests/daemon_harness.c
tests_test_daemon_torture_CPPFLAGS = $(MB_DAEMON_TEST_CPPFLAGS) -I$(top_srcdir)/daemon
tests_test_daemon_torture_LDADD = daemon/libminibatchd.la $(MB_DAEMON_TEST_LIBS)

# The long run, by hand: bench/torture.sh.
EXTRA_DIST += bench/torture.sh
