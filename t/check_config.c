/*
 * check_config: unit tests for config.c.  The value cases are tables, one
 * row per input, run as Check loop tests so that a failure names its row;
 * the file-format cases assert on the whole error message, since "file,
 * line, key, why" is the contract operators rely on.  The last tests hold
 * etc/stockade.conf.sample and docs/configuration.md to the key table.
 */
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * By path: autoconf's generated config.h in the build directory comes first
 * on the include path and would shadow src/config.h.
 */
#include "../src/config.h"
#include "check_run.h"

#define ERR_MAX 1024

/* Returns everything config_dump writes (malloc'd; the caller frees it). */
static char *dump_text(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	config_dump(cfg, f);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

/* Asserts that the dump of cfg has the line "key = value". */
static void assert_dumps(const struct config *cfg, const char *key,
    const char *value)
{
	char line[2048];
	char *text = dump_text(cfg);

	snprintf(line, sizeof(line), "\n%s = %s\n", key, value);
	ck_assert_msg(strstr(text, line) != NULL ||
	        (strncmp(text, line + 1, strlen(line + 1)) == 0),
	    "no line \"%s = %s\" in:\n%s", key, value, text);
	free(text);
}

/* Asserts that cfg is byte for byte a fresh default config. */
static void assert_defaults(const struct config *cfg)
{
	struct config *fresh = config_create();

	ck_assert_mem_eq(cfg, fresh, sizeof(*cfg));
	config_free(fresh);
}

/* Asserts that text loads into cfg. */
static void load_ok(struct config *cfg, const char *text)
{
	char err[ERR_MAX] = "";

	ck_assert_msg(config_load_string(cfg, "test.conf", text, strlen(text),
	                  err, sizeof(err)) == 0,
	    "load failed: %s", err);
}

/* Asserts that text fails to load with exactly the message want. */
static void load_fails(const char *text, size_t len, const char *want)
{
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	ck_assert_int_eq(config_load_string(cfg, "test.conf", text, len, err,
	                     sizeof(err)),
	    -1);
	ck_assert_str_eq(err, want);
	assert_defaults(cfg);
	config_free(cfg);
}

/* Writes a file of len bytes with mode in dir; returns its path (static). */
static const char *write_file(const char *dir, const char *name,
    const char *data, size_t len, mode_t mode)
{
	static char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
	return path;
}

/*
 * Reads a whole file of the source tree (malloc'd, NUL-terminated), found
 * through $STOCKADE_SRCDIR (set by Makefile.am), else $srcdir (set by
 * automake's test driver), else ".".
 */
static char *read_srcdir_file(const char *rel, size_t *len)
{
	const char *srcdir = getenv("STOCKADE_SRCDIR");
	char path[1024];
	char *buf;
	long n;
	FILE *f;

	if (srcdir == NULL)
		srcdir = getenv("srcdir");
	snprintf(path, sizeof(path), "%s/%s", srcdir ? srcdir : ".", rel);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

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

START_TEST(test_dump_defaults)
{
	static const char want[] = "workers = 8\n"
	                           "max_requests = 0\n"
	                           "shutdown_timeout = 10s\n"
	                           "listen = \"/run/stockade/stockade.sock\"\n"
	                           "socket_mode = 0660\n"
	                           "listen_backlog = 1024\n"
	                           "database_url = \"dbname=stockade\"\n"
	                           "statement_timeout = 5s\n"
	                           "lock_timeout = 2s\n"
	                           "idle_in_transaction_timeout = 10s\n"
	                           "db_retries = 3\n"
	                           "redis_url = \"redis://127.0.0.1:6379\"\n"
	                           "redis_timeout = 250ms\n"
	                           "auth_secret_file = \"\"\n"
	                           "max_body = 64k\n"
	                           "retry_after = 1\n"
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
	                           "coupon_gate = redis\n"
	                           "coupon_cache_ttl = 1s\n"
	                           "log_level = info\n";
	struct config *cfg = config_create();
	char *text = dump_text(cfg);

	ck_assert_str_eq(text, want);
	free(text);
	config_free(cfg);
}
END_TEST

/* A value that config_set accepts, and how config_dump writes it back. */
struct good_case {
	const char *key;
	const char *value;
	const char *dumped;
};

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

/* A value that config_set refuses, and the message it must give. */
struct bad_case {
	const char *key;
	const char *value;
	const char *why;
};

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
#define BATCH_MUST "reaper_batch: must be an integer from 1 to 10000, got "
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
	"got "
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
	{ "statement_timeout", "5 s", STMT_MUST "\"5 s\"" },
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
	{ "reaper_batch", "0", BATCH_MUST "\"0\"" },
	{ "reaper_batch", "10001", BATCH_MUST "\"10001\"" },
	{ "reaper_batch", "-1", BATCH_MUST "\"-1\"" },
	{ "reaper_batch", "1e3", BATCH_MUST "\"1e3\"" },
	{ "reaper_batch", "100.0", BATCH_MUST "\"100.0\"" },
	{ "reaper_batch", "", BATCH_MUST "\"\"" },
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
	const struct bad_case *c = &bad_cases[_i];
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	ck_assert_int_eq(config_set(cfg, c->key, c->value, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, c->why);
	assert_defaults(cfg);
	config_free(cfg);
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

START_TEST(test_listen_tcp)
{
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	ck_assert_int_eq(config_set(cfg, "listen", "127.0.0.1:9000", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->listen_kind, LISTEN_TCP);
	ck_assert_str_eq(cfg->listen_host, "127.0.0.1");
	ck_assert_int_eq(cfg->listen_port, 9000);
	ck_assert_int_eq(config_set(cfg, "listen", "[::1]:8080", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->listen_kind, LISTEN_TCP);
	ck_assert_str_eq(cfg->listen_host, "::1");
	ck_assert_int_eq(cfg->listen_port, 8080);
	ck_assert_int_eq(config_set(cfg, "listen", "/tmp/s:1.sock", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(cfg->listen_kind, LISTEN_UNIX);
	ck_assert_str_eq(cfg->listen_host, "");
	ck_assert_int_eq(cfg->listen_port, 0);
	ck_assert_str_eq(listen_kind_names[LISTEN_TCP], "tcp");
	config_free(cfg);
}
END_TEST

START_TEST(test_listen_unix_length)
{
	struct config *cfg = config_create();
	char path[128], err[ERR_MAX] = "";

	/* 107 bytes and the NUL fill sun_path exactly. */
	memset(path, 'x', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	ck_assert_msg(config_set(cfg, "listen", path, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_str_eq(cfg->listen, path);
	path[107] = 'x';
	path[108] = '\0';
	ck_assert_int_eq(config_set(cfg, "listen", path, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "listen: a unix socket path must be at most 107 "
	    "bytes (sockaddr_un), got 108");
	config_free(cfg);
}
END_TEST

#define LISTEN_PORT_MUST \
	"listen: must end in :PORT, PORT an integer from " \
	"1 to 65535"
#define LISTEN_HOST_MUST \
	"listen: the host must be an IPv4 address such as " \
	"127.0.0.1 or an IPv6 address in brackets such as " \
	"[::1] (host names are not accepted), got "

static const struct bad_case bad_listens[] = {
	{ "listen", "127.0.0.1:0", LISTEN_PORT_MUST },
	{ "listen", "127.0.0.1:70000", LISTEN_PORT_MUST },
	{ "listen", "127.0.0.1:", LISTEN_PORT_MUST },
	{ "listen", "127.0.0.1:80x", LISTEN_PORT_MUST },
	{ "listen", "[::1]", LISTEN_PORT_MUST },
	{ "listen", "[::1]x:80", LISTEN_PORT_MUST },
	{ "listen", "localhost:80", LISTEN_HOST_MUST "\"localhost:80\"" },
	{ "listen", "256.0.0.1:80", LISTEN_HOST_MUST "\"256.0.0.1:80\"" },
	{ "listen", "127.1:80", LISTEN_HOST_MUST "\"127.1:80\"" },
	{ "listen", "[127.0.0.1]:80", LISTEN_HOST_MUST "\"[127.0.0.1]:80\"" },
	{ "listen", "::1:80",
	    "listen: an IPv6 address must be in brackets, "
	    "as in [::1]:9000" },
	{ "listen", "[::1:80",
	    "listen: missing \"]\" after the IPv6 "
	    "address" },
	{ "listen", ":80", "listen: the host must be 1 to 63 bytes" },
	{ "listen", "stockade.sock",
	    "listen: must be an absolute unix socket "
	    "path, IPV4:PORT or [IPV6]:PORT, got \"stockade.sock\"" },
	{ "listen", "127.0.0.1",
	    "listen: must be an absolute unix socket "
	    "path, IPV4:PORT or [IPV6]:PORT, got \"127.0.0.1\"" },
};

START_TEST(test_listen_bad)
{
	const struct bad_case *c = &bad_listens[_i];
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	ck_assert_int_eq(config_set(cfg, c->key, c->value, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, c->why);
	assert_defaults(cfg);
	config_free(cfg);
}
END_TEST

/* A good redis_url and what it must be split into. */
struct redis_case {
	const char *url;
	const char *host;
	int port;
	const char *path;
};

static const struct redis_case good_redis[] = {
	{ "redis://127.0.0.1:6379", "127.0.0.1", 6379, "" },
	{ "redis://10.0.0.5:6380/", "10.0.0.5", 6380, "" },
	{ "redis://redis.internal:7000", "redis.internal", 7000, "" },
	{ "redis://cache", "cache", 6379, "" },
	{ "redis://[::1]:6379", "::1", 6379, "" },
	{ "redis://[fe80::1]", "fe80::1", 6379, "" },
	{ "unix:/run/redis/redis.sock", "", 0, "/run/redis/redis.sock" },
};

START_TEST(test_redis_good)
{
	const struct redis_case *c = &good_redis[_i];
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	/* Start from the other form so that stale derived fields show. */
	ck_assert_int_eq(config_set(cfg, "redis_url",
	                     c->path[0] ? "redis://old:1" : "unix:/old.sock",
	                     err, sizeof(err)),
	    0);
	ck_assert_msg(config_set(cfg, "redis_url", c->url, err, sizeof(err)) ==
	        0,
	    "%s: %s", c->url, err);
	ck_assert_str_eq(cfg->redis_url, c->url);
	ck_assert_str_eq(cfg->redis_host, c->host);
	ck_assert_int_eq(cfg->redis_port, c->port);
	ck_assert_str_eq(cfg->redis_unix_path, c->path);
	config_free(cfg);
}
END_TEST

#define REDIS_EXTRA \
	"redis_url: a user, password, database number or " \
	"query is not supported yet: use redis://HOST:PORT"
#define REDIS_SCHEME \
	"redis_url: must be redis://HOST:PORT or unix:/PATH " \
	"(rediss:// is not supported)"
#define REDIS_PORT_MUST \
	"redis_url: must end in :PORT, PORT an integer " \
	"from 1 to 65535"

static const struct bad_case bad_redis[] = {
	{ "redis_url", "redis://h:6379/0", REDIS_EXTRA },
	{ "redis_url", "redis://user:pw@h:6379", REDIS_EXTRA },
	{ "redis_url", "redis://h:6379?timeout=1", REDIS_EXTRA },
	{ "redis_url", "redis://h:6379//", REDIS_EXTRA },
	{ "redis_url", "rediss://h:6379", REDIS_SCHEME },
	{ "redis_url", "http://h:6379", REDIS_SCHEME },
	{ "redis_url", "127.0.0.1:6379", REDIS_SCHEME },
	{ "redis_url", "redis://h:0", REDIS_PORT_MUST },
	{ "redis_url", "redis://h:65536", REDIS_PORT_MUST },
	{ "redis_url", "redis://h:", REDIS_PORT_MUST },
	{ "redis_url", "redis://:6379",
	    "redis_url: the host must be 1 to 255 "
	    "bytes" },
	{ "redis_url", "redis://",
	    "redis_url: the host must be 1 to 255 "
	    "bytes" },
	{ "redis_url", "redis://bad_host:6379",
	    "redis_url: the host is not a "
	    "valid host name" },
	{ "redis_url", "redis://-h:6379",
	    "redis_url: the host is not a valid "
	    "host name" },
	{ "redis_url", "redis://h-.example:6379",
	    "redis_url: the host is not "
	    "a valid host name" },
	{ "redis_url", "redis://a..b:6379",
	    "redis_url: the host is not a "
	    "valid host name" },
	{ "redis_url", "redis://999.1.1.1:6379",
	    "redis_url: the host is not "
	    "a valid IPv4 address" },
	{ "redis_url", "redis://[::g]:6379",
	    "redis_url: the host is not a "
	    "valid IPv6 address" },
	{ "redis_url", "unix:relative.sock",
	    "redis_url: a unix socket path "
	    "must be absolute" },
	{ "redis_url", "unix:",
	    "redis_url: a unix socket path must be "
	    "absolute" },
};

START_TEST(test_redis_bad)
{
	const struct bad_case *c = &bad_redis[_i];
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	ck_assert_int_eq(config_set(cfg, c->key, c->value, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, c->why);
	assert_defaults(cfg);
	config_free(cfg);
}
END_TEST

START_TEST(test_redis_long_names)
{
	struct config *cfg = config_create();
	char url[600], label[65], err[ERR_MAX] = "";

	/* A label may have 63 bytes, not 64 (RFC 1035). */
	memset(label, 'a', sizeof(label) - 1);
	label[64] = '\0';
	snprintf(url, sizeof(url), "redis://%s.example:1", label);
	ck_assert_int_eq(config_set(cfg, "redis_url", url, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "redis_url: the host is not a valid host name");
	snprintf(url, sizeof(url), "redis://%s.example:1", label + 1);
	ck_assert_msg(config_set(cfg, "redis_url", url, err, sizeof(err)) == 0,
	    "%s", err);
	/* And so is a 109-byte unix path. */
	memset(url, 'r', sizeof(url));
	memcpy(url, "unix:/", 6);
	url[5 + 108] = '\0';
	ck_assert_int_eq(config_set(cfg, "redis_url", url, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err,
	    "redis_url: a unix socket path must be at most "
	    "107 bytes (sockaddr_un), got 108");
	config_free(cfg);
}
END_TEST

START_TEST(test_load_comments_and_blanks)
{
	struct config *cfg = config_create();

	load_ok(cfg,
	    "# a comment\n\n   \t\n\t# an indented comment\n"
	    "  workers\t=\t3   # three\nlisten = /tmp/a#b.sock\n"
	    "database_url=dbname=x\nmax_body = 1k\r\ndb_retries = 5");
	ck_assert_int_eq(cfg->workers, 3);
	ck_assert_str_eq(cfg->listen, "/tmp/a#b.sock");
	ck_assert_str_eq(cfg->database_url, "dbname=x");
	ck_assert_uint_eq(cfg->max_body, 1024);
	ck_assert_int_eq(cfg->db_retries, 5);
	config_free(cfg);
}
END_TEST

START_TEST(test_load_quoted)
{
	struct config *cfg = config_create();

	load_ok(cfg,
	    "database_url = \"  host=db # not a comment  \"   # a comment\n"
	    "auth_secret_file = \"/tmp/q\\\"x\\\\y\"\n"
	    "listen = \"/tmp/stockade.sock\"\n"
	    "redis_url=\"unix:/tmp/r.sock\"# also a comment\n");
	ck_assert_str_eq(cfg->database_url, "  host=db # not a comment  ");
	ck_assert_str_eq(cfg->auth_secret_file, "/tmp/q\"x\\y");
	ck_assert_str_eq(cfg->listen, "/tmp/stockade.sock");
	ck_assert_str_eq(cfg->redis_unix_path, "/tmp/r.sock");
	config_free(cfg);
}
END_TEST

/* A whole text that must fail to load, and the whole message. */
struct load_case {
	const char *text;
	const char *err;
};

static const struct load_case bad_loads[] = {
	{ "workers = 3\nwrokers = 4\n", "test.conf:2: wrokers: unknown key" },
	{ "workers = 3\n\nworkers = 4\n",
	    "test.conf:3: workers: given twice (first on line 1)" },
	{ "workers 8\n", "test.conf:1: workers: missing \"=\" after the key" },
	{ "workers\n", "test.conf:1: workers: missing \"=\" after the key" },
	{ "workers: 8\n",
	    "test.conf:1: workers:: missing \"=\" after the "
	    "key" },
	{ " = 8\n", "test.conf:1: missing key before \"=\"" },
	{ "=\n", "test.conf:1: missing key before \"=\"" },
	{ "workers = # nothing\n",
	    "test.conf:1: workers: must be an integer "
	    "from 1 to 256, got \"\"" },
	{ "workers =\n",
	    "test.conf:1: workers: must be an integer from 1 to "
	    "256, got \"\"" },
	{ "workers = 8 8\n",
	    "test.conf:1: workers: must be an integer from 1 "
	    "to 256, got \"8 8\"" },
	{ "workers = \"8\n", "test.conf:1: workers: missing closing quote" },
	{ "database_url = \"a\\nb\"\n",
	    "test.conf:1: database_url: in a "
	    "quoted value a backslash may only escape \" or \\" },
	{ "database_url = \"a\" b\n",
	    "test.conf:1: database_url: unexpected "
	    "text after the closing quote" },
	{ "listen = \"\"\n", "test.conf:1: listen: must not be empty" },
	{ "log_level = debug\nlog_level = info\n",
	    "test.conf:2: log_level: "
	    "given twice (first on line 1)" },
	{ "log_level = debug #x\nworkers = 2\nmax_body = 17M\n",
	    "test.conf:3: max_body: must be a size from 1 to 16M (bytes, or a "
	    "number followed by k or M), got \"17M\"" },
	{ "wor\x1bkers = 1\n", "test.conf:1: wor\\x1bkers: unknown key" },
	{ "workers = 2\nstock_strategy = optimistic # faster?\n",
	    "test.conf:2: stock_strategy: must be one of pessimistic, "
	    "conditional, redis_lock, got \"optimistic\"" },
	{ "stock_strategy = conditional\nstock_strategy = pessimistic\n",
	    "test.conf:2: stock_strategy: given twice (first on line 1)" },
	{ "reservation_ttl = 30min\nidempotency_ttl = 12h\n",
	    "test.conf:2: idempotency_ttl: must be a duration from 24h to 480h "
	    "(milliseconds, or a number followed by ms, s, min or h), got "
	    "\"12h\"" },
	{ "point_strategy = conditional\npoint_strategy = pessimistic\n",
	    "test.conf:2: point_strategy: given twice (first on line 1)" },
	{ "point_retries = 3\nmax_balance = 2000000000000 # 2e12\n",
	    "test.conf:2: max_balance: must be an integer from 1 to "
	    "1000000000000, got \"2000000000000\"" },
};

START_TEST(test_load_bad)
{
	const struct load_case *c = &bad_loads[_i];

	load_fails(c->text, strlen(c->text), c->err);
}
END_TEST

START_TEST(test_load_orders_and_stock)
{
	struct config *cfg = config_create();

	load_ok(cfg,
	    "stock_strategy = \"conditional\"   # quoted is fine too\n"
	    "reservation_ttl = 15min\n"
	    "reaper_interval = 250ms\n"
	    "reaper_batch = 1000\n"
	    "idempotency_ttl = 48h # two days\n");
	ck_assert_int_eq(cfg->stock_strategy, STOCK_CONDITIONAL);
	ck_assert_int_eq(cfg->reservation_ttl_ms, 900000);
	ck_assert_int_eq(cfg->reaper_interval_ms, 250);
	ck_assert_int_eq(cfg->reaper_batch, 1000);
	ck_assert_int_eq(cfg->idempotency_ttl_ms, 172800000);
	config_free(cfg);
}
END_TEST

START_TEST(test_load_points)
{
	struct config *cfg = config_create();

	load_ok(cfg,
	    "point_strategy = \"conditional\"   # quoted is fine too\n"
	    "point_retries = 12\n"
	    "max_charge = 50000\n"
	    "max_balance = 999999999999 # past 32 bits\n");
	ck_assert_int_eq(cfg->point_strategy, POINT_CONDITIONAL);
	ck_assert_int_eq(cfg->point_retries, 12);
	ck_assert_int_eq(cfg->max_charge, 50000);
	ck_assert_int_eq(cfg->max_balance, 999999999999LL);
	config_free(cfg);
}
END_TEST

START_TEST(test_load_message_names_file_line_key)
{
	static const char text[] =
	    "# stockade.conf\n# 2\n# 3\n# 4\n# 5\n# 6\n# 7\n# 8\n# 9\n# 10\n"
	    "# 11\nworkers = abc\n";
	struct config *cfg = config_create();
	char err[ERR_MAX];

	ck_assert_int_eq(config_load_string(cfg, "stockade.conf", text,
	                     strlen(text), err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err,
	    "stockade.conf:12: workers: must be an integer "
	    "from 1 to 256, got \"abc\"");
	config_free(cfg);
}
END_TEST

START_TEST(test_load_is_all_or_nothing)
{
	struct config *cfg = config_create();
	static const char text[] = "workers = 3\nlisten = 127.0.0.1:9000\n"
	                           "log_level = loud\n";
	char err[ERR_MAX];

	ck_assert_int_eq(config_load_string(cfg, "t", text, strlen(text), err,
	                     sizeof(err)),
	    -1);
	assert_defaults(cfg);
	config_free(cfg);
}
END_TEST

START_TEST(test_load_on_top)
{
	struct config *cfg = config_create();

	load_ok(cfg, "workers = 3\nlog_level = debug\n");
	/* A second file may set a key again: the check is per file. */
	load_ok(cfg, "workers = 4\n");
	ck_assert_int_eq(cfg->workers, 4);
	ck_assert_int_eq(cfg->log_level, LOG_LEVEL_DEBUG);
	load_ok(cfg, "");
	ck_assert_int_eq(cfg->workers, 4);
	config_free(cfg);
}
END_TEST

START_TEST(test_load_nul_byte)
{
	static const char text[] = "workers = 3\nworkers\0 = 4\n";

	load_fails(text, sizeof(text) - 1,
	    "test.conf:2: line contains a NUL byte");
}
END_TEST

START_TEST(test_load_long_line)
{
	struct config *cfg = config_create();
	size_t len = 4096 + 1 + 4097 + 1;
	char *text = malloc(len + 1);
	char err[ERR_MAX];

	ck_assert_ptr_nonnull(text);
	/* Line 1: exactly 4096 bytes, allowed.  Line 2: 4097, refused. */
	memset(text, ' ', len);
	text[0] = '#';
	text[4096] = '\n';
	memcpy(text + 4097, "workers = 3", 11);
	text[len - 1] = '\n';
	text[len] = '\0';
	ck_assert_int_eq(config_load_string(cfg, "long.conf", text, 4097, err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_load_string(cfg, "long.conf", text, len, err,
	                     sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "long.conf:2: line is longer than 4096 bytes");
	free(text);
	config_free(cfg);
}
END_TEST

START_TEST(test_load_file)
{
	char dir[] = "/tmp/check_config.XXXXXX", err[ERR_MAX] = "";
	char missing[600];
	static const char text[] = "workers = 5\nmax_body = 1M\n";
	struct config *cfg = config_create();
	const char *path;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = write_file(dir, "ok.conf", text, strlen(text), 0600);
	ck_assert_msg(config_load_file(cfg, path, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(cfg->workers, 5);
	ck_assert_uint_eq(cfg->max_body, 1048576);
	ck_assert_int_eq(unlink(path), 0);

	path = write_file(dir, "bad.conf", "workers = 0\n", 12, 0600);
	ck_assert_int_eq(config_load_file(cfg, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "/bad.conf:1: workers: must be"));
	ck_assert_int_eq(cfg->workers, 5);
	ck_assert_int_eq(unlink(path), 0);

	snprintf(missing, sizeof(missing), "%s/missing.conf", dir);
	ck_assert_int_eq(config_load_file(cfg, missing, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(
	    strstr(err, "/missing.conf: No such file or directory"));
	ck_assert_int_eq(config_load_file(cfg, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "Is a directory"));
	ck_assert_int_eq(rmdir(dir), 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_load_file_too_big)
{
	char dir[] = "/tmp/check_config.XXXXXX", err[ERR_MAX] = "";
	struct config *cfg = config_create();
	size_t big = 1024 * 1024 + 1;
	char *text = malloc(big);
	const char *path;

	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* Many short comment lines: only the file size is wrong. */
	for (size_t i = 0; i < big; i++)
		text[i] = i % 64 == 63 ? '\n' : '#';
	path = write_file(dir, "big.conf", text, big - 1, 0600);
	ck_assert_msg(config_load_file(cfg, path, err, sizeof(err)) == 0, "%s",
	    err);
	path = write_file(dir, "big.conf", text, big, 0600);
	ck_assert_int_eq(config_load_file(cfg, path, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(
	    strstr(err, "big.conf: larger than 1048576 bytes"));
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	free(text);
	config_free(cfg);
}
END_TEST

/* Reads a secret from a file holding data; returns config_read_secret's. */
static int read_secret_from(const char *dir, const char *data, size_t len,
    mode_t mode, unsigned char **secret, size_t *secretlen, char *err)
{
	struct config *cfg = config_create();
	const char *path = write_file(dir, "secret", data, len, mode);
	char seterr[ERR_MAX];
	int r;

	ck_assert_int_eq(config_set(cfg, "auth_secret_file", path, seterr,
	                     sizeof(seterr)),
	    0);
	r = config_read_secret(cfg, secret, secretlen, err, ERR_MAX);
	ck_assert_int_eq(unlink(path), 0);
	config_free(cfg);
	return r;
}

START_TEST(test_secret)
{
	static const char b64[] =
	    "q2Fz8R0x1bY3mQ9sJc4TzW0eKfA7pLh2Vn6uXy1oG+8="; /* 44 bytes */
	char dir[] = "/tmp/check_config.XXXXXX", err[ERR_MAX] = "";
	char data[5000];
	unsigned char *secret = NULL;
	size_t len = 0;

	ck_assert_ptr_nonnull(mkdtemp(dir));

	snprintf(data, sizeof(data), "%s\n", b64);
	ck_assert_msg(read_secret_from(dir, data, strlen(data), 0600, &secret,
	                  &len, err) == 0,
	    "%s", err);
	ck_assert_uint_eq(len, 44);
	ck_assert_mem_eq(secret, b64, 44);
	free(secret);

	snprintf(data, sizeof(data), "%s\r\n", b64);
	ck_assert_int_eq(read_secret_from(dir, data, strlen(data), 0600,
	                     &secret, &len, err),
	    0);
	ck_assert_uint_eq(len, 44);
	free(secret);

	/* Only one newline is stripped: the rest is the operator's data. */
	snprintf(data, sizeof(data), "%s\n\n", b64);
	ck_assert_int_eq(read_secret_from(dir, data, strlen(data), 0600,
	                     &secret, &len, err),
	    0);
	ck_assert_uint_eq(len, 45);
	ck_assert_int_eq(secret[44], '\n');
	free(secret);

	/* Binary secrets may hold any byte, NUL included. */
	memset(data, 0, 32);
	ck_assert_int_eq(read_secret_from(dir, data, 32, 0600, &secret, &len,
	                     err),
	    0);
	ck_assert_uint_eq(len, 32);
	free(secret);

	memset(data, 'k', sizeof(data));
	ck_assert_int_eq(read_secret_from(dir, data, 4096, 0400, &secret, &len,
	                     err),
	    0);
	ck_assert_uint_eq(len, 4096);
	free(secret);

	/* Group-readable works, with a warning on stderr. */
	ck_assert_int_eq(read_secret_from(dir, b64, 44, 0640, &secret, &len,
	                     err),
	    0);
	free(secret);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_secret_bad)
{
	char dir[] = "/tmp/check_config.XXXXXX", err[ERR_MAX] = "";
	char data[5000], path[600];
	struct config *cfg = config_create();
	unsigned char *secret = NULL;
	size_t len = 0;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(config_read_secret(cfg, &secret, &len, err,
	                     sizeof(err)),
	    -1);
	ck_assert_str_eq(err,
	    "auth_secret_file is not set; create one with: "
	    "head -c 32 /dev/urandom | base64 > FILE");

	ck_assert_int_eq(read_secret_from(dir, "short\n", 6, 0600, &secret,
	                     &len, err),
	    -1);
	ck_assert_ptr_nonnull(
	    strstr(err, "/secret: the secret must be 32 to 4096 bytes, got 5"));

	memset(data, 'k', sizeof(data));
	data[31] = '\n';
	ck_assert_int_eq(read_secret_from(dir, data, 32, 0600, &secret, &len,
	                     err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "got 31"));

	ck_assert_int_eq(read_secret_from(dir, "", 0, 0600, &secret, &len, err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "got 0"));

	memset(data, 'k', sizeof(data));
	ck_assert_int_eq(read_secret_from(dir, data, 4097, 0600, &secret, &len,
	                     err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "got more than 4096"));
	ck_assert_int_eq(read_secret_from(dir, data, sizeof(data), 0600,
	                     &secret, &len, err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "got more than 4096"));

	snprintf(path, sizeof(path), "%s/missing", dir);
	ck_assert_int_eq(config_set(cfg, "auth_secret_file", path, err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_read_secret(cfg, &secret, &len, err,
	                     sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "auth_secret_file: "));
	ck_assert_ptr_nonnull(
	    strstr(err, "/missing: No such file or directory"));

	ck_assert_int_eq(config_set(cfg, "auth_secret_file", dir, err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_read_secret(cfg, &secret, &len, err,
	                     sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, ": not a regular file"));
	ck_assert_ptr_null(secret);
	ck_assert_int_eq(rmdir(dir), 0);
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
};

START_TEST(test_dump_redacts_passwords)
{
	const struct good_case *c = &redactions[_i];
	struct config *cfg = config_create();
	char err[ERR_MAX] = "";

	ck_assert_int_eq(config_set(cfg, c->key, c->value, err, sizeof(err)),
	    0);
	ck_assert_str_eq(cfg->database_url, c->value);
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

#define NCASES(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *values = tcase_create("values");
	TCase *addresses = tcase_create("addresses");
	TCase *files = tcase_create("files");
	TCase *secret = tcase_create("secret");
	TCase *output = tcase_create("output");

	tcase_add_test(values, test_defaults);
	tcase_add_loop_test(values, test_set_good, 0, NCASES(good_cases));
	tcase_add_loop_test(values, test_set_bad, 0, NCASES(bad_cases));
	tcase_add_test(values, test_set_units_stored);
	tcase_add_test(values, test_enum_names);
	tcase_add_test(values, test_string_length);
	tcase_add_test(values, test_err_truncated);
	suite_add_tcase(s, values);

	tcase_add_test(addresses, test_listen_tcp);
	tcase_add_test(addresses, test_listen_unix_length);
	tcase_add_loop_test(addresses, test_listen_bad, 0, NCASES(bad_listens));
	tcase_add_loop_test(addresses, test_redis_good, 0, NCASES(good_redis));
	tcase_add_loop_test(addresses, test_redis_bad, 0, NCASES(bad_redis));
	tcase_add_test(addresses, test_redis_long_names);
	suite_add_tcase(s, addresses);

	tcase_add_test(files, test_load_comments_and_blanks);
	tcase_add_test(files, test_load_quoted);
	tcase_add_loop_test(files, test_load_bad, 0, NCASES(bad_loads));
	tcase_add_test(files, test_load_orders_and_stock);
	tcase_add_test(files, test_load_points);
	tcase_add_test(files, test_load_message_names_file_line_key);
	tcase_add_test(files, test_load_is_all_or_nothing);
	tcase_add_test(files, test_load_on_top);
	tcase_add_test(files, test_load_nul_byte);
	tcase_add_test(files, test_load_long_line);
	tcase_add_test(files, test_load_file);
	tcase_add_test(files, test_load_file_too_big);
	suite_add_tcase(s, files);

	tcase_add_test(secret, test_secret);
	tcase_add_test(secret, test_secret_bad);
	suite_add_tcase(s, secret);

	tcase_add_test(output, test_dump_defaults);
	tcase_add_test(output, test_dump_round_trip);
	tcase_add_loop_test(output, test_dump_redacts_passwords, 0,
	    NCASES(redactions));
	tcase_add_test(output, test_dump_enum_out_of_range);
	tcase_add_test(output, test_usage);
	tcase_add_test(output, test_sample_matches_defaults);
	tcase_add_test(output, test_docs_list_every_key);
	suite_add_tcase(s, output);
	return s;
}

int main(void)
{
	return check_run(config_suite());
}
