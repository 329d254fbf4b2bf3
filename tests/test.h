/* SPDX-License-Identifier: MIT */
/*
 * test.h - the few helpers every CUnit test program shares.
 *
 * Each tests/test_<module>.c registers its suites and calls mb_test_run()
 * from main(). A test program that cannot run here (no data set, no
 * io_uring) calls mb_test_skip(), which exits 77 so automake reports SKIP.
 */
#ifndef MB_TEST_H
#define MB_TEST_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>

/* Exit 77 (automake's SKIP) after saying why. */
#define mb_test_skip(...)                                     \
	do {                                                  \
		fprintf(stderr, "SKIP: " __VA_ARGS__);        \
		fputc('\n', stderr);                          \
		exit(77);                                     \
	} while (0)

/* Run every registered suite verbosely; exit status 0 only if all passed. */
static inline int mb_test_run(void)
{
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	unsigned run = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	return failed || run == 0 ? 1 : 0;
}

/* Add a suite with its tests: MB_SUITE("ring", {"wraparound", fn}, ...). */
struct mb_test_case {
	const char *name;
	void (*fn)(void);
};

static inline void mb_test_suite(const char *name, const struct mb_test_case *cases, size_t n)
{
	if (!CU_get_registry() && CU_initialize_registry() != CUE_SUCCESS)
		exit(1);
	CU_pSuite s = CU_add_suite(name, NULL, NULL);
	if (!s)
		exit(1);
	for (size_t i = 0; i < n; i++)
		if (!CU_add_test(s, cases[i].name, cases[i].fn))
			exit(1);
}
#define MB_SUITE(name, ...)                                                               \
	do {                                                                              \
		static const struct mb_test_case mb_cases_[] = {__VA_ARGS__};             \
		mb_test_suite(name, mb_cases_, sizeof mb_cases_ / sizeof mb_cases_[0]);   \
	} while (0)

/* The Fashion-MNIST directory, or skip when the data set is not installed. */
static inline const char *mb_test_fashion_dir(void)
{
	const char *d = getenv("FASHION_MNIST_DIR");
	if (!d || !*d)
		d = "/usr/share/datasets/fashion-mnist";
	char p[4096];
	snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", d);
	FILE *f = fopen(p, "rb");
	if (!f)
		mb_test_skip("Fashion-MNIST not found in %s (apt-get install dataset-fashion-mnist)", d);
	fclose(f);
	return d;
}

#endif /* MB_TEST_H */
