/*
 * fuzz_auth: the token verifier.  The first byte picks a mode:
 *  - even: the rest is an Authorization header value, verified as it is
 *    (auth_verify_header), and also as a bare token of exactly its length
 *    (auth_verify_token, which must not read past it);
 *  - odd: the rest is "HEADER\nPAYLOAD", two texts that are base64url
 *    encoded and signed here with the verifier's own secret, so that the
 *    fuzzer gets past the signature to the JSON of the header and the
 *    claims (alg, crit, sub, role, exp, nbf).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth.h"
#include "log.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char fuzz_auth_secret[] =
    "fuzz-secret-fuzz-secret-fuzz-secret-0123";
#define FUZZ_AUTH_SECRET_LEN (sizeof(fuzz_auth_secret) - 1)
/* A fixed "now", so that an input means the same on every run. */
#define FUZZ_AUTH_NOW 1700000000

/* Appends n bytes of src to dst as unpadded base64url (RFC 4648 5). */
static size_t fuzz_auth_b64(char *dst, const unsigned char *src, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)src[i + 1] << 8;
		if (left > 2)
			v |= src[i + 2];
		dst[o++] = abc[v >> 18 & 63];
		dst[o++] = abc[v >> 12 & 63];
		if (left > 1)
			dst[o++] = abc[v >> 6 & 63];
		if (left > 2)
			dst[o++] = abc[v & 63];
	}
	return o;
}

static void fuzz_auth_raw(const uint8_t *data, size_t size)
{
	struct auth_identity id;
	char *header = xmalloc(size + 1);
	char *token = xmalloc(size > 0 ? size : 1);

	memcpy(header, data, size);
	header[size] = '\0';
	(void)auth_verify_header(header, fuzz_auth_secret, FUZZ_AUTH_SECRET_LEN,
	    FUZZ_AUTH_NOW, &id);
	/* Not NUL-terminated: ASan reports a read past size. */
	memcpy(token, data, size);
	(void)auth_verify_token(token, size, fuzz_auth_secret,
	    FUZZ_AUTH_SECRET_LEN, FUZZ_AUTH_NOW, &id);
	free(header);
	free(token);
}

static void fuzz_auth_signed(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl != NULL ? (size_t)(nl - data) : size;
	size_t plen = nl != NULL ? size - hlen - 1 : 0;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	struct auth_identity id;
	char *token;
	size_t n;

	/* Each segment grows by 4/3; the MAC is 43 characters. */
	token = xmalloc(2 * size + 64);
	n = fuzz_auth_b64(token, data, hlen);
	token[n++] = '.';
	if (nl != NULL)
		n += fuzz_auth_b64(token + n, nl + 1, plen);
	if (HMAC(EVP_sha256(), fuzz_auth_secret, (int)FUZZ_AUTH_SECRET_LEN,
	        (const unsigned char *)token, n, mac, &maclen) == NULL)
		abort();
	token[n++] = '.';
	n += fuzz_auth_b64(token + n, mac, maclen);
	(void)auth_verify_token(token, n, fuzz_auth_secret,
	    FUZZ_AUTH_SECRET_LEN, FUZZ_AUTH_NOW, &id);
	free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		log_init(LOG_LEVEL_ERROR, "fuzz");
		ready = 1;
	}
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_auth_signed(data + 1, size - 1);
	else
		fuzz_auth_raw(data + 1, size - 1);
	return 0;
}
