# tests: learning (models, optimizers, the learner, real data)
MB_LEARNING_TESTS = \
	tests/test_model \
	tests/test_kernels \
	tests/test_blas_core \
	tests/test_optim \
	tests/test_learner \
	tests/test_fashion

check_PROGRAMS += $(MB_LEARNING_TESTS)
TESTS += $(MB_LEARNING_TESTS)

tests_test_blas_core_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_blas_core_LDADD = $(MB_TEST_LIBS)

tests_test_model_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_model_LDADD = $(MB_TEST_LIBS)

tests_test_kernels_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_kernels_LDADD = $(MB_TEST_LIBS)

tests_test_optim_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_optim_LDADD = $(MB_TEST_LIBS)

tests_test_learner_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_learner_LDADD = $(MB_TEST_LIBS)

tests_test_fashion_CPPFLAGS = $(MB_TEST_CPPFLAGS)
tests_test_fashion_LDADD = $(MB_TEST_LIBS)
