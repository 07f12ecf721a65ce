/*
 * privs: see privs.h.  The order of a drop is the one every daemon that
 * does it right uses (OpenBSD's privsep, nginx's ngx_worker_process_init):
 * groups first, while the process may still set them, then the gid, then
 * the uid, which gives the rest up.  Each call is checked, and then the
 * result too: a setuid that "succeeded" in some odd environment but left a
 * saved uid of 0 would let the process become root again.
 */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

/* Looks up user (and group, if set) into p.  Returns 0, or -1 with err. */
static int privs_lookup(struct privs *p, const char *user, const char *group,
    char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;

	/* The key's check (config_keys.c) found it; it may be gone since. */
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user = %s: no such user", user);
		return -1;
	}
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	snprintf(p->user, sizeof(p->user), "%s", user);
	if (group[0] == '\0')
		return 0;
	if ((gr = getgrnam(group)) == NULL) {
		snprintf(err, errlen, "group = %s: no such group", group);
		return -1;
	}
	p->gid = gr->gr_gid;
	return 0;
}

int privs_init(struct privs *p, const struct config *cfg, char *err,
    size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (cfg->user[0] == '\0') {
		if (cfg->group[0] != '\0') {
			snprintf(err, errlen,
			    "group = %s: needs `user` (the user to run as)",
			    cfg->group);
			return -1;
		}
		if (geteuid() == 0)
			log_warn("running as root without `user`: the workers "
			         "will serve requests as root; set user (see "
			         "docs/operations.md, \"Privileges\")");
		return 0;
	}
	if (privs_lookup(p, cfg->user, cfg->group, err, errlen) < 0)
		return -1;
	if (geteuid() == 0) {
		p->drop = p->uid != 0;
		return 0;
	}
	/* Not root: fine if we already are that user, refused otherwise. */
	if (geteuid() == p->uid && getuid() == p->uid && getegid() == p->gid &&
	    getgid() == p->gid)
		return 0;
	snprintf(err, errlen,
	    "user = %s: only root can switch to it (running as uid %ld); "
	    "start as root, or remove `user` and `group`",
	    cfg->user, (long)geteuid());
	return -1;
}

/*
 * After a drop: real, effective and saved ids all p's, and root out of
 * reach (setuid(0) fails).  Returns 0, or -1 with err.
 */
static int privs_check(const struct privs *p, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) == 0 && getresgid(&rg, &eg, &sg) == 0 &&
	    ru == p->uid && eu == p->uid && su == p->uid && rg == p->gid &&
	    eg == p->gid && sg == p->gid && setuid(0) == -1)
		return 0;
	snprintf(err, errlen,
	    "switched to user %s, yet the process still has other ids (uid "
	    "%ld, gid %ld, effective %ld/%ld) or could become root again",
	    p->user, (long)getuid(), (long)getgid(), (long)geteuid(),
	    (long)getegid());
	return -1;
}

int privs_drop(const struct privs *p, char *err, size_t errlen)
{
	if (!p->drop)
		return 0;
	if (initgroups(p->user, p->gid) < 0) {
		snprintf(err, errlen, "initgroups(%s, %ld): %s", p->user,
		    (long)p->gid, strerror(errno));
		return -1;
	}
	if (setgid(p->gid) < 0 || setuid(p->uid) < 0) {
		snprintf(err, errlen,
		    "cannot switch to user %s (uid %ld, gid %ld): %s", p->user,
		    (long)p->uid, (long)p->gid, strerror(errno));
		return -1;
	}
	return privs_check(p, err, errlen);
}

int privs_give(const struct privs *p, const char *path)
{
	if (!p->drop)
		return 0;
	return chown(path, p->uid, p->gid);
}

int privs_give_socket(const struct privs *p, const char *path)
{
	if (!p->drop)
		return 0;
	return chown(path, (uid_t)-1, p->gid);
}
