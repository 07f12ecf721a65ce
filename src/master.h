/*
 * master: the supervisor.  Binds the FastCGI socket, forks exactly
 * cfg->workers workers, respawns any that dies (throttled when they die in
 * a loop), and stops them on signals.  It never opens a database connection.
 */
#ifndef STOCKADE_MASTER_H
#define STOCKADE_MASTER_H

#include <stddef.h>

struct config;

/*
 * Runs until SIGTERM/SIGINT (fast stop: workers get SIGTERM, are killed
 * after a second) or SIGQUIT (graceful: workers finish their requests,
 * killed after shutdown_timeout).  Returns the process exit status.
 */
int master_run(const struct config *cfg, const unsigned char *secret,
    size_t secret_len);

#endif
