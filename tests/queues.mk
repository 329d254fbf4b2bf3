# tests: queues, batching, shuffling and online evaluation
MB_QUEUE_TESTS = \
	tests/test_rng \
	tests/test_ring \
	tests/test_ring_stress \
	tests/test_doorbell \
	tests/test_feed \
	tests/test_batch \
	tests/test_shuffle \
	tests/test_eval

check_PROGRAMS += $(MB_QUEUE_TESTS)
TESTS += $(MB_QUEUE_TESTS)

tests_test_rng_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_rng_LDADD = $(MB_TEST_LIBS)

tests_test_ring_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_ring_LDADD = $(MB_TEST_LIBS)

tests_test_ring_stress_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_ring_stress_LDADD = $(MB_TEST_LIBS) -lpthread

tests_test_doorbell_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_doorbell_LDADD = $(MB_TEST_LIBS) -lpthread

tests_test_feed_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_feed_LDADD = $(MB_TEST_LIBS) -lpthread

tests_test_batch_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_batch_LDADD = $(MB_TEST_LIBS)

tests_test_shuffle_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_shuffle_LDADD = $(MB_TEST_LIBS)

tests_test_eval_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_eval_LDADD = $(MB_TEST_LIBS)

# The lock-free code under ThreadSanitizer (configure --enable-tsan): the
# stress test at full size; any TSan report fails the run.
MB_TSAN_TESTS = tests/test_ring tests/test_ring_stress tests/test_feed tests/test_doorbell
MB_TSAN_STRESS_ITEMS = 10000000

check-tsan: $(MB_TSAN_TESTS)
	@failed=0; for t in $(MB_TSAN_TESTS); do \
		echo "check-tsan: $$t"; \
		if MB_RING_STRESS_ITEMS=$(MB_TSAN_STRESS_ITEMS) \
		   TSAN_OPTIONS="halt_on_error=1 exitcode=66 $$TSAN_OPTIONS" \
		   OPENBLAS_NUM_THREADS=1 ./$$t >$$t.tsan.log 2>&1; then \
			echo "PASS: $$t"; \
		else \
			echo "FAIL: $$t (see $$t.tsan.log)"; tail -n 40 $$t.tsan.log; failed=1; \
		fi; \
	done; test $$failed = 0
.PHONY: check-tsan
CLEANFILES += tests/*.tsan.log
