/*
 * gate: see gate.h.  Like hiredis's own examples, errors are read from the
 * context (c->err, c->errstr); a context with an error is freed, never
 * reused, because hiredis leaves it in an undefined protocol state.
 */
#include "gate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"
#include "xmalloc.h"

struct gate {
	char *host;
	int port;
	char *unix_path;
	struct timeval timeout;
	redisContext *ctx;
	int64_t last_attempt_ms;
	int was_up; /* to log transitions, not every failure */
	char errmsg[256];
};

static int64_t gate_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct gate *gate_create(const struct gate_options *opts)
{
	struct gate *gate = xcalloc(1, sizeof(*gate));

	gate->host = xstrdup(opts->host != NULL ? opts->host : "");
	gate->port = opts->port;
	gate->unix_path =
	    xstrdup(opts->unix_path != NULL ? opts->unix_path : "");
	gate->timeout.tv_sec = opts->timeout_ms / 1000;
	gate->timeout.tv_usec = (opts->timeout_ms % 1000) * 1000;
	gate->last_attempt_ms = -GATE_RECONNECT_INTERVAL_MS;
	gate->was_up = 1;
	return gate;
}

/* Records why Redis is unusable, drops the context, logs the transition. */
static void gate_mark_down(struct gate *gate, const char *why)
{
	snprintf(gate->errmsg, sizeof(gate->errmsg), "%s", why);
	if (gate->ctx != NULL) {
		redisFree(gate->ctx);
		gate->ctx = NULL;
	}
	if (gate->was_up) {
		log_warn("redis unavailable: %s", gate->errmsg);
		gate->was_up = 0;
	}
}

void gate_free(struct gate *gate)
{
	if (gate == NULL)
		return;
	if (gate->ctx != NULL)
		redisFree(gate->ctx);
	free(gate->host);
	free(gate->unix_path);
	free(gate);
}

static int gate_connect(struct gate *gate)
{
	int64_t now = gate_now_ms();
	redisContext *c;

	if (gate->ctx != NULL)
		return 0;
	if (now - gate->last_attempt_ms < GATE_RECONNECT_INTERVAL_MS)
		return -1;
	gate->last_attempt_ms = now;
	if (gate->unix_path[0] != '\0')
		c = redisConnectUnixWithTimeout(gate->unix_path, gate->timeout);
	else
		c = redisConnectWithTimeout(gate->host, gate->port,
		    gate->timeout);
	if (c == NULL || c->err) {
		gate_mark_down(gate, c != NULL ? c->errstr : "out of memory");
		if (c != NULL)
			redisFree(c);
		return -1;
	}
	if (redisSetTimeout(c, gate->timeout) != REDIS_OK) {
		redisFree(c);
		gate_mark_down(gate, "cannot set the command timeout");
		return -1;
	}
	gate->ctx = c;
	gate->errmsg[0] = '\0';
	if (!gate->was_up)
		log_info("redis reachable again");
	gate->was_up = 1;
	return 0;
}

redisReply *gate_command(struct gate *gate, const char *fmt, ...)
{
	redisReply *reply;
	va_list ap;

	if (gate_connect(gate) < 0)
		return NULL;
	va_start(ap, fmt);
	reply = redisvCommand(gate->ctx, fmt, ap);
	va_end(ap);
	if (reply == NULL) {
		char why[sizeof(gate->ctx->errstr)];

		/* The context is about to be freed; keep its message. */
		snprintf(why, sizeof(why), "%s", gate->ctx->errstr);
		gate_mark_down(gate, why);
		return NULL;
	}
	return reply;
}

int gate_ping(struct gate *gate)
{
	redisReply *r = gate_command(gate, "PING");
	int ok;

	ok = r != NULL && r->type == REDIS_REPLY_STATUS &&
	    strcmp(r->str, "PONG") == 0;
	if (r != NULL)
		freeReplyObject(r);
	return ok;
}

const char *gate_errmsg(const struct gate *gate)
{
	return gate->errmsg;
}
