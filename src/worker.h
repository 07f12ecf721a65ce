/*
 * worker: one pre-forked process serving FastCGI requests one at a time on
 * the inherited listening socket, with its own PostgreSQL and Redis
 * connections (so the number of workers bounds the database connections).
 */
#ifndef STOCKADE_WORKER_H
#define STOCKADE_WORKER_H

#include <stddef.h>
#include <stdnoreturn.h>

struct FCGX_Request;
struct config;
struct request;
struct response;
struct scoreboard;

struct worker_params {
	const struct config *cfg;
	const unsigned char *secret;
	size_t secret_len;
	struct scoreboard *scoreboard;
	int slot;
	int listen_fd;
};

/*
 * Runs the accept loop until SIGQUIT/SIGTERM/SIGINT (finishing the request
 * in flight; SIGTERM also comes when the master dies) or max_requests, then
 * exits the process.  Called in the child
 * right after fork, with the master's signals still blocked.
 */
noreturn void worker_run(const struct worker_params *params);

/*
 * How a worker reads the request that FCGX_Accept_r accepted on fcgi, in
 * two steps (the scoreboard shows the request between them): its FastCGI
 * parameters into req (http_request_parse), then its body, at most
 * max_body bytes (http_request_read_body).  Each returns 0, or -1 with the
 * problem written into res.  Public for the FastCGI fuzz target
 * (t/fuzz/fuzz_fcgi.c), which feeds record streams through them.
 */
int worker_read_params(struct FCGX_Request *fcgi, struct request *req,
    struct response *res);
int worker_read_body(struct FCGX_Request *fcgi, struct request *req,
    size_t max_body, struct response *res);

#endif
