/*
 * check_http: method names and reason phrases, percent-decoding, query
 * parameters, request parsing from FastCGI parameters, body reading against
 * max_body, problem+json answers, and response rendering.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "check_run.h"

/* A fake FastCGI environment: NULL-terminated name, value pairs. */
static const char *fake_param(const char *name, void *ctx)
{
	const char *const *kv = ctx;

	for (; kv[0] != NULL; kv += 2) {
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	}
	return NULL;
}

struct fake_body {
	const char *data;
	size_t len, pos;
};

static size_t fake_read(void *ctx, char *buf, size_t n)
{
	struct fake_body *b = ctx;
	size_t left = b->len - b->pos, take = n < left ? n : left;

	memcpy(buf, b->data + b->pos, take);
	b->pos += take;
	return take;
}

static const char *body_of(struct response *res)
{
	const char *buf;
	size_t len;

	ck_assert_int_eq(json_writer_result(res->json, &buf, &len), 0);
	return buf;
}

START_TEST(test_percent_decode)
{
	char out[16];

	ck_assert_int_eq(http_percent_decode("a%20b", 5, out, sizeof(out), 0),
	    3);
	ck_assert_str_eq(out, "a b");
	ck_assert_int_eq(http_percent_decode("a+b", 3, out, sizeof(out), 0), 3);
	ck_assert_str_eq(out, "a+b");
	ck_assert_int_eq(http_percent_decode("a+b", 3, out, sizeof(out), 1), 3);
	ck_assert_str_eq(out, "a b");
	ck_assert_int_eq(http_percent_decode("%41%6a", 6, out, sizeof(out), 0),
	    2);
	ck_assert_str_eq(out, "Aj");
	ck_assert_int_eq(http_percent_decode("%", 1, out, sizeof(out), 0), -1);
	ck_assert_int_eq(http_percent_decode("%4", 2, out, sizeof(out), 0), -1);
	ck_assert_int_eq(http_percent_decode("%zz", 3, out, sizeof(out), 0),
	    -1);
	ck_assert_int_eq(http_percent_decode("a%00", 4, out, sizeof(out), 0),
	    -1);
	ck_assert_int_eq(http_percent_decode("0123456789abcdef", 16, out,
	                     sizeof(out), 0),
	    -1);
	ck_assert_int_eq(http_percent_decode("", 0, out, sizeof(out), 0), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_query_param)
{
	char out[8];

	ck_assert_int_eq(http_query_param("days=3&limit=5", "limit", out,
	                     sizeof(out)),
	    1);
	ck_assert_str_eq(out, "5");
	ck_assert_int_eq(http_query_param("days=3&limit=5", "after", out,
	                     sizeof(out)),
	    0);
	ck_assert_int_eq(http_query_param("", "a", out, sizeof(out)), 0);
	ck_assert_int_eq(http_query_param("a=%31%32", "a", out, sizeof(out)),
	    1);
	ck_assert_str_eq(out, "12");
	ck_assert_int_eq(http_query_param("a=x+y", "a", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "x y");
	ck_assert_int_eq(http_query_param("a", "a", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(http_query_param("a=1&a=2", "a", out, sizeof(out)),
	    -1);
	ck_assert_int_eq(http_query_param("a=%zz", "a", out, sizeof(out)), -1);
	ck_assert_int_eq(http_query_param("a=%00", "a", out, sizeof(out)), -1);
	ck_assert_int_eq(http_query_param("a=123456789", "a", out, sizeof(out)),
	    -1);
	ck_assert_int_eq(http_query_param("%61=1", "a", out, sizeof(out)), 1);
	ck_assert_int_eq(http_query_param("ab=1", "a", out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_header_validators)
{
	char long_id[80];

	ck_assert(http_request_id_is_valid("abc-123_x.y:z"));
	ck_assert(!http_request_id_is_valid(""));
	ck_assert(!http_request_id_is_valid("a b"));
	ck_assert(!http_request_id_is_valid("a\nb"));
	memset(long_id, 'a', 65);
	long_id[65] = '\0';
	ck_assert(!http_request_id_is_valid(long_id));
	long_id[64] = '\0';
	ck_assert(http_request_id_is_valid(long_id));
	ck_assert(http_idempotency_key_is_valid("order-2026-11-23/1"));
	ck_assert(!http_idempotency_key_is_valid(""));
	ck_assert(!http_idempotency_key_is_valid("has space"));
	ck_assert(!http_idempotency_key_is_valid("tab\there"));
	ck_assert(!http_idempotency_key_is_valid("\x7f"));
}
END_TEST

START_TEST(test_request_parse)
{
	const char *env[] = {
		"REQUEST_METHOD",
		"POST",
		"REQUEST_URI",
		"/api/v1/orders/%31?x=1",
		"QUERY_STRING",
		"x=1",
		"HTTP_AUTHORIZATION",
		"Bearer t",
		"CONTENT_TYPE",
		"application/json",
		"HTTP_IDEMPOTENCY_KEY",
		"k-1",
		"HTTP_X_REQUEST_ID",
		"client-id",
		"REQUEST_ID",
		"nginxid",
		NULL,
	};
	struct request req;
	struct response res;

	request_init(&req);
	response_init(&res);
	ck_assert_int_eq(http_request_parse(&req, fake_param, (void *)env,
	                     &res),
	    0);
	ck_assert_int_eq(req.method, HTTP_POST);
	ck_assert_str_eq(req.path, "/api/v1/orders/1");
	ck_assert_str_eq(req.query, "x=1");
	ck_assert_str_eq(req.authorization, "Bearer t");
	ck_assert_str_eq(req.idempotency_key, "k-1");
	ck_assert_str_eq(req.request_id, "client-id");
	request_reset(&req);
	response_free(&res);
}
END_TEST

static int parse_env(const char **env, struct response *res,
    struct request *req)
{
	request_init(req);
	return http_request_parse(req, fake_param, (void *)env, res);
}

START_TEST(test_request_parse_errors)
{
	const char *bad_escape[] = { "REQUEST_METHOD", "GET", "REQUEST_URI",
		"/a%zz", NULL };
	const char *nul[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/a%00b",
		NULL };
	const char *no_path[] = { "REQUEST_METHOD", "GET", NULL };
	const char *bad_key[] = { "REQUEST_METHOD", "POST", "REQUEST_URI", "/",
		"HTTP_IDEMPOTENCY_KEY", "a b", NULL };
	const char *bad_rid[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", "/",
		"HTTP_X_REQUEST_ID", "bad id\r\n", "REQUEST_ID", "fromnginx",
		NULL };
	char longuri[HTTP_PATH_MAX + 10];
	const char *too_long[] = { "REQUEST_METHOD", "GET", "REQUEST_URI",
		longuri, NULL };
	struct request req;
	struct response res;

	response_init(&res);
	ck_assert_int_eq(parse_env(bad_escape, &res, &req), -1);
	ck_assert_int_eq(res.status, 400);
	ck_assert_str_eq(res.code, "bad_path");
	request_reset(&req);
	ck_assert_int_eq(parse_env(nul, &res, &req), -1);
	ck_assert_int_eq(res.status, 400);
	request_reset(&req);
	ck_assert_int_eq(parse_env(no_path, &res, &req), -1);
	ck_assert_int_eq(res.status, 400);
	request_reset(&req);
	ck_assert_int_eq(parse_env(bad_key, &res, &req), -1);
	ck_assert_str_eq(res.code, "invalid_idempotency_key");
	request_reset(&req);
	ck_assert_int_eq(parse_env(bad_rid, &res, &req), 0);
	ck_assert_str_eq(req.request_id, "fromnginx");
	request_reset(&req);
	longuri[0] = '/';
	memset(longuri + 1, 'a', sizeof(longuri) - 2);
	longuri[sizeof(longuri) - 1] = '\0';
	ck_assert_int_eq(parse_env(too_long, &res, &req), -1);
	ck_assert_int_eq(res.status, 414);
	request_reset(&req);
	response_free(&res);
}
END_TEST

/*
 * libfcgi accepts the AUTHORIZER and FILTER roles as well and names them in
 * FCGI_ROLE; stockade is a responder only, so a request in another role is
 * refused before anything runs (a hostile FastCGI peer once had a charge
 * made through an AUTHORIZER request).
 */
START_TEST(test_request_parse_role)
{
	const char *authorizer[] = { "FCGI_ROLE", "AUTHORIZER",
		"REQUEST_METHOD", "POST", "REQUEST_URI",
		"/api/v1/points/charge", NULL };
	const char *filter[] = { "FCGI_ROLE", "FILTER", "REQUEST_METHOD", "GET",
		"REQUEST_URI", "/healthz", NULL };
	const char *responder[] = { "FCGI_ROLE", "RESPONDER", "REQUEST_METHOD",
		"GET", "REQUEST_URI", "/healthz", NULL };
	struct request req;
	struct response res;

	response_init(&res);
	ck_assert_int_eq(parse_env(authorizer, &res, &req), -1);
	ck_assert_int_eq(res.status, 400);
	ck_assert_str_eq(res.code, "bad_request");
	request_reset(&req);
	ck_assert_int_eq(parse_env(filter, &res, &req), -1);
	ck_assert_str_eq(res.code, "bad_request");
	request_reset(&req);
	response_reset(&res);
	ck_assert_int_eq(parse_env(responder, &res, &req), 0);
	request_reset(&req);
	response_free(&res);
}
END_TEST

START_TEST(test_body)
{
	struct fake_body body = { "{\"a\":1}", 7, 0 };
	struct request req;
	struct response res;

	response_init(&res);
	request_init(&req);
	ck_assert_int_eq(http_request_read_body(&req, "7", 64, fake_read, &body,
	                     &res),
	    0);
	ck_assert_int_eq(req.body_len, 7);
	ck_assert_str_eq(req.body, "{\"a\":1}");
	request_reset(&req);

	body.pos = 0;
	ck_assert_int_eq(http_request_read_body(&req, "65", 64, fake_read,
	                     &body, &res),
	    -1);
	ck_assert_int_eq(res.status, 413);
	ck_assert_str_eq(res.code, "payload_too_large");
	request_reset(&req);

	body.pos = 0;
	ck_assert_int_eq(http_request_read_body(&req, "9", 64, fake_read, &body,
	                     &res),
	    -1);
	ck_assert_str_eq(res.code, "incomplete_body");
	request_reset(&req);

	ck_assert_int_eq(http_request_read_body(&req, "-1", 64, fake_read,
	                     &body, &res),
	    -1);
	ck_assert_int_eq(res.status, 400);
	request_reset(&req);
	ck_assert_int_eq(http_request_read_body(&req, "99999999999999999999999",
	                     64, fake_read, &body, &res),
	    -1);
	ck_assert_int_eq(res.status, 400);
	request_reset(&req);
	ck_assert_int_eq(http_request_read_body(&req, NULL, 64, fake_read,
	                     &body, &res),
	    0);
	ck_assert_int_eq(req.body_len, 0);
	request_reset(&req);
	response_free(&res);
}
END_TEST

/* Content-Length is 1*DIGIT (RFC 9110 section 8.6): nothing else. */
START_TEST(test_body_length_strict)
{
	static const char *const bad[] = { " 7", "\t7", "\n7", "7 ", "+7",
		"0x7", "7.0", "-0" };
	struct fake_body body = { "{\"a\":1}", 7, 0 };
	struct request req;
	struct response res;

	response_init(&res);
	request_init(&req);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		body.pos = 0;
		ck_assert_msg(http_request_read_body(&req, bad[i], 64,
		                  fake_read, &body, &res) == -1,
		    "Content-Length \"%s\" accepted", bad[i]);
		ck_assert_int_eq(res.status, 400);
		ck_assert_str_eq(res.code, "bad_request");
		request_reset(&req);
	}
	/* Leading zeros are digits: accepted, as they always were. */
	body.pos = 0;
	ck_assert_int_eq(http_request_read_body(&req, "007", 64, fake_read,
	                     &body, &res),
	    0);
	ck_assert_int_eq(req.body_len, 7);
	request_reset(&req);
	response_free(&res);
}
END_TEST

START_TEST(test_reasons)
{
	ck_assert_str_eq(http_reason(404), "Not Found");
	ck_assert_str_eq(http_reason(413), "Content Too Large");
	ck_assert_str_eq(http_reason(599), "Unknown");
	ck_assert_int_eq(http_method_parse("GET"), HTTP_GET);
	ck_assert_int_eq(http_method_parse("get"), HTTP_METHOD__MAX);
	ck_assert_int_eq(http_method_parse("BREW"), HTTP_METHOD__MAX);
}
END_TEST

START_TEST(test_problem_shape)
{
	struct response res;
	struct json_value *v;
	const char *buf;
	size_t len;
	char err[64];

	response_init(&res);
	problem_write(&res, 409, "out_of_stock", "option 7 has 2 left");
	ck_assert_int_eq(res.status, 409);
	ck_assert_str_eq(res.content_type, "application/problem+json");
	ck_assert_int_eq(json_writer_result(res.json, &buf, &len), 0);
	v = json_parse(buf, len, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(json_get(v, "type")->u.string.ptr,
	    "urn:stockade:problem:out_of_stock");
	ck_assert_str_eq(json_get(v, "title")->u.string.ptr, "Conflict");
	ck_assert_int_eq(json_get(v, "status")->u.integer, 409);
	ck_assert_str_eq(json_get(v, "detail")->u.string.ptr,
	    "option 7 has 2 left");
	ck_assert_str_eq(json_get(v, "code")->u.string.ptr, "out_of_stock");
	ck_assert_int_eq(v->u.object.len, 5);
	json_free(v);

	/* Extra members after the standard five. */
	json_member_string(problem_begin(&res, 503, "not_ready", "x"), "redis",
	    "down");
	problem_end(&res);
	ck_assert_int_eq(json_writer_result(res.json, &buf, &len), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\"redis\":\"down\"}"));
	response_free(&res);
}
END_TEST

START_TEST(test_render)
{
	struct request req;
	struct response res;
	struct json_writer *w;
	char *out;
	size_t len;

	request_init(&req);
	strcpy(req.request_id, "rid-1");
	response_init(&res);
	w = response_json(&res, 201);
	json_open_object(w);
	json_member_int(w, "id", 9);
	json_close_object(w);
	response_header(&res, "Location", "/api/v1/orders/%d", 9);
	response_header(&res, "X-Bad", "%s", "a\r\nSet-Cookie: x");
	len = http_response_render(&req, &res, &out);
	ck_assert_int_eq(len, strlen(out));
	ck_assert_ptr_nonnull(strstr(out, "Status: 201 Created\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "Content-Length: 8\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "X-Request-Id: rid-1\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "Location: /api/v1/orders/9\r\n"));
	ck_assert_ptr_null(strstr(out, "Set-Cookie"));
	ck_assert_ptr_nonnull(strstr(out, "\r\n\r\n{\"id\":9}"));
	free(out);
	response_free(&res);
}
END_TEST

START_TEST(test_render_broken_json_is_500)
{
	struct request req;
	struct response res;
	char *out;

	request_init(&req);
	response_init(&res);
	json_close_object(response_json(&res, 200));
	http_response_render(&req, &res, &out);
	ck_assert_ptr_nonnull(strstr(out, "Status: 500"));
	ck_assert_ptr_nonnull(strstr(out, "application/problem+json"));
	ck_assert_str_eq(res.code, "internal_error");
	free(out);
	ck_assert_ptr_nonnull(
	    strstr(body_of(&res), "\"code\":\"internal_error\""));
	response_free(&res);
}
END_TEST

/* A text body replaces the JSON one; a problem afterwards replaces it. */
START_TEST(test_render_text)
{
	struct request req;
	struct response res;
	char *out;
	size_t len;

	request_init(&req);
	response_init(&res);
	json_open_object(response_json(&res, 200)); /* left unfinished */
	response_text(&res, 200, "text/plain; charset=utf-8");
	/* Longer than anything before: the buffer grows as needed. */
	for (int i = 0; i < 1000; i++)
		response_printf(&res, "line %d\n", i);
	len = http_response_render(&req, &res, &out);
	ck_assert_int_eq(len, strlen(out));
	ck_assert_ptr_nonnull(strstr(out, "Status: 200 OK\r\n"));
	ck_assert_ptr_nonnull(
	    strstr(out, "Content-Type: text/plain; charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "Content-Length: 8890\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\n\r\nline 0\nline 1\n"));
	ck_assert_str_eq(out + len - 9, "line 999\n");
	free(out);
	problem_write(&res, 403, "forbidden", "no");
	http_response_render(&req, &res, &out);
	ck_assert_ptr_nonnull(strstr(out, "application/problem+json"));
	ck_assert_ptr_null(strstr(out, "line 0"));
	free(out);
	/* The next request starts with a JSON body again. */
	response_reset(&res);
	ck_assert_int_eq(res.is_text, 0);
	response_free(&res);
}
END_TEST

START_TEST(test_wants_text)
{
	ck_assert_int_eq(http_wants_text(NULL), 0);
	ck_assert_int_eq(http_wants_text(""), 0);
	ck_assert_int_eq(http_wants_text("*/*"), 0);
	ck_assert_int_eq(http_wants_text("application/json, text/plain"), 0);
	ck_assert_int_eq(http_wants_text("text/html,text/plain"), 0);
	ck_assert_int_eq(http_wants_text("text/plainx"), 0);
	ck_assert_int_eq(http_wants_text("text/plain"), 1);
	ck_assert_int_eq(http_wants_text("Text/Plain"), 1);
	ck_assert_int_eq(http_wants_text(" text/plain;q=0.9, */*"), 1);
	ck_assert_int_eq(http_wants_text("text/plain,application/json"), 1);
}
END_TEST

/* HEAD: the GET's status and headers, its Content-Length, no body bytes. */
START_TEST(test_render_head_has_no_body)
{
	struct request req;
	struct response res;
	struct json_writer *w;
	char *out;
	size_t len;

	request_init(&req);
	req.method = HTTP_HEAD;
	strcpy(req.request_id, "rid-2");
	response_init(&res);
	w = response_json(&res, 200);
	json_open_object(w);
	json_member_int(w, "id", 9);
	json_close_object(w);
	len = http_response_render(&req, &res, &out);
	ck_assert_int_eq(len, strlen(out));
	ck_assert_ptr_nonnull(strstr(out, "Status: 200 OK\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "Content-Length: 8\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "X-Request-Id: rid-2\r\n"));
	ck_assert_int_ge(len, 4);
	ck_assert_str_eq(out + len - 4, "\r\n\r\n");
	free(out);
	response_free(&res);
}
END_TEST

/* A response nothing was written into: its headers, an empty body. */
START_TEST(test_render_empty_body)
{
	struct request req;
	struct response res;
	char *out;
	size_t len;

	request_init(&req);
	strcpy(req.request_id, "rid-3");
	response_init(&res);
	len = http_response_render(&req, &res, &out);
	ck_assert_int_eq(len, strlen(out));
	ck_assert_ptr_nonnull(strstr(out, "Content-Length: 0\r\n"));
	ck_assert_str_eq(out + len - 4, "\r\n\r\n");
	free(out);
	response_free(&res);
}
END_TEST

/* What /status shows of a request is ASCII whatever the client sent. */
START_TEST(test_request_describe)
{
	char out[96];

	http_request_describe(out, sizeof(out), "GET", "/api/v1/orders/7");
	ck_assert_str_eq(out, "GET /api/v1/orders/7");
	http_request_describe(out, sizeof(out), "G\xff\xc3T\x01\"",
	    "/a\x80\\b\n");
	ck_assert_str_eq(out, "G\\xff\\xc3T\\x01\\x22 /a\\x80\\x5cb\\x0a");
	/* Every byte of the longest method escaped still leaves the path. */
	http_request_describe(out, sizeof(out),
	    "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
	    "/x");
	ck_assert_int_lt(strlen(out), sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, " /x"));
	for (size_t i = 0; out[i] != '\0'; i++)
		ck_assert_msg((unsigned char)out[i] >= 0x20 &&
		        (unsigned char)out[i] < 0x7f,
		    "byte %zu of \"%s\" is not printable ASCII", i, out);
	/* A long path is cut with "..." and stays terminated. */
	char path[300];
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	http_request_describe(out, sizeof(out), "GET", path);
	ck_assert_int_eq(strlen(out), sizeof(out) - 1);
	ck_assert_str_eq(out + strlen(out) - 3, "...");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_percent_decode);
	tcase_add_test(tc, test_query_param);
	tcase_add_test(tc, test_header_validators);
	tcase_add_test(tc, test_request_parse);
	tcase_add_test(tc, test_request_parse_errors);
	tcase_add_test(tc, test_request_parse_role);
	tcase_add_test(tc, test_body);
	tcase_add_test(tc, test_body_length_strict);
	tcase_add_test(tc, test_reasons);
	tcase_add_test(tc, test_problem_shape);
	tcase_add_test(tc, test_render);
	tcase_add_test(tc, test_render_broken_json_is_500);
	tcase_add_test(tc, test_render_head_has_no_body);
	tcase_add_test(tc, test_render_text);
	tcase_add_test(tc, test_wants_text);
	tcase_add_test(tc, test_render_empty_body);
	tcase_add_test(tc, test_request_describe);
	suite_add_tcase(s, tc);
	return check_run(s);
}
