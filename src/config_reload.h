/*
 * config_reload: what a reload (SIGHUP) may change.  The master reads the
 * file again into a new config; this module compares it with the running
 * one, key by key through the key table, puts back the keys that only a
 * restart can change (the rows marked .restart: the socket, the user) and
 * says what changes, for the master's log line.
 */
#ifndef STOCKADE_CONFIG_RELOAD_H
#define STOCKADE_CONFIG_RELOAD_H

#include <stddef.h>

#include "config.h"

/*
 * Prepares next, a config just read from the file, to replace cur.  Each
 * restart-only key whose value differs is set back to cur's value (its
 * derived fields too) and named in kept ("listen, socket_mode"); each
 * other key that differs is written to changed as "key: OLD -> NEW", with
 * values as config-check prints them (passwords masked), separated by
 * "; ".  Both are NUL-terminated and cut short when full ("" for none).
 * Returns the number of keys that change.
 */
int config_reload_merge(struct config *next, const struct config *cur,
    char *changed, size_t changedlen, char *kept, size_t keptlen);

#endif
