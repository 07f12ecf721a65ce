/*
 * utf8: whether text is well-formed UTF-8, one character at a time.  json.c
 * refuses request bodies that are not; log_json.c writes U+FFFD for bytes
 * that are not, so that every json log line is valid JSON.
 */
#ifndef STOCKADE_UTF8_H
#define STOCKADE_UTF8_H

#include <stddef.h>

/*
 * Length of the well-formed UTF-8 sequence at s (n >= 1 bytes left), or 0.
 * The ranges are those of RFC 3629 section 4, so an overlong form (C0 AF), a
 * surrogate (ED A0 80) and anything past U+10FFFF (F4 90 80 80) are refused:
 * yajl's own check looks only at the lengths of the sequences.
 */
size_t utf8_char_len(const unsigned char *s, size_t n);

#endif
