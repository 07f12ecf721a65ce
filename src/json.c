/*
 * json: see json.h.  The parser drives yajl's callback interface and builds
 * the tree itself, so that every limit is checked before memory is spent on
 * the value that would break it.
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "log.h"
#include "utf8.h"
#include "num.h"
#include "xmalloc.h"

#define JSON_DEPTH_HARD_MAX 64

const char *const json_type_names[JSON_TYPE__MAX] = {
	"null",
	"boolean",
	"integer",
	"number",
	"string",
	"array",
	"object",
};

const struct json_limits json_default_limits = {
	.max_depth = 16,
	.max_string = 4096,
	.max_members = 1000,
};

struct json_builder {
	const struct json_limits *limits;
	struct json_value *root;
	struct json_value *stack[JSON_DEPTH_HARD_MAX];
	unsigned depth;
	char *pending_key;
	char err[128];
};

static int json_fail(struct json_builder *b, const char *why)
{
	if (b->err[0] == '\0')
		snprintf(b->err, sizeof(b->err), "%s", why);
	return 0;
}

static struct json_value *json_new(enum json_type type)
{
	struct json_value *v;

	if ((v = calloc(1, sizeof(*v))) != NULL)
		v->type = type;
	return v;
}

static char *json_copy_text(const unsigned char *s, size_t len)
{
	char *p;

	if ((p = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Grows *items (of *len elements of size each) by one slot; 0 or -1. */
static int json_grow(void **items, size_t len, size_t size)
{
	void *p;

	/* Double at powers of two, so appends stay amortised O(1). */
	if (len != 0 && (len & (len - 1)) != 0)
		return 0;
	if ((p = realloc(*items, (len == 0 ? 1 : len * 2) * size)) == NULL)
		return -1;
	*items = p;
	return 0;
}

static int json_object_add(struct json_builder *b, struct json_value *obj,
    struct json_value *v)
{
	size_t n = obj->u.object.len;
	struct json_member *m;

	if (b->pending_key == NULL)
		return json_fail(b, "internal: value without a key");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(obj->u.object.members[i].key, b->pending_key) == 0)
			return json_fail(b, "duplicate object key");
	}
	if (json_grow((void **)&obj->u.object.members, n, sizeof(*m)) < 0)
		return json_fail(b, "out of memory");
	m = &obj->u.object.members[n];
	m->key = b->pending_key;
	m->value = v;
	b->pending_key = NULL;
	obj->u.object.len = n + 1;
	return 1;
}

static int json_array_add(struct json_builder *b, struct json_value *arr,
    struct json_value *v)
{
	size_t n = arr->u.array.len;

	if (json_grow((void **)&arr->u.array.items, n, sizeof(v)) < 0)
		return json_fail(b, "out of memory");
	arr->u.array.items[n] = v;
	arr->u.array.len = n + 1;
	return 1;
}

/*
 * Hangs v under the innermost open container (or makes it the root).  On
 * failure v is freed here, so callbacks never leak a detached value.
 */
static int json_attach(struct json_builder *b, struct json_value *v)
{
	struct json_value *parent;
	size_t count;
	int ok;

	if (v == NULL)
		return json_fail(b, "out of memory");
	if (b->depth == 0) {
		b->root = v;
		return 1;
	}
	parent = b->stack[b->depth - 1];
	count = parent->type == JSON_ARRAY ? parent->u.array.len
	                                   : parent->u.object.len;
	if (count >= b->limits->max_members) {
		json_free(v);
		return json_fail(b, "too many members in one array or object");
	}
	ok = parent->type == JSON_ARRAY ? json_array_add(b, parent, v)
	                                : json_object_add(b, parent, v);
	if (!ok)
		json_free(v);
	return ok;
}

static int json_cb_null(void *ctx)
{
	return json_attach(ctx, json_new(JSON_NULL));
}

static int json_cb_boolean(void *ctx, int value)
{
	struct json_value *v = json_new(JSON_BOOL);

	if (v != NULL)
		v->u.boolean = value != 0;
	return json_attach(ctx, v);
}

/*
 * Accepts only -?(0|[1-9][0-9]*) that fits int64_t: yajl has already checked
 * the JSON number grammar (no leading zero, no '+'), and num_parse_n refuses
 * a fraction or an exponent and any value past int64_t, so 1.5, 1e3 and 2^63
 * stay JSON_NUMBER.  Returns 1 and sets *out, or 0.
 */
static int json_number_is_int64(const char *s, size_t len, int64_t *out)
{
	return num_parse_n(s, len, INT64_MIN, INT64_MAX, out) == 0;
}

static int json_cb_number(void *ctx, const char *s, size_t len)
{
	struct json_value *v = json_new(JSON_NUMBER);

	if (v != NULL && json_number_is_int64(s, len, &v->u.integer))
		v->type = JSON_INT;
	return json_attach(ctx, v);
}

static int json_cb_string(void *ctx, const unsigned char *s, size_t len)
{
	struct json_builder *b = ctx;
	struct json_value *v;

	if (len > b->limits->max_string)
		return json_fail(b, "string too long");
	if (memchr(s, '\0', len) != NULL)
		return json_fail(b, "string contains a NUL character");
	if ((v = json_new(JSON_STRING)) == NULL)
		return json_fail(b, "out of memory");
	if ((v->u.string.ptr = json_copy_text(s, len)) == NULL) {
		free(v);
		return json_fail(b, "out of memory");
	}
	v->u.string.len = len;
	return json_attach(b, v);
}

static int json_cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
	struct json_builder *b = ctx;

	if (len > b->limits->max_string)
		return json_fail(b, "object key too long");
	if (memchr(s, '\0', len) != NULL)
		return json_fail(b, "object key contains a NUL character");
	free(b->pending_key);
	if ((b->pending_key = json_copy_text(s, len)) == NULL)
		return json_fail(b, "out of memory");
	return 1;
}

static int json_open(struct json_builder *b, enum json_type type)
{
	struct json_value *v;

	if (b->depth >= b->limits->max_depth || b->depth >= JSON_DEPTH_HARD_MAX)
		return json_fail(b, "nested too deeply");
	if ((v = json_new(type)) == NULL)
		return json_fail(b, "out of memory");
	if (!json_attach(b, v))
		return 0;
	b->stack[b->depth++] = v;
	return 1;
}

static int json_cb_start_map(void *ctx)
{
	return json_open(ctx, JSON_OBJECT);
}

static int json_cb_start_array(void *ctx)
{
	return json_open(ctx, JSON_ARRAY);
}

static int json_cb_close(void *ctx)
{
	struct json_builder *b = ctx;

	b->depth--;
	return 1;
}

static const yajl_callbacks json_callbacks = {
	.yajl_null = json_cb_null,
	.yajl_boolean = json_cb_boolean,
	.yajl_number = json_cb_number,
	.yajl_string = json_cb_string,
	.yajl_start_map = json_cb_start_map,
	.yajl_map_key = json_cb_map_key,
	.yajl_end_map = json_cb_close,
	.yajl_start_array = json_cb_start_array,
	.yajl_end_array = json_cb_close,
};

/* The code unit of a \uXXXX escape at s (n bytes left), or -1. */
static long json_escape_unit(const unsigned char *s, size_t n)
{
	long unit = 0;

	if (n < 6 || s[0] != '\\' || s[1] != 'u')
		return -1;
	for (size_t i = 2; i < 6; i++) {
		int c = s[i];

		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			return -1;
		unit = unit * 16 + c;
	}
	return unit;
}

/*
 * Length of the escape at s (n bytes left, s[0] is a backslash), or 0 for a
 * \u escape of a lone surrogate: a high one not followed by a low one, or a
 * low one alone.  yajl would decode the first to '?' or to a made-up pair
 * (\ud800\u0041 to U+10041) and the second to invalid UTF-8 (RFC 8259
 * section 8.2 leaves both to the parser).
 */
static size_t json_escape_len(const unsigned char *s, size_t n)
{
	long unit = json_escape_unit(s, n), low;

	if (unit < 0)
		return n < 2 ? 0 : 2; /* \n, \", \\ and the like */
	if (unit >= 0xdc00 && unit <= 0xdfff)
		return 0;
	if (unit < 0xd800 || unit > 0xdbff)
		return 6;
	low = json_escape_unit(s + 6, n - 6);
	return low >= 0xdc00 && low <= 0xdfff ? 12 : 0;
}

/*
 * 1 if text, which yajl has accepted as JSON (so a backslash occurs only
 * inside a string, starting an escape), is well-formed UTF-8 and escapes no
 * lone surrogate; else 0.  Every string and key is then valid UTF-8 once
 * decoded, as RFC 8259 section 8.1 requires and PostgreSQL insists.
 */
static int json_text_is_unicode(const unsigned char *s, size_t len)
{
	size_t i = 0, step;

	while (i < len) {
		if (s[i] == '\\')
			step = json_escape_len(s + i, len - i);
		else
			step = utf8_char_len(s + i, len - i);
		if (step == 0)
			return 0;
		i += step;
	}
	return 1;
}

/* Copies yajl's own description of a syntax error into b->err. */
static void json_syntax_error(struct json_builder *b, yajl_handle h,
    const char *text, size_t len)
{
	unsigned char *msg;
	size_t n;

	if (b->err[0] != '\0')
		return;
	msg = yajl_get_error(h, 0, (const unsigned char *)text, len);
	if (msg == NULL) {
		json_fail(b, "malformed JSON");
		return;
	}
	snprintf(b->err, sizeof(b->err), "%s", (const char *)msg);
	n = strlen(b->err);
	while (n > 0 && (b->err[n - 1] == '\n' || b->err[n - 1] == ' '))
		b->err[--n] = '\0';
	yajl_free_error(h, msg);
}

/*
 * 1 if text, which yajl has accepted as JSON, holds a vertical tab or a
 * form feed.  yajl skips both as white space, but RFC 8259 section 2 allows
 * only space, tab, LF and CR; and yajl refuses them raw inside a string, so
 * any found here stood between two tokens.
 */
static int json_text_has_odd_space(const char *s, size_t len)
{
	return memchr(s, '\v', len) != NULL || memchr(s, '\f', len) != NULL;
}

struct json_value *json_parse(const char *text, size_t len,
    const struct json_limits *limits, char *err, size_t errlen)
{
	struct json_builder b;
	yajl_handle h;
	yajl_status st;

	memset(&b, 0, sizeof(b));
	b.limits = limits != NULL ? limits : &json_default_limits;
	if ((h = yajl_alloc(&json_callbacks, NULL, &b)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	st = yajl_parse(h, (const unsigned char *)text, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok || b.root == NULL) {
		json_syntax_error(&b, h, text, len);
		snprintf(err, errlen, "%s", b.err[0] ? b.err : "empty body");
		json_free(b.root);
		b.root = NULL;
	} else if (!json_text_is_unicode((const unsigned char *)text, len)) {
		snprintf(err, errlen,
		    "not valid UTF-8 (or a \\u escape of a lone surrogate)");
		json_free(b.root);
		b.root = NULL;
	} else if (json_text_has_odd_space(text, len)) {
		snprintf(err, errlen,
		    "white space other than space, tab, CR and LF");
		json_free(b.root);
		b.root = NULL;
	}
	free(b.pending_key);
	yajl_free(h);
	return b.root;
}

void json_free(struct json_value *v)
{
	if (v == NULL)
		return;
	switch (v->type) {
	case JSON_STRING:
		free(v->u.string.ptr);
		break;
	case JSON_ARRAY:
		for (size_t i = 0; i < v->u.array.len; i++)
			json_free(v->u.array.items[i]);
		free(v->u.array.items);
		break;
	case JSON_OBJECT:
		for (size_t i = 0; i < v->u.object.len; i++) {
			free(v->u.object.members[i].key);
			json_free(v->u.object.members[i].value);
		}
		free(v->u.object.members);
		break;
	default:
		break;
	}
	free(v);
}

const struct json_value *json_get(const struct json_value *v, const char *key)
{
	if (v == NULL || v->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->u.object.len; i++) {
		if (strcmp(v->u.object.members[i].key, key) == 0)
			return v->u.object.members[i].value;
	}
	return NULL;
}

struct json_writer {
	yajl_gen gen;
	int failed;
};

struct json_writer *json_writer_create(void)
{
	struct json_writer *w = xcalloc(1, sizeof(*w));

	if ((w->gen = yajl_gen_alloc(NULL)) == NULL)
		fatal("yajl_gen_alloc: out of memory");
	/* Bad UTF-8 from the database must fail loudly, not reach a client. */
	yajl_gen_config(w->gen, yajl_gen_validate_utf8, 1);
	return w;
}

void json_writer_free(struct json_writer *w)
{
	if (w == NULL)
		return;
	yajl_gen_free(w->gen);
	free(w);
}

void json_writer_reset(struct json_writer *w)
{
	yajl_gen_reset(w->gen, NULL);
	yajl_gen_clear(w->gen);
	w->failed = 0;
}

int json_writer_result(struct json_writer *w, const char **buf, size_t *len)
{
	const unsigned char *p;

	if (w->failed ||
	    yajl_gen_get_buf(w->gen, &p, len) != yajl_gen_status_ok)
		return -1;
	/* yajl has no buffer before the first value: "", never NULL, so that
	 * callers may memcpy or print it (found by t/fuzz/fuzz_cgi). */
	*buf = p != NULL ? (const char *)p : "";
	return 0;
}

static void json_check(struct json_writer *w, yajl_gen_status st)
{
	if (st != yajl_gen_status_ok)
		w->failed = 1;
}

void json_open_object(struct json_writer *w)
{
	json_check(w, yajl_gen_map_open(w->gen));
}

void json_close_object(struct json_writer *w)
{
	json_check(w, yajl_gen_map_close(w->gen));
}

void json_open_array(struct json_writer *w)
{
	json_check(w, yajl_gen_array_open(w->gen));
}

void json_close_array(struct json_writer *w)
{
	json_check(w, yajl_gen_array_close(w->gen));
}

void json_write_stringn(struct json_writer *w, const char *s, size_t len)
{
	json_check(w, yajl_gen_string(w->gen, (const unsigned char *)s, len));
}

void json_write_string(struct json_writer *w, const char *s)
{
	json_write_stringn(w, s, strlen(s));
}

void json_write_int(struct json_writer *w, int64_t v)
{
	json_check(w, yajl_gen_integer(w->gen, (long long)v));
}

void json_write_raw(struct json_writer *w, const char *text, size_t len)
{
	if (len == 0) {
		w->failed = 1;
		return;
	}
	json_check(w, yajl_gen_number(w->gen, text, len));
}

void json_write_bool(struct json_writer *w, int v)
{
	json_check(w, yajl_gen_bool(w->gen, v != 0));
}

void json_write_null(struct json_writer *w)
{
	json_check(w, yajl_gen_null(w->gen));
}

void json_key(struct json_writer *w, const char *key)
{
	json_write_string(w, key);
}

void json_member_string(struct json_writer *w, const char *key, const char *s)
{
	json_key(w, key);
	json_write_string(w, s);
}

void json_member_int(struct json_writer *w, const char *key, int64_t v)
{
	json_key(w, key);
	json_write_int(w, v);
}

void json_member_bool(struct json_writer *w, const char *key, int v)
{
	json_key(w, key);
	json_write_bool(w, v);
}
