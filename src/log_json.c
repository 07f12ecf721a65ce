/*
 * log_json: see log_json.h.
 */
#include "log_json.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"

/*
 * The JSON text of the character at s (n >= 1 bytes left) into out (at
 * least 7 bytes), its length in src bytes into *used.  Returns the length
 * of out.
 */
static size_t log_json_char(const unsigned char *s, size_t n, char *out,
    size_t *used)
{
	size_t len;

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
	if ((len = utf8_char_len(s, n)) == 0)
		return (size_t)snprintf(out, 7, "\\ufffd");
	memcpy(out, s, len);
	*used = len;
	return len;
}

size_t log_json_string(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t left = strlen(src), o = 0, n, used;
	char piece[8];

	if (dstlen < 3) {
		if (dstlen > 0)
			dst[0] = '\0';
		return 0;
	}
	dst[o++] = '"';
	while (left > 0) {
		n = log_json_char(s, left, piece, &used);
		if (o + n + 2 > dstlen) /* room for the quote and the NUL */
			break;
		memcpy(dst + o, piece, n);
		o += n;
		s += used;
		left -= used;
	}
	dst[o++] = '"';
	dst[o] = '\0';
	return o;
}
