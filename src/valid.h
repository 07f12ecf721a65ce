/*
 * valid: typed, bounded reading of request fields, in the spirit of kcgi's
 * struct kvalid.  Every accepted field is read through one of these with its
 * bounds; on failure the function writes a 400 problem naming the field and
 * the rule (code missing_field or invalid_field) and returns -1, so a
 * handler reads like a list of declarations and stops at the first -1.
 * Integers must be JSON integers: 1.5, "1" and 2^63 are refused.
 */
#ifndef STOCKADE_VALID_H
#define STOCKADE_VALID_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "json.h"

#define VALID_REQUIRED 1
#define VALID_OPTIONAL 0

/*
 * Reads obj.field as an integer in [min, max].  When the field is absent:
 * VALID_OPTIONAL stores dflt, VALID_REQUIRED fails.  Returns 0 or -1.
 */
int valid_int(struct response *res, const struct json_value *obj,
    const char *field, int required, int64_t min, int64_t max, int64_t dflt,
    int64_t *out);

/*
 * Reads obj.field as a string of minlen..maxlen bytes without control
 * characters; *out points into obj (NULL when optional and absent).
 */
int valid_string(struct response *res, const struct json_value *obj,
    const char *field, int required, size_t minlen, size_t maxlen,
    const char **out);

/*
 * Returns 1 if s is an RFC 3339 date-time PostgreSQL takes as it is:
 * YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), year 1970..9999, a real
 * day of its month, no leap second, offset at most 14 hours, "T" or " ".
 */
int valid_rfc3339(const char *s);

/* Reads obj.field as an RFC 3339 date-time string (valid_rfc3339). */
int valid_timestamp(struct response *res, const struct json_value *obj,
    const char *field, int required, const char **out);

/* Reads obj.field as an array of min..max items; *out points into obj. */
int valid_array(struct response *res, const struct json_value *obj,
    const char *field, size_t min, size_t max, const struct json_value **out);

/* Refuses members of obj not named in allowed (NULL-terminated). */
int valid_known_fields(struct response *res, const struct json_value *obj,
    const char *const *allowed);

/* Reads query parameter name as an integer in [min, max], else dflt. */
int valid_query_int(struct response *res, const struct request *req,
    const char *name, int64_t min, int64_t max, int64_t dflt, int64_t *out);

#endif
