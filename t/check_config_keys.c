/*
 * check_config_keys: the key table: every key's default, values each type
 * accepts (and how config_dump writes them back) and refuses (with the
 * whole message), units, enum names and string bounds.  The value cases are
 * tables, one row per input, run as Check loop tests so that a failure
 * names its row.
 */
#include "check_config.h"
#include "check_run.h"
#include "coupon_gate.h"
#include "coupon_issue.h"
#include "point.h"
#include "stock.h"

START_TEST(test_defaults)
{
	struct config *cfg = config_create();

	ck_assert_str_eq(cfg->listen, "/run/stockade/stockade.sock");
	ck_assert_int_eq(cfg->listen_kind, LISTEN_UNIX);
	ck_assert_str_eq(cfg->listen_host, "");
	ck_assert_int_eq(cfg->listen_port, 0);
	ck_assert_uint_eq(cfg->socket_mode, 0660);
	ck_assert_int_eq(cfg->listen_backlog, 1024);
	ck_assert_int_eq(cfg->workers, 8);
	ck_assert_int_eq(cfg->max_requests, 0);
	ck_assert_str_eq(cfg->database_url, "dbname=stockade");
	ck_assert_str_eq(cfg->redis_url, "redis://127.0.0.1:6379");
	ck_assert_str_eq(cfg->redis_host, "127.0.0.1");
	ck_assert_int_eq(cfg->redis_port, 6379);
	ck_assert_str_eq(cfg->redis_unix_path, "");
	ck_assert_int_eq(cfg->redis_timeout_ms, 250);
	ck_assert_str_eq(cfg->auth_secret_file, "");
	ck_assert_uint_eq(cfg->max_body, 65536);
	ck_assert_int_eq(cfg->log_level, LOG_LEVEL_INFO);
	ck_assert_int_eq(cfg->statement_timeout_ms, 5000);
	ck_assert_int_eq(cfg->lock_timeout_ms, 2000);
	ck_assert_int_eq(cfg->idle_in_transaction_timeout_ms, 10000);
	ck_assert_int_eq(cfg->db_retries, 3);
	ck_assert_int_eq(cfg->retry_after_s, 1);
	ck_assert_int_eq(cfg->shutdown_timeout_ms, 10000);
	ck_assert_int_eq(cfg->request_timeout_ms, 20000);
	ck_assert_int_eq(cfg->slow_request_ms, 1000);
	ck_assert_int_eq(cfg->stock_strategy, STOCK_PESSIMISTIC);
	ck_assert_int_eq(cfg->reservation_ttl_ms, 600000);
	ck_assert_int_eq(cfg->reaper_interval_ms, 1000);
	ck_assert_int_eq(cfg->reaper_batch, 100);
	ck_assert_int_eq(cfg->idempotency_ttl_ms, 86400000);
	ck_assert_int_eq(cfg->point_strategy, POINT_OPTIMISTIC);
	ck_assert_int_eq(cfg->point_retries, 5);
	ck_assert_int_eq(cfg->max_charge, 1000000);
	ck_assert_int_eq(cfg->max_balance, 1000000000);
	ck_assert_int_eq(cfg->coupon_strategy, COUPON_PESSIMISTIC);
	ck_assert_int_eq(cfg->coupon_gate, GATE_REDIS);
	ck_assert_int_eq(cfg->coupon_cache_ttl_ms, 1000);
	config_free(cfg);
	config_free(NULL);
}
END_TEST

static const struct good_case good_cases[] = {
	{ "workers", "1", "1" },
	{ "workers", "256", "256" },
	{ "workers", "016", "16" }, /* decimal, not octal */
	{ "max_requests", "0", "0" },
	{ "max_requests", "100000000", "100000000" },
	{ "listen_backlog", "65535", "65535" },
	{ "db_retries", "0", "0" },
	{ "retry_after", "3600", "3600" },
	{ "socket_mode", "0660", "0660" },
	{ "socket_mode", "0600", "0600" },
	{ "socket_mode", "777", "0777" },
	{ "socket_mode", "0", "0000" },
	{ "statement_timeout", "250ms", "250ms" },
	{ "statement_timeout", "5s", "5s" },
	{ "statement_timeout", "2min", "2min" },
	{ "statement_timeout", "10", "10ms" },
	{ "statement_timeout", "1500", "1500ms" },
	{ "statement_timeout", "60000", "1min" },
	{ "statement_timeout", "10min", "10min" },
	{ "idle_in_transaction_timeout", "60min", "1h" },
	{ "idle_in_transaction_timeout", "1h", "1h" },
	{ "shutdown_timeout", "100", "100ms" },
	/* 0 is off, below the least value that is on. */
	{ "request_timeout", "0", "0ms" },
	{ "request_timeout", "0s", "0ms" },
	{ "request_timeout", "1s", "1s" },
	{ "request_timeout", "1000", "1s" },
	{ "request_timeout", "90s", "90s" },
	{ "request_timeout", "1h", "1h" },
	{ "slow_request", "0", "0ms" },
	{ "slow_request", "100ms", "100ms" },
	{ "slow_request", "2500", "2500ms" },
	{ "slow_request", "60min", "1h" },
	{ "redis_timeout", "1", "1ms" },
	{ "max_body", "64k", "64k" },
	{ "max_body", "1M", "1M" },
	{ "max_body", "16M", "16M" },
	{ "max_body", "1", "1" },
	{ "max_body", "1000", "1000" },
	{ "max_body", "65536", "64k" },
	{ "max_body", "1024K", "1M" },
	{ "max_body", "2m", "2M" },
	{ "reservation_ttl", "1s", "1s" },
	{ "reservation_ttl", "1000", "1s" },
	{ "reservation_ttl", "5h", "5h" },
	{ "reservation_ttl", "24h", "24h" },
	{ "reservation_ttl", "86400000", "24h" },
	{ "reservation_ttl", "90min", "90min" },
	{ "reservation_ttl", "120min", "2h" },
	{ "reservation_ttl", "7200s", "2h" },
	{ "reservation_ttl", "0005h", "5h" },
	{ "reaper_interval", "10", "10ms" },
	{ "reaper_interval", "10ms", "10ms" },
	{ "reaper_interval", "60s", "1min" },
	{ "reaper_interval", "1min", "1min" },
	{ "reaper_batch", "1", "1" },
	{ "reaper_batch", "10000", "10000" },
	{ "idempotency_ttl", "24h", "24h" },
	{ "idempotency_ttl", "1440min", "24h" },
	{ "idempotency_ttl", "86400s", "24h" },
	{ "idempotency_ttl", "86401s", "86401s" },
	{ "idempotency_ttl", "1500min", "25h" },
	{ "idempotency_ttl", "480h", "480h" },
	{ "idempotency_ttl", "1728000000", "480h" },
	{ "stock_strategy", "conditional", "conditional" },
	{ "stock_strategy", "pessimistic", "pessimistic" },
	{ "stock_strategy", "redis_lock", "redis_lock" },
	{ "point_strategy", "optimistic", "optimistic" },
	{ "point_strategy", "pessimistic", "pessimistic" },
	{ "point_strategy", "conditional", "conditional" },
	{ "coupon_strategy", "pessimistic", "pessimistic" },
	{ "coupon_strategy", "conditional", "conditional" },
	{ "coupon_strategy", "sharded", "sharded" },
	{ "coupon_strategy", "queue", "queue" },
	{ "coupon_shards", "1", "1" },
	{ "coupon_shards", "64", "64" },
	{ "queue_consumers", "1", "1" },
	{ "queue_consumers", "64", "64" },
	{ "queue_batch", "1000", "1000" },
	{ "coupon_gate", "redis", "redis" },
	{ "coupon_gate", "off", "off" },
	{ "coupon_gate", "slots", "slots" },
	{ "coupon_cache_ttl", "0", "0ms" },
	{ "coupon_cache_ttl", "250ms", "250ms" },
	{ "coupon_cache_ttl", "1h", "1h" },
	{ "point_retries", "0", "0" },
	{ "point_retries", "50", "50" },
	{ "point_retries", "007", "7" }, /* decimal, not octal */
	{ "max_charge", "1", "1" },
	{ "max_charge", "1000000000", "1000000000" },
	{ "max_charge", "0001000", "1000" },
	{ "max_balance", "1", "1" },
	/* Past INT_MAX and UINT_MAX: kept whole in a long long. */
	{ "max_balance", "2147483648", "2147483648" },
	{ "max_balance", "4294967296", "4294967296" },
	{ "max_balance", "1000000000000", "1000000000000" },
	{ "log_level", "debug", "debug" },
	{ "log_level", "error", "error" },
	{ "log_level", "warn", "warn" },
	{ "log_level", "info", "info" },
	{ "database_url", "host=/run/postgresql dbname=shop",
	    "\"host=/run/postgresql dbname=shop\"" },
	{ "database_url", "", "\"\"" },
	{ "auth_secret_file", "/etc/stockade/secret",
	    "\"/etc/stockade/secret\"" },
};

START_TEST(test_set_good)
{
	const struct good_case *c = &good_cases[_i];
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	ck_assert_msg(config_set(cfg, c->key, c->value, err, sizeof(err)) == 0,
	    "%s = %s: %s", c->key, c->value, err);
	assert_dumps(cfg, c->key, c->dumped);
	config_free(cfg);
}
END_TEST

#define WORKERS_MUST "workers: must be an integer from 1 to 256, got "
#define MODE_MUST \
	"socket_mode: must be an octal mode from 0000 to " \
	"0777, got "
#define STMT_MUST \
	"statement_timeout: must be a duration from 1ms " \
	"to 10min (milliseconds, or a number followed by ms, " \
	"s, min or h), got "
#define TTL_MUST \
	"reservation_ttl: must be a duration from 1s to 24h " \
	"(milliseconds, or a number followed by ms, s, min or h), got "
#define REAP_MUST \
	"reaper_interval: must be a duration from 10ms to 1min " \
	"(milliseconds, or a number followed by ms, s, min or h), got "
#define TIMEOUT_MUST \
	"request_timeout: must be 0 (off) or a duration from 1s to 1h " \
	"(milliseconds, or a number followed by ms, s, min or h), got "
#define SLOW_MUST \
	"slow_request: must be 0 (off) or a duration from 100ms to 1h " \
	"(milliseconds, or a number followed by ms, s, min or h), got "
#define BATCH_MUST "reaper_batch: must be an integer from 1 to 10000, got "
#define SHARDS_MUST "coupon_shards: must be an integer from 1 to 64, got "
#define IDEM_MUST \
	"idempotency_ttl: must be a duration from 24h to 480h " \
	"(milliseconds, or a number followed by ms, s, min or h), got "
#define STRATEGY_MUST \
	"stock_strategy: must be one of pessimistic, conditional, " \
	"redis_lock, got "
#define POINT_MUST \
	"point_strategy: must be one of optimistic, pessimistic, conditional, " \
	"got "
#define COUPON_MUST \
	"coupon_strategy: must be one of pessimistic, conditional, sharded, " \
	"queue, got "
#define GATE_MUST "coupon_gate: must be one of redis, off, slots, got "
#define CACHE_MUST \
	"coupon_cache_ttl: must be a duration from 0ms to 1h " \
	"(milliseconds, or a number followed by ms, s, min or h), got "
#define RETRIES_MUST "point_retries: must be an integer from 0 to 50, got "
#define CHARGE_MUST "max_charge: must be an integer from 1 to 1000000000, got "
#define BALANCE_MUST \
	"max_balance: must be an integer from 1 to 1000000000000, got "
#define LEVEL_MUST "log_level: must be one of error, warn, info, debug, got "
#define BODY_MUST \
	"max_body: must be a size from 1 to 16M (bytes, or " \
	"a number followed by k or M), got "

static const struct bad_case bad_cases[] = {
	{ "workers", "abc", WORKERS_MUST "\"abc\"" },
	{ "workers", "1.5", WORKERS_MUST "\"1.5\"" },
	{ "workers", "", WORKERS_MUST "\"\"" },
	{ "workers", "99999999999999999999",
	    WORKERS_MUST "\"99999999999999999999\"" },
	{ "workers", "0", WORKERS_MUST "\"0\"" },
	{ "workers", "257", WORKERS_MUST "\"257\"" },
	{ "workers", "-1", WORKERS_MUST "\"-1\"" },
	{ "workers", "+8", WORKERS_MUST "\"+8\"" },
	{ "workers", " 8", WORKERS_MUST "\" 8\"" },
	{ "workers", "8 ", WORKERS_MUST "\"8 \"" },
	{ "workers", "0x10", WORKERS_MUST "\"0x10\"" },
	{ "workers", "1e2", WORKERS_MUST "\"1e2\"" },
	/* White space strtoll would skip, quoted back escaped. */
	{ "workers", "\t8", WORKERS_MUST "\"\\x098\"" },
	{ "workers", "\n8", WORKERS_MUST "\"\\x0a8\"" },
	{ "workers", "8\n", WORKERS_MUST "\"8\\x0a\"" },
	{ "workers", "-0", WORKERS_MUST "\"-0\"" },
	{ "workers", "\x01", WORKERS_MUST "\"\\x01\"" },
	{ "max_requests", "100000001",
	    "max_requests: must be an integer "
	    "from 0 to 100000000, got \"100000001\"" },
	{ "max_requests", "18446744073709551616",
	    "max_requests: must be an "
	    "integer from 0 to 100000000, got \"18446744073709551616\"" },
	{ "db_retries", "21",
	    "db_retries: must be an integer from 0 to 20, "
	    "got \"21\"" },
	{ "socket_mode", "0999", MODE_MUST "\"0999\"" },
	{ "socket_mode", "01000", MODE_MUST "\"01000\"" },
	{ "socket_mode", "", MODE_MUST "\"\"" },
	{ "socket_mode", "-0660", MODE_MUST "\"-0660\"" },
	{ "socket_mode", "rw-rw----", MODE_MUST "\"rw-rw----\"" },
	{ "socket_mode", "+0660", MODE_MUST "\"+0660\"" },
	{ "socket_mode", " 0660", MODE_MUST "\" 0660\"" },
	{ "socket_mode", "\t0660", MODE_MUST "\"\\x090660\"" },
	{ "socket_mode", "0660 ", MODE_MUST "\"0660 \"" },
	{ "socket_mode", "0x1b6", MODE_MUST "\"0x1b6\"" },
	{ "socket_mode", "99999999999999999999999",
	    MODE_MUST "\"99999999999999999999999\"" },
	{ "statement_timeout", "5 s", STMT_MUST "\"5 s\"" },
	{ "statement_timeout", "+5s", STMT_MUST "\"+5s\"" },
	{ "statement_timeout", " 5s", STMT_MUST "\" 5s\"" },
	{ "statement_timeout", "\t5s", STMT_MUST "\"\\x095s\"" },
	{ "statement_timeout", "5s ", STMT_MUST "\"5s \"" },
	{ "statement_timeout", "-0", STMT_MUST "\"-0\"" },
	{ "statement_timeout", "-1s", STMT_MUST "\"-1s\"" },
	/* A well-formed duration, but past the 10min bound. */
	{ "statement_timeout", "5h", STMT_MUST "\"5h\"" },
	{ "statement_timeout", "1h", STMT_MUST "\"1h\"" },
	{ "statement_timeout", "5S", STMT_MUST "\"5S\"" },
	{ "statement_timeout", "1.5s", STMT_MUST "\"1.5s\"" },
	{ "statement_timeout", "s", STMT_MUST "\"s\"" },
	{ "statement_timeout", "", STMT_MUST "\"\"" },
	{ "statement_timeout", "0", STMT_MUST "\"0\"" },
	{ "statement_timeout", "0s", STMT_MUST "\"0s\"" },
	{ "statement_timeout", "600001", STMT_MUST "\"600001\"" },
	{ "statement_timeout", "11min", STMT_MUST "\"11min\"" },
	{ "statement_timeout", "99999999999999999999ms",
	    STMT_MUST "\"99999999999999999999ms\"" },
	{ "shutdown_timeout", "99",
	    "shutdown_timeout: must be a "
	    "duration from 100ms to 10min (milliseconds, or a number followed "
	    "by ms, s, min or h), got \"99\"" },
	{ "reservation_ttl", "25h", TTL_MUST "\"25h\"" },
	{ "reservation_ttl", "1441min", TTL_MUST "\"1441min\"" },
	{ "reservation_ttl", "86400001", TTL_MUST "\"86400001\"" },
	{ "reservation_ttl", "999ms", TTL_MUST "\"999ms\"" },
	{ "reservation_ttl", "999", TTL_MUST "\"999\"" },
	{ "reservation_ttl", "0h", TTL_MUST "\"0h\"" },
	{ "reservation_ttl", "5H", TTL_MUST "\"5H\"" },
	{ "reservation_ttl", "1.5h", TTL_MUST "\"1.5h\"" },
	{ "reservation_ttl", "5 h", TTL_MUST "\"5 h\"" },
	{ "reservation_ttl", "5hr", TTL_MUST "\"5hr\"" },
	{ "reservation_ttl", "5hh", TTL_MUST "\"5hh\"" },
	{ "reservation_ttl", "1h30min", TTL_MUST "\"1h30min\"" },
	{ "reservation_ttl", "1d", TTL_MUST "\"1d\"" },
	{ "reservation_ttl", "h", TTL_MUST "\"h\"" },
	{ "reservation_ttl", "-1h", TTL_MUST "\"-1h\"" },
	{ "reservation_ttl", "+1h", TTL_MUST "\"+1h\"" },
	{ "reservation_ttl", "", TTL_MUST "\"\"" },
	{ "reservation_ttl", "99999999999999999999h",
	    TTL_MUST "\"99999999999999999999h\"" },
	/* Times 3600000 this wraps past 2^64 to 2048384 (34min), in bounds. */
	{ "reservation_ttl", "5124095576031h", TTL_MUST "\"5124095576031h\"" },
	{ "reaper_interval", "9", REAP_MUST "\"9\"" },
	{ "reaper_interval", "9ms", REAP_MUST "\"9ms\"" },
	{ "reaper_interval", "0s", REAP_MUST "\"0s\"" },
	{ "reaper_interval", "61s", REAP_MUST "\"61s\"" },
	{ "reaper_interval", "2min", REAP_MUST "\"2min\"" },
	{ "reaper_interval", "1h", REAP_MUST "\"1h\"" },
	{ "reaper_interval", "1S", REAP_MUST "\"1S\"" },
	/* Between off and the least value that is on. */
	{ "request_timeout", "1", TIMEOUT_MUST "\"1\"" },
	{ "request_timeout", "999ms", TIMEOUT_MUST "\"999ms\"" },
	{ "request_timeout", "61min", TIMEOUT_MUST "\"61min\"" },
	{ "request_timeout", "3600001", TIMEOUT_MUST "\"3600001\"" },
	{ "request_timeout", "-1", TIMEOUT_MUST "\"-1\"" },
	{ "request_timeout", "-0", TIMEOUT_MUST "\"-0\"" },
	{ "request_timeout", "off", TIMEOUT_MUST "\"off\"" },
	{ "request_timeout", "", TIMEOUT_MUST "\"\"" },
	{ "request_timeout", "1.5s", TIMEOUT_MUST "\"1.5s\"" },
	{ "slow_request", "99ms", SLOW_MUST "\"99ms\"" },
	{ "slow_request", "1", SLOW_MUST "\"1\"" },
	{ "slow_request", "2h", SLOW_MUST "\"2h\"" },
	{ "slow_request", "0x10", SLOW_MUST "\"0x10\"" },
	{ "reaper_batch", "0", BATCH_MUST "\"0\"" },
	{ "reaper_batch", "10001", BATCH_MUST "\"10001\"" },
	{ "reaper_batch", "-1", BATCH_MUST "\"-1\"" },
	{ "reaper_batch", "1e3", BATCH_MUST "\"1e3\"" },
	{ "reaper_batch", "100.0", BATCH_MUST "\"100.0\"" },
	{ "reaper_batch", "", BATCH_MUST "\"\"" },
	{ "coupon_shards", "0", SHARDS_MUST "\"0\"" },
	{ "coupon_shards", "65", SHARDS_MUST "\"65\"" },
	{ "idempotency_ttl", "23h", IDEM_MUST "\"23h\"" },
	{ "idempotency_ttl", "1439min", IDEM_MUST "\"1439min\"" },
	{ "idempotency_ttl", "86399999", IDEM_MUST "\"86399999\"" },
	{ "idempotency_ttl", "481h", IDEM_MUST "\"481h\"" },
	{ "idempotency_ttl", "1728000001", IDEM_MUST "\"1728000001\"" },
	/* Past INT_MAX milliseconds: refused, never wrapped. */
	{ "idempotency_ttl", "2147483648", IDEM_MUST "\"2147483648\"" },
	{ "idempotency_ttl", "597h", IDEM_MUST "\"597h\"" },
	{ "idempotency_ttl", "18446744073709551616h",
	    IDEM_MUST "\"18446744073709551616h\"" },
	{ "idempotency_ttl", "20d", IDEM_MUST "\"20d\"" },
	{ "idempotency_ttl", "24", IDEM_MUST "\"24\"" },
	{ "idempotency_ttl", "24 h", IDEM_MUST "\"24 h\"" },
	{ "idempotency_ttl", "24h ", IDEM_MUST "\"24h \"" },
	{ "stock_strategy", "x", STRATEGY_MUST "\"x\"" },
	{ "stock_strategy", "", STRATEGY_MUST "\"\"" },
	{ "stock_strategy", "optimistic", STRATEGY_MUST "\"optimistic\"" },
	{ "stock_strategy", "Pessimistic", STRATEGY_MUST "\"Pessimistic\"" },
	{ "stock_strategy", "CONDITIONAL", STRATEGY_MUST "\"CONDITIONAL\"" },
	{ "stock_strategy", "pess", STRATEGY_MUST "\"pess\"" },
	{ "stock_strategy", "conditionally",
	    STRATEGY_MUST "\"conditionally\"" },
	{ "stock_strategy", " conditional", STRATEGY_MUST "\" conditional\"" },
	{ "stock_strategy", "conditional ", STRATEGY_MUST "\"conditional \"" },
	/* The index is not a name: "0" must not mean the first value. */
	{ "stock_strategy", "0", STRATEGY_MUST "\"0\"" },
	{ "stock_strategy", "1", STRATEGY_MUST "\"1\"" },
	{ "stock_strategy", "conditional\x01",
	    STRATEGY_MUST "\"conditional\\x01\"" },
	{ "point_strategy", "x", POINT_MUST "\"x\"" },
	{ "coupon_strategy", "optimistic", COUPON_MUST "\"optimistic\"" },
	{ "coupon_strategy", "", COUPON_MUST "\"\"" },
	{ "coupon_gate", "on", GATE_MUST "\"on\"" },
	{ "coupon_gate", "Redis", GATE_MUST "\"Redis\"" },
	{ "coupon_cache_ttl", "2h", CACHE_MUST "\"2h\"" },
	{ "coupon_cache_ttl", "-1", CACHE_MUST "\"-1\"" },
	{ "point_strategy", "", POINT_MUST "\"\"" },
	{ "point_strategy", "optimist", POINT_MUST "\"optimist\"" },
	{ "point_strategy", "optimistically", POINT_MUST "\"optimistically\"" },
	{ "point_strategy", "Optimistic", POINT_MUST "\"Optimistic\"" },
	{ "point_strategy", "PESSIMISTIC", POINT_MUST "\"PESSIMISTIC\"" },
	{ "point_strategy", " optimistic", POINT_MUST "\" optimistic\"" },
	{ "point_strategy", "optimistic ", POINT_MUST "\"optimistic \"" },
	/* The index is not a name: "0" must not mean optimistic. */
	{ "point_strategy", "0", POINT_MUST "\"0\"" },
	{ "point_strategy", "2", POINT_MUST "\"2\"" },
	{ "point_strategy", "conditional\x01",
	    POINT_MUST "\"conditional\\x01\"" },
	{ "point_retries", "51", RETRIES_MUST "\"51\"" },
	{ "point_retries", "-1", RETRIES_MUST "\"-1\"" },
	{ "point_retries", "+5", RETRIES_MUST "\"+5\"" },
	{ "point_retries", "5.0", RETRIES_MUST "\"5.0\"" },
	{ "point_retries", "5 ", RETRIES_MUST "\"5 \"" },
	{ "point_retries", "", RETRIES_MUST "\"\"" },
	/* 2^32 + 5: refused, never truncated to 5 in the int. */
	{ "point_retries", "4294967301", RETRIES_MUST "\"4294967301\"" },
	{ "max_charge", "0", CHARGE_MUST "\"0\"" },
	{ "max_charge", "1000000001", CHARGE_MUST "\"1000000001\"" },
	{ "max_charge", "-1", CHARGE_MUST "\"-1\"" },
	{ "max_charge", "+1000", CHARGE_MUST "\"+1000\"" },
	{ "max_charge", "1e6", CHARGE_MUST "\"1e6\"" },
	{ "max_charge", "1000.0", CHARGE_MUST "\"1000.0\"" },
	{ "max_charge", "1_000", CHARGE_MUST "\"1_000\"" },
	{ "max_charge", "0x10", CHARGE_MUST "\"0x10\"" },
	{ "max_charge", "1k", CHARGE_MUST "\"1k\"" },
	{ "max_charge", "", CHARGE_MUST "\"\"" },
	{ "max_balance", "0", BALANCE_MUST "\"0\"" },
	{ "max_balance", "1000000000001", BALANCE_MUST "\"1000000000001\"" },
	{ "max_balance", "-1", BALANCE_MUST "\"-1\"" },
	{ "max_balance", "-9223372036854775808",
	    BALANCE_MUST "\"-9223372036854775808\"" },
	{ "max_balance", "1,000", BALANCE_MUST "\"1,000\"" },
	{ "max_balance", "1e12", BALANCE_MUST "\"1e12\"" },
	{ "max_balance", " 1000", BALANCE_MUST "\" 1000\"" },
	{ "max_balance", "", BALANCE_MUST "\"\"" },
	/* Around LLONG_MAX and 2^64: refused, never wrapped into bounds. */
	{ "max_balance", "9223372036854775807",
	    BALANCE_MUST "\"9223372036854775807\"" },
	{ "max_balance", "9223372036854775808",
	    BALANCE_MUST "\"9223372036854775808\"" },
	{ "max_balance", "18446744073709551617",
	    BALANCE_MUST "\"18446744073709551617\"" },
	{ "max_balance", "99999999999999999999999999",
	    BALANCE_MUST "\"99999999999999999999999999\"" },
	{ "max_body", "17M", BODY_MUST "\"17M\"" },
	{ "max_body", "16385k", BODY_MUST "\"16385k\"" },
	{ "max_body", "0", BODY_MUST "\"0\"" },
	{ "max_body", "0k", BODY_MUST "\"0k\"" },
	{ "max_body", "64kB", BODY_MUST "\"64kB\"" },
	{ "max_body", "64 k", BODY_MUST "\"64 k\"" },
	{ "max_body", "1G", BODY_MUST "\"1G\"" },
	{ "max_body", "-1", BODY_MUST "\"-1\"" },
	{ "log_level", "INFO",
	    "log_level: must be one of error, warn, info, "
	    "debug, got \"INFO\"" },
	{ "log_level", "verbose",
	    "log_level: must be one of error, warn, "
	    "info, debug, got \"verbose\"" },
	{ "log_level", "", LEVEL_MUST "\"\"" },
	{ "log_level", "2", LEVEL_MUST "\"2\"" },
	{ "log_level", "pessimistic", LEVEL_MUST "\"pessimistic\"" },
	{ "database_url", "host=db\tdbname=x",
	    "database_url: must not "
	    "contain control characters (byte 7 is 0x09)" },
	{ "auth_secret_file", "/tmp/a\x7f",
	    "auth_secret_file: must not "
	    "contain control characters (byte 6 is 0x7f)" },
	{ "listen", "", "listen: must not be empty" },
	{ "redis_url", "", "redis_url: must not be empty" },
	{ "no_such_key", "1", "no_such_key: unknown key" },
	{ "bad\nkey", "1", "bad\\x0akey: unknown key" },
};

START_TEST(test_set_bad)
{
	assert_set_refused(&bad_cases[_i]);
}
END_TEST

START_TEST(test_set_units_stored)
{
	struct config *cfg = config_create();
	char err[ERR_MAX];

	ck_assert_int_eq(config_set(cfg, "lock_timeout", "2min", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->lock_timeout_ms, 120000);
	ck_assert_int_eq(config_set(cfg, "redis_timeout", "1s", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->redis_timeout_ms, 1000);
	ck_assert_int_eq(config_set(cfg, "max_body", "16M", err, sizeof(err)),
	    0);
	ck_assert_uint_eq(cfg->max_body, 16u * 1024 * 1024);
	ck_assert_int_eq(config_set(cfg, "socket_mode", "0640", err,
	                     sizeof(err)),
	    0);
	ck_assert_uint_eq(cfg->socket_mode, 0640);
	ck_assert_int_eq(config_set(cfg, "log_level", "warn", err, sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->log_level, LOG_LEVEL_WARN);
	ck_assert_int_eq(config_set(cfg, "stock_strategy", "conditional", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->stock_strategy, STOCK_CONDITIONAL);
	ck_assert_int_eq(config_set(cfg, "stock_strategy", "pessimistic", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->stock_strategy, STOCK_PESSIMISTIC);
	ck_assert_int_eq(config_set(cfg, "reservation_ttl", "2h", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->reservation_ttl_ms, 7200000);
	ck_assert_int_eq(config_set(cfg, "reaper_interval", "10", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->reaper_interval_ms, 10);
	ck_assert_int_eq(config_set(cfg, "reaper_batch", "500", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->reaper_batch, 500);
	/* 20 days, the largest duration any key takes, still fits an int. */
	ck_assert_int_eq(config_set(cfg, "idempotency_ttl", "480h", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->idempotency_ttl_ms, 1728000000);
	ck_assert_int_eq(config_set(cfg, "point_strategy", "pessimistic", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->point_strategy, POINT_PESSIMISTIC);
	ck_assert_int_eq(config_set(cfg, "point_strategy", "conditional", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->point_strategy, POINT_CONDITIONAL);
	ck_assert_int_eq(config_set(cfg, "point_strategy", "optimistic", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->point_strategy, POINT_OPTIMISTIC);
	ck_assert_int_eq(config_set(cfg, "point_retries", "0", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->point_retries, 0);
	ck_assert_int_eq(config_set(cfg, "max_charge", "1000000000", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->max_charge, 1000000000LL);
	/* A trillion, past 32 bits, is kept whole in the long long. */
	ck_assert_int_eq(config_set(cfg, "max_balance", "1000000000000", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->max_balance, 1000000000000LL);
	ck_assert_uint_eq(sizeof(cfg->max_charge), sizeof(long long));
	ck_assert_uint_eq(sizeof(cfg->max_balance), sizeof(long long));
	config_free(cfg);
}
END_TEST

START_TEST(test_enum_names)
{
	/* Each name is the value at its index, as config.c stores it. */
	ck_assert_str_eq(stock_strategy_names[STOCK_PESSIMISTIC],
	    "pessimistic");
	ck_assert_str_eq(stock_strategy_names[STOCK_CONDITIONAL],
	    "conditional");
	ck_assert_int_eq(STOCK_STRATEGY__MAX, 3);
	ck_assert_str_eq(point_strategy_names[POINT_OPTIMISTIC], "optimistic");
	ck_assert_str_eq(point_strategy_names[POINT_PESSIMISTIC],
	    "pessimistic");
	ck_assert_str_eq(point_strategy_names[POINT_CONDITIONAL],
	    "conditional");
	ck_assert_int_eq(POINT_STRATEGY__MAX, 3);
	ck_assert_str_eq(coupon_strategy_names[COUPON_CONDITIONAL],
	    "conditional");
	ck_assert_str_eq(coupon_gate_names[GATE_OFF], "off");
	ck_assert_str_eq(log_level_names[LOG_LEVEL_ERROR], "error");
	ck_assert_str_eq(log_level_names[LOG_LEVEL_DEBUG], "debug");
}
END_TEST

START_TEST(test_string_length)
{
	struct config *cfg = config_create();
	char value[CONFIG_STRING_MAX + 1], err[ERR_MAX];

	memset(value, 'a', CONFIG_STRING_MAX - 1);
	value[CONFIG_STRING_MAX - 1] = '\0';
	ck_assert_int_eq(config_set(cfg, "database_url", value, err,
	                     sizeof(err)),
	    0);
	ck_assert_uint_eq(strlen(cfg->database_url), CONFIG_STRING_MAX - 1);
	strcat(value, "a");
	ck_assert_int_eq(config_set(cfg, "database_url", value, err,
	                     sizeof(err)),
	    -1);
	ck_assert_str_eq(err,
	    "database_url: must be at most 1023 bytes, got 1024");
	config_free(cfg);
}
END_TEST

START_TEST(test_key_find)
{
	const struct config_key *k = config_key_find("workers");

	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->name, "workers");
	ck_assert_int_eq(k->type, CONFIG_INT);
	ck_assert_ptr_eq(config_key_find(config_keys[config_nkeys - 1].name),
	    &config_keys[config_nkeys - 1]);
	ck_assert_ptr_null(config_key_find("Workers"));
	ck_assert_ptr_null(config_key_find("workers "));
	ck_assert_ptr_null(config_key_find(""));
	/* Every row is found by its own name: no two rows share one. */
	for (size_t i = 0; i < config_nkeys; i++)
		ck_assert_ptr_eq(config_key_find(config_keys[i].name),
		    &config_keys[i]);
}
END_TEST

START_TEST(test_err_truncated)
{
	struct config *cfg = config_create();
	char err[8];

	ck_assert_int_eq(config_set(cfg, "workers", "abc", err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "workers");
	config_free(cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config_keys");
	TCase *values = tcase_create("values");

	tcase_add_test(values, test_defaults);
	tcase_add_loop_test(values, test_set_good, 0, NCASES(good_cases));
	tcase_add_loop_test(values, test_set_bad, 0, NCASES(bad_cases));
	tcase_add_test(values, test_set_units_stored);
	tcase_add_test(values, test_enum_names);
	tcase_add_test(values, test_string_length);
	tcase_add_test(values, test_key_find);
	tcase_add_test(values, test_err_truncated);
	suite_add_tcase(s, values);
	return check_run(s);
}
