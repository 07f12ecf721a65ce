/*
 * check_listener: taking over a listening socket passed by a predecessor
 * master (STOCKADE_LISTEN_FD), on real unix sockets in a temp dir: the
 * number is parsed strictly, a listening socket at the configured path is
 * taken (and the variable removed), anything else is refused, and a
 * refusal never removes the predecessor's socket file.  A fresh socket
 * gets socket_owner, socket_group and socket_mode.  listener_accept puts
 * the deadline on each connection, unix and TCP, and the two kernel
 * behaviours its design rests on are pinned here: a unix socket does not
 * inherit SO_RCVTIMEO from its listener, and a read with SO_RCVTIMEO is
 * not restarted after a signal handler, SA_RESTART or not.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check_run.h"
#include "config.h"
#include "config_keys.h"
#include "listener.h"
#include "log.h"

static char dir[] = "/tmp/check_listener.XXXXXX";

/* The address dir/name. */
static struct sockaddr_un unix_addr(const char *name)
{
	struct sockaddr_un sun;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", dir, name);
	return sun;
}

/* A socket bound at dir/name, listening when listening is set. */
static int bound_socket(const char *name, int listening)
{
	struct sockaddr_un sun = unix_addr(name);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
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

/* A fresh unix socket gets socket_owner, socket_group and socket_mode. */
START_TEST(test_bind_owner)
{
	struct config *cfg = config_at("own.sock");
	char path[256], err[256];
	struct stat st;
	int inherited, fd;

	if (geteuid() != 0)
		return; /* chown to another user needs root */
	ck_assert_int_eq(config_set(cfg, "socket_owner", "4242", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "socket_group", "4243", err,
	                     sizeof(err)),
	    0);
	ck_assert_int_eq(config_set(cfg, "socket_mode", "0640", err,
	                     sizeof(err)),
	    0);
	unsetenv(LISTENER_FD_ENV);
	fd = listener_open(cfg, &inherited);
	ck_assert_int_ge(fd, 0);
	snprintf(path, sizeof(path), "%s/own.sock", dir);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_uid, 4242);
	ck_assert_uint_eq(st.st_gid, 4243);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	listener_close(fd, cfg);
	config_free(cfg);
}
END_TEST

/* A unix socket connected to dir/name. */
static int connect_unix(const char *name)
{
	struct sockaddr_un sun = unix_addr(name);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Asserts the SO_RCVTIMEO and SO_SNDTIMEO of fd, in milliseconds. */
static void assert_deadline(int fd, long long ms)
{
	int opts[] = { SO_RCVTIMEO, SO_SNDTIMEO };

	for (int i = 0; i < 2; i++) {
		struct timeval tv;
		socklen_t len = sizeof(tv);

		ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, opts[i], &tv, &len),
		    0);
		ck_assert_int_eq(tv.tv_sec * 1000LL + tv.tv_usec / 1000, ms);
	}
}

/*
 * A unix connection gets the deadline: a read from a peer that sends
 * nothing, and writes to a peer that reads nothing, fail with EAGAIN after
 * it, not later.
 */
START_TEST(test_accept_unix)
{
	struct config *cfg = config_at("a.sock");
	char peer[64], want[64], buf[65536];
	int inherited, lfd, client, fd;
	long long t0;
	ssize_t n;

	unsetenv(LISTENER_FD_ENV);
	lfd = listener_open(cfg, &inherited);
	ck_assert_int_ge(lfd, 0);
	client = connect_unix("a.sock");
	fd = listener_accept(lfd, 200, peer, sizeof(peer));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_deadline(fd, 200);
	snprintf(want, sizeof(want), "pid %ld uid %ld", (long)getpid(),
	    (long)getuid());
	ck_assert_str_eq(peer, want);
	t0 = now_ms();
	ck_assert_int_eq(read(fd, buf, 1), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_ge(now_ms() - t0, 190);
	ck_assert_int_lt(now_ms() - t0, 2000);
	/* Fill the peer's buffer; the write that finds it full waits 200 ms. */
	memset(buf, 'x', sizeof(buf));
	t0 = now_ms();
	while ((n = write(fd, buf, sizeof(buf))) > 0)
		ck_assert_int_lt(now_ms() - t0, 5000);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_ge(now_ms() - t0, 190);
	close(fd);
	close(client);
	listener_close(lfd, cfg);
	config_free(cfg);
}
END_TEST

/* TCP: the deadline, TCP_NODELAY, and ADDRESS:PORT as the peer. */
START_TEST(test_accept_tcp)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char peer[64], want[64];
	int port, lfd = tcp_socket(&port), client, fd, nodelay = 0;

	client = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	ck_assert_int_eq(connect(client, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	ck_assert_int_eq(getsockname(client, (struct sockaddr *)&sin, &len), 0);
	fd = listener_accept(lfd, 1500, peer, sizeof(peer));
	ck_assert_int_ge(fd, 0);
	assert_deadline(fd, 1500);
	len = sizeof(nodelay);
	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay,
	                     &len),
	    0);
	ck_assert_int_ne(nodelay, 0);
	snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(sin.sin_port));
	ck_assert_str_eq(peer, want);
	close(fd);
	close(client);
	close(lfd);
}
END_TEST

/* Nothing to accept: errno says why, as the worker's loop expects. */
START_TEST(test_accept_errors)
{
	char peer[64];
	int idle = bound_socket("idle.sock", 0), port, lfd = tcp_socket(&port);

	ck_assert_int_eq(listener_accept(idle, 100, peer, sizeof(peer)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(fcntl(lfd, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(listener_accept(lfd, 100, peer, sizeof(peer)), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close(idle);
	close(lfd);
}
END_TEST

/*
 * Why listener_accept sets the deadline itself: on Linux a unix socket
 * accepted from a listener with SO_RCVTIMEO has none (TCP would inherit
 * it).  Should a kernel ever change this, the setsockopt in
 * listener_accept becomes redundant, not wrong.
 */
START_TEST(test_unix_no_inheritance)
{
	struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };
	int lfd = bound_socket("i.sock", 1), client, fd;

	ck_assert_int_eq(setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	                     sizeof(tv)),
	    0);
	ck_assert_int_eq(setsockopt(lfd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	                     sizeof(tv)),
	    0);
	client = connect_unix("i.sock");
	fd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	assert_deadline(fd, 0);
	close(fd);
	close(client);
	close(lfd);
}
END_TEST

static void on_alarm(int signo)
{
	(void)signo;
}

/*
 * Why the worker holds its stop signals while a connection is open: a read
 * with SO_RCVTIMEO that a handler interrupts fails with EINTR even under
 * SA_RESTART (signal(7)), and libfcgi would drop the request.
 */
START_TEST(test_deadline_not_restarted)
{
	struct config *cfg = config_at("r.sock");
	struct itimerval it = { .it_value = { .tv_sec = 0, .tv_usec = 50000 } };
	struct sigaction sa;
	char peer[64], c;
	int inherited, lfd, client, fd;
	long long t0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	unsetenv(LISTENER_FD_ENV);
	lfd = listener_open(cfg, &inherited);
	client = connect_unix("r.sock");
	fd = listener_accept(lfd, 3000, peer, sizeof(peer));
	ck_assert_int_ge(fd, 0);
	t0 = now_ms();
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	ck_assert_int_eq(read(fd, &c, 1), -1);
	ck_assert_int_eq(errno, EINTR);
	ck_assert_int_lt(now_ms() - t0, 2000);
	signal(SIGALRM, SIG_DFL);
	close(fd);
	close(client);
	listener_close(lfd, cfg);
	config_free(cfg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("listener");
	TCase *tc = tcase_create("inherit");
	TCase *acc = tcase_create("accept");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_parse_fd);
	tcase_add_test(tc, test_inherit);
	tcase_add_test(tc, test_inherit_refused);
	tcase_add_test(tc, test_inherit_tcp);
	tcase_add_test(tc, test_bind);
	tcase_add_test(tc, test_bind_owner);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(acc, setup, teardown);
	tcase_add_test(acc, test_accept_unix);
	tcase_add_test(acc, test_accept_tcp);
	tcase_add_test(acc, test_accept_errors);
	tcase_add_test(acc, test_unix_no_inheritance);
	tcase_add_test(acc, test_deadline_not_restarted);
	suite_add_tcase(s, acc);
	return check_run(s);
}
