/*
 * config_dump: a config written back as text: every key with its effective
 * value (for `stockade config-check`), and every key with its default, help,
 * type and bounds (for a help listing).
 */
#ifndef STOCKADE_CONFIG_DUMP_H
#define STOCKADE_CONFIG_DUMP_H

#include <stdio.h>

#include "config.h"

struct config_key;

/*
 * Writes every key with its current value, one "key = value" per line, in a
 * form config_load_string reads back.  A password inside database_url is
 * written as "****" so that the output can be pasted into a bug report or a
 * log.
 */
void config_dump(const struct config *cfg, FILE *f);

/*
 * Writes the value of the key of row k in cfg into buf (len bytes, always
 * NUL-terminated, truncated if need be) as config_dump writes it: strings
 * quoted, a password inside database_url as "****".
 */
void config_dump_value(const struct config *cfg, const struct config_key *k,
    char *buf, size_t len);

/*
 * Writes every key with its default, a line of help, its type and bounds,
 * for a command-line help listing.
 */
void config_usage(FILE *f);

#endif
