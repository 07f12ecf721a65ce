/*
 * migrate: applies the numbered SQL files of sql/ that the database has not
 * seen yet, in order, each in its own transaction, recording each in
 * schema_migrations with a checksum.  A session advisory lock makes two
 * concurrent runs take turns, so running it twice, or from two shells at
 * once, applies every file exactly once.  The files are compiled into the
 * binary (scripts/embed-sql writes migrations.c at build time).
 */
#ifndef STOCKADE_MIGRATE_H
#define STOCKADE_MIGRATE_H

#include <stddef.h>

struct db;

struct migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct migration migrations[];
extern const size_t migrations_count;

/* Applies what is missing.  Returns 0, or -1 with the reason logged. */
int migrate_run(struct db *db);

#endif
