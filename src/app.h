/*
 * app: what a request handler may use, handed down by the worker: the
 * configuration, the signing secret, this worker's database and Redis
 * connections, and the shared scoreboard (read-only outside its own slot).
 */
#ifndef STOCKADE_APP_H
#define STOCKADE_APP_H

#include <stddef.h>

struct config;
struct coupon_cache;
struct db;
struct redis;
struct scoreboard;

struct app {
	const struct config *cfg;
	const unsigned char *secret;
	size_t secret_len;
	struct db *db;
	struct redis *redis;
	struct coupon_cache *coupons; /* policies' limits, for the gate */
	struct scoreboard *scoreboard;
	int slot; /* this worker's scoreboard slot */
};

#endif
