/*
 * check_run: the one main every Check test shares: run the suite, exit
 * with automake's pass/fail status.
 */
#ifndef STOCKADE_CHECK_RUN_H
#define STOCKADE_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

/* Runs s (and frees it); EXIT_SUCCESS when every test passed. */
static inline int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
