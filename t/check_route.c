/*
 * check_route: path matching with parameters, 404 versus 405 with Allow,
 * and id parsing; plus a look at the real table for duplicate routes.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "check_run.h"

static void h(struct request *req, struct response *res, struct app *app)
{
	(void)req;
	(void)res;
	(void)app;
}

static const struct route table[] = {
	{ HTTP_GET, "/products", h, 0, "list" },
	{ HTTP_GET, "/products/popular", h, 0, "popular" },
	{ HTTP_GET, "/products/{id}", h, 0, "get" },
	{ HTTP_POST, "/orders", h, ROUTE_AUTH, "order" },
	{ HTTP_POST, "/orders/{id}/pay", h, ROUTE_AUTH, "pay" },
	{ HTTP_GET, "/orders/{id}/items/{id}", h, 0, "item" },
};
#define NTABLE (sizeof(table) / sizeof(table[0]))

static enum route_result match(enum http_method m, const char *path,
    const struct route **found, int64_t *params, size_t *n, char *allow)
{
	return route_match(table, NTABLE, m, path, found, params, n, allow, 64);
}

START_TEST(test_literal_before_param)
{
	const struct route *r = NULL;
	int64_t p[HTTP_PARAMS_MAX];
	size_t n = 9;
	char allow[64];

	ck_assert_int_eq(match(HTTP_GET, "/products/popular", &r, p, &n, allow),
	    ROUTE_FOUND);
	ck_assert_str_eq(r->name, "popular");
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(match(HTTP_GET, "/products/42", &r, p, &n, allow),
	    ROUTE_FOUND);
	ck_assert_str_eq(r->name, "get");
	ck_assert_int_eq(n, 1);
	ck_assert(p[0] == 42);
}
END_TEST

START_TEST(test_params)
{
	const struct route *r = NULL;
	int64_t p[HTTP_PARAMS_MAX];
	size_t n;
	char allow[64];

	ck_assert_int_eq(match(HTTP_GET, "/orders/7/items/9223372036854775807",
	                     &r, p, &n, allow),
	    ROUTE_FOUND);
	ck_assert_int_eq(n, 2);
	ck_assert(p[0] == 7 && p[1] == INT64_MAX);
	ck_assert_int_eq(match(HTTP_POST, "/orders/12/pay", &r, p, &n, allow),
	    ROUTE_FOUND);
	ck_assert_str_eq(r->name, "pay");
}
END_TEST

START_TEST(test_not_found)
{
	static const char *paths[] = {
		"/",
		"",
		"/product",
		"/products/",
		"/products//",
		"/products/0",
		"/products/-1",
		"/products/abc",
		"/products/1.5",
		"/products/01",
		"/products/9223372036854775808",
		"/orders/1/pay/",
		"/orders/1/payx",
		"/Products",
		"/products/1/extra",
	};
	const struct route *r;
	int64_t p[HTTP_PARAMS_MAX];
	size_t n;
	char allow[64];

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		ck_assert_msg(match(HTTP_GET, paths[i], &r, p, &n, allow) ==
		        ROUTE_NOT_FOUND,
		    "%s matched", paths[i]);
}
END_TEST

START_TEST(test_method_not_allowed)
{
	const struct route *r;
	int64_t p[HTTP_PARAMS_MAX];
	size_t n;
	char allow[64];

	ck_assert_int_eq(match(HTTP_DELETE, "/products/3", &r, p, &n, allow),
	    ROUTE_METHOD_NOT_ALLOWED);
	ck_assert_str_eq(allow, "GET, HEAD");
	ck_assert_int_eq(match(HTTP_GET, "/orders", &r, p, &n, allow),
	    ROUTE_METHOD_NOT_ALLOWED);
	ck_assert_str_eq(allow, "POST");
	ck_assert_int_eq(match(HTTP_METHOD__MAX, "/orders", &r, p, &n, allow),
	    ROUTE_METHOD_NOT_ALLOWED);
}
END_TEST

START_TEST(test_parse_id)
{
	int64_t v;

	ck_assert_int_eq(route_parse_id("1", 1, &v), 0);
	ck_assert(v == 1);
	ck_assert_int_eq(route_parse_id("9223372036854775807", 19, &v), 0);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(route_parse_id("9223372036854775808", 19, &v), -1);
	ck_assert_int_eq(route_parse_id("0", 1, &v), -1);
	ck_assert_int_eq(route_parse_id("", 0, &v), -1);
	ck_assert_int_eq(route_parse_id("+1", 2, &v), -1);
	ck_assert_int_eq(route_parse_id("1 ", 2, &v), -1);
	ck_assert_int_eq(route_parse_id("12345678901234567890", 20, &v), -1);
	/* One spelling per id: no leading zero, no sign, no white space. */
	ck_assert_int_eq(route_parse_id("07", 2, &v), -1);
	ck_assert_int_eq(route_parse_id("-1", 2, &v), -1);
	ck_assert_int_eq(route_parse_id("\t1", 2, &v), -1);
	ck_assert_int_eq(route_parse_id(" 1", 2, &v), -1);
	ck_assert_int_eq(route_parse_id("1/", 2, &v), -1);
	/* len bounds the parse: the bytes after it are not looked at. */
	ck_assert_int_eq(route_parse_id("12/cancel", 2, &v), 0);
	ck_assert(v == 12);
}
END_TEST

/* Two routes with the same method and pattern would shadow each other. */
START_TEST(test_real_table_unique)
{
	for (size_t i = 0; i < route_table_len; i++) {
		ck_assert_ptr_nonnull(route_table[i].handler);
		ck_assert_ptr_nonnull(route_table[i].name);
		for (size_t j = i + 1; j < route_table_len; j++)
			ck_assert_msg(route_table[i].method !=
			            route_table[j].method ||
			        strcmp(route_table[i].pattern,
			            route_table[j].pattern) != 0,
			    "duplicate route %s", route_table[i].pattern);
	}
}
END_TEST

/*
 * Every route has its own counters in a scoreboard slot, below the entry
 * kept for requests that matched none (scoreboard.h); route_name names
 * exactly the table's routes, as /metrics labels them.
 */
START_TEST(test_real_table_fits_scoreboard)
{
	ck_assert_uint_lt(route_table_len, SCOREBOARD_ROUTE_NONE);
	for (size_t i = 0; i < route_table_len; i++)
		ck_assert_str_eq(route_name((int)i), route_table[i].name);
	ck_assert_ptr_null(route_name(-1));
	ck_assert_ptr_null(route_name((int)route_table_len));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_literal_before_param);
	tcase_add_test(tc, test_params);
	tcase_add_test(tc, test_not_found);
	tcase_add_test(tc, test_method_not_allowed);
	tcase_add_test(tc, test_parse_id);
	tcase_add_test(tc, test_real_table_unique);
	tcase_add_test(tc, test_real_table_fits_scoreboard);
	suite_add_tcase(s, tc);
	return check_run(s);
}
