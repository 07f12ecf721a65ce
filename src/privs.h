/*
 * privs: the user the workers and the reaper run as.  A master started as
 * root does first what needs root (reads the secret file, opens log_file,
 * binds the socket), then each child it forks switches to `user` and
 * `group` for good before it runs anything else, as nginx's and php-fpm's
 * workers do.  The master keeps root, as theirs do: a reload reads the
 * root-only files again, and a graceful stop removes the socket's path.
 * Without `user` nothing changes.
 */
#ifndef STOCKADE_PRIVS_H
#define STOCKADE_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

struct config;

/* Names are at most this long (the `user` and `group` keys' size). */
#define PRIVS_NAME_MAX 256

struct privs {
	int drop; /* 1: children switch to uid and gid */
	uid_t uid;
	gid_t gid;
	char user[PRIVS_NAME_MAX];
};

/*
 * Fills p from cfg's user and group (the user's primary group when group
 * is unset), read from the user and group databases.  Running as root
 * without `user` is allowed and logged as a warning; `user` set while not
 * root is refused (only root can switch users), unless the process already
 * runs as that user and group (then nothing is dropped).  Returns 0, or -1
 * with err ("user = X: why").
 */
int privs_init(struct privs *p, const struct config *cfg, char *err,
    size_t errlen);

/*
 * In a freshly forked child, before anything else: initgroups (the user's
 * supplementary groups, as nginx and php-fpm set them), setgid, setuid,
 * then checks that real and effective ids are the user's and that root
 * cannot be taken back.  A no-op unless p->drop.  Returns 0, or -1 with
 * err, after which the child must not run.
 */
int privs_drop(const struct privs *p, char *err, size_t errlen);

/*
 * Gives the file at path to p's user and group (a no-op unless p->drop):
 * log_file, so that the children may open it again on SIGUSR1.  Returns 0,
 * or -1 with errno.
 */
int privs_give(const struct privs *p, const char *path);

/*
 * Gives a unix socket's path to p's group, its owner staying root, so that
 * with socket_mode 0660 the group's members (nginx's user) can connect and
 * the workers cannot change its mode.  A no-op unless p->drop.  Returns 0,
 * or -1 with errno.
 */
int privs_give_socket(const struct privs *p, const char *path);

#endif
