/*
 * config_owner: see config_owner.h.
 */
#include "config_owner.h"

#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "num.h"

/*
 * 1 when value is all decimal digits: an id, as chown(1) reads "0".  A name
 * of digits only cannot be written then, which useradd refuses anyway.
 */
static int config_owner_numeric(const char *value)
{
	return value[0] != '\0' && strspn(value, "0123456789") == strlen(value);
}

/*
 * Reads a numeric id into *id, refusing what does not fit an int (and so
 * (uid_t)-1, which chown(2) takes as "leave unchanged").  Returns 0 or -1.
 */
static int config_owner_parse_id(const char *value, const char *what, int *id,
    char *why, size_t whylen)
{
	int64_t n;

	if (num_parse(value, 0, CONFIG_OWNER_ID_MAX, &n) == -1) {
		snprintf(why, whylen,
		    "a numeric %s id must be from 0 to %d, got \"%s\"", what,
		    CONFIG_OWNER_ID_MAX, value);
		return -1;
	}
	*id = (int)n;
	return 0;
}

/* Looks a user name up; 0 with *id, or -1 when there is none. */
static int config_owner_lookup_user(const char *name, int *id)
{
	struct passwd *pw = getpwnam(name);

	if (pw == NULL || pw->pw_uid > CONFIG_OWNER_ID_MAX)
		return -1;
	*id = (int)pw->pw_uid;
	return 0;
}

/* Looks a group name up; 0 with *id, or -1 when there is none. */
static int config_owner_lookup_group(const char *name, int *id)
{
	struct group *gr = getgrnam(name);

	if (gr == NULL || gr->gr_gid > CONFIG_OWNER_ID_MAX)
		return -1;
	*id = (int)gr->gr_gid;
	return 0;
}

/*
 * Resolves value, a "" (-1), an id or a name that lookup finds in the
 * database db, into *id.  Returns 0, or -1 with why.
 */
static int config_owner_resolve(const char *value, const char *what,
    const char *db, int (*lookup)(const char *, int *), int *id, char *why,
    size_t whylen)
{
	char shown[CONFIG_SHOW_MAX];

	if (value[0] == '\0') {
		*id = -1;
		return 0;
	}
	if (config_owner_numeric(value))
		return config_owner_parse_id(value, what, id, why, whylen);
	if (lookup(value, id) == -1) {
		log_escape(shown, sizeof(shown), value, strlen(value));
		snprintf(why, whylen,
		    "no %s \"%s\" in the %s database (a name or a numeric "
		    "id)",
		    what, shown, db);
		return -1;
	}
	return 0;
}

int config_owner_user(struct config *cfg, const char *value, char *why,
    size_t whylen)
{
	int id;

	if (config_owner_resolve(value, "user", "passwd",
	        config_owner_lookup_user, &id, why, whylen) == -1)
		return -1;
	cfg->socket_uid = id;
	return 0;
}

int config_owner_group(struct config *cfg, const char *value, char *why,
    size_t whylen)
{
	int id;

	if (config_owner_resolve(value, "group", "group",
	        config_owner_lookup_group, &id, why, whylen) == -1)
		return -1;
	cfg->socket_gid = id;
	return 0;
}
