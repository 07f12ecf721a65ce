/*
 * redis: see redis.h.  Like hiredis's own examples, errors are read from the
 * context (c->err, c->errstr); a context with an error is freed, never
 * reused, because hiredis leaves it in an undefined protocol state.
 */
#include "redis.h"

#include <inttypes.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "xmalloc.h"

struct redis {
	char *host;
	int port;
	char *unix_path;
	struct timeval timeout;
	redisContext *ctx;
	int cooldown_ms;
	int64_t open_until_ms; /* the breaker is open before this clock_ms */
	void (*on_event)(void *arg, enum redis_event ev);
	void *on_event_arg;
	int was_up; /* to log transitions, not every failure */
	int connected_before; /* the next connection is a reconnect */
	char run_id[48]; /* of the server behind ctx */
	struct redis_sentinels sentinels; /* n = 0: connect to host/unix_path */
	char primary[REDIS_SENTINEL_HOST_MAX + 8]; /* what they named last */
	char errmsg[256];
};

const char *redis_key(char *buf, size_t len, const char *kind, int64_t id,
    const char *suffix)
{
	int n = snprintf(buf, len, "{%s:%" PRId64 "}:%s", kind, id, suffix);

	if (n < 0 || (size_t)n >= len)
		fatal("redis key {%s:%" PRId64 "}:%s is longer than %zu bytes",
		    kind, id, suffix, len - 1);
	return buf;
}

struct redis *redis_create(const struct redis_options *opts)
{
	struct redis *redis = xcalloc(1, sizeof(*redis));

	redis->host = xstrdup(opts->host != NULL ? opts->host : "");
	redis->port = opts->port;
	redis->unix_path =
	    xstrdup(opts->unix_path != NULL ? opts->unix_path : "");
	redis->timeout.tv_sec = opts->timeout_ms / 1000;
	redis->timeout.tv_usec = (opts->timeout_ms % 1000) * 1000;
	redis->cooldown_ms = opts->cooldown_ms > 0 ? opts->cooldown_ms : 1;
	if (opts->sentinels != NULL)
		redis->sentinels = *opts->sentinels;
	redis->on_event = opts->on_event;
	redis->on_event_arg = opts->on_event_arg;
	redis->was_up = 1;
	return redis;
}

/*
 * Records why Redis is unusable, drops the context, opens the breaker for
 * a cool-down in [cooldown, 1.5 cooldown), and logs the transition.
 */
static void redis_mark_down(struct redis *redis, const char *why)
{
	int jitter = (int)(random() % (redis->cooldown_ms / 2 + 1));

	snprintf(redis->errmsg, sizeof(redis->errmsg), "%s", why);
	if (redis->ctx != NULL) {
		redisFree(redis->ctx);
		redis->ctx = NULL;
	}
	redis->run_id[0] = '\0';
	redis->open_until_ms = clock_ms() + redis->cooldown_ms + jitter;
	if (redis->on_event != NULL)
		redis->on_event(redis->on_event_arg, REDIS_EVENT_BREAKER_OPEN);
	if (redis->was_up) {
		log_warn("redis unavailable: %s; not asked again for %d ms",
		    redis->errmsg, redis->cooldown_ms + jitter);
		redis->was_up = 0;
	}
}

void redis_free(struct redis *redis)
{
	if (redis == NULL)
		return;
	if (redis->ctx != NULL)
		redisFree(redis->ctx);
	free(redis->host);
	free(redis->unix_path);
	free(redis);
}

/*
 * Reads run_id from INFO server.  A reply without one leaves it empty,
 * which callers treat as "unknown": never equal to a stored one, so at
 * worst a gate is rebuilt once more than needed.  Returns -1 when there is
 * no reply at all (the connection broke or timed out: a stalled server
 * accepts connections, then answers nothing).
 */
static int redis_read_run_id(struct redis *redis)
{
	redisReply *r = redisCommand(redis->ctx, "INFO server");
	const char *p;
	size_t n;

	redis->run_id[0] = '\0';
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING) {
		p = strstr(r->str, "run_id:");
		if (p != NULL) {
			p += strlen("run_id:");
			n = strcspn(p, "\r\n");
			if (n < sizeof(redis->run_id))
				snprintf(redis->run_id, sizeof(redis->run_id),
				    "%.*s", (int)n, p);
		}
	}
	freeReplyObject(r);
	return 0;
}

/* A context to the primary the Sentinels name; logs a change of it. */
static redisContext *redis_dial_sentinels(struct redis *redis, char *why,
    size_t whylen)
{
	char addr[sizeof(redis->primary)];
	redisContext *c;

	c = redis_sentinel_connect(&redis->sentinels, redis->timeout, addr,
	    sizeof(addr), why, whylen);
	if (c == NULL)
		return NULL;
	if (strcmp(addr, redis->primary) != 0) {
		log_info("redis: the Sentinels name %s as primary \"%s\"%s%s",
		    addr, redis->sentinels.name,
		    redis->primary[0] != '\0' ? ", was " : "", redis->primary);
		snprintf(redis->primary, sizeof(redis->primary), "%s", addr);
	}
	return c;
}

static int redis_connect(struct redis *redis)
{
	char why[sizeof(redis->errmsg)];
	redisContext *c;

	if (redis->ctx != NULL)
		return 0;
	if (clock_ms() < redis->open_until_ms)
		return -1; /* the breaker is open: no I/O (errmsg kept) */
	if (redis->sentinels.n > 0)
		c = redis_dial_sentinels(redis, why, sizeof(why));
	else
		c = redis_sentinel_dial(redis->host, redis->port,
		    redis->unix_path, redis->timeout, why, sizeof(why));
	if (c == NULL) {
		redis_mark_down(redis, why);
		return -1;
	}
	redis->ctx = c;
	if (redis_read_run_id(redis) < 0) {
		/* The context is about to be freed; keep its message. */
		snprintf(why, sizeof(why), "%s", c->errstr);
		redis_mark_down(redis, why);
		return -1;
	}
	redis->errmsg[0] = '\0';
	if (!redis->was_up)
		log_info("redis reachable again");
	redis->was_up = 1;
	if (redis->connected_before && redis->on_event != NULL)
		redis->on_event(redis->on_event_arg, REDIS_EVENT_RECONNECT);
	redis->connected_before = 1;
	return 0;
}

/*
 * A NULL reply means the connection broke: drop it, keep the reason.  So
 * does READONLY: the server was turned into a replica under this
 * connection (a failover demoted it), and only a new connection, through
 * the Sentinels, reaches the primary.  The error reply is returned as is.
 */
static redisReply *redis_checked(struct redis *redis, redisReply *reply)
{
	char why[sizeof(redis->ctx->errstr)];

	if (reply != NULL) {
		if (reply->type == REDIS_REPLY_ERROR &&
		    strncmp(reply->str, "READONLY", 8) == 0)
			redis_mark_down(redis,
			    "READONLY: the server is a replica now");
		return reply;
	}
	/* The context is about to be freed; keep its message. */
	snprintf(why, sizeof(why), "%s", redis->ctx->errstr);
	redis_mark_down(redis, why);
	return NULL;
}

redisReply *redis_command(struct redis *redis, const char *fmt, ...)
{
	redisReply *reply;
	va_list ap;

	if (redis_connect(redis) < 0)
		return NULL;
	va_start(ap, fmt);
	reply = redisvCommand(redis->ctx, fmt, ap);
	va_end(ap);
	return redis_checked(redis, reply);
}

redisReply *redis_command_argv(struct redis *redis, int argc, const char **argv)
{
	if (redis_connect(redis) < 0)
		return NULL;
	return redis_checked(redis,
	    redisCommandArgv(redis->ctx, argc, argv, NULL));
}

/* Sets the context's read timeout to redis_timeout plus wait_ms; 0 or -1. */
static int redis_set_wait(struct redis *redis, int wait_ms)
{
	struct timeval tv = redis->timeout;

	tv.tv_sec += wait_ms / 1000;
	tv.tv_usec += (wait_ms % 1000) * 1000;
	if (tv.tv_usec >= 1000000) {
		tv.tv_sec++;
		tv.tv_usec -= 1000000;
	}
	return redisSetTimeout(redis->ctx, tv) == REDIS_OK ? 0 : -1;
}

redisReply *redis_command_wait(struct redis *redis, int wait_ms, int argc,
    const char **argv)
{
	redisReply *reply;

	if (redis_pipeline(redis, wait_ms, 1, &argc, &argv, &reply) != 0)
		return NULL;
	return reply;
}

int redis_pipeline(struct redis *redis, int wait_ms, int n, const int *argc,
    const char **const *argv, redisReply **replies)
{
	void *r;
	int i;

	for (i = 0; i < n; i++)
		replies[i] = NULL;
	if (redis_connect(redis) < 0)
		return -2;
	if (wait_ms > 0 && redis_set_wait(redis, wait_ms) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (redisAppendCommandArgv(redis->ctx, argc[i], argv[i],
		        NULL) != REDIS_OK)
			goto fail;
	for (i = 0; i < n; i++) {
		if (redisGetReply(redis->ctx, &r) != REDIS_OK || r == NULL)
			goto fail;
		replies[i] = r;
	}
	if (wait_ms > 0 && redis_set_wait(redis, 0) < 0)
		goto fail;
	return 0;
fail:
	for (i = 0; i < n; i++) {
		if (replies[i] != NULL)
			freeReplyObject(replies[i]);
		replies[i] = NULL;
	}
	(void)redis_checked(redis, NULL);
	return -1;
}

void redis_script_prepare(struct redis_script *script)
{
	unsigned char md[SHA_DIGEST_LENGTH];

	if (script->sha[0] != '\0')
		return;
	SHA1((const unsigned char *)script->source, strlen(script->source), md);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(script->sha + 2 * i, 3, "%02x", md[i]);
}

redisReply *redis_eval(struct redis *redis, struct redis_script *script,
    int nkeys, const char *const *args, int nargs)
{
	const char *argv[3 + REDIS_EVAL_ARGS_MAX];
	char numkeys[16];
	int n = nkeys + nargs;
	redisReply *r;

	if (nkeys < 0 || nargs < 0 || n > REDIS_EVAL_ARGS_MAX)
		return NULL;
	redis_script_prepare(script);
	snprintf(numkeys, sizeof(numkeys), "%d", nkeys);
	argv[0] = "EVALSHA";
	argv[1] = script->sha;
	argv[2] = numkeys;
	for (int i = 0; i < n; i++)
		argv[3 + i] = args[i];
	r = redis_command_argv(redis, 3 + n, argv);
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0) {
		/* Redis lost its script cache: EVAL sends the source and
		 * caches it again for the next EVALSHA. */
		freeReplyObject(r);
		argv[0] = "EVAL";
		argv[1] = script->source;
		r = redis_command_argv(redis, 3 + n, argv);
	}
	return r;
}

int redis_load(struct redis *redis, struct redis_script *script)
{
	const char *argv[] = { "SCRIPT", "LOAD", script->source };
	redisReply *r;
	int ok;

	redis_script_prepare(script);
	r = redis_command_argv(redis, 3, argv);
	ok = r != NULL && r->type == REDIS_REPLY_STRING &&
	    strcmp(r->str, script->sha) == 0;
	if (r != NULL)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

const char *redis_run_id(const struct redis *redis)
{
	return redis->run_id;
}

int redis_ping(struct redis *redis)
{
	redisReply *r = redis_command(redis, "PING");
	int ok;

	ok = r != NULL && r->type == REDIS_REPLY_STATUS &&
	    strcmp(r->str, "PONG") == 0;
	if (r != NULL)
		freeReplyObject(r);
	return ok;
}

const char *redis_errmsg(const struct redis *redis)
{
	return redis->errmsg;
}
