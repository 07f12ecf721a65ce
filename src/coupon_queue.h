/*
 * coupon_queue: coupon_strategy = queue, the design the project was first
 * specified with (docs/architecture.md, "Strategies"), made synchronous.
 *
 * A worker whose claim the gate let through appends it to one Redis stream
 * (COUPON_QUEUE_STREAM, XADD) and waits on its own reply list (BLPOP) for
 * the answer.  queue_consumers consumer processes (queue_consumer.c, forked
 * and supervised by the master like the reaper) read the stream in a
 * consumer group (XREADGROUP), commit up to queue_batch claims in one
 * statement that is its own transaction (coupon_queue_commit: one commit,
 * one WAL flush for the batch), push each claim's answer onto its worker's
 * list, and only then acknowledge the claims (XACK, XDEL).  So a worker
 * never answers before its claim is committed (201) or refused by the
 * database (409).
 *
 * Redis is a filter here too, never the truth: a claim Redis will not take
 * goes on the direct path (coupon_strategy = pessimistic's statement); a
 * claim whose answer does not come in time, or whose wait fails, is taken
 * over by its worker on the direct path, where the database's UNIQUE
 * (policy_id, user_id) makes whichever of the two commits second harmless.
 * A consumer that dies leaves its claims pending in the group: its
 * successor in the slot reads them again first, and any consumer claims
 * those idle too long (XAUTOCLAIM); such a redelivery is answered from the
 * database as it is (a user holding the coupon was issued it by this very
 * claim, since the gate admits a user once).
 */
#ifndef STOCKADE_COUPON_QUEUE_H
#define STOCKADE_COUPON_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "coupon_issue.h"
#include "db.h"
#include "json.h"
#include "redis.h"

/* The one stream of every policy's claims, and its consumer group. */
#define COUPON_QUEUE_STREAM "{coupon-queue}:claims"
#define COUPON_QUEUE_GROUP "consumers"

/* What a consumer answers a claim (the first column of
 * coupon_queue_commit, and the reply the worker reads). */
enum coupon_queue_answer {
	QUEUE_ISSUED,
	QUEUE_ALREADY_ISSUED,
	QUEUE_SOLD_OUT,
	QUEUE_NOT_OPEN,
	QUEUE_NOT_FOUND,
	QUEUE_DIRECT, /* not decided by the batch: the worker takes it */
	/* a redelivered claim whose coupon committed after the batch's
	 * snapshot (by the consumer that died): the worker reads it */
	QUEUE_HELD,
	QUEUE_ANSWER__MAX
};

/* "issued", "already_issued", ... "held", as the statement writes them. */
extern const char *const coupon_queue_answer_names[QUEUE_ANSWER__MAX];

/* A claim as the stream carries it (the fields of its entry). */
struct coupon_queue_claim {
	char id[48]; /* the stream entry's id */
	int64_t policy_id, user_id;
	char reply[64]; /* the waiting worker's reply list */
	int64_t seq; /* the worker's number for this claim */
	int redo; /* delivered before: a consumer may have committed it */
};

/*
 * Reads an entry's fields, n strings alternating name and value, into c
 * (its id and redo are the caller's).  Returns 0, or -1 when a field is
 * missing or malformed.
 */
int coupon_queue_claim_parse(struct coupon_queue_claim *c,
    const char *const *fields, size_t n);

/*
 * Formats the answer to claim seq into buf (size len): "SEQ ANSWER" and,
 * for QUEUE_ISSUED, " " and the coupon's JSON.  Returns 0, or -1 when it
 * does not fit.
 */
int coupon_queue_reply_format(char *buf, size_t len, int64_t seq,
    enum coupon_queue_answer a, const char *json);

/*
 * Parses a reply of len bytes: its claim number, its answer, and the
 * coupon's JSON (*json points into s; *json_len 0 when none).  Returns 0,
 * or -1 when it is not a reply.
 */
int coupon_queue_reply_parse(const char *s, size_t len, int64_t *seq,
    enum coupon_queue_answer *a, const char **json, size_t *json_len);

/* What became of a claim sent to the queue (coupon_queue_claim). */
enum coupon_queue_outcome {
	/* answered: ci->result set, the coupon written to w when issued */
	COUPON_QUEUE_ANSWERED,
	/* Redis did not take it (nothing queued): issue it directly */
	COUPON_QUEUE_NOT_SENT,
	/* a consumer left it undecided: issue it directly */
	COUPON_QUEUE_DIRECT,
	/*
	 * no answer in time, or the wait failed: the claim may have been
	 * committed, or may still be; the worker takes it over on the direct
	 * path (coupon_queue_held then tells whether the user holds a
	 * coupon, which is this claim's)
	 */
	COUPON_QUEUE_LOST,
	COUPON_QUEUE_OUTCOME__MAX
};

/*
 * Predicate: does step 3 of ci go to the queue?  coupon_strategy = queue,
 * no Idempotency-Key (its row must commit with the coupon, in the direct
 * path's transaction), and the gate did not find Redis down.
 */
int coupon_queue_wanted(const struct coupon_issue *ci, int keyed);

/*
 * Sends ci to the queue and waits for its answer until half of what is
 * left of the request's deadline, leaving the other half for a take-over.
 * Counts the outcome in the worker's counters.
 */
enum coupon_queue_outcome coupon_queue_claim(struct coupon_issue *ci,
    struct json_writer *w);

/*
 * After a take-over refused ci (already_issued, sold_out): does the user
 * hold a coupon of the policy now, which the queued claim issued?  If so
 * writes it to w, sets ci->result COUPON_ISSUED and returns 1; else 0 (a
 * read that fails counts as none: the refusal stands).
 */
int coupon_queue_held(struct coupon_issue *ci, struct json_writer *w);

/* ---------------------------------------------------------------------
 * The consumer side (queue_consumer.c runs it).
 */

struct coupon_queue_consumer;

/*
 * A consumer named name (unique among the consumers: a respawned one takes
 * its predecessor's name and so its pending claims) committing up to batch
 * claims per transaction on db, reading them through redis.  Never NULL.
 * Borrows db and redis.
 */
struct coupon_queue_consumer *coupon_queue_consumer_create(struct db *db,
    struct redis *redis, const char *name, int batch);
void coupon_queue_consumer_free(struct coupon_queue_consumer *qc);

/*
 * One round: its own pending claims first (after a start or a failure),
 * else once a second claims idle past COUPON_QUEUE_IDLE_MS from any
 * consumer, else new claims, waiting up to block_ms for some.  Commits
 * them, answers each, acknowledges them.  Returns the claims answered
 * (0: none came), or -1 when Redis or the database failed (the caller
 * pauses; the claims stay pending and are read again).
 */
int coupon_queue_consume(struct coupon_queue_consumer *qc, int block_ms);

/* Claims pending this long in the group are another consumer's to take. */
#define COUPON_QUEUE_IDLE_MS 2000

#endif
