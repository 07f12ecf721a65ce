/*
 * check_config_file: the file syntax (comments, blanks, quoting, CRLF),
 * loading all or nothing, files on disk and their limits, and the secret
 * file.  The error cases assert on the whole message, since "file, line,
 * key, why" is the contract operators rely on.
 */
#include "check_config.h"
#include "check_run.h"
#include "coupon_gate.h"
#include "coupon_issue.h"
#include "point.h"
#include "stock.h"

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
	config_secret_free(secret);

	snprintf(data, sizeof(data), "%s\r\n", b64);
	ck_assert_int_eq(read_secret_from(dir, data, strlen(data), 0600,
	                     &secret, &len, err),
	    0);
	ck_assert_uint_eq(len, 44);
	config_secret_free(secret);

	/* Only one newline is stripped: the rest is the operator's data. */
	snprintf(data, sizeof(data), "%s\n\n", b64);
	ck_assert_int_eq(read_secret_from(dir, data, strlen(data), 0600,
	                     &secret, &len, err),
	    0);
	ck_assert_uint_eq(len, 45);
	ck_assert_int_eq(secret[44], '\n');
	config_secret_free(secret);

	/* Binary secrets may hold any byte, NUL included. */
	memset(data, 0, 32);
	ck_assert_int_eq(read_secret_from(dir, data, 32, 0600, &secret, &len,
	                     err),
	    0);
	ck_assert_uint_eq(len, 32);
	config_secret_free(secret);

	memset(data, 'k', sizeof(data));
	ck_assert_int_eq(read_secret_from(dir, data, 4096, 0400, &secret, &len,
	                     err),
	    0);
	ck_assert_uint_eq(len, 4096);
	config_secret_free(secret);

	/* Group-readable works, with a warning on stderr. */
	ck_assert_int_eq(read_secret_from(dir, b64, 44, 0640, &secret, &len,
	                     err),
	    0);
	config_secret_free(secret);
	config_secret_free(NULL);
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

int main(void)
{
	Suite *s = suite_create("config_file");
	TCase *files = tcase_create("files");
	TCase *secret = tcase_create("secret");

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
	return check_run(s);
}
