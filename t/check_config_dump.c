/*
 * check_config_dump: the dump (every key's effective value, read back
 * unchanged, passwords masked) and the usage listing; and the documents
 * that promise the same: etc/stockade.conf.sample and docs/configuration.md
 * are held to the key table.
 */
#include "check_config.h"
#include "check_run.h"
#include "coupon_gate.h"
#include "coupon_issue.h"
#include "point.h"
#include "stock.h"

START_TEST(test_dump_defaults)
{
	static const char want[] = "workers = 8\n"
	                           "max_requests = 0\n"
	                           "shutdown_timeout = 10s\n"
	                           "user = \"\"\n"
	                           "group = \"\"\n"
	                           "request_timeout = 20s\n"
	                           "slow_request = 1s\n"
	                           "listen = \"/run/stockade/stockade.sock\"\n"
	                           "socket_mode = 0660\n"
	                           "socket_owner = \"\"\n"
	                           "socket_group = \"\"\n"
	                           "listen_backlog = 1024\n"
	                           "fastcgi_timeout = 5s\n"
	                           "database_url = \"dbname=stockade\"\n"
	                           "database_read_url = \"\"\n"
	                           "database_read_max_lag = 1s\n"
	                           "statement_timeout = 5s\n"
	                           "lock_timeout = 2s\n"
	                           "idle_in_transaction_timeout = 10s\n"
	                           "db_retries = 3\n"
	                           "redis_url = \"redis://127.0.0.1:6379\"\n"
	                           "redis_sentinels = \"\"\n"
	                           "redis_master_name = \"mymaster\"\n"
	                           "redis_timeout = 250ms\n"
	                           "redis_cooldown = 1s\n"
	                           "auth_secret_file = \"\"\n"
	                           "max_body = 64k\n"
	                           "retry_after = 1\n"
	                           "status_public = off\n"
	                           "metrics_public = off\n"
	                           "stock_strategy = pessimistic\n"
	                           "reservation_ttl = 10min\n"
	                           "reaper_interval = 1s\n"
	                           "reaper_batch = 100\n"
	                           "idempotency_ttl = 24h\n"
	                           "point_strategy = optimistic\n"
	                           "point_retries = 5\n"
	                           "max_charge = 1000000\n"
	                           "max_balance = 1000000000\n"
	                           "coupon_strategy = pessimistic\n"
	                           "coupon_shards = 16\n"
	                           "coupon_gate = redis\n"
	                           "coupon_cache_ttl = 1s\n"
	                           "queue_consumers = 4\n"
	                           "queue_batch = 64\n"
	                           "log_level = info\n"
	                           "log_format = text\n"
	                           "log_file = \"\"\n";
	struct config *cfg = config_create();
	char *text = dump_text(cfg);

	ck_assert_str_eq(text, want);
	free(text);
	config_free(cfg);
}
END_TEST

START_TEST(test_dump_round_trip)
{
	struct config *cfg = config_create(), *back = config_create();
	char err[ERR_MAX] = "";
	char *text;

	ck_assert_int_eq(config_set(cfg, "auth_secret_file",
	                     " /tmp/a \"b\" \\c #d ", err, sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "listen", "[::1]:9000", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "redis_url", "unix:/tmp/r.sock", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "statement_timeout", "1500", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "max_body", "1000", err, sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "socket_mode", "0", err, sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "stock_strategy", "conditional", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "reservation_ttl", "90min", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "idempotency_ttl", "86401s", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "point_strategy", "pessimistic", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "point_retries", "0", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "max_charge", "1", err, sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "max_balance", "1000000000000", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "log_level", "debug", err,
	                     sizeof(err)),
	    0);
	text = dump_text(cfg);
	ck_assert_msg(config_load_string(back, "dump", text, strlen(text), err,
	                  sizeof(err)) == 0,
	    "%s\n%s", err, text);
	ck_assert_mem_eq(back, cfg, sizeof(*cfg));
	free(text);
	config_free(back);
	config_free(cfg);
}
END_TEST

static const struct good_case redactions[] = {
	{ "database_url",
	    "postgresql://app:s3cret@db:5432/shop?sslmode=require&password=x",
	    "\"postgresql://app:****@db:5432/shop?sslmode=require"
	    "&password=****\"" },
	{ "database_url", "postgres://app@db/shop",
	    "\"postgres://app@db/shop\"" },
	{ "database_url", "postgres://:pw@/shop?host=/run/pg",
	    "\"postgres://:****@/shop?host=/run/pg\"" },
	{ "database_url", "password=abc host=db", "\"password=**** host=db\"" },
	{ "database_url", "host=db password = 'a b\\'c' user=app",
	    "\"host=db password = **** user=app\"" },
	{ "database_url", "host=db passwordx=1 mypassword=2",
	    "\"host=db passwordx=1 mypassword=2\"" },
	{ "database_url", "host=db dbname=password",
	    "\"host=db dbname=password\"" },
	/* sslpassword unlocks the client's key: as secret as a password. */
	{ "database_url", "host=db sslpassword=k3y sslkey=/etc/k",
	    "\"host=db sslpassword=**** sslkey=/etc/k\"" },
	{ "database_url",
	    "postgresql://db/shop?sslpassword=k3y&sslmode=verify-full",
	    "\"postgresql://db/shop?sslpassword=****&sslmode=verify-full\"" },
	{ "database_url", "host=db mysslpassword=1",
	    "\"host=db mysslpassword=1\"" },
	/* A "password=" before the query is in the host, no parameter:
	 * masked, the dump would read back with another host (fuzz_config). */
	{ "database_url", "postgres://0&sslpassword=a/b?c&d:9@e/f",
	    "\"postgres://0&sslpassword=a/b?c&d:9@e/f\"" },
	{ "database_url", "postgres://db?password=x&sslpassword=y",
	    "\"postgres://db?password=****&sslpassword=****\"" },
	/* Text stuck to the closing quote is masked with the value. */
	{ "database_url", "password=''s3cret host=db",
	    "\"password=**** host=db\"" },
	{ "database_url", "password='a'b'c d' host=db",
	    "\"password=**** d' host=db\"" },
	/* The read replica's URL is masked as the primary's is. */
	{ "database_read_url", "host=replica password=s3cret",
	    "\"host=replica password=****\"" },
	{ "database_read_url", "postgresql://app:s3cret@replica/shop",
	    "\"postgresql://app:****@replica/shop\"" },
};

START_TEST(test_dump_redacts_passwords)
{
	const struct good_case *c = &redactions[_i];
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	ck_assert_int_eq(config_set(cfg, c->key, c->value, err, sizeof(err)),
	    0);
	ck_assert_str_eq(strcmp(c->key, "database_url") == 0
	        ? cfg->database_url
	        : cfg->database_read_url,
	    c->value);
	assert_dumps(cfg, c->key, c->dumped);
	config_free(cfg);
}
END_TEST

/*
 * An enum field written directly with a value that has no name is dumped
 * as a number, which a load refuses, rather than as some other name.
 */
START_TEST(test_dump_enum_out_of_range)
{
	struct config *cfg = config_create(), *back = config_create();
	char err[ERR_MAX] = "";
	char *text;

	cfg->stock_strategy = STOCK_STRATEGY__MAX;
	assert_dumps(cfg, "stock_strategy", "3");
	cfg->stock_strategy = -1;
	assert_dumps(cfg, "stock_strategy", "-1");
	cfg->point_strategy = POINT_STRATEGY__MAX;
	assert_dumps(cfg, "point_strategy", "3");
	text = dump_text(cfg);
	ck_assert_int_eq(config_load_string(back, "dump", text, strlen(text),
	                     err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err,
	    ": stock_strategy: must be one of pessimistic, conditional, "
	    "redis_lock, "
	    "got \"-1\""));
	assert_defaults(back);
	free(text);
	config_free(back);
	config_free(cfg);
}
END_TEST

START_TEST(test_usage)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	config_usage(f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_ptr_nonnull(strstr(buf, "workers = 8\n"));
	ck_assert_ptr_nonnull(strstr(buf, "auth_secret_file = \"\"\n"));
	ck_assert_ptr_nonnull(strstr(buf, "Value: an integer from 1 to 256."));
	ck_assert_ptr_nonnull(strstr(buf,
	    "stock_strategy = pessimistic\n\thow an order takes stock: lock "
	    "the options, one conditional UPDATE, or that UPDATE under Redis "
	    "locks (choice).\n\tValue: one of pessimistic, conditional, "
	    "redis_lock.\n"));
	ck_assert_ptr_nonnull(strstr(buf, "idempotency_ttl = 24h\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "point_strategy = optimistic\n\thow a balance moves: optimistic "
	    "(version check, retried), pessimistic (FOR UPDATE) or "
	    "conditional (one guarded UPDATE) (choice).\n\tValue: one of "
	    "optimistic, pessimistic, conditional.\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "max_balance = 1000000000\n\ta charge may not take a balance "
	    "past this (integer).\n\tValue: an integer from 1 to "
	    "1000000000000.\n"));
	ck_assert_ptr_nonnull(strstr(buf,
	    "Value: a duration from 24h to 480h (milliseconds, or a number "
	    "followed by ms, s, min or h)."));
	ck_assert_ptr_nonnull(
	    strstr(buf, "Value: one of error, warn, info, debug."));
	free(buf);
}
END_TEST

/*
 * The sample lists each setting as "#key = default": uncommented, it must
 * set every key once and change nothing.
 */
START_TEST(test_sample_matches_defaults)
{
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";
	char *text, *dump;
	size_t len, settings = 0, keys = 0;

	text = read_srcdir_file("etc/stockade.conf.sample", &len);
	ck_assert_msg(config_load_string(cfg, "sample", text, len, err,
	                  sizeof(err)) == 0,
	    "%s", err);
	assert_defaults(cfg);
	for (size_t i = 0; i < len; i++) {
		if ((i == 0 || text[i - 1] == '\n') && text[i] == '#' &&
		    text[i + 1] >= 'a' && text[i + 1] <= 'z') {
			text[i] = ' ';
			settings++;
		}
	}
	ck_assert_msg(config_load_string(cfg, "sample", text, len, err,
	                  sizeof(err)) == 0,
	    "%s", err);
	assert_defaults(cfg);
	/* Duplicates are refused, so as many settings as keys means all. */
	dump = dump_text(cfg);
	for (char *p = dump; (p = strchr(p, '\n')) != NULL; p++)
		keys++;
	ck_assert_uint_eq(settings, keys);
	free(dump);
	free(text);
	config_free(cfg);
}
END_TEST

START_TEST(test_docs_list_every_key)
{
	struct config *cfg = config_create();
	char *docs, *dump, *key, *eq;
	char quoted[128];
	size_t len;

	docs = read_srcdir_file("docs/configuration.md", &len);
	dump = dump_text(cfg);
	for (key = dump; (eq = strstr(key, " = ")) != NULL;
	     key = strchr(eq, '\n') + 1) {
		snprintf(quoted, sizeof(quoted), "`%.*s`", (int)(eq - key),
		    key);
		ck_assert_msg(strstr(docs, quoted) != NULL,
		    "docs/configuration.md does not mention %s", quoted);
	}
	free(dump);
	free(docs);
	config_free(cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config_dump");
	TCase *output = tcase_create("output");
	TCase *documents = tcase_create("documents");

	tcase_add_test(output, test_dump_defaults);
	tcase_add_test(output, test_dump_round_trip);
	tcase_add_loop_test(output, test_dump_redacts_passwords, 0,
	    NCASES(redactions));
	tcase_add_test(output, test_dump_enum_out_of_range);
	tcase_add_test(output, test_usage);
	suite_add_tcase(s, output);
	tcase_add_test(documents, test_sample_matches_defaults);
	tcase_add_test(documents, test_docs_list_every_key);
	suite_add_tcase(s, documents);
	return check_run(s);
}
