/*
 * valid: see valid.h.  Messages name the field and the rule in words a
 * client developer can act on: "quantity must be an integer from 1 to 1000".
 */
#include "valid.h"

#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "log.h"
#include "num.h"

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

/* Reads n digits at *p into *out; advances *p.  0 or -1. */
static int valid_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int valid_days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
		31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return days[month - 1] + (month == 2 && leap);
}

int valid_rfc3339(const char *s)
{
	const char *p = s;
	int year, month, day, hour, min, sec, oh, om, frac = 0;

	if (valid_digits(&p, 4, &year) < 0 || *p++ != '-' ||
	    valid_digits(&p, 2, &month) < 0 || *p++ != '-' ||
	    valid_digits(&p, 2, &day) < 0 || (*p != 'T' && *p != ' '))
		return 0;
	p++;
	if (valid_digits(&p, 2, &hour) < 0 || *p++ != ':' ||
	    valid_digits(&p, 2, &min) < 0 || *p++ != ':' ||
	    valid_digits(&p, 2, &sec) < 0)
		return 0;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			frac++;
		if (frac < 1 || frac > 9)
			return 0;
	}
	if (year < 1970 || month < 1 || month > 12 || day < 1 ||
	    day > valid_days_in_month(year, month) || hour > 23 || min > 59 ||
	    sec > 59)
		return 0;
	if (*p == 'Z')
		return p[1] == '\0';
	if (*p != '+' && *p != '-')
		return 0;
	p++;
	if (valid_digits(&p, 2, &oh) < 0 || *p++ != ':' ||
	    valid_digits(&p, 2, &om) < 0 || *p != '\0')
		return 0;
	return oh * 60 + om <= 14 * 60 && om <= 59;
}

int valid_timestamp(struct response *res, const struct json_value *obj,
    const char *field, int required, const char **out)
{
	if (valid_string(res, obj, field, required, 1, 40, out) < 0)
		return -1;
	if (*out != NULL && !valid_rfc3339(*out))
		return valid_fail(res, "invalid_field",
		    "%s must be an RFC 3339 date-time such as "
		    "2026-12-01T09:00:00Z",
		    field);
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
	char text[32];
	int found = http_query_param(req->query, name, text, sizeof(text));

	if (found == 0) {
		*out = dflt;
		return 0;
	}
	/* Decoded first: "%095" is a tab then 5, and is refused. */
	if (found < 0 || num_parse(text, min, max, out) < 0)
		return valid_fail(res, "invalid_parameter",
		    "query parameter %s must be an integer from %" PRId64
		    " to %" PRId64,
		    name, min, max);
	return 0;
}
