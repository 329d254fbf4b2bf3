# bench: harness programs (run by bench/run, not by make check)
noinst_PROGRAMS += bench/sgemm_peak bench/batch_curve

# OpenBLAS alone on the sgemm shapes of one training step, and its build configuration.
bench_sgemm_peak_SOURCES = bench/sgemm_peak.c
bench_sgemm_peak_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS)
bench_sgemm_peak_LDADD = $(BLAS_LIBS)

# Per-batch cost log and periodic accuracy of one training run (batch-size experiment, quality).
bench_batch_curve_SOURCES = bench/batch_curve.c bench/bench_learner.c bench/bench_learner.h
bench_batch_curve_CPPFLAGS = $(AM_CPPFLAGS) $(BLAS_CFLAGS)
bench_batch_curve_LDADD = lib/libminibatch.la $(BLAS_LIBS) -lm

EXTRA_DIST += bench/run bench/README.md bench/harness.py bench/pytrain.py bench/batch_size.py bench/svg.py
