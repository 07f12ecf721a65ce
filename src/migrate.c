/*
 * migrate: see migrate.h.
 */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

/* 'stockade' in ASCII: the advisory lock key only migrations take. */
#define MIGRATE_LOCK_KEY "8319395793566789989"

static const struct db_stmt migrate_lock = {
	"migrate_lock",
	"SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
	0,
	0,
};
static const struct db_stmt migrate_unlock = {
	"migrate_unlock",
	"SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")",
	0,
	0,
};
static const struct db_stmt migrate_applied = {
	"migrate_applied",
	"SELECT checksum FROM schema_migrations WHERE version = $1::int",
	1,
	0,
};
static const struct db_stmt migrate_record = {
	"migrate_record",
	"INSERT INTO schema_migrations (version, name, checksum) "
	"VALUES ($1::int, $2, md5($3))",
	3,
	1,
};
static const struct db_stmt migrate_checksum = {
	"migrate_checksum",
	"SELECT md5($1)",
	1,
	0,
};

static const char migrate_table_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version int PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

/*
 * Looks up m in schema_migrations.  Returns 1 if applied with the same
 * text, 0 if not applied, -1 on error or if the file changed since.
 */
static int migrate_is_applied(struct db *db, const struct migration *m,
    const char *version)
{
	const char *p1[] = { version }, *p2[] = { m->sql };
	PGresult *applied, *sum = NULL;
	enum db_status st;
	int rc = -1;

	if ((applied = db_query(db, &migrate_applied, p1, &st)) == NULL)
		goto out;
	if (PQntuples(applied) == 0) {
		rc = 0;
		goto out;
	}
	if ((sum = db_query(db, &migrate_checksum, p2, &st)) == NULL)
		goto out;
	if (strcmp(PQgetvalue(applied, 0, 0), PQgetvalue(sum, 0, 0)) != 0) {
		log_error("migration %s was changed after it was applied; "
		          "add a new migration instead of editing an old one",
		    m->name);
		goto out;
	}
	rc = 1;
out:
	if (rc < 0 && st != DB_OK)
		log_error("reading schema_migrations: %s", db_errmsg(db));
	PQclear(applied);
	PQclear(sum);
	return rc;
}

struct migrate_step {
	const struct migration *m;
	const char *version;
};

static enum db_status migrate_apply_tx(struct db *db, void *arg)
{
	const struct migrate_step *step = arg;
	const char *params[] = { step->version, step->m->name, step->m->sql };
	enum db_status st;

	if ((st = db_exec(db, step->m->sql)) != DB_OK)
		return st;
	return db_command(db, &migrate_record, params);
}

static int migrate_one(struct db *db, const struct migration *m)
{
	struct migrate_step step = { m, NULL };
	char version[16];
	enum db_status st;
	int applied;

	snprintf(version, sizeof(version), "%d", m->version);
	step.version = version;
	if ((applied = migrate_is_applied(db, m, version)) != 0)
		return applied < 0 ? -1 : 0;
	if ((st = db_transaction(db, migrate_apply_tx, &step)) != DB_OK) {
		log_error("migration %s failed (%s): %s", m->name,
		    db_status_names[st], db_errmsg(db));
		return -1;
	}
	log_info("applied %s", m->name);
	return 0;
}

int migrate_run(struct db *db)
{
	enum db_status st;
	int rc = 0;

	if (db_connect(db) != DB_OK) {
		log_error("cannot connect to the database: %s", db_errmsg(db));
		return -1;
	}
	if ((st = db_command(db, &migrate_lock, NULL)) != DB_OK) {
		log_error("cannot take the migration lock: %s", db_errmsg(db));
		return -1;
	}
	if (db_exec(db, migrate_table_sql) != DB_OK) {
		log_error("cannot create schema_migrations: %s", db_errmsg(db));
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < migrations_count; i++)
		rc = migrate_one(db, &migrations[i]);
	if (db_command(db, &migrate_unlock, NULL) != DB_OK)
		log_warn("releasing the migration lock: %s", db_errmsg(db));
	if (rc == 0)
		log_info("database schema is up to date (%zu migrations)",
		    migrations_count);
	return rc;
}
