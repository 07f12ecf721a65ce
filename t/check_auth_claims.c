/*
 * check_auth_claims: the claims of an HS256 bearer token (sub, role, exp,
 * nbf), the Authorization header's scheme, and the descriptions of each
 * verdict (helpers in check_auth.h).
 */
#include "check_auth.h"
#include "check_run.h"

static const struct claim_case {
	const char *json;
	enum auth_status want;
} sub_cases[] = {
	{ "\"1\"", AUTH_OK },
	{ "1", AUTH_OK },
	{ "\"9223372036854775807\"", AUTH_OK },
	{ "9223372036854775807", AUTH_OK },
	{ "\"0\"", AUTH_BAD_CLAIMS },
	{ "0", AUTH_BAD_CLAIMS },
	{ "\"-1\"", AUTH_BAD_CLAIMS },
	{ "-1", AUTH_BAD_CLAIMS },
	{ "\"00\"", AUTH_BAD_CLAIMS },
	{ "\"01\"", AUTH_BAD_CLAIMS },
	{ "\"9223372036854775808\"", AUTH_BAD_CLAIMS },
	{ "9223372036854775808", AUTH_BAD_CLAIMS },
	{ "\"18446744073709551617\"", AUTH_BAD_CLAIMS },
	{ "\"abc\"", AUTH_BAD_CLAIMS },
	{ "\"12a\"", AUTH_BAD_CLAIMS },
	{ "\"\"", AUTH_BAD_CLAIMS },
	{ "\"1.0\"", AUTH_BAD_CLAIMS },
	{ "1.0", AUTH_BAD_CLAIMS },
	{ "1e3", AUTH_BAD_CLAIMS },
	{ "\" 1\"", AUTH_BAD_CLAIMS },
	{ "\"+1\"", AUTH_BAD_CLAIMS },
	{ "\"\\t1\"", AUTH_BAD_CLAIMS },
	{ "\"\\n1\"", AUTH_BAD_CLAIMS },
	{ "\"1\\n\"", AUTH_BAD_CLAIMS },
	{ "null", AUTH_BAD_CLAIMS },
	{ "true", AUTH_BAD_CLAIMS },
	{ "[1]", AUTH_BAD_CLAIMS },
	{ "{}", AUTH_BAD_CLAIMS },
};

START_TEST(test_sub)
{
	char payload[256];

	for (size_t i = 0; i < sizeof(sub_cases) / sizeof(sub_cases[0]); i++) {
		snprintf(payload, sizeof(payload),
		    "{\"sub\":%s,\"role\":\"user\",\"exp\":1700003600}",
		    sub_cases[i].json);
		EXPECT(HS256, payload, sub_cases[i].want);
	}
	EXPECT(HS256, "{\"role\":\"user\",\"exp\":1700003600}",
	    AUTH_BAD_CLAIMS);
}
END_TEST

START_TEST(test_sub_value)
{
	struct auth_identity id;
	char tok[TOKEN_BUF];

	forge(tok, HS256,
	    "{\"sub\":\"9223372036854775807\",\"role\":\"admin\","
	    "\"exp\":1700003600}",
	    SECRET);
	ck_assert_int_eq(verify(tok, NOW, &id), AUTH_OK);
	ck_assert(id.user_id == INT64_MAX);
	ck_assert_int_eq(id.role, AUTH_ROLE_ADMIN);
	forge(tok, HS256, "{\"sub\":7,\"role\":\"user\",\"exp\":1700003600}",
	    SECRET);
	ck_assert_int_eq(verify(tok, NOW, &id), AUTH_OK);
	ck_assert(id.user_id == 7);
}
END_TEST

static const struct claim_case role_cases[] = {
	{ "\"user\"", AUTH_OK },
	{ "\"admin\"", AUTH_OK },
	{ "\"root\"", AUTH_BAD_CLAIMS },
	{ "\"Admin\"", AUTH_BAD_CLAIMS },
	{ "\"USER\"", AUTH_BAD_CLAIMS },
	{ "\"admin \"", AUTH_BAD_CLAIMS },
	{ "\"\"", AUTH_BAD_CLAIMS },
	{ "1", AUTH_BAD_CLAIMS },
	{ "null", AUTH_BAD_CLAIMS },
	{ "[\"admin\"]", AUTH_BAD_CLAIMS },
};

START_TEST(test_role)
{
	char payload[256];

	for (size_t i = 0; i < sizeof(role_cases) / sizeof(*role_cases); i++) {
		snprintf(payload, sizeof(payload),
		    "{\"sub\":\"42\",\"role\":%s,\"exp\":1700003600}",
		    role_cases[i].json);
		EXPECT(HS256, payload, role_cases[i].want);
	}
	/* Missing role: refused, never taken to mean "user". */
	EXPECT(HS256, "{\"sub\":\"42\",\"exp\":1700003600}", AUTH_BAD_CLAIMS);
}
END_TEST

static const struct claim_case exp_cases[] = {
	{ "1700003600", AUTH_OK },
	{ "1700000001", AUTH_OK },
	{ "1700000000", AUTH_EXPIRED },
	{ "1", AUTH_EXPIRED },
	{ "-1", AUTH_EXPIRED },
	{ "\"1700003600\"", AUTH_BAD_CLAIMS },
	{ "1700003600.0", AUTH_BAD_CLAIMS },
	{ "1.7e9", AUTH_BAD_CLAIMS },
	{ "9223372036854775808", AUTH_BAD_CLAIMS },
	{ "null", AUTH_BAD_CLAIMS },
};

START_TEST(test_exp)
{
	char payload[256];

	for (size_t i = 0; i < sizeof(exp_cases) / sizeof(exp_cases[0]); i++) {
		snprintf(payload, sizeof(payload),
		    "{\"sub\":\"42\",\"role\":\"user\",\"exp\":%s}",
		    exp_cases[i].json);
		EXPECT(HS256, payload, exp_cases[i].want);
	}
	EXPECT(HS256, "{\"sub\":\"42\",\"role\":\"user\"}", AUTH_BAD_CLAIMS);
}
END_TEST

static const struct claim_case nbf_cases[] = {
	{ "1700000001", AUTH_BAD_CLAIMS },
	{ "1700000000", AUTH_OK },
	{ "1699999900", AUTH_OK },
	{ "\"1600000000\"", AUTH_BAD_CLAIMS },
	{ "1.5", AUTH_BAD_CLAIMS },
	{ "null", AUTH_BAD_CLAIMS },
};

START_TEST(test_nbf)
{
	char payload[256];

	for (size_t i = 0; i < sizeof(nbf_cases) / sizeof(nbf_cases[0]); i++) {
		snprintf(payload, sizeof(payload),
		    "{\"sub\":\"42\",\"role\":\"user\",\"exp\":1700003600,"
		    "\"nbf\":%s}",
		    nbf_cases[i].json);
		EXPECT(HS256, payload, nbf_cases[i].want);
	}
}
END_TEST

/* Verifies the header value prefix followed by tok. */
static enum auth_status header_verdict(const char *prefix, const char *tok)
{
	char hdr[TOKEN_BUF];
	struct auth_identity id;

	snprintf(hdr, sizeof(hdr), "%s%s", prefix, tok);
	return auth_verify_header(hdr, (const unsigned char *)SECRET,
	    strlen(SECRET), NOW, &id);
}

START_TEST(test_header_scheme)
{
	char *tok = mint(42, AUTH_ROLE_USER, NOW, NOW + 3600);
	struct auth_identity id;

	ck_assert_int_eq(auth_verify_header(NULL, (const unsigned char *)SECRET,
	                     strlen(SECRET), NOW, &id),
	    AUTH_MISSING);
	ck_assert_int_eq(header_verdict("", ""), AUTH_MISSING);
	ck_assert_int_eq(header_verdict("Bearer ", tok), AUTH_OK);
	ck_assert_int_eq(header_verdict("bearer ", tok), AUTH_OK);
	ck_assert_int_eq(header_verdict("BEARER   ", tok), AUTH_OK);
	ck_assert_int_eq(header_verdict("Basic dXNlcg==", ""), AUTH_MISSING);
	ck_assert_int_eq(header_verdict("Basic ", tok), AUTH_MISSING);
	ck_assert_int_eq(header_verdict("Bearerx ", tok), AUTH_MISSING);
	ck_assert_int_eq(header_verdict("Bea", ""), AUTH_MISSING);
	/* RFC 7235 section 2.1 puts 1*SP after the scheme, not a tab. */
	ck_assert_int_eq(header_verdict("Bearer\t", tok), AUTH_MISSING);
	ck_assert_int_eq(header_verdict("Bearer", ""), AUTH_MALFORMED);
	ck_assert_int_eq(header_verdict("Bearer ", ""), AUTH_MALFORMED);
	ck_assert_int_eq(header_verdict("bearer x", ""), AUTH_MALFORMED);
	free(tok);
}
END_TEST

START_TEST(test_describe)
{
	for (int i = 0; i < AUTH_STATUS__MAX; i++) {
		const char *s = auth_status_describe((enum auth_status)i);

		ck_assert_ptr_nonnull(s);
		ck_assert_uint_gt(strlen(s), 0);
		ck_assert_ptr_nonnull(auth_status_names[i]);
	}
	ck_assert_ptr_nonnull(auth_status_describe(AUTH_STATUS__MAX));
	ck_assert_ptr_nonnull(auth_status_describe((enum auth_status) - 1));
	ck_assert_str_eq(auth_status_describe(AUTH_EXPIRED),
	    "the token has expired");
}
END_TEST

START_TEST(test_role_parse)
{
	enum auth_role r = AUTH_ROLE__MAX;

	ck_assert_int_eq(auth_role_parse("user", &r), 0);
	ck_assert_int_eq(r, AUTH_ROLE_USER);
	ck_assert_int_eq(auth_role_parse("admin", &r), 0);
	ck_assert_int_eq(r, AUTH_ROLE_ADMIN);
	ck_assert_int_eq(auth_role_parse("Admin", &r), -1);
	ck_assert_int_eq(auth_role_parse("", &r), -1);
	ck_assert_int_eq(auth_role_parse(NULL, &r), -1);
	ck_assert_str_eq(auth_role_names[AUTH_ROLE_USER], "user");
	ck_assert_str_eq(auth_role_names[AUTH_ROLE_ADMIN], "admin");
}
END_TEST

static Suite *auth_claims_suite(void)
{
	Suite *s = suite_create("auth_claims");
	TCase *claims = tcase_create("claims"), *misc = tcase_create("misc");

	tcase_add_test(claims, test_sub);
	tcase_add_test(claims, test_sub_value);
	tcase_add_test(claims, test_role);
	tcase_add_test(claims, test_exp);
	tcase_add_test(claims, test_nbf);
	tcase_add_test(misc, test_header_scheme);
	tcase_add_test(misc, test_describe);
	tcase_add_test(misc, test_role_parse);
	suite_add_tcase(s, claims);
	suite_add_tcase(s, misc);
	return s;
}

int main(void)
{
	return check_run(auth_claims_suite());
}
