/*
 * auth: see auth.h.  A token is three base64url segments (RFC 7515 section
 * 7.1): header.payload.signature.  All three are decoded into fixed buffers
 * sized by AUTH_TOKEN_MAX, so a client chooses no allocation size.  The JSON
 * is read with json.c rather than yajl_tree because json.c refuses what a
 * verifier must not guess about: duplicate member names (RFC 7515 section
 * 5.2), strings with an embedded NUL ("HS256\u0000..."), and comments.
 */
#include "auth.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "json.h"
#include "num.h"

#define AUTH_MAC_LEN 32 /* HMAC-SHA-256 */
/* No segment of an AUTH_TOKEN_MAX token decodes to more than this. */
#define AUTH_PART_MAX (AUTH_TOKEN_MAX / 4 * 3)
/* Encoded length of n bytes of unpadded base64url. */
#define AUTH_B64_LEN(n) (((n)*4 + 2) / 3)

static const char auth_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const char auth_mint_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/*
 * Our own tokens are flat objects of four members.  The token length already
 * bounds every string; depth and member count cap what a stranger's header
 * (parsed before the signature is checked) can make us build.
 */
static const struct json_limits auth_json_limits = {
	.max_depth = 4,
	.max_string = AUTH_PART_MAX,
	.max_members = 64,
};

const char *const auth_role_names[AUTH_ROLE__MAX] = {
	"user",
	"admin",
};

const char *const auth_status_names[AUTH_STATUS__MAX] = {
	"ok",
	"missing",
	"malformed",
	"unsupported_alg",
	"bad_signature",
	"expired",
	"bad_claims",
};

static const char *const auth_status_text[AUTH_STATUS__MAX] = {
	"the token is valid",
	"a bearer token is required",
	"the token is malformed",
	"the token's algorithm is not supported; only HS256 is accepted",
	"the token's signature does not verify",
	"the token has expired",
	"the token's claims are missing or invalid",
};

/* The three segments of one token, decoded. */
struct auth_parts {
	unsigned char header[AUTH_PART_MAX];
	unsigned char payload[AUTH_PART_MAX];
	unsigned char sig[AUTH_PART_MAX];
	size_t header_len, payload_len, sig_len;
	size_t signed_len; /* "header.payload": the bytes the MAC covers */
};

int auth_role_parse(const char *name, enum auth_role *out)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < AUTH_ROLE__MAX; i++) {
		if (strcmp(name, auth_role_names[i]) == 0) {
			*out = (enum auth_role)i;
			return 0;
		}
	}
	return -1;
}

const char *auth_status_describe(enum auth_status st)
{
	if ((unsigned)st >= AUTH_STATUS__MAX || auth_status_text[st] == NULL)
		return "the token was refused";
	return auth_status_text[st];
}

/* The value of one base64url character, or -1 (RFC 4648 table 2). */
static int auth_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * Decodes len characters of unpadded base64url (RFC 4648 section 5) into
 * dst.  Refuses '=', characters outside the alphabet, a length that no byte
 * string encodes to, and non-zero leftover bits (section 3.5), so that each
 * byte string has exactly one accepted encoding.  Returns 0 with *outlen set,
 * or -1 (also when the result would not fit in cap bytes).
 */
static int auth_b64_decode(const char *src, size_t len, unsigned char *dst,
    size_t cap, size_t *outlen)
{
	unsigned acc = 0, bits = 0;
	size_t n = 0;
	int v;

	if (len % 4 == 1 || len / 4 * 3 + len % 4 * 3 / 4 > cap)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if ((v = auth_b64_value((unsigned char)src[i])) < 0)
			return -1;
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			dst[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	*outlen = n;
	return 0;
}

/*
 * Appends src (len bytes) as unpadded base64url to dst, which holds *n
 * characters and has room for cap bytes, and NUL-terminates it.  Returns 0,
 * or -1 if it would not fit.
 */
static int auth_b64_append(char *dst, size_t cap, size_t *n,
    const unsigned char *src, size_t len)
{
	unsigned acc = 0, bits = 0;
	size_t o = *n;

	if (AUTH_B64_LEN(len) >= cap - o)
		return -1;
	for (size_t i = 0; i < len; i++) {
		acc = acc << 8 | src[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			dst[o++] = auth_b64_alphabet[acc >> bits & 63];
		}
		acc &= (1u << bits) - 1;
	}
	if (bits > 0)
		dst[o++] = auth_b64_alphabet[acc << (6 - bits) & 63];
	dst[o] = '\0';
	*n = o;
	return 0;
}

/*
 * OpenSSL 3's one-shot HMAC() fetches the MAC and the digest by name on
 * every call: CPU on every request, and about 1.5 MiB of libcrypto's pages
 * touched in every worker.  So the process keeps one context keyed with
 * the secret last used (a daemon has one; the tests use several) and
 * duplicates it per MAC.  The master makes it before fork
 * (auth_crypto_preload), and every worker inherits it.
 */
static struct {
	EVP_MAC_CTX *ctx;
	unsigned char *key; /* a copy of the secret it was keyed with */
	size_t key_len;
} auth_keyed;

static void auth_keyed_clear(void)
{
	EVP_MAC_CTX_free(auth_keyed.ctx);
	if (auth_keyed.key != NULL)
		OPENSSL_cleanse(auth_keyed.key, auth_keyed.key_len);
	free(auth_keyed.key);
	memset(&auth_keyed, 0, sizeof(auth_keyed));
}

/* The HMAC-SHA-256 context keyed with secret, made if needed; or NULL. */
static EVP_MAC_CTX *auth_keyed_ctx(const unsigned char *secret,
    size_t secret_len)
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *hmac;

	if (auth_keyed.ctx != NULL && auth_keyed.key_len == secret_len &&
	    memcmp(auth_keyed.key, secret, secret_len) == 0)
		return auth_keyed.ctx;
	auth_keyed_clear();
	if ((hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return NULL;
	auth_keyed.ctx = EVP_MAC_CTX_new(hmac);
	EVP_MAC_free(hmac); /* the context holds its own reference */
	if (auth_keyed.ctx == NULL ||
	    EVP_MAC_init(auth_keyed.ctx, secret, secret_len, params) != 1 ||
	    (auth_keyed.key = malloc(secret_len)) == NULL) {
		auth_keyed_clear();
		return NULL;
	}
	memcpy(auth_keyed.key, secret, secret_len);
	auth_keyed.key_len = secret_len;
	return auth_keyed.ctx;
}

/*
 * HMAC-SHA-256 of data under secret into mac.  An empty secret is refused:
 * anyone can compute a MAC under the empty key, so it must never verify.
 * Returns 0 or -1.
 */
static int auth_mac(const unsigned char *secret, size_t secret_len,
    const void *data, size_t len, unsigned char mac[AUTH_MAC_LEN])
{
	EVP_MAC_CTX *keyed, *ctx = NULL;
	size_t mac_len = 0;
	int rc = -1;

	if (secret == NULL || secret_len == 0 || secret_len > INT_MAX)
		return -1;
	if ((keyed = auth_keyed_ctx(secret, secret_len)) == NULL ||
	    (ctx = EVP_MAC_CTX_dup(keyed)) == NULL)
		goto out;
	if (EVP_MAC_update(ctx, data, len) != 1 ||
	    EVP_MAC_final(ctx, mac, &mac_len, AUTH_MAC_LEN) != 1 ||
	    mac_len != AUTH_MAC_LEN)
		goto out;
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	return rc;
}

/* Splits token into exactly three segments, decoding each.  0 or -1. */
static int auth_split(const char *token, size_t len, struct auth_parts *p)
{
	const char *end = token + len, *dot1, *dot2;

	if ((dot1 = memchr(token, '.', len)) == NULL ||
	    (dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1))) == NULL ||
	    memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL)
		return -1;
	p->signed_len = (size_t)(dot2 - token);
	if (auth_b64_decode(token, (size_t)(dot1 - token), p->header,
	        sizeof(p->header), &p->header_len) < 0 ||
	    auth_b64_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), p->payload,
	        sizeof(p->payload), &p->payload_len) < 0 ||
	    auth_b64_decode(dot2 + 1, (size_t)(end - dot2 - 1), p->sig,
	        sizeof(p->sig), &p->sig_len) < 0)
		return -1;
	return 0;
}

static enum auth_status auth_check_header(const struct auth_parts *p)
{
	struct json_value *h;
	const struct json_value *alg;
	enum auth_status st = AUTH_OK;
	char err[128];

	h = json_parse((const char *)p->header, p->header_len,
	    &auth_json_limits, err, sizeof(err));
	if (h == NULL || h->type != JSON_OBJECT) {
		json_free(h);
		return AUTH_MALFORMED;
	}
	alg = json_get(h, "alg");
	/*
	 * RFC 8725 section 3.1: trust no alg but the one we issue, so "none",
	 * other HMACs and public-key algorithms can never be substituted.
	 */
	if (alg == NULL || alg->type != JSON_STRING ||
	    strcmp(alg->u.string.ptr, "HS256") != 0)
		st = AUTH_UNSUPPORTED_ALG;
	/* RFC 7515 section 4.1.11: we implement no extension; crit is fatal. */
	else if (json_get(h, "crit") != NULL)
		st = AUTH_UNSUPPORTED_ALG;
	json_free(h);
	return st;
}

static enum auth_status auth_check_signature(const char *token,
    const struct auth_parts *p, const unsigned char *secret, size_t secret_len)
{
	unsigned char mac[AUTH_MAC_LEN];
	enum auth_status st = AUTH_BAD_SIGNATURE;

	/* Constant time, so the MAC cannot be learnt a byte at a time. */
	if (p->sig_len == sizeof(mac) &&
	    auth_mac(secret, secret_len, token, p->signed_len, mac) == 0 &&
	    CRYPTO_memcmp(mac, p->sig, sizeof(mac)) == 0)
		st = AUTH_OK;
	OPENSSL_cleanse(mac, sizeof(mac));
	return st;
}

/* Parses a user id: 1..INT64_MAX in plain decimal, no sign, no leading zero. */
static int auth_parse_id(const char *s, size_t len, int64_t *out)
{
	if (len > 0 && s[0] == '0')
		return -1;
	return num_parse_n(s, len, 1, INT64_MAX, out);
}

/*
 * The sub claim is a StringOrURI (RFC 7519 section 4.1.2), so we issue the
 * id as a string, but a JSON integer is read too.  Returns 0 or -1.
 */
static int auth_read_sub(const struct json_value *sub, int64_t *out)
{
	if (sub != NULL && sub->type == JSON_STRING)
		return auth_parse_id(sub->u.string.ptr, sub->u.string.len, out);
	if (sub != NULL && sub->type == JSON_INT && sub->u.integer >= 1) {
		*out = sub->u.integer;
		return 0;
	}
	return -1;
}

static enum auth_status auth_read_claims(const struct json_value *claims,
    int64_t now, struct auth_identity *out)
{
	const struct json_value *role = json_get(claims, "role");
	const struct json_value *exp = json_get(claims, "exp");
	const struct json_value *nbf = json_get(claims, "nbf");
	struct auth_identity id;

	/* A missing role is an error, not "user": we never guess privileges. */
	if (auth_read_sub(json_get(claims, "sub"), &id.user_id) < 0 ||
	    role == NULL || role->type != JSON_STRING ||
	    auth_role_parse(role->u.string.ptr, &id.role) < 0 || exp == NULL ||
	    exp->type != JSON_INT || (nbf != NULL && nbf->type != JSON_INT))
		return AUTH_BAD_CLAIMS;
	id.expires_at = exp->u.integer;
	/* RFC 7519 section 4.1.4: not accepted "on or after" exp. */
	if (now >= id.expires_at)
		return AUTH_EXPIRED;
	/* RFC 7519 section 4.1.5: not accepted before nbf. */
	if (nbf != NULL && now < nbf->u.integer)
		return AUTH_BAD_CLAIMS;
	*out = id;
	return AUTH_OK;
}

static enum auth_status auth_check_claims(const struct auth_parts *p,
    int64_t now, struct auth_identity *out)
{
	struct json_value *claims;
	enum auth_status st;
	char err[128];

	claims = json_parse((const char *)p->payload, p->payload_len,
	    &auth_json_limits, err, sizeof(err));
	if (claims == NULL || claims->type != JSON_OBJECT)
		st = AUTH_MALFORMED;
	else
		st = auth_read_claims(claims, now, out);
	json_free(claims);
	return st;
}

enum auth_status auth_verify_token(const char *token, size_t token_len,
    const unsigned char *secret, size_t secret_len, int64_t now,
    struct auth_identity *out)
{
	struct auth_parts parts;
	enum auth_status st;

	if (token == NULL)
		return AUTH_MISSING;
	if (token_len > AUTH_TOKEN_MAX ||
	    auth_split(token, token_len, &parts) < 0)
		return AUTH_MALFORMED;
	if ((st = auth_check_header(&parts)) != AUTH_OK)
		return st;
	/* Only a payload we signed ourselves is worth parsing. */
	if ((st = auth_check_signature(token, &parts, secret, secret_len)) !=
	    AUTH_OK)
		return st;
	return auth_check_claims(&parts, now, out);
}

enum auth_status auth_verify_header(const char *authorization,
    const unsigned char *secret, size_t secret_len, int64_t now,
    struct auth_identity *out)
{
	static const char scheme[] = "Bearer";
	const char *token;

	if (authorization == NULL || authorization[0] == '\0')
		return AUTH_MISSING;
	/* RFC 7235 section 2.1: case-insensitive scheme, then 1*SP. */
	if (strncasecmp(authorization, scheme, sizeof(scheme) - 1) != 0)
		return AUTH_MISSING;
	token = authorization + sizeof(scheme) - 1;
	if (*token != ' ' && *token != '\0')
		return AUTH_MISSING; /* "Bearerfoo" is another scheme */
	while (*token == ' ')
		token++;
	/* strnlen: a megabyte of header costs no more than AUTH_TOKEN_MAX. */
	return auth_verify_token(token, strnlen(token, AUTH_TOKEN_MAX + 1),
	    secret, secret_len, now, out);
}

char *auth_token_mint(const unsigned char *secret, size_t secret_len,
    int64_t user_id, enum auth_role role, int64_t issued_at, int64_t expires_at)
{
	/* At most 36 + 1 + 340 + 1 + 43 characters and a NUL; appends check. */
	char payload[256], token[512];
	unsigned char mac[AUTH_MAC_LEN];
	size_t n = 0;
	int r;

	if (user_id < 1 || expires_at <= issued_at ||
	    (unsigned)role >= AUTH_ROLE__MAX)
		return NULL;
	r = snprintf(payload, sizeof(payload),
	    "{\"sub\":\"%" PRId64 "\",\"role\":\"%s\",\"iat\":%" PRId64
	    ",\"exp\":%" PRId64 "}",
	    user_id, auth_role_names[role], issued_at, expires_at);
	if (r < 0 || (size_t)r >= sizeof(payload))
		return NULL;
	if (auth_b64_append(token, sizeof(token), &n,
	        (const unsigned char *)auth_mint_header,
	        sizeof(auth_mint_header) - 1) < 0)
		return NULL;
	token[n++] = '.';
	if (auth_b64_append(token, sizeof(token), &n,
	        (const unsigned char *)payload, (size_t)r) < 0 ||
	    auth_mac(secret, secret_len, token, n, mac) < 0)
		return NULL;
	token[n++] = '.';
	if (auth_b64_append(token, sizeof(token), &n, mac, sizeof(mac)) < 0)
		return NULL;
	return strdup(token);
}

int auth_crypto_preload(const unsigned char *secret, size_t secret_len)
{
	static const unsigned char data[] = "preload";
	unsigned char mac[AUTH_MAC_LEN], md[SHA256_DIGEST_LENGTH];
	int rc;

	rc = auth_mac(secret, secret_len, data, sizeof(data) - 1, mac);
	if (SHA256(data, sizeof(data) - 1, md) == NULL)
		rc = -1;
	return rc;
}
