/*
 * audit: runs the invariant audit of docs/architecture.md (sql/audit.sql,
 * compiled in by scripts/embed-queries as audit_stmt) on a database and
 * writes each broken invariant as one line: "problem subject: detail",
 * e.g. "order_total_differs order 17: total 300, 1 lines sum to 200".
 * `stockade audit` is its command line (main.c).
 */
#ifndef STOCKADE_AUDIT_H
#define STOCKADE_AUDIT_H

#include <stdio.h>

struct db;

/*
 * Audits what changed since the timestamp since (text PostgreSQL reads as
 * timestamptz, e.g. "2026-12-01T00:00:00Z"), or everything when since is
 * NULL, writing one line per broken invariant to out.  Returns how many
 * lines it wrote (0: every invariant holds), or -1 with the reason in
 * db_errmsg(db) and db_sqlstate(db) (class 22: since is no timestamp).
 */
long audit_run(struct db *db, const char *since, FILE *out);

#endif
