/*
 * idempotency: see idempotency.h.
 *
 * Why an advisory lock and not just the primary key: a second request with
 * the key must answer 409 at once while the first is running, not wait on
 * the first one's uncommitted row.  pg_try_advisory_xact_lock answers
 * without waiting and is released by COMMIT or ROLLBACK, so it can never
 * leak.  The lock key is a 64-bit hash of (user, key); a collision between
 * two live keys would only cause a spurious 409 for the later one.
 *
 * The lookup takes the lock and reads the key in one statement, whose
 * snapshot (READ COMMITTED: one per statement) is taken before the lock: a
 * twin that committed in between, and so let the lock go, is invisible to
 * it.  Run on that word, the effect would meet the twin's effect and
 * refuse (out_of_stock, already_issued) where the twin's answer should be
 * replayed.  So when the lock is ours and the lookup saw no answer, the key
 * is read again in a statement of its own, whose snapshot comes after the
 * lock and so after the end of any transaction that held it: one indexed
 * read, on a key's first use only.  Should a row still come later (it
 * cannot while we hold the lock), our INSERT of the key hits the primary
 * key (23505), the transaction is retried and the retry replays.
 *
 * A COMMIT whose answer was lost (db_transaction says DB_UNKNOWN) is
 * settled by the key: on a new connection, take the key's lock, which the
 * lost transaction held until it ended, and then read the key in a new
 * statement, whose snapshot is taken after that end.  A row: it committed,
 * and its stored answer is the answer.  No row: it did not commit.  The
 * lock still taken (the lost transaction's server process has not yet
 * noticed, or a retry of the client's holds it): ask again, with the retry
 * policy, until the request's deadline; then the outcome stays unknown.
 */
#include "idempotency.h"

#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "queries.h"
#include "retry.h"

/*
 * How many times a lost COMMIT's key is looked up again while its lock is
 * taken or the database unreachable (the request's deadline bounds it too:
 * the back-off doubles from 2 to 100 ms, so 20 tries span about a second).
 */
#define IDEMPOTENCY_SETTLE_RETRIES 20

/* What the key says of a lost COMMIT (idempotency_settle). */
enum idempotency_settled {
	IDEMPOTENCY_COMMITTED, /* res holds the stored answer */
	IDEMPOTENCY_NOT_COMMITTED,
	IDEMPOTENCY_UNSETTLED, /* the lock is taken: ask again */
};

struct idempotency_tx {
	const struct request *req;
	struct response *res;
	idempotency_effect_fn effect;
	void *arg;
	int retry_after_s; /* of a 409 request_in_progress */
	char user[DB_I64_LEN];
	char hash[65];
};

void idempotency_request_hash(const struct request *req, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, req->method_name,
	        strlen(req->method_name) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, req->path, strlen(req->path) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, req->body != NULL ? req->body : "",
	        req->body_len) != 1 ||
	    EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32)
		fatal("SHA-256 failed");
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hex[64] = '\0';
}

enum db_status idempotency_answer_stored(struct response *res, const char *hash,
    const PGresult *r, int col)
{
	int64_t status;

	if (strcmp(PQgetvalue(r, 0, col), hash) != 0) {
		problem_write(res, 422, "idempotency_key_reused",
		    "this Idempotency-Key was used with a different request");
		return DB_OK;
	}
	if (db_get_i64(r, 0, col + 1, &status) != DB_OK)
		return DB_ERROR;
	json_write_raw(response_json(res, (int)status),
	    PQgetvalue(r, 0, col + 2), (size_t)PQgetlength(r, 0, col + 2));
	response_header(res, "Idempotent-Replayed", "true");
	res->replayed = 1;
	return DB_OK;
}

/*
 * Reads the key again once its lock is ours (see the comment at the top):
 * sets *answered when a twin's answer is stored under it.
 */
static enum db_status idempotency_reread(struct db *db,
    struct idempotency_tx *tx, int *answered)
{
	const char *params[] = { tx->user, tx->req->idempotency_key };
	enum db_status st;
	PGresult *r;

	if ((r = db_query(db, &idempotency_get_stmt, params, &st)) == NULL)
		return st;
	if (PQntuples(r) == 1) {
		st = idempotency_answer_stored(tx->res, tx->hash, r, 0);
		*answered = 1;
	}
	PQclear(r);
	return st;
}

/*
 * Looks the key up under its lock.  Returns DB_OK, with *answered set when
 * res already holds the answer (a replay, a key problem), or a failure.
 */
static enum db_status idempotency_claim(struct db *db,
    struct idempotency_tx *tx, int *answered)
{
	const char *params[] = { tx->user, tx->req->idempotency_key };
	enum db_status st;
	PGresult *r;
	int locked;

	*answered = 0;
	if ((r = db_query(db, &idempotency_lookup_stmt, params, &st)) == NULL)
		return st;
	locked = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	if (!PQgetisnull(r, 0, 1)) {
		st = idempotency_answer_stored(tx->res, tx->hash, r, 1);
		*answered = 1;
	} else if (!locked) {
		problem_write(tx->res, 409, "request_in_progress",
		    "a request with this Idempotency-Key is still running");
		response_header(tx->res, "Retry-After", "%d",
		    tx->retry_after_s);
		*answered = 1;
	}
	PQclear(r);
	if (st == DB_OK && !*answered)
		st = idempotency_reread(db, tx, answered);
	return st;
}

static enum db_status idempotency_store(struct db *db,
    struct idempotency_tx *tx)
{
	const char *body;
	size_t len;
	char status[DB_I64_LEN];
	const char *params[] = { tx->user, tx->req->idempotency_key, tx->hash,
		db_param_i64(status, tx->res->status), NULL };
	enum db_status st;

	if (json_writer_result(tx->res->json, &body, &len) < 0)
		return DB_ERROR;
	params[4] = body;
	st = db_command(db, &idempotency_store_stmt, params);
	/* Someone committed this key after our lookup: rerun and replay. */
	return st == DB_CONFLICT ? DB_RETRY : st;
}

/*
 * Looks the key up, runs the effect, stores a success.  Whatever answer
 * is not a success (a replay, a key problem, the effect's refusal) leaves
 * nothing behind: the transaction rolls back.
 */
static enum db_status idempotency_in_tx(struct db *db, void *arg)
{
	struct idempotency_tx *tx = arg;
	enum db_status st;
	int answered = 0;

	if (tx->req->idempotency_key != NULL &&
	    (st = idempotency_claim(db, tx, &answered)) != DB_OK)
		return st;
	if (answered) {
		db_set_rollback(db);
		return DB_OK;
	}
	/* Without a key nothing follows the effect: its last statements may
	 * carry the COMMIT (db_query_last). */
	db_set_tail_commit(db, tx->req->idempotency_key == NULL);
	if ((st = tx->effect(db, tx->res, tx->arg)) != DB_OK)
		return st;
	if (tx->res->status < 200 || tx->res->status > 299) {
		db_set_rollback(db);
		return DB_OK;
	}
	if (tx->req->idempotency_key == NULL)
		return DB_OK;
	return idempotency_store(db, tx);
}

/*
 * One look at a lost COMMIT's key, as two statements of their own (see the
 * comment at the top): the first takes the lock and lets it go, the second
 * reads the row.  Returns DB_OK with *out set, or a database failure.
 */
static enum db_status idempotency_settle_once(struct db *db,
    struct idempotency_tx *tx, enum idempotency_settled *out)
{
	const char *params[] = { tx->user, tx->req->idempotency_key };
	enum db_status st = DB_OK;
	PGresult *r;
	int locked;

	*out = IDEMPOTENCY_UNSETTLED;
	for (int look = 0; look < 2; look++) {
		r = db_query(db, &idempotency_lookup_stmt, params, &st);
		if (r == NULL)
			return st;
		locked = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		if (!PQgetisnull(r, 0, 1)) {
			st = idempotency_answer_stored(tx->res, tx->hash, r, 1);
			*out = IDEMPOTENCY_COMMITTED;
		} else if (look == 1) {
			*out = IDEMPOTENCY_NOT_COMMITTED;
		}
		PQclear(r);
		if (*out != IDEMPOTENCY_UNSETTLED || !locked)
			break;
	}
	return st;
}

/*
 * Finds out from the key whether a COMMIT whose answer was lost committed
 * (see the comment at the top).  Returns DB_OK with res holding the stored
 * answer, DB_UNAVAILABLE when it did not commit, or DB_UNKNOWN when the
 * deadline came first (or DB_ERROR).
 */
static enum db_status idempotency_settle(struct db *db,
    struct idempotency_tx *tx)
{
	enum idempotency_settled out = IDEMPOTENCY_UNSETTLED;
	struct retry retry;
	enum db_status st;

	retry_init(&retry, IDEMPOTENCY_SETTLE_RETRIES, db_deadline(db));
	do {
		st = idempotency_settle_once(db, tx, &out);
		if (st != DB_OK && st != DB_UNAVAILABLE && st != DB_TIMEOUT)
			return st;
	} while ((st != DB_OK || out == IDEMPOTENCY_UNSETTLED) &&
	    retry_again(&retry));
	if (st != DB_OK || out == IDEMPOTENCY_UNSETTLED) {
		log_warn("a lost COMMIT's Idempotency-Key could not be looked "
		         "up in time: the outcome stays unknown");
		return DB_UNKNOWN;
	}
	if (out == IDEMPOTENCY_COMMITTED) {
		log_info("a lost COMMIT had committed: its stored answer is "
		         "replayed");
		return DB_OK;
	}
	log_info("a lost COMMIT had not committed");
	return DB_UNAVAILABLE;
}

enum db_status idempotency_transaction(struct db *db, const struct request *req,
    struct response *res, int retry_after_s, idempotency_effect_fn effect,
    void *arg)
{
	struct idempotency_tx tx = {
		.req = req,
		.res = res,
		.effect = effect,
		.arg = arg,
		.retry_after_s = retry_after_s,
	};
	enum db_status st;

	db_param_i64(tx.user, req->identity.user_id);
	if (req->idempotency_key != NULL)
		idempotency_request_hash(req, tx.hash);
	st = db_transaction(db, idempotency_in_tx, &tx);
	if (st == DB_UNKNOWN && req->idempotency_key != NULL)
		st = idempotency_settle(db, &tx);
	return st;
}

enum db_status idempotency_purge(struct db *db, int ttl_ms, long *deleted)
{
	char ttl[DB_I64_LEN];
	const char *params[] = { db_param_i64(ttl, ttl_ms) };
	enum db_status st;
	int64_t n = 0;
	PGresult *r;

	*deleted = 0;
	if ((r = db_query(db, &idempotency_purge_stmt, params, &st)) == NULL)
		return st;
	if (num_parse(PQcmdTuples(r), 0, INT64_MAX, &n) < 0) {
		log_error("idempotency purge: bad row count \"%s\"",
		    PQcmdTuples(r));
		st = DB_ERROR;
	}
	*deleted = (long)n;
	PQclear(r);
	return st;
}
