/*
 * check_osstat: what the kernel says, asked of real sockets and processes.
 * A unix and a TCP listener with connections nobody accepted: the queue
 * holds exactly those, and the backlog is what listen() was given.  A
 * socket that does not listen has no queue.  This process has a Pss; a
 * process that does not exist has none.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "osstat.h"
#include "check_run.h"

#define CLIENTS 3

/* Opens CLIENTS connections to addr, which nobody accepts yet. */
static void connect_clients(int family, const void *addr, socklen_t len,
    int *clients)
{
	for (int i = 0; i < CLIENTS; i++) {
		clients[i] = socket(family, SOCK_STREAM, 0);
		ck_assert_int_ge(clients[i], 0);
		ck_assert_int_eq(connect(clients[i],
		                     (const struct sockaddr *)addr, len),
		    0);
	}
}

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

START_TEST(test_unix_queue)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/check_osstat.XXXXXX";
	int fd, clients[CLIENTS];
	uint32_t queued = 99, backlog = 99;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	/* Bound, not listening: no queue to speak of. */
	ck_assert_int_eq(osstat_listen_queue(fd, &queued, &backlog), -1);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(osstat_listen_queue(fd, &queued, &backlog), 0);
	ck_assert_uint_eq(queued, 0);
	ck_assert_uint_eq(backlog, 8);
	connect_clients(AF_UNIX, &sun, sizeof(sun), clients);
	ck_assert_int_eq(osstat_listen_queue(fd, &queued, &backlog), 0);
	ck_assert_uint_eq(queued, CLIENTS);
	close(accept(fd, NULL, NULL));
	ck_assert_int_eq(osstat_listen_queue(fd, &queued, &backlog), 0);
	ck_assert_uint_eq(queued, CLIENTS - 1);
	close_all(clients, CLIENTS);
	close(fd);
	unlink(sun.sun_path);
	rmdir(dir);
}
END_TEST

START_TEST(test_tcp_queue)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd, clients[CLIENTS];
	uint32_t queued = 99, backlog = 99;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 5), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	connect_clients(AF_INET, &sin, sizeof(sin), clients);
	ck_assert_int_eq(osstat_listen_queue(fd, &queued, &backlog), 0);
	ck_assert_uint_eq(queued, CLIENTS);
	ck_assert_uint_eq(backlog, 5);
	/* A connected socket is no listener. */
	ck_assert_int_eq(osstat_listen_queue(clients[0], &queued, &backlog),
	    -1);
	ck_assert_int_eq(osstat_listen_queue(-1, &queued, &backlog), -1);
	close_all(clients, CLIENTS);
	close(fd);
}
END_TEST

START_TEST(test_pss)
{
	int64_t kb = osstat_pss_kb(getpid());

	ck_assert_int_gt(kb, 0);
	/* Far more than a test process ever maps: a unit mix-up. */
	ck_assert_int_lt(kb, 4 * 1024 * 1024);
	/* pid_max is at most 2^22: this one never exists. */
	ck_assert_int_eq(osstat_pss_kb(1 << 23), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("osstat");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_unix_queue);
	tcase_add_test(tc, test_tcp_queue);
	tcase_add_test(tc, test_pss);
	suite_add_tcase(s, tc);
	return check_run(s);
}
