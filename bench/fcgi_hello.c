/*
 * bench/fcgi_hello.c: the smallest FastCGI server shaped like stockade, for
 * bench/run's ceilings "nginx -> FastCGI hello" and "that plus one Redis
 * EVALSHA" (issue 7).  Like stockade, a master binds a unix socket and
 * forks N workers that each run an FCGX_Accept_r loop on it, one connection
 * at a time; every request is answered 200 application/json {"ok":true}
 * without reading anything.  With -r SOCKET each worker also holds one
 * hiredis connection and runs one EVALSHA per request of a script shaped
 * made of the coupon gate's reads (GET of its counter and run id,
 * SISMEMBER of the user; read-only, so nothing grows during a run), loaded
 * with SCRIPT LOAD at start; a failed call answers 500 and is reported on
 * stderr.
 *
 *   fcgi_hello [-w WORKERS] [-b BACKLOG] [-r REDIS_SOCKET] SOCKET_PATH
 *
 * SIGTERM or SIGINT to the master stops the workers (SIGTERM, by PID) and
 * removes the socket; a worker that dies stops the master too (exit 1), so
 * that bench/run never measures a half-dead ceiling.  Not part of the
 * autotools build: bench/run compiles it with
 *   cc -std=c11 -O2 -Wall -Wextra -Werror -o fcgi_hello bench/fcgi_hello.c
 *       -lfcgi -lhiredis
 */
#define _POSIX_C_SOURCE 200809L

#include <fcgiapp.h>
#include <hiredis/hiredis.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define HELLO_WORKERS_MAX 256
#define HELLO_SHA_MAX 64

/*
 * The reads of stockade's gate (src/coupon_gate.c, admit_script) without
 * its writes: the request counter and the run id (a missing or foreign
 * one is a cold gate), then the user's membership, then the counter
 * against the total.  hello_redis sets the counter to HELLO_TOTAL, so
 * every call takes the path of a sold-out policy's crowd: three reads and
 * the answer 'sold_out'.  The keys share a hash tag, as stockade's do.
 */
static const char hello_script[] =
    "local n = redis.call('GET', KEYS[2]) "
    "if not n or redis.call('GET', KEYS[3]) ~= ARGV[3] then "
    "return 'cold' end "
    "if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then "
    "return 'already' end "
    "if tonumber(n) >= tonumber(ARGV[2]) then return 'sold_out' end "
    "return 'pass'";

#define HELLO_TOTAL "1000"
#define HELLO_RUN "fcgi_hello"

static const char hello_ok[] = "Status: 200 OK\r\n"
                               "Content-Type: application/json\r\n"
                               "\r\n"
                               "{\"ok\":true}\n";
static const char hello_fail[] = "Status: 500 Internal Server Error\r\n"
                                 "Content-Type: application/json\r\n"
                                 "\r\n"
                                 "{\"ok\":false}\n";

static void usage(void)
{
	fprintf(stderr,
	    "usage: fcgi_hello [-w WORKERS] [-b BACKLOG] "
	    "[-r REDIS_SOCKET] SOCKET_PATH\n");
}

/* Parses a decimal in [min, max] into *out.  0, or -1 if it is not one. */
static int parse_int(const char *s, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

/*
 * Connects to Redis at path and loads the script; its SHA1 goes to sha.
 * Returns the connection, or NULL with a message.
 */
static redisContext *hello_redis(const char *path, char *sha, size_t shalen)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectUnixWithTimeout(path, tv);
	redisReply *r;

	if (c == NULL || c->err) {
		fprintf(stderr, "fcgi_hello: redis %s: %s\n", path,
		    c != NULL ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		fprintf(stderr, "fcgi_hello: redis: cannot set a timeout\n");
		redisFree(c);
		return NULL;
	}
	r = redisCommand(c, "SCRIPT LOAD %s", hello_script);
	if (r == NULL || r->type != REDIS_REPLY_STRING || r->len >= shalen) {
		fprintf(stderr, "fcgi_hello: SCRIPT LOAD: %s\n",
		    r == NULL                          ? c->errstr
		        : r->type == REDIS_REPLY_ERROR ? r->str
		                                       : "unexpected reply");
		if (r != NULL)
			freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	memcpy(sha, r->str, r->len);
	sha[r->len] = '\0';
	freeReplyObject(r);
	/* A warm gate of this run, sold out. */
	r = redisCommand(c, "MSET {hello:1}:requests %s {hello:1}:run %s",
	    HELLO_TOTAL, HELLO_RUN);
	if (r == NULL || r->type != REDIS_REPLY_STATUS) {
		fprintf(stderr, "fcgi_hello: MSET: %s\n",
		    r == NULL ? c->errstr : "unexpected reply");
		if (r != NULL)
			freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	freeReplyObject(r);
	return c;
}

/*
 * One EVALSHA of the script for user uid.  Returns 0, or -1 (reported on
 * stderr, the first few times) when Redis did not answer 'sold_out'.
 */
static int hello_evalsha(redisContext *c, const char *sha, long long uid)
{
	static unsigned long failures;
	redisReply *r;
	int ok;

	r = redisCommand(c,
	    "EVALSHA %s 3 {hello:1}:users {hello:1}:requests {hello:1}:run "
	    "%lld %s %s",
	    sha, uid, HELLO_TOTAL, HELLO_RUN);
	ok = r != NULL && r->type == REDIS_REPLY_STRING &&
	    strcmp(r->str, "sold_out") == 0;
	if (!ok && failures++ < 5)
		fprintf(stderr, "fcgi_hello[%ld]: EVALSHA: %s\n",
		    (long)getpid(),
		    r == NULL                          ? c->errstr
		        : r->type == REDIS_REPLY_ERROR ? r->str
		                                       : "unexpected reply");
	if (r != NULL)
		freeReplyObject(r);
	return ok ? 0 : -1;
}

/*
 * A worker: accepts and answers requests on fd until killed.  With
 * redis_path, one EVALSHA per request first.  Never returns.
 */
static void hello_worker(int fd, const char *redis_path)
{
	char sha[HELLO_SHA_MAX + 1];
	redisContext *c = NULL;
	FCGX_Request req;
	long long n = 0;
	const char *answer;
	sigset_t none;

	/* The master's blocked signals are ours: back to the defaults. */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (redis_path != NULL &&
	    (c = hello_redis(redis_path, sha, sizeof(sha))) == NULL)
		_exit(1);
	if (FCGX_InitRequest(&req, fd, 0) != 0) {
		fprintf(stderr, "fcgi_hello: FCGX_InitRequest failed\n");
		_exit(1);
	}
	while (FCGX_Accept_r(&req) == 0) {
		answer = hello_ok;
		/* A distinct user per request, never in the (empty) set. */
		if (c != NULL && hello_evalsha(c, sha, ++n) < 0)
			answer = hello_fail;
		FCGX_PutStr(answer, (int)strlen(answer), req.out);
		FCGX_Finish_r(&req);
	}
	fprintf(stderr, "fcgi_hello: FCGX_Accept_r failed\n");
	_exit(1);
}

/* Sends SIGTERM to every live worker and waits for them all. */
static void hello_stop(pid_t *pids, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGTERM);
	for (i = 0; i < n; i++)
		if (pids[i] > 0 && waitpid(pids[i], NULL, 0) == pids[i])
			pids[i] = 0;
}

/*
 * The master: waits for a stop signal or a worker's death, then stops
 * every worker.  Returns the exit status: 0 after a stop signal, 1 when a
 * worker died first.
 */
static int hello_master(pid_t *pids, int n, const sigset_t *set)
{
	siginfo_t info;
	pid_t pid;
	int i, status;

	for (;;) {
		if (sigwaitinfo(set, &info) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "fcgi_hello: sigwaitinfo: %s\n",
			    strerror(errno));
			hello_stop(pids, n);
			return 1;
		}
		if (info.si_signo != SIGCHLD) {
			hello_stop(pids, n);
			return 0;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < n; i++)
				if (pids[i] == pid)
					pids[i] = 0;
			fprintf(stderr, "fcgi_hello: worker %ld died (%s %d)\n",
			    (long)pid,
			    WIFSIGNALED(status) ? "signal" : "exit status",
			    WIFSIGNALED(status) ? WTERMSIG(status)
			                        : WEXITSTATUS(status));
			hello_stop(pids, n);
			return 1;
		}
	}
}

int main(int argc, char **argv)
{
	pid_t pids[HELLO_WORKERS_MAX];
	const char *redis_path = NULL, *path;
	int workers = 8, backlog = 1024, fd, c, i, rc;
	sigset_t set;
	mode_t old;

	while ((c = getopt(argc, argv, "w:b:r:")) != -1) {
		switch (c) {
		case 'w':
			if (parse_int(optarg, 1, HELLO_WORKERS_MAX, &workers) <
			    0) {
				usage();
				return 2;
			}
			break;
		case 'b':
			if (parse_int(optarg, 1, 65535, &backlog) < 0) {
				usage();
				return 2;
			}
			break;
		case 'r':
			redis_path = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (argc - optind != 1) {
		usage();
		return 2;
	}
	path = argv[optind];
	if (FCGX_Init() != 0) {
		fprintf(stderr, "fcgi_hello: FCGX_Init failed\n");
		return 1;
	}
	/* Signals stay blocked across fork(); each worker resets them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) {
		fprintf(stderr, "fcgi_hello: sigprocmask: %s\n",
		    strerror(errno));
		return 1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		fprintf(stderr, "fcgi_hello: %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* Mode 0660, like stockade's socket, from the start. */
	old = umask(0117);
	fd = FCGX_OpenSocket(path, backlog);
	umask(old);
	if (fd < 0) {
		fprintf(stderr, "fcgi_hello: cannot listen on %s\n", path);
		return 1;
	}
	memset(pids, 0, sizeof(pids));
	for (i = 0; i < workers; i++) {
		if ((pids[i] = fork()) < 0) {
			fprintf(stderr, "fcgi_hello: fork: %s\n",
			    strerror(errno));
			pids[i] = 0;
			hello_stop(pids, i);
			unlink(path);
			return 1;
		}
		if (pids[i] == 0)
			hello_worker(fd, redis_path);
	}
	rc = hello_master(pids, workers, &set);
	unlink(path);
	return rc;
}
