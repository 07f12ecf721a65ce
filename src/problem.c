/*
 * problem: see problem.h.  The code is kept on the response as well, so the
 * access log line can say which error a request got.
 */
#include "problem.h"

#include <stdio.h>

struct json_writer *problem_begin(struct response *res, int status,
    const char *code, const char *detail)
{
	struct json_writer *w = res->json;
	char type[128];

	json_writer_reset(w);
	res->status = status;
	res->content_type = "application/problem+json";
	res->code = code;
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

void problem_from_db(struct response *res, enum db_status st, int retry_after_s)
{
	switch (st) {
	case DB_TIMEOUT:
		problem_write(res, 503, "database_timeout",
		    "the database did not answer in time; try again");
		break;
	case DB_UNAVAILABLE:
		problem_write(res, 503, "database_unavailable",
		    "the database is unreachable; try again");
		break;
	case DB_RETRY:
		problem_write(res, 503, "database_busy",
		    "the request kept conflicting with others; try again");
		break;
	default:
		problem_write(res, 500, "internal_error",
		    "the request failed on the server; it has been logged");
		return;
	}
	response_header(res, "Retry-After", "%d", retry_after_s);
}
