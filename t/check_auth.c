/*
 * check_auth: HS256 bearer tokens, issued and refused: round trips, the
 * reference vector, signatures, algorithms, and malformed tokens (helpers
 * in check_auth.h; the claims are check_auth_claims.c).
 */
#include "check_auth.h"
#include "check_run.h"

START_TEST(test_round_trip)
{
	static const enum auth_role roles[] = {
		AUTH_ROLE_USER,
		AUTH_ROLE_ADMIN,
	};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		struct auth_identity id = { 0, AUTH_ROLE__MAX, 0 };
		char *tok = mint(42, roles[i], NOW - 10, NOW + 3600);

		ck_assert_ptr_nonnull(tok);
		ck_assert_int_eq(strncmp(tok, HS256_B64 ".", 37), 0);
		ck_assert_int_eq(verify(tok, NOW, &id), AUTH_OK);
		ck_assert(id.user_id == 42);
		ck_assert_int_eq(id.role, roles[i]);
		ck_assert(id.expires_at == NOW + 3600);
		free(tok);
	}
}
END_TEST

START_TEST(test_round_trip_largest_id)
{
	struct auth_identity id;
	char *tok = mint(INT64_MAX, AUTH_ROLE_ADMIN, 0, INT64_MAX);

	ck_assert_ptr_nonnull(tok);
	ck_assert_int_eq(verify(tok, NOW, &id), AUTH_OK);
	ck_assert(id.user_id == INT64_MAX);
	free(tok);
}
END_TEST

/* Minting and the independent builder must agree byte for byte. */
START_TEST(test_mint_matches_independent_encoder)
{
	char want[TOKEN_BUF];
	char *tok = mint(42, AUTH_ROLE_USER, NOW, NOW + 3600);

	forge(want, HS256,
	    "{\"sub\":\"42\",\"role\":\"user\","
	    "\"iat\":1700000000,\"exp\":1700003600}",
	    SECRET);
	ck_assert_ptr_nonnull(tok);
	ck_assert_str_eq(tok, want);
	free(tok);
	EXPECT(HS256, GOOD, AUTH_OK);
}
END_TEST

/* The example token from jwt.io: its signature verifies, its claims do not. */
START_TEST(test_reference_vector)
{
	static const char tok[] =
	    HS256_B64 "."
	              "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
	              "IjoxNTE2MjM5MDIyfQ."
	              "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
	static const char key[] = "your-256-bit-secret";
	struct auth_identity id;

	ck_assert_int_eq(auth_verify_token(tok, strlen(tok),
	                     (const unsigned char *)key, strlen(key), NOW, &id),
	    AUTH_BAD_CLAIMS);
	EXPECT_TOKEN(tok, AUTH_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_mint_refuses)
{
	const unsigned char *s = (const unsigned char *)SECRET;
	size_t n = strlen(SECRET);
	enum auth_role user = AUTH_ROLE_USER;

	ck_assert_ptr_null(mint(0, user, NOW, NOW + 1));
	ck_assert_ptr_null(mint(-1, user, NOW, NOW + 1));
	ck_assert_ptr_null(mint(1, user, NOW, NOW));
	ck_assert_ptr_null(mint(1, user, NOW, NOW - 1));
	ck_assert_ptr_null(mint(1, AUTH_ROLE__MAX, NOW, NOW + 1));
	ck_assert_ptr_null(auth_token_mint(s, 0, 1, user, NOW, NOW + 1));
	ck_assert_ptr_null(auth_token_mint(NULL, 0, 1, user, NOW, NOW + 1));
	ck_assert_ptr_null(auth_token_mint(NULL, n, 1, user, NOW, NOW + 1));
}
END_TEST

START_TEST(test_expired)
{
	struct auth_identity id = { 7, AUTH_ROLE_USER, 7 };
	char *tok = mint(42, AUTH_ROLE_USER, NOW - 7200, NOW - 3600);

	ck_assert_int_eq(verify(tok, NOW, &id), AUTH_EXPIRED);
	ck_assert(id.user_id == 7 && id.expires_at == 7); /* untouched */
	free(tok);
	/* RFC 7519 section 4.1.4: "on or after" exp. */
	tok = mint(42, AUTH_ROLE_USER, NOW, NOW + 3600);
	ck_assert_int_eq(verify(tok, NOW + 3600, &id), AUTH_EXPIRED);
	ck_assert_int_eq(verify(tok, NOW + 3599, &id), AUTH_OK);
	free(tok);
}
END_TEST

START_TEST(test_forged_payload)
{
	char *user = mint(42, AUTH_ROLE_USER, NOW, NOW + 3600);
	char *admin = mint(42, AUTH_ROLE_ADMIN, NOW, NOW + 3600);
	char tok[TOKEN_BUF];
	const char *user_sig = strrchr(user, '.');

	/* The admin payload under the user token's signature. */
	snprintf(tok, sizeof(tok), "%.*s%s", (int)(strrchr(admin, '.') - admin),
	    admin, user_sig);
	EXPECT_TOKEN(tok, AUTH_BAD_SIGNATURE);
	free(user);
	free(admin);
}
END_TEST

START_TEST(test_other_secret)
{
	char tok[TOKEN_BUF];

	forge(tok, HS256, GOOD, "not the secret, but just as long!");
	EXPECT_TOKEN(tok, AUTH_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_signature_tampered)
{
	char tok[TOKEN_BUF];
	char *sig;

	forge(tok, HS256, GOOD, SECRET);
	sig = strrchr(tok, '.') + 1;
	sig[0] = sig[0] == 'A' ? 'B' : 'A';
	EXPECT_TOKEN(tok, AUTH_BAD_SIGNATURE);
	sig[0] = '\0'; /* empty signature */
	EXPECT_TOKEN(tok, AUTH_BAD_SIGNATURE);
	forge(tok, HS256, GOOD, SECRET);
	sig = strrchr(tok, '.') + 1;
	sig[40] = '\0'; /* 30 bytes: canonical but short */
	EXPECT_TOKEN(tok, AUTH_BAD_SIGNATURE);
}
END_TEST

/* Anyone can MAC under the empty key; a missing secret must not accept it. */
START_TEST(test_empty_secret)
{
	struct auth_identity id;
	char tok[TOKEN_BUF];

	forge(tok, HS256, GOOD, "");
	ck_assert_int_eq(auth_verify_token(tok, strlen(tok),
	                     (const unsigned char *)"", 0, NOW, &id),
	    AUTH_BAD_SIGNATURE);
	ck_assert_int_eq(auth_verify_token(tok, strlen(tok), NULL, 0, NOW, &id),
	    AUTH_BAD_SIGNATURE);
	forge(tok, HS256, GOOD, SECRET);
	ck_assert_int_eq(auth_verify_token(tok, strlen(tok),
	                     (const unsigned char *)SECRET, 0, NOW, &id),
	    AUTH_BAD_SIGNATURE);
}
END_TEST

/*
 * auth_mac keeps one context keyed with the last secret: switching secrets
 * (and back, and to a secret that is a prefix of the other) must rekey it,
 * never verify under the previous key.
 */
START_TEST(test_secret_switch)
{
	static const char other[] = "fedcba9876543210fedcba9876543210";
	struct auth_identity id;
	char tok[TOKEN_BUF];

	forge(tok, HS256, GOOD, SECRET);
	ck_assert_int_eq(verify(tok, NOW, &id), AUTH_OK);
	ck_assert_int_eq(auth_verify_token(tok, strlen(tok),
	                     (const unsigned char *)other, strlen(other), NOW,
	                     &id),
	    AUTH_BAD_SIGNATURE);
	ck_assert_int_eq(verify(tok, NOW, &id), AUTH_OK);
	ck_assert_int_eq(auth_verify_token(tok, strlen(tok),
	                     (const unsigned char *)SECRET, strlen(SECRET) - 1,
	                     NOW, &id),
	    AUTH_BAD_SIGNATURE);
	ck_assert_int_eq(auth_crypto_preload((const unsigned char *)other,
	                     strlen(other)),
	    0);
	ck_assert_int_eq(verify(tok, NOW, &id), AUTH_OK);
	ck_assert_int_eq(auth_crypto_preload(NULL, 0), -1);
}
END_TEST

START_TEST(test_alg_none)
{
	static const char *const headers[] = {
		"{\"alg\":\"none\",\"typ\":\"JWT\"}",
		"{\"alg\":\"None\"}",
		"{\"alg\":\"NONE\"}",
	};
	char tok[TOKEN_BUF];

	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		forge(tok, headers[i], GOOD, NULL); /* "h.p." */
		EXPECT_TOKEN(tok, AUTH_UNSUPPORTED_ALG);
		EXPECT(headers[i], GOOD, AUTH_UNSUPPORTED_ALG);
	}
}
END_TEST

START_TEST(test_alg_other)
{
	EXPECT("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", GOOD,
	    AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", GOOD,
	    AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"alg\":\"ES256\"}", GOOD, AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"alg\":\"hs256\"}", GOOD, AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"alg\":\"HS256 \"}", GOOD, AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"alg\":\"\"}", GOOD, AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"alg\":256}", GOOD, AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"alg\":null}", GOOD, AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"alg\":[\"HS256\"]}", GOOD, AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"alg\":\"HS256\"}", GOOD, AUTH_OK); /* typ is optional */
}
END_TEST

START_TEST(test_alg_missing)
{
	EXPECT("{\"typ\":\"JWT\"}", GOOD, AUTH_UNSUPPORTED_ALG);
	EXPECT("{}", GOOD, AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"hdr\":{\"alg\":\"HS256\"}}", GOOD, AUTH_UNSUPPORTED_ALG);
}
END_TEST

START_TEST(test_crit)
{
	EXPECT("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", GOOD,
	    AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"alg\":\"HS256\",\"b64\":false,\"crit\":[\"b64\"]}", GOOD,
	    AUTH_UNSUPPORTED_ALG);
	EXPECT("{\"alg\":\"HS256\",\"crit\":[]}", GOOD, AUTH_UNSUPPORTED_ALG);
}
END_TEST

START_TEST(test_malformed_segments)
{
	char tok[TOKEN_BUF], bad[2 * TOKEN_BUF];

	forge(tok, HS256, GOOD, SECRET);
	snprintf(bad, sizeof(bad), "%.*s", (int)(strrchr(tok, '.') - tok), tok);
	EXPECT_TOKEN(bad, AUTH_MALFORMED); /* two segments */
	snprintf(bad, sizeof(bad), "%s.%s", tok, strrchr(tok, '.') + 1);
	EXPECT_TOKEN(bad, AUTH_MALFORMED); /* four segments */
	snprintf(bad, sizeof(bad), "%s.", tok);
	EXPECT_TOKEN(bad, AUTH_MALFORMED); /* empty fourth */
	EXPECT_TOKEN("", AUTH_MALFORMED);
	EXPECT_TOKEN(HS256_B64, AUTH_MALFORMED);
	EXPECT_TOKEN("..", AUTH_MALFORMED);
	EXPECT_TOKEN("...", AUTH_MALFORMED);
}
END_TEST

/* A character from outside the alphabet in each segment in turn. */
START_TEST(test_malformed_base64_chars)
{
	static const char bad[] = { '+', '/', '*', ' ', '%', '\x80' };
	char tok[TOKEN_BUF];

	for (size_t i = 0; i < sizeof(bad); i++) {
		char *dot1, *dot2;

		forge(tok, HS256, GOOD, SECRET);
		dot1 = strchr(tok, '.');
		dot2 = strrchr(tok, '.');
		tok[1] = bad[i];
		EXPECT_TOKEN(tok, AUTH_MALFORMED);
		forge(tok, HS256, GOOD, SECRET);
		dot1[5] = bad[i];
		EXPECT_TOKEN(tok, AUTH_MALFORMED);
		forge(tok, HS256, GOOD, SECRET);
		dot2[5] = bad[i];
		EXPECT_TOKEN(tok, AUTH_MALFORMED);
	}
}
END_TEST

START_TEST(test_malformed_embedded_nul)
{
	struct auth_identity id;
	char tok[TOKEN_BUF];
	size_t len;

	forge(tok, HS256, GOOD, SECRET);
	len = strlen(tok);
	tok[len - 1] = '\0';
	ck_assert_int_eq(auth_verify_token(tok, len,
	                     (const unsigned char *)SECRET, strlen(SECRET), NOW,
	                     &id),
	    AUTH_MALFORMED);
}
END_TEST

START_TEST(test_malformed_padding)
{
	char tok[TOKEN_BUF], pseg[TOKEN_BUF] = "";

	/* A 44-byte payload encodes to 59 characters; padded it is 60. */
	b64url_cat(pseg,
	    "{\"sub\":\"42\",\"role\":\"user\",\"exp\":1700003600 }", 44);
	ck_assert_uint_eq(strlen(pseg), 59);
	forge_raw(tok, HS256_B64, pseg, SECRET);
	EXPECT_TOKEN(tok, AUTH_OK);
	forge_raw(tok, HS256_B64 "==", pseg, SECRET);
	EXPECT_TOKEN(tok, AUTH_MALFORMED);
	strcat(pseg, "=");
	forge_raw(tok, HS256_B64, pseg, SECRET);
	EXPECT_TOKEN(tok, AUTH_MALFORMED);
	/* The signature (32 bytes, 43 characters) with its padding. */
	forge(tok, HS256, GOOD, SECRET);
	strcat(tok, "=");
	EXPECT_TOKEN(tok, AUTH_MALFORMED);
}
END_TEST

/* Bits past the last byte must be zero, or a MAC would have four spellings. */
START_TEST(test_malformed_noncanonical)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char tok[TOKEN_BUF], *last;

	forge(tok, HS256, GOOD, SECRET);
	last = tok + strlen(tok) - 1;
	*last = alphabet[strchr(alphabet, *last) - alphabet + 1];
	EXPECT_TOKEN(tok, AUTH_MALFORMED);
	/* Five characters encode no whole number of bytes. */
	forge_raw(tok, HS256_B64 "A", "e30", SECRET);
	EXPECT_TOKEN(tok, AUTH_MALFORMED);
}
END_TEST

START_TEST(test_malformed_json)
{
	EXPECT("not json", GOOD, AUTH_MALFORMED);
	EXPECT("", GOOD, AUTH_MALFORMED);
	EXPECT("[\"HS256\"]", GOOD, AUTH_MALFORMED);
	EXPECT("\"HS256\"", GOOD, AUTH_MALFORMED);
	EXPECT("{\"alg\":\"none\",\"alg\":\"HS256\"}", GOOD, AUTH_MALFORMED);
	EXPECT("{\"alg\":\"HS256\"/* c */}", GOOD, AUTH_MALFORMED);
	EXPECT("{\"alg\":\"HS256\\u0000\"}", GOOD, AUTH_MALFORMED);
	EXPECT(HS256, "not json", AUTH_MALFORMED);
	EXPECT(HS256, "", AUTH_MALFORMED);
	EXPECT(HS256, "[\"42\",\"user\",1700003600]", AUTH_MALFORMED);
	EXPECT(HS256, "42", AUTH_MALFORMED);
	EXPECT(HS256, GOOD " x", AUTH_MALFORMED);
	EXPECT(HS256,
	    "{\"sub\":\"42\",\"role\":\"user\",\"role\":\"admin\","
	    "\"exp\":1700003600}",
	    AUTH_MALFORMED);
}
END_TEST

/* A payload of payload_len bytes: GOOD plus a "pad" member. */
static void padded_payload(char *dst, size_t payload_len)
{
	static const char head[] =
	    "{\"sub\":\"42\",\"role\":\"user\",\"exp\":1700003600,\"pad\":\"";
	size_t pad = payload_len - (sizeof(head) - 1) - 2;

	memcpy(dst, head, sizeof(head) - 1);
	memset(dst + sizeof(head) - 1, 'x', pad);
	memcpy(dst + sizeof(head) - 1 + pad, "\"}", 3);
}

START_TEST(test_huge)
{
	char payload[TOKEN_BUF], tok[TOKEN_BUF];

	/* 36 + 1 + 4015 + 1 + 43 = 4096; 4015 characters hold 3011 bytes. */
	padded_payload(payload, 3011);
	forge(tok, HS256, payload, SECRET);
	ck_assert_uint_eq(strlen(tok), AUTH_TOKEN_MAX);
	EXPECT_TOKEN(tok, AUTH_OK);
	padded_payload(payload, 3012);
	forge(tok, HS256, payload, SECRET);
	ck_assert_uint_eq(strlen(tok), AUTH_TOKEN_MAX + 1);
	EXPECT_TOKEN(tok, AUTH_MALFORMED);
}
END_TEST

START_TEST(test_huge_header)
{
	size_t len = 1 << 20;
	char *hdr = malloc(len + 1);
	struct auth_identity id;

	ck_assert_ptr_nonnull(hdr);
	memcpy(hdr, "Bearer ", 7);
	memset(hdr + 7, 'A', len - 7);
	hdr[len] = '\0';
	ck_assert_int_eq(auth_verify_header(hdr, (const unsigned char *)SECRET,
	                     strlen(SECRET), NOW, &id),
	    AUTH_MALFORMED);
	free(hdr);
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *ok = tcase_create("issue"), *bad = tcase_create("refuse");

	tcase_add_test(ok, test_round_trip);
	tcase_add_test(ok, test_secret_switch);
	tcase_add_test(ok, test_round_trip_largest_id);
	tcase_add_test(ok, test_mint_matches_independent_encoder);
	tcase_add_test(ok, test_reference_vector);
	tcase_add_test(ok, test_mint_refuses);
	tcase_add_test(bad, test_expired);
	tcase_add_test(bad, test_forged_payload);
	tcase_add_test(bad, test_other_secret);
	tcase_add_test(bad, test_signature_tampered);
	tcase_add_test(bad, test_empty_secret);
	tcase_add_test(bad, test_alg_none);
	tcase_add_test(bad, test_alg_other);
	tcase_add_test(bad, test_alg_missing);
	tcase_add_test(bad, test_crit);
	tcase_add_test(bad, test_malformed_segments);
	tcase_add_test(bad, test_malformed_base64_chars);
	tcase_add_test(bad, test_malformed_embedded_nul);
	tcase_add_test(bad, test_malformed_padding);
	tcase_add_test(bad, test_malformed_noncanonical);
	tcase_add_test(bad, test_malformed_json);
	tcase_add_test(bad, test_huge);
	tcase_add_test(bad, test_huge_header);
	suite_add_tcase(s, ok);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	return check_run(auth_suite());
}
