/*
 * route: see route.h.  The table is small and matched linearly: a few dozen
 * string compares cost far less than the database round trip every endpoint
 * makes, and a flat table is what a newcomer reads to learn the API.
 */
#include "route.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api_coupon.h"
#include "auth.h"
#include "config.h"
#include "log.h"
#include "num.h"
#include "api.h"
#include "api_order.h"
#include "api_point.h"
#include "api_product.h"
#include "api_status.h"
#include "api_system.h"

static void route_metrics(struct request *req, struct response *res,
    struct app *app);

const struct route route_table[] = {
	{ HTTP_GET, "/healthz", api_system_healthz, 0, "healthz" },
	{ HTTP_GET, "/readyz", api_system_readyz, 0, "readyz" },
	{ HTTP_GET, "/status", api_status_page, ROUTE_ADMIN_UNLESS_PUBLIC,
	    "status" },
	{ HTTP_GET, "/metrics", route_metrics,
	    ROUTE_ADMIN_UNLESS_METRICS_PUBLIC, "metrics" },
	{ HTTP_GET, "/api/v1/whoami", api_system_whoami, ROUTE_AUTH, "whoami" },
	{ HTTP_GET, "/api/v1/products", api_product_list, 0, "product_list" },
	{ HTTP_GET, "/api/v1/products/popular", api_product_popular, 0,
	    "product_popular" },
	{ HTTP_GET, "/api/v1/products/{id}", api_product_get, 0,
	    "product_get" },
	{ HTTP_POST, "/api/v1/admin/products", api_product_create,
	    ROUTE_ADMIN | ROUTE_BODY, "product_create" },
	{ HTTP_POST, "/api/v1/admin/options/{id}/restock", api_product_restock,
	    ROUTE_ADMIN | ROUTE_BODY, "product_restock" },
	{ HTTP_POST, "/api/v1/orders", api_order_create,
	    ROUTE_AUTH | ROUTE_BODY, "order_create" },
	{ HTTP_GET, "/api/v1/orders", api_order_list, ROUTE_AUTH,
	    "order_list" },
	{ HTTP_GET, "/api/v1/orders/{id}", api_order_get, ROUTE_AUTH,
	    "order_get" },
	{ HTTP_POST, "/api/v1/orders/{id}/pay", api_order_pay,
	    ROUTE_AUTH | ROUTE_BODY_OPTIONAL, "order_pay" },
	{ HTTP_POST, "/api/v1/orders/{id}/cancel", api_order_cancel, ROUTE_AUTH,
	    "order_cancel" },
	{ HTTP_GET, "/api/v1/points", api_point_balance, ROUTE_AUTH,
	    "point_balance" },
	{ HTTP_POST, "/api/v1/points/charge", api_point_charge,
	    ROUTE_AUTH | ROUTE_BODY, "point_charge" },
	{ HTTP_GET, "/api/v1/points/history", api_point_history, ROUTE_AUTH,
	    "point_history" },
	{ HTTP_POST, "/api/v1/admin/coupons", api_coupon_create,
	    ROUTE_ADMIN | ROUTE_BODY, "coupon_create" },
	{ HTTP_GET, "/api/v1/coupons/{id}", api_coupon_get, ROUTE_AUTH,
	    "coupon_get" },
	{ HTTP_POST, "/api/v1/coupons/{id}/issue", api_coupon_issue, ROUTE_AUTH,
	    "coupon_issue" },
	{ HTTP_GET, "/api/v1/me/coupons", api_coupon_list_mine, ROUTE_AUTH,
	    "coupon_list_mine" },
};
const size_t route_table_len = sizeof(route_table) / sizeof(route_table[0]);

const char *route_name(int i)
{
	return i >= 0 && (size_t)i < route_table_len ? route_table[i].name
	                                             : NULL;
}

/* GET /metrics, which labels its series with the table's names. */
static void route_metrics(struct request *req, struct response *res,
    struct app *app)
{
	api_status_metrics(req, res, app, route_name);
}

int route_parse_id(const char *s, size_t len, int64_t *out)
{
	/* One spelling per id, so "/orders/007" is not a second URL of 7. */
	if (len > 0 && s[0] == '0')
		return -1;
	return num_parse_n(s, len, 1, INT64_MAX, out);
}

/*
 * Compares one pattern with a path, segment by segment.  Returns 1 on a
 * match (params filled), 0 otherwise.
 */
static int route_path_matches(const char *pattern, const char *path,
    int64_t *params, size_t *nparams)
{
	size_t n = 0;

	while (*pattern != '\0' && *path != '\0') {
		size_t plen = strcspn(pattern + 1, "/") + 1;
		size_t slen = strcspn(path + 1, "/") + 1;

		if (pattern[0] != '/' || path[0] != '/')
			return 0;
		if (pattern[1] == '{') {
			if (n >= HTTP_PARAMS_MAX ||
			    route_parse_id(path + 1, slen - 1, &params[n]) < 0)
				return 0;
			n++;
		} else if (plen != slen || memcmp(pattern, path, plen) != 0) {
			return 0;
		}
		pattern += plen;
		path += slen;
	}
	if (*pattern != '\0' || *path != '\0')
		return 0;
	*nparams = n;
	return 1;
}

static void route_allow_add(char *allow, size_t allowlen, const char *method)
{
	size_t used = strlen(allow);

	if (strstr(allow, method) != NULL)
		return;
	/* Every GET route answers HEAD too (route_serve). */
	snprintf(allow + used, allowlen - used, "%s%s%s", used ? ", " : "",
	    method, strcmp(method, "GET") == 0 ? ", HEAD" : "");
}

enum route_result route_match(const struct route *table, size_t n,
    enum http_method method, const char *path, const struct route **found,
    int64_t *params, size_t *nparams, char *allow, size_t allowlen)
{
	enum route_result result = ROUTE_NOT_FOUND;
	int64_t scratch[HTTP_PARAMS_MAX];
	size_t nscratch;

	if (allowlen > 0)
		allow[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!route_path_matches(table[i].pattern, path, scratch,
		        &nscratch))
			continue;
		if (table[i].method == method) {
			*found = &table[i];
			memcpy(params, scratch, sizeof(scratch));
			*nparams = nscratch;
			return ROUTE_FOUND;
		}
		result = ROUTE_METHOD_NOT_ALLOWED;
		route_allow_add(allow, allowlen,
		    http_method_names[table[i].method]);
	}
	return result;
}

static int route_authenticate(struct request *req, struct response *res,
    const struct app *app, unsigned flags)
{
	enum auth_status st;

	st = auth_verify_header(req->authorization, app->secret,
	    app->secret_len, (int64_t)time(NULL), &req->identity);
	if (st != AUTH_OK) {
		problem_write(res, 401, "unauthorized",
		    auth_status_describe(st));
		/* RFC 6750 section 3: tell the client which scheme to use. */
		response_header(res, "WWW-Authenticate",
		    "Bearer realm=\"stockade\"%s",
		    st == AUTH_MISSING ? "" : ", error=\"invalid_token\"");
		return -1;
	}
	req->authenticated = 1;
	if ((flags & ROUTE_ADMIN) && req->identity.role != AUTH_ROLE_ADMIN) {
		problem_write(res, 403, "forbidden",
		    "this endpoint needs the admin role");
		return -1;
	}
	return 0;
}

/* application/json, optionally with parameters such as charset. */
static int route_is_json(const char *content_type)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	return content_type != NULL &&
	    strncasecmp(content_type, json, n) == 0 &&
	    (content_type[n] == '\0' || content_type[n] == ';' ||
	        content_type[n] == ' ');
}

static int route_parse_body(struct request *req, struct response *res)
{
	char err[128], detail[192];

	if (!route_is_json(req->content_type)) {
		problem_write(res, 415, "unsupported_media_type",
		    "the body must be sent as application/json");
		return -1;
	}
	req->json = json_parse(req->body, req->body_len, &json_default_limits,
	    err, sizeof(err));
	if (req->json == NULL) {
		snprintf(detail, sizeof(detail),
		    "the body is not valid JSON: %s", err);
		problem_write(res, 400, "malformed_json", detail);
		return -1;
	}
	if (req->json->type != JSON_OBJECT) {
		problem_write(res, 400, "invalid_body",
		    "the body must be a JSON object");
		return -1;
	}
	return 0;
}

/*
 * The route's flags for this server: /status lists every worker's request
 * (other users' order ids), and /metrics what the shop is doing, so each
 * needs the admin role unless the operator opted in to a public one (and
 * restricts it in nginx instead).
 */
static unsigned route_flags(const struct route *route, const struct app *app)
{
	unsigned flags = route->flags;

	if ((flags & ROUTE_ADMIN_UNLESS_PUBLIC) && !app->cfg->status_public)
		flags |= ROUTE_ADMIN;
	if ((flags & ROUTE_ADMIN_UNLESS_METRICS_PUBLIC) &&
	    !app->cfg->metrics_public)
		flags |= ROUTE_ADMIN;
	return flags;
}

void route_serve(struct request *req, struct response *res, struct app *app)
{
	const struct route *route = NULL;
	/* HEAD is GET without the body (RFC 9110 9.3.2): the writer drops it */
	enum http_method method =
	    req->method == HTTP_HEAD ? HTTP_GET : req->method;
	unsigned flags;
	char allow[64];

	switch (route_match(route_table, route_table_len, method, req->path,
	    &route, req->params, &req->nparams, allow, sizeof(allow))) {
	case ROUTE_FOUND:
		break;
	case ROUTE_METHOD_NOT_ALLOWED:
		problem_write(res, 405, "method_not_allowed",
		    "this resource does not accept that method");
		response_header(res, "Allow", "%s", allow);
		return;
	default:
		problem_write(res, 404, "not_found",
		    "there is no such resource");
		return;
	}
	req->route = (int)(route - route_table);
	flags = route_flags(route, app);
	if ((flags & (ROUTE_AUTH | ROUTE_ADMIN)) &&
	    route_authenticate(req, res, app, flags) < 0)
		return;
	if (((flags & ROUTE_BODY) ||
	        ((flags & ROUTE_BODY_OPTIONAL) && req->body_len > 0)) &&
	    route_parse_body(req, res) < 0)
		return;
	route->handler(req, res, app);
}
