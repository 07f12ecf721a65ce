/*
 * fuzz_json: request bodies, from the bytes to the handler's answer.  The
 * first byte picks one of the routes that take a JSON body; the rest is the
 * body, sent by an admin with a valid token.  It goes through route_serve
 * as a worker runs it: json_parse under json_default_limits, the object
 * check, then the handler's validators (valid_*; every body shape the API
 * declares).  A body the validators accept goes on to the database, which
 * here is a socket path that does not exist: the handler answers 503
 * without a server, so nothing is slow and nothing is kept between inputs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "auth.h"
#include "config.h"
#include "config_keys.h"
#include "http.h"
#include "log.h"
#include "route.h"
#include "scoreboard.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every route whose handler reads a body (route.c's ROUTE_BODY*). */
static const char *const fuzz_json_paths[] = {
	"/api/v1/admin/products",
	"/api/v1/admin/options/1/restock",
	"/api/v1/orders",
	"/api/v1/orders/1/pay",
	"/api/v1/points/charge",
	"/api/v1/admin/coupons",
};

static const unsigned char fuzz_json_secret[] =
    "fuzz-secret-fuzz-secret-fuzz-secret-0123";

static struct app *fuzz_json_app;
static char *fuzz_json_bearer;

static void fuzz_json_set(struct config *cfg, const char *key, const char *v)
{
	char err[256];

	if (config_set(cfg, key, v, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_json: %s\n", err);
		abort();
	}
}

/* The app of a worker whose servers are never there (see the top). */
static void fuzz_json_init(void)
{
	size_t secret_len = sizeof(fuzz_json_secret) - 1;
	struct config *cfg = config_create();
	char *token;
	size_t n;

	log_init(LOG_LEVEL_ERROR, "fuzz");
	fuzz_json_set(cfg, "database_url",
	    "host=/nonexistent/stockade-fuzz connect_timeout=1");
	fuzz_json_set(cfg, "redis_url", "unix:/nonexistent/stockade-fuzz");
	fuzz_json_app = app_create(cfg, fuzz_json_secret, secret_len,
	    scoreboard_create(1), 0, "fuzz_json");
	token =
	    auth_token_mint(fuzz_json_secret, secret_len, 1, AUTH_ROLE_ADMIN,
	        (int64_t)time(NULL), (int64_t)time(NULL) + 10 * 365 * 86400);
	if (token == NULL)
		abort();
	n = strlen(token) + sizeof("Bearer ");
	fuzz_json_bearer = xmalloc(n);
	snprintf(fuzz_json_bearer, n, "Bearer %s", token);
	free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t npaths = sizeof(fuzz_json_paths) / sizeof(fuzz_json_paths[0]);
	struct request req;
	struct response res;
	char *out = NULL;

	if (fuzz_json_app == NULL)
		fuzz_json_init();
	if (size < 1)
		return 0;
	request_init(&req);
	response_init(&res);
	req.method = HTTP_POST;
	snprintf(req.method_name, sizeof(req.method_name), "POST");
	snprintf(req.path, sizeof(req.path), "%s",
	    fuzz_json_paths[data[0] % npaths]);
	snprintf(req.request_id, sizeof(req.request_id), "fuzz");
	req.query = xstrdup("");
	req.content_type = xstrdup("application/json");
	req.authorization = xstrdup(fuzz_json_bearer);
	/* Exactly as http_request_read_body leaves it: len bytes and a NUL. */
	req.body_len = size - 1;
	req.body = xmalloc(req.body_len + 1);
	memcpy(req.body, data + 1, req.body_len);
	req.body[req.body_len] = '\0';
	app_begin_request(fuzz_json_app);
	route_serve(&req, &res, fuzz_json_app);
	(void)http_response_render(&req, &res, &out);
	free(out);
	request_reset(&req);
	response_free(&res);
	return 0;
}
