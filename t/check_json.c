/*
 * check_json: the request-body parser's limits and number classification,
 * and the writer's output.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "check_run.h"

static struct json_value *parse(const char *text, char *err, size_t errlen)
{
	return json_parse(text, strlen(text), &json_default_limits, err,
	    errlen);
}

static void assert_rejected(const char *text, const char *why)
{
	char err[128] = "";
	struct json_value *v = parse(text, err, sizeof(err));

	ck_assert_msg(v == NULL, "accepted %s", text);
	if (why != NULL)
		ck_assert_msg(strstr(err, why) != NULL, "%s: got '%s'", text,
		    err);
	json_free(v);
}

START_TEST(test_object_members)
{
	char err[128];
	struct json_value *v = parse("{\"a\":1,\"b\":\"x\",\"c\":[true,null],"
	                             "\"d\":{\"e\":-5}}",
	    err, sizeof(err));
	const struct json_value *c;

	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->type, JSON_OBJECT);
	ck_assert_int_eq(json_get(v, "a")->u.integer, 1);
	ck_assert_str_eq(json_get(v, "b")->u.string.ptr, "x");
	c = json_get(v, "c");
	ck_assert_int_eq(c->type, JSON_ARRAY);
	ck_assert_int_eq(c->u.array.len, 2);
	ck_assert_int_eq(c->u.array.items[0]->u.boolean, 1);
	ck_assert_int_eq(c->u.array.items[1]->type, JSON_NULL);
	ck_assert_int_eq(json_get(json_get(v, "d"), "e")->u.integer, -5);
	ck_assert_ptr_null(json_get(v, "missing"));
	ck_assert_ptr_null(json_get(c, "a"));
	json_free(v);
}
END_TEST

START_TEST(test_numbers)
{
	static const struct {
		const char *text;
		enum json_type type;
		int64_t value;
	} cases[] = {
		{ "0", JSON_INT, 0 },
		{ "-0", JSON_INT, 0 },
		{ "42", JSON_INT, 42 },
		{ "9223372036854775807", JSON_INT, INT64_MAX },
		{ "-9223372036854775808", JSON_INT, INT64_MIN },
		{ "9223372036854775808", JSON_NUMBER, 0 },
		{ "-9223372036854775809", JSON_NUMBER, 0 },
		{ "1.5", JSON_NUMBER, 0 },
		{ "1.0", JSON_NUMBER, 0 },
		{ "1e3", JSON_NUMBER, 0 },
		{ "100000000000000000000000", JSON_NUMBER, 0 },
		{ "-1", JSON_INT, -1 },
		{ "-1.5", JSON_NUMBER, 0 },
		{ "1E+2", JSON_NUMBER, 0 },
		{ "-0.0", JSON_NUMBER, 0 },
	};
	char err[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_value *v = parse(cases[i].text, err, sizeof(err));

		ck_assert_msg(v != NULL, "%s: %s", cases[i].text, err);
		ck_assert_msg(v->type == cases[i].type, "%s: type %d",
		    cases[i].text, v->type);
		if (v->type == JSON_INT)
			ck_assert(v->u.integer == cases[i].value);
		json_free(v);
	}
}
END_TEST

START_TEST(test_strings_typed)
{
	char err[128];
	struct json_value *v = parse("\"1\"", err, sizeof(err));

	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v->type, JSON_STRING);
	ck_assert_str_eq(v->u.string.ptr, "1");
	json_free(v);
}
END_TEST

START_TEST(test_malformed)
{
	assert_rejected("", NULL);
	assert_rejected("{", NULL);
	assert_rejected("{\"a\":}", NULL);
	assert_rejected("{'a':1}", NULL);
	assert_rejected("[1,]", NULL);
	assert_rejected("{} {}", NULL);
	assert_rejected("{\"a\":1} x", NULL);
	assert_rejected("/* c */ {}", NULL);
	assert_rejected("nul", NULL);
	assert_rejected("\"\xff\xfe\"", NULL); /* invalid UTF-8 */
	/* yajl skips vertical tab and form feed as white space; RFC 8259
	 * section 2 allows only space, tab, LF and CR. */
	assert_rejected("{\"a\":\v1}", "white space");
	assert_rejected("\f{}", "white space");
	assert_rejected("[1,\f2]\v", "white space");
	assert_rejected("\"a\vb\"", NULL); /* raw, inside a string */
}
END_TEST

START_TEST(test_unicode_refused)
{
	/* yajl 2 passes each of these on (issue 13 item 1): the escapes are
	 * decoded to a lone surrogate, to '?' or to a made-up pair, and the raw
	 * bytes are overlong, a surrogate or past U+10FFFF. */
	static const char *const bad[] = {
		"\"\\udc00\"",
		"\"\\ud800\"",
		"\"\\ud800\\u0041\"",
		"\"\\ud800x\"",
		"\"\\udbff\\udbff\"",
		"\"a\\ud800\"",
		"\"\xc0\xaf\"",
		"\"\xed\xa0\x80\"",
		"\"\xf4\x90\x80\x80\"",
		"{\"\\udc00\":1}",
		"{\"\xc0\xaf\":1}",
		"[\"ok\",\"\xed\xa0\x80\"]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_rejected(bad[i], "UTF-8");
}
END_TEST

START_TEST(test_unicode_accepted)
{
	static const struct {
		const char *text;
		const char *value;
	} good[] = {
		{ "\"\xf0\x9f\x98\x80\"",
		    "\xf0\x9f\x98\x80" }, /* U+1F600 raw */
		{ "\"\\ud83d\\ude00\"",
		    "\xf0\x9f\x98\x80" }, /* the same as a pair */
		{ "\"\xf4\x8f\xbf\xbf\"", "\xf4\x8f\xbf\xbf" }, /* U+10FFFF */
		{ "\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf" },
		{ "\"\xed\x9f\xbf\"", "\xed\x9f\xbf" }, /* U+D7FF */
		{ "\"\\u00e9\\\\ud800\"",
		    "\xc3\xa9\\ud800" }, /* escaped backslash */
	};
	char err[128];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct json_value *v = parse(good[i].text, err, sizeof(err));

		ck_assert_msg(v != NULL, "%s: %s", good[i].text, err);
		ck_assert_str_eq(v->u.string.ptr, good[i].value);
		json_free(v);
	}
}
END_TEST

START_TEST(test_limits)
{
	char deep[64] = "", big[6000];

	for (int i = 0; i < 17; i++)
		strcat(deep, "[");
	for (int i = 0; i < 17; i++)
		strcat(deep, "]");
	assert_rejected(deep, "nested too deeply");
	deep[0] = ' '; /* 16 levels are fine */
	deep[33] = ' ';
	{
		char err[128];
		struct json_value *v = parse(deep, err, sizeof(err));

		ck_assert_msg(v != NULL, "16 levels: %s", err);
		json_free(v);
	}
	big[0] = '"';
	memset(big + 1, 'a', 4097);
	strcpy(big + 4098, "\"");
	assert_rejected(big, "string too long");
	assert_rejected("{\"a\":1,\"a\":2}", "duplicate");
	assert_rejected("\"a\\u0000b\"", "NUL");
	assert_rejected("{\"a\\u0000\":1}", "NUL");
}
END_TEST

START_TEST(test_member_limit)
{
	struct json_limits small = { .max_depth = 4,
		.max_string = 16,
		.max_members = 3 };
	char err[128];
	struct json_value *v;

	v = json_parse("[1,2,3]", 7, &small, err, sizeof(err));
	ck_assert_ptr_nonnull(v);
	json_free(v);
	v = json_parse("[1,2,3,4]", 9, &small, err, sizeof(err));
	ck_assert_ptr_null(v);
	ck_assert_ptr_nonnull(strstr(err, "too many"));
	v = json_parse("{\"a\":1,\"b\":2,\"c\":3,\"d\":[]}", 25, &small, err,
	    sizeof(err));
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_writer)
{
	struct json_writer *w = json_writer_create();
	const char *buf;
	size_t len;

	json_open_object(w);
	json_member_int(w, "n", -7);
	json_member_string(w, "s", "a\"b\n");
	json_member_bool(w, "t", 1);
	json_key(w, "l");
	json_open_array(w);
	json_write_null(w);
	json_close_array(w);
	json_close_object(w);
	ck_assert_int_eq(json_writer_result(w, &buf, &len), 0);
	ck_assert_str_eq(buf,
	    "{\"n\":-7,\"s\":\"a\\\"b\\n\",\"t\":true,\"l\":[null]}");
	json_writer_reset(w);
	json_write_string(w, "\xff"); /* invalid UTF-8 must fail */
	ck_assert_int_eq(json_writer_result(w, &buf, &len), -1);
	json_writer_reset(w);
	json_close_object(w); /* misuse must fail, not crash */
	ck_assert_int_eq(json_writer_result(w, &buf, &len), -1);
	json_writer_free(w);
	json_writer_free(NULL);
}
END_TEST

/* Before the first value the document is "", not NULL (fuzz_cgi found
 * http_response_render passing NULL to memcpy for an empty body). */
START_TEST(test_writer_empty)
{
	struct json_writer *w = json_writer_create();
	const char *buf = NULL;
	size_t len = 1;

	ck_assert_int_eq(json_writer_result(w, &buf, &len), 0);
	ck_assert_ptr_nonnull(buf);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(len, 0);
	json_writer_free(w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_object_members);
	tcase_add_test(tc, test_numbers);
	tcase_add_test(tc, test_strings_typed);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_unicode_refused);
	tcase_add_test(tc, test_unicode_accepted);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_member_limit);
	tcase_add_test(tc, test_writer);
	tcase_add_test(tc, test_writer_empty);
	suite_add_tcase(s, tc);
	return check_run(s);
}
