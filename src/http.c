/*
 * http: see http.h.  The functions here are pure (no libfcgi, no I/O of their
 * own) so that unit tests can feed them every malformed input we can think of.
 */
#include "http.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "num.h"
#include "xmalloc.h"

const char *const http_method_names[HTTP_METHOD__MAX] = {
	"GET",
	"HEAD",
	"POST",
	"PUT",
	"PATCH",
	"DELETE",
	"OPTIONS",
};

enum http_method http_method_parse(const char *name)
{
	for (int i = 0; i < HTTP_METHOD__MAX; i++) {
		if (strcmp(name, http_method_names[i]) == 0)
			return (enum http_method)i;
	}
	return HTTP_METHOD__MAX;
}

const char *http_reason(int status)
{
	static const struct {
		int status;
		const char *reason;
	} reasons[] = {
		{ 200, "OK" },
		{ 201, "Created" },
		{ 204, "No Content" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 409, "Conflict" },
		{ 413, "Content Too Large" },
		{ 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 422, "Unprocessable Content" },
		{ 429, "Too Many Requests" },
		{ 499, "Client Closed Request" }, /* nginx's own code */
		{ 500, "Internal Server Error" },
		{ 502, "Bad Gateway" },
		{ 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
	};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (reasons[i].status == status)
			return reasons[i].reason;
	}
	return "Unknown";
}

static int http_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

ssize_t http_percent_decode(const char *src, size_t len, char *dst,
    size_t dstlen, int plus_is_space)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = http_hex_value(src[i + 1]);
			lo = http_hex_value(src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c == '\0' || o + 1 >= dstlen)
			return -1;
		dst[o++] = c;
	}
	if (dstlen == 0)
		return -1;
	dst[o] = '\0';
	return (ssize_t)o;
}

int http_query_param(const char *query, const char *name, char *out,
    size_t outlen)
{
	size_t namelen = strlen(name);
	const char *p = query;
	int found = 0;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t seglen = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', seglen);
		size_t keylen = eq != NULL ? (size_t)(eq - p) : seglen;
		char key[64];

		if (http_percent_decode(p, keylen, key, sizeof(key), 1) >= 0 &&
		    strlen(key) == namelen && memcmp(key, name, namelen) == 0) {
			const char *val = eq != NULL ? eq + 1 : p + seglen;
			size_t vallen = (size_t)(p + seglen - val);

			if (found)
				return -1;
			if (http_percent_decode(val, vallen, out, outlen, 1) <
			    0)
				return -1;
			found = 1;
		}
		p = end != NULL ? end + 1 : NULL;
	}
	return found;
}

static int http_token_chars(const char *s, size_t max, int (*ok)(int))
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (n >= max || !ok((unsigned char)s[n]))
			return 0;
	}
	return n > 0;
}

static int http_request_id_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
	    c == ':';
}

static int http_visible_char(int c)
{
	return c > 0x20 && c < 0x7f;
}

int http_wants_text(const char *accept)
{
	static const char text[] = "text/plain";
	size_t n = sizeof(text) - 1;

	if (accept == NULL)
		return 0;
	accept += strspn(accept, " \t");
	return strncasecmp(accept, text, n) == 0 &&
	    (accept[n] == '\0' || accept[n] == ';' || accept[n] == ',' ||
	        accept[n] == ' ' || accept[n] == '\t');
}

int http_request_id_is_valid(const char *s)
{
	return http_token_chars(s, HTTP_REQUEST_ID_MAX, http_request_id_char);
}

int http_idempotency_key_is_valid(const char *s)
{
	return http_token_chars(s, HTTP_IDEMPOTENCY_KEY_MAX, http_visible_char);
}

void http_request_describe(char *dst, size_t dstlen, const char *method,
    const char *path)
{
	char m[4 * sizeof(((struct request *)0)->method_name)];
	size_t used;

	if (dstlen == 0)
		return;
	log_escape(m, sizeof(m), method, strlen(method));
	snprintf(dst, dstlen, "%s ", m);
	used = strlen(dst);
	log_escape(dst + used, dstlen - used, path, strlen(path));
}

void request_init(struct request *req)
{
	memset(req, 0, sizeof(*req));
	req->method = HTTP_METHOD__MAX;
	req->route = -1;
}

void request_reset(struct request *req)
{
	free(req->query);
	free(req->authorization);
	free(req->content_type);
	free(req->idempotency_key);
	free(req->body);
	json_free(req->json);
	request_init(req);
}

/* Copies a header value, refusing absurd lengths; NULL when absent. */
static int http_copy_header(const char *value, char **out)
{
	*out = NULL;
	if (value == NULL)
		return 0;
	if (strlen(value) > HTTP_HEADER_VALUE_MAX)
		return -1;
	*out = xstrdup(value);
	return 0;
}

/* A fresh id for requests that arrive without one: pid, clock, counter. */
static void http_make_request_id(char *dst, size_t len)
{
	static uint64_t counter;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(dst, len, "%lx-%llx-%" PRIx64, (long)getpid(),
	    (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, ++counter);
}

static void http_pick_request_id(struct request *req, http_param_fn get,
    void *ctx)
{
	const char *client = get("HTTP_X_REQUEST_ID", ctx);
	const char *proxy = get("REQUEST_ID", ctx);

	if (client != NULL && http_request_id_is_valid(client))
		snprintf(req->request_id, sizeof(req->request_id), "%s",
		    client);
	else if (proxy != NULL && http_request_id_is_valid(proxy))
		snprintf(req->request_id, sizeof(req->request_id), "%s", proxy);
	else
		http_make_request_id(req->request_id, sizeof(req->request_id));
}

/* Splits REQUEST_URI (or DOCUMENT_URI) into the decoded path. */
static int http_parse_path(struct request *req, http_param_fn get, void *ctx,
    struct response *res)
{
	const char *uri = get("REQUEST_URI", ctx);
	size_t len;

	if (uri == NULL)
		uri = get("DOCUMENT_URI", ctx);
	if (uri == NULL || uri[0] != '/') {
		problem_write(res, 400, "bad_request",
		    "the request has no path");
		return -1;
	}
	len = strcspn(uri, "?");
	if (len >= HTTP_PATH_MAX) {
		problem_write(res, 414, "uri_too_long", "the path is too long");
		return -1;
	}
	if (http_percent_decode(uri, len, req->path, sizeof(req->path), 0) <
	    0) {
		problem_write(res, 400, "bad_path",
		    "the path has a malformed or NUL percent-escape");
		return -1;
	}
	return 0;
}

static int http_parse_headers(struct request *req, http_param_fn get, void *ctx,
    struct response *res)
{
	if (http_copy_header(get("HTTP_AUTHORIZATION", ctx),
	        &req->authorization) < 0 ||
	    http_copy_header(get("CONTENT_TYPE", ctx), &req->content_type) <
	        0 ||
	    http_copy_header(get("HTTP_IDEMPOTENCY_KEY", ctx),
	        &req->idempotency_key) < 0) {
		problem_write(res, 400, "bad_header", "a header is too long");
		return -1;
	}
	if (req->idempotency_key != NULL &&
	    !http_idempotency_key_is_valid(req->idempotency_key)) {
		problem_write(res, 400, "invalid_idempotency_key",
		    "Idempotency-Key must be 1 to 255 printable ASCII characters");
		return -1;
	}
	return 0;
}

int http_request_parse(struct request *req, http_param_fn get, void *ctx,
    struct response *res)
{
	const char *method = get("REQUEST_METHOD", ctx);
	const char *query = get("QUERY_STRING", ctx);
	const char *role = get("FCGI_ROLE", ctx);

	req->started_us = clock_us();
	http_pick_request_id(req, get, ctx);
	snprintf(req->method_name, sizeof(req->method_name), "%s",
	    method != NULL ? method : "-");
	req->method = http_method_parse(req->method_name);
	req->query = xstrdup(query != NULL ? query : "");
	/*
	 * libfcgi serves the AUTHORIZER and FILTER roles too (FastCGI 1.0
	 * section 6); stockade only responds, and must not run a request
	 * whose answer the peer reads as something else.
	 */
	if (role != NULL && strcmp(role, "RESPONDER") != 0) {
		problem_write(res, 400, "bad_request",
		    "only the FastCGI RESPONDER role is served");
		return -1;
	}
	if (strlen(req->query) > HTTP_QUERY_MAX) {
		problem_write(res, 414, "uri_too_long",
		    "the query string is too long");
		return -1;
	}
	if (http_parse_path(req, get, ctx, res) < 0)
		return -1;
	req->wants_text = http_wants_text(get("HTTP_ACCEPT", ctx));
	return http_parse_headers(req, get, ctx, res);
}

/*
 * Strict decimal Content-Length (RFC 9110 section 8.6: 1*DIGIT, so no sign
 * and no white space); -1 if invalid.
 */
static int64_t http_parse_length(const char *s)
{
	int64_t v;

	/* nginx sends an empty CONTENT_LENGTH for requests without a body. */
	if (s == NULL || *s == '\0')
		return 0;
	return num_parse(s, 0, INT64_MAX, &v) == 0 ? v : -1;
}

int http_request_read_body(struct request *req, const char *content_length,
    size_t max_body, http_read_fn read, void *ctx, struct response *res)
{
	int64_t len = http_parse_length(content_length);
	size_t got;

	if (len < 0) {
		problem_write(res, 400, "bad_request",
		    "Content-Length is not a decimal number");
		return -1;
	}
	if ((uint64_t)len > max_body) {
		problem_write(res, 413, "payload_too_large",
		    "the body is larger than the configured max_body");
		return -1;
	}
	req->body = xmalloc((size_t)len + 1);
	got = len > 0 ? read(ctx, req->body, (size_t)len) : 0;
	req->body[got] = '\0';
	req->body_len = got;
	if (got != (size_t)len) {
		problem_write(res, 400, "incomplete_body",
		    "the body is shorter than its Content-Length");
		return -1;
	}
	return 0;
}

void response_init(struct response *res)
{
	memset(res, 0, sizeof(*res));
	res->json = json_writer_create();
	response_reset(res);
}

void response_free(struct response *res)
{
	json_writer_free(res->json);
	res->json = NULL;
	free(res->text);
	res->text = NULL;
	res->text_len = res->text_cap = 0;
}

void response_reset(struct response *res)
{
	json_writer_reset(res->json);
	res->status = 500;
	res->content_type = "application/json";
	res->headers[0] = '\0';
	res->headers_len = 0;
	res->code = NULL;
	res->replayed = 0;
	res->is_text = 0;
	res->text_len = 0;
}

struct json_writer *response_json(struct response *res, int status)
{
	json_writer_reset(res->json);
	res->status = status;
	res->content_type = "application/json";
	res->code = NULL;
	res->is_text = 0;
	return res->json;
}

void response_text(struct response *res, int status, const char *content_type)
{
	json_writer_reset(res->json);
	res->status = status;
	res->content_type = content_type;
	res->code = NULL;
	res->is_text = 1;
	res->text_len = 0;
}

void response_printf(struct response *res, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = res->text_cap - res->text_len;

		va_start(ap, fmt);
		n = vsnprintf(res->text + res->text_len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			log_error("response text dropped: bad format");
			return;
		}
		if ((size_t)n < room)
			break;
		/* Grows geometrically; the buffer stays for the next
		 * response, so a worker pays for it once. */
		res->text_cap = res->text_cap * 2 + (size_t)n + 256;
		res->text = xrealloc(res->text, res->text_cap, 1);
	}
	res->text_len += (size_t)n;
}

void response_header(struct response *res, const char *name, const char *fmt,
    ...)
{
	char value[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(value) || strpbrk(value, "\r\n")) {
		log_error("response header %s dropped: bad or long value",
		    name);
		return;
	}
	n = snprintf(res->headers + res->headers_len,
	    sizeof(res->headers) - res->headers_len, "%s: %s\r\n", name, value);
	if (n < 0 || (size_t)n >= sizeof(res->headers) - res->headers_len) {
		res->headers[res->headers_len] = '\0';
		log_error("response header %s dropped: no room", name);
		return;
	}
	res->headers_len += (size_t)n;
}

size_t http_response_render(const struct request *req, struct response *res,
    char **out)
{
	const char *body;
	size_t body_len;
	char *head;
	size_t head_len, total;

	if (res->is_text) {
		body = res->text != NULL ? res->text : "";
		body_len = res->text_len;
	} else if (json_writer_result(res->json, &body, &body_len) < 0) {
		log_error("response body for %s could not be encoded",
		    req->request_id);
		problem_write(res, 500, "internal_error",
		    "the response could not be encoded");
		if (res->is_text) {
			body = res->text != NULL ? res->text : "";
			body_len = res->text_len;
		} else if (json_writer_result(res->json, &body, &body_len) <
		    0) {
			body = "";
			body_len = 0;
		}
	}
	head = xasprintf("Status: %d %s\r\nContent-Type: %s\r\n"
	                 "Content-Length: %zu\r\nCache-Control: no-store\r\n"
	                 "X-Request-Id: %s\r\n%s\r\n",
	    res->status, http_reason(res->status), res->content_type, body_len,
	    req->request_id, res->headers);
	head_len = strlen(head);
	/* HEAD: the GET's headers, Content-Length included, and no body. */
	if (req->method == HTTP_HEAD)
		body_len = 0;
	total = head_len + body_len;
	*out = xrealloc(head, total + 1, 1);
	memcpy(*out + head_len, body, body_len);
	(*out)[total] = '\0';
	return total;
}

struct json_writer *problem_begin(struct response *res, int status,
    const char *code, const char *detail)
{
	struct json_writer *w = res->json;
	char type[128];

	json_writer_reset(w);
	res->status = status;
	res->content_type = "application/problem+json";
	res->code = code;
	res->is_text = 0;
	snprintf(type, sizeof(type), "urn:stockade:problem:%s", code);
	json_open_object(w);
	json_member_string(w, "type", type);
	json_member_string(w, "title", http_reason(status));
	json_member_int(w, "status", status);
	json_member_string(w, "detail", detail);
	json_member_string(w, "code", code);
	return w;
}

void problem_end(struct response *res)
{
	json_close_object(res->json);
}

void problem_write(struct response *res, int status, const char *code,
    const char *detail)
{
	problem_begin(res, status, code, detail);
	problem_end(res);
}
