# tests: formats
check_PROGRAMS += tests/test_crc32c
TESTS += tests/test_crc32c
tests_test_crc32c_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_crc32c_LDADD = $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_sample_bin
TESTS += tests/test_sample_bin
tests_test_sample_bin_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_sample_bin_LDADD = $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_sample_text
TESTS += tests/test_sample_text
tests_test_sample_text_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_sample_text_LDADD = $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_idx
TESTS += tests/test_idx
tests_test_idx_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_idx_LDADD = $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_snapshot
TESTS += tests/test_snapshot
tests_test_snapshot_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_snapshot_LDADD = $(MB_TEST_LIBS)

check_PROGRAMS += tests/test_checkpoint
TESTS += tests/test_checkpoint
tests_test_checkpoint_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_checkpoint_LDADD = $(MB_TEST_LIBS)
