/*
 * redis_sentinel: finds the Redis primary through Redis Sentinel, which
 * hiredis does not speak.  Following the Sentinel client guidelines in
 * Redis's documentation, each connection asks the Sentinels in turn
 * `SENTINEL get-master-addr-by-name NAME`, connects to the address the
 * first one that knows answers, and checks with ROLE that the server
 * there is a master: right after a failover a Sentinel may still name the
 * old primary, which, back up, has been turned into a replica; a replica
 * is dropped and the next Sentinel asked.  A Sentinel that answered is
 * asked first next time, so a dead one costs a connect timeout only until
 * another has answered once.
 *
 * Nothing here keeps a connection to a Sentinel: they are asked only when
 * the Redis connection is (re)made (redis.c: at the first command, after a
 * broken connection or a READONLY error, once the breaker lets it).
 */
#ifndef STOCKADE_REDIS_SENTINEL_H
#define STOCKADE_REDIS_SENTINEL_H

#include <stddef.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#define REDIS_SENTINELS_MAX 8
#define REDIS_SENTINEL_HOST_MAX 256 /* a host name or address, NUL included */

/* The Sentinels of one primary, and which to ask first. */
struct redis_sentinels {
	int n; /* 0: no Sentinel; the caller connects directly */
	char host[REDIS_SENTINELS_MAX][REDIS_SENTINEL_HOST_MAX];
	int port[REDIS_SENTINELS_MAX];
	char name[REDIS_SENTINEL_HOST_MAX]; /* the master name they monitor */
	int first; /* the index of the last one that answered */
};

/* What ROLE says a server is. */
enum redis_role {
	REDIS_ROLE_MASTER,
	REDIS_ROLE_REPLICA,
	REDIS_ROLE_SENTINEL,
	REDIS_ROLE_UNKNOWN, /* an error, or a reply not shaped like ROLE's */
	REDIS_ROLE__MAX
};

/* "master", "slave", "sentinel", "unknown": as ROLE names them. */
extern const char *const redis_role_names[REDIS_ROLE__MAX];

/*
 * Reads a reply to SENTINEL get-master-addr-by-name: an array of two
 * strings, the address and the port.  Returns 0 with host (NUL-terminated,
 * hostlen bytes at most) and *port set; -1 for anything else: nil (the
 * Sentinel monitors no master of that name), an error, a host too long or
 * empty, a port that is not 1 to 65535.
 */
int redis_sentinel_parse_addr(const redisReply *r, char *host, size_t hostlen,
    int *port);

/* Reads a reply to ROLE: its first element names the role. */
enum redis_role redis_role_parse(const redisReply *r);

/*
 * Connects to the Redis server at unix_path when that is set (not NULL nor
 * ""), else at host:port, with timeout on the connect and set as the
 * command timeout: how every connection to Redis or a Sentinel is made.
 * Returns the context (redisFree), or NULL with why ("HOST:PORT: reason").
 */
redisContext *redis_sentinel_dial(const char *host, int port,
    const char *unix_path, struct timeval timeout, char *why, size_t whylen);

/*
 * Connects to the primary the Sentinels name (see above), with timeout for
 * every connect and command, the command timeout already set on the
 * context returned.  Returns the context (the caller frees it with
 * redisFree) with the primary's address in addr ("HOST:PORT"), or NULL
 * with why: every Sentinel unreachable, none knowing the name, or none
 * naming a server that is a master now.
 */
redisContext *redis_sentinel_connect(struct redis_sentinels *s,
    struct timeval timeout, char *addr, size_t addrlen, char *why,
    size_t whylen);

#endif
