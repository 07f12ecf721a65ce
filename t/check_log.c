/*
 * check_log: the log line (one line per event, timestamp, level, pid and
 * role, cut to fit), the level threshold, level names, and the escaping
 * that keeps request data from forging or breaking a line; the json
 * format, whose every line json.c's parser must read back.
 */
#include <check.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "log_json.h"
#include "check_run.h"

START_TEST(test_escape)
{
	char out[32];

	log_escape(out, sizeof(out), "GET /a", 6);
	ck_assert_str_eq(out, "GET /a");
	log_escape(out, sizeof(out), "a\nb\"c\\", 6);
	ck_assert_str_eq(out, "a\\x0ab\\x22c\\x5c");
	log_escape(out, sizeof(out), "\x1b[31m\xff", 6);
	ck_assert_str_eq(out, "\\x1b[31m\\xff");
	log_escape(out, 8, "abcdefghijkl", 12);
	ck_assert_str_eq(out, "abcd...");
	log_escape(out, 3, "abc", 3);
	ck_assert_str_eq(out, "");
	log_escape(out, sizeof(out), "a\0b", 3);
	ck_assert_str_eq(out, "a\\x00b");
}
END_TEST

/* Truncation never splits an escape, and always leaves room for "...". */
START_TEST(test_escape_bounds)
{
	char out[16];

	memset(out, 'z', sizeof(out));
	log_escape(out, 0, "abc", 3); /* nothing written at all */
	ck_assert_int_eq(out[0], 'z');
	log_escape(out, 1, "abc", 3);
	ck_assert_str_eq(out, "");
	log_escape(out, 4, "", 0);
	ck_assert_str_eq(out, "");
	/* "abcd" needs 5 bytes; with 8 it fits whole, with 7 it does not. */
	log_escape(out, 8, "abcd", 4);
	ck_assert_str_eq(out, "abcd");
	log_escape(out, 7, "abcdefgh", 8);
	ck_assert_str_eq(out, "abc...");
	/* An escape that does not fit is left out whole. */
	log_escape(out, 8, "a\nbcdefgh", 9);
	ck_assert_str_eq(out, "a...");
	log_escape(out, 9, "a\nbcdefgh", 9);
	ck_assert_str_eq(out, "a\\x0a...");
	log_escape(out, 10, "a\nbcdefgh", 9);
	ck_assert_str_eq(out, "a\\x0ab...");
	/* DEL and bytes above it are escaped; a space and '~' are not. */
	log_escape(out, sizeof(out), " ~\x7f\x80", 4);
	ck_assert_str_eq(out, " ~\\x7f\\x80");
}
END_TEST

/* A multi-line message (libpq's errors and notices) becomes one line. */
START_TEST(test_escape_lines)
{
	char out[64];

	log_escape_lines(out, sizeof(out), "plain: caf\xc3\xa9 \"q\" a\\b");
	ck_assert_str_eq(out, "plain: caf\xc3\xa9 \"q\" a\\b");
	log_escape_lines(out, sizeof(out),
	    "WARNING:  terminating connection\nDETAIL:  x\tY\r\n\n");
	ck_assert_str_eq(out,
	    "WARNING:  terminating connection\\nDETAIL:  x\\tY");
	log_escape_lines(out, sizeof(out), "a\x1b[0m\x7f\nb");
	ck_assert_str_eq(out, "a\\x1b[0m\\x7f\\nb");
	log_escape_lines(out, sizeof(out), "\n\n");
	ck_assert_str_eq(out, "");
	/* Cut where the next piece does not fit, never inside an escape. */
	log_escape_lines(out, 4, "ab\ncd");
	ck_assert_str_eq(out, "ab");
	log_escape_lines(out, 6, "ab\ncd");
	ck_assert_str_eq(out, "ab\\nc");
	log_escape_lines(out, 1, "ab");
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_level_parse)
{
	enum log_level l;

	ck_assert_int_eq(log_level_parse("debug", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_DEBUG);
	ck_assert_int_eq(log_level_parse("warn", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_WARN);
	ck_assert_int_eq(log_level_parse("error", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_ERROR);
	ck_assert_int_eq(log_level_parse("info", &l), 0);
	ck_assert_int_eq(l, LOG_LEVEL_INFO);
	ck_assert_int_eq(log_level_parse("loud", &l), -1);
	ck_assert_int_eq(log_level_parse("INFO", &l), -1);
	ck_assert_int_eq(log_level_parse("", &l), -1);
	for (int i = 0; i < LOG_LEVEL__MAX; i++) {
		ck_assert_int_eq(log_level_parse(log_level_names[i], &l), 0);
		ck_assert_int_eq(l, i);
	}
}
END_TEST

/*
 * Sends stderr to a temp file (Check runs each test in its own process),
 * and returns what was written to it since (malloc'd).
 */
static FILE *capture_stderr(void)
{
	FILE *f = tmpfile();

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ne(dup2(fileno(f), STDERR_FILENO), -1);
	return f;
}

static char *captured(FILE *f)
{
	long n = lseek(STDERR_FILENO, 0, SEEK_CUR);
	char *buf = malloc((size_t)n + 1);

	ck_assert_int_ge(n, 0);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fileno(f), buf, (size_t)n, 0), n);
	buf[n] = '\0';
	return buf;
}

START_TEST(test_line)
{
	FILE *f = capture_stderr();
	char *text, want[256];
	regex_t re;

	log_init(LOG_LEVEL_WARN, "worker 3");
	ck_assert_int_eq(log_get_level(), LOG_LEVEL_WARN);
	log_info("not written");
	log_debug("not written");
	log_warn("disk %d%% full", 93);
	log_error("gone");
	text = captured(f);
	snprintf(want, sizeof(want),
	    "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	    "warn \\[%ld\\] worker 3: disk 93%% full\n"
	    "[^\n]+Z error \\[%ld\\] worker 3: gone\n$",
	    (long)getpid(), (long)getpid());
	ck_assert_int_eq(regcomp(&re, want, REG_EXTENDED), 0);
	ck_assert_msg(regexec(&re, text, 0, NULL, 0) == 0, "got:\n%s", text);
	regfree(&re);
	free(text);
	fclose(f);
}
END_TEST

/* A line longer than the buffer is cut, and still ends in one newline. */
START_TEST(test_line_cut)
{
	FILE *f = capture_stderr();
	char *big = malloc(5000), *text;

	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	log_init(LOG_LEVEL_INFO, "t");
	log_info("%s", big);
	log_info("next");
	text = captured(f);
	ck_assert_ptr_nonnull(strchr(text, '\n'));
	ck_assert_uint_le((size_t)(strchr(text, '\n') - text) + 1, 2047);
	ck_assert_ptr_nonnull(strstr(text, "xxx\n"));
	ck_assert_ptr_nonnull(strstr(text, " t: next\n"));
	free(text);
	free(big);
	fclose(f);
}
END_TEST

/* Each message is one line, whatever newlines it carries. */
START_TEST(test_line_multiline)
{
	FILE *f = capture_stderr();
	char *text;

	log_init(LOG_LEVEL_INFO, "worker 1");
	log_warn("database: %s",
	    "WARNING:  terminating connection\n"
	    "DETAIL:  The postmaster has commanded.\n");
	text = captured(f);
	ck_assert_ptr_nonnull(strstr(text,
	    " worker 1: database: WARNING:  terminating connection\\n"
	    "DETAIL:  The postmaster has commanded.\n"));
	ck_assert_ptr_eq(strchr(text, '\n'), text + strlen(text) - 1);
	free(text);
	fclose(f);
}
END_TEST

static int marker_fd = -1;

/* An atexit handler of the "master": leaves a mark where it runs. */
static void leave_mark(void)
{
	if (write(marker_fd, "x", 1) < 0)
		(void)0;
}

/*
 * fatal() in a child forked after log_init must not run the parent's
 * atexit handlers (nor flush its stdio buffers): it exits with _exit.
 */
START_TEST(test_fatal_in_child)
{
	FILE *f = capture_stderr(), *mark = tmpfile();
	char *text;
	int status;
	pid_t pid;

	ck_assert_ptr_nonnull(mark);
	marker_fd = fileno(mark);
	log_init(LOG_LEVEL_INFO, "master");
	ck_assert_int_eq(atexit(leave_mark), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		fatal("child gives up");
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	ck_assert_int_eq(lseek(marker_fd, 0, SEEK_END), 0);
	text = captured(f);
	ck_assert_ptr_nonnull(strstr(text, "error ["));
	ck_assert_ptr_nonnull(strstr(text, "master: child gives up\n"));
	free(text);
}
END_TEST

/*
 * Parses one json log line (the whole of text, one trailing newline) and
 * returns the object, failing the test unless it is one.
 */
static struct json_value *json_line(const char *text)
{
	struct json_limits limits = { 4, 4096, 16 };
	struct json_value *v;
	size_t len = strlen(text);
	char err[128];

	ck_assert_uint_gt(len, 0);
	ck_assert_ptr_eq(strchr(text, '\n'), text + len - 1);
	v = json_parse(text, len - 1, &limits, err, sizeof(err));
	ck_assert_msg(v != NULL, "not JSON (%s): %s", err, text);
	ck_assert_int_eq(v->type, JSON_OBJECT);
	return v;
}

static const char *json_str(const struct json_value *o, const char *key)
{
	const struct json_value *v = json_get(o, key);

	ck_assert_msg(v != NULL && v->type == JSON_STRING, "no string %s", key);
	return v->u.string.ptr;
}

START_TEST(test_format_names)
{
	ck_assert_str_eq(log_format_names[LOG_FORMAT_TEXT], "text");
	ck_assert_str_eq(log_format_names[LOG_FORMAT_JSON], "json");
}
END_TEST

/* Every field, and "rid" exactly while a request is in hand. */
START_TEST(test_json_line)
{
	FILE *f = capture_stderr();
	struct json_value *v;
	const struct json_value *pid;
	char *text, *second, *third;
	regex_t re;

	log_init(LOG_LEVEL_INFO, "worker 3");
	log_set_format(LOG_FORMAT_JSON);
	log_warn("disk %d%% full", 93);
	text = captured(f);
	v = json_line(text);
	ck_assert_int_eq(regcomp(&re,
	                     "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
	                     "[0-9]{2}\\.[0-9]{3}Z$",
	                     REG_EXTENDED),
	    0);
	ck_assert_int_eq(regexec(&re, json_str(v, "ts"), 0, NULL, 0), 0);
	regfree(&re);
	ck_assert_str_eq(json_str(v, "level"), "warn");
	ck_assert_str_eq(json_str(v, "role"), "worker 3");
	ck_assert_str_eq(json_str(v, "msg"), "disk 93% full");
	pid = json_get(v, "pid");
	ck_assert_ptr_nonnull(pid);
	ck_assert_int_eq(pid->type, JSON_INT);
	ck_assert_int_eq(pid->u.integer, getpid());
	ck_assert_ptr_null(json_get(v, "rid"));
	ck_assert_uint_eq(v->u.object.len, 5);
	json_free(v);

	log_set_request("req-42");
	log_info("access GET /x 200");
	log_set_request(NULL);
	log_error("after");
	free(text);
	text = captured(f);
	second = strchr(text, '\n') + 1;
	third = strchr(second, '\n') + 1;
	ck_assert_ptr_eq(strchr(third, '\n'), text + strlen(text) - 1);
	second = strndup(second, (size_t)(third - second));
	v = json_line(second);
	ck_assert_str_eq(json_str(v, "rid"), "req-42");
	ck_assert_str_eq(json_str(v, "msg"), "access GET /x 200");
	json_free(v);
	v = json_line(third);
	ck_assert_ptr_null(json_get(v, "rid"));
	ck_assert_str_eq(json_str(v, "level"), "error");
	json_free(v);
	free(second);
	free(text);
	fclose(f);
}
END_TEST

/*
 * Whatever a message holds, the line is one JSON object that reads back
 * to it: quotes, backslashes, newlines, control bytes, text in UTF-8; a
 * byte that is no UTF-8 (a stray 0xff, an overlong '/', a surrogate) reads
 * back as U+FFFD.
 */
START_TEST(test_json_escape)
{
	FILE *f = capture_stderr();
	struct json_value *v;
	char *text;

	log_init(LOG_LEVEL_INFO, "t\"1");
	log_set_format(LOG_FORMAT_JSON);
	log_info("%s",
	    "a\"b\\c\nd\te\x01"
	    "f\x7f caf\xc3\xa9 \xff|\xc0\xaf|"
	    "\xed\xa0\x80|\xe2\x82");
	text = captured(f);
	ck_assert_ptr_null(strstr(text, "\xff"));
	v = json_line(text);
	ck_assert_str_eq(json_str(v, "role"), "t\"1");
	ck_assert_str_eq(json_str(v, "msg"),
	    "a\"b\\c\nd\te\x01"
	    "f\x7f caf\xc3\xa9 \xef\xbf\xbd|"
	    "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
	    "\xef\xbf\xbd\xef\xbf\xbd");
	json_free(v);
	free(text);
	fclose(f);
}
END_TEST

/* A message too long for a line is cut, and the line still parses. */
START_TEST(test_json_cut)
{
	FILE *f = capture_stderr();
	char *big = malloc(5000), *text;
	struct json_value *v;

	ck_assert_ptr_nonnull(big);
	memset(big, '"', 4999); /* each one takes two bytes escaped */
	big[4999] = '\0';
	log_init(LOG_LEVEL_INFO, "t");
	log_set_format(LOG_FORMAT_JSON);
	log_info("%s", big);
	text = captured(f);
	ck_assert_uint_le(strlen(text), 2048);
	v = json_line(text);
	ck_assert_uint_gt(strlen(json_str(v, "msg")), 900);
	json_free(v);
	free(text);
	free(big);
	fclose(f);
}
END_TEST

/* log_json_string alone: bounds, and no character cut in two. */
START_TEST(test_json_string)
{
	char out[16];

	memset(out, 'z', sizeof(out));
	ck_assert_uint_eq(log_json_string(out, 0, "abc"), 0);
	ck_assert_int_eq(out[0], 'z');
	ck_assert_uint_eq(log_json_string(out, 2, "abc"), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(log_json_string(out, 3, "abc"), 2);
	ck_assert_str_eq(out, "\"\"");
	ck_assert_uint_eq(log_json_string(out, sizeof(out), "a\"b"), 6);
	ck_assert_str_eq(out, "\"a\\\"b\"");
	log_json_string(out, sizeof(out), "\x1f");
	ck_assert_str_eq(out, "\"\\u001f\"");
	/* "ab" then é (2 bytes): with 6 bytes it does not fit whole. */
	log_json_string(out, 6, "ab\xc3\xa9");
	ck_assert_str_eq(out, "\"ab\"");
	log_json_string(out, 7, "ab\xc3\xa9");
	ck_assert_str_eq(out, "\"ab\xc3\xa9\"");
	/* An escape is left out whole too. */
	log_json_string(out, 5, "a\n");
	ck_assert_str_eq(out, "\"a\"");
}
END_TEST

/* The whole file at path, NUL-terminated (the caller frees it). */
static char *read_path(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 4096);
	size_t n;

	ck_assert_msg(f != NULL, "%s: cannot open", path);
	ck_assert_ptr_nonnull(text);
	n = fread(text, 1, 4095, f);
	ck_assert_int_eq(ferror(f), 0);
	text[n] = '\0';
	fclose(f);
	return text;
}

/*
 * log_file: lines go to the file named; after a rename they follow the
 * renamed file until log_reopen, then go to a new file at the path.  A
 * file that cannot be opened leaves everything as it was.
 */
START_TEST(test_file_reopen)
{
	char dir[] = "/tmp/check_log.XXXXXX", path[64], rotated[80];
	char *text;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/app.log", dir);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	log_init(LOG_LEVEL_INFO, "master");
	ck_assert_int_eq(log_reopen(), 0); /* no file named: nothing to do */
	ck_assert_int_eq(log_open_file(path), 0);
	log_info("one");
	ck_assert_int_eq(rename(path, rotated), 0);
	log_info("two");
	ck_assert_int_eq(log_reopen(), 0);
	log_info("three");
	errno = 0;
	ck_assert_int_eq(log_open_file("/nonexistent/dir/app.log"), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(log_reopen(), 0); /* still the one at path */
	log_info("four");
	text = read_path(rotated);
	ck_assert_ptr_nonnull(strstr(text, " master: one\n"));
	ck_assert_ptr_nonnull(strstr(text, " master: two\n"));
	ck_assert_ptr_null(strstr(text, "three"));
	free(text);
	text = read_path(path);
	ck_assert_ptr_null(strstr(text, "two"));
	ck_assert_ptr_nonnull(strstr(text, " master: three\n"));
	ck_assert_ptr_nonnull(strstr(text, " master: four\n"));
	free(text);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(unlink(rotated), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *escape = tcase_create("escape");
	TCase *lines = tcase_create("lines");
	TCase *json = tcase_create("json");

	tcase_add_test(escape, test_escape);
	tcase_add_test(escape, test_escape_bounds);
	tcase_add_test(escape, test_escape_lines);
	tcase_add_test(escape, test_level_parse);
	suite_add_tcase(s, escape);
	tcase_add_test(lines, test_line);
	tcase_add_test(lines, test_line_cut);
	tcase_add_test(lines, test_line_multiline);
	tcase_add_test(lines, test_fatal_in_child);
	tcase_add_test(lines, test_file_reopen);
	suite_add_tcase(s, lines);
	tcase_add_test(json, test_format_names);
	tcase_add_test(json, test_json_line);
	tcase_add_test(json, test_json_escape);
	tcase_add_test(json, test_json_cut);
	tcase_add_test(json, test_json_string);
	suite_add_tcase(s, json);
	return check_run(s);
}
