/*
 * http: the request and response of one FastCGI exchange, as plain data.
 *
 * The worker fills a struct request from the FastCGI parameters and body
 * (http_read_fcgi), the router and handlers read it and fill a struct
 * response, and http_write_fcgi sends that back.  Everything a stranger sends
 * is bounded and checked here: path and query length, percent-escapes,
 * Content-Length against max_body, header formats.  Nothing below this layer
 * touches libfcgi.
 */
#ifndef STOCKADE_HTTP_H
#define STOCKADE_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "json.h"

#define HTTP_PATH_MAX 1024
#define HTTP_QUERY_MAX 2048
#define HTTP_REQUEST_ID_MAX 64
#define HTTP_IDEMPOTENCY_KEY_MAX 255
#define HTTP_HEADER_VALUE_MAX 8192
#define HTTP_PARAMS_MAX 4
#define HTTP_HEADERS_MAX 1024

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
	HTTP_OPTIONS,
	HTTP_METHOD__MAX /* also "a method we do not know" */
};

extern const char *const http_method_names[HTTP_METHOD__MAX];

struct request {
	enum http_method method;
	char method_name[16]; /* as sent, for logs (escaped) */
	char path[HTTP_PATH_MAX]; /* percent-decoded, no query */
	char *query; /* raw query string, never NULL */
	char *authorization; /* header values or NULL */
	char *content_type;
	char *idempotency_key; /* validated: 1..255 of 0x21-0x7e */
	char request_id[HTTP_REQUEST_ID_MAX + 1];
	char *body; /* NUL-terminated, body_len bytes */
	size_t body_len;
	struct json_value *json; /* parsed body, set by the router */
	int64_t params[HTTP_PARAMS_MAX]; /* path parameters, in order */
	size_t nparams;
	struct auth_identity identity; /* valid when authenticated */
	int authenticated;
	int64_t started_us; /* monotonic, for the access log */
	int route; /* the route table's index, set by the router; -1: none */
	int wants_text; /* Accept names text/plain first (http_wants_text) */
};

struct response {
	int status;
	const char *content_type; /* a static string */
	char headers[HTTP_HEADERS_MAX]; /* extra "Name: value\r\n" lines */
	size_t headers_len;
	struct json_writer *json; /* the body */
	const char *code; /* problem code, for the access log */
	int replayed; /* a stored answer to an Idempotency-Key, sent again */
	/* A text body (response_text) instead of the JSON one; the buffer
	 * is kept from request to request, like the writer. */
	int is_text;
	char *text;
	size_t text_len, text_cap;
};

/* Parses an HTTP method name; HTTP_METHOD__MAX if unknown. */
enum http_method http_method_parse(const char *name);
/* The reason phrase for a status code ("Not Found"); never NULL. */
const char *http_reason(int status);

/*
 * Percent-decodes len bytes of src into dst (dstlen bytes, NUL-terminated).
 * With plus_is_space, '+' becomes ' ' (query strings, RFC 1866 forms).
 * Returns the decoded length, or -1 on a bad escape, an encoded NUL, or when
 * the result does not fit.
 */
ssize_t http_percent_decode(const char *src, size_t len, char *dst,
    size_t dstlen, int plus_is_space);

/*
 * Finds the query parameter name in query and decodes its value into out.
 * Returns 1 when found, 0 when absent, -1 when the query is malformed, the
 * value does not fit, or the name appears twice (ambiguous input is refused).
 */
int http_query_param(const char *query, const char *name, char *out,
    size_t outlen);

/*
 * Predicate: does an Accept header (NULL: none) ask for text/plain before
 * anything else?  Only its first media range counts ("text/plain",
 * "text/plain; q=1, text/html"): a client that lists JSON or anything first, or
 * sends none, gets the JSON every endpoint answers by default.
 */
int http_wants_text(const char *accept);

/* Accepts 1..64 bytes of [A-Za-z0-9._:-]; returns 1 or 0. */
int http_request_id_is_valid(const char *s);
/* Accepts 1..255 bytes of printable ASCII without space; returns 1 or 0. */
int http_idempotency_key_is_valid(const char *s);

/*
 * Writes "METHOD PATH" into dst (dstlen bytes) for the scoreboard, both
 * escaped as log_escape does (control bytes, bytes >= 0x80, '"' and '\\' as
 * \xNN), so that what /status copies into JSON is always plain ASCII,
 * whatever a client sent.  Long values end in "...".
 */
void http_request_describe(char *dst, size_t dstlen, const char *method,
    const char *path);

/* Zeroes a request; request_reset frees what it owns and zeroes it again. */
void request_init(struct request *req);
void request_reset(struct request *req);

/*
 * Fills req from FastCGI-style parameters, fetched through get(name, ctx).
 * Returns 0, or -1 after writing a problem (400/414) into res.
 */
typedef const char *(*http_param_fn)(const char *name, void *ctx);
int http_request_parse(struct request *req, http_param_fn get, void *ctx,
    struct response *res);

/*
 * Reads the body announced by CONTENT_LENGTH through read(ctx, buf, n), which
 * returns the bytes read (short only at end of input).  Returns 0, or -1
 * after writing a problem (400 bad length or short body, 413 over max_body)
 * into res.
 */
typedef size_t (*http_read_fn)(void *ctx, char *buf, size_t n);
int http_request_read_body(struct request *req, const char *content_length,
    size_t max_body, http_read_fn read, void *ctx, struct response *res);

/* Creates the response's writer; response_free releases it. */
void response_init(struct response *res);
void response_free(struct response *res);
/* Forgets the previous request's response, keeping the writer. */
void response_reset(struct response *res);
/* Starts a JSON body with the given status; returns the writer to fill. */
struct json_writer *response_json(struct response *res, int status);
/*
 * Starts a text body (e.g. "text/plain; charset=utf-8", a static string)
 * with the given status, in place of the JSON one; response_printf appends
 * to it.
 */
void response_text(struct response *res, int status, const char *content_type);
void response_printf(struct response *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends a header line; values with CR or LF are dropped (and logged). */
void response_header(struct response *res, const char *name, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/*
 * Problem details (RFC 9457, application/problem+json), the one shape every
 * error of stockade takes: {"type","title","status","detail","code"}.
 * `code` is the stable, machine-readable name clients switch on; `type` is
 * derived from it (urn:stockade:problem:CODE); `title` is the status's
 * reason phrase; `detail` is a sentence for the human.  The code is kept on
 * the response as well, so the access log line can say which error a
 * request got.
 *
 * problem_write replaces res's body with a complete problem document;
 * problem_begin leaves the object open, so a caller can add its own members
 * (e.g. which option ran out) before problem_end().
 */
void problem_write(struct response *res, int status, const char *code,
    const char *detail);
struct json_writer *problem_begin(struct response *res, int status,
    const char *code, const char *detail);
void problem_end(struct response *res);

/*
 * Serialises res (status line, headers, body) into a new buffer owned by the
 * caller (free), as FastCGI's CGI-style response.  Returns the length.
 */
size_t http_response_render(const struct request *req, struct response *res,
    char **out);

#endif
