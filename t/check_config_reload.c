/*
 * check_config_reload: what a reload takes from a new file.  Keys that
 * differ are described old -> new (passwords masked); restart-only keys
 * are put back, derived fields included, and named; an unchanged file
 * changes nothing.
 */
#include "check_config.h"
#include "check_run.h"
#include "config_reload.h"

/* A config with each "key", "value" pair of kv set, in order. */
static struct config *config_with(const char *const *kv)
{
	struct config *cfg = config_create();
	char err[ERR_MAX];

	for (; kv[0] != NULL; kv += 2)
		ck_assert_msg(config_set(cfg, kv[0], kv[1], err, sizeof(err)) ==
		        0,
		    "%s", err);
	return cfg;
}

START_TEST(test_unchanged)
{
	struct config *cur = config_create(), *next = config_create();
	char changed[256] = "x", kept[256] = "x";

	ck_assert_int_eq(config_reload_merge(next, cur, changed,
	                     sizeof(changed), kept, sizeof(kept)),
	    0);
	ck_assert_str_eq(changed, "");
	ck_assert_str_eq(kept, "");
	ck_assert_mem_eq(next, cur, sizeof(*cur));
	config_free(cur);
	config_free(next);
}
END_TEST

START_TEST(test_changes_described)
{
	static const char *const kv[] = { "workers", "6", "stock_strategy",
		"conditional", "database_url",
		"postgresql://shop:hunter2@db/shop", NULL };
	struct config *cur = config_create(), *next = config_with(kv);
	char changed[512], kept[64];

	ck_assert_int_eq(config_reload_merge(next, cur, changed,
	                     sizeof(changed), kept, sizeof(kept)),
	    3);
	ck_assert_str_eq(changed,
	    "workers: 8 -> 6; database_url: \"dbname=stockade\" -> "
	    "\"postgresql://shop:****@db/shop\"; stock_strategy: "
	    "pessimistic -> conditional");
	ck_assert_str_eq(kept, "");
	ck_assert_int_eq(next->workers, 6);
	config_free(cur);
	config_free(next);
}
END_TEST

/* listen goes back with its derived fields: kind, host and port. */
START_TEST(test_restart_keys_kept)
{
	static const char *const was[] = { "listen", "127.0.0.1:9000", NULL };
	static const char *const now[] = { "listen", "/run/other.sock",
		"socket_mode", "0600", "max_requests", "10", NULL };
	struct config *cur = config_with(was), *next = config_with(now);
	struct config *want = config_with(was);
	char changed[256], kept[256], err[ERR_MAX];

	ck_assert_int_eq(config_reload_merge(next, cur, changed,
	                     sizeof(changed), kept, sizeof(kept)),
	    1);
	ck_assert_str_eq(kept, "listen, socket_mode");
	ck_assert_str_eq(changed, "max_requests: 0 -> 10");
	ck_assert_int_eq(config_set(want, "max_requests", "10", err,
	                     sizeof(err)),
	    0);
	ck_assert_mem_eq(next, want, sizeof(*want));
	ck_assert_int_eq(next->listen_kind, LISTEN_TCP);
	ck_assert_int_eq(next->listen_port, 9000);
	config_free(cur);
	config_free(next);
	config_free(want);
}
END_TEST

/* Full buffers cut the lists short, still terminated; none is written. */
START_TEST(test_small_buffers)
{
	static const char *const kv[] = { "workers", "6", "max_requests", "10",
		"listen", "/run/other.sock", "socket_mode", "0600", NULL };
	struct config *cur = config_create(), *next = config_with(kv);
	char changed[12], kept[8];

	memset(changed, 'x', sizeof(changed));
	memset(kept, 'x', sizeof(kept));
	ck_assert_int_eq(config_reload_merge(next, cur, changed,
	                     sizeof(changed), kept, sizeof(kept)),
	    2);
	ck_assert_str_eq(changed, "workers: 8 ");
	ck_assert_str_eq(kept, "listen,");
	ck_assert_int_eq(config_reload_merge(next, cur, NULL, 0, NULL, 0), 2);
	config_free(cur);
	config_free(next);
}
END_TEST

/* Every row that needs a restart is one a reload must not touch. */
START_TEST(test_restart_rows)
{
	const char *want[] = { "user", "group", "listen", "socket_mode",
		"socket_owner", "socket_group", "log_file" };
	int n = 0;

	for (size_t i = 0; i < config_nkeys; i++) {
		if (!config_keys[i].restart)
			continue;
		ck_assert_int_lt(n, NCASES(want));
		ck_assert_str_eq(config_keys[i].name, want[n]);
		n++;
	}
	ck_assert_int_eq(n, NCASES(want));
}
END_TEST

static Suite *config_reload_suite(void)
{
	Suite *s = suite_create("config_reload");
	TCase *tc = tcase_create("merge");

	tcase_add_test(tc, test_unchanged);
	tcase_add_test(tc, test_changes_described);
	tcase_add_test(tc, test_restart_keys_kept);
	tcase_add_test(tc, test_small_buffers);
	tcase_add_test(tc, test_restart_rows);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(config_reload_suite());
}
