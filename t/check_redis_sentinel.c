/*
 * check_redis_sentinel: reading the two replies the Sentinel client relies
 * on (redis_sentinel.h): SENTINEL get-master-addr-by-name's address, and
 * ROLE's first element.  The replies are built here by hand, shaped as
 * hiredis builds them, so that every malformed shape is reached without a
 * server; the live exchange is t/test_sentinel.sh's.
 */
#include <check.h>
#include <string.h>

#include "redis_sentinel.h"
#include "check_run.h"

/* A string reply holding s (len bytes). */
static redisReply text(const char *s, size_t len)
{
	redisReply r = { 0 };

	r.type = REDIS_REPLY_STRING;
	r.str = (char *)s;
	r.len = len;
	return r;
}

/* An array reply of n elements. */
static redisReply array(redisReply **elements, size_t n)
{
	redisReply r = { 0 };

	r.type = REDIS_REPLY_ARRAY;
	r.element = elements;
	r.elements = n;
	return r;
}

#define TEXT(s) text((s), sizeof(s) - 1)

/* Parses the address reply [h, p]; returns what parse_addr returns. */
static int parse_pair(redisReply h, redisReply p, char *host, size_t hostlen,
    int *port)
{
	redisReply *e[] = { &h, &p };
	redisReply r = array(e, 2);

	return redis_sentinel_parse_addr(&r, host, hostlen, port);
}

START_TEST(test_addr_good)
{
	char host[REDIS_SENTINEL_HOST_MAX] = "";
	int port = 0;

	ck_assert_int_eq(parse_pair(TEXT("198.18.0.32"), TEXT("6379"), host,
	                     sizeof(host), &port),
	    0);
	ck_assert_str_eq(host, "198.18.0.32");
	ck_assert_int_eq(port, 6379);
	ck_assert_int_eq(parse_pair(TEXT("redis-2.example"), TEXT("65535"),
	                     host, sizeof(host), &port),
	    0);
	ck_assert_str_eq(host, "redis-2.example");
	ck_assert_int_eq(port, 65535);
	/* A host that fills the buffer but for the NUL. */
	ck_assert_int_eq(parse_pair(TEXT("abcdefg"), TEXT("1"), host, 8, &port),
	    0);
	ck_assert_str_eq(host, "abcdefg");
}
END_TEST

/* Asserts that [h, p] is refused and leaves host and port alone. */
static void assert_pair_refused(redisReply h, redisReply p)
{
	char host[8] = "kept";
	int port = 42;

	ck_assert_int_eq(parse_pair(h, p, host, sizeof(host), &port), -1);
	ck_assert_str_eq(host, "kept");
	ck_assert_int_eq(port, 42);
}

START_TEST(test_addr_bad_pairs)
{
	redisReply integer = { 0 };

	integer.type = REDIS_REPLY_INTEGER;
	integer.integer = 6379;
	assert_pair_refused(TEXT("abcdefgh"), TEXT("1")); /* too long */
	assert_pair_refused(TEXT(""), TEXT("6379")); /* no host */
	assert_pair_refused(TEXT("h"), TEXT("0"));
	assert_pair_refused(TEXT("h"), TEXT("65536"));
	assert_pair_refused(TEXT("h"), TEXT("-1"));
	assert_pair_refused(TEXT("h"), TEXT(""));
	assert_pair_refused(TEXT("h"), TEXT("63 79"));
	assert_pair_refused(TEXT("h"), TEXT("6379x"));
	assert_pair_refused(text("h\0x", 3), TEXT("6379")); /* a NUL inside */
	assert_pair_refused(TEXT("h"), text("63\0", 3));
	assert_pair_refused(TEXT("h"), integer); /* not a string */
	assert_pair_refused(integer, TEXT("6379"));
}
END_TEST

START_TEST(test_addr_bad_shapes)
{
	redisReply nil = { 0 }, err = TEXT("ERR unknown command"),
	           h = TEXT("h"), p = TEXT("1");
	redisReply *one[] = { &h }, *three[] = { &h, &p, &p };
	redisReply a1 = array(one, 1), a3 = array(three, 3),
	           a0 = array(NULL, 0);
	char host[16];
	int port;

	nil.type = REDIS_REPLY_NIL; /* the Sentinel knows no such master */
	err.type = REDIS_REPLY_ERROR;
	ck_assert_int_eq(redis_sentinel_parse_addr(NULL, host, 16, &port), -1);
	ck_assert_int_eq(redis_sentinel_parse_addr(&nil, host, 16, &port), -1);
	ck_assert_int_eq(redis_sentinel_parse_addr(&err, host, 16, &port), -1);
	ck_assert_int_eq(redis_sentinel_parse_addr(&a0, host, 16, &port), -1);
	ck_assert_int_eq(redis_sentinel_parse_addr(&a1, host, 16, &port), -1);
	ck_assert_int_eq(redis_sentinel_parse_addr(&a3, host, 16, &port), -1);
}
END_TEST

/* ROLE's replies: the first element is the role's name. */
START_TEST(test_role)
{
	redisReply master = TEXT("master"), slave = TEXT("slave"),
	           sentinel = TEXT("sentinel"), other = TEXT("replica"),
	           offset = { 0 }, nul = text("master\0", 7), err = TEXT("ERR");
	redisReply *m[] = { &master, &offset }, *s[] = { &slave },
	           *t[] = { &sentinel }, *o[] = { &other }, *i[] = { &offset },
	           *n[] = { &nul };
	redisReply rm = array(m, 2), rs = array(s, 1), rt = array(t, 1),
	           ro = array(o, 1), ri = array(i, 1), rn = array(n, 1),
	           r0 = array(NULL, 0);

	offset.type = REDIS_REPLY_INTEGER;
	err.type = REDIS_REPLY_ERROR;
	ck_assert_int_eq(redis_role_parse(&rm), REDIS_ROLE_MASTER);
	ck_assert_int_eq(redis_role_parse(&rs), REDIS_ROLE_REPLICA);
	ck_assert_int_eq(redis_role_parse(&rt), REDIS_ROLE_SENTINEL);
	ck_assert_int_eq(redis_role_parse(&ro), REDIS_ROLE_UNKNOWN);
	ck_assert_int_eq(redis_role_parse(&ri), REDIS_ROLE_UNKNOWN);
	ck_assert_int_eq(redis_role_parse(&rn), REDIS_ROLE_UNKNOWN);
	ck_assert_int_eq(redis_role_parse(&r0), REDIS_ROLE_UNKNOWN);
	ck_assert_int_eq(redis_role_parse(&err), REDIS_ROLE_UNKNOWN);
	ck_assert_int_eq(redis_role_parse(&master), REDIS_ROLE_UNKNOWN);
	ck_assert_int_eq(redis_role_parse(NULL), REDIS_ROLE_UNKNOWN);
	ck_assert_str_eq(redis_role_names[REDIS_ROLE_REPLICA], "slave");
}
END_TEST

/* No Sentinel configured: no connection, and a reason. */
START_TEST(test_connect_none)
{
	struct redis_sentinels s = { 0 };
	struct timeval tv = { 0, 1000 };
	char addr[32] = "", why[128] = "";

	ck_assert_ptr_null(redis_sentinel_connect(&s, tv, addr, sizeof(addr),
	    why, sizeof(why)));
	ck_assert_str_eq(why, "no Sentinel is configured");
	ck_assert_str_eq(addr, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("redis_sentinel");
	TCase *tc = tcase_create("replies");

	tcase_add_test(tc, test_addr_good);
	tcase_add_test(tc, test_addr_bad_pairs);
	tcase_add_test(tc, test_addr_bad_shapes);
	tcase_add_test(tc, test_role);
	tcase_add_test(tc, test_connect_none);
	suite_add_tcase(s, tc);
	return check_run(s);
}
