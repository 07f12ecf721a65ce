/*
 * gate: see gate.h.  Like hiredis's own examples, errors are read from the
 * context (c->err, c->errstr); a context with an error is freed, never
 * reused, because hiredis leaves it in an undefined protocol state.
 */
#include "gate.h"

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

struct gate {
	char *host;
	int port;
	char *unix_path;
	struct timeval timeout;
	redisContext *ctx;
	int64_t last_attempt_ms;
	int was_up; /* to log transitions, not every failure */
	char run_id[48]; /* of the server behind ctx */
	char errmsg[256];
};

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
	gate->run_id[0] = '\0';
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

/*
 * Reads run_id from INFO server.  A failure leaves it empty, which callers
 * treat as "unknown": never equal to a stored one, so at worst a gate is
 * rebuilt once more than needed.
 */
static void gate_read_run_id(struct gate *gate)
{
	redisReply *r = redisCommand(gate->ctx, "INFO server");
	const char *p;
	size_t n;

	gate->run_id[0] = '\0';
	if (r == NULL)
		return; /* the next command finds the broken context */
	if (r->type == REDIS_REPLY_STRING) {
		p = strstr(r->str, "run_id:");
		if (p != NULL) {
			p += strlen("run_id:");
			n = strcspn(p, "\r\n");
			if (n < sizeof(gate->run_id))
				snprintf(gate->run_id, sizeof(gate->run_id),
				    "%.*s", (int)n, p);
		}
	}
	freeReplyObject(r);
}

static int gate_connect(struct gate *gate)
{
	int64_t now = clock_ms();
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
	gate_read_run_id(gate);
	if (!gate->was_up)
		log_info("redis reachable again");
	gate->was_up = 1;
	return 0;
}

/* A NULL reply means the connection broke: drop it, keep the reason. */
static redisReply *gate_checked(struct gate *gate, redisReply *reply)
{
	char why[sizeof(gate->ctx->errstr)];

	if (reply != NULL)
		return reply;
	/* The context is about to be freed; keep its message. */
	snprintf(why, sizeof(why), "%s", gate->ctx->errstr);
	gate_mark_down(gate, why);
	return NULL;
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
	return gate_checked(gate, reply);
}

redisReply *gate_command_argv(struct gate *gate, int argc, const char **argv)
{
	if (gate_connect(gate) < 0)
		return NULL;
	return gate_checked(gate,
	    redisCommandArgv(gate->ctx, argc, argv, NULL));
}

void gate_script_prepare(struct gate_script *script)
{
	unsigned char md[SHA_DIGEST_LENGTH];

	if (script->sha[0] != '\0')
		return;
	SHA1((const unsigned char *)script->source, strlen(script->source), md);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		snprintf(script->sha + 2 * i, 3, "%02x", md[i]);
}

redisReply *gate_eval(struct gate *gate, struct gate_script *script, int nkeys,
    const char *const *args, int nargs)
{
	const char *argv[3 + GATE_EVAL_ARGS_MAX];
	char numkeys[16];
	int n = nkeys + nargs;
	redisReply *r;

	if (nkeys < 0 || nargs < 0 || n > GATE_EVAL_ARGS_MAX)
		return NULL;
	gate_script_prepare(script);
	snprintf(numkeys, sizeof(numkeys), "%d", nkeys);
	argv[0] = "EVALSHA";
	argv[1] = script->sha;
	argv[2] = numkeys;
	for (int i = 0; i < n; i++)
		argv[3 + i] = args[i];
	r = gate_command_argv(gate, 3 + n, argv);
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0) {
		/* Redis lost its script cache: EVAL sends the source and
		 * caches it again for the next EVALSHA. */
		freeReplyObject(r);
		argv[0] = "EVAL";
		argv[1] = script->source;
		r = gate_command_argv(gate, 3 + n, argv);
	}
	return r;
}

int gate_load(struct gate *gate, struct gate_script *script)
{
	const char *argv[] = { "SCRIPT", "LOAD", script->source };
	redisReply *r;
	int ok;

	gate_script_prepare(script);
	r = gate_command_argv(gate, 3, argv);
	ok = r != NULL && r->type == REDIS_REPLY_STRING &&
	    strcmp(r->str, script->sha) == 0;
	if (r != NULL)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

const char *gate_run_id(const struct gate *gate)
{
	return gate->run_id;
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
