/*
 * problem: RFC 9457 problem details (application/problem+json), the one
 * shape every error of stockade takes: {"type","title","status","detail",
 * "code"}.  `code` is the stable, machine-readable name clients switch on;
 * `type` is derived from it (urn:stockade:problem:CODE); `title` is the
 * status's reason phrase; `detail` is a sentence for the human.
 */
#ifndef STOCKADE_PROBLEM_H
#define STOCKADE_PROBLEM_H

#include "db.h"
#include "http.h"

/* Replaces res's body with a complete problem document. */
void problem_write(struct response *res, int status, const char *code,
    const char *detail);

/*
 * Like problem_write but leaves the object open, so a caller can add its own
 * members (e.g. which dependency is down) before problem_end().
 */
struct json_writer *problem_begin(struct response *res, int status,
    const char *code, const char *detail);
void problem_end(struct response *res);

/*
 * Answers a database failure that the handler cannot turn into a domain
 * answer: timeouts, lost connections and exhausted retries become 503 with
 * Retry-After (a client may simply try again), anything else 500.
 */
void problem_from_db(struct response *res, enum db_status st,
    int retry_after_s);

#endif
