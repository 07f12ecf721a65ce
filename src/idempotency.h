/*
 * idempotency: at-most-once execution of value-moving POSTs per
 * (user, Idempotency-Key), shared by orders, points and coupons.
 *
 * idempotency_transaction runs the caller's effect inside one database
 * transaction that also (first) takes a transaction-scoped advisory lock on
 * the key and looks for a stored answer, and (last) stores the effect's 2xx
 * answer.  So the key is recorded exactly when the effect commits, and:
 *   - a retry with the same body gets the stored status and body again,
 *     marked "Idempotent-Replayed: true";
 *   - the same key with another body gets 422 idempotency_key_reused;
 *   - a retry while the first still runs gets 409 request_in_progress;
 *   - an effect that fails or refuses (4xx) stores nothing, so a retry runs
 *     it again: only a success is an execution.
 * Without a key the effect simply runs in a transaction.
 */
#ifndef STOCKADE_IDEMPOTENCY_H
#define STOCKADE_IDEMPOTENCY_H

#include "db.h"
#include "http.h"

/*
 * The effect: runs inside the transaction and fills res.  Returns DB_OK
 * when res holds the answer: a 2xx commits (and is stored under the key),
 * any other answer (a refusal: 404, 409...) rolls back and stores nothing.
 * Any other status is a database failure (res unset), which rolls back.
 */
typedef enum db_status (
    *idempotency_effect_fn)(struct db *db, struct response *res, void *arg);

/*
 * Runs effect as described above.  Returns DB_OK when res holds the answer:
 * the effect's, a replay (res->replayed set), or a key problem (422
 * idempotency_key_reused, 409 request_in_progress with Retry-After:
 * retry_after_s); any other status is a database failure for the caller to
 * report (api_db_failure).  A replay restores status and body; headers are
 * the caller's to restore (api_order_create rebuilds Location).
 */
enum db_status idempotency_transaction(struct db *db, const struct request *req,
    struct response *res, int retry_after_s, idempotency_effect_fn effect,
    void *arg);

/*
 * Answers from a stored key record: columns col, col + 1 and col + 2 of
 * r's first row are its request hash, status and body.  The same request
 * (hash) gets the stored answer again, marked Idempotent-Replayed (and
 * res->replayed); another gets 422 idempotency_key_reused.  Returns DB_OK,
 * or DB_ERROR for a stored status that is not an integer.
 */
enum db_status idempotency_answer_stored(struct response *res, const char *hash,
    const PGresult *r, int col);

/* The SHA-256 (hex) of method, path and body that identifies a request. */
void idempotency_request_hash(const struct request *req, char hex[65]);

/* Deletes records older than ttl_ms; sets *deleted.  Used by the reaper. */
enum db_status idempotency_purge(struct db *db, int ttl_ms, long *deleted);

#endif
