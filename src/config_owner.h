/*
 * config_owner: the keys socket_owner and socket_group, like php-fpm's
 * listen.owner and listen.group: who owns the unix socket the master binds,
 * so that a deployment can let nginx (and nobody else) reach it without
 * opening it wider than 0660.  Names are looked up when the file is read,
 * so an unknown user is a config error with the file and line, not a
 * failure at bind time.  They are the derive functions of those keys' rows
 * in config_keys.c.
 */
#ifndef STOCKADE_CONFIG_OWNER_H
#define STOCKADE_CONFIG_OWNER_H

#include <stddef.h>

#include "config.h"

/* The largest user or group id the keys take (ids are stored in an int). */
#define CONFIG_OWNER_ID_MAX 2147483647

/*
 * Checks value as a user: "" (the socket keeps the user stockade runs as),
 * a decimal uid (taken as is: chown(2) needs no passwd entry), or a name
 * found in the passwd database.  Fills cfg->socket_uid (-1 for "").
 * Returns 0, or -1 with why (without the key's name) and cfg unchanged.
 */
int config_owner_user(struct config *cfg, const char *value, char *why,
    size_t whylen);

/* The same for a group: fills cfg->socket_gid from "", a gid or a name. */
int config_owner_group(struct config *cfg, const char *value, char *why,
    size_t whylen);

#endif
