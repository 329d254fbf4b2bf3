# tests: python. The Python client (clients/python) checked against the C
# library through tests/pyref, which prints the library's encodings and
# predictions, and against the real daemon.
check_PROGRAMS += tests/pyref
tests_pyref_LDADD = lib/libminibatch.la $(BLAS_LIBS) $(ZLIB_LIBS) -lm

# A .py test runs under python3 without writing bytecode into the sources;
# it exits 77 (SKIP) when numpy or pyzmq is missing.
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = python3
AM_PY_LOG_FLAGS = -B
TESTS += clients/python/test_minibatch.py
EXTRA_DIST += clients/python/test_minibatch.py
