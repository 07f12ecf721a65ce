/*
 * log_json: the string escaping of log_format = json (log.c), kept apart
 * from json.c because json.c logs (it includes log.h) and its writer
 * allocates, which a log line, possibly the one saying memory ran out,
 * must not.  Bounded, no allocation, never fails.
 */
#ifndef STOCKADE_LOG_JSON_H
#define STOCKADE_LOG_JSON_H

#include <stddef.h>

/*
 * Writes src as a JSON string, quotes included, into dst (of dstlen bytes,
 * NUL-terminated unless dstlen is 0): '"', '\\' and control characters
 * escaped (RFC 8259 section 7), well-formed UTF-8 kept, each byte of
 * anything else written as U+FFFD.  Cut short to fit, never inside an
 * escape or a character, and the closing quote always written when dstlen
 * >= 3.  Returns the length written (without the NUL).
 */
size_t log_json_string(char *dst, size_t dstlen, const char *src);

#endif
