/*
 * worker: see worker.h.
 *
 * Connections.  The worker accepts each FastCGI connection itself
 * (listener_accept), with a deadline of fastcgi_timeout on every read and
 * write, and only then hands it to libfcgi, which reads the parameters and
 * the body: a peer that stalls mid-request costs a worker that long, not
 * for ever (worker_accept says how, and why libfcgi cannot accept itself).
 *
 * Stopping.  Handlers use SA_RESTART, and the stop signals are held while
 * a connection is open (worker_hold_signals), so a request being served is
 * always finished: its reads and writes never fail with EINTR.
 *  - Fast stop (SIGTERM, SIGINT): the handler sets a flag and, with dup2,
 *    replaces the worker's copy of the listening descriptor by an unbound
 *    socket, so an accept() about to start (or restarted) fails at once
 *    with EINVAL instead of sleeping until the next connection.
 *    The same SIGTERM comes from the kernel when the master dies
 *    (signals_die_with_parent): no worker outlives its master.
 *  - Graceful stop (SIGQUIT): the master has already removed the socket's
 *    path, so no new connection can arrive; the handler makes the listening
 *    socket non-blocking, and the worker keeps accepting until accept()
 *    says EAGAIN: the connections nginx had queued in the backlog are
 *    served, not reset.  O_NONBLOCK belongs to the socket, shared by every
 *    worker; all of them are draining too, and one that is not simply
 *    waits in poll() instead of accept() (worker_wait_readable).
 */
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "app.h"
#include "clock.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "listener.h"
#include "log.h"
#include "route.h"
#include "scoreboard.h"
#include "signals.h"

static volatile sig_atomic_t worker_stop_requested;
static volatile sig_atomic_t worker_drain_requested;
static int worker_listen_fd = -1;
static int worker_unbound_fd = -1;

/* The FastCGI connection being served: who is at the other end. */
struct worker_conn {
	char peer[64]; /* listener_accept's description, for log lines */
	int timeout_ms; /* fastcgi_timeout */
};

static void worker_on_term(int signo)
{
	int saved_errno = errno;

	(void)signo;
	worker_stop_requested = 1;
	if (worker_unbound_fd >= 0)
		(void)dup2(worker_unbound_fd, worker_listen_fd);
	errno = saved_errno;
}

static void worker_on_quit(int signo)
{
	int saved_errno = errno;
	int flags;

	(void)signo;
	worker_drain_requested = 1;
	flags = fcntl(worker_listen_fd, F_GETFL);
	if (flags >= 0)
		(void)fcntl(worker_listen_fd, F_SETFL, flags | O_NONBLOCK);
	errno = saved_errno;
}

/* Waits up to a second for a connection on a non-blocking listener. */
static void worker_wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
		log_warn("poll: %s", strerror(errno));
}

static const char *worker_fcgi_param(const char *name, void *ctx)
{
	return FCGX_GetParam(name, (FCGX_ParamArray)ctx);
}

static size_t worker_fcgi_read(void *ctx, char *buf, size_t n)
{
	size_t got = 0;

	/* FCGX_GetStr takes an int; read in chunks that fit one. */
	while (got < n) {
		size_t want = n - got > 65536 ? 65536 : n - got;
		int r = FCGX_GetStr(buf + got, (int)want, (FCGX_Stream *)ctx);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/*
 * Shows the request in the slot.  request_seq goes first (scoreboard.h):
 * the watchdog, reading from another process, then never pairs this
 * request's number with the previous one's start.
 */
static void worker_slot_busy(const struct app *app, const struct request *req)
{
	struct scoreboard_slot *slot = &app->scoreboard->slots[app->slot];

	slot->request_seq++;
	__atomic_thread_fence(__ATOMIC_RELEASE); /* the number first */
	/* Escaped: /status writes it as JSON, which takes UTF-8 only. */
	http_request_describe(slot->request, sizeof(slot->request),
	    req->method_name, req->path);
	snprintf(slot->request_id, sizeof(slot->request_id), "%s",
	    req->request_id);
	slot->db_backend_pid = db_backend_pid(app->db);
	slot->request_clock_ms = clock_ms();
	slot->request_started_ms = scoreboard_now_ms();
	__atomic_thread_fence(__ATOMIC_RELEASE); /* busy last */
	scoreboard_busy(app->scoreboard, app->slot, app->cfg->workers);
}

static void worker_log_access(const struct request *req,
    const struct response *res, int64_t duration_us)
{
	char method[32], path[256];

	log_escape(method, sizeof(method), req->method_name,
	    strlen(req->method_name));
	log_escape(path, sizeof(path), req->path, strlen(req->path));
	log_info("access %s %s %d %.3fms rid=%s user=%lld code=%s", method,
	    path, res->status, (double)duration_us / 1000.0, req->request_id,
	    req->authenticated ? (long long)req->identity.user_id : 0LL,
	    res->code != NULL ? res->code : "-");
}

/*
 * 1 when nginx has already closed the connection: its client gave up while
 * the request waited in the listen backlog (nginx logs a 499).  Such a
 * request is not run, so a crowd that times out does not leave orders
 * behind that nobody will ever see (they would hold stock until expiry).
 */
static int worker_peer_gone(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };

	return poll(&pfd, 1, 0) == 1 &&
	    (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/*
 * 1 when libfcgi read the parameters to their end; else writes a 400 and
 * returns 0.  libfcgi's ReadParams stops at the first protocol error (a
 * record of another type, a wrong version) as it stops at the end of the
 * stream, and FCGX_Accept_r then hands over the parameters read so far; only
 * the error left on the input stream tells the two apart.  A request whose
 * parameters were cut short is not run: a header or CONTENT_LENGTH may be
 * missing from it.
 */
static int worker_params_complete(FCGX_Request *fcgi, struct response *res)
{
	if (FCGX_GetError(fcgi->in) == 0)
		return 1;
	problem_write(res, 400, "bad_request",
	    "the FastCGI parameters were cut short by a protocol error");
	return 0;
}

int worker_read_params(FCGX_Request *fcgi, struct request *req,
    struct response *res)
{
	if (http_request_parse(req, worker_fcgi_param, fcgi->envp, res) != 0)
		return -1;
	return worker_params_complete(fcgi, res) ? 0 : -1;
}

int worker_read_body(FCGX_Request *fcgi, struct request *req, size_t max_body,
    struct response *res)
{
	return http_request_read_body(req,
	    FCGX_GetParam("CONTENT_LENGTH", fcgi->envp), max_body,
	    worker_fcgi_read, fcgi->in, res);
}

/* Runs a fully read request, unless nobody is waiting for the answer. */
static void worker_dispatch(FCGX_Request *fcgi, struct request *req,
    struct response *res, struct app *app)
{
	if (worker_peer_gone(fcgi->ipcFd))
		problem_write(res, 499, "client_closed_request",
		    "the client went away before the request ran");
	else
		route_serve(req, res, app);
}

/*
 * After a body came short: when a read timed out (libfcgi keeps the read's
 * errno on the stream), says so and closes the connection without waiting
 * for the peer to close its side first (libfcgi's lingering close reads
 * for 2 s more after each byte the peer sends).  The answer is the 400
 * incomplete_body http_request_read_body wrote.
 */
static void worker_body_short(FCGX_Request *fcgi, const struct request *req,
    const struct worker_conn *conn)
{
	const char *announced = FCGX_GetParam("CONTENT_LENGTH", fcgi->envp);
	char length[32];
	int err = FCGX_GetError(fcgi->in);

	if (err != EAGAIN && err != EWOULDBLOCK)
		return;
	if (announced == NULL)
		announced = "?";
	log_escape(length, sizeof(length), announced, strlen(announced));
	log_warn("body read timed out after %d ms, %zu of %s bytes read; "
	         "closing (rid=%s, FastCGI peer %s)",
	    conn->timeout_ms, req->body_len, length, req->request_id,
	    conn->peer);
	FCGX_Detach(fcgi);
}

/* Serves one accepted request, from its parameters to the last byte. */
static void worker_serve(FCGX_Request *fcgi, struct app *app,
    const struct worker_conn *conn, struct request *req, struct response *res)
{
	struct scoreboard_slot *slot = &app->scoreboard->slots[app->slot];
	char *out = NULL;
	int64_t duration_us;
	size_t len;

	request_init(req);
	response_reset(res);
	app_begin_request(app);
	if (worker_read_params(fcgi, req, res) == 0) {
		app->request_id = req->request_id;
		log_set_request(req->request_id);
		worker_slot_busy(app, req);
		if (worker_read_body(fcgi, req, app->cfg->max_body, res) == 0)
			worker_dispatch(fcgi, req, res, app);
		else
			worker_body_short(fcgi, req, conn);
	}
	len = http_response_render(req, res, &out);
	if (FCGX_PutStr(out, (int)len, fcgi->out) != (int)len)
		log_warn("response to %s lost: the client went away",
		    req->request_id);
	free(out);
	duration_us = clock_us() - req->started_us;
	log_set_request(req->request_id); /* also when parsing failed */
	worker_log_access(req, res, duration_us);
	log_set_request(NULL);
	/* For /metrics: by route, not by path, so that the series stay as
	 * few as the routes. */
	scoreboard_observe(slot, req->route, res->status, duration_us);
	if (res->replayed)
		app_count(app, COUNTER_IDEMPOTENT_REPLAYS);
	request_reset(req);
	slot->requests++;
	slot->state = WORKER_IDLE;
}

/* max_requests plus up to 10% jitter, so workers do not recycle together. */
static unsigned long worker_request_limit(const struct config *cfg)
{
	unsigned long limit = (unsigned long)cfg->max_requests;

	if (limit == 0)
		return 0;
	return limit + (unsigned long)random() % (limit / 10 + 1);
}

/*
 * Accepts the next connection and hands it to libfcgi.  FCGX_Accept_r would
 * accept and read the request's parameters in one call, with no deadline
 * and no way to set one in between: a unix socket does not inherit
 * SO_RCVTIMEO from its listener, so a peer that connects and sends half a
 * record held the worker for ever.  So the worker accepts (listener_accept
 * sets the deadline) and gives libfcgi the connection as if it were kept
 * alive from a previous request: FCGX_Accept_r accepts only when ipcFd is
 * negative, and its opening FCGX_Finish_r closes ipcFd unless
 * keepConnection is set (libfcgi fcgiapp.c; the BEGIN_REQUEST record then
 * sets keepConnection from the peer's FCGI_KEEP_CONN).  These fields are
 * marked internal in fcgiapp.h, and every request goes through this path,
 * so any test through nginx fails if a libfcgi changes them.
 * FCGX_InitRequest was given an unbound socket: when libfcgi drops a
 * connection it goes back to accept, and that fails at once with EINVAL
 * instead of taking a connection without a deadline.
 * Returns 0, or -1 with errno from accept (nothing handed over).
 */
static int worker_accept(FCGX_Request *fcgi, struct worker_conn *conn)
{
	int fd = listener_accept(worker_listen_fd, conn->timeout_ms, conn->peer,
	    sizeof(conn->peer));

	if (fd < 0)
		return -1;
	fcgi->ipcFd = fd;
	fcgi->keepConnection = 1;
	return 0;
}

/* After a failed accept: 1 when the loop must end, 0 to accept again. */
static int worker_accept_failed(int err)
{
	if (worker_stop_requested || worker_drain_requested)
		return 1; /* stopped, or the backlog is empty */
	if (err == EAGAIN || err == EWOULDBLOCK)
		worker_wait_readable(worker_listen_fd);
	else if (err != EINTR && err != ECONNABORTED) {
		log_error("accept failed: %s", strerror(err));
		usleep(100000); /* do not spin on EMFILE and the like */
	}
	return 0;
}

/*
 * Reads the parameters of the next request on the connection handed over
 * (FCGX_Accept_r).  Returns 0, or -1 when libfcgi dropped the connection:
 * the peer closed it, sent no valid request, or a read waited
 * fastcgi_timeout.  libfcgi keeps no reason, but a read that timed out
 * waited the whole timeout, and the other reasons are not worth a warning
 * (a master checking that the socket is in use connects and closes).
 * Detached, the dropped connection is closed at once, not after libfcgi's
 * lingering close; a request read whole is attached again for that.
 */
static int worker_accept_params(FCGX_Request *fcgi,
    const struct worker_conn *conn)
{
	int64_t started = clock_ms(), waited;

	FCGX_Detach(fcgi);
	if (FCGX_Accept_r(fcgi) == 0) {
		FCGX_Attach(fcgi);
		return 0;
	}
	waited = clock_ms() - started;
	if (waited >= conn->timeout_ms)
		log_warn("FastCGI peer %s: params read timed out after %d ms; "
		         "closed",
		    conn->peer, conn->timeout_ms);
	else
		log_debug("FastCGI peer %s: closed or not a valid request "
		          "after %lld ms; closed",
		    conn->peer, (long long)waited);
	return -1;
}

/*
 * Holds (hold 1) or releases the stop signals.  With SO_RCVTIMEO set, Linux
 * does not restart a read a handler interrupted, SA_RESTART or not
 * (signal(7)), and libfcgi takes EINTR for a broken connection: a graceful
 * stop would drop the request being read.  Held while a connection is
 * open, the signals are handled when it is closed, which fastcgi_timeout
 * bounds on the FastCGI side.
 */
static void worker_hold_signals(int hold)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL) < 0)
		fatal("sigprocmask: %s", strerror(errno));
}

static void worker_loop(FCGX_Request *fcgi, struct app *app)
{
	unsigned long limit = worker_request_limit(app->cfg), served = 0;
	struct worker_conn conn = { .timeout_ms =
		                        app->cfg->fastcgi_timeout_ms };
	struct request req;
	struct response res;

	response_init(&res);
	while (!worker_stop_requested) {
		app->scoreboard->slots[app->slot].state = WORKER_IDLE;
		/* A connection the peer keeps alive is read again. */
		if (fcgi->ipcFd < 0 && worker_accept(fcgi, &conn) < 0) {
			if (worker_accept_failed(errno))
				break;
			continue;
		}
		worker_hold_signals(1);
		if (worker_accept_params(fcgi, &conn) == 0) {
			worker_serve(fcgi, app, &conn, &req, &res);
			FCGX_Finish_r(fcgi);
			served++;
		}
		worker_hold_signals(0);
		if (limit != 0 && served >= limit) {
			log_info("served %lu requests (max_requests); exiting "
			         "to be replaced",
			    served);
			break;
		}
	}
	response_free(&res);
}

noreturn void worker_run(const struct worker_params *p)
{
	struct scoreboard_slot *slot = &p->scoreboard->slots[p->slot];
	FCGX_Request fcgi;
	struct app *app;
	char role[32], name[64];

	snprintf(role, sizeof(role), "worker %d", p->slot);
	log_set_role(role);
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	worker_listen_fd = p->listen_fd;
	if ((worker_unbound_fd =
	            socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		fatal("socket: %s", strerror(errno));
	/* libfcgi installs handlers for SIGPIPE, SIGUSR1 and SIGTERM when they
	 * are at their defaults; ours must come after it and win. */
	if (FCGX_Init() != 0)
		fatal("FCGX_Init failed");
	signals_child_init(worker_on_quit, worker_on_term, 1);
	slot->state = WORKER_STARTING;
	/* Per process; the counters are the slot's and go on (scoreboard.h). */
	slot->requests = 0;
	slot->request_ended_ms = 0;
	slot->started_ms = scoreboard_now_ms();
	snprintf(name, sizeof(name), "stockade worker %d", p->slot);
	app = app_create(p->cfg, p->secret, p->secret_len, p->scoreboard,
	    p->slot, name);
	app->listen_fd = p->listen_fd;
	app_connect(app);
	/* Not the listening socket: the worker accepts (worker_accept). */
	if (FCGX_InitRequest(&fcgi, worker_unbound_fd, 0) != 0)
		fatal("FCGX_InitRequest failed");
	worker_loop(&fcgi, app);
	if (signals_parent_gone())
		log_warn("the master is gone; exiting");
	slot->state = WORKER_STOPPING;
	FCGX_Free(&fcgi, 1);
	app_free(app);
	log_debug("exiting");
	signals_child_exit(0);
}
