/*
 * check_master: the master's respawn back-off, the one pure decision of
 * the supervisor: at once after a worker that lived or died once, then
 * 100 ms doubling up to 10 s while workers keep dying at start.
 */
#include <check.h>
#include <stdint.h>

#include "master.h"
#include "check_run.h"

START_TEST(test_respawn_delay)
{
	static const int64_t want[] = { 0, 0, 100, 200, 400, 800, 1600, 3200,
		6400, 10000, 10000, 10000 };

	for (unsigned n = 0; n < sizeof(want) / sizeof(want[0]); n++)
		ck_assert_msg(master_respawn_delay_ms(n) == want[n],
		    "%u quick deaths: %lld ms, want %lld", n,
		    (long long)master_respawn_delay_ms(n), (long long)want[n]);
}
END_TEST

/* However long the crash loop, the wait stays at the cap: no overflow. */
START_TEST(test_respawn_delay_capped)
{
	int64_t prev = 0;

	for (unsigned n = 0; n < 1000; n++) {
		int64_t d = master_respawn_delay_ms(n);

		ck_assert(d >= prev);
		ck_assert(d <= 10000);
		prev = d;
	}
	ck_assert(master_respawn_delay_ms(64) == 10000);
	ck_assert(master_respawn_delay_ms(UINT32_MAX) == 10000);
	ck_assert(master_respawn_delay_ms(~0u) == 10000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("master");
	TCase *tc = tcase_create("respawn");

	tcase_add_test(tc, test_respawn_delay);
	tcase_add_test(tc, test_respawn_delay_capped);
	suite_add_tcase(s, tc);
	return check_run(s);
}
