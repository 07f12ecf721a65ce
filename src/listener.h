/*
 * listener: the FastCGI listening socket, bound by the master before any
 * worker exists so that every worker inherits it and the kernel spreads
 * connections among them.  A unix socket gets the configured mode (nginx's
 * workers need to reach it: 0660 and a shared group is the usual setup); a
 * stale socket file left by a crash is replaced, a live one is refused.
 * A new master started by SIGUSR2 inherits the socket instead of binding.
 */
#ifndef STOCKADE_LISTENER_H
#define STOCKADE_LISTENER_H

struct config;

/*
 * The environment variable by which a master hands its listening socket to
 * the new master it execs on SIGUSR2: the descriptor's number, in decimal.
 */
#define LISTENER_FD_ENV "STOCKADE_LISTEN_FD"

/*
 * Binds and listens, or, when LISTENER_FD_ENV is set, takes over the
 * socket it names (which must be listening at cfg->listen) and sets
 * *inherited.  Returns the fd (close-on-exec), or -1 with a logged reason.
 */
int listener_open(const struct config *cfg, int *inherited);

/* The descriptor number in a LISTENER_FD_ENV value, or -1 (pure). */
int listener_parse_fd(const char *value);
/* Closes fd and removes a unix socket file.  Accepts fd -1. */
void listener_close(int fd, const struct config *cfg);

/* Removes a unix socket's path (no-op for TCP), so nobody can connect. */
void listener_unlink(const struct config *cfg);

#endif
