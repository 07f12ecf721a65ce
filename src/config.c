/*
 * config: the name table of listen_kind, and the one helper that keeps
 * struct config comparable with memcmp.  The key table that fills the struct
 * is config_keys.c; the file syntax is config_file.c; the dump and usage
 * listing are config_dump.c.
 */
#include "config.h"

#include <string.h>

const char *const listen_kind_names[LISTEN__MAX] = { "unix", "tcp" };
const char *const config_on_off_names[2] = { "off", "on" };

void config_copy_string(char *field, size_t size, const char *s)
{
	size_t len = strlen(s);

	memcpy(field, s, len);
	memset(field + len, 0, size - len);
}
