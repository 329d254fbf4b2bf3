# tests: proto examples
# The hex examples of proto/minibatch-proto.md, decoded and re-encoded by the
# library, and checked against the second implementation that made them.
check_PROGRAMS += tests/test_proto_examples
TESTS += tests/test_proto_examples
tests_test_proto_examples_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_proto_examples_LDADD = $(MB_TEST_LIBS)

TESTS += tools/proto-examples.py
EXTRA_DIST += tools/proto-examples.py
