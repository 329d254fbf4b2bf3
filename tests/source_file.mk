# tests: file source
# Driven through its ops table with a real struct mb_ingest, from the
# daemon's convenience library: no daemon process needed.
check_PROGRAMS += tests/test_source_file
TESTS += tests/test_source_file
tests_test_source_file_CPPFLAGS = $(MB_TEST_CPPFLAGS) -I$(top_srcdir)/daemon $(URING_CFLAGS)
tests_test_source_file_LDADD = daemon/libminibatchd.la $(MB_TEST_LIBS) $(URING_LIBS)

# bench: the file reader against a plain read(2) loop. Its rule lives here,
# beside the reader it measures: bench/file_ingest [FILE] [--block-kib N]
# [--depth N]; see the comment at the top of bench/file_ingest.c.
noinst_PROGRAMS += bench/file_ingest
bench_file_ingest_SOURCES = bench/file_ingest.c daemon/file_reader.c daemon/file_reader.h
bench_file_ingest_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon $(URING_CFLAGS)
bench_file_ingest_LDADD = $(URING_LIBS) $(ZLIB_LIBS)
