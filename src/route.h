/*
 * route: the table of endpoints and the dispatch of one request to its
 * handler.  A route is a method, a path pattern whose `{id}` segments are
 * positive 64-bit integers, the handler, and what the request must bring:
 * a token, the admin role, a JSON body.  route_serve answers 404, 405 (with
 * Allow), 401, 403, 415 and 400 itself, so handlers only ever see requests
 * that passed those checks.
 */
#ifndef STOCKADE_ROUTE_H
#define STOCKADE_ROUTE_H

#include <stddef.h>

#include "app.h"
#include "http.h"

#define ROUTE_AUTH 0x1 /* a valid bearer token is required */
#define ROUTE_ADMIN 0x2 /* ... with role admin (implies ROUTE_AUTH) */
#define ROUTE_BODY 0x4 /* a JSON object body is required */
#define ROUTE_BODY_OPTIONAL 0x8 /* a body, if any, is a JSON object */
/* ROUTE_ADMIN unless the operator set status_public = on (/status) */
#define ROUTE_ADMIN_UNLESS_PUBLIC 0x10
/* ROUTE_ADMIN unless the operator set metrics_public = on (/metrics) */
#define ROUTE_ADMIN_UNLESS_METRICS_PUBLIC 0x20

typedef void (
    *route_handler)(struct request *req, struct response *res, struct app *app);

struct route {
	enum http_method method;
	const char *pattern;
	route_handler handler;
	unsigned flags;
	const char *name; /* for metrics and logs */
};

enum route_result {
	ROUTE_FOUND,
	ROUTE_NOT_FOUND,
	ROUTE_METHOD_NOT_ALLOWED,
	ROUTE_RESULT__MAX
};

/*
 * Matches method and path against table (n routes).  On ROUTE_FOUND sets
 * *found and fills params/nparams; on ROUTE_METHOD_NOT_ALLOWED writes the
 * methods the path does accept into allow ("GET, POST").
 */
enum route_result route_match(const struct route *table, size_t n,
    enum http_method method, const char *path, const struct route **found,
    int64_t *params, size_t *nparams, char *allow, size_t allowlen);

/* Parses one path segment as an id: 1..INT64_MAX, digits only. 0 or -1. */
int route_parse_id(const char *s, size_t len, int64_t *out);

/*
 * Routes req through stockade's table and runs its handler; sets
 * req->route to the index of the route that matched.
 */
void route_serve(struct request *req, struct response *res, struct app *app);

/* The table route_serve uses, for tests. */
extern const struct route route_table[];
extern const size_t route_table_len;

/* The name of route i of the table ("order_create"), NULL when out of it. */
const char *route_name(int i);

#endif
