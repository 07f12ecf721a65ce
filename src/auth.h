/*
 * auth: HS256 JSON Web Tokens (RFC 7519, signed as in RFC 7515) for the
 * bearer tokens that clients send in the Authorization header (RFC 6750).
 * stockade is the only issuer and the only verifier, so exactly one
 * algorithm is accepted (RFC 8725 section 2.1): HMAC-SHA-256 with the secret
 * from auth_secret_file.  Verification is bounded: tokens longer than
 * AUTH_TOKEN_MAX are refused before any work, segments are decoded into
 * fixed buffers, the signature is checked before the payload is parsed, and
 * a failure says which rule broke so that the 401 can explain itself.
 */
#ifndef STOCKADE_AUTH_H
#define STOCKADE_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* Longer tokens are refused as malformed before any work. */
#define AUTH_TOKEN_MAX 4096

enum auth_role { AUTH_ROLE_USER, AUTH_ROLE_ADMIN, AUTH_ROLE__MAX };

/* "user", "admin": the spelling in the token's role claim. */
extern const char *const auth_role_names[AUTH_ROLE__MAX];

/* Parses a role name (exact, case-sensitive).  0, or -1 if unknown or NULL. */
int auth_role_parse(const char *name, enum auth_role *out);

/* Who a verified token speaks for. */
struct auth_identity {
	int64_t user_id; /* the sub claim, 1..INT64_MAX */
	enum auth_role role;
	int64_t expires_at; /* the exp claim, Unix seconds */
};

enum auth_status {
	AUTH_OK,
	AUTH_MISSING, /* no header, or a scheme other than Bearer */
	AUTH_MALFORMED, /* not 3 base64url segments; not JSON objects */
	AUTH_UNSUPPORTED_ALG, /* alg is not exactly "HS256", or crit is set */
	AUTH_BAD_SIGNATURE, /* the MAC does not verify, or no secret */
	AUTH_EXPIRED, /* now >= exp */
	AUTH_BAD_CLAIMS, /* sub, role, exp or nbf missing or invalid */
	AUTH_STATUS__MAX
};

/* "ok", "missing", "malformed", ...: short names for log lines. */
extern const char *const auth_status_names[AUTH_STATUS__MAX];

/*
 * A short human sentence for the 401 problem detail, e.g. "the token has
 * expired".  Never NULL, also for values outside the enum.  The string is
 * static.
 */
const char *auth_status_describe(enum auth_status st);

/*
 * Verifies an Authorization header value, "Bearer <token>": the scheme is
 * case-insensitive (RFC 7235 section 2.1) and one or more spaces separate it
 * from the token.  A NULL or empty header, or another scheme, gives
 * AUTH_MISSING; "Bearer" without a token gives AUTH_MALFORMED.  Otherwise the
 * result of auth_verify_token.  now is Unix seconds.  *out is written only
 * on AUTH_OK.
 */
enum auth_status auth_verify_header(const char *authorization,
    const unsigned char *secret, size_t secret_len, int64_t now,
    struct auth_identity *out);

/*
 * Verifies token (token_len bytes, need not be NUL-terminated) against
 * secret, in this order: length and shape (AUTH_MALFORMED), header
 * (AUTH_UNSUPPORTED_ALG), signature (AUTH_BAD_SIGNATURE; always so for an
 * empty secret), then the payload's claims (AUTH_MALFORMED, AUTH_BAD_CLAIMS,
 * AUTH_EXPIRED).  A NULL token gives AUTH_MISSING.  *out is written only on
 * AUTH_OK.  Allocates nothing sized by the client beyond the bounded token.
 */
enum auth_status auth_verify_token(const char *token, size_t token_len,
    const unsigned char *secret, size_t secret_len, int64_t now,
    struct auth_identity *out);

/*
 * Mints a token: header {"alg":"HS256","typ":"JWT"}, payload
 * {"sub":"<id>","role":"<role>","iat":<n>,"exp":<n>}, signed with secret.
 * Returns a malloc'd NUL-terminated string that the caller frees, or NULL
 * when user_id < 1, expires_at <= issued_at, the role is unknown, the secret
 * is empty, or allocation or libcrypto fails.
 */
char *auth_token_mint(const unsigned char *secret, size_t secret_len,
    int64_t user_id, enum auth_role role, int64_t issued_at,
    int64_t expires_at);

/*
 * Runs the digests a request uses once (HMAC-SHA-256 under secret for
 * tokens, SHA-256 for idempotency keys), so that OpenSSL 3 loads its
 * default provider and fills its algorithm caches, and keys the HMAC
 * context that verification reuses.  (SHA-1 runs once too, when the
 * master hashes the gate's scripts: coupon_gate_hash_scripts.)
 * Called by the master before it forks: every worker then inherits that
 * state instead of building its own, which would touch about 2 MiB more of
 * libcrypto in each of them.  Returns 0, or -1 if libcrypto fails or the
 * secret is empty.
 */
int auth_crypto_preload(const unsigned char *secret, size_t secret_len);

#endif
