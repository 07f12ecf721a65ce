/*
 * check_auth: what the Check tests of auth.c share (check_auth.c: issuing,
 * signatures and malformed tokens; check_auth_claims.c: the claims, the
 * Authorization header, the descriptions).  Tokens for the negative cases
 * are built here by an encoder independent of auth.c (OpenSSL's
 * EVP_EncodeBlock, made url-safe) and signed with HMAC-SHA-256 like an
 * honest issuer would, so each case breaks exactly one rule and the verdict
 * names that rule.  GOOD is a payload that passes every rule at NOW; cases
 * change one member of it.
 */
#ifndef STOCKADE_CHECK_AUTH_H
#define STOCKADE_CHECK_AUTH_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"

#define SECRET "0123456789abcdef0123456789abcdef"
#define NOW INT64_C(1700000000)
#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define HS256_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
#define GOOD "{\"sub\":\"42\",\"role\":\"user\",\"exp\":1700003600}"
#define TOKEN_BUF (2 * AUTH_TOKEN_MAX)

#define EXPECT(header, payload, want) expect_at(__LINE__, header, payload, want)
#define EXPECT_TOKEN(token, want) expect_token_at(__LINE__, token, want)

static inline const char *status_name(enum auth_status st)
{
	return (unsigned)st < AUTH_STATUS__MAX ? auth_status_names[st] : "?";
}

/* Appends the unpadded base64url (RFC 4648 section 5) of src to dst. */
static inline void b64url_cat(char *dst, const void *src, size_t len)
{
	unsigned char enc[TOKEN_BUF];
	char *o = dst + strlen(dst);
	int n;

	ck_assert_uint_lt(len, sizeof(enc) / 4 * 3 - 3);
	n = EVP_EncodeBlock(enc, src, (int)len);
	ck_assert_uint_lt(strlen(dst) + (size_t)n, TOKEN_BUF);
	for (int i = 0; i < n && enc[i] != '='; i++)
		*o++ = enc[i] == '+' ? '-' : enc[i] == '/' ? '_' : (char)enc[i];
	*o = '\0';
}

/* Appends "." and the MAC of tok so far under key; no MAC when key is NULL. */
static inline void sign_cat(char tok[TOKEN_BUF], const char *key)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	size_t n = strlen(tok);

	if (key != NULL)
		ck_assert_ptr_nonnull(HMAC(EVP_sha256(), key, (int)strlen(key),
		    (const unsigned char *)tok, n, mac, &mac_len));
	strcat(tok, ".");
	b64url_cat(tok, mac, mac_len);
}

/* Builds header.payload.signature from two JSON texts. */
static inline void forge(char tok[TOKEN_BUF], const char *header,
    const char *payload, const char *key)
{
	tok[0] = '\0';
	b64url_cat(tok, header, strlen(header));
	strcat(tok, ".");
	b64url_cat(tok, payload, strlen(payload));
	sign_cat(tok, key);
}

/* Builds a token from two segments taken as they are, signed under key. */
static inline void forge_raw(char tok[TOKEN_BUF], const char *hseg,
    const char *pseg, const char *key)
{
	snprintf(tok, TOKEN_BUF, "%s.%s", hseg, pseg);
	sign_cat(tok, key);
}

static inline enum auth_status verify(const char *tok, int64_t now,
    struct auth_identity *id)
{
	return auth_verify_token(tok, strlen(tok),
	    (const unsigned char *)SECRET, strlen(SECRET), now, id);
}

static inline void expect_token_at(int line, const char *tok,
    enum auth_status want)
{
	struct auth_identity id;
	enum auth_status got = verify(tok, NOW, &id);

	ck_assert_msg(got == want, "line %d: %.200s: got %s, want %s", line,
	    tok, status_name(got), status_name(want));
}

/* Signs header and payload with SECRET and checks the verdict at NOW. */
static inline void expect_at(int line, const char *header, const char *payload,
    enum auth_status want)
{
	char tok[TOKEN_BUF];
	struct auth_identity id;
	enum auth_status got;

	forge(tok, header, payload, SECRET);
	got = verify(tok, NOW, &id);
	ck_assert_msg(got == want, "line %d: %s . %s: got %s, want %s", line,
	    header, payload, status_name(got), status_name(want));
}

static inline char *mint(int64_t user_id, enum auth_role role, int64_t iat,
    int64_t exp)
{
	return auth_token_mint((const unsigned char *)SECRET, strlen(SECRET),
	    user_id, role, iat, exp);
}

#endif
