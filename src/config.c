/*
 * config: the name tables of the enums config.h declares, and the one
 * helper that keeps struct config comparable with memcmp.  The key table
 * that fills the struct is config_keys.c; the file syntax is
 * config_file.c; the dump and usage listing are config_dump.c.
 */
#include "config.h"

#include <string.h>

const char *const listen_kind_names[LISTEN__MAX] = { "unix", "tcp" };

const char *const stock_strategy_names[STOCK_STRATEGY__MAX] = {
	"pessimistic",
	"conditional",
	"redis_lock",
};

const char *const point_strategy_names[POINT_STRATEGY__MAX] = {
	"optimistic",
	"pessimistic",
	"conditional",
};

const char *const coupon_strategy_names[COUPON_STRATEGY__MAX] = {
	"pessimistic",
	"conditional",
	"sharded",
};

const char *const coupon_gate_names[GATE_KIND__MAX] = {
	"redis",
	"off",
	"slots",
};

void config_copy_string(char *field, size_t size, const char *s)
{
	size_t len = strlen(s);

	memcpy(field, s, len);
	memset(field + len, 0, size - len);
}
