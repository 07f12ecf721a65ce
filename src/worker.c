/*
 * worker: see worker.h.
 *
 * Stopping.  Handlers use SA_RESTART, so a request being served is always
 * finished: its reads and writes never fail with EINTR.
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
#include "log.h"
#include "route.h"
#include "scoreboard.h"
#include "signals.h"

static volatile sig_atomic_t worker_stop_requested;
static volatile sig_atomic_t worker_drain_requested;
static int worker_listen_fd = -1;
static int worker_unbound_fd = -1;

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

int worker_read_params(FCGX_Request *fcgi, struct request *req,
    struct response *res)
{
	return http_request_parse(req, worker_fcgi_param, fcgi->envp, res);
}

int worker_read_body(FCGX_Request *fcgi, struct request *req, size_t max_body,
    struct response *res)
{
	return http_request_read_body(req,
	    FCGX_GetParam("CONTENT_LENGTH", fcgi->envp), max_body,
	    worker_fcgi_read, fcgi->in, res);
}

static void worker_slot_busy(struct scoreboard_slot *slot,
    const struct request *req)
{
	/* Escaped: /status writes it as JSON, which takes UTF-8 only. */
	http_request_describe(slot->request, sizeof(slot->request),
	    req->method_name, req->path);
	slot->request_started_ms = scoreboard_now_ms();
	slot->state = WORKER_BUSY;
}

static void worker_log_access(const struct request *req,
    const struct response *res)
{
	char method[32], path[256];
	int64_t now_us;

	now_us = clock_us();
	log_escape(method, sizeof(method), req->method_name,
	    strlen(req->method_name));
	log_escape(path, sizeof(path), req->path, strlen(req->path));
	log_info("access %s %s %d %.3fms rid=%s user=%lld code=%s", method,
	    path, res->status, (double)(now_us - req->started_us) / 1000.0,
	    req->request_id,
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

/* Serves one accepted request, from its parameters to the last byte. */
static void worker_serve(FCGX_Request *fcgi, struct app *app,
    struct request *req, struct response *res)
{
	struct scoreboard_slot *slot = &app->scoreboard->slots[app->slot];
	char *out = NULL;
	size_t len;

	request_init(req);
	response_reset(res);
	app_begin_request(app);
	if (worker_read_params(fcgi, req, res) == 0) {
		app->request_id = req->request_id;
		worker_slot_busy(slot, req);
		if (worker_read_body(fcgi, req, app->cfg->max_body, res) == 0)
			worker_dispatch(fcgi, req, res, app);
	}
	len = http_response_render(req, res, &out);
	if (FCGX_PutStr(out, (int)len, fcgi->out) != (int)len)
		log_warn("response to %s lost: the client went away",
		    req->request_id);
	free(out);
	worker_log_access(req, res);
	request_reset(req);
	slot->counters[COUNTER_DB_RETRIES] = db_retry_count(app->db);
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

static void worker_loop(FCGX_Request *fcgi, struct app *app)
{
	unsigned long limit = worker_request_limit(app->cfg), served = 0;
	struct request req;
	struct response res;
	int rc;

	response_init(&res);
	while (!worker_stop_requested) {
		app->scoreboard->slots[app->slot].state = WORKER_IDLE;
		if ((rc = FCGX_Accept_r(fcgi)) < 0) {
			if (worker_stop_requested || worker_drain_requested)
				break; /* stopped, or the backlog is empty */
			if (rc == -EAGAIN || rc == -EWOULDBLOCK) {
				worker_wait_readable(worker_listen_fd);
				continue;
			}
			if (rc == -EINTR)
				continue;
			log_error("accept failed: %s", strerror(-rc));
			usleep(100000); /* do not spin on EMFILE and the like */
			continue;
		}
		worker_serve(fcgi, app, &req, &res);
		FCGX_Finish_r(fcgi);
		if (limit != 0 && ++served >= limit) {
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
	slot->requests = 0;
	for (int i = 0; i < SLOT_COUNTER__MAX; i++)
		slot->counters[i] = 0;
	slot->started_ms = scoreboard_now_ms();
	snprintf(name, sizeof(name), "stockade worker %d", p->slot);
	app = app_create(p->cfg, p->secret, p->secret_len, p->scoreboard,
	    p->slot, name);
	app_connect(app);
	if (FCGX_InitRequest(&fcgi, p->listen_fd, 0) != 0)
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
