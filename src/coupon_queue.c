/*
 * coupon_queue: see coupon_queue.h.
 *
 * The worker's side is a few commands: XADD, then BLPOP on its reply list
 * ("{coupon-queue}:reply:PID") until its claim's answer comes; answers to
 * earlier claims it stopped waiting for are skipped by their number.  The
 * consumer's side is a loop of rounds: read a batch, commit it in one
 * statement (sql/queries/coupon_issue.sql, coupon_queue_commit), answer
 * each claim and acknowledge the batch in one pipeline.  Nothing is
 * acknowledged before its answer is pushed, and nothing answered before its
 * commit: a consumer dying anywhere leaves its claims pending, for a
 * redelivery that the statement answers from the database as it is.
 */
#include "coupon_queue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "num.h"
#include "queries.h"
#include "xmalloc.h"

const char *const coupon_queue_answer_names[QUEUE_ANSWER__MAX] = {
	"issued",
	"already_issued",
	"sold_out",
	"not_open",
	"not_found",
	"direct",
	"held",
};

/* The stream is trimmed to about this many entries (XADD MAXLEN ~): a
 * bound on Redis memory should consumers stop; a claim trimmed unread is
 * taken over by its worker like any claim not answered in time. */
#define COUPON_QUEUE_MAXLEN "100000"
/* A reply list outlives its worker by this long (PEXPIRE, ms). */
#define COUPON_QUEUE_REPLY_TTL "60000"
/* The longest reply: the answer and a coupon's JSON (about 330 bytes). */
#define COUPON_QUEUE_REPLY_MAX 1024
/* How often a consumer looks for claims idle in another's hands. */
#define COUPON_QUEUE_AUTOCLAIM_EVERY_MS 1000

/* ---------------------------------------------------------------------
 * The messages (pure; t/check_coupon_queue.c).
 */

/* Parses value (vlen bytes) as a positive int64 into *out; 0 or -1. */
static int coupon_queue_field_i64(const char *value, int64_t *out)
{
	return num_parse(value, 1, INT64_MAX, out);
}

int coupon_queue_claim_parse(struct coupon_queue_claim *c,
    const char *const *fields, size_t n)
{
	int have = 0;

	if (n % 2 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		const char *k = fields[i], *v = fields[i + 1];

		if (k == NULL || v == NULL)
			return -1;
		if (strcmp(k, "p") == 0 &&
		    coupon_queue_field_i64(v, &c->policy_id) == 0)
			have |= 1;
		else if (strcmp(k, "u") == 0 &&
		    coupon_queue_field_i64(v, &c->user_id) == 0)
			have |= 2;
		else if (strcmp(k, "s") == 0 &&
		    coupon_queue_field_i64(v, &c->seq) == 0)
			have |= 4;
		else if (strcmp(k, "r") == 0 && v[0] != '\0' &&
		    strlen(v) < sizeof(c->reply)) {
			memcpy(c->reply, v, strlen(v) + 1);
			have |= 8;
		}
	}
	return have == 15 ? 0 : -1;
}

int coupon_queue_reply_format(char *buf, size_t len, int64_t seq,
    enum coupon_queue_answer a, const char *json)
{
	int n;

	if (a < 0 || a >= QUEUE_ANSWER__MAX ||
	    (a == QUEUE_ISSUED) != (json != NULL))
		return -1;
	n = snprintf(buf, len, "%" PRId64 " %s%s%s", seq,
	    coupon_queue_answer_names[a], json != NULL ? " " : "",
	    json != NULL ? json : "");
	return n >= 0 && (size_t)n < len ? 0 : -1;
}

int coupon_queue_reply_parse(const char *s, size_t len, int64_t *seq,
    enum coupon_queue_answer *a, const char **json, size_t *json_len)
{
	const char *sp = memchr(s, ' ', len), *word, *end = s + len, *sp2;
	size_t wlen;

	if (sp == NULL ||
	    num_parse_n(s, (size_t)(sp - s), 1, INT64_MAX, seq) < 0)
		return -1;
	word = sp + 1;
	sp2 = memchr(word, ' ', (size_t)(end - word));
	wlen = (size_t)((sp2 != NULL ? sp2 : end) - word);
	*json = NULL;
	*json_len = 0;
	for (int i = 0; i < QUEUE_ANSWER__MAX; i++) {
		if (strlen(coupon_queue_answer_names[i]) != wlen ||
		    memcmp(word, coupon_queue_answer_names[i], wlen) != 0)
			continue;
		*a = (enum coupon_queue_answer)i;
		if (sp2 != NULL) {
			*json = sp2 + 1;
			*json_len = (size_t)(end - *json);
		}
		/* An issue carries its coupon, and only an issue does. */
		return (i == QUEUE_ISSUED) == (*json_len > 0) ? 0 : -1;
	}
	return -1;
}

/* ---------------------------------------------------------------------
 * The worker's side.
 */

int coupon_queue_wanted(const struct coupon_issue *ci, int keyed)
{
	return ci->app->cfg->coupon_strategy == COUPON_QUEUE && !keyed &&
	    !ci->redis_down;
}

/* The worker's reply list. */
static void coupon_queue_reply_key(char *buf, size_t len)
{
	snprintf(buf, len, "{coupon-queue}:reply:%ld", (long)getpid());
}

/*
 * Reads an answer to claim seq from one BLPOP reply: 1 when it was this
 * claim's (ci->result set, the coupon written), 0 when it was an earlier
 * claim's or none, -1 when it makes no sense (the claim is then lost).
 */
static int coupon_queue_take_reply(struct coupon_issue *ci, redisReply *r,
    int64_t seq, struct json_writer *w, enum coupon_queue_answer *a)
{
	static const enum coupon_issue_result results[QUEUE_ANSWER__MAX] = {
		[QUEUE_ISSUED] = COUPON_ISSUED,
		[QUEUE_ALREADY_ISSUED] = COUPON_ALREADY_ISSUED,
		[QUEUE_SOLD_OUT] = COUPON_SOLD_OUT,
		[QUEUE_NOT_OPEN] = COUPON_NOT_OPEN,
		[QUEUE_NOT_FOUND] = COUPON_NOT_FOUND,
		[QUEUE_DIRECT] = COUPON_UNDECIDED,
		[QUEUE_HELD] = COUPON_UNDECIDED,
	};
	const redisReply *e;
	const char *json;
	size_t json_len;
	int64_t got;

	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[1]->type != REDIS_REPLY_STRING)
		return -1;
	e = r->element[1];
	if (coupon_queue_reply_parse(e->str, e->len, &got, a, &json,
	        &json_len) < 0)
		return -1;
	if (got != seq)
		return 0; /* an earlier claim's, answered after its wait */
	ci->result = results[*a];
	if (*a == QUEUE_ISSUED)
		json_write_raw(w, json, json_len);
	return 1;
}

/* BLPOP's timeout, in seconds, for a wait until until_ms (at least 1 ms:
 * 0 would block for ever). */
static int64_t coupon_queue_blpop_secs(char *buf, size_t len, int64_t until_ms)
{
	int64_t left = until_ms - clock_ms();

	if (left < 1)
		left = 1;
	snprintf(buf, len, "%.3f", (double)left / 1000.0);
	return left;
}

/*
 * What one BLPOP reply r (freed here) says of claim seq: ANSWERED (a
 * "held" answer read from the database), DIRECT, or LOST when it makes no
 * sense; *more is set instead when it was an earlier claim's answer or
 * none came, and the caller waits on.
 */
static enum coupon_queue_outcome
coupon_queue_outcome_of(struct coupon_issue *ci, redisReply *r, int64_t seq,
    struct json_writer *w, int *more)
{
	enum coupon_queue_answer a;
	int got = coupon_queue_take_reply(ci, r, seq, w, &a);

	freeReplyObject(r);
	*more = got == 0;
	if (got < 0)
		return COUPON_QUEUE_LOST;
	if (got == 0)
		return COUPON_QUEUE_LOST; /* unless *more: the caller waits */
	if (a == QUEUE_HELD) /* its coupon, committed: read it */
		return coupon_queue_held(ci, w) ? COUPON_QUEUE_ANSWERED
		                                : COUPON_QUEUE_DIRECT;
	return a == QUEUE_DIRECT ? COUPON_QUEUE_DIRECT : COUPON_QUEUE_ANSWERED;
}

/*
 * Sends the claim (XADD) and its first wait for the answer (BLPOP) in one
 * round trip.  A claim Redis refused (an error reply to XADD: nothing
 * queued) is NOT_SENT once that wait is over; Redis unreachable before
 * anything was sent is NOT_SENT at once; a connection that broke once
 * they were sent is LOST (the claim may be in the stream).
 */
static enum coupon_queue_outcome coupon_queue_send(struct coupon_issue *ci,
    const char *reply, int64_t seq, int64_t until_ms, struct json_writer *w,
    int *more)
{
	char s[NUM_I64_LEN], secs[32];
	const char *xadd[] = { "XADD", COUPON_QUEUE_STREAM, "MAXLEN", "~",
		COUPON_QUEUE_MAXLEN, "*", "p", ci->policy, "u", ci->user, "r",
		reply, "s", num_format(s, seq) };
	const char *blpop[] = { "BLPOP", reply, secs };
	const char **argv[] = { xadd, blpop };
	int argc[] = { (int)(sizeof(xadd) / sizeof(xadd[0])), 3 };
	redisReply *r[2];
	int64_t left = coupon_queue_blpop_secs(secs, sizeof(secs), until_ms);
	int rc = redis_pipeline(ci->app->redis, (int)left, 2, argc, argv, r);

	*more = 0;
	if (rc != 0)
		return rc == -2 ? COUPON_QUEUE_NOT_SENT : COUPON_QUEUE_LOST;
	if (r[0]->type != REDIS_REPLY_STRING) {
		log_warn("coupon queue: XADD refused (%s); issuing directly",
		    r[0]->type == REDIS_REPLY_ERROR ? r[0]->str : "no id");
		freeReplyObject(r[0]);
		freeReplyObject(r[1]);
		return COUPON_QUEUE_NOT_SENT;
	}
	freeReplyObject(r[0]);
	return coupon_queue_outcome_of(ci, r[1], seq, w, more);
}

/* Waits on, until until_ms, past answers to earlier claims. */
static enum coupon_queue_outcome coupon_queue_wait(struct coupon_issue *ci,
    const char *reply, int64_t seq, int64_t until_ms, struct json_writer *w)
{
	enum coupon_queue_outcome q = COUPON_QUEUE_LOST;
	char secs[32];
	const char *argv[] = { "BLPOP", reply, secs };
	int more = 1;
	redisReply *r;
	int64_t left;

	while (more && until_ms - clock_ms() > 0) {
		left = coupon_queue_blpop_secs(secs, sizeof(secs), until_ms);
		if ((r = redis_command_wait(ci->app->redis, (int)left, 3,
		         argv)) == NULL)
			return COUPON_QUEUE_LOST;
		q = coupon_queue_outcome_of(ci, r, seq, w, &more);
	}
	return more ? COUPON_QUEUE_LOST : q;
}

enum coupon_queue_outcome coupon_queue_claim(struct coupon_issue *ci,
    struct json_writer *w)
{
	struct app *app = ci->app;
	char reply[64];
	int64_t seq = ++app->queue_seq, now = clock_ms(), until;
	enum coupon_queue_outcome q;
	int more;

	coupon_queue_reply_key(reply, sizeof(reply));
	/* Half of what is left: the other half is for a take-over. */
	until = now + (app->deadline_ms - now) / 2;
	q = coupon_queue_send(ci, reply, seq, until, w, &more);
	if (more)
		q = coupon_queue_wait(ci, reply, seq, until, w);
	app_count(app,
	    q == COUPON_QUEUE_ANSWERED   ? COUNTER_COUPON_QUEUE_ANSWERED
	        : q == COUPON_QUEUE_LOST ? COUNTER_COUPON_QUEUE_TAKEOVERS
	                                 : COUNTER_COUPON_QUEUE_DIRECT);
	if (q == COUPON_QUEUE_LOST)
		log_warn("coupon %" PRId64 " of user %" PRId64 ": no answer "
		         "from the queue in time (%s); taking the claim over",
		    ci->policy_id, ci->user_id,
		    redis_errmsg(app->redis)[0] ? redis_errmsg(app->redis)
		                                : "timeout");
	return q;
}

int coupon_queue_held(struct coupon_issue *ci, struct json_writer *w)
{
	const char *params[] = { ci->policy, ci->user };
	enum db_status st;
	PGresult *r;
	int held;

	r = db_query(ci->app->db, &coupon_held_json_stmt, params, &st);
	if (r == NULL)
		return 0;
	held = PQntuples(r) == 1;
	if (held) {
		json_write_raw(w, PQgetvalue(r, 0, 0),
		    (size_t)PQgetlength(r, 0, 0));
		ci->result = COUPON_ISSUED;
	}
	PQclear(r);
	return held;
}

/* ---------------------------------------------------------------------
 * The consumer's side.
 */

struct coupon_queue_consumer {
	struct db *db;
	struct redis *redis;
	char name[64];
	int batch;
	int own_pending; /* read this consumer's pending claims first */
	int group_ready; /* the group exists, as far as we know */
	int64_t autoclaim_ms; /* the next XAUTOCLAIM, clock_ms */
	struct coupon_queue_claim *claims; /* this round's, up to batch */
	int n;
	char (*drop)[48]; /* ids to acknowledge without an answer */
	int ndrop;
	char (*answers)[COUPON_QUEUE_REPLY_MAX];
	char count[NUM_I64_LEN], block[NUM_I64_LEN]; /* XREADGROUP's */
	int block_ms;
	/* The next round's read, sent with this round's answers (chained) */
	redisReply *next;
	char *arrays[3]; /* the statement's array parameters */
	size_t array_len;
};

struct coupon_queue_consumer *coupon_queue_consumer_create(struct db *db,
    struct redis *redis, const char *name, int batch)
{
	struct coupon_queue_consumer *qc = xcalloc(1, sizeof(*qc));

	qc->db = db;
	qc->redis = redis;
	snprintf(qc->name, sizeof(qc->name), "%s", name);
	qc->batch = batch;
	num_format(qc->count, batch);
	qc->own_pending = 1;
	qc->claims = xcalloc((size_t)batch, sizeof(*qc->claims));
	qc->drop = xcalloc((size_t)batch, sizeof(*qc->drop));
	qc->answers = xcalloc((size_t)batch, sizeof(*qc->answers));
	qc->array_len = (size_t)batch * NUM_I64_LEN + 3;
	for (int i = 0; i < 3; i++)
		qc->arrays[i] = xmalloc(qc->array_len);
	return qc;
}

void coupon_queue_consumer_free(struct coupon_queue_consumer *qc)
{
	if (qc == NULL)
		return;
	if (qc->next != NULL)
		freeReplyObject(qc->next);
	for (int i = 0; i < 3; i++)
		free(qc->arrays[i]);
	free(qc->answers);
	free(qc->drop);
	free(qc->claims);
	free(qc);
}

/* Creates the group (and the stream) unless it exists; 0 or -1. */
static int coupon_queue_group(struct coupon_queue_consumer *qc)
{
	/* From "0": after a FLUSHALL the stream is new, and every entry in
	 * it a claim some worker waits for. */
	const char *argv[] = { "XGROUP", "CREATE", COUPON_QUEUE_STREAM,
		COUPON_QUEUE_GROUP, "0", "MKSTREAM" };
	redisReply *r = redis_command_argv(qc->redis, 6, argv);
	int ok;

	if (r == NULL)
		return -1;
	ok = r->type == REDIS_REPLY_STATUS ||
	    (r->type == REDIS_REPLY_ERROR &&
	        strncmp(r->str, "BUSYGROUP", 9) == 0);
	if (!ok)
		log_warn("coupon queue: XGROUP CREATE: %s", r->str);
	freeReplyObject(r);
	qc->group_ready = ok;
	return ok ? 0 : -1;
}

/* Adds one entry ([id, [field, value, ...]]) to the round's claims. */
static void coupon_queue_add_entry(struct coupon_queue_consumer *qc,
    const redisReply *e, int redo)
{
	const char *fields[16];
	struct coupon_queue_claim *c;
	const redisReply *f;
	size_t nf;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING ||
	    e->element[0]->len >= sizeof(c->id))
		return;
	f = e->element[1];
	nf = f->type == REDIS_REPLY_ARRAY ? f->elements : 0;
	c = &qc->claims[qc->n];
	memset(c, 0, sizeof(*c));
	memcpy(c->id, e->element[0]->str, e->element[0]->len + 1);
	c->redo = redo;
	for (size_t i = 0; i < nf && i < 16; i++)
		fields[i] = f->element[i]->type == REDIS_REPLY_STRING
		    ? f->element[i]->str
		    : NULL;
	/* Deleted (nil fields) or malformed: acknowledged, never answered. */
	if (nf == 0 || nf > 16 || coupon_queue_claim_parse(c, fields, nf) < 0) {
		memcpy(qc->drop[qc->ndrop++], c->id, sizeof(c->id));
		return;
	}
	qc->n++;
}

/* Adds the entries of an array of them; redo: delivered before. */
static void coupon_queue_add_entries(struct coupon_queue_consumer *qc,
    const redisReply *entries, int redo)
{
	if (entries->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i < entries->elements && qc->n < qc->batch &&
	     qc->ndrop < qc->batch;
	     i++)
		coupon_queue_add_entry(qc, entries->element[i], redo);
}

/*
 * A reply from Redis to a read of the group: NULL (the connection) or an
 * error is -1, and NOGROUP (the stream or group gone: FLUSHALL, a restart
 * without persistence) makes the next round create it again.
 */
static int coupon_queue_read_ok(struct coupon_queue_consumer *qc, redisReply *r)
{
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ERROR)
		return 0;
	if (strncmp(r->str, "NOGROUP", 7) == 0)
		qc->group_ready = 0;
	else
		log_warn("coupon queue: %s", r->str);
	freeReplyObject(r);
	return -1;
}

/* An XREADGROUP (see coupon_queue_read) in argv; returns its argc. */
static int coupon_queue_read_argv(struct coupon_queue_consumer *qc, int redo,
    const char *argv[12])
{
	int argc = 0;

	argv[argc++] = "XREADGROUP";
	argv[argc++] = "GROUP";
	argv[argc++] = COUPON_QUEUE_GROUP;
	argv[argc++] = qc->name;
	argv[argc++] = "COUNT";
	argv[argc++] = qc->count;
	if (!redo) {
		argv[argc++] = "BLOCK";
		argv[argc++] = qc->block;
	}
	argv[argc++] = "STREAMS";
	argv[argc++] = COUPON_QUEUE_STREAM;
	argv[argc++] = redo ? "0" : ">";
	return argc;
}

/* Adds the claims of an XREADGROUP reply r (freed here); 0 or -1. */
static int coupon_queue_take_read(struct coupon_queue_consumer *qc,
    redisReply *r, int redo)
{
	if (coupon_queue_read_ok(qc, r) < 0)
		return -1;
	/* [[stream, [entries]]], or nil when none came in block_ms. */
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements == 2)
		coupon_queue_add_entries(qc, r->element[0]->element[1], redo);
	freeReplyObject(r);
	return 0;
}

/*
 * XREADGROUP: this consumer's pending claims (redo: delivered before, read
 * from "0" at once), or new ones (">"), waiting up to qc->block ms.
 */
static int coupon_queue_read(struct coupon_queue_consumer *qc, int redo)
{
	const char *argv[12];
	int argc = coupon_queue_read_argv(qc, redo, argv);

	return coupon_queue_take_read(qc,
	    redis_command_wait(qc->redis, redo ? 0 : qc->block_ms, argc, argv),
	    redo);
}

/*
 * XAUTOCLAIM: claims pending longer than COUPON_QUEUE_IDLE_MS with any
 * consumer (one that died and was not replaced under its name, or one of
 * an older generation) become this one's, as redeliveries.
 */
static int coupon_queue_autoclaim(struct coupon_queue_consumer *qc)
{
	char count[NUM_I64_LEN], idle[NUM_I64_LEN];
	const char *argv[] = { "XAUTOCLAIM", COUPON_QUEUE_STREAM,
		COUPON_QUEUE_GROUP, qc->name,
		num_format(idle, COUPON_QUEUE_IDLE_MS), "0-0", "COUNT",
		num_format(count, qc->batch) };
	redisReply *r;

	r = redis_command_argv(qc->redis, 8, argv);
	if (coupon_queue_read_ok(qc, r) < 0)
		return -1;
	/* [next cursor, [entries], [deleted ids]] */
	if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2)
		coupon_queue_add_entries(qc, r->element[1], 1);
	if (qc->n > 0)
		log_info("coupon queue: claimed %d claims left idle by another "
		         "consumer",
		    qc->n);
	freeReplyObject(r);
	return 0;
}

/* Writes the claims' policies, users and redo flags as array literals. */
static void coupon_queue_arrays(struct coupon_queue_consumer *qc)
{
	size_t off[3] = { 0, 0, 0 };
	char num[NUM_I64_LEN];

	for (int i = 0; i < qc->n; i++) {
		const char *sep = i == 0 ? "{" : ",";

		off[0] += (size_t)snprintf(qc->arrays[0] + off[0],
		    qc->array_len - off[0], "%s%s", sep,
		    num_format(num, qc->claims[i].policy_id));
		off[1] += (size_t)snprintf(qc->arrays[1] + off[1],
		    qc->array_len - off[1], "%s%s", sep,
		    num_format(num, qc->claims[i].user_id));
		off[2] += (size_t)snprintf(qc->arrays[2] + off[2],
		    qc->array_len - off[2], "%s%s", sep,
		    qc->claims[i].redo ? "t" : "f");
	}
	for (int k = 0; k < 3; k++)
		snprintf(qc->arrays[k] + off[k], qc->array_len - off[k], "}");
}

/* Formats claim i's answer a (with json when issued) for its worker. */
static void coupon_queue_answer(struct coupon_queue_consumer *qc, int i,
    enum coupon_queue_answer a, const char *json)
{
	if (coupon_queue_reply_format(qc->answers[i], sizeof(qc->answers[i]),
	        qc->claims[i].seq, a, json) < 0)
		/* Too long to carry: the worker issues it directly, where
		 * the database finds the coupon this claim took. */
		(void)coupon_queue_reply_format(qc->answers[i],
		    sizeof(qc->answers[i]), qc->claims[i].seq, QUEUE_DIRECT,
		    NULL);
}

/* Reads the statement's row i into claim i's answer. */
static void coupon_queue_read_row(struct coupon_queue_consumer *qc, PGresult *r,
    int i)
{
	const char *name = PQgetvalue(r, i, 0);

	for (int a = 0; a < QUEUE_ANSWER__MAX; a++) {
		if (strcmp(name, coupon_queue_answer_names[a]) != 0)
			continue;
		if (a == QUEUE_ISSUED && PQgetisnull(r, i, 1))
			break;
		coupon_queue_answer(qc, i, (enum coupon_queue_answer)a,
		    a == QUEUE_ISSUED ? PQgetvalue(r, i, 1) : NULL);
		return;
	}
	coupon_queue_answer(qc, i, QUEUE_DIRECT, NULL);
}

/*
 * Commits the round's claims in one statement and formats their answers.
 * Returns 0 when every claim has an answer (a database that refused the
 * statement, nothing written, answers "direct": the workers then meet the
 * failure themselves), -1 when the outcome is unknown (the connection broke
 * after the statement was sent): the claims stay pending, to be read
 * again.
 */
static int coupon_queue_commit(struct coupon_queue_consumer *qc)
{
	const char *params[] = { qc->arrays[0], qc->arrays[1], qc->arrays[2] };
	enum db_status st;
	PGresult *r;

	coupon_queue_arrays(qc);
	r = db_query(qc->db, &coupon_queue_commit_stmt, params, &st);
	if (r == NULL && st == DB_UNKNOWN) {
		log_warn(
		    "coupon queue: the outcome of a batch of %d claims was "
		    "lost (%s); reading them again",
		    qc->n, db_errmsg(qc->db));
		return -1;
	}
	if (r != NULL && PQntuples(r) != qc->n) {
		/* Committed, but not one answer per claim: read them again,
		 * as redeliveries answered from the database as it is. */
		log_error("coupon queue: a batch of %d claims returned %d rows",
		    qc->n, PQntuples(r));
		PQclear(r);
		return -1;
	}
	if (r == NULL) {
		log_warn("coupon queue: a batch of %d claims failed (%s %s); "
		         "their workers issue them directly",
		    qc->n, db_status_names[st], db_errmsg(qc->db));
		for (int i = 0; i < qc->n; i++)
			coupon_queue_answer(qc, i, QUEUE_DIRECT, NULL);
	} else {
		for (int i = 0; i < qc->n; i++)
			coupon_queue_read_row(qc, r, i);
	}
	if (r != NULL)
		PQclear(r);
	return 0;
}

/*
 * Sends the n commands of a round's pipeline; 0, or -1 on failure.  With
 * chained, the last is the next round's read: its reply is kept in
 * qc->next, and Redis may hold it up to qc->block_ms.
 */
static int coupon_queue_pipeline(struct coupon_queue_consumer *qc, int n,
    const int *argc, const char **const *argv, int chained)
{
	redisReply **replies = xcalloc((size_t)n, sizeof(*replies));
	int rc = redis_pipeline(qc->redis, chained ? qc->block_ms : 0, n, argc,
	    argv, replies);

	if (rc == 0 && chained) {
		qc->next = replies[n - 1];
		replies[n - 1] = NULL;
	}
	for (int i = 0; i < n; i++) {
		if (replies[i] == NULL)
			continue;
		if (replies[i]->type == REDIS_REPLY_ERROR) {
			log_warn("coupon queue: %s", replies[i]->str);
			rc = -1;
		}
		freeReplyObject(replies[i]);
	}
	free(replies);
	return rc;
}

/*
 * Pushes every answer to its worker's list, then acknowledges and deletes
 * the claims and the dropped entries, in one pipeline: RPUSH and PEXPIRE
 * per claim, then XACK and XDEL, and with chained the next round's read
 * (one round trip less per batch).  Returns 0, or -1 when Redis failed (the
 * claims stay pending: their redelivery answers from the database).
 */
static int coupon_queue_reply(struct coupon_queue_consumer *qc, int chained)
{
	int ncmd = 2 * qc->n + 3, nids = qc->n + qc->ndrop, k = 0, rc;
	const char *read[12];
	int *argc = xcalloc((size_t)ncmd, sizeof(*argc));
	const char ***argv = xcalloc((size_t)ncmd, sizeof(*argv));
	const char **words = xcalloc((size_t)qc->n * 6 + 1, sizeof(*words));
	const char **ack = xcalloc((size_t)nids + 3, sizeof(*ack));
	const char **del = xcalloc((size_t)nids + 2, sizeof(*del));

	for (int i = 0; i < qc->n; i++) {
		const char **push = &words[6 * i], **ttl = &words[6 * i + 3];

		push[0] = "RPUSH";
		push[1] = qc->claims[i].reply;
		push[2] = qc->answers[i];
		ttl[0] = "PEXPIRE";
		ttl[1] = qc->claims[i].reply;
		ttl[2] = COUPON_QUEUE_REPLY_TTL;
		argv[k] = push;
		argc[k++] = 3;
		argv[k] = ttl;
		argc[k++] = 3;
	}
	ack[0] = "XACK";
	ack[1] = COUPON_QUEUE_STREAM;
	ack[2] = COUPON_QUEUE_GROUP;
	del[0] = "XDEL";
	del[1] = COUPON_QUEUE_STREAM;
	for (int i = 0; i < nids; i++) {
		ack[3 + i] = i < qc->n ? qc->claims[i].id : qc->drop[i - qc->n];
		del[2 + i] = ack[3 + i];
	}
	argv[k] = ack;
	argc[k++] = 3 + nids;
	argv[k] = del;
	argc[k++] = 2 + nids;
	if (chained) {
		argv[k] = read;
		argc[k++] = coupon_queue_read_argv(qc, 0, read);
	}
	rc = coupon_queue_pipeline(qc, k, argc, argv, chained);
	free(del);
	free(ack);
	free(words);
	free(argv);
	free(argc);
	return rc;
}

/* Predicate: is the next round's read a plain read of new claims? */
static int coupon_queue_plain_next(const struct coupon_queue_consumer *qc)
{
	return !qc->own_pending && clock_ms() < qc->autoclaim_ms;
}

/* Reads this round's claims; 0, or -1 when Redis failed. */
static int coupon_queue_gather(struct coupon_queue_consumer *qc)
{
	int64_t now = clock_ms();
	redisReply *next = qc->next;

	qc->n = qc->ndrop = 0;
	qc->next = NULL;
	if (next != NULL) /* read with the last round's answers */
		return coupon_queue_take_read(qc, next, 0);
	if (!qc->group_ready && coupon_queue_group(qc) < 0)
		return -1;
	if (qc->own_pending) {
		if (coupon_queue_read(qc, 1) < 0)
			return -1;
		/* Read them all (a batch at a time), then go on. */
		qc->own_pending = qc->n + qc->ndrop > 0;
		if (qc->own_pending)
			return 0;
	}
	if (now >= qc->autoclaim_ms) {
		qc->autoclaim_ms = now + COUPON_QUEUE_AUTOCLAIM_EVERY_MS;
		if (coupon_queue_autoclaim(qc) < 0)
			return -1;
		if (qc->n + qc->ndrop > 0)
			return 0;
	}
	return coupon_queue_read(qc, 0);
}

int coupon_queue_consume(struct coupon_queue_consumer *qc, int block_ms)
{
	qc->block_ms = block_ms;
	num_format(qc->block, block_ms);
	if (coupon_queue_gather(qc) < 0)
		return -1;
	if (qc->n > 0 && coupon_queue_commit(qc) < 0) {
		qc->own_pending = 1;
		return -1;
	}
	if (qc->n + qc->ndrop > 0 &&
	    coupon_queue_reply(qc, coupon_queue_plain_next(qc)) < 0) {
		qc->own_pending = 1;
		return -1;
	}
	return qc->n;
}
