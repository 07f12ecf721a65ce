/*
 * check_idempotency: the request hash that tells a retry (same method,
 * path and body: replayed) from a reuse of its Idempotency-Key for another
 * request (422).  Stored hashes outlive releases, so the hash is pinned to
 * known SHA-256 values, not only compared with itself.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "idempotency.h"
#include "check_run.h"

/* The hash of a request with method, path and body (NULL: no body). */
static void hash_of(const char *method, const char *path, const char *body,
    char hex[65])
{
	struct request req;

	request_init(&req);
	snprintf(req.method_name, sizeof(req.method_name), "%s", method);
	snprintf(req.path, sizeof(req.path), "%s", path);
	req.body = (char *)body;
	req.body_len = body != NULL ? strlen(body) : 0;
	idempotency_request_hash(&req, hex);
}

START_TEST(test_known_values)
{
	char hex[65];

	/* sha256("POST\0/api/v1/orders\0{...}"), computed independently. */
	hash_of("POST", "/api/v1/orders",
	    "{\"items\":[{\"option_id\":1,\"quantity\":2}]}", hex);
	ck_assert_str_eq(hex,
	    "cb09fdbc26676038ae70b20d28dd1a4f2bed087444070f1e08805e6cccb0045e");
	hash_of("POST", "/api/v1/coupons/7/issue", NULL, hex);
	ck_assert_str_eq(hex,
	    "e7732ca7ffa7b3e467c35e7750513004dab0c0842c84c9b5749c808a791f8d62");
	ck_assert_uint_eq(strlen(hex), 64);
}
END_TEST

START_TEST(test_stable)
{
	char a[65], b[65];

	hash_of("POST", "/api/v1/points/charge", "{\"amount\":5}", a);
	hash_of("POST", "/api/v1/points/charge", "{\"amount\":5}", b);
	ck_assert_str_eq(a, b);
	/* No body and an empty body are the same request. */
	hash_of("POST", "/api/v1/orders/1/cancel", NULL, a);
	hash_of("POST", "/api/v1/orders/1/cancel", "", b);
	ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(test_differs)
{
	char base[65], other[65];

	hash_of("POST", "/api/v1/orders", "{\"a\":1}", base);
	/* Another method, path or body is another request. */
	hash_of("PUT", "/api/v1/orders", "{\"a\":1}", other);
	ck_assert_str_ne(base, other);
	hash_of("POST", "/api/v1/orders/", "{\"a\":1}", other);
	ck_assert_str_ne(base, other);
	hash_of("POST", "/api/v1/Orders", "{\"a\":1}", other);
	ck_assert_str_ne(base, other);
	hash_of("POST", "/api/v1/orders", "{\"a\":2}", other);
	ck_assert_str_ne(base, other);
	hash_of("POST", "/api/v1/orders", "{\"a\":1} ", other);
	ck_assert_str_ne(base, other);
	hash_of("POST", "/api/v1/orders", "", other);
	ck_assert_str_ne(base, other);
	/*
	 * The parts are NUL-separated, so moving bytes from one part to the
	 * next does not give the same hash.
	 */
	hash_of("POS", "T/api/v1/orders", "{\"a\":1}", other);
	ck_assert_str_ne(base, other);
	hash_of("POST", "/api/v1/orders{", "\"a\":1}", other);
	ck_assert_str_ne(base, other);
}
END_TEST

/* The body is hashed by its length, so a NUL inside it counts. */
START_TEST(test_body_length)
{
	struct request req;
	char a[65], b[65];
	char body[] = "{}\0x";

	request_init(&req);
	snprintf(req.method_name, sizeof(req.method_name), "POST");
	snprintf(req.path, sizeof(req.path), "/p");
	req.body = body;
	req.body_len = 2;
	idempotency_request_hash(&req, a);
	req.body_len = 4;
	idempotency_request_hash(&req, b);
	ck_assert_str_ne(a, b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("idempotency");
	TCase *tc = tcase_create("hash");

	tcase_add_test(tc, test_known_values);
	tcase_add_test(tc, test_stable);
	tcase_add_test(tc, test_differs);
	tcase_add_test(tc, test_body_length);
	suite_add_tcase(s, tc);
	return check_run(s);
}
