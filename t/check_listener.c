/*
 * check_listener: taking over a listening socket passed by a predecessor
 * master (STOCKADE_LISTEN_FD), on real unix sockets in a temp dir: the
 * number is parsed strictly, a listening socket at the configured path is
 * taken (and the variable removed), anything else is refused, and a
 * refusal never removes the predecessor's socket file.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check_run.h"
#include "config.h"
#include "config_keys.h"
#include "listener.h"
#include "log.h"

static char dir[] = "/tmp/check_listener.XXXXXX";

/* A socket bound at dir/name, listening when listening is set. */
static int bound_socket(const char *name, int listening)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, name);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

static struct config *config_at(const char *name)
{
	struct config *cfg = config_create();
	char path[256], err[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_msg(config_set(cfg, "listen", path, err, sizeof(err)) == 0,
	    "%s", err);
	return cfg;
}

static void pass_fd(int fd)
{
	char value[16];

	snprintf(value, sizeof(value), "%d", fd);
	ck_assert_int_eq(setenv(LISTENER_FD_ENV, value, 1), 0);
}

static int exists(const char *name)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

static void setup(void)
{
	log_init(LOG_LEVEL_ERROR, "check");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
	unsetenv(LISTENER_FD_ENV);
}

START_TEST(test_parse_fd)
{
	ck_assert_int_eq(listener_parse_fd("3"), 3);
	ck_assert_int_eq(listener_parse_fd("2147483647"), 2147483647);
	ck_assert_int_eq(listener_parse_fd(NULL), -1);
	ck_assert_int_eq(listener_parse_fd(""), -1);
	ck_assert_int_eq(listener_parse_fd("0"), -1); /* stdio */
	ck_assert_int_eq(listener_parse_fd("2"), -1);
	ck_assert_int_eq(listener_parse_fd("-5"), -1);
	ck_assert_int_eq(listener_parse_fd(" 5"), -1);
	ck_assert_int_eq(listener_parse_fd("5x"), -1);
	ck_assert_int_eq(listener_parse_fd("2147483648"), -1);
}
END_TEST

START_TEST(test_inherit)
{
	struct config *cfg = config_at("s.sock");
	int fd = bound_socket("s.sock", 1), inherited = 0, got;

	pass_fd(fd);
	got = listener_open(cfg, &inherited);
	ck_assert_int_eq(got, fd);
	ck_assert_int_eq(inherited, 1);
	ck_assert_ptr_null(getenv(LISTENER_FD_ENV));
	/* The master's copy must not leak into a later exec. */
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);
	config_free(cfg);
}
END_TEST

START_TEST(test_inherit_refused)
{
	struct config *cfg = config_at("other.sock");
	int fd = bound_socket("s.sock", 1), idle = bound_socket("idle.sock", 0);
	int inherited = 0;

	/* Bound elsewhere than listen says: a changed address. */
	pass_fd(fd);
	ck_assert_int_eq(listener_open(cfg, &inherited), -1);
	ck_assert_int_eq(inherited, 1);
	ck_assert(exists("s.sock")); /* the predecessor still serves there */
	ck_assert_ptr_null(getenv(LISTENER_FD_ENV));
	config_free(cfg);
	/* Bound at the right path, but not listening. */
	cfg = config_at("idle.sock");
	pass_fd(idle);
	ck_assert_int_eq(listener_open(cfg, &inherited), -1);
	ck_assert(exists("idle.sock"));
	/* Not a descriptor at all. */
	ck_assert_int_eq(setenv(LISTENER_FD_ENV, "999999", 1), 0);
	ck_assert_int_eq(listener_open(cfg, &inherited), -1);
	ck_assert_int_eq(setenv(LISTENER_FD_ENV, "five", 1), 0);
	ck_assert_int_eq(listener_open(cfg, &inherited), -1);
	config_free(cfg);
}
END_TEST

/* A loopback TCP socket on a port the kernel picks; its port in *port. */
static int tcp_socket(int *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static int inherit_tcp(int fd, const char *listen)
{
	struct config *cfg = config_create();
	char err[256];
	int inherited, got;

	ck_assert_msg(config_set(cfg, "listen", listen, err, sizeof(err)) == 0,
	    "%s", err);
	pass_fd(fd);
	got = listener_open(cfg, &inherited);
	config_free(cfg);
	return got;
}

/* TCP: the address and the port must both be what listen says. */
START_TEST(test_inherit_tcp)
{
	char listen[64];
	int port, fd = tcp_socket(&port);

	snprintf(listen, sizeof(listen), "127.0.0.2:%d", port);
	ck_assert_int_eq(inherit_tcp(fd, listen), -1);
	fd = tcp_socket(&port);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d",
	    port == 65535 ? 1 : port + 1);
	ck_assert_int_eq(inherit_tcp(fd, listen), -1);
	fd = tcp_socket(&port);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	ck_assert_int_eq(inherit_tcp(fd, listen), fd);
	close(fd);
}
END_TEST

/* Without the variable: a fresh bind, close-on-exec, not inherited. */
START_TEST(test_bind)
{
	struct config *cfg = config_at("new.sock");
	int inherited = 1, fd;

	unsetenv(LISTENER_FD_ENV);
	fd = listener_open(cfg, &inherited);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(inherited, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	listener_close(fd, cfg);
	ck_assert(!exists("new.sock"));
	config_free(cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("listener");
	TCase *tc = tcase_create("inherit");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_fd);
	tcase_add_test(tc, test_inherit);
	tcase_add_test(tc, test_inherit_refused);
	tcase_add_test(tc, test_inherit_tcp);
	tcase_add_test(tc, test_bind);
	suite_add_tcase(s, tc);
	return check_run(s);
}
