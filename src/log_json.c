/*
 * log_json: see log_json.h.
 */
#include "log_json.h"

#include <stdio.h>
#include <string.h>

/*
 * Length of the well-formed UTF-8 character at s (a NUL-terminated string,
 * s[0] >= 0x80), or 0: no overlong forms, no surrogates, nothing past
 * U+10FFFF (RFC 3629 section 4).
 */
static size_t log_json_utf8_len(const unsigned char *s)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return len;
}

/*
 * The JSON text of the character at s into out (at least 7 bytes), its
 * length in src bytes into *used.  Returns the length of out.
 */
static size_t log_json_char(const unsigned char *s, char *out, size_t *used)
{
	size_t n;

	*used = 1;
	if (s[0] == '"' || s[0] == '\\') {
		out[0] = '\\';
		out[1] = (char)s[0];
		return 2;
	}
	if (s[0] == '\n' || s[0] == '\r' || s[0] == '\t') {
		out[0] = '\\';
		out[1] = s[0] == '\n' ? 'n' : s[0] == '\r' ? 'r' : 't';
		return 2;
	}
	if (s[0] < 0x20 || s[0] == 0x7f)
		return (size_t)snprintf(out, 7, "\\u%04x", s[0]);
	if (s[0] < 0x80) {
		out[0] = (char)s[0];
		return 1;
	}
	if ((n = log_json_utf8_len(s)) == 0)
		return (size_t)snprintf(out, 7, "\\ufffd");
	memcpy(out, s, n);
	*used = n;
	return n;
}

size_t log_json_string(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, n, used;
	char piece[8];

	if (dstlen < 3) {
		if (dstlen > 0)
			dst[0] = '\0';
		return 0;
	}
	dst[o++] = '"';
	while (*s != '\0') {
		n = log_json_char(s, piece, &used);
		if (o + n + 2 > dstlen) /* room for the quote and the NUL */
			break;
		memcpy(dst + o, piece, n);
		o += n;
		s += used;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return o;
}
