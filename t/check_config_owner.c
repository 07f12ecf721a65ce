/*
 * check_config_owner: socket_owner and socket_group: empty (the socket
 * keeps the daemon's user and group), a name looked up in the passwd or
 * group database, a numeric id taken as it is, and the message for an
 * unknown name or an id out of range, in a file with its line.  "root"
 * (uid and gid 0) is the one name every system has.
 */
#include "check_config.h"
#include "check_run.h"

START_TEST(test_owner_defaults)
{
	struct config *cfg = config_create();

	ck_assert_str_eq(cfg->socket_owner, "");
	ck_assert_int_eq(cfg->socket_uid, -1);
	ck_assert_str_eq(cfg->socket_group, "");
	ck_assert_int_eq(cfg->socket_gid, -1);
	ck_assert_int_eq(cfg->fastcgi_timeout_ms, 5000);
	assert_dumps(cfg, "socket_owner", "\"\"");
	assert_dumps(cfg, "socket_group", "\"\"");
	assert_dumps(cfg, "fastcgi_timeout", "5s");
	config_free(cfg);
}
END_TEST

/* A value of key, and the id it must give (the field it derives). */
struct id_case {
	const char *key;
	const char *value;
	int id;
};

static const struct id_case good_ids[] = {
	{ "socket_owner", "root", 0 },
	{ "socket_owner", "0", 0 },
	{ "socket_owner", "33", 33 },
	/* An id need not exist: chown(2) takes any. */
	{ "socket_owner", "4242", 4242 },
	{ "socket_owner", "2147483647", 2147483647 },
	{ "socket_owner", "", -1 },
	{ "socket_group", "root", 0 },
	{ "socket_group", "0", 0 },
	{ "socket_group", "4243", 4243 },
	{ "socket_group", "", -1 },
};

START_TEST(test_owner_good)
{
	const struct id_case *c = &good_ids[_i];
	struct config *cfg = config_create();
	char err[ERR_MAX] = "", dumped[64];
	int id;

	ck_assert_msg(config_set(cfg, c->key, c->value, err, sizeof(err)) == 0,
	    "%s = %s: %s", c->key, c->value, err);
	id = strcmp(c->key, "socket_owner") == 0 ? cfg->socket_uid
	                                         : cfg->socket_gid;
	ck_assert_int_eq(id, c->id);
	snprintf(dumped, sizeof(dumped), "\"%s\"", c->value);
	assert_dumps(cfg, c->key, dumped);
	config_free(cfg);
}
END_TEST

#define NO_USER(v) \
	"socket_owner: no user \"" v "\" in the passwd database (a name or " \
	"a numeric id)"
#define NO_GROUP(v) \
	"socket_group: no group \"" v "\" in the group database (a name or " \
	"a numeric id)"

static const struct bad_case bad_ids[] = {
	{ "socket_owner", "no-such-user-x", NO_USER("no-such-user-x") },
	{ "socket_group", "no-such-group-x", NO_GROUP("no-such-group-x") },
	/* Not all digits, so a name, and there is none. */
	{ "socket_owner", "-1", NO_USER("-1") },
	{ "socket_owner", "+0", NO_USER("+0") },
	{ "socket_owner", "0 ", NO_USER("0 ") },
	{ "socket_group", "root ", NO_GROUP("root ") },
	/* (uid_t)-1 would mean "leave the owner as it is" to chown(2). */
	{ "socket_owner", "4294967295",
	    "socket_owner: a numeric user id must be from 0 to 2147483647, "
	    "got \"4294967295\"" },
	{ "socket_group", "2147483648",
	    "socket_group: a numeric group id must be from 0 to 2147483647, "
	    "got \"2147483648\"" },
	{ "socket_group", "99999999999999999999",
	    "socket_group: a numeric group id must be from 0 to 2147483647, "
	    "got \"99999999999999999999\"" },
	{ "socket_owner", "ro\tot",
	    "socket_owner: must not contain control characters (byte 2 is "
	    "0x09)" },
	{ "fastcgi_timeout", "9ms",
	    "fastcgi_timeout: must be a duration from 10ms to 10min "
	    "(milliseconds, or a number followed by ms, s, min or h), got "
	    "\"9ms\"" },
};

START_TEST(test_owner_bad)
{
	assert_set_refused(&bad_ids[_i]);
}
END_TEST

START_TEST(test_owner_in_file)
{
	struct config *cfg = config_create();
	const char *bad = "workers = 2\nsocket_owner = nobody-at-all\n";

	load_ok(cfg,
	    "socket_owner = root\nsocket_group = 4243\nsocket_mode = 0660\n"
	    "fastcgi_timeout = 250ms\n");
	ck_assert_int_eq(cfg->socket_uid, 0);
	ck_assert_int_eq(cfg->socket_gid, 4243);
	ck_assert_int_eq(cfg->fastcgi_timeout_ms, 250);
	config_free(cfg);
	load_fails(bad, strlen(bad), "test.conf:2: " NO_USER("nobody-at-all"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config_owner");
	TCase *tc = tcase_create("owner");

	tcase_add_test(tc, test_owner_defaults);
	tcase_add_loop_test(tc, test_owner_good, 0, NCASES(good_ids));
	tcase_add_loop_test(tc, test_owner_bad, 0, NCASES(bad_ids));
	tcase_add_test(tc, test_owner_in_file);
	suite_add_tcase(s, tc);
	return check_run(s);
}
