/*
 * config_file: the config file's syntax ("key = value" lines, '#' comments,
 * double-quoted values) read into a struct config through the key table,
 * all or nothing, with errors that name the file, line and key; and the
 * secret file that holds the token signing key.
 */
#ifndef STOCKADE_CONFIG_FILE_H
#define STOCKADE_CONFIG_FILE_H

#include <stddef.h>

#include "config.h"

/*
 * Reads the config file at path on top of the current values.  All or
 * nothing: returns 0, or -1 with cfg unchanged and "path:line: key: why" (or
 * "path: strerror") in err.  A file may give each key at most once.
 */
int config_load_file(struct config *cfg, const char *path, char *err,
    size_t errlen);

/*
 * Parses a whole config text of len bytes (it need not be NUL-terminated),
 * as config_load_file does; name stands for the file in error messages.
 * Returns 0, or -1 with cfg unchanged and "name:line: key: why" in err.
 */
int config_load_string(struct config *cfg, const char *name, const char *text,
    size_t len, char *err, size_t errlen);

/*
 * Reads the token signing secret from cfg->auth_secret_file, strips one
 * trailing newline (and a \r before it) and requires 32 to 4096 bytes to be
 * left.  Logs a warning if the file is readable by others, or by a group
 * other than the process's effective group.  Returns
 * 0 with *secret (the caller frees it with config_secret_free) and *len set,
 * or -1 with err set; an unset auth_secret_file is an error whose message
 * says how to create one.
 */
int config_read_secret(const struct config *cfg, unsigned char **secret,
    size_t *len, char *err, size_t errlen);

/*
 * Wipes (explicit_bzero, which the compiler may not drop) and frees a
 * secret from config_read_secret, its whole buffer, so that no copy of the
 * key outlives its use in freed memory.  Accepts NULL.
 */
void config_secret_free(unsigned char *secret);

#endif
