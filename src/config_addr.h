/*
 * config_addr: the config values that are addresses, checked and split into
 * the fields struct config derives from them: listen (an absolute unix
 * socket path, IPV4:PORT or [IPV6]:PORT), redis_url (redis://HOST[:PORT]
 * or unix:/PATH) and redis_sentinels (a list of HOST[:PORT]).  They are the
 * derive functions of those keys' rows in config_keys.c.
 */
#ifndef STOCKADE_CONFIG_ADDR_H
#define STOCKADE_CONFIG_ADDR_H

#include <stddef.h>

#include "config.h"

/*
 * Checks value as a listen address and fills cfg->listen_kind, listen_host
 * and listen_port (not cfg->listen itself).  Returns 0, or -1 with why
 * (without the key's name) and cfg unchanged.
 */
int config_addr_listen(struct config *cfg, const char *value, char *why,
    size_t whylen);

/*
 * Checks value as a redis_url and fills cfg->redis_host, redis_port and
 * redis_unix_path (not cfg->redis_url itself).  Returns 0, or -1 with why
 * (without the key's name) and cfg unchanged.
 */
int config_addr_redis(struct config *cfg, const char *value, char *why,
    size_t whylen);

/*
 * Checks value as redis_sentinels, "HOST[:PORT], HOST[:PORT], ..." (1 to
 * CONFIG_SENTINELS_MAX addresses, HOST as in redis_url, PORT 26379 when
 * left out; "" for none), and fills cfg->redis_nsentinels,
 * redis_sentinel_host and redis_sentinel_port.  Returns 0, or -1 with why
 * and cfg unchanged.
 */
int config_addr_sentinels(struct config *cfg, const char *value, char *why,
    size_t whylen);

#endif
