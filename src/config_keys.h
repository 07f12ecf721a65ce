/*
 * config_keys: the table of every key of the config file, one row per key
 * (in the spirit of kcgi's struct kvalid and redis's standardConfig
 * table): its type, bounds, default and help text, and where in struct
 * config its value is stored.  config_create, config_set and the file
 * parser (config_file.c) set every value through its row, so a value is
 * validated and stored typed the moment it is read; config_dump and
 * config_usage (config_dump.c) print from the same rows.  The table names
 * every module's settings, so this is the process layer; config.h, the
 * struct everyone reads, is the base layer.
 */
#ifndef STOCKADE_CONFIG_KEYS_H
#define STOCKADE_CONFIG_KEYS_H

#include <stddef.h>

#include "config.h"

#define CONFIG_WHY_MAX 512 /* one error message */

enum config_type {
	CONFIG_INT,
	CONFIG_INT64,
	CONFIG_MODE,
	CONFIG_STRING,
	CONFIG_DURATION,
	CONFIG_SIZE,
	CONFIG_ENUM,
	CONFIG__MAX
};

/* "integer", "octal mode", "duration", ..., for the usage listing. */
extern const char *const config_type_names[CONFIG__MAX];

/*
 * One key.  Integer bounds are in the stored unit (milliseconds for a
 * duration, bytes for a size); string bounds are lengths in bytes.  An enum
 * has no bounds: its value is an index of names, which stand in the file
 * for the indexes 0 to nnames - 1.
 */
struct config_key {
	const char *name;
	enum config_type type;
	size_t offset; /* of the field in struct config */
	size_t size; /* of the field, checked against the type */
	long long min;
	long long max;
	const char *dflt; /* the default, as it would be written in a file */
	/* For strings: checks the value further and fills derived fields. */
	int (*derive)(struct config *, const char *, char *, size_t);
	const char *const *names; /* for enums: the name of each value */
	int nnames;
	/*
	 * 1: read once, when the daemon starts (the socket, the user it runs
	 * as); a reload (SIGHUP) keeps the running value and says so.  0: a
	 * reload applies it (config_reload.h).
	 */
	int restart;
	const char *help;
};

/* The rows, grouped as in etc/stockade.conf.sample, and their count. */
extern const struct config_key config_keys[];
extern const size_t config_nkeys;

/*
 * Returns a new config holding every key's default.  Never returns NULL
 * (it allocates with xmalloc).  The caller frees it with config_free.
 */
struct config *config_create(void);

/* Frees a config from config_create.  Accepts NULL. */
void config_free(struct config *cfg);

/*
 * Sets one key from its text value, validating it and any field derived from
 * it.  Returns 0, or -1 with "key: why" in err (always NUL-terminated,
 * truncated to errlen) and cfg unchanged.
 */
int config_set(struct config *cfg, const char *key, const char *value,
    char *err, size_t errlen);

/* The row of the key called name, or NULL. */
const struct config_key *config_key_find(const char *name);

/* config_set for the key of row k: 0, or -1 with "key: why", cfg as was. */
int config_key_set(struct config *cfg, const struct config_key *k,
    const char *value, char *why, size_t whylen);

/* The field of row k in cfg (a pointer into cfg). */
const void *config_key_field(const struct config *cfg,
    const struct config_key *k);

/* Writes what a value of k must be, from k's own bounds ("an integer..."). */
void config_key_describe(const struct config_key *k, char *buf, size_t len);

/* Writes ms with the largest unit that divides it: 5000 -> "5s". */
void config_format_ms(char *buf, size_t len, long long ms);

/* Writes a byte count with the largest unit that divides it: "64k". */
void config_format_bytes(char *buf, size_t len, long long n);

/* Escapes text from a file into buf for a message, and returns buf. */
const char *config_show(char *buf, size_t len, const char *s);

#endif
