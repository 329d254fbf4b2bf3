# bench: ingest throughput, snapshot latency and memory of the running daemon (not run by make check)
noinst_PROGRAMS += bench/ingest_bench bench/latency_bench
noinst_HEADERS += bench/bench_daemon.h

# Samples/s through minibatchd over ipc and tcp against a raw PUSH/PULL pair.
bench_ingest_bench_SOURCES = bench/ingest_bench.c bench/bench_daemon.c
bench_ingest_bench_CPPFLAGS = $(AM_CPPFLAGS) $(ZMQ_CFLAGS)
bench_ingest_bench_LDADD = lib/libminibatch.la $(ZMQ_LIBS) -lpthread

# Send-to-snapshot latency and the cost of one snapshot publication.
bench_latency_bench_SOURCES = bench/latency_bench.c bench/bench_daemon.c
bench_latency_bench_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon $(ZMQ_CFLAGS)
bench_latency_bench_LDADD = daemon/libminibatchd.la lib/libminibatch.la \
	$(ZMQ_LIBS) $(URING_LIBS) $(SYSTEMD_LIBS) $(BLAS_LIBS) $(ZLIB_LIBS) -lpthread -lm

EXTRA_DIST += bench/memory_bench.sh bench/INGEST.md
