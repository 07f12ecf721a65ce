/*
 * fuzz_cgi: what a request brings besides its body, as the FastCGI
 * parameters reach http_request_parse: REQUEST_URI (percent-decoded
 * path), QUERY_STRING, REQUEST_METHOD, the headers (Authorization,
 * Content-Type, Idempotency-Key, X-Request-Id) and CONTENT_LENGTH.  The
 * input is "NAME=VALUE" lines, then an empty line and the body.  A parsed
 * request then goes through what reads those values: the body reader, the
 * route table (path ids), the pagination and integer query parameters,
 * the scoreboard's escaped description and the response's rendering.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "page.h"
#include "route.h"
#include "valid.h"
#include "xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CGI_PARAMS_MAX 64

struct fuzz_cgi_params {
	char *name[FUZZ_CGI_PARAMS_MAX];
	char *value[FUZZ_CGI_PARAMS_MAX];
	size_t n;
};

/* The last value given for name, as a FastCGI parameter table would. */
static const char *fuzz_cgi_get(const char *name, void *ctx)
{
	const struct fuzz_cgi_params *p = ctx;
	const char *found = NULL;

	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->name[i], name) == 0)
			found = p->value[i];
	}
	return found;
}

struct fuzz_cgi_body {
	const uint8_t *data;
	size_t len;
};

static size_t fuzz_cgi_read(void *ctx, char *buf, size_t n)
{
	struct fuzz_cgi_body *b = ctx;

	if (n > b->len)
		n = b->len;
	memcpy(buf, b->data, n);
	b->data += n;
	b->len -= n;
	return n;
}

/* Splits the lines before the first empty one; returns where the body is. */
static const uint8_t *fuzz_cgi_split(const uint8_t *data, size_t size,
    struct fuzz_cgi_params *p)
{
	const uint8_t *end = data + size;

	while (data < end && *data != '\n' && p->n < FUZZ_CGI_PARAMS_MAX) {
		const uint8_t *nl = memchr(data, '\n', (size_t)(end - data));
		size_t len =
		    nl != NULL ? (size_t)(nl - data) : (size_t)(end - data);
		char *line = xmalloc(len + 1);
		char *eq;

		memcpy(line, data, len);
		line[len] = '\0';
		eq = strchr(line, '=');
		p->name[p->n] = line;
		p->value[p->n] = eq != NULL ? eq + 1 : line + len;
		if (eq != NULL)
			*eq = '\0';
		p->n++;
		data += len + (nl != NULL);
	}
	return data < end && *data == '\n' ? data + 1 : end;
}

/* What the handlers read from a parsed request (no database). */
static void fuzz_cgi_use(struct request *req, struct response *res)
{
	const struct route *found;
	struct page page;
	char allow[64], text[64], described[256];
	int64_t v;

	(void)route_match(route_table, route_table_len, req->method, req->path,
	    &found, req->params, &req->nparams, allow, sizeof(allow));
	(void)page_read(req, res, PAGE_NEWEST_FIRST, &page);
	(void)page_read(req, res, PAGE_OLDEST_FIRST, &page);
	(void)valid_query_int(res, req, "days", 1, 365, 7, &v);
	(void)http_query_param(req->query, "", text, sizeof(text));
	(void)http_query_param(req->query, "a b", text, 4);
	http_request_describe(described, sizeof(described), req->method_name,
	    req->path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_cgi_params p = { .n = 0 };
	struct fuzz_cgi_body body;
	struct request req;
	struct response res;
	char *out = NULL;
	static int ready;

	if (!ready) {
		log_init(LOG_LEVEL_ERROR, "fuzz");
		ready = 1;
	}
	body.data = fuzz_cgi_split(data, size, &p);
	body.len = (size_t)(data + size - body.data);
	request_init(&req);
	response_init(&res);
	if (http_request_parse(&req, fuzz_cgi_get, &p, &res) == 0 &&
	    http_request_read_body(&req, fuzz_cgi_get("CONTENT_LENGTH", &p),
	        4096, fuzz_cgi_read, &body, &res) == 0)
		fuzz_cgi_use(&req, &res);
	(void)http_response_render(&req, &res, &out);
	free(out);
	request_reset(&req);
	response_free(&res);
	for (size_t i = 0; i < p.n; i++)
		free(p.name[i]);
	return 0;
}
