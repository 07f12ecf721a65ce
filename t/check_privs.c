/*
 * check_privs: the privileges the children drop to.  As root: `user`
 * resolves to its uid and primary group, `group` overrides the group, and
 * a forked child that drops ends with the user's ids and cannot become
 * root again; a drop that cannot happen (already unprivileged) fails with
 * a reason.  Anywhere: `group` without `user` is refused, and so is a
 * `user` the process cannot switch to.  The drops happen in forked
 * children, so the test process keeps its ids.
 */
#include <check.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/config.h"
#include "config_keys.h"
#include "privs.h"
#include "check_run.h"

#define ERR_MAX 512

/* A config with user and group set ("" leaves one unset). */
static struct config *config_user_group(const char *user, const char *group)
{
	struct config *cfg = config_create();
	char err[ERR_MAX];

	ck_assert_msg(config_set(cfg, "user", user, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_msg(config_set(cfg, "group", group, err, sizeof(err)) == 0,
	    "%s", err);
	return cfg;
}

/* Runs fn in a forked child and returns its exit status (0: passed). */
static int in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(test_no_user)
{
	struct config *cfg = config_user_group("", "");
	struct privs p;
	char err[ERR_MAX] = "";

	ck_assert_int_eq(privs_init(&p, cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(p.drop, 0);
	ck_assert_int_eq(privs_drop(&p, err, sizeof(err)), 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_group_needs_user)
{
	struct config *cfg = config_user_group("", "nogroup");
	struct privs p;
	char err[ERR_MAX] = "";

	ck_assert_int_eq(privs_init(&p, cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err,
	    "group = nogroup: needs `user` (the user to run "
	    "as)");
	config_free(cfg);
}
END_TEST

START_TEST(test_unknown_names_refused)
{
	struct config *cfg = config_create();
	char err[ERR_MAX];

	ck_assert_int_eq(config_set(cfg, "user", "no-such-user-x", err,
	                     sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "user: no such user \"no-such-user-x\"");
	ck_assert_int_eq(config_set(cfg, "group", "no-such-group-x", err,
	                     sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "group: no such group \"no-such-group-x\"");
	config_free(cfg);
}
END_TEST

START_TEST(test_resolve)
{
	struct config *cfg = config_user_group("nobody", "");
	struct passwd *pw = getpwnam("nobody");
	struct group *gr = getgrnam("daemon");
	struct privs p;
	char err[ERR_MAX] = "";

	if (geteuid() != 0)
		return; /* only root resolves a user to drop to */
	ck_assert_ptr_nonnull(pw);
	ck_assert_ptr_nonnull(gr);
	ck_assert_int_eq(privs_init(&p, cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(p.drop, 1);
	ck_assert_int_eq(p.uid, pw->pw_uid);
	ck_assert_int_eq(p.gid, pw->pw_gid);
	ck_assert_str_eq(p.user, "nobody");
	config_free(cfg);
	cfg = config_user_group("nobody", "daemon");
	ck_assert_int_eq(privs_init(&p, cfg, err, sizeof(err)), 0);
	ck_assert_int_eq(p.gid, gr->gr_gid);
	config_free(cfg);
}
END_TEST

/* In a child: drop to nobody; 0 when every id is nobody's for good. */
static int drop_to_nobody(void)
{
	struct config *cfg = config_user_group("nobody", "");
	struct passwd *pw = getpwnam("nobody");
	struct privs p;
	char err[ERR_MAX];
	gid_t groups[8];
	int n;

	if (pw == NULL || privs_init(&p, cfg, err, sizeof(err)) < 0 ||
	    privs_drop(&p, err, sizeof(err)) < 0)
		return 1;
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || getegid() != pw->pw_gid)
		return 2;
	/* No supplementary group of root's is left. */
	n = getgroups(8, groups);
	for (int i = 0; i < n; i++) {
		if (groups[i] == 0)
			return 3;
	}
	return setuid(0) == -1 && seteuid(0) == -1 ? 0 : 4;
}

START_TEST(test_drop)
{
	if (geteuid() != 0)
		return;
	ck_assert_int_eq(in_child(drop_to_nobody), 0);
}
END_TEST

/*
 * In a child: drop to nobody, then try to become daemon: as nobody that
 * must fail, with the reason; and privs_init must refuse `user = root`.
 */
static int drop_twice(void)
{
	struct config *cfg = config_user_group("nobody", "");
	struct privs p, again;
	char err[ERR_MAX];

	if (privs_init(&p, cfg, err, sizeof(err)) < 0 ||
	    privs_drop(&p, err, sizeof(err)) < 0)
		return 1;
	/* Already nobody: a config naming nobody needs no drop. */
	if (privs_init(&again, cfg, err, sizeof(err)) < 0 || again.drop)
		return 2;
	snprintf(again.user, sizeof(again.user), "daemon");
	again.uid = 1;
	again.gid = 1;
	again.drop = 1;
	if (privs_drop(&again, err, sizeof(err)) != -1 ||
	    strstr(err, "initgroups(daemon, 1): ") == NULL)
		return 3;
	config_free(cfg);
	cfg = config_user_group("root", "");
	if (privs_init(&again, cfg, err, sizeof(err)) != -1 ||
	    strstr(err, "user = root: only root can switch to it") == NULL)
		return 4;
	config_free(cfg);
	return 0;
}

START_TEST(test_drop_refused)
{
	if (geteuid() != 0)
		return;
	ck_assert_int_eq(in_child(drop_twice), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("privs");
	TCase *tc = tcase_create("privs");

	tcase_add_test(tc, test_no_user);
	tcase_add_test(tc, test_group_needs_user);
	tcase_add_test(tc, test_unknown_names_refused);
	tcase_add_test(tc, test_resolve);
	tcase_add_test(tc, test_drop);
	tcase_add_test(tc, test_drop_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
