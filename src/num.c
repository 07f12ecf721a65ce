/*
 * num: see num.h.  The digits are accumulated as a negative number, whose
 * range reaches INT64_MIN, so one overflow check serves both signs.
 */
#include "num.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int num_parse_n(const char *s, size_t len, int64_t min, int64_t max,
    int64_t *out)
{
	int negative = len > 0 && s[0] == '-';
	size_t i = negative ? 1 : 0;
	int64_t v = 0;

	if (i == len || (negative && min >= 0))
		return -1;
	for (; i < len; i++) {
		int digit = s[i] - '0';

		if (digit < 0 || digit > 9 || v < (INT64_MIN + digit) / 10)
			return -1;
		v = v * 10 - digit;
	}
	if (!negative) {
		if (v == INT64_MIN)
			return -1;
		v = -v;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int num_parse(const char *s, int64_t min, int64_t max, int64_t *out)
{
	return num_parse_n(s, strlen(s), min, max, out);
}

char *num_format(char buf[NUM_I64_LEN], int64_t v)
{
	snprintf(buf, NUM_I64_LEN, "%" PRId64, v);
	return buf;
}
