/*
 * config_dump: see config_dump.h.
 */
#include "config_dump.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "config_keys.h"

static int config_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Length of a conninfo value at s: 'quoted' (with \ escapes) or a word.
 * Text that sticks to the closing quote ('a'b) is counted in: libpq
 * refuses such a conninfo, but the operator may have meant it all as the
 * password, and it must be masked as one, also when a dump is dumped
 * again (t/fuzz/fuzz_config).
 */
static size_t config_conninfo_value_len(const char *s)
{
	static const char blanks[] = " \t\n\r\f\v";
	size_t i = 1;

	if (s[0] != '\'')
		return strcspn(s, blanks);
	while (s[i] != '\0' && s[i] != '\'')
		i += s[i] == '\\' && s[i + 1] != '\0' ? 2 : 1;
	if (s[i] != '\'')
		return i;
	return i + 1 + strcspn(s + i + 1, blanks);
}

/*
 * Where a URI's query begins: the index of its '?', the first after "://"
 * (an authority or a path holds none); SIZE_MAX without one.  A parameter
 * starts only after it: a "&password=" in the host is no parameter to
 * libpq, and masking it as one would change where the host ends when the
 * dump is read and dumped again (t/fuzz/fuzz_config found that).
 */
static size_t config_uri_query(const char *src)
{
	const char *q = strchr(strstr(src, "://") + 3, '?');

	return q != NULL ? (size_t)(q - src) : SIZE_MAX;
}

/*
 * Says whether a parameter may start at src[i]: after the query's '?' or
 * an '&' following it in a URI (query: config_uri_query), at the start or
 * after a blank in a conninfo (query unused).  Returns 1 or 0.
 */
static int config_param_start(const char *src, size_t i, int uri, size_t query)
{
	if (uri)
		return query != SIZE_MAX && i > query &&
		    (src[i - 1] == '?' || src[i - 1] == '&');
	return i == 0 || config_is_blank(src[i - 1]);
}

/*
 * If a password parameter starts at src[i] ("password=" or "sslpassword="
 * in a URI's query, the keyword in a conninfo), returns the length of its
 * value and sets *keylen to the length of the text before the value.
 * Returns 0 otherwise.  (sslpassword unlocks the client's key: as secret.)
 */
static size_t config_password_param(const char *src, size_t i, int uri,
    size_t query, size_t *keylen)
{
	const char *s = src + i, *v;

	if (!config_param_start(src, i, uri, query))
		return 0;
	if (strncmp(s, "password", 8) == 0)
		v = s + 8;
	else if (strncmp(s, "sslpassword", 11) == 0)
		v = s + 11;
	else
		return 0;
	while (!uri && config_is_blank(*v))
		v++;
	if (*v++ != '=')
		return 0;
	while (!uri && config_is_blank(*v))
		v++;
	*keylen = (size_t)(v - s);
	return uri ? strcspn(v, "&#") : config_conninfo_value_len(v);
}

/* Finds the password of a URI's "user:password@": sets [*from, *to). */
static void config_uri_password(const char *src, size_t *from, size_t *to)
{
	const char *auth = strstr(src, "://") + 3;
	size_t authlen = strcspn(auth, "/?#");
	const char *at = NULL, *colon;

	*from = *to = 0;
	for (const char *p = auth; p < auth + authlen; p++) {
		if (*p == '@')
			at = p;
	}
	if (at == NULL ||
	    (colon = memchr(auth, ':', (size_t)(at - auth))) == NULL)
		return;
	*from = (size_t)(colon + 1 - src);
	*to = (size_t)(at - src);
}

/* Appends s to dst[*o], leaving room for the NUL; truncates. */
static void config_append(char *dst, size_t dstlen, size_t *o, const char *s,
    size_t n)
{
	for (size_t i = 0; i < n && *o + 1 < dstlen; i++)
		dst[(*o)++] = s[i];
}

/* Copies a libpq conninfo or URI into dst, each password as "****". */
static void config_redact(char *dst, size_t dstlen, const char *src)
{
	int uri = strncmp(src, "postgresql://", 13) == 0 ||
	    strncmp(src, "postgres://", 11) == 0;
	size_t from = 0, to = 0, o = 0, i = 0, query = SIZE_MAX, keylen, vlen;

	if (uri) {
		config_uri_password(src, &from, &to);
		query = config_uri_query(src);
	}
	while (src[i] != '\0') {
		if (to > from && i == from) {
			config_append(dst, dstlen, &o, "****", 4);
			i = to;
		} else if ((vlen = config_password_param(src, i, uri, query,
		                &keylen)) > 0) {
			config_append(dst, dstlen, &o, src + i, keylen);
			config_append(dst, dstlen, &o, "****", 4);
			i += keylen + vlen;
		} else {
			config_append(dst, dstlen, &o, src + i, 1);
			i++;
		}
	}
	dst[o] = '\0';
}

/* Writes s in double quotes, escaping '"' and '\' as config_unquote reads. */
static void config_quote(char *dst, size_t dstlen, const char *s)
{
	size_t o = 0;

	config_append(dst, dstlen, &o, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			config_append(dst, dstlen, &o, "\\", 1);
		config_append(dst, dstlen, &o, s, 1);
	}
	config_append(dst, dstlen, &o, "\"", 1);
	dst[o] = '\0';
}

/*
 * Writes the name of value v of the enum k.  A value out of range can only
 * come from writing the field directly; it is written as a number, which
 * config_load_string then refuses rather than reading back as something
 * else.
 */
static void config_format_name(const struct config_key *k, int v, char *buf,
    size_t len)
{
	if (v >= 0 && v < k->nnames)
		snprintf(buf, len, "%s", k->names[v]);
	else
		snprintf(buf, len, "%d", v);
}

void config_dump_value(const struct config *cfg, const struct config_key *k,
    char *buf, size_t len)
{
	const void *field = config_key_field(cfg, k);
	char redacted[2 * CONFIG_STRING_MAX];

	switch (k->type) {
	case CONFIG_INT:
		snprintf(buf, len, "%d", *(const int *)field);
		break;
	case CONFIG_INT64:
		snprintf(buf, len, "%lld", *(const long long *)field);
		break;
	case CONFIG_MODE:
		snprintf(buf, len, "%04o", *(const unsigned *)field);
		break;
	case CONFIG_DURATION:
		config_format_ms(buf, len, *(const int *)field);
		break;
	case CONFIG_SIZE:
		config_format_bytes(buf, len,
		    (long long)*(const size_t *)field);
		break;
	case CONFIG_ENUM:
		config_format_name(k, *(const int *)field, buf, len);
		break;
	default:
		/* Only the database URLs may hold a password today. */
		if (k->offset == offsetof(struct config, database_url) ||
		    k->offset == offsetof(struct config, database_read_url))
			/* "****" can be longer than the password it hides:
			 * cut the masked text at what a value may hold, so
			 * that a dump always loads back (t/fuzz/fuzz_config;
			 * only a URL near the limit with passwords shorter
			 * than 4 bytes is cut). */
			config_redact(redacted, CONFIG_STRING_MAX, field);
		else
			snprintf(redacted, sizeof(redacted), "%s",
			    (const char *)field);
		config_quote(buf, len, redacted);
		break;
	}
}

void config_dump(const struct config *cfg, FILE *f)
{
	char value[4 * CONFIG_STRING_MAX + 3];

	for (size_t i = 0; i < config_nkeys; i++) {
		config_dump_value(cfg, &config_keys[i], value, sizeof(value));
		fprintf(f, "%s = %s\n", config_keys[i].name, value);
	}
}

void config_usage(FILE *f)
{
	char what[CONFIG_WHY_MAX / 2], dflt[2 * CONFIG_STRING_MAX + 3];

	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];

		config_key_describe(k, what, sizeof(what));
		if (k->type == CONFIG_STRING)
			config_quote(dflt, sizeof(dflt), k->dflt);
		else
			snprintf(dflt, sizeof(dflt), "%s", k->dflt);
		fprintf(f, "%s = %s\n\t%s (%s).\n\tValue: %s.\n", k->name, dflt,
		    k->help, config_type_names[k->type], what);
	}
}
