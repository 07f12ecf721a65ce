/*
 * config_reload: see config_reload.h.  Values are compared byte for byte:
 * struct config is zero-padded and holds no pointers (config.h), so a
 * field that reads the same is the same.
 */
#include "config_reload.h"

#include <stdio.h>
#include <string.h>

#include "config_dump.h"
#include "config_keys.h"

/* Appends "sep" (unless at the start) then s to buf, cut short when full. */
static void config_reload_append(char *buf, size_t len, const char *sep,
    const char *s)
{
	size_t used = len > 0 ? strlen(buf) : 0;

	if (used + 1 >= len)
		return;
	snprintf(buf + used, len - used, "%s%s", used > 0 ? sep : "", s);
}

/*
 * Sets key k of next back to its value in cur.  A string goes through
 * config_key_set, so that its derived fields follow (listen's kind, host
 * and port); that cannot fail for a value the running daemon accepted,
 * but if it did the field alone is copied.
 */
static void config_reload_keep(struct config *next, const struct config *cur,
    const struct config_key *k)
{
	char why[CONFIG_WHY_MAX];
	const void *old = config_key_field(cur, k);

	if (k->type == CONFIG_STRING &&
	    config_key_set(next, k, old, why, sizeof(why)) == 0)
		return;
	memcpy((char *)next + k->offset, old, k->size);
}

/* Writes "key: OLD -> NEW" for key k into buf. */
static void config_reload_describe(const struct config *next,
    const struct config *cur, const struct config_key *k, char *buf, size_t len)
{
	char was[CONFIG_STRING_MAX / 4], now[CONFIG_STRING_MAX / 4];

	config_dump_value(cur, k, was, sizeof(was));
	config_dump_value(next, k, now, sizeof(now));
	snprintf(buf, len, "%s: %s -> %s", k->name, was, now);
}

int config_reload_merge(struct config *next, const struct config *cur,
    char *changed, size_t changedlen, char *kept, size_t keptlen)
{
	char change[CONFIG_STRING_MAX];
	int n = 0;

	if (changedlen > 0)
		changed[0] = '\0';
	if (keptlen > 0)
		kept[0] = '\0';
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct config_key *k = &config_keys[i];

		if (memcmp(config_key_field(next, k), config_key_field(cur, k),
		        k->size) == 0)
			continue;
		if (k->restart) {
			config_reload_keep(next, cur, k);
			config_reload_append(kept, keptlen, ", ", k->name);
			continue;
		}
		config_reload_describe(next, cur, k, change, sizeof(change));
		config_reload_append(changed, changedlen, "; ", change);
		n++;
	}
	return n;
}
