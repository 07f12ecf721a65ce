/*
 * worker: one pre-forked process serving FastCGI requests one at a time on
 * the inherited listening socket, with its own PostgreSQL and Redis
 * connections (so the number of workers bounds the database connections).
 */
#ifndef STOCKADE_WORKER_H
#define STOCKADE_WORKER_H

#include <stddef.h>
#include <stdnoreturn.h>

struct config;
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

#endif
