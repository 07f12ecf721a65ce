/*
 * valid: see valid.h.  Messages name the field and the rule in words a
 * client developer can act on: "quantity must be an integer from 1 to 1000".
 */
#include "valid.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "problem.h"

static int valid_fail(struct response *res, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static int valid_fail(struct response *res, const char *code, const char *fmt,
    ...)
{
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	problem_write(res, 400, code, detail);
	return -1;
}

int valid_int(struct response *res, const struct json_value *obj,
    const char *field, int required, int64_t min, int64_t max, int64_t dflt,
    int64_t *out)
{
	const struct json_value *v = json_get(obj, field);

	if (v == NULL) {
		if (required)
			return valid_fail(res, "missing_field",
			    "%s is required", field);
		*out = dflt;
		return 0;
	}
	if (v->type != JSON_INT || v->u.integer < min || v->u.integer > max)
		return valid_fail(res, "invalid_field",
		    "%s must be an integer from %" PRId64 " to %" PRId64, field,
		    min, max);
	*out = v->u.integer;
	return 0;
}

static int valid_has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	}
	return 0;
}

int valid_string(struct response *res, const struct json_value *obj,
    const char *field, int required, size_t minlen, size_t maxlen,
    const char **out)
{
	const struct json_value *v = json_get(obj, field);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return valid_fail(res, "missing_field",
			    "%s is required", field);
		return 0;
	}
	if (v->type != JSON_STRING || v->u.string.len < minlen ||
	    v->u.string.len > maxlen ||
	    valid_has_control(v->u.string.ptr, v->u.string.len))
		return valid_fail(res, "invalid_field",
		    "%s must be a string of %zu to %zu bytes without control "
		    "characters",
		    field, minlen, maxlen);
	*out = v->u.string.ptr;
	return 0;
}

int valid_array(struct response *res, const struct json_value *obj,
    const char *field, size_t min, size_t max, const struct json_value **out)
{
	const struct json_value *v = json_get(obj, field);

	if (v == NULL)
		return valid_fail(res, "missing_field", "%s is required",
		    field);
	if (v->type != JSON_ARRAY || v->u.array.len < min ||
	    v->u.array.len > max)
		return valid_fail(res, "invalid_field",
		    "%s must be an array of %zu to %zu items", field, min, max);
	*out = v;
	return 0;
}

int valid_known_fields(struct response *res, const struct json_value *obj,
    const char *const *allowed)
{
	for (size_t i = 0; i < obj->u.object.len; i++) {
		const char *key = obj->u.object.members[i].key;
		size_t j;

		for (j = 0; allowed[j] != NULL; j++) {
			if (strcmp(key, allowed[j]) == 0)
				break;
		}
		if (allowed[j] == NULL) {
			char shown[64];

			log_escape(shown, sizeof(shown), key, strlen(key));
			return valid_fail(res, "unknown_field",
			    "unknown field \"%s\"", shown);
		}
	}
	return 0;
}

int valid_query_int(struct response *res, const struct request *req,
    const char *name, int64_t min, int64_t max, int64_t dflt, int64_t *out)
{
	char text[32], *end;
	long long v;
	int found = http_query_param(req->query, name, text, sizeof(text));

	if (found == 0) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	v = found > 0 ? strtoll(text, &end, 10) : 0;
	if (found < 0 || errno != 0 || end == text || *end != '\0' ||
	    text[0] == '+' || text[0] == ' ' || v < min || v > max)
		return valid_fail(res, "invalid_parameter",
		    "query parameter %s must be an integer from %" PRId64
		    " to %" PRId64,
		    name, min, max);
	*out = v;
	return 0;
}
