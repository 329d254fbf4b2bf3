# One CUnit program per module; tests/test.h holds the shared helpers.
# A program tests/test_foo is built from tests/test_foo.c (automake's
# default source) unless its fragment names more sources.
MB_TEST_CPPFLAGS = $(AM_CPPFLAGS) $(CUNIT_CFLAGS) -I$(top_srcdir)/tests
MB_TEST_LIBS = lib/libminibatch.la $(CUNIT_LIBS) $(BLAS_LIBS) $(ZLIB_LIBS) -lm
noinst_HEADERS += tests/test.h

include tests/formats.mk
include tests/learning.mk
include tests/queues.mk
include tests/daemon.mk
include tests/proto.mk
include tests/source_file.mk
include tests/tools.mk
include tests/systemd.mk
include tests/checkpoint.mk
include tests/ops.mk
include tests/python.mk
include tests/install.mk
include tests/torture.mk
include tests/guard.mk
include tests/peers.mk
include tests/security.mk
