# bench: the long soak and the stalled subscriber (run by bench/soak and bench/stall, not by make check)
noinst_PROGRAMS += bench/soak_run bench/stall_run
noinst_HEADERS += bench/soak_daemon.h

# 100 million samples through one daemon: flat memory, balanced counters, a clean exit.
bench_soak_run_SOURCES = bench/soak_run.c bench/soak_daemon.c bench/bench_daemon.c
bench_soak_run_CPPFLAGS = $(AM_CPPFLAGS) $(ZMQ_CFLAGS)
bench_soak_run_LDADD = lib/libminibatch.la $(ZMQ_LIBS) -lpthread

# Trainer throughput with a subscriber that stops reading for 60 s against none.
bench_stall_run_SOURCES = bench/stall_run.c bench/soak_daemon.c bench/bench_daemon.c
bench_stall_run_CPPFLAGS = $(AM_CPPFLAGS) $(ZMQ_CFLAGS)
bench_stall_run_LDADD = lib/libminibatch.la $(ZMQ_LIBS) -lpthread

EXTRA_DIST += bench/soak bench/stall
