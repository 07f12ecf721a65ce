/*
 * redis_sentinel: see redis_sentinel.h.  Every context made here is either
 * returned or freed before the next one is made, so at most one is open at
 * a time, and every reply is freed on every path.
 */
#include "redis_sentinel.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "num.h"

const char *const redis_role_names[REDIS_ROLE__MAX] = {
	"master",
	"slave",
	"sentinel",
	"unknown",
};

/* 1 if r is a string reply of len bytes with no NUL inside. */
static int redis_sentinel_is_text(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_STRING && r->str != NULL &&
	    memchr(r->str, '\0', r->len) == NULL;
}

int redis_sentinel_parse_addr(const redisReply *r, char *host, size_t hostlen,
    int *port)
{
	const redisReply *h, *p;
	int64_t n;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return -1;
	h = r->element[0];
	p = r->element[1];
	if (!redis_sentinel_is_text(h) || !redis_sentinel_is_text(p) ||
	    h->len == 0 || h->len >= hostlen ||
	    num_parse_n(p->str, p->len, 1, 65535, &n) == -1)
		return -1;
	memcpy(host, h->str, h->len);
	host[h->len] = '\0';
	*port = (int)n;
	return 0;
}

enum redis_role redis_role_parse(const redisReply *r)
{
	const redisReply *name;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
		return REDIS_ROLE_UNKNOWN;
	name = r->element[0];
	if (!redis_sentinel_is_text(name))
		return REDIS_ROLE_UNKNOWN;
	for (int i = 0; i < REDIS_ROLE_UNKNOWN; i++)
		if (strcmp(name->str, redis_role_names[i]) == 0)
			return (enum redis_role)i;
	return REDIS_ROLE_UNKNOWN;
}

redisContext *redis_sentinel_dial(const char *host, int port,
    const char *unix_path, struct timeval timeout, char *why, size_t whylen)
{
	int local = unix_path != NULL && unix_path[0] != '\0';
	redisContext *c;
	char where[REDIS_SENTINEL_HOST_MAX + 8];

	c = local ? redisConnectUnixWithTimeout(unix_path, timeout)
	          : redisConnectWithTimeout(host, port, timeout);
	if (c != NULL && !c->err && redisSetTimeout(c, timeout) == REDIS_OK)
		return c;
	if (local)
		snprintf(where, sizeof(where), "%s", unix_path);
	else
		snprintf(where, sizeof(where), "%s:%d", host, port);
	snprintf(why, whylen, "%s: %s", where,
	    c == NULL    ? "out of memory"
	        : c->err ? c->errstr
	                 : "cannot set the command timeout");
	if (c != NULL)
		redisFree(c);
	return NULL;
}

/*
 * Asks Sentinel i where the primary is: 0 with host and *port, or -1 with
 * why (unreachable, or it knows no master of that name).
 */
static int redis_sentinel_ask(const struct redis_sentinels *s, int i,
    struct timeval timeout, char *host, size_t hostlen, int *port, char *why,
    size_t whylen)
{
	redisContext *c;
	redisReply *r;
	int rc;

	c = redis_sentinel_dial(s->host[i], s->port[i], NULL, timeout, why,
	    whylen);
	if (c == NULL)
		return -1;
	r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", s->name);
	rc = redis_sentinel_parse_addr(r, host, hostlen, port);
	if (rc < 0)
		snprintf(why, whylen, "Sentinel %s:%d: %s", s->host[i],
		    s->port[i],
		    r == NULL                          ? c->errstr
		        : r->type == REDIS_REPLY_ERROR ? r->str
		        : r->type == REDIS_REPLY_NIL ? "no master of that name"
		                                     : "an unexpected reply");
	if (r != NULL)
		freeReplyObject(r);
	redisFree(c);
	return rc;
}

/* Connects to host:port and keeps the context only if ROLE says master. */
static redisContext *redis_sentinel_master(const char *host, int port,
    struct timeval timeout, char *why, size_t whylen)
{
	redisContext *c =
	    redis_sentinel_dial(host, port, NULL, timeout, why, whylen);
	redisReply *r;
	enum redis_role role;

	if (c == NULL)
		return NULL;
	r = redisCommand(c, "ROLE");
	role = redis_role_parse(r);
	if (role != REDIS_ROLE_MASTER)
		snprintf(why, whylen, "%s:%d: ROLE says %s, not master", host,
		    port, r == NULL ? c->errstr : redis_role_names[role]);
	if (r != NULL)
		freeReplyObject(r);
	if (role == REDIS_ROLE_MASTER)
		return c;
	redisFree(c);
	return NULL;
}

redisContext *redis_sentinel_connect(struct redis_sentinels *s,
    struct timeval timeout, char *addr, size_t addrlen, char *why,
    size_t whylen)
{
	char host[REDIS_SENTINEL_HOST_MAX];
	redisContext *c;
	int port;

	snprintf(why, whylen, "no Sentinel is configured");
	for (int k = 0; k < s->n; k++) {
		int i = (s->first + k) % s->n;

		if (redis_sentinel_ask(s, i, timeout, host, sizeof(host), &port,
		        why, whylen) < 0) {
			log_debug("redis: %s", why);
			continue;
		}
		c = redis_sentinel_master(host, port, timeout, why, whylen);
		if (c == NULL) {
			/* A stale answer (the old primary, demoted or
			 * dead): the next Sentinel may know better. */
			log_debug("redis: Sentinel %s:%d named %s", s->host[i],
			    s->port[i], why);
			continue;
		}
		s->first = i;
		snprintf(addr, addrlen, "%s:%d", host, port);
		return c;
	}
	return NULL;
}
