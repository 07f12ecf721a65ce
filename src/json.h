/*
 * json: bounded JSON parsing into a small typed tree, and a JSON writer.
 *
 * Request bodies come from strangers, so the parser (built on yajl's event
 * interface) enforces limits on nesting depth, string length and member
 * counts, refuses duplicate object keys and text that is not well-formed UTF-8
 * or escapes a lone surrogate, and classifies numbers while it still
 * has their text: a JSON_INT is an integer that fits int64_t exactly; every
 * other number (1.5, 1e3, 2^63) is a JSON_NUMBER that integer fields reject.
 * The parser returns NULL with a message instead of dying, so tests and
 * fuzzers reach every failure path.  The writer wraps yajl_gen and remembers
 * its first failure, so callers can emit a whole document and check once.
 */
#ifndef STOCKADE_JSON_H
#define STOCKADE_JSON_H

#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL,
	JSON_BOOL,
	JSON_INT,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
	JSON_TYPE__MAX
};

extern const char *const json_type_names[JSON_TYPE__MAX];

struct json_member;

struct json_value {
	enum json_type type;
	union {
		int boolean;
		int64_t integer;
		struct {
			char *ptr; /* NUL-terminated; len excludes it */
			size_t len;
		} string;
		struct {
			struct json_value **items;
			size_t len;
		} array;
		struct {
			struct json_member *members;
			size_t len;
		} object;
	} u;
};

struct json_member {
	char *key;
	struct json_value *value;
};

struct json_limits {
	unsigned max_depth; /* containers nested deeper are refused */
	size_t max_string; /* bytes in one string or key */
	size_t max_members; /* values in one array or object */
};

/* Limits used for request bodies: depth 16, strings 4 KiB, 1000 members. */
extern const struct json_limits json_default_limits;

/*
 * Parses text (len bytes, need not be NUL-terminated) as exactly one JSON
 * value.  Returns the tree, owned by the caller (json_free), or NULL with a
 * short reason in err.
 */
struct json_value *json_parse(const char *text, size_t len,
    const struct json_limits *limits, char *err, size_t errlen);
void json_free(struct json_value *v); /* accepts NULL */

/* The member named key of an object, or NULL (also when v is no object). */
const struct json_value *json_get(const struct json_value *v, const char *key);

struct json_writer;

/* A writer for one document; never NULL.  Free with json_writer_free. */
struct json_writer *json_writer_create(void);
void json_writer_free(struct json_writer *w); /* accepts NULL */
/* Discards what was written so far, to start another document. */
void json_writer_reset(struct json_writer *w);
/* The document so far (owned by the writer; "" before the first value).
 * Returns 0, or -1 if any call failed. */
int json_writer_result(struct json_writer *w, const char **buf, size_t *len);

void json_open_object(struct json_writer *w);
void json_close_object(struct json_writer *w);
void json_open_array(struct json_writer *w);
void json_close_array(struct json_writer *w);
void json_write_string(struct json_writer *w, const char *s);
void json_write_stringn(struct json_writer *w, const char *s, size_t len);
void json_write_int(struct json_writer *w, int64_t v);
void json_write_bool(struct json_writer *w, int v);
void json_write_null(struct json_writer *w);
/*
 * Writes text verbatim as one value.  Only for JSON built by PostgreSQL's
 * json_build_object/json_agg, valid by construction: yajl cannot check it
 * (it goes out through yajl_gen_number, which copies its text as is).
 */
void json_write_raw(struct json_writer *w, const char *text, size_t len);
/* Shorthands for one object member. */
void json_key(struct json_writer *w, const char *key);
void json_member_string(struct json_writer *w, const char *key, const char *s);
void json_member_int(struct json_writer *w, const char *key, int64_t v);
void json_member_bool(struct json_writer *w, const char *key, int v);

#endif
