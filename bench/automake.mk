# bench: training throughput against the reference loops (not run by make check)
noinst_PROGRAMS += bench/train_bench

bench_train_bench_SOURCES = bench/train_bench.c bench/bench_learner.c bench/bench_learner.h
bench_train_bench_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS)
bench_train_bench_LDADD = lib/libminibatch.la $(BLAS_LIBS) -lm

include bench/bench.mk
include bench/ingest.mk
include bench/soak.mk
