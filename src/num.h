/*
 * num: the one strict integer parser (in the spirit of OpenBSD's
 * strtonum), for every integer stockade reads from text: command-line
 * options, config values, query parameters, path ids, token claims and
 * database results.  Strict means: an optional '-' (only where min is
 * negative), then decimal digits and nothing else: no white space before
 * or after (strtoll would skip "\t5"), no '+', no base prefix, and a value
 * that does not overflow or leave [min, max].
 */
#ifndef STOCKADE_NUM_H
#define STOCKADE_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Room for any int64_t in decimal, its sign and the NUL included. */
#define NUM_I64_LEN 21

/*
 * Parses the len bytes at s (no NUL needed) as described above.  Returns 0
 * with *out set, or -1 with *out untouched.
 */
int num_parse_n(const char *s, size_t len, int64_t min, int64_t max,
    int64_t *out);

/* The same for a NUL-terminated s. */
int num_parse(const char *s, int64_t min, int64_t max, int64_t *out);

/* Formats v into buf (NUM_I64_LEN bytes) and returns buf. */
char *num_format(char buf[NUM_I64_LEN], int64_t v);

#endif
